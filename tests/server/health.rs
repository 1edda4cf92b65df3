//! Upstream health through the server: a silent upstream fails over, the circuit breaker takes
//! a failing upstream out of rotation and probes it after its cooldown, an open upstream is the
//! last resort when the others fail and still serves when it is the only one, 429 cooldowns are per (upstream, model), `status --json`
//! shows health while the server runs, and Code Assist `countTokens` refreshes a refused token.
//! A translated stream whose first event is unreadable fails over like an unreadable reply.

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use llm_gateway::config::ProviderKind;
use llm_gateway::oauth::refresher::{self, RefreshSettings};
use llm_gateway::oauth::{MemoryStore, TokenSet, TokenStore};
use llm_gateway::routing::health::{BreakerSettings, HealthState};
use llm_gateway::secret::Secret;
use llm_gateway::store::ops::{Op, Reply as StoreReply};
use llm_gateway::store::records::{AuthKind, OAuthMeta, OAuthState, UpstreamRecord};
use tokio_util::sync::CancellationToken;

use crate::support::fake_oauth::{FAKE_REFRESH, FakeGoogle};
use crate::support::fake_openai::{CHAT_REPLY, FakeOpenAi, Reply, dead_base_url};
use crate::support::{
    Gateway, KEY, TestHome, check_exit, stdout, stdout_json, test_config, two_upstreams, upstream,
    view,
};

fn chat(model: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
}

/// A breaker that opens after 3 failures for 300 ms.
fn quick_breaker() -> BreakerSettings {
    BreakerSettings {
        threshold: 3,
        base: Duration::from_millis(300),
        cap: Duration::from_secs(2),
        probe_lease: Duration::from_secs(2),
    }
}

fn report(gw: &Gateway, name: &str) -> llm_gateway::routing::health::HealthReport {
    gw.state
        .health_report()
        .into_iter()
        .find(|h| h.name == name)
        .unwrap()
}

#[tokio::test]
async fn a_silent_upstream_fails_over_to_the_next() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.set_default(Reply::json(200, CHAT_REPLY).delay_first_byte(Duration::from_secs(5)));
    let mut config = test_config();
    config.timeouts.first_byte_secs = 1;
    let gw = Gateway::start(config, two_upstreams(&a, &b)).await;
    let started = Instant::now();
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), CHAT_REPLY);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    let h = report(&gw, "aa");
    assert_eq!(h.state, HealthState::Failing);
    assert_eq!(h.consecutive_failures, 1);
    assert!(
        h.last_error.as_deref().unwrap().contains("first byte"),
        "{h:?}"
    );
    let rows = gw.state.ledger().take();
    let aa = rows.iter().find(|r| r.upstream == "aa").unwrap();
    assert_eq!(aa.counters.errors, 1);
    gw.stop().await;
}

