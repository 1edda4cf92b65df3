use super::*;
use serde_json::json;

fn ev(v: Value) -> SseEvent {
    SseEvent {
        event: None,
        data: v.to_string(),
    }
}

fn decode_all(chunks: &[Value]) -> Vec<StreamEvent> {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.feed(&ev(c.clone()), &mut out).unwrap();
    }
    d.finish(&mut out).unwrap();
    out
}

fn gsig(v: &str) -> Signature {
    Signature {
        origin: Dialect::Gemini,
        value: v.into(),
    }
}

fn chunk(parts: Value) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}], "responseId": "r1", "modelVersion": "gemini-3-pro-preview"})
}

#[test]
fn thoughts_signature_only_part_and_text() {
    let events = decode_all(&[
        chunk(json!([{"text": "Let me ", "thought": true}])),
        chunk(json!([{"text": "think.", "thought": true}])),
        chunk(json!([{"text": "", "thoughtSignature": "SIG"}])),
        chunk(json!([{"text": "Hello"}])),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": " world"}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "cachedContentTokenCount": 40, "totalTokenCount": 125}}),
    ]);
    let usage = Usage {
        input_tokens: 60,
        output_tokens: 25,
        cache_read_tokens: 40,
        cache_write_tokens: 0,
        reasoning_tokens: Some(20),
    };
    assert_eq!(
        events,
        vec![
            StreamEvent::MessageStart {
                id: "r1".into(),
                model: "gemini-3-pro-preview".into(),
                usage: Usage::default()
            },
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Thinking("Let me ".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Thinking("think.".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Signature(gsig("SIG"))
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Text
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::Text("Hello".into())
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::Text(" world".into())
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::EndTurn),
                stop_sequence: None,
                usage
            },
            StreamEvent::MessageStop,
        ]
    );
}

#[test]
fn parallel_calls_signature_on_first_stop_means_tool_use() {
    let events = decode_all(&[
        chunk(json!([{"text": "I'll read both."}])),
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "read", "args": {"path": "a"}}, "thoughtSignature": "S1"},
            {"functionCall": {"name": "read", "args": {"path": "b"}}}
        ]}, "finishReason": "STOP", "index": 0}], "responseId": "r1"}),
    ]);
    let starts: Vec<&BlockStart> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { block, .. } => Some(block),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 3);
    let BlockStart::ToolUse {
        id: id1,
        name,
        signature: Some(s),
    } = starts[1]
    else {
        panic!()
    };
    assert_eq!((name.as_str(), s.value.as_str()), ("read", "S1"));
    let BlockStart::ToolUse {
        id: id2,
        signature: None,
        ..
    } = starts[2]
    else {
        panic!()
    };
    assert_ne!(id1, id2);
    assert!(events.contains(&StreamEvent::BlockDelta {
        index: 1,
        delta: Delta::ToolInputJson(r#"{"path":"a"}"#.into())
    }));
    assert!(matches!(
        &events[events.len() - 2],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            ..
        }
    ));
}

#[test]
fn max_tokens_safety_and_blocked_prompt() {
    let last = |finish: &str| {
        let events = decode_all(&[
            json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]}),
        ]);
        match &events[events.len() - 2] {
            StreamEvent::MessageDelta { stop_reason, .. } => stop_reason.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(last("MAX_TOKENS"), Some(StopReason::MaxTokens));
    assert_eq!(last("SAFETY"), Some(StopReason::Refusal));
    let events = decode_all(&[
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}),
    ]);
    assert!(matches!(&events[0], StreamEvent::MessageStart { .. }));
    assert!(matches!(
        &events[1],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::Refusal),
            ..
        }
    ));
    assert_eq!(events[2], StreamEvent::MessageStop);
}

