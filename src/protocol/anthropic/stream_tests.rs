use super::*;
use crate::protocol::anthropic::encode_response;
use crate::protocol::ir::{Block, Response};
use crate::protocol::sse::SseParser;
use serde_json::{Value, json};

fn ctx() -> ResponseCtx {
    ResponseCtx {
        model: "claude-sonnet-4-5".into(),
        estimated_input_tokens: 42,
        ..Default::default()
    }
}

fn gsig(v: &str) -> Signature {
    Signature {
        origin: Dialect::Gemini,
        value: v.into(),
    }
}

fn asig(v: &str) -> Signature {
    Signature {
        origin: Dialect::Anthropic,
        value: v.into(),
    }
}

fn encode_all(events: &[StreamEvent]) -> Vec<(String, Value)> {
    let mut enc = StreamEncoder::new(&ctx());
    let mut bytes = Vec::new();
    for e in events {
        enc.encode(e, &mut bytes);
    }
    parse_sse(&bytes)
}

fn parse_sse(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut p = SseParser::new();
    let mut evs = Vec::new();
    p.push(bytes, &mut evs).unwrap();
    p.finish(&mut evs).unwrap();
    evs.into_iter()
        .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
        .collect()
}

/// An SSE grammar linter (docs/translation-rules.md B1-B11); returns the accumulated message.
fn lint(frames: &[(String, Value)]) -> Value {
    let mut message: Option<Value> = None;
    let mut open: Option<(usize, String)> = None;
    let mut deltas_in_block = 0;
    let mut next_index = 0;
    let mut saw_delta = false;
    let mut ended = false;
    let mut tool_json: Vec<String> = Vec::new();
    for (name, data) in frames {
        assert!(!ended, "event after message_stop/error: {name}");
        assert_eq!(data["type"], name.as_str(), "event name = data.type");
        match name.as_str() {
            "message_start" => {
                assert!(message.is_none(), "second message_start");
                let m = data["message"].clone();
                for k in [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ] {
                    assert!(m["usage"][k].is_u64(), "message_start usage.{k}");
                }
                assert!(m["id"].as_str().unwrap().starts_with("msg_"));
                message = Some(m);
            }
            "ping" => assert!(message.is_some(), "ping before message_start"),
            "error" => ended = true,
            _ => assert!(message.is_some(), "{name} before message_start"),
        }
        let m = message.as_mut().unwrap();
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "block started while another is open");
                assert!(!saw_delta);
                let i = data["index"].as_u64().unwrap() as usize;
                assert_eq!(i, next_index, "contiguous indices");
                next_index += 1;
                let block = data["content_block"].clone();
                let t = block["type"].as_str().unwrap().to_owned();
                if t == "tool_use" {
                    assert!(!block["id"].as_str().unwrap().is_empty());
                    assert!(!block["name"].as_str().unwrap().is_empty());
                    assert_eq!(block["input"], json!({}));
                }
                m["content"].as_array_mut().unwrap().push(block);
                tool_json.push(String::new());
                open = Some((i, t));
                deltas_in_block = 0;
            }
            "content_block_delta" => {
                let (i, t) = open.clone().expect("delta without open block");
                assert_eq!(data["index"].as_u64().unwrap() as usize, i);
                let d = &data["delta"];
                let block = &mut m["content"][i];
                match (t.as_str(), d["type"].as_str().unwrap()) {
                    ("text", "text_delta") => {
                        let s = block["text"].as_str().unwrap().to_owned();
                        block["text"] = json!(s + d["text"].as_str().unwrap());
                    }
                    ("thinking", "thinking_delta") => {
                        let s = block["thinking"].as_str().unwrap().to_owned();
                        block["thinking"] = json!(s + d["thinking"].as_str().unwrap());
                    }
                    ("thinking", "signature_delta") => {
                        assert_eq!(block["signature"], "", "one signature_delta per block");
                        block["signature"] = d["signature"].clone();
                    }
                    ("tool_use", "input_json_delta") => {
                        tool_json[i].push_str(d["partial_json"].as_str().unwrap());
                    }
                    other => panic!("delta type mismatch: {other:?}"),
                }
                deltas_in_block += 1;
            }
            "content_block_stop" => {
                let (i, t) = open.take().expect("stop without open block");
                assert_eq!(data["index"].as_u64().unwrap() as usize, i);
                if t != "redacted_thinking" {
                    assert!(deltas_in_block > 0, "block without delta");
                }
                if t == "tool_use" {
                    let input: Value = serde_json::from_str(&tool_json[i]).unwrap();
                    assert!(input.is_object());
                    m["content"][i]["input"] = input;
                }
                if t == "text" {
                    assert_ne!(m["content"][i]["text"], "", "empty text block");
                }
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta with an open block");
                assert!(!saw_delta, "second message_delta");
                saw_delta = true;
                for k in [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ] {
                    assert!(data["usage"][k].is_u64(), "message_delta usage.{k}");
                }
                m["stop_reason"] = data["delta"]["stop_reason"].clone();
                m["stop_sequence"] = data["delta"]["stop_sequence"].clone();
                m["usage"] = data["usage"].clone();
            }
            "message_stop" => {
                assert!(saw_delta, "message_stop without message_delta");
                ended = true;
            }
            _ => {}
        }
    }
    message.unwrap_or(Value::Null)
}

