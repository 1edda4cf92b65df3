//! Translation micro-benchmarks (criterion).
//!
//! * `request/*`: decode a Claude Code-sized Anthropic request (25 tools with real JSON
//!   Schemas, a 6 KB system prompt, 20 turns of tool use; `tests/fixtures/claude-code/`, sent
//!   compact as Claude Code sends it: 58 KB) and encode it for an OpenAI or a Gemini upstream,
//!   down to the body bytes as the upstream adapters write them (`codec::to_body`). Target:
//!   <= 50 us. Gemini's schema reduction is memoized across requests (`gemini::schema_memo`),
//!   so the steady state measured here is that of a session's second and later turns; the
//!   `parts/gemini_encode_cold` figure is a first turn.
//! * `request/responses_to_openai`, `request/responses_to_anthropic`: a Codex-sized Responses
//!   request (a 20 KB `developer` prompt, 20 function tools, 20 turns of `function_call` /
//!   `function_call_output` pairs with assistant text; made by [`codex_request`] from the Claude
//!   Code fixture's prompt and schemas, about 60 KB) decoded and encoded for a Chat or an
//!   Anthropic upstream. Target: within 2x of `anthropic_to_openai`.
//! * `stream/*`: an upstream's SSE body (OpenAI chunks, Gemini chunks) through the parser, the
//!   upstream's stream decoder and the Anthropic stream encoder, as the pipeline runs it.
//!   Throughput in upstream events per second. Target: > 1 M events/s.
//! * `stream/bedrock_eventstream_to_anthropic_sse`: a ConverseStream body (binary
//!   `application/vnd.amazon.eventstream` frames, CRCs checked) through the frame decoder, the
//!   Converse stream decoder (`upstream::bedrock::StreamBody`) and the Anthropic stream
//!   encoder. Same target.
//! * `stream/openai_chunks_to_responses_sse`, `stream/anthropic_sse_to_responses_sse`: the
//!   same answer from a Chat or an Anthropic upstream encoded as Responses events (Codex's
//!   routes). Same target.
//!
//! Quick run: `cargo bench --bench codecs -- --quick`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a broken benchmark input should stop the run

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llm_gateway::protocol::codec::{self, RequestHints, ResponseCtx};
use llm_gateway::protocol::dialect::AnyStreamDecoder;
use llm_gateway::protocol::ir::Dialect;
use llm_gateway::protocol::ir::{StopReason, Usage};
use llm_gateway::protocol::sse::SseParser;
use llm_gateway::protocol::stream::{BlockStart, Delta, StreamEvent};
use llm_gateway::protocol::{anthropic, gemini, openai, responses};
use serde_json::{Value, json};

// The allocator the gateway binary runs with (`src/main.rs`): allocation is a good part of
// decoding, so measuring with another one would misstate it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUEST: &str = include_str!("../tests/fixtures/claude-code/request.json");

