//! Runs `tests/fixtures/translate/openai-to-openai/*.json` through this codec until the shared
//! fixture runner (`protocol/fixtures.rs`) takes over.
//!
//! A case is `{"kind", "input", "expected", "ctx"?}`. `<from>-to-<to>` means `input` is in the
//! `<from>` dialect and is decoded with its codec, `expected` is what the `<to>` codec encodes:
//! * `request`: a request body -> the request the upstream gets (default `EncodeOptions`);
//! * `response`: an upstream reply body -> the client's reply body;
//! * `stream`: upstream SSE events `[{"event"?, "data"}]` -> the client's SSE events (OpenAI
//!   `data` is the chunk JSON or `"[DONE]"`; comments such as `: ping` are not events);
//! * `error`: `{"status", "body"}` (body JSON or text) -> `{"status", "body"}`.
//!
//! `ctx` gives the `ResponseCtx` (`model`, default `"client-model"`; `include_usage`).
//! `created` fields are compared as 0: they hold the current time.
//! `LLM_GATEWAY_BLESS=1` writes the actual output into cases whose `expected` is `null`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::protocol::codec::{RequestHints, ResponseCtx};
use crate::protocol::sse::SseEvent;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/translate")
        .join(name)
}

fn body_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// SSE bytes -> `[{"event"?, "data"}]`, with JSON data parsed.
pub(crate) fn sse_frames(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let mut frames = Vec::new();
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let mut event = None;
        let mut data = Vec::new();
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = Some(e.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if event.is_none() && data.is_empty() {
            continue; // a comment
        }
        let data = data.join("\n");
        let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
        frames.push(match event {
            Some(e) => json!({"event": e, "data": data}),
            None => json!({"data": data}),
        });
    }
    Value::Array(frames)
}

fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "created" && x.is_u64() {
                    *x = json!(0);
                } else {
                    scrub(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn run_openai_case(case: &Value) -> Value {
    let input = &case["input"];
    let ctx = ResponseCtx {
        model: case["ctx"]["model"]
            .as_str()
            .unwrap_or("client-model")
            .to_owned(),
        include_usage: case["ctx"]["include_usage"].as_bool().unwrap_or(false),
        ..ResponseCtx::default()
    };
    let mut actual = match case["kind"].as_str().unwrap() {
        "request" => {
            let req = decode_request(&body_bytes(input), &RequestHints::default()).unwrap();
            serde_json::to_value(encode_request(&req).unwrap()).unwrap()
        }
        "response" => {
            let resp = decode_response(&body_bytes(input)).unwrap();
            serde_json::from_slice(&encode_response(&resp, &ctx)).unwrap()
        }
        "stream" => {
            let mut dec = StreamDecoder::new();
            let mut enc = StreamEncoder::new(&ctx);
            let mut events = Vec::new();
            for ev in input.as_array().unwrap() {
                let sse = SseEvent {
                    event: ev["event"].as_str().map(str::to_owned),
                    data: match &ev["data"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                };
                dec.feed(&sse, &mut events).unwrap();
            }
            dec.finish(&mut events).unwrap();
            let mut out = Vec::new();
            for ev in &events {
                enc.encode(ev, &mut out);
            }
            sse_frames(&out)
        }
        "error" => {
            let status = u16::try_from(input["status"].as_u64().unwrap()).unwrap();
            let err = decode_error(status, &body_bytes(&input["body"]));
            let body: Value = serde_json::from_slice(&encode_error(&err)).unwrap();
            json!({"status": err.status, "body": body})
        }
        other => panic!("unknown kind {other}"),
    };
    scrub(&mut actual);
    actual
}

#[test]
fn openai_to_openai_fixtures() {
    let dir = dir("openai-to-openai");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures missing in {}", dir.display());
    let bless = std::env::var_os("LLM_GATEWAY_BLESS").is_some();
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut case: Value = serde_json::from_str(&text).unwrap();
        let actual = run_openai_case(&case);
        if case["expected"].is_null() && bless {
            case["expected"] = actual;
            let pretty = serde_json::to_string_pretty(&case).unwrap();
            std::fs::write(&path, pretty + "\n").unwrap();
            continue;
        }
        if actual != case["expected"] {
            failures.push(format!(
                "{}:\n  expected {}\n  actual   {}",
                path.display(),
                case["expected"],
                actual
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
