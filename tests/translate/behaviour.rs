//! Behaviour around the translation: pings during upstream silence, timeouts, garbage from an
//! upstream, token counts, model lists, Gemini paths with an upstream prefix, OAuth refresh on
//! 401, Code Assist quotas, and cancellation.

use std::time::{Duration, Instant};

use llm_gateway::protocol::ir::StopReason;
use serde_json::{Value, json};

use super::claude_code::REQUEST;
use super::rig::*;
use crate::support::fake_oauth::{FakeGoogle, RefreshMode};
use crate::support::fake_openai::{self, FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, fake_anthropic, fake_gemini, test_config, view};

fn hello_events() -> Vec<llm_gateway::protocol::stream::StreamEvent> {
    events_of(&[text("Hello there.")], StopReason::EndTurn)
}

#[tokio::test]
async fn pings_fill_upstream_silence() {
    let rig = Rig::start(Kind::OpenAi).await;
    // The real default is 10 s; the silences here are 400 ms.
    rig.gw.state.set_ping_interval(Duration::from_millis(100));
    rig.fake
        .push(fake_openai::chunks(&hello_events()).chunk_delay(Duration::from_millis(400)));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Stream, "gpt-4o"))
        .await;
    let body = reply.text();
    assert_eq!(reply.status, 200);
    lint_anthropic(&reply.body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let pings = body.matches("event: ping").count();
    assert!(pings >= 4, "{pings} pings:\n{body}");
    assert_eq!(
        seen_stream(Client::Anthropic, &reply.body).text,
        "Hello there."
    );
    rig.stop().await;
}

/// Every SSE client gets keep-alives its parser skips: OpenAI a `: ping` comment, Gemini a blank
/// line (google-genai hands any other line to its JSON parser); the JSON-array form gets none.
#[tokio::test]
async fn openai_and_gemini_clients_get_keep_alives() {
    // An Anthropic upstream, so that both clients are translated (not relayed).
    let rig = Rig::start(Kind::Anthropic).await;
    rig.gw.state.set_ping_interval(Duration::from_millis(100));
    let slow = || fake_anthropic::stream(&hello_events()).chunk_delay(Duration::from_millis(400));
    let model = Kind::Anthropic.model();

    rig.fake.push(slow());
    let reply = rig
        .call(Client::OpenAi, &request(Case::Stream, model))
        .await;
    let body = reply.text();
    let pings = body.matches(": ping\n\n").count();
    assert!(pings >= 2, "{pings} pings:\n{body}");
    let seen = seen_stream(Client::OpenAi, &reply.body);
    assert_eq!(seen.text, "Hello there.");
    assert!(seen.stopped, "{body}");

    rig.fake.push(slow());
    let reply = rig
        .call(Client::Gemini, &request(Case::Stream, model))
        .await;
    let body = reply.text();
    assert!(
        body.contains("\n\n\n"),
        "no blank-line keep-alive:\n{body:?}"
    );
    assert!(
        body.lines()
            .all(|l| l.is_empty() || l.starts_with("data: ")),
        "a line google-genai cannot parse:\n{body}"
    );
    let seen = seen_stream(Client::Gemini, &reply.body);
    assert_eq!(seen.text, "Hello there.");
    assert!(seen.stopped, "{body}");

    rig.fake.push(slow());
    let url = rig
        .gw
        .url(&format!("/v1beta/models/{model}:streamGenerateContent"));
    let req = client_body(Client::Gemini, &request(Case::Stream, model));
    let resp = Gateway::client()
        .post(url)
        .header("x-goog-api-key", KEY)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("\n\n"),
        "keep-alive in a JSON array:\n{body:?}"
    );
    let chunks: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(chunks.len() >= 2, "{body}");
    rig.stop().await;
}