/// IR events for a whole reply, the way a well-behaved decoder produces them.
fn events_for(blocks: &[Block], stop: StopReason, usage: Usage) -> Vec<StreamEvent> {
    let mut ev = vec![StreamEvent::MessageStart {
        id: "msg_test".into(),
        model: "upstream-model".into(),
        usage: Usage::default(),
    }];
    for (index, b) in blocks.iter().enumerate() {
        let (start, deltas) = match b {
            Block::Text {
                text, signature, ..
            } => {
                let mut d = vec![Delta::Text(text.to_string())];
                d.extend(signature.clone().map(Delta::Signature));
                (BlockStart::Text, d)
            }
            Block::Thinking { text, signature } => {
                let mut d = vec![Delta::Thinking(text.clone())];
                d.extend(signature.clone().map(Delta::Signature));
                (BlockStart::Thinking, d)
            }
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => (
                BlockStart::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                    signature: signature.clone(),
                },
                vec![Delta::ToolInputJson(input.to_string())],
            ),
            Block::RedactedThinking { data } => {
                (BlockStart::RedactedThinking { data: data.clone() }, vec![])
            }
            _ => continue,
        };
        ev.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        ev.extend(
            deltas
                .into_iter()
                .map(|delta| StreamEvent::BlockDelta { index, delta }),
        );
        ev.push(StreamEvent::BlockStop { index });
    }
    ev.push(StreamEvent::MessageDelta {
        stop_reason: Some(stop),
        stop_sequence: None,
        usage,
    });
    ev.push(StreamEvent::MessageStop);
    ev
}

/// B13: the accumulated stream equals the non-streamed body of the same reply.
fn assert_stream_matches_body(blocks: Vec<Block>, stop: StopReason) -> Value {
    let usage = Usage {
        input_tokens: 10,
        output_tokens: 20,
        cache_read_tokens: 5,
        cache_write_tokens: 1,
        reasoning_tokens: None,
    };
    let frames = encode_all(&events_for(&blocks, stop.clone(), usage));
    let streamed = lint(&frames);
    let resp = Response {
        id: "msg_test".into(),
        model: "upstream-model".into(),
        content: blocks,
        stop_reason: Some(stop),
        usage,
        ..Default::default()
    };
    let body: Value = serde_json::from_slice(&encode_response(&resp, &ctx())).unwrap();
    assert_eq!(streamed, body);
    streamed
}

#[test]
fn anthropic_thinking_then_tool_use_matches_body() {
    let v = assert_stream_matches_body(
        vec![
            Block::Thinking {
                text: "Let me look.".into(),
                signature: Some(asig("EqQBCkYIBxgCKkA")),
            },
            Block::Text {
                text: "Checking.".into(),
                signature: None,
                cache_control: None,
            },
            Block::ToolUse {
                id: "toolu_01".into(),
                name: "Bash".into(),
                input: json!({"command": "ls -la"}).into(),
                signature: None,
            },
        ],
        StopReason::ToolUse,
    );
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"].as_array().unwrap().len(), 3);
}

