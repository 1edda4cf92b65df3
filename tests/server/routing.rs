//! Routing through the server: prefix, alias, priority, disabled upstreams, failover before the
//! first byte, 429 cooldowns.

use std::time::Duration;

use crate::support::fake_openai::{CHAT_REPLY, FakeOpenAi, Reply, dead_base_url};
use crate::support::{Gateway, test_config, two_upstreams, upstream, view};

const MSGS: &str = r#""messages":[{"role":"user","content":"hi"}]"#;

fn chat(model: &str) -> String {
    format!(r#"{{"model":"{model}",{MSGS}}}"#)
}

#[tokio::test]
async fn prefix_alias_and_priority() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    let mut config = test_config();
    config
        .aliases
        .insert("claude-*".into(), "bb/qwen-coder".into());
    config.aliases.insert("fast".into(), "shared".into());
    let gw = Gateway::start(
        config,
        view(vec![
            upstream("aa", &a.base_url(), &["shared", "only-a"], 50),
            upstream("bb", &b.base_url(), &["shared"], 10),
        ]),
    )
    .await;

    // Priority: bb (10) before aa (50).
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("shared"))
            .await
            .status(),
        200
    );
    assert_eq!(b.requests().len(), 1);
    assert_eq!(b.requests()[0].json()["model"], "shared");

    // Prefix: the rest goes as is, listed or not.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("aa/unlisted-model"))
            .await
            .status(),
        200
    );
    assert_eq!(a.requests()[0].json()["model"], "unlisted-model");

    // Glob alias to a prefixed target; exact alias to a listed model.
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("claude-sonnet-4"))
            .await
            .status(),
        200
    );
    assert_eq!(b.requests()[1].json()["model"], "qwen-coder");
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("fast"))
            .await
            .status(),
        200
    );
    assert_eq!(b.requests()[2].json()["model"], "shared");

    assert_eq!(
        gw.post("/v1/chat/completions", &chat("only-a"))
            .await
            .status(),
        200
    );
    assert_eq!(a.requests().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn disabled_upstreams_get_no_traffic() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    let mut off = upstream("aa", &a.base_url(), &["m"], 1);
    off.enabled = false;
    let gw = Gateway::start(
        test_config(),
        view(vec![off, upstream("bb", &b.base_url(), &["m"], 100)]),
    )
    .await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    let resp = gw.post("/v1/chat/completions", &chat("aa/m")).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("disabled"));
    assert!(a.requests().is_empty());
    assert_eq!(b.requests().len(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn failover_on_connect_refused() {
    let b = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![
            upstream("dead", &dead_base_url().await, &["m"], 1),
            upstream("bb", &b.base_url(), &["m"], 2),
        ]),
    )
    .await;
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), CHAT_REPLY);
    let rows = gw.state.ledger().take();
    let dead = rows.iter().find(|r| r.upstream == "dead").unwrap();
    assert_eq!((dead.counters.requests, dead.counters.errors), (1, 1));
    gw.stop().await;
}

#[tokio::test]
async fn failover_on_5xx_and_last_error_passes_through() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.set_default(Reply::json(500, r#"{"error":{"message":"boom"}}"#));
    let gw = Gateway::start(test_config(), two_upstreams(&a, &b)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));

    // When the last candidate fails too, its own answer reaches the client.
    b.set_default(Reply::json(503, r#"{"error":{"message":"overloaded"}}"#));
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error":{"message":"overloaded"}}"#
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_429_with_retry_after_cools_the_upstream_down() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.push(Reply::json(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "60"));
    let gw = Gateway::start(test_config(), two_upstreams(&a, &b)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    // aa was asked once, then skipped while cooling.
    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn a_cooling_upstream_still_serves_when_it_is_the_only_one() {
    let a = FakeOpenAi::start().await;
    a.push(Reply::json(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "60"));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("aa", &a.base_url(), &["m"], 1)]),
    )
    .await;
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "60");
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!(a.requests().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn view_reload_takes_effect_at_once() {
    let a = FakeOpenAi::start().await;
    let gw = Gateway::start(test_config(), view(vec![])).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        404
    );
    gw.state
        .set_view(view(vec![upstream("aa", &a.base_url(), &["m"], 1)]));
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    gw.stop().await;
}

#[tokio::test]
async fn userinfo_in_a_base_url_goes_to_the_upstream_as_basic_auth_on_every_path() {
    let a = FakeOpenAi::start().await;
    // A keyless upstream (a relay with Basic auth), and one whose own bearer key wins.
    let mut relay = upstream("relay", &a.base_url(), &["m"], 1);
    relay.base_url = Some(format!("http://u%40ser:p%3Aw@{}/v1", a.addr));
    relay.auth = llm_gateway::store::records::AuthKind::None;
    let mut keyed = upstream("keyed", &a.base_url(), &["k"], 1);
    keyed.base_url = Some(format!("http://u:p@{}/v1", a.addr));
    let mut v = view(vec![relay, keyed]);
    v.secrets.remove("relay");
    let gw = Gateway::start(test_config(), v).await;
    // The fast path's template, and the translated path (an Anthropic client).
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    let anthropic = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(gw.post("/v1/messages", anthropic).await.status(), 200);
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("k")).await.status(),
        200
    );
    let auth: Vec<String> = a
        .requests()
        .iter()
        .map(|r| {
            let h = &r.headers;
            format!(
                "{} {}",
                h["authorization"].to_str().unwrap(),
                h["host"].to_str().unwrap()
            )
        })
        .collect();
    let host = a.addr.to_string();
    // base64("u@ser:p:w")
    assert_eq!(
        auth,
        [
            format!("Basic dUBzZXI6cDp3 {host}"),
            format!("Basic dUBzZXI6cDp3 {host}"),
            format!("Bearer sk-fake-keyed {host}"),
        ]
    );
    gw.stop().await;
}
