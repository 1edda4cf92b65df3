//! CORS (`[server] cors_origins`): preflights answered 204 without a key for a listed origin
//! (and 403 without allow headers for another), and the allow headers on every reply to a
//! listed origin (successes, errors, streams) of every dialect; nothing at all when it is off.

use reqwest::header::HeaderMap;

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

const PAGE: &str = "http://localhost:5173";
const OTHER: &str = "https://evil.example";
const ASKED: &str = "authorization,content-type,x-api-key,anthropic-version,\
    anthropic-dangerous-direct-browser-access,x-stainless-os,x-stainless-timeout,x-goog-api-key";

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
const CHAT_STREAM: &str =
    r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str =
    r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_STREAM: &str =
    r#"{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const GEMINI: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

const EVENTS: [&str; 3] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];

/// Each dialect's endpoints: (path, body, whether it streams).
fn endpoints(model: &str) -> Vec<(String, String, bool)> {
    let sub = |b: &str| b.replace("\"m\"", &format!("\"{model}\""));
    vec![
        ("/v1/chat/completions".into(), sub(CHAT), false),
        ("/v1/chat/completions".into(), sub(CHAT_STREAM), true),
        ("/v1/messages".into(), sub(MESSAGES), false),
        ("/v1/messages".into(), sub(MESSAGES_STREAM), true),
        (
            format!("/v1beta/models/{model}:generateContent"),
            GEMINI.into(),
            false,
        ),
        (
            format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            GEMINI.into(),
            true,
        ),
    ]
}

async fn gateway(fake: &FakeOpenAi, origins: &[&str]) -> Gateway {
    let mut config = test_config();
    config.server.cors_origins = origins.iter().map(|o| (*o).to_string()).collect();
    Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await
}

fn cors_headers(h: &HeaderMap) -> Vec<String> {
    h.keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-") || k == "timing-allow-origin")
        .collect()
}

async fn preflight(gw: &Gateway, path: &str, origin: &str, private: bool) -> reqwest::Response {
    let mut rb = Gateway::client()
        .request(reqwest::Method::OPTIONS, gw.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", ASKED);
    if private {
        rb = rb.header("access-control-request-private-network", "true");
    }
    rb.send().await.unwrap()
}

/// POSTs `body` to `path` from a page on `origin`, with `key` as that dialect's clients send it.
async fn post(gw: &Gateway, path: &str, body: &str, origin: &str, key: &str) -> reqwest::Response {
    let rb = Gateway::client()
        .post(gw.url(path))
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(body.to_string());
    let rb = if path == "/v1/messages" {
        rb.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-dangerous-direct-browser-access", "true")
    } else if path.starts_with("/v1beta/") {
        rb.header("x-goog-api-key", key)
    } else {
        rb.bearer_auth(key)
    };
    rb.send().await.unwrap()
}

fn assert_allowed(h: &HeaderMap, origin: &str, what: &str) {
    assert_eq!(h["access-control-allow-origin"], origin, "{what}: {h:?}");
    assert!(
        h.get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Origin")),
        "{what}: {h:?}"
    );
    let expose = h["access-control-expose-headers"].to_str().unwrap();
    for name in [
        "retry-after",
        "x-request-id",
        "server-timing",
        "x-ratelimit-remaining-requests",
    ] {
        assert!(expose.contains(name), "{what}: {expose}");
    }
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "{what}"
    );
}

