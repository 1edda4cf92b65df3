//! A history whose last tool-calling assistant turn holds no thinking Claude signed, sent to
//! Claude with thinking on. Claude (on Anthropic and through Bedrock alike) refuses it: 400
//! "Expected `thinking` or `redacted_thinking`, but found `tool_use`". Such histories are
//! ordinary after a provider switch (Gemini 3 signed the thinking, and it is dropped on the
//! way to Claude) and from clients that cannot carry a signature (Chat), so the gateway sends
//! them without thinking. The Anthropic fake enforces the rule as the API does
//! (`fake_anthropic::check_request`); the Bedrock fake's request checks (`check_rules`) too.

use llm_gateway::protocol::ir::{
    self, Block, Dialect, Effort, Message, Role, Signature, ThinkingConfig, ThinkingMode,
};
use llm_gateway::protocol::responses::envelope;
use serde_json::{Value, json};

use super::rig::*;

/// A Gemini 3 thought signature as the Gemini codec holds it.
const GEMINI_SIG: &str = "CiQBcsjafGeminiThoughtSignature==";

/// The tool loop: a call the assistant made (after `thinking`, if any) and its result.
fn tool_loop(
    kind: Kind,
    client: Client,
    thinking: Option<Block>,
    call_sig: Option<Signature>,
) -> ir::Request {
    let mut assistant = Vec::new();
    assistant.extend(thinking);
    assistant.push(Block::ToolUse {
        id: "call_1".into(),
        name: "get_weather".into(),
        input: json!({"city": "Paris"}).into(),
        signature: call_sig,
    });
    let mut req = request(Case::Plain, kind.model());
    req.tools = vec![weather_tool()];
    req.thinking = Some(ThinkingConfig {
        mode: ThinkingMode::Enabled,
        // A Chat client says only `reasoning_effort`.
        budget_tokens: (client != Client::OpenAi).then_some(4096),
        effort: (client == Client::OpenAi).then_some(Effort::High),
        include_thoughts: Some(true),
    });
    req.messages = vec![
        user(vec![text("Weather in Paris?")]),
        Message {
            role: Role::Assistant,
            content: assistant,
        },
        user(vec![Block::ToolResult {
            tool_use_id: "call_1".into(),
            content: vec![text("18C and sunny")],
            is_error: false,
            cache_control: None,
        }]),
    ];
    req
}

fn thought(signature: Option<Signature>) -> Option<Block> {
    Some(Block::Thinking {
        text: "I should look the weather up.".into(),
        signature,
    })
}

fn gemini_sig() -> Option<Signature> {
    Some(Signature {
        origin: Dialect::Gemini,
        value: GEMINI_SIG.into(),
    })
}

