use super::*;
use crate::protocol::ir::Text;

fn text(t: &str) -> Block {
    Block::Text {
        text: Text::from(t),
        signature: None,
        cache_control: None,
    }
}

#[test]
fn decodes_an_upstream_response() {
    let body = json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.5",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAenc"},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "spawn",
             "namespace": "agents", "arguments": "{\"a\":1}"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}
        ],
        "usage": {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 60}});
    let r = decode_response(body.to_string().as_bytes()).unwrap();
    assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
    assert_eq!((r.usage.input_tokens, r.usage.cache_read_tokens), (30, 20));
    assert!(
        matches!(&r.content[0], Block::Thinking { signature: Some(s), .. }
        if s.origin == Dialect::Responses && s.value == "rs_1:gAAAAenc")
    );
    assert!(
        matches!(&r.content[2], Block::ToolUse { id, name, input, .. }
        if id == "call_1" && name == "agents__spawn" && input["a"] == 1)
    );
    let failed = json!({"id": "r", "status": "failed",
        "error": {"code": "server_error", "message": "boom"}, "output": []});
    assert!(decode_response(failed.to_string().as_bytes()).is_err());
    let cut = json!({"id": "r", "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"}, "output": []});
    let r = decode_response(cut.to_string().as_bytes()).unwrap();
    assert_eq!(r.stop_reason, Some(StopReason::MaxTokens));
}

#[test]
fn encodes_a_whole_response_with_required_fields() {
    let resp = ir::Response {
        id: "msg_01XY".into(),
        model: "claude".into(),
        content: vec![
            Block::Thinking {
                text: "t".into(),
                signature: Some(Signature {
                    origin: Dialect::Anthropic,
                    value: "S".into(),
                }),
            },
            Block::RedactedThinking { data: "R".into() },
            text("Answer"),
            Block::ToolUse {
                id: "toolu_1".into(),
                name: "f".into(),
                input: json!({"x": 1}).into(),
                signature: None,
            },
        ],
        stop_reason: Some(StopReason::ToolUse),
        usage: Usage {
            input_tokens: 1,
            output_tokens: 2,
            cache_read_tokens: 3,
            cache_write_tokens: 4,
            reasoning_tokens: None,
        },
        ..ir::Response::default()
    };
    let ctx = ResponseCtx {
        model: "client-model".into(),
        ..ResponseCtx::default()
    };
    let v: Value = serde_json::from_slice(&encode_response(&resp, &ctx)).unwrap();
    for key in [
        "id",
        "object",
        "created_at",
        "error",
        "incomplete_details",
        "instructions",
        "model",
        "tools",
        "output",
        "parallel_tool_calls",
        "metadata",
        "tool_choice",
        "temperature",
        "top_p",
        "status",
        "usage",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["id"], "resp_01XY");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "client-model");
    let out = v["output"].as_array().unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(out[1]["summary"], json!([]));
    assert_eq!(
        envelope::open(out[1]["encrypted_content"].as_str().unwrap()),
        Some(Some(Carried::AnthropicRedacted("R".into())))
    );
    assert_eq!(out[2]["content"][0]["text"], "Answer");
    assert_eq!(out[3]["arguments"], "{\"x\":1}");
    assert_eq!(out[3]["call_id"], "toolu_1");
    assert_ne!(out[3]["id"], out[3]["call_id"]);
    assert_eq!(v["usage"]["input_tokens"], 8);
    assert_eq!(v["usage"]["input_tokens_details"]["cache_write_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 10);
    // A replayed redacted item becomes the redacted block again.
    let input = json!({"model": "m", "input": [{"role": "user", "content": "q"}, out[0], out[1], out[2],
        out[3], {"type": "function_call_output", "call_id": "toolu_1", "output": "ok"}]});
    let req = super::super::decode_request(
        input.to_string().as_bytes(),
        &crate::protocol::codec::RequestHints::default(),
    )
    .unwrap();
    let turn = &req.messages[1].content;
    assert!(matches!(&turn[0], Block::Thinking { signature: Some(s), .. } if s.value == "S"));
    assert!(matches!(&turn[1], Block::RedactedThinking { data } if data == "R"));
}
