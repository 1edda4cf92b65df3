//! Golden translation fixtures: `tests/fixtures/translate/<from>-to-<to>/<case>.json`, one case
//! a file, run for every directory whose two dialects both have a codec here.
//!
//! A case is `{"kind", "input", "expected"}` plus optional `"ctx"` (`model`,
//! `estimated_input_tokens`, `include_usage`, and for a Responses client the `request` body its
//! reply answers) and `"hints"` (`model`, `stream`). `input` is in
//! the `<from>` dialect and `expected` in the `<to>` dialect, whatever the kind:
//! * `request`: a request body; decoded by `<from>`, encoded by `<to>`'s `encode_request`.
//! * `response`: a reply body; `<from>`'s `decode_response`, `<to>`'s `encode_response`.
//! * `stream`: a list of `{"event"?, "data"}` SSE events (`data` a JSON value, or a string sent
//!   raw such as `"[DONE]"`); framed, parsed with `SseParser`, decoded by `<from>`, encoded by
//!   `<to>` and parsed back into the same list shape.
//! * `error`: `{"status", "body"}` (body JSON or a raw string); `<from>`'s `decode_error`,
//!   `<to>`'s `encode_error` with the status that dialect answers with.
//!
//! `LLM_GATEWAY_FIXTURE_ACTUAL=DIR` writes the actual output of each failing case into `DIR`
//! (for reviewing a codec change against the fixtures). `LLM_GATEWAY_BLESS=1` writes it into the
//! case's own `expected` instead (a new case can start with `"expected": null`; review the diff).
//!
//! Every arm goes through `codec`'s dispatch, so a new dialect only needs a name in [`dialect`].
//! Random values are normalised: Anthropic's error `request_id`, OpenAI's `created`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::protocol::codec::{RequestHints, ResponseCtx};
use crate::protocol::dialect::{self, AnyStreamDecoder, AnyStreamEncoder};
use crate::protocol::ir::{ApiError, Dialect, Request, Response};
use crate::protocol::responses;
use crate::protocol::sse::{SseEvent, SseParser, write_event};
use crate::protocol::stream::StreamEvent;

/// The registry's dialect named by a fixture folder (`anthropic-to-openai`).
fn dialect(d: &str) -> Option<Dialect> {
    d.parse().ok()
}

fn has_codec(d: &str) -> bool {
    // registry: Bedrock Converse is upstream-only (no `Dialect`); see `converse_case`.
    dialect(d).is_some() || d == BEDROCK
}

const BEDROCK: &str = "bedrock";

/// registry: `<dialect>-to-bedrock` request cases (with `hints` as other requests) and
/// `bedrock-to-<dialect>` response,
/// stream and error cases, through `protocol::converse`. A stream case lists
/// `{"event": <:event-type>, "data": <payload>}` (or `{"exception": <:exception-type>,
/// "data"}`) as the frames decoded from the binary event stream; an error case may name the
/// `x-amzn-ErrorType` header as `"error_type"`. Converse has no message id: the one the
/// wiring passes (AWS's request id) is fixed here.
fn converse_case(from: &str, to: &str, case: &Value, ctx: &ResponseCtx) -> Result<Value, String> {
    use crate::protocol::converse;
    let input = &case["input"];
    match (case["kind"].as_str(), from == BEDROCK, to == BEDROCK) {
        (Some("request"), false, true) => {
            // Gemini keeps the model in the URL: the case names it in `hints`.
            let hints = RequestHints {
                model: case["hints"]["model"].as_str().map(str::to_owned),
                stream: case["hints"]["stream"].as_bool(),
            };
            let ir = decode_request(from, &raw(input), &hints)?;
            let wire = converse::encode_request(&ir).map_err(|e| e.to_string())?;
            serde_json::to_value(wire).map_err(|e| e.to_string())
        }
        (Some("response"), true, false) => {
            let mut ir = converse::decode_response(&raw(input)).map_err(|e| e.to_string())?;
            // Converse has no message id; the wiring passes AWS's request id.
            ir.id = "bedrock-request-id".into();
            let mut out = parse_body(&encode_response(to, &ir, ctx)?);
            scrub(&mut out);
            Ok(out)
        }
        (Some("stream"), true, false) => {
            let items = input.as_array().ok_or("stream input must be a list")?;
            let mut dec = converse::StreamDecoder::new().with_message_id("bedrock-request-id");
            let mut events = Vec::new();
            for it in items {
                let data = raw(&it["data"]);
                match (it["event"].as_str(), it["exception"].as_str()) {
                    (Some(t), _) => dec.feed(t, &data, &mut events).map_err(|e| e.to_string())?,
                    (None, Some(t)) => dec.exception(t, &data, &mut events),
                    _ => return Err("a stream item needs `event` or `exception`".into()),
                }
            }
            dec.finish(&mut events).map_err(|e| e.to_string())?;
            let mut out = sse_bytes_to_list(&encode_stream(to, &events, ctx)?)?;
            scrub(&mut out);
            Ok(out)
        }
        (Some("error"), true, false) => {
            let status = input["status"].as_u64().ok_or("error input needs status")? as u16;
            let ectx = converse::ErrorContext {
                error_type: input["error_type"].as_str(),
                ..Default::default()
            };
            let err = converse::decode_error_with(status, &raw(&input["body"]), &ectx);
            let (status, body) = encode_error(to, &err)?;
            Ok(json!({"status": status, "body": body}))
        }
        (kind, ..) => Err(format!("no {kind:?} case for {from}-to-{to}")),
    }
}