#[test]
fn errors_cut_streams_and_empty_answers() {
    let events = decode_all(&[
        chunk(json!([{"text": "par"}])),
        json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
    ]);
    assert_eq!(
        events[events.len() - 2],
        StreamEvent::BlockStop { index: 0 }
    );
    assert!(matches!(events.last(), Some(StreamEvent::Error(e)) if e.status == 503));
    // No finishReason: the upstream cut the stream.
    let events = decode_all(&[chunk(json!([{"text": "par"}]))]);
    assert!(matches!(events.last(), Some(StreamEvent::Error(e)) if e.status == 502));
    // Nothing at all, and an empty STOP.
    assert!(matches!(
        decode_all(&[]).as_slice(),
        [StreamEvent::Error(_)]
    ));
    let events = decode_all(&[
        json!({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]}),
    ]);
    assert!(
        matches!(events.last(), Some(StreamEvent::Error(e)) if e.kind == ErrorKind::BadGateway)
    );
}

fn sse_values(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .split("\n\n")
        .filter(|s| !s.is_empty())
        .map(|s| serde_json::from_str(s.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

fn anthropic_like_events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::MessageStart {
            id: "msg_1".into(),
            model: "claude".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("hmm".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Signature(Signature {
                origin: Dialect::Anthropic,
                value: "A".into(),
            }),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::Text("Hi".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson(String::new()),
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson(r#"{"command":"#.into()),
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: Delta::ToolInputJson(r#""ls"}"#.into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::Ping,
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 7,
                cache_read_tokens: 5,
                cache_write_tokens: 0,
                reasoning_tokens: None,
            },
        },
        StreamEvent::MessageStop,
    ]
}

#[test]
fn encoder_writes_sse_chunks_with_buffered_calls() {
    let ctx = ResponseCtx {
        model: "gemini-2.5-pro".into(),
        ..ResponseCtx::default()
    };
    let mut enc = StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    for e in anthropic_like_events() {
        enc.encode(&e, &mut out);
    }
    let values = sse_values(&out);
    let head = |p: Value| json!({"candidates": [{"content": {"role": "model", "parts": p}, "index": 0}], "modelVersion": "gemini-2.5-pro", "responseId": "msg_1"});
    assert_eq!(
        values,
        vec![
            head(json!([{"text": "hmm", "thought": true}])),
            head(json!([{"text": "Hi"}])),
            head(
                json!([{"functionCall": {"id": "toolu_1", "name": "Bash", "args": {"command": "ls"}}}])
            ),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 15, "candidatesTokenCount": 7, "totalTokenCount": 22, "cachedContentTokenCount": 5},
               "modelVersion": "gemini-2.5-pro", "responseId": "msg_1"}),
        ]
    );
}

#[test]
fn encoder_json_array_form_and_errors() {
    let ctx = ResponseCtx {
        model: "m".into(),
        json_array_stream: true,
        ..ResponseCtx::default()
    };
    let mut enc = StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    for e in anthropic_like_events() {
        enc.encode(&e, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("[{") && text.ends_with("}\n]"));
    let parsed: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed.len(), 4);

    let mut enc = StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    enc.encode(
        &StreamEvent::Error(ApiError::new(529, ErrorKind::Overloaded, "busy")),
        &mut out,
    );
    enc.encode(&StreamEvent::MessageStop, &mut out);
    let parsed: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        parsed,
        vec![json!({"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}})]
    );
}

#[test]
fn gemini_stream_round_trips_through_the_ir() {
    let input = vec![
        chunk(json!([{"text": "plan", "thought": true}])),
        chunk(json!([{"text": "", "thoughtSignature": "SIG"}])),
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "C"}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 2, "totalTokenCount": 16},
            "responseId": "r1", "modelVersion": "gemini-3-pro-preview"}),
    ];
    let ctx = ResponseCtx {
        model: "gemini-3-pro-preview".into(),
        ..ResponseCtx::default()
    };
    let mut enc = StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    for e in decode_all(&input) {
        enc.encode(&e, &mut out);
    }
    let head = |p: Value| json!({"candidates": [{"content": {"role": "model", "parts": p}, "index": 0}], "modelVersion": "gemini-3-pro-preview", "responseId": "r1"});
    assert_eq!(
        sse_values(&out),
        vec![
            head(json!([{"text": "plan", "thought": true}])),
            head(json!([{"text": "", "thought": true, "thoughtSignature": "SIG"}])),
            head(
                json!([{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "C"}])
            ),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 2, "totalTokenCount": 16},
               "modelVersion": "gemini-3-pro-preview", "responseId": "r1"}),
        ]
    );
}