/// OpenAI's reasoning streams as the body writes it: the `gw.openai.` signature is the
/// thinking block's `signature_delta`, with or without summary text.
#[test]
fn openai_reasoning_streams_like_the_body() {
    let rsig = |v: &str| Signature {
        origin: Dialect::Responses,
        value: v.into(),
    };
    let v = assert_stream_matches_body(
        vec![
            Block::Thinking {
                text: "Plan.".into(),
                signature: Some(rsig("rs_1:gAAAA1")),
            },
            Block::Text {
                text: "Checking.".into(),
                signature: None,
                cache_control: None,
            },
            Block::Thinking {
                text: String::new(),
                signature: Some(rsig("rs_2:gAAAA2")),
            },
            Block::ToolUse {
                id: "call_1".into(),
                name: "Bash".into(),
                input: json!({"command": "ls"}).into(),
                signature: None,
            },
        ],
        StopReason::ToolUse,
    );
    assert_eq!(v["content"][0]["signature"], "gw.openai.rs_1:gAAAA1");
    assert_eq!(
        v["content"][2],
        json!({"type": "thinking", "thinking": "", "signature": "gw.openai.rs_2:gAAAA2"})
    );
}

#[test]
fn gemini_signatures_stream_like_the_body() {
    let v = assert_stream_matches_body(
        vec![
            Block::Thinking {
                text: "plan".into(),
                signature: None,
            },
            Block::ToolUse {
                id: "c1".into(),
                name: "Read".into(),
                input: json!({"path": "a"}).into(),
                signature: Some(gsig("S1")),
            },
            Block::ToolUse {
                id: "c2".into(),
                name: "Read".into(),
                input: json!({}).into(),
                signature: None,
            },
            Block::ToolUse {
                id: "c3".into(),
                name: "Read".into(),
                input: json!({"path": "c"}).into(),
                signature: Some(gsig("S3")),
            },
            Block::Text {
                text: "bye".into(),
                signature: Some(gsig("S4")),
                cache_control: None,
            },
            Block::Thinking {
                text: "unsigned, last".into(),
                signature: None,
            },
        ],
        StopReason::EndTurn,
    );
    let sigs: Vec<&str> = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["signature"].as_str())
        .collect();
    assert_eq!(sigs, ["gw.gemini.S1", "gw.gemini.S3", "gw.gemini.S4", ""]);
    // A reply with tool calls ends in tool_use whatever the upstream said.
    assert_eq!(v["stop_reason"], "tool_use");
}

#[test]
fn tool_signature_arriving_as_a_delta_still_precedes_the_call() {
    let ev = vec![
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::ToolUse {
                id: "c1".into(),
                name: "Bash".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(gsig("LATE")),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInputJson("{\"a\":".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInputJson("1}".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageStop,
    ];
    let frames = encode_all(&ev);
    let m = lint(&frames);
    assert_eq!(
        m["content"],
        json!([
            {"type": "thinking", "thinking": "", "signature": "gw.gemini.LATE"},
            {"type": "tool_use", "id": "c1", "name": "Bash", "input": {"a": 1}}
        ])
    );
    // Synthesised message_start carries the estimate; the synthesised delta says tool_use.
    assert_eq!(m["usage"]["input_tokens"], 42);
    assert_eq!(m["stop_reason"], "tool_use");
}

#[test]
fn grammar_is_enforced_defensively() {
    let ev = vec![
        StreamEvent::Ping,
        StreamEvent::MessageStart {
            id: "late".into(),
            model: "x".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text(String::new()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("wrong type".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInputJson("{}".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        // Never stopped: closed by the next start.
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::Text("hi".into()),
        },
        StreamEvent::BlockDelta {
            index: 7,
            delta: Delta::Text("no such block".into()),
        },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "t".into(),
                name: "n".into(),
                signature: None,
            },
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: Usage {
                output_tokens: 3,
                ..Default::default()
            },
        },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::MaxTokens),
            stop_sequence: None,
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
        StreamEvent::Ping,
        StreamEvent::MessageStop,
    ];
    let frames = encode_all(&ev);
    let m = lint(&frames);
    assert_eq!(frames[0].0, "message_start");
    assert_eq!(frames[1].0, "ping");
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "n", "input": {}}])
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["output_tokens"], 3);
    assert_eq!(m["usage"]["input_tokens"], 42);
    assert_eq!(frames.last().unwrap().0, "message_stop");
}

