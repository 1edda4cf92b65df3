//! Gateway keys in all four places, refusals in the OpenAI shape, model globs, rate limits.

use crate::support::fake_openai::FakeOpenAi;
use crate::support::{Gateway, KEY, key_record, test_config, upstream, view};

const BODY: &str = r#"{"model":"m","messages":[]}"#;

async fn gateway(fake: &FakeOpenAi) -> Gateway {
    let mut v = view(vec![upstream("oai", &fake.base_url(), &["m", "gpt-4o"], 1)]);
    let mut off = key_record("off", "lgw_test_disabled_key");
    off.enabled = false;
    let mut gone = key_record("gone", "lgw_test_revoked_key");
    gone.revoked = true;
    let mut limited = key_record("limited", "lgw_test_limited_key");
    limited.rpm = Some(2);
    let mut narrow = key_record("narrow", "lgw_test_narrow_key");
    narrow.models = vec!["gpt-*".into()];
    v.keys.extend([off, gone, limited, narrow]);
    Gateway::start(test_config(), v).await
}

#[tokio::test]
async fn key_in_all_four_places() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake).await;
    let c = Gateway::client();
    let url = gw.url("/v1/chat/completions");
    let sends = [
        c.post(&url).bearer_auth(KEY),
        c.post(&url).header("x-api-key", KEY),
        c.post(&url).header("x-goog-api-key", KEY),
        c.post(format!("{url}?key={KEY}")),
    ];
    for rb in sends {
        let resp = rb.body(BODY).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // The gateway key never reaches the upstream.
    for r in fake.requests() {
        assert_eq!(r.headers["authorization"], "Bearer sk-fake-oai");
        assert!(r.headers.get("x-api-key").is_none());
    }
    gw.stop().await;
}

#[tokio::test]
async fn refused_keys_get_401_in_openai_shape() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake).await;
    let c = Gateway::client();
    let url = gw.url("/v1/chat/completions");
    for (key, word) in [
        (None, "missing"),
        (Some("lgw_test_wrong_key"), "invalid"),
        (Some("lgw_test_disabled_key"), "disabled"),
        (Some("lgw_test_revoked_key"), "revoked"),
    ] {
        let mut rb = c.post(&url).body(BODY);
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{key:?}");
        let v: serde_json::Value = resp.json().await.unwrap();
        let e = &v["error"];
        assert!(e["message"].as_str().unwrap().contains(word), "{v}");
        assert_eq!(e["type"], "authentication_error");
        assert!(e.as_object().unwrap().contains_key("param"));
        assert!(e.as_object().unwrap().contains_key("code"));
    }
    // Models need a key too.
    let resp = c.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn key_model_globs_give_403() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake).await;
    let c = Gateway::client();
    let send = |model: &str| {
        c.post(gw.url("/v1/chat/completions"))
            .bearer_auth("lgw_test_narrow_key")
            .body(format!(r#"{{"model":"{model}","messages":[]}}"#))
            .send()
    };
    let resp = send("m").await.unwrap();
    assert_eq!(resp.status(), 403);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "permission_error");
    assert_eq!(send("gpt-4o").await.unwrap().status(), 200);
    assert_eq!(send("oai/gpt-4o").await.unwrap().status(), 200);
    gw.stop().await;
}

#[tokio::test]
async fn rpm_limit_gives_429_with_retry_after() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake).await;
    let c = Gateway::client();
    let send = || {
        c.post(gw.url("/v1/chat/completions"))
            .bearer_auth("lgw_test_limited_key")
            .body(BODY)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 200);
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let secs: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&secs), "{secs}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    // Other keys are not affected.
    assert_eq!(gw.post("/v1/chat/completions", BODY).await.status(), 200);
    assert_eq!(fake.requests().len(), 3);
    gw.stop().await;
}
