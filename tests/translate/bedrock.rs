//! AWS Bedrock through the gateway: Anthropic, OpenAI Chat and Gemini clients, whole and
//! streamed (the binary event stream read through `StreamBody`), a Bedrock API key sent as a
//! bearer token, the Converse URL form, a mid-stream exception frame, and a throttling error in
//! the client's shape. The fake is `support::fake_bedrock`.

use serde_json::{Value, json};

use crate::support::fake_bedrock::{self, FakeBedrock};
use crate::support::{Gateway, test_config, view};

const CLAUDE: &str = "anthropic.claude-3-haiku-20240307-v1:0";

async fn gateway(fake: &FakeBedrock, models: &[&str]) -> Gateway {
    Gateway::start(
        test_config(),
        view(vec![fake_bedrock::upstream("br", fake, models)]),
    )
    .await
}

#[tokio::test]
async fn anthropic_client_whole_reply_with_a_bedrock_api_key() {
    let fake = FakeBedrock::start().await;
    let gw = gateway(&fake, &[CLAUDE]).await;
    let body = json!({"model": CLAUDE, "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &body.to_string()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], "Hello from Bedrock");
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 7);
    let seen = fake.last();
    assert_eq!(
        seen.path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    assert_eq!(seen.headers["authorization"], "Bearer sk-fake-br");
    assert_eq!(seen.body["messages"][0]["content"][0]["text"], "hi");
    assert_eq!(seen.body["inferenceConfig"]["maxTokens"], 50);
    gw.stop().await;
}

#[tokio::test]
async fn openai_client_streams_from_the_event_stream() {
    let fake = FakeBedrock::start().await;
    let gw = gateway(&fake, &[CLAUDE]).await;
    let body = json!({"model": CLAUDE, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/chat/completions", &body.to_string()).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut out = String::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(s) = v["choices"][0]["delta"]["content"].as_str() {
            out.push_str(s);
        }
    }
    assert_eq!(out, "Hello from Bedrock", "{text}");
    assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(fake.last().path.ends_with("/converse-stream"));
    gw.stop().await;
}

#[tokio::test]
async fn gemini_client_whole_and_streamed() {
    let fake = FakeBedrock::start().await;
    let gw = gateway(&fake, &[CLAUDE]).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let r = gw
        .post(
            &format!("/v1beta/models/{CLAUDE}:generateContent"),
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from Bedrock"
    );
    let r = gw
        .post(
            &format!("/v1beta/models/{CLAUDE}:streamGenerateContent?alt=sse"),
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("Hello from") && text.contains(" Bedrock"),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_exception_frame_mid_stream_ends_the_anthropic_stream_with_an_error_event() {
    let fake = FakeBedrock::start().await;
    let gw = gateway(&fake, &["anthropic.claude-boom-v1:0"]).await;
    let body = json!({"model": "anthropic.claude-boom-v1:0", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &body.to_string()).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("Hello from"), "{text}");
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("the model stream broke"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");
    gw.stop().await;
}

#[tokio::test]
async fn throttling_is_a_429_in_the_clients_shape() {
    let fake = FakeBedrock::start().await;
    let gw = gateway(&fake, &["anthropic.claude-throttle-v1:0"]).await;
    let body = json!({"model": "anthropic.claude-throttle-v1:0",
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/chat/completions", &body.to_string()).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Too many requests")),
        "{v}"
    );
    let body = json!({"model": "anthropic.claude-throttle-v1:0", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &body.to_string()).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    gw.stop().await;
}

#[tokio::test]
async fn no_aws_credential_is_one_clear_error_naming_the_sources() {
    let fake = FakeBedrock::start().await;
    let mut rec = fake_bedrock::upstream("br", &fake, &[CLAUDE]);
    // Only this profile is tried: nothing from the machine's environment leaks in.
    rec.profile = Some("llm-gateway-test-no-such-profile".into());
    let mut v = view(vec![rec]);
    v.secrets.clear();
    let gw = Gateway::start(test_config(), v).await;
    let body = json!({"model": CLAUDE, "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &body.to_string()).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(status, 401, "{v}");
    assert!(msg.contains("llm-gateway-test-no-such-profile"), "{msg}");
    assert!(msg.contains("upstream `br`"), "{msg}");
    assert!(fake.seen.lock().unwrap().is_empty());
    gw.stop().await;
}

/// The thinking cell's second turn on Bedrock: the client sends its history back with the
/// reply as it holds it (Claude Code replays thinking blocks verbatim; Codex replays the
/// reasoning item's `encrypted_content`). Claude must get its own signature back unchanged, as
/// the first block of the assistant turn; a client that cannot carry a Claude signature (Chat,
/// Gemini) must not make the gateway send unsigned reasoning, which Claude refuses.
pub(super) async fn thinking_replay(
    rig: &super::rig::Rig,
    client: super::rig::Client,
    first: &llm_gateway::protocol::ir::Request,
    seen: &super::rig::Seen,
) {
    use super::rig::*;
    use llm_gateway::protocol::ir::{Message, Role};
    let mut req = first.clone();
    req.messages.push(Message {
        role: Role::Assistant,
        content: seen.blocks.clone(),
    });
    req.messages.push(user(vec![text("And the next step?")]));
    rig.fake.push(upstream_reply(Case::Thinking, Kind::Bedrock));
    let reply = rig.call(client, &req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let raw = rig.upstream_request().json();
    crate::support::fake_bedrock::check_rules(&raw);
    let messages = raw["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap_or_else(|| panic!("no assistant turn replayed: {raw}"));
    let reasoning: Vec<&Value> = messages
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .filter(|b| b.get("reasoningContent").is_some())
        .collect();
    match client {
        Client::Anthropic | Client::Responses => {
            assert_eq!(reasoning.len(), 1, "{raw}");
            assert_eq!(
                assistant["content"][0]["reasoningContent"]["reasoningText"],
                json!({"text": "Let me think.", "signature": CLAUDE_SIGNATURE}),
                "the signed thinking must open the assistant turn unchanged: {raw}"
            );
            assert_eq!(assistant["content"][1]["text"], "42", "{raw}");
        }
        Client::OpenAi | Client::Gemini => {
            assert!(
                reasoning.is_empty(),
                "unsigned reasoning reached Claude: {raw}"
            );
            assert_eq!(assistant["content"][0]["text"], "42", "{raw}");
        }
    }
}

/// Bedrock's other refusals in each client's own shape: `ServiceQuotaExceededException` is a
/// 400 with AWS's wording that no client should retry, `ModelNotReadyException` a rate limit
/// (429, the client's rate-limit shape, a retry delay).
#[tokio::test]
async fn quota_and_model_not_ready_in_every_clients_shape() {
    use super::rig::*;
    use llm_gateway::protocol::dialect;
    use llm_gateway::protocol::ir::ErrorKind;
    const QUOTA: &str = "The number of requests exceeds the quota for this account.";
    const NOT_READY: &str = "The model is not ready to serve inference requests.";
    for client in [
        Client::Anthropic,
        Client::OpenAi,
        Client::Gemini,
        Client::Responses,
    ] {
        let rig = Rig::start(Kind::Bedrock).await;
        let req = request(Case::Plain, Kind::Bedrock.model());
        rig.fake.push(fake_bedrock::exception(
            400,
            "ServiceQuotaExceededException",
            QUOTA,
        ));
        let reply = rig.call(client, &req).await;
        let body = reply.text();
        assert_eq!(reply.status, 400, "{client:?}: {body}");
        assert_eq!(reply.headers["x-should-retry"], "false", "{client:?}");
        let err = dialect::decode_error(client.dialect(), 400, &reply.body);
        assert_eq!(err.kind, ErrorKind::InvalidRequest, "{client:?}: {body}");
        assert!(err.message.contains(QUOTA), "{client:?}: {body}");
        assert_eq!(rig.fake.requests().len(), 1, "a quota is not retried");

        rig.fake.push(fake_bedrock::exception(
            429,
            "ModelNotReadyException",
            NOT_READY,
        ));
        let reply = rig.call(client, &req).await;
        let body = reply.text();
        assert_eq!(reply.status, 429, "{client:?}: {body}");
        let secs = llm_gateway::protocol::converse::THROTTLE_RETRY_SECS.to_string();
        assert_eq!(reply.headers["retry-after"], secs.as_str(), "{client:?}");
        let err = dialect::decode_error(client.dialect(), 429, &reply.body);
        assert_eq!(err.kind, ErrorKind::RateLimit, "{client:?}: {body}");
        assert!(err.message.contains(NOT_READY), "{client:?}: {body}");
        super::matrix::rate_limit_shape(client, &secs, &reply.body);
        rig.stop().await;
    }
}
