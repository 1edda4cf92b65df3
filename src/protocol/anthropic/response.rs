//! Non-streamed Anthropic replies <-> IR: what an Anthropic upstream returns
//! ([`decode_response`]) and what an Anthropic client receives ([`encode_response`], B13).
//!
//! The block conversion for clients ([`blocks_to_client`]) is shared with the stream encoder's
//! logic: Gemini signatures become carrier thinking blocks and OpenAI's reasoning a
//! `gw.openai.` signed one (see `mod.rs`), unsigned thoughts are
//! kept only when they have text, empty text blocks are dropped (B14), tool ids are made safe.

use serde_json::{Map, Value};

use super::blocks::{blocks_from_wire, image_block, text_block, thinking_block, tool_use_block};
use super::{GEMINI_CARRIER_PREFIX, client_tool_id, message_id, parse_json, wire};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{Block, Dialect, Extras, Response, Signature, StopReason, Usage};
use crate::protocol::responses::envelope;

const K_USAGE: &str = "usage";

/// Reads an Anthropic upstream's Message.
pub fn decode_response(body: &[u8]) -> Result<Response, CodecError> {
    let w: wire::Response = parse_json(body)?;
    let mut extra = w.extra;
    if !w.usage.extra.is_empty() {
        extra.insert(K_USAGE.into(), Value::Object(w.usage.extra));
    }
    Ok(Response {
        id: w.id,
        model: w.model,
        content: blocks_from_wire(wire::Content::Blocks(w.content)),
        stop_reason: w.stop_reason.as_deref().map(parse_stop_reason),
        stop_sequence: w.stop_sequence,
        usage: Usage {
            input_tokens: w.usage.input_tokens,
            output_tokens: w.usage.output_tokens,
            cache_read_tokens: w.usage.cache_read_input_tokens,
            cache_write_tokens: w.usage.cache_creation_input_tokens,
            reasoning_tokens: None,
        },
        extra: Extras::new(Dialect::Anthropic, extra),
    })
}

/// Unknown future stop reasons read as `end_turn`.
pub(crate) fn parse_stop_reason(s: &str) -> StopReason {
    match s {
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "tool_use" => StopReason::ToolUse,
        "pause_turn" => StopReason::PauseTurn,
        "refusal" => StopReason::Refusal,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        _ => StopReason::EndTurn,
    }
}

/// The B9 value for a client, made consistent with the content: a turn ending in tool calls
/// says `tool_use` (or the agent loop stops, A5.6) and a `tool_use` without any call says
/// `end_turn`.
pub(crate) fn stop_reason_str(reason: Option<&StopReason>, saw_tool_use: bool) -> &'static str {
    match reason {
        None | Some(StopReason::EndTurn) | Some(StopReason::ToolUse) if saw_tool_use => "tool_use",
        None | Some(StopReason::EndTurn) | Some(StopReason::ToolUse) => "end_turn",
        Some(StopReason::MaxTokens) => "max_tokens",
        Some(StopReason::StopSequence) => "stop_sequence",
        Some(StopReason::PauseTurn) => "pause_turn",
        Some(StopReason::Refusal) => "refusal",
        Some(StopReason::ContextWindowExceeded) => "model_context_window_exceeded",
    }
}

pub(crate) fn wire_usage(u: &Usage, extra: Map<String, Value>) -> wire::Usage {
    wire::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_creation_input_tokens: u.cache_write_tokens,
        cache_read_input_tokens: u.cache_read_tokens,
        extra,
    }
}

