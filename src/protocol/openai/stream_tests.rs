use super::*;
use serde_json::json;

fn sse(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: data.to_owned(),
    }
}

fn chunk(choices: Value) -> String {
    json!({"id": "chatcmpl-abc", "object": "chat.completion.chunk", "created": 1, "model": "up",
        "choices": choices})
    .to_string()
}

fn delta(d: Value) -> String {
    chunk(json!([{"index": 0, "delta": d, "finish_reason": null}]))
}

fn finish_chunk(reason: &str) -> String {
    chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]))
}

fn usage_chunk(choices: Value) -> String {
    json!({"id": "chatcmpl-abc", "choices": choices, "usage": {"prompt_tokens": 10,
        "completion_tokens": 4, "total_tokens": 14, "prompt_tokens_details": {"cached_tokens": 3}}})
    .to_string()
}

fn call(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
    let mut c = json!({"index": index, "function": {"arguments": args}});
    if let Some(id) = id {
        c["id"] = json!(id);
        c["type"] = json!("function");
    }
    if let Some(name) = name {
        c["function"]["name"] = json!(name);
    }
    c
}

fn calls(cs: Vec<Value>) -> String {
    delta(json!({"tool_calls": cs}))
}

/// Feeds the frames (then `finish()`) and describes the events compactly.
fn run_with(mut dec: StreamDecoder, frames: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for f in frames {
        dec.feed(&sse(f), &mut out).unwrap();
    }
    dec.finish(&mut out).unwrap();
    out.iter().map(describe).collect()
}

fn run(frames: &[String]) -> Vec<String> {
    run_with(StreamDecoder::new(), frames)
}

fn describe(ev: &StreamEvent) -> String {
    match ev {
        StreamEvent::MessageStart { id, .. } => format!("start {id}"),
        StreamEvent::BlockStart { index, block } => match block {
            BlockStart::Text => format!("{index}+text"),
            BlockStart::Thinking => format!("{index}+thinking"),
            BlockStart::ToolUse { id, name, .. } => format!("{index}+tool {id} {name}"),
            BlockStart::RedactedThinking { .. } => format!("{index}+redacted"),
        },
        StreamEvent::BlockDelta { index, delta } => match delta {
            Delta::Text(t) => format!("{index} text {t}"),
            Delta::Thinking(t) => format!("{index} thinking {t}"),
            Delta::ToolInputJson(j) => format!("{index} json {j}"),
            Delta::Signature(_) => format!("{index} sig"),
        },
        StreamEvent::BlockStop { index } => format!("{index}-"),
        StreamEvent::MessageDelta {
            stop_reason, usage, ..
        } => format!(
            "end {stop_reason:?} in={} out={} cached={}",
            usage.input_tokens, usage.output_tokens, usage.cache_read_tokens
        ),
        StreamEvent::MessageStop => "stop".to_owned(),
        StreamEvent::Ping => "ping".to_owned(),
        StreamEvent::Error(e) => format!("error {} {}", e.status, e.message),
    }
}

#[test]
fn text_then_usage_chunk_with_empty_choices() {
    let ev = run(&[
        delta(json!({"role": "assistant", "content": ""})),
        delta(json!({"content": "Hel"})),
        delta(json!({"content": "lo"})),
        finish_chunk("stop"),
        usage_chunk(json!([])),
        "[DONE]".to_owned(),
    ]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+text",
            "0 text Hel",
            "0 text lo",
            "0-",
            "end Some(EndTurn) in=7 out=4 cached=3",
            "stop"
        ]
    );
}

#[test]
fn message_delta_waits_for_usage_chunk_with_null_choices() {
    let mut dec = StreamDecoder::new();
    let mut out = Vec::new();
    for f in [delta(json!({"content": "x"})), finish_chunk("length")] {
        dec.feed(&sse(&f), &mut out).unwrap();
    }
    assert!(
        !out.iter()
            .any(|e| matches!(e, StreamEvent::MessageDelta { .. }))
    );
    dec.feed(&sse(&usage_chunk(Value::Null)), &mut out).unwrap();
    let tail: Vec<String> = out.iter().rev().take(2).map(describe).collect();
    assert_eq!(tail, ["stop", "end Some(MaxTokens) in=7 out=4 cached=3"]);
    // Nothing after the end.
    let n = out.len();
    dec.feed(&sse("[DONE]"), &mut out).unwrap();
    dec.finish(&mut out).unwrap();
    assert_eq!(out.len(), n);
}

#[test]
fn done_without_usage() {
    let ev = run(&[
        delta(json!({"content": "x"})),
        finish_chunk("stop"),
        "[DONE]".into(),
    ]);
    assert_eq!(ev[4..], ["end Some(EndTurn) in=0 out=0 cached=0", "stop"]);
}

