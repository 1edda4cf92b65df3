//! Claude Code-shaped traffic against translated upstreams: a captured-shape request (system
//! array with the attribution block and `cache_control`, a mid-conversation system message,
//! 20 turns of tool use with signed thinking, 25 tools with real JSON Schemas, adaptive thinking
//! with effort, `max_tokens` 64000, `context_management`, streaming, `anthropic-beta`).

use llm_gateway::protocol::ir::StopReason;
use llm_gateway::protocol::openai;
use serde_json::{Value, json};

use super::rig::*;
use crate::support::fake_openai;
use crate::support::test_config;
use crate::support::{fake_anthropic, fake_gemini};

pub const REQUEST: &str = include_str!("../fixtures/claude-code/request.json");
const LONG_TOOL: &str =
    "mcp__playwright__browser_navigate_to_the_page_and_wait_for_network_idle_state";
const BETA: &str = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24";

/// The upstream answers with some text and a call of `tool` (by its wire name).
async fn run(kind: Kind, tool_wire_name: &str) -> (Rig, ClientReply) {
    let mut config = test_config();
    config
        .aliases
        .insert("claude-*".into(), format!("up/{}", kind.model()));
    let rig = Rig::start_with(kind, config).await;
    let blocks = vec![
        text("Updating the README now."),
        llm_gateway::protocol::ir::Block::ToolUse {
            id: "call_9".into(),
            name: tool_wire_name.into(),
            input: json!({"url": "https://example.com"}).into(),
            signature: None,
        },
    ];
    let events = events_of(&blocks, StopReason::ToolUse);
    rig.fake.push(match kind {
        Kind::Gemini => fake_gemini::stream(&events),
        Kind::GeminiCli => fake_gemini::code_assist_stream(&events),
        Kind::Anthropic => fake_anthropic::stream(&events),
        _ => fake_openai::chunks(&events),
    });
    let reply = rig
        .send(
            Client::Anthropic,
            "claude-sonnet-4-5-20250929",
            true,
            REQUEST.to_string(),
            &[
                ("anthropic-beta", BETA),
                ("x-claude-code-session-id", "sess-1"),
            ],
        )
        .await;
    (rig, reply)
}