/// The Message body for an Anthropic client.
pub fn encode_response(resp: &Response, ctx: &ResponseCtx) -> Vec<u8> {
    let content = blocks_to_client(&resp.content);
    let saw_tool_use = content
        .iter()
        .any(|b| matches!(b, wire::ContentBlock::ToolUse(_)));
    let stop_reason = stop_reason_str(resp.stop_reason.as_ref(), saw_tool_use);
    let mut extra = resp
        .extra
        .for_dialect(Dialect::Anthropic)
        .cloned()
        .unwrap_or_default();
    let usage_extra = match extra.remove(K_USAGE) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let w = wire::Response {
        id: message_id(&resp.id),
        kind: "message".into(),
        role: "assistant".into(),
        model: if ctx.model.is_empty() {
            resp.model.clone()
        } else {
            ctx.model.clone()
        },
        content,
        stop_reason: Some(stop_reason.into()),
        stop_sequence: (stop_reason == "stop_sequence")
            .then(|| resp.stop_sequence.clone())
            .flatten(),
        usage: wire_usage(&resp.usage, usage_extra),
        extra,
    };
    serde_json::to_vec(&w).unwrap_or_default()
}

pub(crate) fn carrier(value: &str) -> String {
    let mut s = String::with_capacity(GEMINI_CARRIER_PREFIX.len() + value.len());
    s.push_str(GEMINI_CARRIER_PREFIX);
    s.push_str(value);
    s
}

fn gemini_sig(sig: &Option<Signature>) -> Option<&str> {
    match sig {
        Some(Signature {
            origin: Dialect::Gemini,
            value,
        }) => Some(value),
        _ => None,
    }
}