/// Sends the history as `client` and checks Claude got it without thinking, tool loop intact.
async fn sent_without_thinking(kind: Kind, client: Client, body: Value) {
    let rig = Rig::start(kind).await;
    rig.fake.push(upstream_reply(Case::Plain, kind));
    let reply = rig
        .send(client, kind.model(), false, body.to_string(), &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let raw = rig.upstream_request().json();
    if kind == Kind::Bedrock {
        crate::support::fake_bedrock::check_rules(&raw);
        assert!(
            raw["additionalModelRequestFields"]
                .get("thinking")
                .is_none(),
            "{raw}"
        );
    } else {
        assert!(raw.get("thinking").is_none(), "{raw}");
    }
    let text = raw.to_string();
    assert!(text.contains("18C and sunny"), "tool result lost: {raw}");
    assert!(text.contains("get_weather"), "tool call lost: {raw}");
    let seen = seen_whole(client, &reply.body);
    assert_eq!(seen.text, "Hello there.", "{}", reply.text());
    rig.stop().await;
}

/// Claude Code that began on Gemini 3 and was switched to Claude: its history holds the
/// gateway's `gw.gemini.` thinking blocks, which are not Claude's to verify.
async fn anthropic_client_after_gemini(kind: Kind) {
    let req = tool_loop(kind, Client::Anthropic, None, None);
    let mut body = client_body(Client::Anthropic, &req);
    let signed = format!(
        "{}{GEMINI_SIG}",
        llm_gateway::protocol::anthropic::GEMINI_CARRIER_PREFIX
    );
    body["messages"][1]["content"]
        .as_array_mut()
        .unwrap()
        .insert(
            0,
            json!({"type": "thinking", "thinking": "I should look the weather up.",
            "signature": signed}),
        );
    sent_without_thinking(kind, Client::Anthropic, body).await;
}

/// Gemini CLI's own Gemini 3 history (thought and call signed by Gemini) routed to Claude.
async fn gemini_client_history(kind: Kind) {
    let req = tool_loop(kind, Client::Gemini, thought(gemini_sig()), gemini_sig());
    let body = client_body(Client::Gemini, &req);
    assert!(body.to_string().contains(GEMINI_SIG), "{body}");
    sent_without_thinking(kind, Client::Gemini, body).await;
}

/// A Chat client with `reasoning_effort`: its `reasoning_content` carries no signature.
async fn chat_client(kind: Kind) {
    let req = tool_loop(kind, Client::OpenAi, thought(None), None);
    let body = client_body(Client::OpenAi, &req);
    assert!(body.get("reasoning_effort").is_some(), "{body}");
    sent_without_thinking(kind, Client::OpenAi, body).await;
}

/// A Responses client whose history has a call without a reasoning item Claude signed.
async fn responses_client(kind: Kind) {
    let req = tool_loop(kind, Client::Responses, thought(None), None);
    let body = client_body(Client::Responses, &req);
    assert!(body.get("reasoning").is_some(), "{body}");
    sent_without_thinking(kind, Client::Responses, body).await;
}

macro_rules! cells {
    ($($name:ident => $f:ident($kind:ident);)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                $f(Kind::$kind).await;
            }
        )+
    };
}

cells! {
    anthropic_client_after_gemini_to_anthropic => anthropic_client_after_gemini(Anthropic);
    anthropic_client_after_gemini_to_bedrock => anthropic_client_after_gemini(Bedrock);
    gemini_client_history_to_anthropic => gemini_client_history(Anthropic);
    gemini_client_history_to_bedrock => gemini_client_history(Bedrock);
    chat_client_to_anthropic => chat_client(Anthropic);
    chat_client_to_bedrock => chat_client(Bedrock);
    responses_client_to_anthropic => responses_client(Anthropic);
    responses_client_to_bedrock => responses_client(Bedrock);
}

/// The rule's other side: a tool loop whose thinking Claude signed keeps thinking on (the
/// Responses client replays it in the gateway's envelope).
#[tokio::test]
async fn a_claude_signed_tool_loop_keeps_thinking() {
    for kind in [Kind::Anthropic, Kind::Bedrock] {
        let sig = Some(Signature {
            origin: Dialect::Anthropic,
            value: CLAUDE_SIGNATURE.into(),
        });
        let req = tool_loop(kind, Client::Responses, thought(sig), None);
        let mut body = client_body(Client::Responses, &req);
        // What the gateway gave the client for Claude's thinking: the sealed signature.
        let sealed = envelope::seal(&envelope::Carried::AnthropicThinking(
            CLAUDE_SIGNATURE.into(),
        ));
        let input = body["input"].as_array_mut().unwrap();
        input.retain(|i| i["type"] != "reasoning");
        let at = input
            .iter()
            .position(|i| i["type"] == "function_call")
            .unwrap();
        input.insert(
            at,
            json!({"type": "reasoning", "id": "rs_1", "encrypted_content": sealed,
                "summary": [{"type": "summary_text", "text": "I should look the weather up."}]}),
        );
        let rig = Rig::start(kind).await;
        rig.fake.push(upstream_reply(Case::Plain, kind));
        let reply = rig
            .send(
                Client::Responses,
                kind.model(),
                false,
                body.to_string(),
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let raw = rig.upstream_request().json();
        if kind == Kind::Bedrock {
            crate::support::fake_bedrock::check_rules(&raw);
            assert_eq!(
                raw["additionalModelRequestFields"]["thinking"]["type"], "enabled",
                "{raw}"
            );
        } else {
            assert_eq!(raw["thinking"]["type"], "enabled", "{raw}");
            assert_eq!(
                raw["messages"][1]["content"][0]["signature"], CLAUDE_SIGNATURE,
                "{raw}"
            );
        }
        rig.stop().await;
    }
}
