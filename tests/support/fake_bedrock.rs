//! AWS Bedrock on loopback: `POST /model/{id}/converse` answers a whole Converse reply,
//! `/converse-stream` the binary event stream (frames made by the gateway's own
//! `eventstream::encode_event`, so the CRCs are real), a model id containing `throttle` a 429
//! `ThrottlingException` with `x-amzn-ErrorType`, and a model id containing `boom` a stream that
//! throws an exception frame after its first text. Every request's path and headers are kept
//! for the test to check (the credential, the URL form).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use llm_gateway::config::ProviderKind;
use llm_gateway::store::records::UpstreamRecord;
use llm_gateway::upstream::bedrock::eventstream::{encode_event, encode_exception};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: serde_json::Value,
}

pub struct FakeBedrock {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBedrock {
    pub async fn start() -> FakeBedrock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = Arc::clone(&seen);
        let (addr, task) = super::serve(move |req: http::Request<hyper::body::Incoming>| {
            let log = Arc::clone(&log);
            async move {
                let path = req.uri().path().to_string();
                let headers = req.headers().clone();
                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                let body = serde_json::from_slice(&bytes).unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    headers,
                    body,
                });
                reply(&path)
            }
        })
        .await;
        FakeBedrock { addr, seen, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

/// A `bedrock` upstream at the fake serving `models` (its key, `sk-fake-NAME` in
/// [`super::view`], is a Bedrock API key: bearer auth).
pub fn upstream(name: &str, fake: &FakeBedrock, models: &[&str]) -> UpstreamRecord {
    UpstreamRecord {
        provider: ProviderKind::Bedrock,
        region: Some("us-west-2".into()),
        ..super::upstream(name, &fake.url(), models, 100)
    }
}

pub fn reply(path: &str) -> http::Response<Full<Bytes>> {
    let resp = |status: u16, ct: &str, body: Vec<u8>| {
        http::Response::builder()
            .status(status)
            .header("content-type", ct)
            .header("x-amzn-requestid", "req-fake-1")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if path.contains("throttle") {
        let mut r = resp(
            429,
            "application/json",
            br#"{"message":"Too many requests, please wait before trying again."}"#.to_vec(),
        );
        r.headers_mut().insert(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
                .parse()
                .unwrap(),
        );
        return r;
    }
    if path.ends_with("/converse-stream") {
        let mut b = Vec::new();
        b.extend(encode_event("messageStart", br#"{"role":"assistant"}"#));
        b.extend(encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"Hello from"}}"#,
        ));
        if path.contains("boom") {
            b.extend(encode_exception(
                "modelStreamErrorException",
                br#"{"message":"the model stream broke"}"#,
            ));
            return resp(200, "application/vnd.amazon.eventstream", b);
        }
        b.extend(encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":" Bedrock"}}"#,
        ));
        b.extend(encode_event(
            "contentBlockStop",
            br#"{"contentBlockIndex":0}"#,
        ));
        b.extend(encode_event("messageStop", br#"{"stopReason":"end_turn"}"#));
        b.extend(encode_event(
            "metadata",
            br#"{"usage":{"inputTokens":7,"outputTokens":4,"totalTokens":11},"metrics":{"latencyMs":5}}"#,
        ));
        return resp(200, "application/vnd.amazon.eventstream", b);
    }
    resp(
        200,
        "application/json",
        br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello from Bedrock"}]}},"stopReason":"end_turn","usage":{"inputTokens":7,"outputTokens":4,"totalTokens":11},"metrics":{"latencyMs":5}}"#.to_vec(),
    )
}

// ---- scripted replies for the conformance matrix (served by `fake_openai`'s scriptable
// server at the upstream's root, as `fake_responses` does for Responses upstreams) ----

use llm_gateway::protocol::converse::wire as cw;
use llm_gateway::protocol::ir::{self, Block, Dialect, StopReason};
use llm_gateway::protocol::stream::{BlockStart, Delta, StreamEvent};
use serde_json::{Value, json};

use super::fake_openai::Reply;

/// AWS's request id on every reply (the gateway's message id for Converse replies).
pub const REQUEST_ID: &str = "req-fake-matrix-1";

fn stop_name(stop: Option<&StopReason>) -> &'static str {
    match stop {
        Some(StopReason::ToolUse) => "tool_use",
        Some(StopReason::MaxTokens) => "max_tokens",
        Some(StopReason::StopSequence) => "stop_sequence",
        Some(StopReason::Refusal) => "content_filtered",
        Some(StopReason::ContextWindowExceeded) => "model_context_window_exceeded",
        _ => "end_turn",
    }
}

fn usage_json(u: &ir::Usage) -> Value {
    json!({"inputTokens": u.input_tokens, "outputTokens": u.output_tokens,
        "totalTokens": u.input_tokens + u.output_tokens})
}

/// A whole Converse reply for an IR response: text, `reasoningContent` (text + signature) and
/// `toolUse` blocks.
pub fn converse(resp: &ir::Response) -> Reply {
    let content: Vec<Value> = resp
        .content
        .iter()
        .map(|b| match b {
            Block::Text { text, .. } => json!({"text": text.as_str()}),
            Block::Thinking { text, signature } => {
                let mut r = json!({"text": text});
                if let Some(s) = signature {
                    r["signature"] = json!(s.value);
                }
                json!({"reasoningContent": {"reasoningText": r}})
            }
            Block::ToolUse {
                id, name, input, ..
            } => json!({"toolUse": {"toolUseId": id, "name": name, "input": input.value()}}),
            other => panic!("no Converse reply form for {other:?}"),
        })
        .collect();
    let body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_name(resp.stop_reason.as_ref()),
        "usage": usage_json(&resp.usage),
        "metrics": {"latencyMs": 5}
    });
    Reply::json(200, &body.to_string()).header("x-amzn-requestid", REQUEST_ID)
}

