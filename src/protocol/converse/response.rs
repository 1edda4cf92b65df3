//! Whole Converse replies -> IR, and the stop-reason and usage mapping the stream decoder
//! shares (reference §1.4).
//!
//! Converse has no message id: the IR reply's id is empty and each client encoder mints one.
//! Reasoning signatures are Claude's own, so they are tagged [`Dialect::Anthropic`]: an
//! Anthropic client stores them and a later request replays them to Claude on Bedrock.

use serde_json::Value;

use super::wire::{self, ContentBlock};
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{self, Block, Dialect, Extras, Json, Signature, StopReason, Usage};

/// Decodes a Converse reply body. Tool names and ids are the wire's: apply the request's
/// [`ToolMap`](super::ToolMap) with `restore`.
pub fn decode_response(body: &[u8]) -> Result<ir::Response, CodecError> {
    let w: wire::Response = crate::protocol::openai::request::parse(body)?;
    let message = w
        .output
        .and_then(|o| o.message)
        .ok_or_else(|| CodecError::Invalid("Bedrock reply has no output message".into()))?;
    let mut content = Vec::with_capacity(message.content.len());
    for b in message.content {
        if let Some(block) = block_from_wire(b) {
            content.push(block);
        }
    }
    let stop = w.stop_reason.as_deref();
    if is_malformed(stop) && content.is_empty() {
        return Err(CodecError::Invalid(format!(
            "Bedrock could not produce a usable reply (stopReason {})",
            stop.unwrap_or_default()
        )));
    }
    let saw_tool = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    Ok(ir::Response {
        id: String::new(),
        model: String::new(),
        stop_reason: Some(stop_reason(stop, saw_tool)),
        stop_sequence: stop_sequence(w.additional_model_response_fields.as_ref()),
        usage: w.usage.as_ref().map(usage).unwrap_or_default(),
        content,
        // Converse's own members (`metrics`, `trace`) mean nothing to any client dialect.
        extra: Extras::default(),
    })
}

fn block_from_wire(b: ContentBlock) -> Option<Block> {
    Some(match b {
        ContentBlock::Text(text) => Block::Text {
            text,
            signature: None,
            cache_control: None,
        },
        ContentBlock::ToolUse(t) => Block::ToolUse {
            id: t.tool_use_id,
            name: t.name,
            input: if t.input.is_object() {
                t.input
            } else {
                Json::empty_object()
            },
            signature: None,
        },
        ContentBlock::ReasoningContent(wire::ReasoningContent::ReasoningText(r)) => {
            Block::Thinking {
                text: r.text,
                signature: r.signature.filter(|s| !s.is_empty()).map(claude_signature),
            }
        }
        ContentBlock::ReasoningContent(wire::ReasoningContent::RedactedContent(data)) => {
            Block::RedactedThinking { data }
        }
        ContentBlock::CitationsContent(c) => {
            let text: String = c.content.into_iter().filter_map(|t| t.text).collect();
            if text.is_empty() {
                return None;
            }
            Block::Text {
                text: text.into(),
                signature: None,
                cache_control: None,
            }
        }
        // Images, documents, cache points and members this codec does not know carry nothing
        // a reply to a client can hold.
        _ => return None,
    })
}

pub(crate) fn claude_signature(value: String) -> Signature {
    Signature {
        origin: Dialect::Anthropic,
        value,
    }
}

/// Bedrock gave up on the model's output: an error when nothing usable came before it.
pub(crate) fn is_malformed(stop: Option<&str>) -> bool {
    matches!(stop, Some("malformed_model_output" | "malformed_tool_use"))
}

/// Converse `stopReason` -> IR (reference §1.4 table).
pub(crate) fn stop_reason(stop: Option<&str>, saw_tool: bool) -> StopReason {
    match stop {
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("guardrail_intervened" | "content_filtered") => StopReason::Refusal,
        Some("model_context_window_exceeded") => StopReason::ContextWindowExceeded,
        _ if saw_tool => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// The matched stop sequence, when the request asked for `/delta/stop_sequence`.
pub(crate) fn stop_sequence(fields: Option<&Value>) -> Option<String> {
    fields?
        .pointer("/delta/stop_sequence")?
        .as_str()
        .map(str::to_owned)
}

/// `inputTokens` already excludes cache reads and writes, as the IR's `input_tokens` does.
pub(crate) fn usage(u: &wire::TokenUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
        cache_write_tokens: u.cache_write_input_tokens.unwrap_or(0),
        reasoning_tokens: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> ir::Response {
        decode_response(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reasoning_text_tool_use_and_cache_usage() {
        let r = decode(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig1"}}},
                {"reasoningContent": {"redactedContent": "AAEC"}},
                {"text": "Let me look."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "read", "input": {"path": "a"}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30,
                      "cacheReadInputTokens": 100, "cacheWriteInputTokens": 5},
            "metrics": {"latencyMs": 12}
        }));
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 20,
                cache_read_tokens: 100,
                cache_write_tokens: 5,
                reasoning_tokens: None
            }
        );
        assert!(matches!(&r.content[0],
            Block::Thinking { text, signature: Some(s) } if text == "hmm" && s.value == "sig1" && s.origin == Dialect::Anthropic));
        assert!(matches!(&r.content[1], Block::RedactedThinking { data } if data == "AAEC"));
        assert!(
            matches!(&r.content[3], Block::ToolUse { input, .. } if *input == json!({"path": "a"}))
        );
    }

    #[test]
    fn stop_sequence_value_and_refusal() {
        let r = decode(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "a"}]}},
            "stopReason": "stop_sequence",
            "additionalModelResponseFields": {"delta": {"stop_sequence": "END"}},
            "usage": {"inputTokens": 1, "outputTokens": 1}
        }));
        assert_eq!(r.stop_reason, Some(StopReason::StopSequence));
        assert_eq!(r.stop_sequence.as_deref(), Some("END"));
        let r = decode(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "no"}]}},
            "stopReason": "guardrail_intervened"
        }));
        assert_eq!(r.stop_reason, Some(StopReason::Refusal));
    }

    #[test]
    fn malformed_output_without_content_is_an_error() {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": []}},
            "stopReason": "malformed_model_output"
        });
        assert!(decode_response(body.to_string().as_bytes()).is_err());
        assert!(decode_response(b"{}").is_err());
    }
}
