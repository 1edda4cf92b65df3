//! The small routes, metrics, and graceful shutdown: streams running past the grace end with
//! their dialect's error event.

use std::time::Duration;

use llm_gateway::config::ProviderKind;

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

/// A client's idle keep-alive connection does not hold shutdown for the grace: it is told to
/// close at once (and sees the connection end), and the server stops.
#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = test_config();
    config.server.shutdown_grace_secs = 60;
    let gw = Gateway::start(config, view(vec![])).await;
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    sock.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    gw.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), gw.task)
        .await
        .expect("the idle connection held shutdown")
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(1), sock.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
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

/// Everything the client reads of a reply, until its end or the connection's.
async fn read_to_end(mut resp: reqwest::Response) -> String {
    let mut got = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        got.extend_from_slice(&chunk);
    }
    String::from_utf8(got).unwrap()
}

/// Starts a stream, stops the server once its first chunk arrived and reads the stream to its
/// end with the grace at 1 s: what the client got.
async fn cut_by_shutdown(
    upstream: llm_gateway::store::records::UpstreamRecord,
    fake: &FakeOpenAi,
    request: impl FnOnce(&Gateway) -> reqwest::RequestBuilder,
) -> String {
    let mut config = test_config();
    config.server.shutdown_grace_secs = 1;
    let gw = Gateway::start(config, view(vec![upstream])).await;
    let mut resp = request(&gw).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    gw.shutdown.cancel();
    let rest = read_to_end(resp).await;
    tokio::time::timeout(Duration::from_secs(4), gw.task)
        .await
        .unwrap()
        .unwrap();
    assert!(fake.wait_cancelled(Duration::from_secs(3)).await);
    format!("{}{rest}", String::from_utf8(first.to_vec()).unwrap())
}

/// The last SSE event of `text`: its `event:` name, if any, and its data as JSON.
fn last_event(text: &str) -> (Option<&str>, serde_json::Value) {
    assert!(text.ends_with("\n\n"), "{text:?}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let mut name = None;
    let mut data = None;
    for line in last.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = Some(n);
        } else if let Some(d) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {text:?}")));
        }
    }
    (name, data.unwrap_or_else(|| panic!("no data: {text:?}")))
}

fn openai_chat(gw: &Gateway, model: &str) -> reqwest::RequestBuilder {
    Gateway::client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .body(format!(
            r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#
        ))
}

fn anthropic_messages(gw: &Gateway, model: &str) -> reqwest::RequestBuilder {
    Gateway::client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(format!(
            r#"{{"model":"{model}","max_tokens":50,"stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#
        ))
}

/// `n` OpenAI chunks of one word each.
fn openai_chunks(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}}}}]}}\n\n"
            )
        })
        .collect()
}

/// The fast path relays bytes untouched: the error event goes at an event boundary, after the
/// `\n\n` that ends the event the upstream was in the middle of.
#[tokio::test]
async fn shutdown_grace_ends_a_relayed_stream_with_the_dialects_error() {
    let fake = FakeOpenAi::start().await;
    // The first chunk ends mid-event; the next would come long after the grace.
    fake.set_default(
        Reply::sse(&["data: {\"n\":0}\n\ndata: {\"n\":1", "}\n\n"])
            .chunk_delay(Duration::from_secs(3)),
    );
    let up = upstream("oai", &fake.base_url(), &["m"], 1);
    let text = cut_by_shutdown(up, &fake, |gw| openai_chat(gw, "m")).await;
    assert!(
        text.starts_with("data: {\"n\":0}\n\ndata: {\"n\":1\n\ndata: {\"error\":"),
        "{text:?}"
    );
    let (name, err) = last_event(&text);
    assert_eq!(name, None);
    assert_eq!(err["error"]["type"], "server_error", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutdown_grace_secs"),
        "{err}"
    );

    // Anthropic on Anthropic: `event: error` with `overloaded_error`, after whole events.
    let fake = FakeOpenAi::start().await;
    let events: Vec<String> = (0..100)
        .map(|i| format!("event: ping\ndata: {{\"type\":\"ping\",\"n\":{i}}}\n\n"))
        .collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.set_default(Reply::sse(&refs).chunk_delay(Duration::from_millis(100)));
    let mut up = upstream("ant", &fake.root_url(), &["claude-x"], 1);
    up.provider = ProviderKind::Anthropic;
    let text = cut_by_shutdown(up, &fake, |gw| anthropic_messages(gw, "claude-x")).await;
    assert!(text.starts_with(&events[0]), "{text:?}");
    let (name, err) = last_event(&text);
    assert_eq!(name, Some("error"), "{text:?}");
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "overloaded_error", "{err}");
}

/// Translated streams end with the client dialect's error event too.
#[tokio::test]
async fn shutdown_grace_ends_a_translated_stream_with_the_dialects_error() {
    let chunks = openai_chunks(100);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let slow = Reply::sse(&refs).chunk_delay(Duration::from_millis(100));

    // Anthropic client, OpenAI upstream.
    let fake = FakeOpenAi::start().await;
    fake.set_default(slow.clone());
    let up = upstream("oai", &fake.base_url(), &["gpt-x"], 1);
    let text = cut_by_shutdown(up, &fake, |gw| anthropic_messages(gw, "gpt-x")).await;
    assert!(text.starts_with("event: message_start\n"), "{text:?}");
    let (name, err) = last_event(&text);
    assert_eq!(name, Some("error"), "{text:?}");
    assert_eq!(err["error"]["type"], "overloaded_error", "{err}");

    // Gemini client (SSE), OpenAI upstream.
    let fake = FakeOpenAi::start().await;
    fake.set_default(slow.clone());
    let up = upstream("oai", &fake.base_url(), &["gpt-x"], 1);
    let text = cut_by_shutdown(up, &fake, |gw| {
        Gateway::client()
            .post(gw.url("/v1beta/models/gpt-x:streamGenerateContent?alt=sse"))
            .header("x-goog-api-key", KEY)
            .body(r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#)
    })
    .await;
    let (_, err) = last_event(&text);
    assert_eq!(err["error"]["code"], 503, "{err}");
    assert_eq!(err["error"]["status"], "UNAVAILABLE", "{err}");

    // OpenAI client, Anthropic upstream.
    let fake = FakeOpenAi::start().await;
    let mut events = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n".to_string(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_string(),
    ];
    events.extend((0..100).map(|i| {
        format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"w{i} \"}}}}\n\n")
    }));
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.set_default(Reply::sse(&refs).chunk_delay(Duration::from_millis(100)));
    let mut up = upstream("ant", &fake.root_url(), &["claude-x"], 1);
    up.provider = ProviderKind::Anthropic;
    let text = cut_by_shutdown(up, &fake, |gw| openai_chat(gw, "claude-x")).await;
    let (name, err) = last_event(&text);
    assert_eq!(name, None);
    assert_eq!(err["error"]["type"], "server_error", "{err}");
    assert!(!text.contains("[DONE]"), "{text:?}");
}