fn the(d: &str) -> Result<Dialect, String> {
    dialect(d).ok_or_else(|| format!("no codec for {d}"))
}

fn decode_request(d: &str, body: &[u8], hints: &RequestHints) -> Result<Request, String> {
    dialect::decode_request(the(d)?, body, hints).map_err(|e| e.to_string())
}

/// What `<to>`'s upstream encoder produces (default provider options).
fn encode_request(d: &str, req: &Request) -> Result<Value, String> {
    let body = dialect::encode_request_body(the(d)?, req).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

fn decode_response(d: &str, body: &[u8]) -> Result<Response, String> {
    dialect::decode_response(the(d)?, body).map_err(|e| e.to_string())
}

fn encode_response(d: &str, resp: &Response, ctx: &ResponseCtx) -> Result<Vec<u8>, String> {
    Ok(dialect::encode_response(the(d)?, resp, ctx))
}

fn decode_stream(d: &str, events: &[SseEvent]) -> Result<Vec<StreamEvent>, String> {
    let mut out = Vec::new();
    let mut dec = AnyStreamDecoder::new(the(d)?);
    for e in events {
        dec.feed(e, &mut out).map_err(|e| e.to_string())?;
    }
    dec.finish(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn encode_stream(d: &str, events: &[StreamEvent], ctx: &ResponseCtx) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = AnyStreamEncoder::new(the(d)?, ctx);
    for e in events {
        enc.encode(e, &mut out);
    }
    Ok(out)
}

fn decode_error(d: &str, status: u16, body: &[u8]) -> Result<ApiError, String> {
    Ok(dialect::decode_error(the(d)?, status, body))
}

/// The status and body the `<to>` dialect answers with (Anthropic: 529 for capacity errors,
/// other providers' context-length wording as Anthropic's, as `GatewayError::to_api` does for
/// upstream errors; its random `request_id` fixed).
fn encode_error(d: &str, err: &ApiError) -> Result<(u16, Value), String> {
    let d = the(d)?;
    let mut err = err.clone();
    dialect::from_upstream(d, &mut err);
    let body = dialect::encode_error_with_id(d, &err, "req_fixture")
        .unwrap_or_else(|| dialect::encode_error(d, &err));
    Ok((dialect::client_status(d, &err), parse_body(&body)))
}

/// Values that change per run: OpenAI's `created` timestamps (Responses: `created_at`,
/// `completed_at`).
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "created" | "created_at" | "completed_at") && x.is_u64() {
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

// ---- the runner ----

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/translate")
}

fn parse_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn raw(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

fn sse_bytes_to_list(bytes: &[u8]) -> Result<Value, String> {
    let mut p = SseParser::new();
    let mut evs = Vec::new();
    p.push(bytes, &mut evs).map_err(|e| e.to_string())?;
    p.finish(&mut evs).map_err(|e| e.to_string())?;
    Ok(Value::Array(
        evs.into_iter()
            .map(|e| {
                let data = parse_body(e.data.as_bytes());
                match e.event {
                    Some(name) => json!({"event": name, "data": data}),
                    None => json!({"data": data}),
                }
            })
            .collect(),
    ))
}

fn list_to_sse(list: &Value) -> Result<Vec<SseEvent>, String> {
    let items = list.as_array().ok_or("stream input must be a list")?;
    let mut bytes = Vec::new();
    for it in items {
        let data = match &it["data"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        write_event(&mut bytes, it["event"].as_str(), &data);
    }
    // Through the real parser, split mid-way, so fixtures exercise the framing too.
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let (a, b) = bytes.split_at(bytes.len() / 2);
    p.push(a, &mut out).map_err(|e| e.to_string())?;
    p.push(b, &mut out).map_err(|e| e.to_string())?;
    p.finish(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn run_case(from: &str, to: &str, case: &Value) -> Result<Value, String> {
    let input = &case["input"];
    let c = &case["ctx"];
    let ctx = ResponseCtx {
        model: c["model"]
            .as_str()
            .or_else(|| input["model"].as_str())
            .unwrap_or_default()
            .to_owned(),
        include_usage: c["include_usage"].as_bool().unwrap_or(false),
        estimated_input_tokens: c["estimated_input_tokens"].as_u64().unwrap_or(0),
        json_array_stream: false,
        // A Responses client's reply needs its request (`ctx.request`, a Responses body).
        responses: match c.get("request") {
            Some(body) => Some(std::sync::Arc::new(responses::reply_context(
                &responses::decode_request(&raw(body), &RequestHints::default())
                    .map_err(|e| format!("ctx.request: {e}"))?,
            ))),
            None => None,
        },
    };
    if from == BEDROCK || to == BEDROCK {
        return converse_case(from, to, case, &ctx);
    }
    match case["kind"].as_str() {
        Some("request") => {
            let hints = RequestHints {
                model: case["hints"]["model"].as_str().map(str::to_owned),
                stream: case["hints"]["stream"].as_bool(),
            };
            let ir = decode_request(from, &raw(input), &hints)?;
            let mut out = encode_request(to, &ir)?;
            scrub(&mut out);
            Ok(out)
        }
        Some("response") => {
            let ir = decode_response(from, &raw(input))?;
            let mut out = parse_body(&encode_response(to, &ir, &ctx)?);
            scrub(&mut out);
            Ok(out)
        }
        Some("stream") => {
            let ir = decode_stream(from, &list_to_sse(input)?)?;
            let mut out = sse_bytes_to_list(&encode_stream(to, &ir, &ctx)?)?;
            scrub(&mut out);
            Ok(out)
        }
        Some("error") => {
            let status = input["status"].as_u64().ok_or("error input needs status")? as u16;
            let err = decode_error(from, status, &raw(&input["body"]))?;
            let (status, body) = encode_error(to, &err)?;
            Ok(json!({"status": status, "body": body}))
        }
        other => Err(format!("unknown kind {other:?}")),
    }
}

#[test]
fn translation_fixtures() {
    let mut ran = 0;
    let mut failures = Vec::new();
    let dirs = std::fs::read_dir(root()).expect("tests/fixtures/translate exists");
    let mut dirs: Vec<PathBuf> = dirs.map(|d| d.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((from, to)) = name.split_once("-to-") else {
            continue;
        };
        if !has_codec(from) || !has_codec(to) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let mut case: Value = serde_json::from_slice(&std::fs::read(&file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            ran += 1;
            let label = format!("{name}/{}", file.file_name().unwrap().to_string_lossy());
            match run_case(from, to, &case) {
                Ok(actual) if actual == case["expected"] => {}
                Ok(actual) if std::env::var_os("LLM_GATEWAY_BLESS").is_some() => {
                    case["expected"] = actual;
                    let text = serde_json::to_string_pretty(&case).unwrap() + "\n";
                    std::fs::write(&file, text).unwrap();
                }
                Ok(actual) => {
                    if let Some(dir) = std::env::var_os("LLM_GATEWAY_FIXTURE_ACTUAL") {
                        let out = Path::new(&dir).join(label.replace('/', "__"));
                        let text = serde_json::to_string_pretty(&actual).unwrap();
                        std::fs::write(out, text).unwrap();
                    }
                    failures.push(format!(
                        "{label}: mismatch\nactual:\n{}",
                        serde_json::to_string_pretty(&actual).unwrap()
                    ));
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
    }
    assert!(ran > 0, "no fixture ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
