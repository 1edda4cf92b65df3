//! Runs `tests/fixtures/translate/gemini-to-gemini/` until the shared runner
//! (`protocol/fixtures.rs`) has a Gemini arm. Same case format as that runner. With
//! `GEMINI_FIXTURES_BLESS=1` the actual output is written into `expected` (review the diff).

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::protocol::codec::{RequestHints, ResponseCtx};
use crate::protocol::sse::SseEvent;

fn raw(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

fn parse_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn sse_list(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes).into_owned();
    Value::Array(
        text.split("\n\n")
            .filter(|f| !f.trim().is_empty())
            .map(|f| json!({"data": parse_body(f.trim_start_matches("data: ").as_bytes())}))
            .collect(),
    )
}

fn run_case(case: &Value) -> Result<Value, String> {
    let input = &case["input"];
    let ctx = ResponseCtx {
        model: case["ctx"]["model"].as_str().unwrap_or_default().to_owned(),
        ..ResponseCtx::default()
    };
    match case["kind"].as_str() {
        Some("request") => {
            let hints = RequestHints {
                model: case["hints"]["model"].as_str().map(str::to_owned),
                stream: case["hints"]["stream"].as_bool(),
            };
            let ir = decode_request(&raw(input), &hints).map_err(|e| e.to_string())?;
            let wire = encode_request(&ir).map_err(|e| e.to_string())?;
            serde_json::to_value(wire).map_err(|e| e.to_string())
        }
        Some("response") => {
            let ir = decode_response(&raw(input)).map_err(|e| e.to_string())?;
            Ok(parse_body(&encode_response(&ir, &ctx)))
        }
        Some("stream") => {
            let mut dec = StreamDecoder::new();
            let mut events = Vec::new();
            for item in input.as_array().ok_or("stream input must be a list")? {
                let data = match &item["data"] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                let ev = SseEvent {
                    event: item["event"].as_str().map(str::to_owned),
                    data,
                };
                dec.feed(&ev, &mut events).map_err(|e| e.to_string())?;
            }
            dec.finish(&mut events).map_err(|e| e.to_string())?;
            let mut enc = StreamEncoder::new(&ctx);
            let mut out = Vec::new();
            for e in &events {
                enc.encode(e, &mut out);
            }
            Ok(sse_list(&out))
        }
        Some("error") => {
            let status = input["status"].as_u64().ok_or("error input needs status")? as u16;
            let err = decode_error(status, &raw(&input["body"]));
            Ok(json!({"status": err.status, "body": parse_body(&encode_error(&err))}))
        }
        other => Err(format!("unknown kind {other:?}")),
    }
}

#[test]
fn gemini_to_gemini_fixtures() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/translate/gemini-to-gemini");
    let bless = std::env::var_os("GEMINI_FIXTURES_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let mut case: Value = serde_json::from_slice(&std::fs::read(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(&case) {
            Ok(actual) if actual == case["expected"] => {}
            Ok(actual) if bless => {
                case["expected"] = actual;
                let text = serde_json::to_string_pretty(&case).unwrap() + "\n";
                std::fs::write(file, text).unwrap();
            }
            Ok(actual) => failures.push(format!(
                "{label}: mismatch\nactual:\n{}",
                serde_json::to_string_pretty(&actual).unwrap()
            )),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    assert!(!files.is_empty());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
