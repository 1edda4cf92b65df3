//! The gateway's own time on every reply: a well-formed `Server-Timing` header (`gw;dur=`, and
//! `upstream;dur=` when an upstream was called) on fast-path, translated, streamed and error
//! replies, and the `llm_gateway_overhead_seconds` histogram by route in `/metrics`.

use std::time::Duration;

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
const CHAT_STREAM: &str =
    r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str =
    r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_STREAM: &str =
    r#"{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

const EVENTS: [&str; 3] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];

/// `(gw, upstream)` in ms from `gw;dur=X[, upstream;dur=Y]`, checked for exactly that shape.
fn parse(resp: &reqwest::Response) -> (f64, Option<f64>) {
    let all: Vec<_> = resp.headers().get_all("server-timing").iter().collect();
    assert_eq!(all.len(), 1, "{:?}", resp.headers());
    let v = all[0].to_str().unwrap();
    let mut parts = v.split(", ");
    let num = |p: &str, name: &str| -> f64 {
        let d = p
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix(";dur="))
            .unwrap_or_else(|| panic!("{v}"));
        let (int, frac) = d.split_once('.').unwrap_or_else(|| panic!("{v}"));
        assert!(
            int.bytes().all(|b| b.is_ascii_digit()) && !int.is_empty(),
            "{v}"
        );
        assert!(
            frac.len() == 3 && frac.bytes().all(|b| b.is_ascii_digit()),
            "{v}"
        );
        d.parse().unwrap()
    };
    let gw = num(parts.next().unwrap(), "gw");
    let up = parts.next().map(|p| num(p, "upstream"));
    assert!(parts.next().is_none(), "{v}");
    (gw, up)
}

async fn send(gw: &Gateway, path: &str, body: &str, key: &str) -> reqwest::Response {
    let rb = Gateway::client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    let rb = if path == "/v1/messages" {
        rb.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else {
        rb.bearer_auth(key)
    };
    rb.send().await.unwrap()
}

#[tokio::test]
async fn every_reply_says_the_gateways_own_time_and_the_upstreams() {
    let fake = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    let delay = Duration::from_millis(150);
    // (path, body, upstream reply): fast path whole and streamed, translated whole and
    // streamed; the upstream is slow to its first byte each time.
    let cases = [
        ("/v1/chat/completions", CHAT, None),
        (
            "/v1/chat/completions",
            CHAT_STREAM,
            Some(Reply::sse(&EVENTS)),
        ),
        ("/v1/messages", MESSAGES, None),
        ("/v1/messages", MESSAGES_STREAM, Some(Reply::sse(&EVENTS))),
    ];
    for (path, body, reply) in cases {
        let reply =
            reply.unwrap_or_else(|| Reply::json(200, crate::support::fake_openai::CHAT_REPLY));
        fake.push(reply.delay_first_byte(delay));
        let resp = send(&gw, path, body, KEY).await;
        assert_eq!(resp.status(), 200, "{path}");
        let (gw_ms, up_ms) = parse(&resp);
        let up_ms = up_ms.unwrap_or_else(|| panic!("{path}: no upstream time"));
        // The upstream's silence is the upstream's time, not the gateway's.
        assert!(up_ms >= delay.as_millis() as f64, "{path}: {up_ms}");
        assert!(gw_ms < up_ms, "{path}: gw {gw_ms} upstream {up_ms}");
        let _ = resp.text().await.unwrap();
    }
    // Errors: the gateway's own (no upstream called) and an upstream's.
    let resp = send(&gw, "/v1/chat/completions", CHAT, "lgw_wrong_fake_key").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(parse(&resp).1, None);
    let resp = send(
        &gw,
        "/v1/messages",
        &MESSAGES.replace("\"m\"", "\"nope\""),
        KEY,
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(parse(&resp).1, None);
    fake.push(Reply::json(
        400,
        r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
    ));
    let resp = send(&gw, "/v1/chat/completions", CHAT, KEY).await;
    assert_eq!(resp.status(), 400);
    assert!(parse(&resp).1.is_some());
    // Small routes too.
    let resp = Gateway::client()
        .get(gw.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(parse(&resp).1, None);

    let text = Gateway::client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("# TYPE llm_gateway_overhead_seconds histogram"),
        "{text}"
    );
    for route in ["chat", "messages", "health"] {
        let count = format!("llm_gateway_overhead_seconds_count{{route=\"{route}\"}} ");
        assert!(text.contains(&count), "{route}: {text}");
        assert!(
            text.contains(&format!(
                "llm_gateway_overhead_seconds_bucket{{le=\"+Inf\",route=\"{route}\"}}"
            )) || text.contains(&format!(
                "llm_gateway_overhead_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}}"
            )),
            "{route}: {text}"
        );
    }
    let summary = gw.state.overhead_summary().unwrap();
    assert!(
        summary.requests >= 8 && summary.p50_ms <= summary.p99_ms,
        "{summary:?}"
    );
    gw.stop().await;
}
