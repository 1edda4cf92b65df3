use serde_json::{Value, json};

use super::*;
use crate::protocol::ir::{Dialect, StopReason};

fn run(events: &[(&str, Value)]) -> Vec<StreamEvent> {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for (t, p) in events {
        d.feed(t, p.to_string().as_bytes(), &mut out).unwrap();
    }
    d.finish(&mut out).unwrap();
    out
}

fn start() -> StreamEvent {
    StreamEvent::MessageStart {
        id: String::new(),
        model: String::new(),
        usage: Usage::default(),
    }
}

#[test]
fn text_without_block_start_and_usage_after_message_stop() {
    let out = run(&[
        ("messageStart", json!({"role": "assistant", "p": "abcdef"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        ("messageStop", json!({"stopReason": "end_turn"})),
        ("someFutureEvent", json!({})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5,
            "cacheReadInputTokens": 7}, "metrics": {"latencyMs": 1}}),
        ),
    ]);
    assert_eq!(
        out,
        vec![
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Text("Hel".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Text("lo".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::EndTurn),
                stop_sequence: None,
                usage: Usage {
                    input_tokens: 3,
                    output_tokens: 2,
                    cache_read_tokens: 7,
                    ..Usage::default()
                },
            },
            StreamEvent::MessageStop,
        ]
    );
}

#[test]
fn reasoning_with_signature_then_tool_with_fragments_and_one_without_input() {
    let out = run(&[
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "think"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "SIG"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "read"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"pa"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "th\":1}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_b", "name": "now"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 2})),
        ("messageStop", json!({"stopReason": "tool_use"})),
    ]);
    let sig = |v: &str| {
        Delta::Signature(crate::protocol::ir::Signature {
            origin: Dialect::Anthropic,
            value: v.into(),
        })
    };
    assert_eq!(
        out,
        vec![
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Thinking("think".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: sig("SIG")
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::ToolUse {
                    id: "tooluse_a".into(),
                    name: "read".into(),
                    signature: None
                },
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::ToolInputJson("{\"pa".into())
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::ToolInputJson("th\":1}".into())
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolUse {
                    id: "tooluse_b".into(),
                    name: "now".into(),
                    signature: None
                },
            },
            StreamEvent::BlockStop { index: 2 },
            // No metadata before the end of the body: the held stop reason, zero usage.
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::ToolUse),
                stop_sequence: None,
                usage: Usage::default(),
            },
            StreamEvent::MessageStop,
        ]
    );
}

#[test]
fn redacted_and_signature_only_reasoning_are_kept() {
    let out = run(&[
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "QUJD"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"reasoningContent": {"signature": "S2"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"text": "hi"}}),
        ),
        (
            "messageStop",
            json!({"stopReason": "stop_sequence", "additionalModelResponseFields": {"delta": {"stop_sequence": "STOP"}}}),
        ),
        (
            "metadata",
            json!({"usage": {"inputTokens": 1, "outputTokens": 1}}),
        ),
    ]);
    assert!(
        matches!(&out[1], StreamEvent::BlockStart { index: 0, block: BlockStart::RedactedThinking { data } } if data == "QUJD")
    );
    assert_eq!(out[2], StreamEvent::BlockStop { index: 0 });
    assert_eq!(
        out[3],
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Thinking
        }
    );
    assert!(
        matches!(&out[4], StreamEvent::BlockDelta { index: 1, delta: Delta::Signature(s) } if s.value == "S2")
    );
    // Index 2 opens a text block and closes the signature-only thinking block before it.
    assert_eq!(out[5], StreamEvent::BlockStop { index: 1 });
    assert_eq!(
        out[6],
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::Text
        }
    );
    assert!(
        matches!(&out[9], StreamEvent::MessageDelta { stop_reason: Some(StopReason::StopSequence), stop_sequence: Some(s), .. } if s == "STOP")
    );
}

#[test]
fn tool_names_and_ids_are_restored() {
    let long = "call_".to_owned() + &"x".repeat(80);
    let req = crate::protocol::ir::Request {
        messages: vec![crate::protocol::ir::Message {
            role: crate::protocol::ir::Role::Assistant,
            content: vec![crate::protocol::ir::Block::ToolUse {
                id: long.clone(),
                name: "mcp.files/read".into(),
                input: json!({}).into(),
                signature: None,
            }],
        }],
        ..Default::default()
    };
    let map = ToolMap::for_request(&req);
    let mut d = StreamDecoder::new().with_tool_map(map);
    let mut out = Vec::new();
    let payload = json!({"contentBlockIndex": 0, "start": {"toolUse": {
        "toolUseId": super::super::wire_id(&long), "name": super::super::wire_id("mcp.files/read")}}});
    d.feed(
        "contentBlockStart",
        payload.to_string().as_bytes(),
        &mut out,
    )
    .unwrap();
    assert!(
        matches!(&out[1], StreamEvent::BlockStart { block: BlockStart::ToolUse { id, name, .. }, .. }
        if *id == long && name == "mcp.files/read")
    );
}

#[test]
fn exception_after_200_and_cut_or_empty_streams_are_errors() {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    d.feed(
        "contentBlockDelta",
        br#"{"contentBlockIndex":0,"delta":{"text":"a"}}"#,
        &mut out,
    )
    .unwrap();
    d.exception(
        "throttlingException",
        br#"{"message":"Too many tokens"}"#,
        &mut out,
    );
    d.finish(&mut out).unwrap();
    let errors: Vec<_> = out
        .iter()
        .filter(|e| matches!(e, StreamEvent::Error(_)))
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(errors[0], StreamEvent::Error(e) if e.status == 429 && e.message == "Too many tokens")
    );
    assert!(!out.iter().any(|e| matches!(e, StreamEvent::MessageStop)));

    let out = run(&[(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "a"}}),
    )]);
    assert!(matches!(out.last(), Some(StreamEvent::Error(e)) if e.status == 502));
    let out = run(&[]);
    assert!(matches!(&out[..], [StreamEvent::Error(e)] if e.message.contains("no events")));
    let out = run(&[
        ("messageStart", json!({"role": "assistant"})),
        ("messageStop", json!({"stopReason": "malformed_tool_use"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 1, "outputTokens": 0}}),
        ),
    ]);
    assert!(matches!(out.last(), Some(StreamEvent::Error(e)) if e.status == 502));
}

#[test]
fn malformed_payload_names_the_event() {
    let mut d = StreamDecoder::new();
    let err = d
        .feed("contentBlockDelta", b"{not json", &mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("contentBlockDelta"), "{err}");
}