/// The ConverseStream frames for IR stream events, one frame a chunk, as AWS sends them: no
/// `contentBlockStart` for text and reasoning, the signature its own delta, `messageStop`
/// before the only usage (`metadata`).
pub fn stream_frames(events: &[StreamEvent]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut ev = |t: &str, v: Value| frames.push(encode_event(t, v.to_string().as_bytes()));
    for e in events {
        match e {
            StreamEvent::MessageStart { .. } => ev("messageStart", json!({"role": "assistant"})),
            StreamEvent::BlockStart {
                index,
                block: BlockStart::ToolUse { id, name, .. },
            } => ev(
                "contentBlockStart",
                json!({"contentBlockIndex": index,
                    "start": {"toolUse": {"toolUseId": id, "name": name}}}),
            ),
            StreamEvent::BlockStart { .. } => {}
            StreamEvent::BlockDelta { index, delta } => {
                let delta = match delta {
                    Delta::Text(t) => json!({"text": t}),
                    Delta::Thinking(t) => json!({"reasoningContent": {"text": t}}),
                    Delta::Signature(s) => json!({"reasoningContent": {"signature": s.value}}),
                    Delta::ToolInputJson(j) => json!({"toolUse": {"input": j}}),
                };
                ev(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": delta}),
                );
            }
            StreamEvent::BlockStop { index } => {
                ev("contentBlockStop", json!({"contentBlockIndex": index}))
            }
            StreamEvent::MessageDelta {
                stop_reason, usage, ..
            } => {
                ev(
                    "messageStop",
                    json!({"stopReason": stop_name(stop_reason.as_ref())}),
                );
                ev(
                    "metadata",
                    json!({"usage": usage_json(usage), "metrics": {"latencyMs": 5}}),
                );
            }
            _ => {}
        }
    }
    frames
}

fn event_stream_reply(frames: Vec<Vec<u8>>) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                "application/vnd.amazon.eventstream".into(),
            ),
            ("x-amzn-requestid".into(), REQUEST_ID.into()),
        ],
        chunks: frames.into_iter().map(Bytes::from).collect(),
        first_byte_delay: std::time::Duration::ZERO,
        chunk_delay: std::time::Duration::ZERO,
        cut_after: None,
    }
}

/// A ConverseStream reply for IR stream events.
pub fn stream(events: &[StreamEvent]) -> Reply {
    event_stream_reply(stream_frames(events))
}

/// The first `keep` frames of the stream, then an exception frame (after the HTTP 200), paced
/// so the head reaches the client before the exception.
pub fn stream_then_exception(events: &[StreamEvent], keep: usize) -> Reply {
    let mut frames = stream_frames(events);
    frames.truncate(keep);
    frames.push(encode_exception(
        "modelStreamErrorException",
        br#"{"message":"the model stream broke","originalStatusCode":500}"#,
    ));
    event_stream_reply(frames).chunk_delay(std::time::Duration::from_millis(20))
}

