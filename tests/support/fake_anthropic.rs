//! Anthropic upstream replies for the fake server ([`super::fake_openai::FakeOpenAi`] is a
//! generic scripted HTTP server on port 0): Messages bodies, SSE streams and error bodies,
//! encoded from IR values by the Anthropic codec, so a test states a reply once for every
//! dialect. The fake's API base for an `anthropic` upstream is its root URL.

use llm_gateway::protocol::anthropic;
use llm_gateway::protocol::codec::ResponseCtx;
use llm_gateway::protocol::ir::{ApiError, Response};
use llm_gateway::protocol::stream::StreamEvent;

use super::fake_openai::{FakeOpenAi, Reply, sse_frames};

pub const MESSAGE_REPLY: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":2}}"#;

/// A fake whose default reply is [`MESSAGE_REPLY`].
pub async fn start() -> FakeOpenAi {
    let f = FakeOpenAi::start().await;
    f.set_default(Reply::json(200, MESSAGE_REPLY));
    f
}

pub fn message(resp: &Response) -> Reply {
    let ctx = ResponseCtx {
        model: resp.model.clone(),
        ..ResponseCtx::default()
    };
    Reply::json(
        200,
        std::str::from_utf8(&anthropic::encode_response(resp, &ctx)).unwrap(),
    )
}

pub fn stream(events: &[StreamEvent]) -> Reply {
    let ctx = ResponseCtx {
        model: "claude-upstream".into(),
        ..ResponseCtx::default()
    };
    let mut enc = anthropic::StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    sse_frames(&out)
}

pub fn error(err: &ApiError) -> Reply {
    let body = anthropic::encode_error(err);
    Reply::json(err.status, std::str::from_utf8(&body).unwrap())
}