/// Fuzz finding: an error chunk dropped a signature still held for the next part, where the
/// end of the body keeps it in a block of its own; a stream re-read from the gateway's own
/// output then lost a block. (Minimised input: two signature-only chunks and no finish.)
#[test]
fn an_error_chunk_keeps_a_held_signature() {
    let events = decode_all(&[
        chunk(json!([{"thoughtSignature": "SIG"}])),
        json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
    ]);
    assert!(
        matches!(
            &events[1..],
            [
                StreamEvent::BlockStart { index: 0, block: BlockStart::Thinking },
                StreamEvent::BlockDelta { index: 0, delta: Delta::Signature(s) },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Error(_),
            ] if *s == gsig("SIG")
        ),
        "{events:?}"
    );
}

/// Fuzz finding: a thinking block holding only a signature is written as an empty `thought`
/// part with the signature, but was read back as a signature for the next part, so the
/// signature moved onto the text after it. Minimised input: two signature-only chunks, then
/// text.
#[test]
fn an_empty_signed_thought_part_is_a_block_of_its_own() {
    let events = decode_all(&[
        chunk(json!([{"text": "", "thought": true, "thoughtSignature": "SIG"}])),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]},
            "finishReason": "STOP", "index": 0}]}),
    ]);
    let signed: Vec<(usize, &Signature)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                index,
                delta: Delta::Signature(s),
            } => Some((*index, s)),
            _ => None,
        })
        .collect();
    assert_eq!(signed, [(0, &gsig("SIG"))], "{events:?}");
    assert!(events.contains(&StreamEvent::BlockStart {
        index: 1,
        block: BlockStart::Text
    }));
    // The same in a whole reply.
    let resp = crate::protocol::gemini::decode_response(
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "", "thought": true, "thoughtSignature": "SIG"}, {"text": "Hi"}]},
            "finishReason": "STOP"}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert!(
        matches!(&resp.content[..], [
            Block::Thinking { text, signature: Some(s) },
            Block::Text { signature: None, .. },
        ] if text.is_empty() && *s == gsig("SIG")),
        "{:?}",
        resp.content
    );
}

