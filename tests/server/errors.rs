//! The gateway's own errors on OpenAI routes: 400, 404, 405, 413, 502, 504, all in the OpenAI
//! shape `{"error":{"message","type","param","code"}}`.

use std::time::{Duration, Instant};

use crate::support::fake_openai::{FakeOpenAi, Reply, dead_base_url};
use crate::support::{Gateway, test_config, upstream, view};

async fn error_of(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().await.unwrap();
    let e = v["error"].as_object().expect("OpenAI error shape");
    for k in ["message", "type", "param", "code"] {
        assert!(e.contains_key(k), "missing {k}: {v}");
    }
    (status, v["error"].clone())
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let fake = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    for (body, param, words) in [
        ("{\"model\": ", None, "not valid JSON"),
        ("[1]", None, "JSON object"),
        (
            r#"{"model":7,"messages":[]}"#,
            Some("model"),
            "must be a string",
        ),
        (r#"{"messages":[]}"#, Some("model"), "required"),
        (
            r#"{"model":"m","messages":{}}"#,
            Some("messages"),
            "must be an array",
        ),
        (r#"{"model":"m"}"#, Some("messages"), "required"),
        (
            r#"{"model":"m","messages":[],"stream":"yes"}"#,
            Some("stream"),
            "boolean",
        ),
    ] {
        let (status, e) = error_of(gw.post("/v1/chat/completions", body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(e["type"], "invalid_request_error");
        assert_eq!(e["param"].as_str(), param, "{body}");
        assert!(
            e["message"].as_str().unwrap().contains(words),
            "{body}: {e}"
        );
    }
    let (status, e) = error_of(
        gw.post("/v1/completions", r#"{"model":"m","prompt":3}"#)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["param"], "prompt");
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn unknown_model_is_404_listing_models() {
    let fake = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream(
            "oai",
            &fake.base_url(),
            &["beta", "alpha"],
            1,
        )]),
    )
    .await;
    let (status, e) = error_of(
        gw.post("/v1/chat/completions", r#"{"model":"nope","messages":[]}"#)
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(e["code"], "model_not_found");
    assert!(
        e["message"].as_str().unwrap().contains("alpha, beta"),
        "{e}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.limits.max_body_bytes = 1000;
    let gw = Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(2000)
    );
    let (status, e) = error_of(gw.post("/v1/chat/completions", &big).await).await;
    assert_eq!(status, 413);
    assert!(e["message"].as_str().unwrap().contains("max_body_bytes"));

    // Without a content-length (chunked upload) the limit holds too.
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..900].to_string()), Ok(big[900..].to_string())];
    let resp = Gateway::client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(crate::support::KEY)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("dead", &dead_base_url().await, &["m"], 1)]),
    )
    .await;
    let (status, e) = error_of(
        gw.post("/v1/chat/completions", r#"{"model":"m","messages":[]}"#)
            .await,
    )
    .await;
    assert_eq!(status, 502);
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("cannot reach upstream `dead`"), "{e}");
    assert!(msg.to_lowercase().contains("refused"), "{e}");
    assert!(!msg.contains("127.0.0.1"), "no URL in the message: {e}");
    assert!(!e["message"].as_str().unwrap().contains("sk-fake"));
    gw.stop().await;
}

#[tokio::test]
async fn silent_upstream_is_504() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::json(200, "{}").delay_first_byte(Duration::from_secs(5)));
    let mut config = test_config();
    config.timeouts.first_byte_secs = 1;
    let gw = Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let started = Instant::now();
    let (status, e) = error_of(
        gw.post("/v1/chat/completions", r#"{"model":"m","messages":[]}"#)
            .await,
    )
    .await;
    assert_eq!(status, 504);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(e["message"].as_str().unwrap().contains("first_byte_secs"));

    // Headers at once but no body chunk counts as silence too.
    let mut slow_body = Reply::json(200, "{}");
    slow_body.chunk_delay = Duration::from_secs(5);
    fake.set_default(slow_body);
    let (status, _) = error_of(
        gw.post("/v1/chat/completions", r#"{"model":"m","messages":[]}"#)
            .await,
    )
    .await;
    assert_eq!(status, 504);
    gw.stop().await;
}

#[tokio::test]
async fn unknown_path_and_wrong_method() {
    let gw = Gateway::start(test_config(), view(vec![])).await;
    let c = Gateway::client();
    let (status, _) = error_of(c.get(gw.url("/v2/nothing")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let (status, _) = error_of(c.get(gw.url("/v1/chat/completions")).send().await.unwrap()).await;
    assert_eq!(status, 405);
    // Anthropic clients get their own shape on shared routes.
    let resp = c
        .get(gw.url("/nothing"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "not_found_error");
    gw.stop().await;
}

/// Anthropic's API sends each error's id twice, as the `request-id` header and the body's
/// `request_id`; the gateway's own Anthropic errors do the same.
#[tokio::test]
async fn anthropic_errors_carry_a_request_id_header() {
    let fake = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let resp = Gateway::client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", crate::support::KEY)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(r#"{"model":"no-such-model","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["request-id"].to_str().unwrap().to_owned();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["request_id"], id.as_str(), "{v}");
    assert!(id.starts_with("req_"));
    gw.stop().await;
}
