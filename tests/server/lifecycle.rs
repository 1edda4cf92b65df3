//! The small routes, metrics, and graceful shutdown.

use std::time::Duration;

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

#[tokio::test]
async fn health_probes_models_and_metrics() {
    let fake = FakeOpenAi::start().await;
    let mut off = upstream("off", &fake.base_url(), &["hidden"], 1);
    off.enabled = false;
    let gw = Gateway::start(
        test_config(),
        view(vec![
            upstream("oai", &fake.base_url(), &["m2", "m1"], 1),
            off,
        ]),
    )
    .await;
    let c = Gateway::client();

    let resp = c.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "ok");

    for (m, path) in [("HEAD", "/"), ("GET", "/"), ("HEAD", "/api/hello")] {
        let resp = c
            .request(m.parse().unwrap(), gw.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{m} {path}");
    }

    let resp = c
        .get(gw.url("/v1/models"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["m1", "m2"]);
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "oai");

    let resp = c
        .get(gw.url("/v1/models"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["has_more"], false);

    gw.post("/v1/chat/completions", r#"{"model":"m1","messages":[]}"#)
        .await;
    let text = c
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"llm_gateway_requests_total{route="chat",upstream="oai",model="m1",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"llm_gateway_tokens_total{upstream="oai",model="m1",direction="out"} 2"#),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_lets_a_running_stream_finish() {
    let fake = FakeOpenAi::start().await;
    let events: Vec<String> = (0..6).map(|i| format!("data: {{\"n\":{i}}}\n\n")).collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let reply = Reply::sse(&refs).chunk_delay(Duration::from_millis(150));
    let want = reply.body();
    fake.set_default(reply);
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let mut resp = gw
        .post(
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"messages":[]}"#,
        )
        .await;
    let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
    gw.shutdown.cancel();
    // New connections are refused soon after.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        Gateway::client()
            .get(gw.url("/health"))
            .send()
            .await
            .is_err()
    );
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, want);
    tokio::time::timeout(Duration::from_secs(5), gw.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_grace_cuts_streams_that_run_too_long() {
    let fake = FakeOpenAi::start().await;
    let events: Vec<String> = (0..100)
        .map(|i| format!("data: {{\"n\":{i}}}\n\n"))
        .collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.set_default(Reply::sse(&refs).chunk_delay(Duration::from_millis(100)));
    let mut config = test_config();
    config.server.shutdown_grace_secs = 1;
    let gw = Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let mut resp = gw
        .post(
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"messages":[]}"#,
        )
        .await;
    assert!(resp.chunk().await.unwrap().is_some());
    gw.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(4), gw.task)
        .await
        .unwrap()
        .unwrap();
    assert!(fake.wait_cancelled(Duration::from_secs(3)).await);
}