/// An upstream that ignores `stream` and answers with one JSON reply: every client still gets
/// a complete, valid stream of it; a 200 carrying an error becomes the stream's error event.
#[tokio::test]
async fn a_whole_json_reply_to_a_stream_request_becomes_a_stream() {
    let whole = llm_gateway::protocol::ir::Response {
        id: "resp-whole".into(),
        model: "upstream-model".into(),
        content: vec![
            text("Checking the weather."),
            llm_gateway::protocol::ir::Block::ToolUse {
                id: "call_1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"}).into(),
                signature: None,
            },
        ],
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: usage(),
        extra: Default::default(),
    };
    // Client and upstream of different dialects (same-dialect replies are relayed as they are).
    for (kind, client) in [
        (Kind::OpenAi, Client::Anthropic),
        (Kind::OpenAi, Client::Gemini),
        (Kind::Gemini, Client::OpenAi),
    ] {
        let rig = Rig::start(kind).await;
        rig.fake.push(match kind {
            Kind::Gemini => fake_gemini::generate(&whole),
            _ => fake_openai::completion(&whole),
        });
        let reply = rig
            .call(client, &request(Case::ToolRoundTrip, kind.model()))
            .await;
        let body = reply.text();
        assert_eq!(reply.status, 200, "{body}");
        assert_eq!(
            reply.headers["content-type"], "text/event-stream",
            "{client:?}"
        );
        if client == Client::Anthropic {
            lint_anthropic(&reply.body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        }
        let seen = seen_stream(client, &reply.body);
        assert!(seen.error.is_none(), "{client:?}: {body}");
        assert!(seen.stopped, "{client:?}: {body}");
        assert_eq!(seen.stop, Some(StopReason::ToolUse), "{client:?}: {body}");
        assert_eq!(seen.text, "Checking the weather.", "{client:?}: {body}");
        assert_eq!(seen.usage.output_tokens, 5, "{client:?}: {body}");
        assert_eq!(seen.tools.len(), 1, "{client:?}: {body}");
        assert_eq!(seen.tools[0].0, "get_weather");
        assert_eq!(seen.tools[0].1, json!({"city": "Paris"}), "{body}");
        rig.stop().await;
    }

    let rig = Rig::start(Kind::OpenAi).await;
    rig.fake.push(Reply::json(
        200,
        r#"{"error":{"message":"Model is warming up","type":"server_error","code":null}}"#,
    ));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Stream, "gpt-4o"))
        .await;
    let body = reply.text();
    assert_eq!(reply.status, 200, "{body}");
    // The Anthropic SDKs raise on `event: error` whatever came before it.
    assert!(body.starts_with("event: error\n"), "{body}");
    let seen = seen_stream(Client::Anthropic, &reply.body);
    let err = seen.error.expect("an error event");
    assert_eq!(err.message, "Model is warming up");
    rig.stop().await;

    // Anthropic's error object, which its lenient reply decoder would take for an empty reply.
    let rig = Rig::start(Kind::Anthropic).await;
    rig.fake.push(Reply::json(
        200,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    ));
    let reply = rig
        .call(Client::OpenAi, &request(Case::Stream, "claude-sonnet-4-5"))
        .await;
    let body = reply.text();
    let seen = seen_stream(Client::OpenAi, &reply.body);
    let err = seen.error.expect("an error event, not an empty answer");
    assert_eq!(err.message, "Overloaded", "{body}");
    assert!(!seen.stopped, "{body}");
    rig.stop().await;
}

#[tokio::test]
async fn late_first_byte_is_504() {
    let mut config = test_config();
    config.timeouts.first_byte_secs = 1;
    let rig = Rig::start_with(Kind::Gemini, config).await;
    rig.fake
        .push(fake_gemini::stream(&hello_events()).delay_first_byte(Duration::from_secs(3)));
    let started = Instant::now();
    let reply = rig
        .call(Client::Anthropic, &request(Case::Stream, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(started.elapsed() < Duration::from_millis(2500));
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "timeout_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("first_byte_secs")
    );
    rig.stop().await;
}

#[tokio::test]
async fn garbage_from_the_upstream_is_502() {
    let rig = Rig::start(Kind::OpenAi).await;
    rig.fake.push(Reply::sse(&["data: {this is not json\n\n"]));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Stream, "gpt-4o"))
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );

    rig.fake.push(Reply::json(200, "<html>gateway page</html>"));
    let reply = rig
        .call(Client::Gemini, &request(Case::Plain, "gpt-4o"))
        .await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    rig.stop().await;
}

