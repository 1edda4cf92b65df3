use std::sync::Arc;

use super::*;
use crate::protocol::codec::{RequestHints, ResponseCtx};
use crate::protocol::ir::{ApiError, Block, Dialect, ErrorKind, StopReason, Usage};
use crate::protocol::responses::envelope::{self, Carried};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};
use serde_json::{Value, json};

fn ctx_for(request: Value) -> ResponseCtx {
    let req =
        super::super::decode_request(request.to_string().as_bytes(), &RequestHints::default())
            .unwrap();
    ResponseCtx {
        model: "gpt-5.5-claude".into(),
        responses: Some(Arc::new(super::super::reply_context(&req))),
        ..ResponseCtx::default()
    }
}

fn codex_ctx() -> ResponseCtx {
    ctx_for(
        json!({"model": "gpt-5.5-claude", "include": ["reasoning.encrypted_content"],
        "metadata": {"k": "v"},
        "tools": [{"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "go"}]}],
        "input": "hi"}),
    )
}

fn encode(ctx: &ResponseCtx, events: &[StreamEvent]) -> (Vec<u8>, Vec<(Option<String>, Value)>) {
    let mut enc = StreamEncoder::new(ctx);
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    let mut p = SseParser::new();
    let mut evs = Vec::new();
    p.push(&out, &mut evs).unwrap();
    p.finish(&mut evs).unwrap();
    let parsed = evs
        .into_iter()
        .map(|e| (e.event, serde_json::from_str(&e.data).unwrap()))
        .collect();
    (out, parsed)
}

/// The grammar of reference §4, as the openai SDK and Codex enforce it.
fn check_grammar(events: &[(Option<String>, Value)]) {
    assert_eq!(events[0].1["type"], "response.created", "{events:?}");
    assert_eq!(events[1].1["type"], "response.in_progress");
    let mut open: Option<u64> = None;
    let mut next_index = 0;
    let mut terminals = 0;
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(
            data["sequence_number"],
            json!(i),
            "dense sequence from 0: {data}"
        );
        let kind = data["type"].as_str().expect("type inside data");
        assert_eq!(name.as_deref(), Some(kind));
        assert_eq!(terminals, 0, "nothing after the terminal event: {kind}");
        match kind {
            "response.output_item.added" => {
                assert!(open.is_none(), "an item opened before the last closed");
                assert_eq!(data["output_index"], json!(next_index));
                open = data["output_index"].as_u64();
            }
            "response.output_item.done" => {
                assert_eq!(data["output_index"].as_u64(), open, "closes the open item");
                let item = &data["item"];
                if item["type"] == "reasoning" {
                    assert!(item["summary"].is_array(), "summary always present");
                }
                open = None;
                next_index += 1;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                assert!(open.is_none());
                terminals += 1;
                let r = &data["response"];
                assert!(r["id"].as_str().unwrap().starts_with("resp_"));
                assert_eq!(r["output"].as_array().unwrap().len(), next_index);
            }
            "response.created" | "response.in_progress" => {}
            _ => assert_eq!(
                data["output_index"].as_u64(),
                open,
                "{kind} outside its item"
            ),
        }
    }
    assert_eq!(terminals, 1);
}

fn thinking_text_and_custom_call() -> Vec<StreamEvent> {
    use crate::protocol::ir::Signature;
    vec![
        StreamEvent::MessageStart {
            id: "msg_01abc".into(),
            model: "claude".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("Plan ".into()),
        },
        StreamEvent::Ping,
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("it.".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(Signature {
                origin: Dialect::Anthropic,
                value: "SIG".into(),
            }),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::Text("Patching.".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "toolu_9".into(),
                name: "apply_patch".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson("{\"input\":\"*** Begin".into()),
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson(" Patch\\n\"}".into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::BlockStart {
            index: 3,
            block: BlockStart::ToolUse {
                id: "toolu_10".into(),
                name: "ns__go".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 3,
            delta: Delta::ToolInputJson("{}".into()),
        },
        StreamEvent::BlockStop { index: 3 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 20,
                cache_read_tokens: 90,
                cache_write_tokens: 0,
                reasoning_tokens: Some(5),
            },
        },
        StreamEvent::MessageStop,
    ]
}

#[test]
fn encoder_follows_the_grammar_and_answers_custom_tools_with_raw_text() {
    let (bytes, events) = encode(&codex_ctx(), &thinking_text_and_custom_call());
    check_grammar(&events);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(": keep-alive\n\n"));
    assert!(!text.contains("[DONE]"));
    let last = &events.last().unwrap().1;
    assert_eq!(last["type"], "response.completed");
    let r = &last["response"];
    assert_eq!(r["metadata"], json!({"k": "v"}));
    assert_eq!(r["usage"]["input_tokens"], 100);
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 90);
    assert_eq!(r["usage"]["output_tokens_details"]["reasoning_tokens"], 5);
    assert_eq!(r["usage"]["total_tokens"], 120);
    let out = r["output"].as_array().unwrap();
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(out[0]["summary"][0]["text"], "Plan it.");
    let enc = out[0]["encrypted_content"].as_str().unwrap();
    assert_eq!(
        envelope::open(enc),
        Some(Some(Carried::AnthropicThinking("SIG".into())))
    );
    assert_eq!(out[1]["content"][0]["text"], "Patching.");
    assert_eq!(out[2]["type"], "custom_tool_call");
    assert_eq!(out[2]["input"], "*** Begin Patch\n");
    assert_eq!(out[2]["call_id"], "toolu_9");
    assert!(out[2]["id"].as_str().unwrap().starts_with("ctc_"));
    assert_eq!(out[3]["type"], "function_call");
    assert_eq!(
        (out[3]["name"].as_str(), out[3]["namespace"].as_str()),
        (Some("go"), Some("ns"))
    );
    assert!(out[3]["id"].as_str().unwrap().starts_with("fc_"));
    // The item done events carry the same whole items.
    let dones: Vec<&Value> = events
        .iter()
        .filter(|(_, d)| d["type"] == "response.output_item.done")
        .map(|(_, d)| &d["item"])
        .collect();
    assert_eq!(dones, out.iter().collect::<Vec<_>>());
    // The custom call's text went out as input deltas, not argument deltas.
    assert!(
        events
            .iter()
            .any(|(_, d)| d["type"] == "response.custom_tool_call_input.done"
                && d["input"] == "*** Begin Patch\n")
    );
    // The reasoning `.added` has no encrypted content yet.
    let added = events
        .iter()
        .find(|(_, d)| d["type"] == "response.output_item.added")
        .unwrap();
    assert_eq!(added.1["item"].get("encrypted_content"), None);
}

#[test]
fn without_include_no_envelopes_and_function_calls_by_default() {
    let ctx = ctx_for(json!({"model": "m", "input": "hi"}));
    let (_, events) = encode(&ctx, &thinking_text_and_custom_call());
    check_grammar(&events);
    let out = &events.last().unwrap().1["response"]["output"];
    assert_eq!(out[0].get("encrypted_content"), None);
    // No reply context: every call is a function call.
    let (_, events) = encode(&ResponseCtx::default(), &thinking_text_and_custom_call());
    check_grammar(&events);
    let out = &events.last().unwrap().1["response"]["output"];
    assert_eq!(out[2]["type"], "function_call");
    assert!(out[0]["encrypted_content"].is_string());
}

#[test]
fn max_tokens_is_incomplete_and_errors_fail_with_codes() {
    let events = [
        StreamEvent::MessageStart {
            id: "m".into(),
            model: "x".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("cut".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::MaxTokens),
            stop_sequence: None,
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ];
    let (_, evs) = encode(&codex_ctx(), &events);
    check_grammar(&evs);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );

    let mut err = ApiError::new(429, ErrorKind::RateLimit, "Too many requests.");
    err.retry_after_secs = Some(3);
    let events = [
        StreamEvent::MessageStart {
            id: "m".into(),
            model: "x".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("par".into()),
        },
        StreamEvent::Error(err),
        StreamEvent::MessageStop,
    ];
    let (_, evs) = encode(&codex_ctx(), &events);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["status"], "failed");
    assert_eq!(last["response"]["error"]["code"], "rate_limit_exceeded");
    assert!(
        last["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again in 3s")
    );
    // An error before anything else still starts with `response.created`.
    let (_, evs) = encode(
        &codex_ctx(),
        &[StreamEvent::Error(ApiError::invalid_request(
            "prompt is too long: 9 tokens > 8 maximum",
        ))],
    );
    check_grammar(&evs);
    assert_eq!(
        evs[2].1["response"]["error"]["code"],
        "context_length_exceeded"
    );
}

#[test]
fn gemini_signatures_become_carrier_items_around_calls_and_text() {
    use crate::protocol::ir::Signature;
    let g = |v: &str| Signature {
        origin: Dialect::Gemini,
        value: v.into(),
    };
    let events = [
        StreamEvent::MessageStart {
            id: "r1".into(),
            model: "gemini".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("Reading.".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(g("TS")),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::ToolUse {
                id: "gcall_1".into(),
                name: "ls".into(),
                signature: Some(g("CS")),
            },
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::ToolInputJson("{}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ];
    let (_, evs) = encode(&codex_ctx(), &events);
    check_grammar(&evs);
    let out = evs.last().unwrap().1["response"]["output"].clone();
    let kinds: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["message", "reasoning", "reasoning", "function_call"]
    );
    // Replayed by Codex, the items sign the same parts again.
    let mut input: Vec<Value> = vec![json!({"role": "user", "content": "hi"})];
    input.extend(out.as_array().unwrap().iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": "gcall_1", "output": "x"}));
    let req = super::super::decode_request(
        json!({"model": "g", "input": input}).to_string().as_bytes(),
        &RequestHints::default(),
    )
    .unwrap();
    let turn = &req.messages[1].content;
    assert!(matches!(&turn[0], Block::Text { signature: Some(s), .. } if s.value == "TS"));
    assert!(matches!(&turn[1], Block::ToolUse { signature: Some(s), .. } if s.value == "CS"));
}

// ---- decoder ----

fn sse(events: &[Value]) -> Vec<SseEvent> {
    events
        .iter()
        .map(|d| SseEvent {
            event: d["type"].as_str().map(str::to_owned),
            data: d.to_string(),
        })
        .collect()
}

fn decode(events: &[Value]) -> Vec<StreamEvent> {
    let mut dec = StreamDecoder::new();
    let mut out = Vec::new();
    for e in sse(events) {
        dec.feed(&e, &mut out).unwrap();
    }
    dec.finish(&mut out).unwrap();
    out
}

/// The shape OpenAI streams for a reasoning model's tool call (reference §4.3).
fn upstream_stream() -> Vec<Value> {
    let resp = json!({"id": "resp_up1", "object": "response", "status": "in_progress",
        "model": "gpt-5.5", "output": []});
    let rs = json!({"type": "reasoning", "id": "rs_up", "summary": []});
    let msg = json!({"type": "message", "id": "msg_up", "role": "assistant", "status": "in_progress", "content": []});
    let fc = json!({"type": "function_call", "id": "fc_up", "call_id": "call_up", "name": "exec_command", "arguments": ""});
    vec![
        json!({"type": "response.created", "sequence_number": 0, "response": resp}),
        json!({"type": "response.in_progress", "sequence_number": 1, "response": resp}),
        json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": rs}),
        json!({"type": "response.reasoning_summary_part.added", "sequence_number": 3, "output_index": 0, "item_id": "rs_up", "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
        json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 4, "output_index": 0, "item_id": "rs_up", "summary_index": 0, "delta": "Think."}),
        json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 5, "output_index": 0, "item_id": "rs_up", "summary_index": 1, "delta": "More."}),
        json!({"type": "response.output_item.done", "sequence_number": 6, "output_index": 0, "item": {"type": "reasoning", "id": "rs_up", "summary": [{"type": "summary_text", "text": "Think."}], "encrypted_content": "gAAAAABenc"}}),
        json!({"type": "response.output_item.added", "sequence_number": 7, "output_index": 1, "item": msg}),
        json!({"type": "response.content_part.added", "sequence_number": 8, "output_index": 1, "item_id": "msg_up", "content_index": 0, "part": {"type": "output_text", "text": ""}}),
        json!({"type": "response.output_text.delta", "sequence_number": 9, "output_index": 1, "item_id": "msg_up", "content_index": 0, "delta": "Running ls.", "logprobs": []}),
        json!({"type": "response.output_item.done", "sequence_number": 10, "output_index": 1, "item": msg}),
        json!({"type": "response.output_item.added", "sequence_number": 11, "output_index": 2, "item": fc}),
        json!({"type": "response.function_call_arguments.delta", "sequence_number": 12, "output_index": 2, "item_id": "fc_up", "delta": "{\"cmd\":"}),
        json!({"type": "response.function_call_arguments.delta", "sequence_number": 13, "output_index": 2, "item_id": "fc_up", "delta": "\"ls\"}"}),
        json!({"type": "response.output_item.done", "sequence_number": 14, "output_index": 2, "item": fc}),
        json!({"type": "response.web_search_call.in_progress", "sequence_number": 15, "output_index": 3}),
        json!({"type": "response.completed", "sequence_number": 16, "response": {"id": "resp_up1", "status": "completed", "model": "gpt-5.5", "output": [],
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 30,
                "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 130}}}),
    ]
}

#[test]
fn decoder_reads_an_upstream_stream() {
    use crate::protocol::ir::Signature;
    let out = decode(&upstream_stream());
    assert!(matches!(&out[0], StreamEvent::MessageStart { id, .. } if id == "resp_up1"));
    let expected_tail = vec![
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("Think.".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("\n\nMore.".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(Signature {
                origin: Dialect::Responses,
                value: "rs_up:gAAAAABenc".into(),
            }),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::Text("Running ls.".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "call_up".into(),
                name: "exec_command".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson("{\"cmd\":".into()),
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson("\"ls\"}".into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 40,
                output_tokens: 30,
                cache_read_tokens: 60,
                cache_write_tokens: 0,
                reasoning_tokens: Some(12),
            },
        },
        StreamEvent::MessageStop,
    ];
    assert_eq!(&out[1..], &expected_tail[..]);
}

#[test]
fn decoder_through_encoder_round_trips_the_items() {
    let ir = decode(&upstream_stream());
    let (_, evs) = encode(
        &ctx_for(json!({"model": "m", "input": "x",
        "include": ["reasoning.encrypted_content"]})),
        &ir,
    );
    check_grammar(&evs);
    let out = &evs.last().unwrap().1["response"]["output"];
    assert_eq!(
        out[0]["encrypted_content"], "gAAAAABenc",
        "OpenAI's blob untouched"
    );
    assert_eq!(out[2]["call_id"], "call_up");
    assert_eq!(out[2]["arguments"], "{\"cmd\":\"ls\"}");
}

#[test]
fn decoder_terminals_and_cuts() {
    let created = json!({"type": "response.created", "response": {"id": "r", "model": "m"}});
    let out = decode(&[
        created.clone(),
        json!({"type": "response.incomplete",
        "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
    ]);
    assert!(out.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::MaxTokens),
            ..
        }
    )));
    let out = decode(&[
        created.clone(),
        json!({"type": "response.failed", "response": {"status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "Rate limit. Please try again in 2s."}}}),
    ]);
    assert!(
        matches!(out.last(), Some(StreamEvent::Error(e)) if e.status == 429 && e.retry_after_secs == Some(2))
    );
    let out = decode(&[
        created.clone(),
        json!({"type": "error", "code": "context_length_exceeded",
        "message": "Your input exceeds the context window of this model."}),
    ]);
    assert!(
        matches!(out.last(), Some(StreamEvent::Error(e)) if e.code.as_deref() == Some("context_length_exceeded"))
    );
    let out = decode(&[created]);
    assert!(matches!(out.last(), Some(StreamEvent::Error(e)) if e.status == 502));
    // A custom tool call and a done-only message.
    let out = decode(&[
        json!({"type": "response.output_item.added", "item": {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": ""}}),
        json!({"type": "response.custom_tool_call_input.delta", "delta": "*** Begin"}),
        json!({"type": "response.output_item.done", "item": {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin"}}),
        json!({"type": "response.output_item.done", "item": {"type": "message", "content": [{"type": "output_text", "text": "done"}]}}),
        json!({"type": "response.completed", "response": {"status": "completed"}}),
    ]);
    assert!(out.contains(&StreamEvent::BlockDelta {
        index: 0,
        delta: Delta::ToolInputJson(json!({"input": "*** Begin"}).to_string())
    }));
    assert!(out.contains(&StreamEvent::BlockDelta {
        index: 1,
        delta: Delta::Text("done".into())
    }));
}

/// Fuzz finding: a call item without `call_id` or `name` started a `tool_use` block with empty
/// ones (the IR wants both), and the made-up id differed between round trips.
#[test]
fn calls_without_ids_or_names_get_stable_ones() {
    let events = [
        json!({"type": "response.output_item.added", "item": {"type": "function_call"}}),
        json!({"type": "response.completed"}),
    ];
    let out = decode(&events);
    assert!(
        matches!(&out[1], StreamEvent::BlockStart { block: BlockStart::ToolUse { id, name, .. }, .. }
        if !id.is_empty() && !name.is_empty())
    );
    assert_eq!(out, decode(&events));
}