/// A request the size and shape of Codex CLI's (`shared/reference/responses.md` §6.3): two
/// `developer` messages (the first 20 KB), the environment context and the prompt as `user`
/// messages, 20 flat function tools (the fixture's first 20 schemas), then 20 turns of assistant
/// text, a `function_call` and its `function_call_output`, as Codex replays them. Compact JSON.
fn codex_request() -> String {
    let fixture: Value = serde_json::from_str(REQUEST).unwrap();
    let base: String = fixture["system"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut prompt = String::from("You are Codex, a coding agent. ");
    while prompt.len() < 20_000 {
        prompt.push_str(&base);
        prompt.push('\n');
    }
    let cut = (0..=20_000)
        .rev()
        .find(|i| prompt.is_char_boundary(*i))
        .unwrap();
    prompt.truncate(cut);
    let tools: Vec<Value> = fixture["tools"]
        .as_array()
        .unwrap()
        .iter()
        .take(20)
        .map(|t| {
            json!({"type": "function", "name": t["name"], "description": t["description"],
                   "parameters": t["input_schema"], "strict": false})
        })
        .collect();
    assert_eq!(tools.len(), 20);
    let text = |role: &str, kind: &str, t: &str| json!({"type": "message", "role": role, "content": [{"type": kind, "text": t}]});
    let mut input = vec![
        text("developer", "input_text", &prompt),
        text(
            "developer",
            "input_text",
            "<permissions instructions>sandbox: workspace-write; approvals: never</permissions instructions>",
        ),
        text(
            "user",
            "input_text",
            "<environment_context><cwd>/home/dev/project</cwd><shell>bash</shell></environment_context>",
        ),
        text(
            "user",
            "input_text",
            "Fix the failing test in src/lib.rs and run the suite.",
        ),
    ];
    for turn in 0..20 {
        let call_id = format!("call_{turn:02}_abcdefghijklmnopqrstuvwx");
        input.push(text(
            "assistant",
            "output_text",
            &format!("Step {turn}: I will look at the next file before changing anything."),
        ));
        input.push(json!({"type": "function_call", "id": format!("fc_{turn:02}"),
            "call_id": call_id, "name": tools[turn % 20]["name"], "status": "completed",
            "arguments": json!({"cmd": format!("sed -n '{turn},+40p' src/lib.rs"), "yield_time_ms": 10000}).to_string()}));
        let output: String = (0..12)
            .map(|l| {
                format!(
                    "{:>4}  let value_{l} = compute(input, {turn}, \"line\");\n",
                    turn * 40 + l
                )
            })
            .collect();
        input.push(json!({"type": "function_call_output", "call_id": call_id,
            "output": format!("Chunk ID: {turn}\nWall time: 0.01 seconds\nProcess exited with code 0\nOutput:\n{output}")}));
    }
    json!({"model": "gpt-5.5", "instructions": null, "input": input, "tools": tools,
           "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"effort": "medium"},
           "store": false, "stream": true, "include": ["reasoning.encrypted_content"],
           "prompt_cache_key": "019a0000-0000-7000-8000-000000000000"})
    .to_string()
}

fn requests(c: &mut Criterion) {
    // The fixture is pretty-printed for reading; clients send compact JSON (key order kept).
    let compact = llm_gateway::protocol::json::minify(REQUEST).into_owned();
    let body = compact.as_bytes();
    let hints = RequestHints::default();
    let mut g = c.benchmark_group("request");
    g.bench_function("anthropic_to_openai", |b| {
        b.iter(|| {
            let ir = anthropic::decode_request(black_box(body), &hints).unwrap();
            let wire = openai::encode_request(&ir).unwrap();
            black_box(codec::to_body(&wire, &ir).unwrap())
        })
    });
    g.bench_function("anthropic_to_gemini", |b| {
        b.iter(|| {
            let ir = anthropic::decode_request(black_box(body), &hints).unwrap();
            let wire = gemini::encode_request(&ir).unwrap();
            black_box(codec::to_body(&wire, &ir).unwrap())
        })
    });
    let codex = codex_request();
    let codex = codex.as_bytes();
    g.bench_function("responses_to_openai", |b| {
        b.iter(|| {
            let ir = responses::decode_request(black_box(codex), &hints).unwrap();
            let wire = openai::encode_request(&ir).unwrap();
            black_box(codec::to_body(&wire, &ir).unwrap())
        })
    });
    g.bench_function("responses_to_anthropic", |b| {
        b.iter(|| {
            let ir = responses::decode_request(black_box(codex), &hints).unwrap();
            let wire = anthropic::encode_request(&ir).unwrap();
            black_box(codec::to_body(&wire, &ir).unwrap())
        })
    });
    g.bench_function("parts/responses_decode", |b| {
        b.iter(|| black_box(responses::decode_request(black_box(codex), &hints).unwrap()))
    });
    // Where the time goes.
    let ir = anthropic::decode_request(body, &hints).unwrap();
    g.bench_function("parts/anthropic_decode", |b| {
        b.iter(|| black_box(anthropic::decode_request(black_box(body), &hints).unwrap()))
    });
    g.bench_function("parts/json_value_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap()))
    });
    g.bench_function("parts/openai_encode", |b| {
        b.iter(|| black_box(openai::encode_request(black_box(&ir)).unwrap()))
    });
    g.bench_function("parts/gemini_encode", |b| {
        b.iter(|| black_box(gemini::encode_request(black_box(&ir)).unwrap()))
    });
    // A first turn: every schema is new to the memo (a fresh decode has fresh schema texts,
    // but equal texts hit, so the memo is defeated by a per-iteration marker in each schema).
    let mut turn = 0u64;
    g.bench_function("parts/gemini_encode_cold", |b| {
        b.iter_batched(
            || {
                turn += 1;
                let marked = compact.replace(
                    "\"input_schema\":{",
                    &format!("\"input_schema\":{{\"$comment\":\"{turn}\","),
                );
                anthropic::decode_request(marked.as_bytes(), &hints).unwrap()
            },
            |ir| black_box(gemini::encode_request(&ir).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });
    let openai_wire = openai::encode_request(&ir).unwrap();
    g.bench_function("parts/openai_serialize", |b| {
        b.iter(|| black_box(codec::to_body(black_box(&openai_wire), &ir).unwrap()))
    });
    let gemini_wire = gemini::encode_request(&ir).unwrap();
    g.bench_function("parts/gemini_serialize", |b| {
        b.iter(|| black_box(codec::to_body(black_box(&gemini_wire), &ir).unwrap()))
    });
    g.finish();
}

/// A text answer of `n` deltas, with usage.
fn answer(n: usize) -> Vec<StreamEvent> {
    let mut ev = vec![
        StreamEvent::MessageStart {
            id: "resp-1".into(),
            model: "m".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
    ];
    for i in 0..n {
        ev.push(StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text(format!("token{i} ")),
        });
    }
    ev.push(StreamEvent::BlockStop { index: 0 });
    ev.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: Usage {
            input_tokens: 1000,
            output_tokens: n as u64,
            ..Usage::default()
        },
    });
    ev.push(StreamEvent::MessageStop);
    ev
}