/// Fuzz finding: text after a signed text continued it, while the gateway writes each signed
/// text as the text and then its signature, so two signed texts read back as one (and a
/// stray signature). A signed block is complete now. (Minimised input: "Hello", two
/// signature-only parts, " there!"; decoded as two signed texts, and written as below.)
#[test]
fn text_after_a_signed_text_starts_a_new_block() {
    let events = decode_all(&[
        chunk(json!([{"text": "Hello"}])),
        chunk(json!([{"text": "", "thoughtSignature": "S"}])),
        chunk(json!([{"text": " there!"}])),
        chunk(json!([{"text": "", "thoughtSignature": "S"}])),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
            "finishReason": "STOP", "index": 0}]}),
    ]);
    let starts = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::BlockStart {
                    block: BlockStart::Text,
                    ..
                }
            )
        })
        .count();
    let signatures = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::BlockDelta {
                    delta: Delta::Signature(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!((starts, signatures), (2, 2), "{events:?}");
}

/// Fuzz finding: a call whose arguments hold a lone surrogate escape (kept as the text it came
/// in) was dropped whole from a Gemini client's stream, its chunk going through a `Value` that
/// cannot hold one. Minimised input.
#[test]
fn a_call_with_a_lone_surrogate_in_its_arguments_is_written() {
    let mut d = StreamDecoder::new();
    let mut events = Vec::new();
    for data in [
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"args":{"a\ud800bsolute_path":"/b"},"name":"read_file"}}],"role":"model"},"index":0}],"modelVersion":"gemini-3-pro-preview","responseId":"r-2"}"#,
        r#"{"candidates":[{"finishReason":"STOP"}]}"#,
    ] {
        let ev = SseEvent {
            event: None,
            data: data.to_owned(),
        };
        d.feed(&ev, &mut events).unwrap();
    }
    d.finish(&mut events).unwrap();
    let mut enc = StreamEncoder::new(&ResponseCtx::default());
    let mut out = Vec::new();
    for e in &events {
        enc.encode(e, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(r#""functionCall":{"name":"read_file","args":{"a\ud800bsolute_path":"/b"}}"#),
        "{text}"
    );
}

/// Fuzz finding: tool arguments streamed with a line break between tokens (`, \r\n"unit"`), kept
/// as the text they came as, were written into a `data:` line, which the break cut in two: the
/// client read an unfinished chunk. Minimised input (an Anthropic upstream's deltas).
#[test]
fn streamed_arguments_with_line_breaks_stay_on_one_data_line() {
    let mut events: Vec<StreamEvent> = anthropic_like_events()
        .into_iter()
        .filter(|e| !matches!(e, StreamEvent::BlockDelta { index: 2, .. }))
        .collect();
    let at = events
        .iter()
        .position(|e| matches!(e, StreamEvent::BlockStop { index: 2 }))
        .unwrap();
    for (i, piece) in [
        r#"{"city": "Pa"#,
        "ris\", \r\n\"unit\"",
        ": \"cel\\nsius\"}",
    ]
    .into_iter()
    .enumerate()
    {
        events.insert(
            at + i,
            StreamEvent::BlockDelta {
                index: 2,
                delta: Delta::ToolInputJson(piece.into()),
            },
        );
    }
    let mut enc = StreamEncoder::new(&ResponseCtx::default());
    let mut out = Vec::new();
    for e in &events {
        enc.encode(e, &mut out);
    }
    let values = sse_values(&out);
    assert_eq!(
        values[2]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
        json!({"city": "Paris", "unit": "cel\nsius"})
    );
}

/// OpenAI's reasoning streams as whole replies write it (`response::reply_parts`): its tagged
/// signature on the next text or call part, or on a part of its own when another thought (or
/// the end) comes first.
#[test]
fn openai_reasoning_streams_like_the_body() {
    let rsig = |v: &str| Signature {
        origin: Dialect::Responses,
        value: v.into(),
    };
    let blocks = [
        (
            BlockStart::Thinking,
            vec![
                Delta::Thinking("one".into()),
                Delta::Signature(rsig("rs_1:E1")),
            ],
        ),
        (
            BlockStart::Thinking,
            vec![
                Delta::Thinking("two".into()),
                Delta::Signature(rsig("rs_2:E2")),
            ],
        ),
        (BlockStart::Text, vec![Delta::Text("Looking.".into())]),
        (
            BlockStart::Thinking,
            vec![Delta::Signature(rsig("rs_3:E3"))],
        ),
        (
            BlockStart::ToolUse {
                id: "call_1".into(),
                name: "Bash".into(),
                signature: None,
            },
            vec![Delta::ToolInputJson("{\"command\":\"ls\"}".into())],
        ),
        (
            BlockStart::Thinking,
            vec![Delta::Signature(rsig("rs_4:E4"))],
        ),
    ];
    let mut events = vec![StreamEvent::MessageStart {
        id: "resp_1".into(),
        model: "m".into(),
        usage: Usage::default(),
    }];
    for (index, (start, deltas)) in blocks.into_iter().enumerate() {
        events.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        for delta in deltas {
            events.push(StreamEvent::BlockDelta { index, delta });
        }
        events.push(StreamEvent::BlockStop { index });
    }
    events.push(StreamEvent::MessageStop);
    let mut enc = StreamEncoder::new(&ResponseCtx::default());
    let mut out = Vec::new();
    for e in &events {
        enc.encode(e, &mut out);
    }
    let parts: Vec<Value> = sse_values(&out)
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let tag = |v: &str| format!("gw.openai.{v}");
    assert_eq!(
        parts,
        vec![
            json!({"text": "one", "thought": true}),
            json!({"text": "", "thoughtSignature": tag("rs_1:E1")}),
            json!({"text": "two", "thought": true}),
            json!({"text": "Looking.", "thoughtSignature": tag("rs_2:E2")}),
            json!({"functionCall": {"id": "call_1", "name": "Bash", "args": {"command": "ls"}},
                "thoughtSignature": tag("rs_3:E3")}),
            json!({"text": "", "thoughtSignature": tag("rs_4:E4")}),
            // The finishing chunk's own empty part.
            json!({"text": ""}),
        ]
    );
}