#[tokio::test]
async fn a_listed_origins_preflight_is_answered_without_a_key_on_every_endpoint() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, &[PAGE]).await;
    for (path, _, _) in endpoints("m") {
        let resp = preflight(&gw, &path, PAGE, true).await;
        assert_eq!(resp.status(), 204, "{path}");
        let h = resp.headers();
        assert_allowed(h, PAGE, &path);
        assert_eq!(h["access-control-allow-headers"], ASKED, "{path}");
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        assert_eq!(h["access-control-max-age"], "7200");
        assert_eq!(h["access-control-allow-private-network"], "true");
        assert!(resp.text().await.unwrap().is_empty());
    }
    // Private network access is answered only when asked.
    let resp = preflight(&gw, "/v1/chat/completions", PAGE, false).await;
    assert_eq!(resp.status(), 204);
    assert!(
        resp.headers()
            .get("access-control-allow-private-network")
            .is_none()
    );
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn another_origins_preflight_gets_a_403_without_allow_headers() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, &[PAGE, "http://127.0.0.1:*"]).await;
    for origin in [
        OTHER,
        "http://localhost:5174",
        "null",
        "http://localhost:5173.evil.example",
    ] {
        for (path, _, _) in endpoints("m") {
            let resp = preflight(&gw, &path, origin, true).await;
            assert_eq!(resp.status(), 403, "{origin} {path}");
            assert_eq!(cors_headers(resp.headers()), Vec::<String>::new());
            let text = resp.text().await.unwrap();
            assert!(text.contains("cors_origins"), "{text}");
        }
    }
    // A port wildcard takes any port of that host.
    let resp = preflight(&gw, "/v1/chat/completions", "http://127.0.0.1:8080", false).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8080"
    );
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn replies_to_a_listed_origin_carry_the_headers_streams_included() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, &[PAGE]).await;
    for (path, body, stream) in endpoints("m") {
        if stream {
            fake.push(Reply::sse(&EVENTS));
        }
        let resp = post(&gw, &path, &body, PAGE, KEY).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_allowed(resp.headers(), PAGE, &path);
        assert_eq!(resp.headers()["timing-allow-origin"], PAGE);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct.starts_with("text/event-stream"), stream, "{path}: {ct}");
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("hi") || text.contains("hello"),
            "{path}: {text}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn errors_to_a_listed_origin_carry_the_headers() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, &[PAGE]).await;
    for (path, body, _) in endpoints("m") {
        // 401: a wrong key.
        let resp = post(&gw, &path, &body, PAGE, "lgw_wrong_fake_key").await;
        assert_eq!(resp.status(), 401, "{path}");
        assert_allowed(resp.headers(), PAGE, &path);
    }
    for (path, body, _) in endpoints("no-such-model") {
        let resp = post(&gw, &path, &body, PAGE, KEY).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_allowed(resp.headers(), PAGE, &path);
    }
    for (status, body) in [
        (
            429,
            r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
        ),
        (500, r#"{"error":{"message":"boom","type":"server_error"}}"#),
    ] {
        for (path, body_in, stream) in endpoints("m") {
            fake.push(Reply::json(status, body));
            let resp = post(&gw, &path, &body_in, PAGE, KEY).await;
            assert!(
                resp.status().as_u16() >= 429,
                "{path} stream={stream}: {}",
                resp.status()
            );
            assert_allowed(resp.headers(), PAGE, &path);
        }
    }
    // A foreign Host is still refused first, preflight or not, and gets no allow header.
    let resp = Gateway::client()
        .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
        .header("host", "evil.example")
        .header("origin", PAGE)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(cors_headers(resp.headers()), Vec::<String>::new());
    assert!(resp.text().await.unwrap().contains("allowed_hosts"));
    gw.stop().await;
}

#[tokio::test]
async fn another_origin_or_cors_off_gets_no_access_control_header() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let on = gateway(&fake, &[PAGE]).await;
    let off = gateway(&fake, &[]).await;
    for (gw, origin) in [(&on, OTHER), (&off, PAGE), (&off, OTHER)] {
        for (path, body, _) in endpoints("m") {
            let resp = post(gw, &path, &body, origin, KEY).await;
            assert_eq!(cors_headers(resp.headers()), Vec::<String>::new(), "{path}");
            let _ = resp.text().await;
        }
        // Off, a preflight is an OPTIONS like any other (405), without allow headers.
        let resp = preflight(gw, "/v1/chat/completions", origin, true).await;
        assert!(resp.status().is_client_error());
        assert_eq!(cors_headers(resp.headers()), Vec::<String>::new());
    }
    off.stop().await;
    on.stop().await;
}

#[tokio::test]
async fn a_star_allows_any_origin_echoing_it() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, &["*"]).await;
    let resp = preflight(&gw, "/v1/messages", OTHER, false).await;
    assert_eq!(resp.status(), 204);
    assert_allowed(resp.headers(), OTHER, "preflight");
    let resp = post(&gw, "/v1/chat/completions", CHAT, OTHER, KEY).await;
    assert_eq!(resp.status(), 200);
    assert_allowed(resp.headers(), OTHER, "chat");
    gw.stop().await;
}