#[test]
fn error_mid_tool_use_leaves_the_call_unfinished() {
    let ev = vec![
        StreamEvent::MessageStart {
            id: "msg_1".into(),
            model: "m".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::ToolUse {
                id: "t".into(),
                name: "n".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInputJson("{\"a\"".into()),
        },
        StreamEvent::Error(ApiError::new(529, ErrorKind::Overloaded, "Overloaded")),
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageStop,
    ];
    let frames = encode_all(&ev);
    let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        frames[3].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
}

#[test]
fn thinking_with_only_a_signature_and_redacted_blocks() {
    let ev = vec![
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(asig("omitted-sig")),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::RedactedThinking { data: "R".into() },
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::MessageStop,
    ];
    let m = lint(&encode_all(&ev));
    assert_eq!(
        m["content"],
        json!([
            {"type": "thinking", "thinking": "", "signature": "omitted-sig"},
            {"type": "redacted_thinking", "data": "R"}
        ])
    );
}

fn sse(frames: &[Value]) -> Vec<SseEvent> {
    frames
        .iter()
        .map(|d| SseEvent {
            event: Some(d["type"].as_str().unwrap().to_owned()),
            data: d.to_string(),
        })
        .collect()
}

#[test]
fn decoder_reads_the_documented_stream_and_reencodes_it() {
    let input = vec![
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 7}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "SIG"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "ping"}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "brand_new_event", "x": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"location\": \"SF\"}"}}),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "message_delta", "delta": {"type": "message_delta", "stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        json!({"type": "message_stop"}),
    ];
    let mut dec = StreamDecoder::new();
    let mut ir = Vec::new();
    for e in sse(&input) {
        dec.feed(&e, &mut ir).unwrap();
    }
    dec.finish(&mut ir).unwrap();
    assert!(!ir.iter().any(|e| matches!(e, StreamEvent::Error(_))));
    assert!(ir.contains(&StreamEvent::BlockStart {
        index: 1,
        block: BlockStart::ToolUse {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            signature: None
        }
    }));
    assert_eq!(
        ir[ir.len() - 2],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 25,
                output_tokens: 89,
                cache_read_tokens: 7,
                cache_write_tokens: 0,
                reasoning_tokens: None
            }
        }
    );
    let m = lint(&encode_all(&ir));
    assert_eq!(
        m["content"],
        json!([
            {"type": "thinking", "thinking": "Hmm.", "signature": "SIG"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "SF"}}
        ])
    );
    assert_eq!(m["usage"]["cache_read_input_tokens"], 7);
}

#[test]
fn decoder_error_event_and_truncated_stream() {
    let mut dec = StreamDecoder::new();
    let mut ir = Vec::new();
    let evs = sse(&[
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 0}}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]);
    for e in &evs {
        dec.feed(e, &mut ir).unwrap();
    }
    dec.finish(&mut ir).unwrap();
    assert_eq!(
        ir.last().unwrap(),
        &StreamEvent::Error(ApiError::new(529, ErrorKind::Overloaded, "Overloaded"))
    );

    let mut dec = StreamDecoder::new();
    let mut ir = Vec::new();
    dec.feed(&evs[0], &mut ir).unwrap();
    dec.finish(&mut ir).unwrap();
    assert!(matches!(ir.last(), Some(StreamEvent::Error(e)) if e.status == 502));

    let bad = SseEvent {
        event: Some("message_start".into()),
        data: "{not json".into(),
    };
    assert!(StreamDecoder::new().feed(&bad, &mut ir).is_err());
}
