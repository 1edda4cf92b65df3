//! The conformance matrix: client dialect x upstream kind x case, one line a cell. Same-dialect
//! cells (anthropic/anthropic, openai/openai|qwen|deepseek, gemini/gemini) run the fast path;
//! every other cell translates.

use serde_json::json;

use super::rig::*;
use llm_gateway::protocol::dialect;
use llm_gateway::protocol::ir::{Block, ErrorKind, ResponseFormat, StopReason};

pub(super) async fn run_cell(client: Client, kind: Kind, case: Case) {
    let rig = Rig::start(kind).await;
    rig.fake.push(upstream_reply(case, kind));
    let req = request(case, kind.model());
    let reply = rig.call(client, &req).await;

    // What the upstream received.
    let rec = rig.upstream_request();
    check_transport(kind, &rec, case.streams());
    let (up, raw) = upstream_ir(kind, &rec);
    assert_eq!(up.stream, case.streams(), "upstream stream flag");
    let blocks: Vec<&Block> = up.messages.iter().flat_map(|m| &m.content).collect();
    match case {
        Case::ToolRoundTrip => {
            assert_eq!(up.tools.len(), 1, "{raw}");
            assert!(
                blocks
                    .iter()
                    .any(|b| matches!(b, Block::ToolUse { name, input, .. }
                if name == "get_weather" && input["city"] == "Paris")),
                "{raw}"
            );
            assert!(
                blocks
                    .iter()
                    .any(|b| matches!(b, Block::ToolResult { content, .. }
                if format!("{content:?}").contains("18C and sunny"))),
                "{raw}"
            );
            if kind.dialect() == llm_gateway::protocol::ir::Dialect::Gemini {
                let decl = if kind == Kind::GeminiCli {
                    &raw["request"]["tools"][0]["functionDeclarations"][0]
                } else {
                    &raw["tools"][0]["functionDeclarations"][0]
                };
                assert!(decl["parametersJsonSchema"].is_object(), "{decl}");
                assert!(
                    decl["parametersJsonSchema"].get("$schema").is_none(),
                    "{decl}"
                );
            }
        }
        Case::ParallelTools => assert_eq!(up.tools.len(), 2, "{raw}"),
        Case::Thinking if kind != Kind::OpenAi => {
            assert!(up.thinking.is_some(), "thinking lost: {raw}")
        }
        Case::Image => assert!(
            blocks.iter().any(|b| matches!(b, Block::Image(_))),
            "image lost: {raw}"
        ),
        Case::Structured => assert!(
            matches!(up.response_format, Some(ResponseFormat::JsonSchema { .. })),
            "structured output lost: {raw}"
        ),
        _ => {}
    }

    // What the client received.
    let body = reply.text();
    match case {
        Case::UpstreamError => {
            assert_eq!(reply.status, 429, "{body}");
            assert_eq!(
                reply.headers["retry-after"],
                expected_retry_after(kind).as_str()
            );
            if client == Client::Responses {
                super::responses_client::check(case, kind, &reply);
            }
            let err = dialect::decode_error(client.dialect(), 429, &reply.body);
            assert_eq!(err.kind, ErrorKind::RateLimit, "{body}");
            rate_limit_shape(client, &expected_retry_after(kind), &reply.body);
            assert!(err.message.contains("slow down"), "{body}");
            rig.stop().await;
            return;
        }
        _ => assert_eq!(reply.status, 200, "{body}"),
    }
    let seen = if case.streams() {
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"),
            "{:?}",
            reply.headers
        );
        if client == Client::Anthropic {
            lint_anthropic(&reply.body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        }
        if client == Client::Responses {
            super::responses_client::check(case, kind, &reply);
        }
        seen_stream(client, &reply.body)
    } else {
        if client == Client::Responses {
            super::responses_client::check(case, kind, &reply);
        }
        seen_whole(client, &reply.body)
    };
    match case {
        Case::MidStreamCut => {
            assert!(seen.error.is_some(), "no error event: {body}");
            assert!(!seen.stopped, "a cut stream must not end cleanly: {body}");
            assert!("Hello there.".starts_with(&seen.text), "{body}");
        }
        Case::ToolRoundTrip => {
            assert_eq!(
                seen.tools,
                vec![("get_weather".to_string(), json!({"city": "Paris"}))],
                "{body}"
            );
            assert_eq!(seen.stop, Some(StopReason::ToolUse), "{body}");
        }
        Case::ParallelTools => {
            let names: Vec<&str> = seen.tools.iter().map(|t| t.0.as_str()).collect();
            assert_eq!(names, ["get_weather", "get_time"], "{body}");
            assert!(
                seen.tools.iter().all(|t| t.1 == json!({"city": "Paris"})),
                "{body}"
            );
            assert_eq!(seen.stop, Some(StopReason::ToolUse), "{body}");
        }
        Case::Thinking => {
            assert_eq!(seen.text, "42", "{body}");
            assert!(
                seen.thinking.contains("Let me think"),
                "thinking lost: {body}"
            );
        }
        Case::Structured => {
            assert_eq!(seen.text, STRUCTURED, "{body}");
        }
        _ => {
            assert_eq!(seen.text, "Hello there.", "{body}");
            assert_eq!(seen.stop, Some(StopReason::EndTurn), "{body}");
        }
    }
    if case != Case::MidStreamCut {
        assert!(seen.stopped, "{body}");
        assert_eq!(seen.usage.output_tokens, 5, "usage: {body}");
        assert_eq!(seen.usage.prompt_total(), 10, "usage: {body}");
        let rows = rig.gw.state.ledger().take();
        let row = rows.iter().find(|r| r.upstream == "up").expect("usage row");
        assert_eq!(row.counters.output_tokens, 5, "ledger");
    }
    if case == Case::Thinking && kind == Kind::Bedrock {
        super::bedrock::thinking_replay(&rig, client, &req, &seen).await;
    }
    rig.stop().await;
}