fn check_client(reply: &ClientReply) {
    let body = reply.text();
    assert_eq!(reply.status, 200, "{body}");
    lint_anthropic(&reply.body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let seen = seen_stream(Client::Anthropic, &reply.body);
    assert_eq!(seen.text, "Updating the README now.");
    assert_eq!(seen.tools.len(), 1, "{body}");
    assert_eq!(seen.tools[0].0, LONG_TOOL, "tool name mapped back: {body}");
    assert_eq!(seen.stop, Some(StopReason::ToolUse));
}

/// Anthropic-only fields and the attribution block never reach other providers, nor does the
/// tool schemas' `$schema` (Gemini's reducer drops it; the OpenAI-compatible adapter too, as
/// some compatible servers reject it).
fn check_no_anthropic_leftovers(raw: &str) {
    let banned = [
        "x-anthropic-billing-header",
        "cache_control",
        "context_management",
        "output_config",
        "ephemeral",
        "$schema",
    ];
    for banned in banned {
        assert!(!raw.contains(banned), "`{banned}` leaked upstream");
    }
}

#[tokio::test]
async fn claude_code_on_gemini() {
    let (rig, reply) = run(Kind::Gemini, LONG_TOOL).await;
    check_client(&reply);
    let rec = rig.upstream_request();
    check_transport(Kind::Gemini, &rec, true);
    let raw_text = String::from_utf8_lossy(&rec.body).into_owned();
    check_no_anthropic_leftovers(&raw_text);
    let raw: Value = rec.json();
    let g = &raw["generationConfig"];
    assert!(g["maxOutputTokens"].as_u64().unwrap() <= 65536, "{g}");
    assert!(g["thinkingConfig"].is_object(), "{g}");
    let decls = raw["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert_eq!(decls.len(), 25);
    for d in decls {
        let schema = d["parametersJsonSchema"].to_string();
        for k in ["propertyNames", "exclusiveMinimum", "$schema"] {
            assert!(!schema.contains(k), "{k} in {}: {schema}", d["name"]);
        }
    }
    assert!(raw["systemInstruction"].to_string().contains("Claude Code"));
    let contents = raw["contents"].as_array().unwrap();
    let all = raw["contents"].to_string();
    assert!(
        all.contains("working directory"),
        "mid-conversation system kept"
    );
    let count = |key: &str| {
        contents
            .iter()
            .flat_map(|c| c["parts"].as_array().unwrap())
            .filter(|p| p.get(key).is_some())
            .count()
    };
    assert_eq!(count("functionCall"), 9);
    assert_eq!(count("functionResponse"), 9);
    // Anthropic signatures never go to Gemini; the sentinel stands in where one is needed.
    assert!(!all.contains("EqMBCkgIBxABGAIiQK"));
    rig.stop().await;
}

#[tokio::test]
async fn claude_code_on_gemini_cli() {
    let (rig, reply) = run(Kind::GeminiCli, LONG_TOOL).await;
    check_client(&reply);
    let rec = rig.upstream_request();
    check_transport(Kind::GeminiCli, &rec, true);
    check_no_anthropic_leftovers(&String::from_utf8_lossy(&rec.body));
    let raw = rec.json();
    assert_eq!(
        raw["request"]["tools"][0]["functionDeclarations"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    rig.stop().await;
}

#[tokio::test]
async fn claude_code_on_openai() {
    let wire = openai::wire_tool_name(LONG_TOOL).into_owned();
    assert_ne!(wire, LONG_TOOL, "the MCP name is too long for OpenAI");
    let (rig, reply) = run(Kind::OpenAi, &wire).await;
    check_client(&reply);
    let rec = rig.upstream_request();
    check_transport(Kind::OpenAi, &rec, true);
    let raw_text = String::from_utf8_lossy(&rec.body).into_owned();
    check_no_anthropic_leftovers(&raw_text);
    let raw: Value = rec.json();
    assert!(raw["max_tokens"].as_u64().unwrap() <= 16384, "clamped");
    assert!(raw.get("thinking").is_none() && raw.get("reasoning_effort").is_none());
    assert_eq!(raw["stream_options"]["include_usage"], true);
    let msgs = raw["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert!(msgs[0]["content"].as_str().unwrap().contains("Claude Code"));
    assert!(
        msgs.iter()
            .skip(1)
            .any(|m| m.to_string().contains("working directory")),
        "mid-conversation system kept"
    );
    assert_eq!(msgs.iter().filter(|m| m["role"] == "tool").count(), 9);
    let tools = raw["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 25);
    assert!(tools.iter().any(|t| t["function"]["name"] == wire.as_str()));
    rig.stop().await;
}

#[tokio::test]
async fn claude_code_on_deepseek_clamps_and_replays_reasoning() {
    let wire = openai::wire_tool_name(LONG_TOOL).into_owned();
    let (rig, reply) = run(Kind::DeepSeek, &wire).await;
    check_client(&reply);
    let raw = rig.upstream_request().json();
    assert_eq!(
        raw["max_tokens"], 8192,
        "deepseek-chat accepts at most 8192"
    );
    for m in raw["messages"].as_array().unwrap() {
        if m["role"] == "assistant" && m.get("tool_calls").is_some() {
            assert!(m["reasoning_content"].is_string(), "{m}");
        }
    }
    rig.stop().await;
}

#[tokio::test]
async fn claude_code_on_anthropic_is_forwarded_untouched() {
    let (rig, reply) = {
        let mut config = test_config();
        config
            .aliases
            .insert("claude-*".into(), "up/claude-sonnet-4-5".into());
        let rig = Rig::start_with(Kind::Anthropic, config).await;
        let reply = rig
            .send(
                Client::Anthropic,
                "claude-sonnet-4-5-20250929",
                false,
                REQUEST.to_string(),
                &[("anthropic-beta", BETA)],
            )
            .await;
        (rig, reply)
    };
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = rig.upstream_request();
    assert_eq!(rec.headers["anthropic-beta"], BETA);
    assert_eq!(
        std::str::from_utf8(&rec.body).unwrap(),
        REQUEST.replace("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")
    );
    rig.stop().await;
}