/// `events` as upstream `dialect` sends them (OpenAI, Gemini or Anthropic SSE).
fn upstream_body(events: &[StreamEvent], dialect: Dialect) -> Vec<u8> {
    let ctx = ResponseCtx {
        model: "upstream".into(),
        include_usage: true,
        ..ResponseCtx::default()
    };
    let mut out = Vec::new();
    match dialect {
        Dialect::OpenAi => {
            let mut enc = openai::StreamEncoder::new(&ctx);
            events.iter().for_each(|e| enc.encode(e, &mut out));
        }
        Dialect::Gemini => {
            let mut enc = gemini::StreamEncoder::new(&ctx);
            events.iter().for_each(|e| enc.encode(e, &mut out));
        }
        _ => {
            let mut enc = anthropic::StreamEncoder::new(&ctx);
            events.iter().for_each(|e| enc.encode(e, &mut out));
        }
    }
    out
}

/// An upstream's SSE body through the parser and `dialect`'s stream decoder into `encode`, read
/// by read; the output's length.
fn translate_sse(
    chunks: &[&[u8]],
    dialect: Dialect,
    mut encode: impl FnMut(&StreamEvent, &mut Vec<u8>),
) -> usize {
    let mut parser = SseParser::new();
    let mut dec = AnyStreamDecoder::new(dialect);
    let (mut sse, mut ir, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in chunks {
        parser.push(chunk, &mut sse).unwrap();
        for e in sse.drain(..) {
            dec.feed(&e, &mut ir).unwrap();
        }
        for e in ir.drain(..) {
            encode(&e, &mut out);
        }
    }
    dec.finish(&mut ir).unwrap();
    for e in ir.drain(..) {
        encode(&e, &mut out);
    }
    out.len()
}

/// Splits a body into network-sized reads.
fn reads(body: &[u8]) -> Vec<&[u8]> {
    body.chunks(4096).collect()
}

fn streams(c: &mut Criterion) {
    const N: usize = 2000;
    let events = answer(N);
    let ctx = ResponseCtx {
        model: "claude-sonnet-4-5".into(),
        estimated_input_tokens: 1000,
        ..ResponseCtx::default()
    };
    let openai_body = upstream_body(&events, Dialect::OpenAi);
    let gemini_body = upstream_body(&events, Dialect::Gemini);
    let anthropic_body = upstream_body(&events, Dialect::Anthropic);
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(N as u64));
    for (name, dialect, body) in [
        (
            "openai_chunks_to_anthropic_sse",
            Dialect::OpenAi,
            &openai_body,
        ),
        (
            "gemini_chunks_to_anthropic_sse",
            Dialect::Gemini,
            &gemini_body,
        ),
    ] {
        g.bench_function(name, |b| {
            let chunks = reads(body);
            b.iter(|| {
                let mut enc = anthropic::StreamEncoder::new(&ctx);
                black_box(translate_sse(&chunks, dialect, |e, out| enc.encode(e, out)))
            })
        });
    }
    // Codex's routes: the same answer as Responses events.
    for (name, dialect, body) in [
        (
            "openai_chunks_to_responses_sse",
            Dialect::OpenAi,
            &openai_body,
        ),
        (
            "anthropic_sse_to_responses_sse",
            Dialect::Anthropic,
            &anthropic_body,
        ),
    ] {
        g.bench_function(name, |b| {
            let chunks = reads(body);
            b.iter(|| {
                let mut enc = responses::StreamEncoder::new(&ctx);
                black_box(translate_sse(&chunks, dialect, |e, out| enc.encode(e, out)))
            })
        });
    }
    // ConverseStream: text deltas (with the `p` padding AWS adds) framed as AWS sends them.
    let mut bedrock_body = Vec::new();
    let frame = llm_gateway::upstream::bedrock::eventstream::encode_event;
    bedrock_body.extend(frame(
        "messageStart",
        br#"{"p":"abcdefghijkl","role":"assistant"}"#,
    ));
    for i in 0..N {
        let payload = format!(
            r#"{{"contentBlockIndex":0,"delta":{{"text":"token{i} "}},"p":"abcdefghijklmnopqrstu"}}"#
        );
        bedrock_body.extend(frame("contentBlockDelta", payload.as_bytes()));
    }
    bedrock_body.extend(frame("contentBlockStop", br#"{"contentBlockIndex":0}"#));
    bedrock_body.extend(frame("messageStop", br#"{"stopReason":"end_turn"}"#));
    bedrock_body.extend(frame(
        "metadata",
        br#"{"usage":{"inputTokens":1000,"outputTokens":2000,"totalTokens":3000},"metrics":{"latencyMs":1}}"#,
    ));
    g.bench_function("bedrock_eventstream_to_anthropic_sse", |b| {
        let chunks = reads(&bedrock_body);
        b.iter(|| {
            let mut body = llm_gateway::upstream::bedrock::StreamBody::default();
            let mut enc = anthropic::StreamEncoder::new(&ctx);
            let (mut ir, mut out) = (Vec::new(), Vec::new());
            for chunk in &chunks {
                body.push(chunk, &mut ir).unwrap();
                for e in ir.drain(..) {
                    enc.encode(&e, &mut out);
                }
            }
            body.finish(&mut ir).unwrap();
            for e in ir.drain(..) {
                enc.encode(&e, &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, requests, streams);
criterion_main!(benches);
