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

/// One Anthropic SSE frame or one IR event, reduced to what both must agree on.
fn anthropic_frame_summary(frame: &Value) -> Option<String> {
    let d = &frame["data"];
    let i = &d["index"];
    Some(match frame["event"].as_str()? {
        "message_start" => "start".to_owned(),
        "content_block_start" => {
            let b = &d["content_block"];
            match b["type"].as_str()? {
                "tool_use" => format!("{i}+tool_use {} {}", b["id"], b["name"]),
                t => format!("{i}+{t}"),
            }
        }
        "content_block_delta" => {
            let x = &d["delta"];
            match x["type"].as_str()? {
                "text_delta" => format!("{i} text {}", x["text"]),
                "thinking_delta" => format!("{i} thinking {}", x["thinking"]),
                "input_json_delta" => format!("{i} json {}", x["partial_json"]),
                t => format!("{i} {t}"),
            }
        }
        "content_block_stop" => format!("{i}-"),
        "message_delta" => format!(
            "end {} in={} out={} read={}",
            d["delta"]["stop_reason"],
            d["usage"]["input_tokens"],
            d["usage"]["output_tokens"],
            d["usage"]["cache_read_input_tokens"]
        ),
        "message_stop" => "stop".to_owned(),
        "error" => format!("error {}", d["error"]["message"]),
        _ => return None,
    })
}

fn event_summary(ev: &crate::protocol::stream::StreamEvent) -> Option<String> {
    use crate::protocol::ir::StopReason;
    use crate::protocol::stream::{BlockStart, Delta, StreamEvent};
    let s = |v: &str| Value::String(v.to_owned());
    Some(match ev {
        StreamEvent::MessageStart { .. } => "start".to_owned(),
        StreamEvent::BlockStart { index, block } => match block {
            BlockStart::ToolUse { id, name, .. } => {
                format!("{index}+tool_use {} {}", s(id), s(name))
            }
            BlockStart::Text => format!("{index}+text"),
            BlockStart::Thinking => format!("{index}+thinking"),
            BlockStart::RedactedThinking { .. } => format!("{index}+redacted_thinking"),
        },
        StreamEvent::BlockDelta { index, delta } => match delta {
            Delta::Text(t) => format!("{index} text {}", s(t)),
            Delta::Thinking(t) => format!("{index} thinking {}", s(t)),
            Delta::ToolInputJson(j) => format!("{index} json {}", s(j)),
            Delta::Signature(_) => format!("{index} signature_delta"),
        },
        StreamEvent::BlockStop { index } => format!("{index}-"),
        StreamEvent::MessageDelta {
            stop_reason, usage, ..
        } => {
            let reason = match stop_reason {
                Some(StopReason::ToolUse) => "tool_use",
                Some(StopReason::EndTurn) => "end_turn",
                Some(StopReason::MaxTokens) => "max_tokens",
                Some(StopReason::Refusal) => "refusal",
                _ => "other",
            };
            format!(
                "end {} in={} out={} read={}",
                s(reason),
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens
            )
        }
        StreamEvent::MessageStop => "stop".to_owned(),
        StreamEvent::Error(e) => format!("error {}", s(&e.message)),
        StreamEvent::Ping => return None,
    })
}