#[tokio::test]
async fn a_stream_without_events_is_an_error_not_an_empty_answer() {
    let rig = Rig::start(Kind::Anthropic).await;
    // 200, event-stream, then nothing at all.
    rig.fake.push(Reply::sse(&[": keep-alive\n\n"]));
    let reply = rig
        .call(Client::OpenAi, &request(Case::Stream, "claude-sonnet-4-5"))
        .await;
    assert_eq!(reply.status, 200);
    let seen = seen_stream(Client::OpenAi, &reply.body);
    assert!(seen.error.is_some(), "{}", reply.text());
    assert!(!seen.stopped);
    rig.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_a_translated_stream() {
    let rig = Rig::start(Kind::Gemini).await;
    let mut events = hello_events();
    // A long answer, slowly.
    for _ in 0..50 {
        events.insert(
            3,
            llm_gateway::protocol::stream::StreamEvent::BlockDelta {
                index: 0,
                delta: llm_gateway::protocol::stream::Delta::Text("more ".into()),
            },
        );
    }
    rig.fake
        .push(fake_gemini::stream(&events).chunk_delay(Duration::from_millis(100)));
    let body = client_body(Client::Anthropic, &request(Case::Stream, "gemini-2.5-pro"));
    let mut resp = Gateway::client()
        .post(rig.gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    drop(resp);
    assert!(rig.fake.wait_cancelled(Duration::from_secs(3)).await);
    rig.stop().await;
}

async fn count(rig: &Rig, body: &str) -> u64 {
    let resp = Gateway::client()
        .post(rig.gw.url("/v1/messages/count_tokens?beta=true"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["input_tokens"].as_u64().unwrap()
}

#[tokio::test]
async fn count_tokens_includes_system_and_tools() {
    let rig = Rig::start(Kind::OpenAi).await;
    let mut req: Value = serde_json::from_str(REQUEST).unwrap();
    req["model"] = json!("gpt-4o");
    let full = count(&rig, &req.to_string()).await;
    req.as_object_mut().unwrap().remove("tools");
    let no_tools = count(&rig, &req.to_string()).await;
    req.as_object_mut().unwrap().remove("system");
    let bare = count(&rig, &req.to_string()).await;
    assert!(full > no_tools + 4000, "tools count: {no_tools} -> {full}");
    assert!(
        no_tools > bare + 1000,
        "system counts: {bare} -> {no_tools}"
    );
    assert!(rig.fake.requests().is_empty(), "estimated locally");
    rig.stop().await;
}

#[tokio::test]
async fn count_tokens_asks_gemini_upstreams() {
    for kind in [Kind::Gemini, Kind::GeminiCli] {
        let rig = Rig::start(kind).await;
        rig.fake.push(Reply::json(200, r#"{"totalTokens": 4321}"#));
        let body = json!({"model": "gemini-2.5-pro", "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hi"}]});
        assert_eq!(count(&rig, &body.to_string()).await, 4321, "{kind:?}");
        let rec = rig.upstream_request();
        let raw = rec.json();
        match kind {
            Kind::Gemini => {
                assert_eq!(rec.path, "/v1beta/models/gemini-2.5-pro:countTokens");
                assert_eq!(
                    raw["generateContentRequest"]["model"],
                    "models/gemini-2.5-pro"
                );
                assert!(raw["generateContentRequest"]["systemInstruction"].is_object());
            }
            _ => {
                assert_eq!(rec.path, "/v1internal:countTokens");
                assert_eq!(raw["request"]["model"], "models/gemini-2.5-pro");
            }
        }
        // A failing upstream count falls back to the estimate.
        rig.fake.push(Reply::json(500, "{}"));
        assert!(count(&rig, &body.to_string()).await > 0);
        rig.stop().await;
    }
}

/// A Gemini CLI history that carries another provider's reasoning in the gateway's wrapping
/// (`gw.openai.` thought signatures, a conversation begun on a Responses upstream) is not
/// forwarded as it is to a Gemini upstream's `countTokens`, which would refuse the foreign
/// signature: the count is asked without it.
#[tokio::test]
async fn gemini_count_tokens_drops_foreign_signatures() {
    let rig = Rig::start(Kind::Gemini).await;
    rig.fake.push(Reply::json(200, r#"{"totalTokens": 77}"#));
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "Read it."}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read", "args": {"p": "a"}},
            "thoughtSignature": "gw.openai.rs_1:RU5DUllQVEVE"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read", "response": {"ok": true}}}]}
    ]});
    let resp = Gateway::client()
        .post(rig.gw.url("/v1beta/models/gemini-2.5-pro:countTokens"))
        .header("x-goog-api-key", KEY)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    let rec = rig.upstream_request();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["totalTokens"], 77, "{v}");
    assert_eq!(rec.path, "/v1beta/models/gemini-2.5-pro:countTokens");
    let sent = String::from_utf8_lossy(&rec.body).into_owned();
    assert!(!sent.contains("gw."), "{sent}");
    assert!(sent.contains("Read it."), "{sent}");
    rig.stop().await;
}

#[tokio::test]
async fn gemini_count_tokens_is_local_for_other_upstreams() {
    let rig = Rig::start(Kind::OpenAi).await;
    let resp = Gateway::client()
        .post(rig.gw.url("/v1beta/models/gpt-4o:countTokens"))
        .header("x-goog-api-key", KEY)
        .body(r#"{"contents":[{"role":"user","parts":[{"text":"hello there, how are you"}]}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["totalTokens"].as_u64().unwrap() > 3, "{v}");
    rig.stop().await;
}

#[tokio::test]
async fn model_lists_in_each_shape() {
    let rig = Rig::start(Kind::Gemini).await;
    let v: Value = Gateway::client()
        .get(rig.gw.url("/v1/models?limit=1000"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &v["data"][0];
    assert_eq!(m["id"], "gemini-2.5-pro");
    assert_eq!(m["display_name"], "gemini-2.5-pro");
    assert_eq!(m["type"], "model");
    assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["has_more"], false);
    assert_eq!(v["first_id"], "gemini-2.5-pro");
    assert_eq!(v["last_id"], "gemini-2.5-pro");
    // The OpenAI fields are there too.
    assert_eq!(v["object"], "list");
    assert_eq!(m["object"], "model");
    assert_eq!(m["owned_by"], "up");

    let resp = Gateway::client()
        .get(rig.gw.url("/v1beta/models"))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let m = &v["models"][0];
    assert_eq!(m["name"], "models/gemini-2.5-pro");
    assert_eq!(m["displayName"], "gemini-2.5-pro");
    assert!(
        m["supportedGenerationMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("streamGenerateContent"))
    );
    // Unauthenticated: a Gemini-shaped 401.
    let resp = Gateway::client()
        .get(rig.gw.url("/v1beta/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    rig.stop().await;
}

#[tokio::test]
async fn gemini_paths_with_an_upstream_prefix() {
    let fake = FakeOpenAi::start().await;
    let mut rec = record(Kind::OpenAi, &fake);
    rec.name = "oai".into();
    rec.models = vec!["gpt-4o-mini".into()];
    let gw = Gateway::start(test_config(), view(vec![rec])).await;
    let body = client_body(Client::Gemini, &request(Case::Plain, "x"));
    for path in [
        "/v1beta/models/oai/gpt-4o-mini:generateContent",
        "/v1/models/oai%2Fgpt-4o-mini:generateContent",
        "/v1beta/models/models/oai/gpt-4o-mini:generateContent",
    ] {
        let resp = Gateway::client()
            .post(gw.url(path))
            .header("x-goog-api-key", KEY)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"], "hello",
            "{v}"
        );
        let up = fake.requests().pop().unwrap().json();
        assert_eq!(up["model"], "gpt-4o-mini", "{path}");
    }
    // Streaming under /v1, `?key=` auth.
    let resp = Gateway::client()
        .post(gw.url(&format!(
            "/v1/models/oai/gpt-4o-mini:streamGenerateContent?alt=sse&key={KEY}"
        )))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let up = fake.requests().pop().unwrap().json();
    assert_eq!(up["stream"], true);
    // An unknown method is a Gemini-shaped 404.
    let resp = Gateway::client()
        .post(gw.url("/v1beta/models/oai/gpt-4o-mini:embedContent"))
        .header("x-goog-api-key", KEY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn gemini_stream_without_alt_sse_is_a_json_array() {
    let rig = Rig::start(Kind::OpenAi).await;
    rig.fake.push(fake_openai::chunks(&hello_events()));
    let body = client_body(Client::Gemini, &request(Case::Stream, "gpt-4o"));
    let resp = Gateway::client()
        .post(rig.gw.url("/v1beta/models/gpt-4o:streamGenerateContent"))
        .header("x-goog-api-key", KEY)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let chunks = v.as_array().expect("a JSON array");
    let text: String = chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "Hello there.");
    rig.stop().await;
}

fn plain_reply() -> Reply {
    let resp = llm_gateway::protocol::ir::Response {
        id: "r".into(),
        model: "gemini-2.5-pro".into(),
        content: vec![text("Hello there.")],
        stop_reason: Some(StopReason::EndTurn),
        usage: usage(),
        ..Default::default()
    };
    fake_gemini::code_assist_generate(&resp)
}

#[tokio::test]
async fn oauth_401_refreshes_the_token_once_and_retries() {
    let g = FakeGoogle::start().await;
    let mut config = g.config();
    config.timeouts = test_config().timeouts;
    let rig = Rig::start_with(Kind::GeminiCli, config).await;
    let unauth = llm_gateway::protocol::ir::ApiError::new(
        401,
        llm_gateway::protocol::ir::ErrorKind::Authentication,
        "Request had invalid authentication credentials.",
    );
    rig.fake.push(fake_gemini::error(&unauth));
    rig.fake.push(plain_reply());
    let reply = rig
        .call(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reqs = rig.fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert_ne!(
        reqs[1].headers["authorization"],
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert_eq!(g.refresh_requests().len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_dead_login_is_401_with_the_login_command() {
    let g = FakeGoogle::start().await;
    g.set(|s| s.refresh = RefreshMode::InvalidGrant);
    let mut config = g.config();
    config.timeouts = test_config().timeouts;
    let fake = FakeOpenAi::start().await;
    let rec = record(Kind::GeminiCli, &fake);
    let gw = Gateway::start(config.clone(), view(vec![rec.clone()])).await;
    let (_h, cancel) = token_source(&gw, rec, &config, 0).await;
    let body = client_body(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"));
    let resp = Gateway::client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("llm-gateway oauth login gemini-cli --name up"),
        "{msg}"
    );
    assert!(fake.requests().is_empty());
    cancel.cancel();
    gw.stop().await;
}

const QUOTA_30S: &str = r#"{"error":{"code":429,"message":"You have exhausted your capacity on this model.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;
const QUOTA_DAILY: &str = r#"[{"error":{"code":429,"message":"Quota exceeded for quota metric 'Gemini requests' and limit 'per day'.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel"}]}]}}]"#;

#[tokio::test]
async fn code_assist_quota_cools_down_and_fails_over() {
    let ca = FakeOpenAi::start().await;
    let oai = FakeOpenAi::start().await;
    let first = record(Kind::GeminiCli, &ca);
    let mut second = record(Kind::OpenAi, &oai);
    second.name = "b".into();
    second.priority = 200;
    second.models = vec!["gemini-2.5-pro".into()];
    let config = test_config();
    let gw = Gateway::start(config.clone(), view(vec![first.clone(), second])).await;
    let (_h, cancel) = token_source(&gw, first, &config, 3600).await;
    ca.push(Reply::json(429, QUOTA_30S));
    let body = client_body(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"));
    for _ in 0..2 {
        let resp = Gateway::client()
            .post(gw.url("/v1/messages"))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["content"][0]["text"], "hello");
    }
    assert_eq!(ca.requests().len(), 1, "cooling down after the 429");
    assert_eq!(oai.requests().len(), 2);
    cancel.cancel();
    gw.stop().await;
}

#[tokio::test]
async fn a_spent_daily_quota_is_not_retried() {
    let rig = Rig::start(Kind::GeminiCli).await;
    rig.fake.push(Reply::json(429, QUOTA_DAILY));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.headers["x-should-retry"], "false");
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("per day"));
    rig.stop().await;
}

#[tokio::test]
async fn overloaded_upstreams_are_529_for_anthropic_clients() {
    let rig = Rig::start(Kind::Gemini).await;
    let err = llm_gateway::protocol::ir::ApiError::new(
        503,
        llm_gateway::protocol::ir::ErrorKind::Unavailable,
        "The model is overloaded. Please try again later.",
    );
    rig.fake.push(fake_gemini::error(&err));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 529);
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    assert_eq!(
        v["error"]["message"],
        "The model is overloaded. Please try again later."
    );
    // A context-length error in Gemini's words becomes Anthropic's.
    let err = llm_gateway::protocol::ir::ApiError::new(
        400,
        llm_gateway::protocol::ir::ErrorKind::InvalidRequest,
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    );
    rig.fake.push(fake_gemini::error(&err));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 400);
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        v["error"]["message"],
        "prompt is too long: 1200000 tokens > 1048576 maximum"
    );
    rig.stop().await;
}

#[tokio::test]
async fn usage_is_accounted_from_translated_streams() {
    let rig = Rig::start(Kind::Gemini).await;
    rig.fake.push(fake_gemini::stream(&hello_events()));
    let reply = rig
        .call(Client::Anthropic, &request(Case::Stream, "gemini-2.5-pro"))
        .await;
    assert_eq!(reply.status, 200);
    let rows = rig.gw.state.ledger().take();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].model, "gemini-2.5-pro");
    assert_eq!(rows[0].counters.input_tokens, 10);
    assert_eq!(rows[0].counters.output_tokens, 5);
    assert_eq!(rows[0].counters.errors, 0);
    let metrics = rig.gw.state.metrics_text();
    assert!(metrics.contains("gemini-2.5-pro"), "{metrics}");
    rig.stop().await;
}

#[tokio::test]
async fn rules_edit_the_translated_wire_request() {
    let mut config = test_config();
    config.rules = toml::from_str::<toml::Table>(
        r#"
[[rules]]
match = "gemini-*"
extra = { generationConfig = { topK = 5 } }
"#,
    )
    .unwrap()
    .get("rules")
    .unwrap()
    .clone()
    .try_into()
    .unwrap();
    for kind in [Kind::Gemini, Kind::GeminiCli] {
        let rig = Rig::start_with(kind, config.clone()).await;
        rig.fake.push(upstream_reply(Case::Plain, kind));
        let reply = rig
            .call(Client::Anthropic, &request(Case::Plain, "gemini-2.5-pro"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let raw = rig.upstream_request().json();
        let g = if kind == Kind::GeminiCli {
            &raw["request"]["generationConfig"]
        } else {
            &raw["generationConfig"]
        };
        assert_eq!(g["topK"], 5, "{raw}");
        assert!(g["maxOutputTokens"].is_u64(), "the rest is kept: {raw}");
        // A Gemini client's body would need editing: it is translated, not forwarded.
        rig.fake.push(upstream_reply(Case::Plain, kind));
        let reply = rig
            .call(Client::Gemini, &request(Case::Plain, "gemini-2.5-pro"))
            .await;
        assert_eq!(reply.status, 200);
        let raw = rig.upstream_request().json();
        let g = if kind == Kind::GeminiCli {
            &raw["request"]["generationConfig"]
        } else {
            &raw["generationConfig"]
        };
        assert_eq!(g["topK"], 5, "{raw}");
        rig.stop().await;
    }
}

#[tokio::test]
async fn legacy_completions_on_a_translated_upstream() {
    let rig = Rig::start(Kind::Anthropic).await;
    let resp = llm_gateway::protocol::ir::Response {
        id: "r".into(),
        model: "claude-sonnet-4-5".into(),
        content: vec![text("Hello there.")],
        stop_reason: Some(StopReason::EndTurn),
        usage: usage(),
        ..Default::default()
    };
    rig.fake
        .push(crate::support::fake_anthropic::message(&resp));
    let v: Value = Gateway::client()
        .post(rig.gw.url("/v1/completions"))
        .bearer_auth(KEY)
        .body(r#"{"model":"claude-sonnet-4-5","prompt":"Say hello","max_tokens":50}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Hello there.");
    let up = rig.upstream_request().json();
    assert_eq!(up["messages"][0]["content"][0]["text"], "Say hello", "{up}");
    assert_eq!(up["max_tokens"], 50);

    rig.fake
        .push(crate::support::fake_anthropic::stream(&hello_events()));
    let text = Gateway::client()
        .post(rig.gw.url("/v1/completions"))
        .bearer_auth(KEY)
        .body(r#"{"model":"claude-sonnet-4-5","prompt":"Say hello","stream":true}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"text_completion\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    rig.stop().await;
}

#[tokio::test]
async fn gemini_cli_upper_case_schemas_reach_openai_as_json_schema() {
    let rig = Rig::start(Kind::OpenAi).await;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "Rate this."}]}],
        "generationConfig": {"responseMimeType": "application/json",
            "responseJsonSchema": {"type": "OBJECT", "properties": {
                "score": {"type": "INTEGER"}, "why": {"type": "STRING"}}, "required": ["score"]}},
        "tools": [{"functionDeclarations": [{"name": "read_file",
            "parameters": {"type": "OBJECT", "properties": {"path": {"type": "STRING"}}}}]}]
    });
    let reply = rig
        .send(Client::Gemini, "gpt-4o", false, body.to_string(), &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let raw = rig.upstream_request().json();
    let schema = &raw["response_format"]["json_schema"]["schema"];
    assert_eq!(schema["type"], "object", "{raw}");
    assert_eq!(schema["properties"]["score"]["type"], "integer", "{raw}");
    let params = &raw["tools"][0]["function"]["parameters"];
    assert_eq!(params["properties"]["path"]["type"], "string", "{raw}");
    rig.stop().await;
}
