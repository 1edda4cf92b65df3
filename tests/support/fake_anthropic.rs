//! Anthropic upstream replies for the fake server ([`super::fake_openai::FakeOpenAi`] is a
//! generic scripted HTTP server on port 0): Messages bodies, SSE streams and error bodies,
//! encoded from IR values by the Anthropic codec, so a test states a reply once for every
//! dialect. The fake's API base for an `anthropic` upstream is its root URL.

use llm_gateway::protocol::anthropic;
use llm_gateway::protocol::codec::ResponseCtx;
use llm_gateway::protocol::ir::{ApiError, Response};
use llm_gateway::protocol::stream::StreamEvent;
use serde_json::{Value, json};

use super::fake_openai::{FakeOpenAi, Reply, sse_frames};

pub const MESSAGE_REPLY: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":2}}"#;

/// A fake whose default reply is [`MESSAGE_REPLY`], enforcing [`check_request`].
pub async fn start() -> FakeOpenAi {
    let f = FakeOpenAi::start().await;
    f.set_default(Reply::json(200, MESSAGE_REPLY));
    f.set_check(check_request);
    f
}

/// The Messages API's rule on thinking and tool use (extended-thinking docs, "Preserving
/// thinking blocks"): with thinking on, the assistant turn in progress (after the last user
/// message that is not only tool results), when it calls tools, must open with a `thinking`
/// or `redacted_thinking` block. Anthropic answers 400 otherwise; so
/// does this fake, with Anthropic's wording.
pub fn check_request(path: &str, body: &[u8]) -> Option<Reply> {
    if !path.ends_with("/v1/messages") {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let thinking_on = matches!(v["thinking"]["type"].as_str(), Some("enabled" | "adaptive"));
    if !thinking_on {
        return None;
    }
    let messages = v["messages"].as_array()?;
    // The turn in progress: after the last user message that is not only tool results.
    let only_results = |m: &Value| {
        m["content"]
            .as_array()
            .is_some_and(|c| c.iter().all(|b| b["type"] == "tool_result"))
    };
    let opened = messages
        .iter()
        .rposition(|m| m["role"] == "user" && !only_results(m))
        .map_or(0, |i| i + 1);
    let turn = &messages[opened..];
    let calls = turn.iter().any(|m| {
        m["content"]
            .as_array()
            .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_use"))
    });
    let (i, first) = turn
        .iter()
        .enumerate()
        .find(|(_, m)| m["role"] == "assistant")?;
    let i = opened + i;
    let first = first["content"].as_array()?.first()?["type"]
        .as_str()
        .unwrap_or_default();
    if !calls || first == "thinking" || first == "redacted_thinking" {
        return None;
    }
    let message = format!(
        "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
         `{first}`. When `thinking` is enabled, a final `assistant` message must start with a \
         thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). \
         We recommend you include thinking blocks from previous turns. To avoid this \
         requirement, disable `thinking`. Please consult our documentation at \
         https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    );
    let body = json!({"type": "error", "error": {"type": "invalid_request_error",
        "message": message}, "request_id": "req_fake_thinking"});
    Some(Reply::json(400, &body.to_string()))
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