/// Until the Anthropic encoder is merged: this codec's half of the hand-written
/// `openai-to-anthropic` stream and error cases (events and wording agree with `expected`).
#[test]
fn openai_to_anthropic_fixtures_decode_side() {
    let dir = dir("openai-to-anthropic");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        match case["kind"].as_str().unwrap() {
            "stream" => {
                let mut dec = StreamDecoder::new();
                let mut events = Vec::new();
                for ev in case["input"].as_array().unwrap() {
                    let data = match &ev["data"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    dec.feed(&SseEvent { event: None, data }, &mut events)
                        .unwrap();
                }
                dec.finish(&mut events).unwrap();
                let actual: Vec<String> = events.iter().filter_map(event_summary).collect();
                let expected: Vec<String> = case["expected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(anthropic_frame_summary)
                    .collect();
                assert_eq!(actual, expected, "{}", path.display());
            }
            "error" => {
                let input = &case["input"];
                let status = u16::try_from(input["status"].as_u64().unwrap()).unwrap();
                let err = decode_error(status, &body_bytes(&input["body"]));
                let expected = &case["expected"];
                assert_eq!(
                    u64::from(err.status),
                    expected["status"],
                    "{}",
                    path.display()
                );
                assert_eq!(
                    err.message,
                    expected["body"]["error"]["message"],
                    "{}",
                    path.display()
                );
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 4);
}

/// A minimal reading of Anthropic SSE frames, enough to drive this codec's encoder.
fn anthropic_frame_to_event(frame: &Value) -> Option<crate::protocol::stream::StreamEvent> {
    use crate::protocol::ir::{StopReason, Usage};
    use crate::protocol::stream::{BlockStart, Delta, StreamEvent};
    let d = &frame["data"];
    let index = d["index"].as_u64().map(|i| usize::try_from(i).unwrap());
    let usage = |u: &Value| Usage {
        input_tokens: u["input_tokens"].as_u64().unwrap_or(0),
        output_tokens: u["output_tokens"].as_u64().unwrap_or(0),
        cache_read_tokens: u["cache_read_input_tokens"].as_u64().unwrap_or(0),
        cache_write_tokens: u["cache_creation_input_tokens"].as_u64().unwrap_or(0),
        reasoning_tokens: None,
    };
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    Some(match frame["event"].as_str()? {
        "message_start" => StreamEvent::MessageStart {
            id: text(&d["message"]["id"]),
            model: text(&d["message"]["model"]),
            usage: usage(&d["message"]["usage"]),
        },
        "content_block_start" => {
            let b = &d["content_block"];
            let block = match b["type"].as_str()? {
                "text" => BlockStart::Text,
                "thinking" => BlockStart::Thinking,
                "tool_use" => BlockStart::ToolUse {
                    id: text(&b["id"]),
                    name: text(&b["name"]),
                    signature: None,
                },
                _ => return None,
            };
            StreamEvent::BlockStart {
                index: index?,
                block,
            }
        }
        "content_block_delta" => {
            let x = &d["delta"];
            let delta = match x["type"].as_str()? {
                "text_delta" => Delta::Text(text(&x["text"])),
                "thinking_delta" => Delta::Thinking(text(&x["thinking"])),
                "input_json_delta" => Delta::ToolInputJson(text(&x["partial_json"])),
                "signature_delta" => Delta::Signature(crate::protocol::ir::Signature {
                    origin: crate::protocol::ir::Dialect::Anthropic,
                    value: text(&x["signature"]),
                }),
                _ => return None,
            };
            StreamEvent::BlockDelta {
                index: index?,
                delta,
            }
        }
        "content_block_stop" => StreamEvent::BlockStop { index: index? },
        "message_delta" => StreamEvent::MessageDelta {
            stop_reason: match d["delta"]["stop_reason"].as_str() {
                Some("tool_use") => Some(StopReason::ToolUse),
                Some("max_tokens") => Some(StopReason::MaxTokens),
                Some("refusal") => Some(StopReason::Refusal),
                Some(_) => Some(StopReason::EndTurn),
                None => None,
            },
            stop_sequence: None,
            usage: usage(&d["usage"]),
        },
        "message_stop" => StreamEvent::MessageStop,
        "ping" => StreamEvent::Ping,
        _ => return None,
    })
}

/// Until the Anthropic decoder is merged: this codec's half of the hand-written
/// `anthropic-to-openai` stream cases.
#[test]
fn anthropic_to_openai_fixtures_encode_side() {
    let dir = dir("anthropic-to-openai");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if case["kind"] != "stream" {
            continue;
        }
        let ctx = ResponseCtx {
            model: case["ctx"]["model"].as_str().unwrap().to_owned(),
            include_usage: case["ctx"]["include_usage"].as_bool().unwrap_or(false),
            ..ResponseCtx::default()
        };
        let mut enc = StreamEncoder::new(&ctx);
        let mut out = Vec::new();
        for frame in case["input"].as_array().unwrap() {
            if let Some(ev) = anthropic_frame_to_event(frame) {
                enc.encode(&ev, &mut out);
            }
        }
        let mut actual = sse_frames(&out);
        scrub(&mut actual);
        assert_eq!(actual, case["expected"], "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 1);
}
