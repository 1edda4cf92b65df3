//! Gemini API and Code Assist upstream replies for the fake server: `generateContent` bodies,
//! `streamGenerateContent?alt=sse` chunks and Google error bodies, encoded from IR values by the
//! Gemini codec; the Code Assist variants wrap each body (and each SSE `data`) in
//! `{"response": ..., "traceId": ...}` as `cloudcode-pa` does. The fake's root URL is the API
//! base of both `gemini` and `gemini-cli` upstreams.

use llm_gateway::protocol::codec::ResponseCtx;
use llm_gateway::protocol::gemini;
use llm_gateway::protocol::ir::{ApiError, Response};
use llm_gateway::protocol::stream::StreamEvent;
use serde_json::{Value, json};

use super::fake_openai::{FakeOpenAi, Reply, sse_frames};

pub const GENERATE_REPLY: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hello"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":2,"totalTokenCount":13}}"#;

pub async fn start() -> FakeOpenAi {
    let f = FakeOpenAi::start().await;
    f.set_default(Reply::json(200, GENERATE_REPLY));
    f
}

fn ctx() -> ResponseCtx {
    ResponseCtx {
        model: "gemini-upstream".into(),
        ..ResponseCtx::default()
    }
}

fn wrap(body: &[u8]) -> String {
    let inner: Value = serde_json::from_slice(body).unwrap();
    json!({"response": inner, "traceId": "trace-1"}).to_string()
}

fn encode_stream(events: &[StreamEvent]) -> Vec<u8> {
    let mut enc = gemini::StreamEncoder::new(&ctx());
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    out
}

pub fn generate(resp: &Response) -> Reply {
    let body = gemini::encode_response(resp, &ctx());
    Reply::json(200, std::str::from_utf8(&body).unwrap())
}

pub fn stream(events: &[StreamEvent]) -> Reply {
    sse_frames(&encode_stream(events))
}

pub fn code_assist_generate(resp: &Response) -> Reply {
    Reply::json(200, &wrap(&gemini::encode_response(resp, &ctx())))
}

/// Each `data: {chunk}` as `data: {"response": chunk, "traceId": ...}`.
pub fn code_assist_stream(events: &[StreamEvent]) -> Reply {
    let text = String::from_utf8(encode_stream(events)).unwrap();
    let mut out = String::new();
    for frame in text.split_inclusive("\n\n") {
        for line in frame.lines() {
            match line.strip_prefix("data: ") {
                Some(d) => out.push_str(&format!("data: {}\n", wrap(d.as_bytes()))),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    sse_frames(out.as_bytes())
}

pub fn error(err: &ApiError) -> Reply {
    let body = gemini::encode_error(err);
    Reply::json(err.status, std::str::from_utf8(&body).unwrap())
}