/// IR blocks -> blocks for an Anthropic client (see the module doc).
pub(crate) fn blocks_to_client(blocks: &[Block]) -> Vec<wire::ContentBlock> {
    let mut out = Vec::with_capacity(blocks.len() + 1);
    // Unsigned empty texts are never sent (B14), nor are the blocks a reply cannot hold;
    // skipped here so that they do not stand between a thought and the signed call it
    // carries the signature of.
    let mut iter = blocks
        .iter()
        .filter(|b| {
            !matches!(b, Block::Text { text, signature: None, .. } if text.is_empty())
                && !matches!(b, Block::ToolResult { .. } | Block::Document(_))
                && !matches!(b, Block::Unknown { origin, .. } if *origin != Dialect::Anthropic)
        })
        .peekable();
    while let Some(b) = iter.next() {
        match b {
            Block::Thinking { text, signature } => match signature {
                Some(Signature {
                    origin: Dialect::Anthropic,
                    value,
                }) => out.push(thinking_block(text, value)),
                Some(Signature {
                    origin: Dialect::Gemini,
                    value,
                }) => out.push(thinking_block(text, &carrier(value))),
                Some(Signature {
                    origin: Dialect::Responses,
                    value,
                }) => out.push(thinking_block(text, &envelope::tag_native(value))),
                _ => {
                    // An unsigned thought right before a Gemini-signed call carries its
                    // signature (one block instead of an empty carrier).
                    if let Some(Block::ToolUse {
                        id,
                        name,
                        input,
                        signature: sig @ Some(_),
                    }) = iter.peek()
                        && let Some(s) = gemini_sig(sig)
                    {
                        out.push(thinking_block(text, &carrier(s)));
                        out.push(tool_use_block(&client_tool_id(id), name, input));
                        iter.next();
                    } else if !text.is_empty() {
                        out.push(thinking_block(text, ""));
                    }
                }
            },
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => {
                if let Some(s) = gemini_sig(signature) {
                    out.push(thinking_block("", &carrier(s)));
                }
                out.push(tool_use_block(&client_tool_id(id), name, input));
            }
            Block::Text {
                text, signature, ..
            } => {
                if !text.is_empty() {
                    out.push(text_block(text, None));
                }
                if let Some(s) = gemini_sig(signature) {
                    out.push(thinking_block("", &carrier(s)));
                }
            }
            Block::Image(img) => out.push(image_block(img)),
            Block::RedactedThinking { data } => out.push(wire::ContentBlock::RedactedThinking(
                wire::RedactedThinkingBlock {
                    data: data.clone(),
                    extra: Map::new(),
                },
            )),
            Block::Unknown {
                origin: Dialect::Anthropic,
                value,
            } => out.push(wire::ContentBlock::Unknown(value.clone())),
            // Tool results never appear in replies; foreign unknown blocks do not cross.
            Block::ToolResult { .. } | Block::Document(_) | Block::Unknown { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::anthropic::{decode_request, encode_request};
    use crate::protocol::codec::RequestHints;
    use serde_json::json;

    fn gsig(v: &str) -> Option<Signature> {
        Some(Signature {
            origin: Dialect::Gemini,
            value: v.into(),
        })
    }

    fn ctx() -> ResponseCtx {
        ResponseCtx {
            model: "claude-sonnet-4-5".into(),
            ..Default::default()
        }
    }

    /// Fuzz findings: a block between an unsigned thought and a Gemini-signed call (an empty
    /// text; a `tool_result`, which a reply cannot hold and is not sent) kept the thought from
    /// carrying the call's signature (an unsigned thought plus an empty carrier went out
    /// instead), and the reply read back as a different one. Minimised inputs.
    #[test]
    fn a_block_in_between_does_not_split_a_thought_from_its_call() {
        for between in [
            r#"{"text":"","type":"text"}"#,
            r#"{"tool_use_id":"call_abc123","type":"tool_result"}"#,
        ] {
            let body = format!(
                r#"{{"content":[{{"thinking":"Checking the tests.","type":"thinking"}},{between},{{"signature":"gw.gemini.Q2lRQjRfU0lHX1JFU1A=","thinking":"","type":"thinking"}},{{"id":"gcall_cf793f17ffd40998_Bash","name":"Bash","type":"tool_use"}}]}}"#
            );
            let first = encode_response(&decode_response(body.as_bytes()).unwrap(), &ctx());
            let v: Value = serde_json::from_slice(&first).unwrap();
            assert_eq!(
                v["content"],
                json!([
                    {"type": "thinking", "thinking": "Checking the tests.", "signature": "gw.gemini.Q2lRQjRfU0lHX1JFU1A="},
                    {"type": "tool_use", "id": "gcall_cf793f17ffd40998_Bash", "name": "Bash", "input": {}}
                ]),
                "{between}"
            );
            let second = encode_response(&decode_response(&first).unwrap(), &ctx());
            assert_eq!(second, first, "{between}");
        }
    }

    /// Fuzz findings: a carrier before a text signed that text, while the gateway writes a
    /// signed text as the text and then its carrier (and a carrier before a text only for a
    /// Gemini-signed thought), so a signature moved one text on each time a reply was read
    /// back. A carrier signs the call after it or the unsigned text before it, else it is a
    /// signed thought. Minimised inputs.
    #[test]
    fn carriers_read_back_as_they_were_written() {
        for body in [
            &br#"{"content":[{"signature":"gw.gemini.CiQBjz1rXSIGTWO","thinking":"","type":"thinking"},{"text":"Reading both.","type":"text"},{"text":"Reading both.","type":"text"}]}"#[..],
            br#"{"content":[{"signature":"gw.gemini.CiQBjz1rXSIGTWO","thinking":"","type":"thinking"},{"thinking":"","type":"thinking"},{"text":"Let me read src/error.rs.","type":"text"}]}"#,
        ] {
            let first = encode_response(&decode_response(body).unwrap(), &ctx());
            let v: Value = serde_json::from_slice(&first).unwrap();
            assert_eq!(
                v["content"][0],
                json!({"type": "thinking", "thinking": "", "signature": "gw.gemini.CiQBjz1rXSIGTWO"})
            );
            let second = encode_response(&decode_response(&first).unwrap(), &ctx());
            assert_eq!(second, first);
        }
        // A signed text: the text, then its carrier, read back as one signed text.
        let signed = decode_response(br#"{"content":[{"text":"a","type":"text"},{"signature":"gw.gemini.S","thinking":"","type":"thinking"},{"text":"b","type":"text"}]}"#).unwrap();
        assert!(matches!(
            &signed.content[..],
            [
                Block::Text {
                    signature: Some(_),
                    ..
                },
                Block::Text {
                    signature: None,
                    ..
                }
            ]
        ));
    }

    /// Fuzz crash: an upstream's nonsense cache count overflowed the prompt total
    /// (`Usage::prompt_total`) when the reply was encoded for an OpenAI or Gemini client.
    #[test]
    fn huge_cache_count_saturates_the_prompt_total() {
        let body =
            br#"{"usage":{"cache_read_input_tokens":18446744073709551614,"input_tokens":1000}}"#;
        let resp = decode_response(body).unwrap();
        assert_eq!(resp.usage.prompt_total(), u64::MAX);
        let openai: Value =
            serde_json::from_slice(&crate::protocol::openai::encode_response(&resp, &ctx()))
                .unwrap();
        assert_eq!(openai["usage"]["prompt_tokens"], json!(u64::MAX));
        let gemini: Value =
            serde_json::from_slice(&crate::protocol::gemini::encode_response(&resp, &ctx()))
                .unwrap();
        assert_eq!(gemini["usageMetadata"]["promptTokenCount"], json!(u64::MAX));
    }

    #[test]
    fn shape_defaults_and_tool_use_override() {
        let resp = Response {
            id: "chatcmpl-1".into(),
            model: "gemini-3-pro".into(),
            content: vec![
                Block::Text {
                    text: crate::protocol::ir::Text::new(),
                    signature: None,
                    cache_control: None,
                },
                Block::ToolUse {
                    id: "functions.Bash:0".into(),
                    name: "Bash".into(),
                    input: json!("{\"command\":\"ls\"}").into(),
                    signature: None,
                },
            ],
            stop_reason: Some(StopReason::EndTurn),
            ..Default::default()
        };
        let v: Value = serde_json::from_slice(&encode_response(&resp, &ctx())).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_chatcmpl-1", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "tool_use", "id": "functions_Bash_0", "name": "Bash", "input": {"command": "ls"}}],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
            })
        );
    }

    /// IR (as a Gemini upstream produces it) -> Anthropic client reply -> the client's next
    /// request -> IR: signatures land back on the same blocks.
    #[test]
    fn gemini_signatures_survive_a_client_round_trip() {
        let content = vec![
            Block::Thinking {
                text: "plan".into(),
                signature: None,
            },
            Block::ToolUse {
                id: "c1".into(),
                name: "Read".into(),
                input: json!({"path": "a"}).into(),
                signature: gsig("SIG1"),
            },
            Block::ToolUse {
                id: "c2".into(),
                name: "Read".into(),
                input: json!({"path": "b"}).into(),
                signature: None,
            },
            Block::ToolUse {
                id: "c3".into(),
                name: "Read".into(),
                input: json!({"path": "c"}).into(),
                signature: gsig("SIG3"),
            },
            Block::Text {
                text: "done".into(),
                signature: gsig("SIG4"),
                cache_control: None,
            },
        ];
        let resp = Response {
            id: "msg_1".into(),
            content: content.clone(),
            stop_reason: Some(StopReason::ToolUse),
            ..Default::default()
        };
        let v: Value = serde_json::from_slice(&encode_response(&resp, &ctx())).unwrap();
        assert_eq!(
            v["content"],
            json!([
                {"type": "thinking", "thinking": "plan", "signature": "gw.gemini.SIG1"},
                {"type": "tool_use", "id": "c1", "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "c2", "name": "Read", "input": {"path": "b"}},
                {"type": "thinking", "thinking": "", "signature": "gw.gemini.SIG3"},
                {"type": "tool_use", "id": "c3", "name": "Read", "input": {"path": "c"}},
                {"type": "text", "text": "done"},
                {"type": "thinking", "thinking": "", "signature": "gw.gemini.SIG4"}
            ])
        );
        let next = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": v["content"]}
        ]});
        let req = decode_request(next.to_string().as_bytes(), &RequestHints::default()).unwrap();
        assert_eq!(req.messages[1].content, content);

        // Never towards Anthropic: no carriers, no unsigned thoughts, no Gemini signatures.
        let up = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
        assert_eq!(
            up["messages"][1]["content"],
            json!([
                {"type": "tool_use", "id": "c1", "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "c2", "name": "Read", "input": {"path": "b"}},
                {"type": "tool_use", "id": "c3", "name": "Read", "input": {"path": "c"}},
                {"type": "text", "text": "done"}
            ])
        );
    }

    /// OpenAI's reasoning (a Responses upstream's) -> Anthropic client reply -> the client's
    /// next request: the same signature, sent back only to a Responses upstream.
    #[test]
    fn openai_reasoning_survives_a_client_round_trip_and_never_reaches_anthropic() {
        let native = crate::protocol::responses::envelope::pack_native("rs_1", "gAAAA:blob==");
        let content = vec![
            Block::Thinking {
                text: "plan".into(),
                signature: Some(Signature {
                    origin: Dialect::Responses,
                    value: native.clone(),
                }),
            },
            Block::ToolUse {
                id: "call_1".into(),
                name: "Read".into(),
                input: json!({"path": "a"}).into(),
                signature: None,
            },
        ];
        let resp = Response {
            id: "resp_1".into(),
            content: content.clone(),
            stop_reason: Some(StopReason::ToolUse),
            ..Default::default()
        };
        let v: Value = serde_json::from_slice(&encode_response(&resp, &ctx())).unwrap();
        assert_eq!(
            v["content"][0],
            json!({"type": "thinking", "thinking": "plan",
                "signature": format!("gw.openai.{native}")})
        );
        let next = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": v["content"]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "x"}]}
        ]});
        let req = decode_request(next.to_string().as_bytes(), &RequestHints::default()).unwrap();
        assert_eq!(req.messages[1].content, content);
        let up = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
        assert_eq!(up["messages"][1]["content"][0]["type"], "tool_use", "{up}");
        assert!(!up.to_string().contains("gAAAA"), "{up}");
        let openai =
            serde_json::to_value(crate::protocol::responses::encode_request(&req).unwrap())
                .unwrap();
        assert_eq!(
            openai["input"][1],
            json!({"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAAA:blob==",
                "summary": [{"type": "summary_text", "text": "plan"}]})
        );
    }

    /// A `gw.` tag the gateway does not know is no signature any upstream could verify.
    #[test]
    fn an_unknown_gateway_tag_reads_as_unsigned() {
        let blocks = blocks_from_wire(wire::Content::Blocks(vec![thinking_block(
            "t",
            "gw.deepseek.abc",
        )]));
        assert_eq!(
            blocks,
            vec![Block::Thinking {
                text: "t".into(),
                signature: None
            }]
        );
    }

    #[test]
    fn gemini_signed_thought_keeps_its_signature_when_last() {
        let content = vec![Block::Thinking {
            text: "t".into(),
            signature: gsig("S"),
        }];
        let wire = blocks_to_client(&content);
        let back = blocks_from_wire(wire::Content::Blocks(wire));
        assert_eq!(back, content);
    }

    #[test]
    fn decode_reads_usage_and_keeps_extras() {
        let body = json!({
            "id": "msg_9", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "thinking", "thinking": "a", "signature": "real"},
                        {"type": "text", "text": "b"}],
            "stop_reason": "stop_sequence", "stop_sequence": "END",
            "usage": {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": null,
                      "cache_read_input_tokens": 3, "service_tier": "standard"},
            "container": null
        });
        let r = decode_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::StopSequence));
        assert_eq!(r.usage.cache_read_tokens, 3);
        assert_eq!(
            r.content[0],
            Block::Thinking {
                text: "a".into(),
                signature: Some(Signature {
                    origin: Dialect::Anthropic,
                    value: "real".into()
                })
            }
        );
        let mut out: Value = serde_json::from_slice(&encode_response(
            &r,
            &ResponseCtx {
                model: "claude-x".into(),
                ..Default::default()
            },
        ))
        .unwrap();
        out["usage"]["cache_creation_input_tokens"] = Value::Null;
        assert_eq!(out, body);
    }
}