/// Every cell of clients x kinds x cases, as `matrix::<client>::to_<kind>::<case>`: a module per
/// client and per kind, a test per case. A new client dialect or upstream kind is one line in a
/// list below.
macro_rules! matrix {
    (clients: [$($client:ident $cmod:ident),+ $(,)?], kinds: $kinds:tt, cases: $cases:tt $(,)?) => {
        $(
            mod $cmod {
                use super::*;
                matrix!(@kinds $client, $kinds, $cases);
            }
        )+
    };
    (@kinds $client:ident, [$($kind:ident $kmod:ident),+ $(,)?], $cases:tt) => {
        $(
            mod $kmod {
                use super::*;
                matrix!(@cases $client, $kind, $cases);
            }
        )+
    };
    (@cases $client:ident, $kind:ident, [$($case:ident $test:ident),+ $(,)?]) => {
        $(
            #[tokio::test]
            async fn $test() {
                run_cell(Client::$client, Kind::$kind, Case::$case).await;
            }
        )+
    };
}

matrix! {
    clients: [Anthropic anthropic, OpenAi openai, Gemini gemini, Responses responses],
    kinds: [
        OpenAi to_openai,
        Anthropic to_anthropic,
        Gemini to_gemini,
        GeminiCli to_gemini_cli,
        Qwen to_qwen,
        DeepSeek to_deepseek,
        Azure to_azure,
        Responses to_responses,
        Bedrock to_bedrock,
    ],
    cases: [
        Plain plain,
        Stream stream,
        ToolRoundTrip tool_round_trip,
        ParallelTools parallel_tools,
        Thinking thinking,
        Image image,
        Structured structured,
        UpstreamError upstream_error,
        MidStreamCut mid_stream_cut,
    ],
}

/// A rate limit in the client's own words whatever the upstream called it (Bedrock's
/// `ThrottlingException`, Azure's `"code": "429"`): Anthropic's `rate_limit_error`, OpenAI's
/// `rate_limit_exceeded` code (Codex also reads its retry delay from "try again in Ns"),
/// Gemini's `RESOURCE_EXHAUSTED`.
pub(super) fn rate_limit_shape(client: Client, retry_after: &str, body: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match client {
        Client::Anthropic => {
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
        }
        Client::OpenAi => assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}"),
        Client::Responses => {
            assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("try again in {retry_after}s")),
                "{v}"
            );
        }
        Client::Gemini => {
            assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED", "{v}");
            assert_eq!(v["error"]["code"], 429, "{v}");
        }
    }
}