/// A 429 `ThrottlingException` as AWS sends it (the name in `x-amzn-ErrorType`, no
/// `Retry-After`).
pub fn throttling(message: &str) -> Reply {
    exception(429, "ThrottlingException", message)
}

/// An AWS error reply: the exception's name in `x-amzn-ErrorType`, its wording in the body.
pub fn exception(status: u16, name: &str, message: &str) -> Reply {
    Reply::json(status, &json!({ "message": message }).to_string())
        .header(
            "x-amzn-errortype",
            &format!("{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .header("x-amzn-requestid", REQUEST_ID)
}

/// A Converse request body read back into the IR, for checking what the gateway sent: text,
/// images, tool calls and results, reasoning (signatures tagged Anthropic), declared tools,
/// the Claude thinking budget and the structured-output schema. `stream` is the call's
/// (`/converse-stream`).
pub fn request_ir(body: &[u8], model: &str, stream: bool) -> ir::Request {
    let w: cw::Request = serde_json::from_slice(body).expect("a Converse request body");
    let text = |t: String| Block::Text {
        text: t.into(),
        signature: None,
        cache_control: None,
    };
    let image = |i: &cw::ImageBlock| {
        Block::Image(ir::Image {
            source: ir::ImageSource::Base64 {
                media_type: format!("image/{}", i.format),
                data: i.source.bytes.clone().expect("image bytes"),
            },
            cache_control: None,
        })
    };
    let messages = w
        .messages
        .iter()
        .map(|m| ir::Message {
            role: match m.role {
                cw::Role::User => ir::Role::User,
                cw::Role::Assistant => ir::Role::Assistant,
            },
            content: m
                .content
                .iter()
                .filter_map(|b| {
                    Some(match b {
                        cw::ContentBlock::Text(t) => text(t.to_string()),
                        cw::ContentBlock::Image(i) => image(i),
                        cw::ContentBlock::ToolUse(t) => Block::ToolUse {
                            id: t.tool_use_id.clone(),
                            name: t.name.clone(),
                            input: t.input.clone(),
                            signature: None,
                        },
                        cw::ContentBlock::ToolResult(r) => Block::ToolResult {
                            tool_use_id: r.tool_use_id.clone(),
                            content: r
                                .content
                                .iter()
                                .filter_map(|c| match c {
                                    cw::ToolResultContent::Text(t) => Some(text(t.to_string())),
                                    cw::ToolResultContent::Json(j) => Some(text(j.to_string())),
                                    cw::ToolResultContent::Image(i) => Some(image(i)),
                                    _ => None,
                                })
                                .collect(),
                            is_error: r.status.as_deref() == Some("error"),
                            cache_control: None,
                        },
                        cw::ContentBlock::ReasoningContent(
                            cw::ReasoningContent::ReasoningText(r),
                        ) => Block::Thinking {
                            text: r.text.clone(),
                            signature: r.signature.clone().map(|value| ir::Signature {
                                origin: Dialect::Anthropic,
                                value,
                            }),
                        },
                        _ => return None,
                    })
                })
                .collect(),
        })
        .collect();
    let tools = w
        .tool_config
        .iter()
        .flat_map(|c| &c.tools)
        .filter_map(|t| match t {
            cw::Tool::ToolSpec(s) => Some(ir::Tool::Function(ir::FunctionTool {
                name: s.name.clone(),
                description: s.description.clone(),
                input_schema: s.input_schema.json.clone(),
                cache_control: None,
                extra: ir::Extras::default(),
            })),
            _ => None,
        })
        .collect();
    let additional = w.additional_model_request_fields.unwrap_or_default();
    let thinking = additional.get("thinking").map(|t| ir::ThinkingConfig {
        mode: ir::ThinkingMode::Enabled,
        budget_tokens: t["budget_tokens"].as_u64().map(|b| b as u32),
        effort: None,
        include_thoughts: None,
    });
    let response_format =
        w.output_config
            .and_then(|c| c.text_format)
            .map(|f| ir::ResponseFormat::JsonSchema {
                name: f.structure.json_schema.name,
                schema: serde_json::from_str(&f.structure.json_schema.schema)
                    .expect("the schema is a JSON string"),
                strict: None,
            });
    ir::Request {
        model: model.into(),
        system: w
            .system
            .iter()
            .filter_map(|s| match s {
                cw::SystemBlock::Text(t) => Some(ir::SystemBlock {
                    text: t.clone(),
                    cache_control: None,
                }),
                _ => None,
            })
            .collect(),
        messages,
        tools,
        thinking,
        response_format,
        max_tokens: w.inference_config.and_then(|c| c.max_tokens),
        stream,
        ..ir::Request::default()
    }
}

/// Bedrock's request rules (reference `bedrock-azure-ws.md` §1.3, §1.12) on a body the gateway
/// sent, each a 400 from AWS when broken: turns alternate from a user turn, no empty turn or
/// blank text, tool ids and names of 1-64 `[a-zA-Z0-9_-]`, tool inputs objects, tool results
/// and images only in user turns, images as bytes of a known format, a `toolConfig` whenever
/// the history holds tool blocks, at most 4 stop sequences.
pub fn check_rules(raw: &Value) {
    let valid_id = |s: &str| {
        (1..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let messages = raw["messages"].as_array().expect("messages");
    assert_eq!(
        messages.first().map(|m| &m["role"]),
        Some(&json!("user")),
        "{raw}"
    );
    let mut has_tool_blocks = false;
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            assert_ne!(
                m["role"],
                messages[i - 1]["role"],
                "turns must alternate: {raw}"
            );
        }
        let user = m["role"] == "user";
        let content = m["content"].as_array().expect("content");
        assert!(!content.is_empty(), "empty turn: {raw}");
        for b in content {
            if let Some(t) = b.get("text") {
                assert!(
                    !t.as_str().unwrap_or_default().trim().is_empty(),
                    "blank text: {raw}"
                );
            }
            if let Some(t) = b.get("toolUse") {
                has_tool_blocks = true;
                assert!(!user, "toolUse in a user turn: {raw}");
                assert!(t["input"].is_object(), "tool input not an object: {raw}");
                assert!(
                    valid_id(t["toolUseId"].as_str().unwrap_or_default()),
                    "{raw}"
                );
                assert!(valid_id(t["name"].as_str().unwrap_or_default()), "{raw}");
            }
            if let Some(t) = b.get("toolResult") {
                has_tool_blocks = true;
                assert!(user, "toolResult in an assistant turn: {raw}");
                assert!(
                    valid_id(t["toolUseId"].as_str().unwrap_or_default()),
                    "{raw}"
                );
                assert!(!t["content"].as_array().is_none_or(Vec::is_empty), "{raw}");
            }
            if let Some(img) = b.get("image") {
                assert!(user, "image in an assistant turn: {raw}");
                assert!(
                    ["png", "jpeg", "gif", "webp"].contains(&img["format"].as_str().unwrap_or("")),
                    "{raw}"
                );
                assert!(
                    img["source"]["bytes"].is_string(),
                    "image without bytes: {raw}"
                );
            }
        }
    }
    if has_tool_blocks {
        assert!(
            raw["toolConfig"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "{raw}"
        );
    }
    // Claude's thinking rule, as Bedrock passes it on: with thinking on, the assistant turn in
    // progress (after the last user message that is not only tool results), when it calls
    // tools, opens with its reasoning ("Expected `thinking` or `redacted_thinking`, but found
    // `tool_use`").
    let thinking = &raw["additionalModelRequestFields"]["thinking"]["type"];
    if thinking == "enabled" || thinking == "adaptive" {
        let opened = messages
            .iter()
            .rposition(|m| {
                m["role"] == "user"
                    && m["content"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|b| b.get("toolResult").is_none() && b.get("cachePoint").is_none())
                    })
            })
            .map_or(0, |i| i + 1);
        let turn = &messages[opened..];
        let calls = turn.iter().any(|m| {
            m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b.get("toolUse").is_some()))
        });
        if calls && let Some(first) = turn.iter().find(|m| m["role"] == "assistant") {
            assert!(
                first["content"][0].get("reasoningContent").is_some(),
                "Expected `thinking` or `redacted_thinking`, but found `tool_use`: {raw}"
            );
        }
    }
    let stops = raw["inferenceConfig"]["stopSequences"].as_array();
    assert!(stops.is_none_or(|s| s.len() <= 4), "{raw}");
}