/// A translated stream whose first event cannot be read has sent the client nothing yet: like
/// an unreadable whole reply, it is the upstream's failure and the next one answers.
#[tokio::test]
async fn an_unreadable_first_stream_event_fails_over_to_the_next() {
    let good = [
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"from bb\"}}]}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ];
    for garbage in [
        "data: {this is not json\n\n",
        "data: {\"choices\":\"not a list\"}\n\n",
        "<html><body>Service Unavailable</body></html>",
    ] {
        let a = FakeOpenAi::start().await;
        let b = FakeOpenAi::start().await;
        a.push(Reply::sse(&[garbage]));
        b.push(Reply::sse(&good));
        let gw = Gateway::start(test_config(), two_upstreams(&a, &b)).await;
        // An Anthropic client on OpenAI upstreams: the stream is translated.
        let resp = Gateway::client()
            .post(gw.url("/v1/messages"))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .body(r#"{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{garbage}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("from bb"), "{garbage}: {text}");
        assert!(text.contains("event: message_stop"), "{garbage}: {text}");
        assert!(!text.contains("event: error"), "{garbage}: {text}");
        assert_eq!(
            (a.requests().len(), b.requests().len()),
            (1, 1),
            "{garbage}"
        );
        let h = report(&gw, "aa");
        assert_eq!(h.state, HealthState::Failing, "{garbage}");
        assert_eq!(h.consecutive_failures, 1);
        let rows = gw.state.ledger().take();
        let aa = rows.iter().find(|r| r.upstream == "aa").unwrap();
        assert_eq!(aa.counters.errors, 1, "{garbage}");
        gw.stop().await;
    }
}

#[tokio::test]
async fn a_failing_upstream_is_skipped_until_its_cooldown_ends_then_probed() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.set_default(Reply::json(503, r#"{"error":{"message":"down"}}"#));
    let gw = Gateway::start(test_config(), two_upstreams(&a, &b)).await;
    gw.state.set_breaker(quick_breaker());
    for _ in 0..3 {
        let resp = gw.post("/v1/chat/completions", &chat("m")).await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(a.requests().len(), 3);
    let h = report(&gw, "aa");
    assert_eq!(h.state, HealthState::Open, "{h:?}");
    assert_eq!(h.last_error.as_deref(), Some("HTTP 503"));
    assert!(h.open_until.is_some());

    // Open: skipped.
    for _ in 0..3 {
        let resp = gw.post("/v1/chat/completions", &chat("m")).await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(a.requests().len(), 3, "no traffic while open");
    assert_eq!(b.requests().len(), 6);

    // After the cooldown one request probes it; it has recovered, so it serves again.
    a.set_default(Reply::json(200, CHAT_REPLY));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!(a.requests().len(), 4, "probed");
    assert_eq!(report(&gw, "aa").state, HealthState::Healthy);
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!(a.requests().len(), 5);
    assert_eq!(b.requests().len(), 6);

    let metrics = gw.state.metrics_text();
    for to in ["open", "closed"] {
        assert!(
            metrics.contains(&format!(
                "llm_gateway_upstream_breaker_transitions_total{{upstream=\"aa\",to=\"{to}\"}} 1"
            )),
            "{metrics}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn an_open_upstream_is_the_last_resort_when_the_usable_ones_fail() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.set_default(Reply::json(503, r#"{"error":{"message":"down"}}"#));
    let gw = Gateway::start(test_config(), two_upstreams(&a, &b)).await;
    // Open for long enough that the test never races the cooldown.
    gw.state.set_breaker(BreakerSettings {
        base: Duration::from_secs(30),
        cap: Duration::from_secs(60),
        ..quick_breaker()
    });
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("m")).await.status(),
            200
        );
    }
    let opened = report(&gw, "aa");
    assert_eq!(opened.state, HealthState::Open);

    // Both down: the usable one first, then the open one; the client gets the last answer,
    // and the open one's cooldown is not extended by it.
    b.set_default(Reply::json(502, r#"{"error":{"message":"bad gateway"}}"#));
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!((a.requests().len(), b.requests().len()), (4, 4));
    let still = report(&gw, "aa");
    assert_eq!(still.state, HealthState::Open);
    assert_eq!(still.open_until, opened.open_until);

    // The open one has recovered before its cooldown ended: it answers, and its breaker closes.
    a.set_default(Reply::json(200, CHAT_REPLY));
    let resp = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), CHAT_REPLY.as_bytes());
    assert_eq!((a.requests().len(), b.requests().len()), (5, 5));
    assert_eq!(report(&gw, "aa").state, HealthState::Healthy);
    gw.stop().await;
}

#[tokio::test]
async fn a_failed_probe_reopens_and_the_only_open_upstream_still_serves() {
    let a = FakeOpenAi::start().await;
    a.set_default(Reply::json(500, r#"{"error":{"message":"boom"}}"#));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("aa", &a.base_url(), &["m"], 1)]),
    )
    .await;
    gw.state.set_breaker(quick_breaker());
    for _ in 0..4 {
        let resp = gw.post("/v1/chat/completions", &chat("m")).await;
        assert_eq!(resp.status(), 500, "the upstream's own answer");
    }
    assert_eq!(
        a.requests().len(),
        4,
        "the only upstream gets traffic, open or not"
    );
    assert_eq!(report(&gw, "aa").state, HealthState::Open);
    a.set_default(Reply::json(200, CHAT_REPLY));
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m")).await.status(),
        200
    );
    assert_eq!(report(&gw, "aa").state, HealthState::Healthy);
    gw.stop().await;
}

#[tokio::test]
async fn a_429_cools_that_model_only() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    a.push(Reply::json(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "60"));
    let gw = Gateway::start(
        test_config(),
        view(vec![
            upstream("aa", &a.base_url(), &["m1", "m2"], 1),
            upstream("bb", &b.base_url(), &["m1", "m2"], 2),
        ]),
    )
    .await;
    for model in ["m1", "m1", "m2"] {
        let resp = gw.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(resp.status(), 200);
    }
    // aa: m1 once (429), then skipped for m1, still first for m2.
    let asked: Vec<String> = a
        .requests()
        .iter()
        .map(|r| r.json()["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked, ["m1", "m2"]);
    assert_eq!(b.requests().len(), 2);
    let h = report(&gw, "aa");
    assert_eq!(h.state, HealthState::Cooling);
    assert_eq!(h.cooling.len(), 1);
    assert_eq!(h.cooling[0].model, "m1");
    assert_eq!(h.consecutive_failures, 0, "a 429 is not a breaker failure");
    gw.stop().await;
}

/// A gemini-cli upstream `gca` on the fake Google (OAuth state `state`), with an access token
/// the fake never issued, next to `others`.
async fn stale_token_gateway(
    g: &FakeGoogle,
    state: OAuthState,
    others: Vec<UpstreamRecord>,
) -> (Gateway, refresher::RefresherHandle, CancellationToken) {
    let mut config = g.config();
    let t = test_config().timeouts;
    config.timeouts = t;
    let record = UpstreamRecord {
        name: "gca".into(),
        provider: ProviderKind::GeminiCli,
        base_url: None,
        base_url_secret: false,
        models: vec!["gemini-2.5-pro".into()],
        models_discovered: false,
        priority: 1,
        enabled: true,
        auth: AuthKind::Oauth,
        region: None,
        api_version: None,
        wire: None,
        profile: None,
        created_at: 0,
        oauth: Some(OAuthMeta {
            account: Some("dev@example.com".into()),
            project: Some("proj-123".into()),
            tier: None,
            expires_at: None,
            last_refresh: None,
            state,
            last_error: None,
            resource_url: None,
        }),
    };
    let mut all = vec![record.clone()];
    all.extend(others);
    let gw = Gateway::start(config.clone(), view(all)).await;
    let store = Arc::new(MemoryStore::new());
    let tokens = TokenSet {
        access_token: Secret::new("ya29.never-issued"),
        refresh_token: Some(Secret::new(FAKE_REFRESH)),
        expiry: Some(llm_gateway::oauth::now() + 3600),
        token_type: "Bearer".into(),
        scope: None,
    };
    let reply = store
        .apply(Op::UpstreamAdd {
            record,
            secret: Some(tokens.to_secret()),
            base_url: None,
        })
        .await
        .unwrap();
    assert!(matches!(reply, StoreReply::Done));
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store as Arc<dyn TokenStore>,
        &config,
        RefreshSettings::default(),
        cancel.clone(),
    )
    .unwrap();
    gw.state.set_tokens(h.token_source());
    (gw, h, cancel)
}

#[tokio::test]
async fn count_tokens_replaces_a_refused_token_once() {
    let g = FakeGoogle::start().await;
    let (gw, _h, cancel) = stale_token_gateway(&g, OAuthState::Active, vec![]).await;
    let resp = Gateway::client()
        .post(gw.url("/v1beta/models/gemini-2.5-pro:countTokens"))
        .header("x-goog-api-key", KEY)
        .header("content-type", "application/json")
        .body(r#"{"contents":[{"role":"user","parts":[{"text":"Say hello."}]}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        v["totalTokens"], 7,
        "the upstream's count, not the estimate"
    );
    let seen = g.ca_seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].path.as_str(), seen[0].status),
        ("/v1internal:countTokens", 401)
    );
    assert_eq!(seen[1].status, 200);
    assert_eq!(Some(seen[1].token.clone()), g.newest_token(FAKE_REFRESH));
    assert_eq!(g.refresh_requests().len(), 1);
    cancel.cancel();
    gw.stop().await;
}

#[tokio::test]
async fn an_upstream_that_needs_a_new_login_is_skipped_up_front() {
    let g = FakeGoogle::start().await;
    let b = FakeOpenAi::start().await;
    let other = upstream("bb", &b.base_url(), &["gemini-2.5-pro"], 5);
    let (gw, _h, cancel) = stale_token_gateway(&g, OAuthState::NeedsLogin, vec![other]).await;
    // The refresher loads the logins in the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    while report(&gw, "gca").state != HealthState::NeedsLogin {
        assert!(Instant::now() < deadline, "{:?}", report(&gw, "gca"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..2 {
        let resp = gw
            .post("/v1/chat/completions", &chat("gemini-2.5-pro"))
            .await;
        assert_eq!(resp.status(), 200);
    }
    assert!(g.ca_seen().is_empty(), "no 401 round trip");
    assert_eq!(b.requests().len(), 2);
    // Alone, it is still tried, and says what to do.
    let resp = gw
        .post("/v1/chat/completions", &chat("gca/gemini-2.5-pro"))
        .await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("oauth login"));
    cancel.cancel();
    gw.stop().await;
}

// ---- through the real binary ----

async fn run(home: &TestHome, args: &[&str]) -> Output {
    let mut cmd = home.cmd();
    cmd.args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    check_exit(out, args, 0)
}

async fn run_json(home: &TestHome, args: &[&str]) -> serde_json::Value {
    stdout_json(&run(home, args).await, args)
}

fn health_of<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap()["health"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_health_while_the_server_runs() {
    let fake = FakeOpenAi::start().await;
    let home = TestHome::new();
    let dead = dead_base_url().await;
    let ok = fake.base_url();
    let add = |name: &'static str, url: String, models: &'static str, prio: &'static str| {
        let home = &home;
        async move {
            run(
                home,
                &[
                    "upstream",
                    "add",
                    name,
                    "--provider",
                    "openai",
                    "--base-url",
                    &url,
                    "--api-key",
                    "sk-fake-health",
                    "--models",
                    models,
                    "--priority",
                    prio,
                ],
            )
            .await
        }
    };
    add("dead", dead, "m", "1").await;
    add("ok", ok, "m,n", "2").await;
    let key = stdout(&run(&home, &["apikey", "add", "h"]).await)
        .trim()
        .to_string();
    let before = run_json(&home, &["status", "--json"]).await;
    assert!(health_of(&before["upstreams"], "ok").is_null(), "{before}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    run(&home, &["server", "start", "--detach", "--listen", &addr]).await;
    struct Stop<'a>(&'a TestHome);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.run(&["server", "stop"]);
        }
    }
    let stop = Stop(&home);

    let http = Gateway::client();
    let post = |model: &'static str| {
        http.post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(chat(model))
            .send()
    };
    fake.push(
        Reply::json(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "120"),
    );
    assert_eq!(post("n").await.unwrap().status(), 429);
    for _ in 0..3 {
        assert_eq!(post("m").await.unwrap().status(), 200);
    }

    let s = run_json(&home, &["status", "--json"]).await;
    let dead = health_of(&s["upstreams"], "dead");
    assert_eq!(dead["state"], "open", "{s}");
    assert_eq!(dead["consecutive_failures"], 3);
    assert_eq!(dead["last_error"], "connect error");
    assert!(dead["open_until"].as_str().unwrap().ends_with('Z'));
    let ok = health_of(&s["upstreams"], "ok");
    assert_eq!(ok["state"], "cooling", "{s}");
    assert_eq!(ok["cooling"][0]["model"], "n");
    assert_eq!(ok["cooling"][0]["reason"], "rate-limited");
    // Existing fields stay.
    assert_eq!(s["upstreams"][0]["provider"], "openai");
    // The gateway's own time over the four requests (and the start's readiness probes).
    let overhead = &s["server"]["overhead"];
    assert!(overhead["requests"].as_u64().unwrap() >= 4, "{s}");
    assert!(overhead["p50_ms"].as_f64().unwrap() <= overhead["p99_ms"].as_f64().unwrap());

    let list = run_json(&home, &["upstream", "list", "--json"]).await;
    assert_eq!(health_of(&list, "dead")["state"], "open");
    let show = run_json(&home, &["upstream", "show", "ok", "--json"]).await;
    assert_eq!(show["health"]["state"], "cooling");
    let text = stdout(&run(&home, &["status"]).await);
    assert!(text.contains("HEALTH"), "{text}");
    assert!(text.contains("overhead") && text.contains("p99"), "{text}");
    assert!(
        text.contains("open (3 failures, last: connect error"),
        "{text}"
    );
    assert!(!text.contains("sk-fake-health"));
    drop(stop);
}
