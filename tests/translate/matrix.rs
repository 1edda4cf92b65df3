//! The conformance matrix: client dialect x upstream kind x case, one line a cell. Same-dialect
//! cells (anthropic/anthropic, openai/openai|qwen|deepseek, gemini/gemini) run the fast path;
//! every other cell translates.

use serde_json::json;

use super::rig::*;
use llm_gateway::protocol::codec;
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
            assert_eq!(reply.headers["retry-after"], "7");
            let err = codec::decode_error(client.dialect(), 429, &reply.body);
            assert_eq!(err.kind, ErrorKind::RateLimit, "{body}");
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
        seen_stream(client, &reply.body)
    } else {
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
    rig.stop().await;
}

macro_rules! cell {
    ($name:ident, $client:ident, $kind:ident, $case:ident) => {
        #[tokio::test]
        async fn $name() {
            run_cell(Client::$client, Kind::$kind, Case::$case).await;
        }
    };
}

cell!(anthropic_to_openai_plain, Anthropic, OpenAi, Plain);
cell!(anthropic_to_openai_stream, Anthropic, OpenAi, Stream);
cell!(
    anthropic_to_openai_tool_round_trip,
    Anthropic,
    OpenAi,
    ToolRoundTrip
);
cell!(
    anthropic_to_openai_parallel_tools,
    Anthropic,
    OpenAi,
    ParallelTools
);
cell!(anthropic_to_openai_thinking, Anthropic, OpenAi, Thinking);
cell!(anthropic_to_openai_image, Anthropic, OpenAi, Image);
cell!(
    anthropic_to_openai_structured,
    Anthropic,
    OpenAi,
    Structured
);
cell!(
    anthropic_to_openai_upstream_error,
    Anthropic,
    OpenAi,
    UpstreamError
);
cell!(
    anthropic_to_openai_mid_stream_cut,
    Anthropic,
    OpenAi,
    MidStreamCut
);
cell!(anthropic_to_anthropic_plain, Anthropic, Anthropic, Plain);
cell!(anthropic_to_anthropic_stream, Anthropic, Anthropic, Stream);
cell!(
    anthropic_to_anthropic_tool_round_trip,
    Anthropic,
    Anthropic,
    ToolRoundTrip
);
cell!(
    anthropic_to_anthropic_parallel_tools,
    Anthropic,
    Anthropic,
    ParallelTools
);
cell!(
    anthropic_to_anthropic_thinking,
    Anthropic,
    Anthropic,
    Thinking
);
cell!(anthropic_to_anthropic_image, Anthropic, Anthropic, Image);
cell!(
    anthropic_to_anthropic_structured,
    Anthropic,
    Anthropic,
    Structured
);
cell!(
    anthropic_to_anthropic_upstream_error,
    Anthropic,
    Anthropic,
    UpstreamError
);
cell!(
    anthropic_to_anthropic_mid_stream_cut,
    Anthropic,
    Anthropic,
    MidStreamCut
);
cell!(anthropic_to_gemini_plain, Anthropic, Gemini, Plain);
cell!(anthropic_to_gemini_stream, Anthropic, Gemini, Stream);
cell!(
    anthropic_to_gemini_tool_round_trip,
    Anthropic,
    Gemini,
    ToolRoundTrip
);
cell!(
    anthropic_to_gemini_parallel_tools,
    Anthropic,
    Gemini,
    ParallelTools
);
cell!(anthropic_to_gemini_thinking, Anthropic, Gemini, Thinking);
cell!(anthropic_to_gemini_image, Anthropic, Gemini, Image);
cell!(
    anthropic_to_gemini_structured,
    Anthropic,
    Gemini,
    Structured
);
cell!(
    anthropic_to_gemini_upstream_error,
    Anthropic,
    Gemini,
    UpstreamError
);
cell!(
    anthropic_to_gemini_mid_stream_cut,
    Anthropic,
    Gemini,
    MidStreamCut
);
cell!(anthropic_to_gemini_cli_plain, Anthropic, GeminiCli, Plain);
cell!(anthropic_to_gemini_cli_stream, Anthropic, GeminiCli, Stream);
cell!(
    anthropic_to_gemini_cli_tool_round_trip,
    Anthropic,
    GeminiCli,
    ToolRoundTrip
);
cell!(
    anthropic_to_gemini_cli_parallel_tools,
    Anthropic,
    GeminiCli,
    ParallelTools
);
cell!(
    anthropic_to_gemini_cli_thinking,
    Anthropic,
    GeminiCli,
    Thinking
);
cell!(anthropic_to_gemini_cli_image, Anthropic, GeminiCli, Image);
cell!(
    anthropic_to_gemini_cli_structured,
    Anthropic,
    GeminiCli,
    Structured
);
cell!(
    anthropic_to_gemini_cli_upstream_error,
    Anthropic,
    GeminiCli,
    UpstreamError
);
cell!(
    anthropic_to_gemini_cli_mid_stream_cut,
    Anthropic,
    GeminiCli,
    MidStreamCut
);
cell!(anthropic_to_qwen_plain, Anthropic, Qwen, Plain);
cell!(anthropic_to_qwen_stream, Anthropic, Qwen, Stream);
cell!(
    anthropic_to_qwen_tool_round_trip,
    Anthropic,
    Qwen,
    ToolRoundTrip
);
cell!(
    anthropic_to_qwen_parallel_tools,
    Anthropic,
    Qwen,
    ParallelTools
);
cell!(anthropic_to_qwen_thinking, Anthropic, Qwen, Thinking);
cell!(anthropic_to_qwen_image, Anthropic, Qwen, Image);
cell!(anthropic_to_qwen_structured, Anthropic, Qwen, Structured);
cell!(
    anthropic_to_qwen_upstream_error,
    Anthropic,
    Qwen,
    UpstreamError
);
cell!(
    anthropic_to_qwen_mid_stream_cut,
    Anthropic,
    Qwen,
    MidStreamCut
);
cell!(anthropic_to_deepseek_plain, Anthropic, DeepSeek, Plain);
cell!(anthropic_to_deepseek_stream, Anthropic, DeepSeek, Stream);
cell!(
    anthropic_to_deepseek_tool_round_trip,
    Anthropic,
    DeepSeek,
    ToolRoundTrip
);
cell!(
    anthropic_to_deepseek_parallel_tools,
    Anthropic,
    DeepSeek,
    ParallelTools
);
cell!(
    anthropic_to_deepseek_thinking,
    Anthropic,
    DeepSeek,
    Thinking
);
cell!(anthropic_to_deepseek_image, Anthropic, DeepSeek, Image);
cell!(
    anthropic_to_deepseek_structured,
    Anthropic,
    DeepSeek,
    Structured
);
cell!(
    anthropic_to_deepseek_upstream_error,
    Anthropic,
    DeepSeek,
    UpstreamError
);
cell!(
    anthropic_to_deepseek_mid_stream_cut,
    Anthropic,
    DeepSeek,
    MidStreamCut
);
cell!(openai_to_openai_plain, OpenAi, OpenAi, Plain);
cell!(openai_to_openai_stream, OpenAi, OpenAi, Stream);
cell!(
    openai_to_openai_tool_round_trip,
    OpenAi,
    OpenAi,
    ToolRoundTrip
);
cell!(
    openai_to_openai_parallel_tools,
    OpenAi,
    OpenAi,
    ParallelTools
);
cell!(openai_to_openai_thinking, OpenAi, OpenAi, Thinking);
cell!(openai_to_openai_image, OpenAi, OpenAi, Image);
cell!(openai_to_openai_structured, OpenAi, OpenAi, Structured);
cell!(
    openai_to_openai_upstream_error,
    OpenAi,
    OpenAi,
    UpstreamError
);
cell!(
    openai_to_openai_mid_stream_cut,
    OpenAi,
    OpenAi,
    MidStreamCut
);
cell!(openai_to_anthropic_plain, OpenAi, Anthropic, Plain);
cell!(openai_to_anthropic_stream, OpenAi, Anthropic, Stream);
cell!(
    openai_to_anthropic_tool_round_trip,
    OpenAi,
    Anthropic,
    ToolRoundTrip
);
cell!(
    openai_to_anthropic_parallel_tools,
    OpenAi,
    Anthropic,
    ParallelTools
);
cell!(openai_to_anthropic_thinking, OpenAi, Anthropic, Thinking);
cell!(openai_to_anthropic_image, OpenAi, Anthropic, Image);
cell!(
    openai_to_anthropic_structured,
    OpenAi,
    Anthropic,
    Structured
);
cell!(
    openai_to_anthropic_upstream_error,
    OpenAi,
    Anthropic,
    UpstreamError
);
cell!(
    openai_to_anthropic_mid_stream_cut,
    OpenAi,
    Anthropic,
    MidStreamCut
);
cell!(openai_to_gemini_plain, OpenAi, Gemini, Plain);
cell!(openai_to_gemini_stream, OpenAi, Gemini, Stream);
cell!(
    openai_to_gemini_tool_round_trip,
    OpenAi,
    Gemini,
    ToolRoundTrip
);
cell!(
    openai_to_gemini_parallel_tools,
    OpenAi,
    Gemini,
    ParallelTools
);
cell!(openai_to_gemini_thinking, OpenAi, Gemini, Thinking);
cell!(openai_to_gemini_image, OpenAi, Gemini, Image);
cell!(openai_to_gemini_structured, OpenAi, Gemini, Structured);
cell!(
    openai_to_gemini_upstream_error,
    OpenAi,
    Gemini,
    UpstreamError
);
cell!(
    openai_to_gemini_mid_stream_cut,
    OpenAi,
    Gemini,
    MidStreamCut
);
cell!(openai_to_gemini_cli_plain, OpenAi, GeminiCli, Plain);
cell!(openai_to_gemini_cli_stream, OpenAi, GeminiCli, Stream);
cell!(
    openai_to_gemini_cli_tool_round_trip,
    OpenAi,
    GeminiCli,
    ToolRoundTrip
);
cell!(
    openai_to_gemini_cli_parallel_tools,
    OpenAi,
    GeminiCli,
    ParallelTools
);
cell!(openai_to_gemini_cli_thinking, OpenAi, GeminiCli, Thinking);
cell!(openai_to_gemini_cli_image, OpenAi, GeminiCli, Image);
cell!(
    openai_to_gemini_cli_structured,
    OpenAi,
    GeminiCli,
    Structured
);
cell!(
    openai_to_gemini_cli_upstream_error,
    OpenAi,
    GeminiCli,
    UpstreamError
);
cell!(
    openai_to_gemini_cli_mid_stream_cut,
    OpenAi,
    GeminiCli,
    MidStreamCut
);
cell!(openai_to_qwen_plain, OpenAi, Qwen, Plain);
cell!(openai_to_qwen_stream, OpenAi, Qwen, Stream);
cell!(openai_to_qwen_tool_round_trip, OpenAi, Qwen, ToolRoundTrip);
cell!(openai_to_qwen_parallel_tools, OpenAi, Qwen, ParallelTools);
cell!(openai_to_qwen_thinking, OpenAi, Qwen, Thinking);
cell!(openai_to_qwen_image, OpenAi, Qwen, Image);
cell!(openai_to_qwen_structured, OpenAi, Qwen, Structured);
cell!(openai_to_qwen_upstream_error, OpenAi, Qwen, UpstreamError);
cell!(openai_to_qwen_mid_stream_cut, OpenAi, Qwen, MidStreamCut);
cell!(openai_to_deepseek_plain, OpenAi, DeepSeek, Plain);
cell!(openai_to_deepseek_stream, OpenAi, DeepSeek, Stream);
cell!(
    openai_to_deepseek_tool_round_trip,
    OpenAi,
    DeepSeek,
    ToolRoundTrip
);
cell!(
    openai_to_deepseek_parallel_tools,
    OpenAi,
    DeepSeek,
    ParallelTools
);
cell!(openai_to_deepseek_thinking, OpenAi, DeepSeek, Thinking);
cell!(openai_to_deepseek_image, OpenAi, DeepSeek, Image);
cell!(openai_to_deepseek_structured, OpenAi, DeepSeek, Structured);
cell!(
    openai_to_deepseek_upstream_error,
    OpenAi,
    DeepSeek,
    UpstreamError
);
cell!(
    openai_to_deepseek_mid_stream_cut,
    OpenAi,
    DeepSeek,
    MidStreamCut
);
cell!(gemini_to_openai_plain, Gemini, OpenAi, Plain);
cell!(gemini_to_openai_stream, Gemini, OpenAi, Stream);
cell!(
    gemini_to_openai_tool_round_trip,
    Gemini,
    OpenAi,
    ToolRoundTrip
);
cell!(
    gemini_to_openai_parallel_tools,
    Gemini,
    OpenAi,
    ParallelTools
);
cell!(gemini_to_openai_thinking, Gemini, OpenAi, Thinking);
cell!(gemini_to_openai_image, Gemini, OpenAi, Image);
cell!(gemini_to_openai_structured, Gemini, OpenAi, Structured);
cell!(
    gemini_to_openai_upstream_error,
    Gemini,
    OpenAi,
    UpstreamError
);
cell!(
    gemini_to_openai_mid_stream_cut,
    Gemini,
    OpenAi,
    MidStreamCut
);
cell!(gemini_to_anthropic_plain, Gemini, Anthropic, Plain);
cell!(gemini_to_anthropic_stream, Gemini, Anthropic, Stream);
cell!(
    gemini_to_anthropic_tool_round_trip,
    Gemini,
    Anthropic,
    ToolRoundTrip
);
cell!(
    gemini_to_anthropic_parallel_tools,
    Gemini,
    Anthropic,
    ParallelTools
);
cell!(gemini_to_anthropic_thinking, Gemini, Anthropic, Thinking);
cell!(gemini_to_anthropic_image, Gemini, Anthropic, Image);
cell!(
    gemini_to_anthropic_structured,
    Gemini,
    Anthropic,
    Structured
);
cell!(
    gemini_to_anthropic_upstream_error,
    Gemini,
    Anthropic,
    UpstreamError
);
cell!(
    gemini_to_anthropic_mid_stream_cut,
    Gemini,
    Anthropic,
    MidStreamCut
);
cell!(gemini_to_gemini_plain, Gemini, Gemini, Plain);
cell!(gemini_to_gemini_stream, Gemini, Gemini, Stream);
cell!(
    gemini_to_gemini_tool_round_trip,
    Gemini,
    Gemini,
    ToolRoundTrip
);
cell!(
    gemini_to_gemini_parallel_tools,
    Gemini,
    Gemini,
    ParallelTools
);
cell!(gemini_to_gemini_thinking, Gemini, Gemini, Thinking);
cell!(gemini_to_gemini_image, Gemini, Gemini, Image);
cell!(gemini_to_gemini_structured, Gemini, Gemini, Structured);
cell!(
    gemini_to_gemini_upstream_error,
    Gemini,
    Gemini,
    UpstreamError
);
cell!(
    gemini_to_gemini_mid_stream_cut,
    Gemini,
    Gemini,
    MidStreamCut
);
cell!(gemini_to_gemini_cli_plain, Gemini, GeminiCli, Plain);
cell!(gemini_to_gemini_cli_stream, Gemini, GeminiCli, Stream);
cell!(
    gemini_to_gemini_cli_tool_round_trip,
    Gemini,
    GeminiCli,
    ToolRoundTrip
);
cell!(
    gemini_to_gemini_cli_parallel_tools,
    Gemini,
    GeminiCli,
    ParallelTools
);
cell!(gemini_to_gemini_cli_thinking, Gemini, GeminiCli, Thinking);
cell!(gemini_to_gemini_cli_image, Gemini, GeminiCli, Image);
cell!(
    gemini_to_gemini_cli_structured,
    Gemini,
    GeminiCli,
    Structured
);
cell!(
    gemini_to_gemini_cli_upstream_error,
    Gemini,
    GeminiCli,
    UpstreamError
);
cell!(
    gemini_to_gemini_cli_mid_stream_cut,
    Gemini,
    GeminiCli,
    MidStreamCut
);
cell!(gemini_to_qwen_plain, Gemini, Qwen, Plain);
cell!(gemini_to_qwen_stream, Gemini, Qwen, Stream);
cell!(gemini_to_qwen_tool_round_trip, Gemini, Qwen, ToolRoundTrip);
cell!(gemini_to_qwen_parallel_tools, Gemini, Qwen, ParallelTools);
cell!(gemini_to_qwen_thinking, Gemini, Qwen, Thinking);
cell!(gemini_to_qwen_image, Gemini, Qwen, Image);
cell!(gemini_to_qwen_structured, Gemini, Qwen, Structured);
cell!(gemini_to_qwen_upstream_error, Gemini, Qwen, UpstreamError);
cell!(gemini_to_qwen_mid_stream_cut, Gemini, Qwen, MidStreamCut);
cell!(gemini_to_deepseek_plain, Gemini, DeepSeek, Plain);
cell!(gemini_to_deepseek_stream, Gemini, DeepSeek, Stream);
cell!(
    gemini_to_deepseek_tool_round_trip,
    Gemini,
    DeepSeek,
    ToolRoundTrip
);
cell!(
    gemini_to_deepseek_parallel_tools,
    Gemini,
    DeepSeek,
    ParallelTools
);
cell!(gemini_to_deepseek_thinking, Gemini, DeepSeek, Thinking);
cell!(gemini_to_deepseek_image, Gemini, DeepSeek, Image);
cell!(gemini_to_deepseek_structured, Gemini, DeepSeek, Structured);
cell!(
    gemini_to_deepseek_upstream_error,
    Gemini,
    DeepSeek,
    UpstreamError
);
cell!(
    gemini_to_deepseek_mid_stream_cut,
    Gemini,
    DeepSeek,
    MidStreamCut
);