#[test]
fn interleaved_parallel_calls_are_serialized() {
    let ev = run(&[
        calls(vec![call(0, Some("call_a"), Some("f"), "")]),
        calls(vec![call(1, Some("call_b"), Some("g"), "")]),
        calls(vec![
            call(0, None, None, "{\"x\":"),
            call(1, None, None, "{\"y\":"),
        ]),
        calls(vec![call(1, None, None, "2}")]),
        calls(vec![call(0, None, None, "1}")]),
        finish_chunk("tool_calls"),
        "[DONE]".into(),
    ]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+tool call_a f",
            "0 json {\"x\":1}",
            "0-",
            "1+tool call_b g",
            "1 json {\"y\":2}",
            "1-",
            "end Some(ToolUse) in=0 out=0 cached=0",
            "stop"
        ]
    );
}

/// Fuzz finding: an upstream that gave a second call the id of the first (here after the
/// finish chunk) made two `tool_use` blocks with one id, which reads back as one call and
/// which Anthropic refuses in the next turn. Minimised input.
#[test]
fn a_repeated_call_id_is_made_unique() {
    let frames = [
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"call_x"}]},"finish_reason":"stop"}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"call_x"}]}}]}"#,
    ]
    .map(str::to_owned);
    let ev = run(&frames);
    let tools: Vec<&String> = ev.iter().filter(|e| e.contains("+tool")).collect();
    assert_eq!(
        tools,
        ["0+tool call_x tool_1", "1+tool call_x_2 tool_2"],
        "{ev:?}"
    );
    // The same in a whole reply.
    let body = json!({"choices": [{"message": {"role": "assistant", "tool_calls": [
        {"id": "call_x", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "call_x", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}}]});
    let resp = super::super::decode_response(body.to_string().as_bytes()).unwrap();
    let ids: Vec<&str> = resp
        .content
        .iter()
        .filter_map(|b| match b {
            crate::protocol::ir::Block::ToolUse { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["call_x", "call_x_2"]);
}

#[test]
fn index_zero_reuse_with_new_ids() {
    let ev = run(&[
        calls(vec![call(0, Some("a"), Some("f"), "{\"n\":")]),
        calls(vec![call(0, None, None, "1}")]),
        calls(vec![call(0, Some("b"), Some("f"), "{\"n\":2}")]),
        finish_chunk("tool_calls"),
    ]);
    assert_eq!(
        ev[1..7],
        [
            "0+tool a f",
            "0 json {\"n\":1}",
            "0-",
            "1+tool b f",
            "1 json {\"n\":2}",
            "1-"
        ]
    );
}

#[test]
fn nameless_and_idless_calls_get_synthesized_names_and_ids() {
    let ev = run(&[
        calls(vec![call(0, Some("functions.Bash:0"), None, "{}")]),
        calls(vec![call(1, None, Some("Read"), "{\"p\":1}")]),
        finish_chunk("tool_calls"),
    ]);
    assert_eq!(ev[1], "0+tool functions_Bash_0 tool_1");
    assert_eq!(ev[4], "1+tool call_abc_2 Read");
}

#[test]
fn combined_single_chunk_with_finish() {
    let c = chunk(
        json!([{"index": 0, "finish_reason": "stop", "delta": {"role": "assistant",
        "content": "Let me look.",
        "tool_calls": [{"index": 0, "id": "x1", "type": "function",
            "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]}}]),
    );
    let ev = run(&[c]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+text",
            "0 text Let me look.",
            "0-",
            "1+tool x1 Bash",
            "1 json {\"command\":\"ls\"}",
            "1-",
            // finish_reason "stop" with a tool call is still tool_use (A5.6).
            "end Some(ToolUse) in=0 out=0 cached=0",
            "stop"
        ]
    );
}

#[test]
fn empty_tool_calls_beside_content_is_text() {
    let ev = run(&[
        delta(json!({"content": "hi", "tool_calls": []})),
        finish_chunk("stop"),
    ]);
    assert_eq!(ev[1..4], ["0+text", "0 text hi", "0-"]);
    assert_eq!(ev[4], "end Some(EndTurn) in=0 out=0 cached=0");
}

#[test]
fn tool_calls_finish_without_calls_is_end_turn() {
    let ev = run(&[delta(json!({"content": "hi"})), finish_chunk("tool_calls")]);
    assert_eq!(ev[4], "end Some(EndTurn) in=0 out=0 cached=0");
}

#[test]
fn reasoning_then_text_then_tools() {
    let ev = run(&[
        delta(json!({"reasoning_content": "think"})),
        delta(json!({"reasoning": " more"})),
        delta(json!({"content": "ok"})),
        calls(vec![call(0, Some("c1"), Some("f"), "{}")]),
        finish_chunk("tool_calls"),
        usage_chunk(json!([])),
    ]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+thinking",
            "0 thinking think",
            "0 thinking  more",
            "0-",
            "1+text",
            "1 text ok",
            "1-",
            "2+tool c1 f",
            "2 json {}",
            "2-",
            "end Some(ToolUse) in=7 out=4 cached=3",
            "stop"
        ]
    );
}

#[test]
fn text_after_calls_flushes_them_in_order() {
    let ev = run(&[
        calls(vec![call(0, Some("c1"), Some("f"), "{}")]),
        delta(json!({"content": "done"})),
        finish_chunk("stop"),
    ]);
    assert_eq!(
        ev[1..7],
        [
            "0+tool c1 f",
            "0 json {}",
            "0-",
            "1+text",
            "1 text done",
            "1-"
        ]
    );
}

#[test]
fn broken_arguments_are_repaired() {
    let ev = run(&[
        calls(vec![call(
            0,
            Some("c1"),
            Some("Write"),
            "{\"content\": \"abc",
        )]),
        finish_chunk("length"),
    ]);
    assert_eq!(ev[2], "0 json {\"content\":\"abc\"}");
    let ev = run(&[
        calls(vec![call(0, Some("c1"), Some("f"), "<xml/>")]),
        finish_chunk("tool_calls"),
    ]);
    assert_eq!(ev[2], "0 json {\"_invalid_arguments\":\"<xml/>\"}");
}

#[test]
fn error_chunk_becomes_error_event() {
    let ev = run(&[
        delta(json!({"content": "x"})),
        json!({"error": {"message": "overloaded", "type": "server_error", "code": 503}})
            .to_string(),
    ]);
    assert_eq!(ev.last().unwrap(), "error 503 overloaded");
    assert!(!ev.iter().any(|e| e == "stop"));
}

#[test]
fn named_error_event_is_an_error() {
    let mut dec = StreamDecoder::new();
    let mut out = Vec::new();
    let ev = SseEvent {
        event: Some("error".into()),
        data: json!({"message": "quota", "code": 429}).to_string(),
    };
    dec.feed(&ev, &mut out).unwrap();
    assert_eq!(
        out.iter().map(describe).collect::<Vec<_>>(),
        ["error 429 quota"]
    );
}

#[test]
fn empty_and_cut_streams_are_errors() {
    assert_eq!(
        run(&["[DONE]".into()]),
        ["error 502 upstream returned an empty stream"]
    );
    assert_eq!(run(&[]), ["error 502 upstream returned an empty stream"]);
    let ev = run(&[calls(vec![call(0, Some("c1"), Some("f"), "{\"a\":")])]);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev[1].starts_with("error 502"));
}

#[test]
fn empty_choice_with_finish_is_a_complete_stream() {
    let ev = run(&[finish_chunk("stop"), "[DONE]".into()]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "end Some(EndTurn) in=0 out=0 cached=0",
            "stop"
        ]
    );
}

#[test]
fn tool_names_are_restored() {
    let long = "a".repeat(70);
    let req = crate::protocol::ir::Request {
        tools: vec![crate::protocol::ir::Tool::Function(
            crate::protocol::ir::FunctionTool {
                name: long.clone(),
                description: None,
                input_schema: json!({}).into(),
                cache_control: None,
                extra: Default::default(),
            },
        )],
        ..Default::default()
    };
    let names = ToolNames::for_request(&req);
    let wire = names.wire(&long).to_owned();
    let ev = run_with(
        StreamDecoder::with_tool_names(names),
        &[
            calls(vec![call(0, Some("c"), Some(&wire), "{}")]),
            finish_chunk("tool_calls"),
        ],
    );
    assert_eq!(ev[1], format!("0+tool c {long}"));
}

#[test]
fn long_argument_streams_ping() {
    let mut frames = vec![calls(vec![call(0, Some("c"), Some("f"), "{\"a\":\"")])];
    frames.extend((0..200).map(|_| calls(vec![call(0, None, None, "x")])));
    frames.push(calls(vec![call(0, None, None, "\"}")]));
    frames.push(finish_chunk("tool_calls"));
    let ev = run(&frames);
    assert!(ev.iter().filter(|e| *e == "ping").count() >= 3);
    assert!(ev.iter().any(|e| e.starts_with("0 json {\"a\":\"xxx")));
}

// ---------------------------------------------------------------------------------------------
// Encoder

fn encode_all(ctx: &ResponseCtx, events: &[StreamEvent]) -> Vec<String> {
    let mut enc = StreamEncoder::new(ctx);
    let mut out = Vec::new();
    for ev in events {
        enc.encode(ev, &mut out);
    }
    String::from_utf8(out)
        .unwrap()
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

fn data(frame: &str) -> Value {
    serde_json::from_str(frame.strip_prefix("data: ").unwrap()).unwrap()
}

fn sample_events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::MessageStart {
            id: "msg_01".into(),
            model: "gemini".into(),
            usage: Usage::default(),
        },
        StreamEvent::Ping,
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Thinking("hmm".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::Text("hi".into()),
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
            delta: Delta::ToolInputJson("{\"command\":".into()),
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
                input_tokens: 5,
                output_tokens: 7,
                cache_read_tokens: 2,
                cache_write_tokens: 0,
                reasoning_tokens: Some(3),
            },
        },
        StreamEvent::MessageStop,
    ]
}

#[test]
fn encoder_writes_openai_chunks() {
    let ctx = ResponseCtx {
        model: "client-model".into(),
        include_usage: true,
        ..ResponseCtx::default()
    };
    let frames = encode_all(&ctx, &sample_events());
    assert_eq!(frames.len(), 10, "{frames:#?}");
    let first = data(&frames[0]);
    assert_eq!(first["id"], "chatcmpl-01");
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "client-model");
    assert_eq!(first["usage"], Value::Null);
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(frames[1], ": ping");
    assert_eq!(
        data(&frames[2])["choices"][0]["delta"],
        json!({"reasoning_content": "hmm"})
    );
    assert_eq!(
        data(&frames[3])["choices"][0]["delta"],
        json!({"content": "hi"})
    );
    assert_eq!(
        data(&frames[4])["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": ""}}])
    );
    assert_eq!(
        data(&frames[5])["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "function": {"arguments": "{\"command\":"}}])
    );
    let fin = data(&frames[7]);
    assert_eq!(fin["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(fin["choices"][0]["delta"], json!({}));
    let usage = data(&frames[8]);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 7);
    assert_eq!(
        usage["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    assert_eq!(frames[9], "data: [DONE]");
    // Stable id and created on every chunk.
    for f in &frames[2..9] {
        let v = data(f);
        assert_eq!((&v["id"], &v["created"]), (&first["id"], &first["created"]));
    }
}

#[test]
fn encoder_without_usage_and_with_error() {
    let ctx = ResponseCtx {
        model: "m".into(),
        ..ResponseCtx::default()
    };
    let frames = encode_all(&ctx, &sample_events());
    assert_eq!(frames.len(), 9);
    assert!(data(&frames[0]).get("usage").is_none());

    let events = [
        sample_events().remove(0),
        StreamEvent::Error(ApiError::new(529, ErrorKind::Overloaded, "busy")),
        StreamEvent::MessageStop,
    ];
    let frames = encode_all(&ctx, &events);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        data(&frames[1]),
        json!({"error": {"message": "busy", "type": "server_error", "param": null, "code": null}})
    );
}

#[test]
fn refusal_delta_ends_as_a_refusal() {
    let ev = run(&[
        delta(json!({"role": "assistant", "content": null, "refusal": ""})),
        delta(json!({"refusal": "I can't help"})),
        finish_chunk("stop"),
        "[DONE]".to_owned(),
    ]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+text",
            "0 text I can't help",
            "0-",
            "end Some(Refusal) in=0 out=0 cached=0",
            "stop"
        ]
    );
}

#[test]
fn azure_filter_chunks_carry_nothing_and_a_filtered_end_is_a_refusal() {
    let prompt_filter = json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
            "hate": {"filtered": false, "severity": "safe"}}}]})
    .to_string();
    let annotation = chunk(json!([{"index": 0, "finish_reason": null,
        "content_filter_results": {"violence": {"filtered": false, "severity": "safe"}},
        "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 5}}]));
    let filtered = chunk(json!([{"index": 0, "finish_reason": "content_filter",
        "content_filter_results": {"violence": {"filtered": true, "severity": "high"}}}]));
    let ev = run(&[
        prompt_filter,
        delta(json!({"role": "assistant", "content": ""})),
        delta(json!({"content": "Once"})),
        annotation,
        filtered,
        "[DONE]".to_owned(),
    ]);
    assert_eq!(
        ev,
        [
            "start chatcmpl-abc",
            "0+text",
            "0 text Once",
            "0-",
            "end Some(Refusal) in=0 out=0 cached=0",
            "stop"
        ]
    );
}
