//! `GET /v1/ws`: LLM-Bridge's message shape and frames, keys on the upgrade, the message or a
//! subprotocol, ids and cancel, JSON framing, the size bound (1009), the origin check (403) and
//! the close with 1001 at shutdown. The client is tokio-tungstenite, as a script's would be.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const EVENTS: [&str; 3] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];
const DONE: &str = "data: [DONE]\n\n";

async fn gateway(fake: &FakeOpenAi, config: llm_gateway::config::Config) -> Gateway {
    Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await
}

fn request(gw: &Gateway, headers: &[(&str, &str)]) -> http::Request<()> {
    let mut req = format!("ws://127.0.0.1:{}/v1/ws", gw.addr.port())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    req
}

async fn connect(gw: &Gateway) -> Ws {
    tokio_tungstenite::connect_async(request(gw, &[]))
        .await
        .unwrap()
        .0
}

fn chat(stream: bool) -> Value {
    json!({
        "type": "chat",
        "api_key": format!("Bearer {KEY}"),
        "payload": {"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]},
    })
}

async fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text frame (pings skipped), within 5 s.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket open")
            .unwrap();
        match m {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Text frames up to and including the first `[DONE]`.
async fn until_done(ws: &mut Ws) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let t = next_text(ws).await;
        let done = t.ends_with(DONE);
        got.push(t);
        if done {
            return got;
        }
    }
}

/// Nothing more arrives for a while (no second `[DONE]`).
async fn quiet(ws: &mut Ws) {
    let more = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(more.is_err(), "unexpected frame {more:?}");
}

#[tokio::test]
async fn seed_message_gets_one_frame_per_chunk_and_one_done() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    send(&mut ws, &chat(true)).await;
    let got = until_done(&mut ws).await;
    assert_eq!(got, [EVENTS[0], EVENTS[1], DONE]);
    quiet(&mut ws).await;
    // A second request on the same socket gets the same answer.
    send(&mut ws, &chat(true)).await;
    assert_eq!(until_done(&mut ws).await, [EVENTS[0], EVENTS[1], DONE]);
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.requests()[0].json()["model"], "m");
    gw.stop().await;
}

#[tokio::test]
async fn a_non_streaming_payload_gets_its_completion_then_done() {
    let fake = FakeOpenAi::start().await;
    let body = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}"#;
    fake.set_default(Reply::json(200, body));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    send(&mut ws, &chat(false)).await;
    let got = until_done(&mut ws).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let data = got[0]
        .strip_prefix("data: ")
        .unwrap()
        .strip_suffix("\n\n")
        .unwrap();
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello");
    gw.stop().await;
}

#[tokio::test]
async fn bad_keys_and_unknown_models_are_error_frames_then_done() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let mut bad = chat(true);
    bad["api_key"] = json!("lgw_not_a_key");
    send(&mut ws, &bad).await;
    let got = until_done(&mut ws).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("data: {\"error\":"), "{}", got[0]);
    assert!(!got[0].contains("lgw_not_a_key"), "{}", got[0]);
    assert_eq!(got[1], DONE);

    let mut unknown = chat(true);
    unknown["payload"]["model"] = json!("no-such-model");
    send(&mut ws, &unknown).await;
    let got = until_done(&mut ws).await;
    assert!(got[0].starts_with("data: {\"error\":"), "{}", got[0]);
    assert!(got[0].contains("no-such-model"), "{}", got[0]);
    assert_eq!(got.len(), 2);

    // Validation before a request starts: the seed's plain JSON error, no `data:`.
    send(
        &mut ws,
        &json!({"type": "chat", "api_key": KEY, "payload": {"messages": []}}),
    )
    .await;
    let t = next_text(&mut ws).await;
    let v: Value = serde_json::from_str(&t).unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("model"),
        "{t}"
    );
    send(&mut ws, &json!({"type": "nope"})).await;
    let v: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("nope"));
    assert!(fake.requests().is_empty());

    // A bad key on the upgrade is refused before the socket opens.
    let refused =
        tokio_tungstenite::connect_async(request(&gw, &[("authorization", "Bearer lgw_wrong")]))
            .await;
    match refused {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_subprotocol_key_is_accepted_and_never_echoed() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let gw = gateway(&fake, test_config()).await;
    let offered = format!("llm-gateway, llm-gateway.key.{KEY}");
    let (mut ws, resp) =
        tokio_tungstenite::connect_async(request(&gw, &[("sec-websocket-protocol", &offered)]))
            .await
            .unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "llm-gateway");
    let mut msg = chat(true);
    msg.as_object_mut().unwrap().remove("api_key");
    send(&mut ws, &msg).await;
    assert_eq!(until_done(&mut ws).await, [EVENTS[0], EVENTS[1], DONE]);
    // Without any key the same message is refused.
    let mut plain = connect(&gw).await;
    send(&mut plain, &msg).await;
    assert!(until_done(&mut plain).await[0].starts_with("data: {\"error\":"));
    gw.stop().await;
}

#[tokio::test]
async fn two_requests_at_once_with_ids_in_json_framing() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS).chunk_delay(Duration::from_millis(100)));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    for id in ["a", "b"] {
        let mut m = chat(true);
        m["id"] = json!(id);
        m["framing"] = json!("json");
        send(&mut ws, &m).await;
    }
    let mut chunks: std::collections::HashMap<String, Vec<Value>> = Default::default();
    let mut done = Vec::new();
    let mut both_before_a_done = false;
    while done.len() < 2 {
        let v: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        match v["type"].as_str().unwrap() {
            "chunk" => chunks.entry(id).or_default().push(v["data"].clone()),
            "done" => {
                both_before_a_done |= done.is_empty() && chunks.len() == 2;
                done.push(id);
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    done.sort();
    assert_eq!(done, ["a", "b"]);
    for id in ["a", "b"] {
        let c = &chunks[id];
        assert_eq!(c.len(), 2, "{id}: {c:?}");
        assert_eq!(c[0]["choices"][0]["delta"]["content"], "hi");
        assert_eq!(c[1]["choices"][0]["finish_reason"], "stop");
    }
    // Both ran at once: each had sent a chunk before either finished.
    assert!(both_before_a_done);
    assert_eq!(fake.requests().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn cancel_drops_the_upstream_call() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS).chunk_delay(Duration::from_secs(3)));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let mut m = chat(true);
    m["id"] = json!(7);
    send(&mut ws, &m).await;
    let first = next_text(&mut ws).await;
    assert_eq!(first, format!("id: 7\n{}", EVENTS[0]));
    send(&mut ws, &json!({"type": "cancel", "id": 7})).await;
    let got = until_done(&mut ws).await;
    assert!(got[0].contains("cancelled"), "{got:?}");
    assert_eq!(got.last().unwrap(), &format!("id: 7\n{DONE}"));
    assert!(fake.wait_cancelled(Duration::from_secs(2)).await);
    gw.stop().await;
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.limits.max_body_bytes = 1024;
    let gw = gateway(&fake, config).await;
    let mut ws = connect(&gw).await;
    let mut m = chat(true);
    m["payload"]["messages"][0]["content"] = json!("x".repeat(4096));
    send(&mut ws, &m).await;
    let close = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match close {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Size),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn an_unlisted_origin_is_refused_before_the_upgrade() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.server.cors_origins = vec!["http://localhost:5173".into()];
    let gw = gateway(&fake, config).await;
    let refused =
        tokio_tungstenite::connect_async(request(&gw, &[("origin", "https://evil.example")])).await;
    match refused {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let listed =
        tokio_tungstenite::connect_async(request(&gw, &[("origin", "http://localhost:5173")]))
            .await;
    assert!(listed.is_ok());
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_request_finish_then_closes_with_1001() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS).chunk_delay(Duration::from_millis(200)));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let mut idle = connect(&gw).await;
    send(&mut ws, &chat(true)).await;
    let first = next_text(&mut ws).await;
    gw.shutdown.cancel();
    let mut got = vec![first];
    got.extend(until_done(&mut ws).await);
    assert_eq!(got, [EVENTS[0], EVENTS[1], DONE]);
    for sock in [&mut ws, &mut idle] {
        let close = tokio::time::timeout(Duration::from_secs(5), sock.next())
            .await
            .unwrap();
        match close {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("expected a 1001 close, got {other:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(5), gw.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_anthropic_request_goes_through_the_same_socket() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let msg = json!({
        "type": "chat", "format": "anthropic", "api_key": KEY,
        "payload": {"model": "m", "max_tokens": 5, "stream": true,
                    "messages": [{"role": "user", "content": "hi"}]},
    });
    send(&mut ws, &msg).await;
    let got = until_done(&mut ws).await;
    assert!(
        got[0].starts_with("event: message_start\ndata: "),
        "{got:?}"
    );
    assert!(got.iter().any(|f| f.contains("\"text\":\"hi\"")), "{got:?}");
    assert!(
        got[got.len() - 2].starts_with("event: message_stop\n"),
        "{got:?}"
    );
    assert_eq!(got.iter().filter(|f| f.contains("[DONE]")).count(), 1);
    gw.stop().await;
}

/// A load check, run by hand: `WS_SOCKETS=1000 cargo test --test it ws::load -- --ignored
/// --nocapture`. Opens that many sockets, runs one streamed chat on each at once, and prints
/// the time and the test process's resident memory (gateway and clients together).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark"]
async fn load_many_sockets() {
    let n: usize = std::env::var("WS_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let mut config = test_config();
    // A thousand connects at once queue at the fake upstream's accept.
    config.timeouts.connect_secs = 20;
    config.limits.max_connections = config.limits.max_connections.max(4 * n as u64);
    let gw = gateway(&fake, config).await;
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or_default()
            .to_owned()
    };
    let before = rss();
    let started = std::time::Instant::now();
    let mut sockets = Vec::new();
    let small = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(16 << 10);
    for _ in 0..n {
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(request(&gw, &[]), Some(small), false)
                .await
                .unwrap();
        sockets.push(ws);
    }
    let opened = started.elapsed();
    let open_rss = rss();
    let mut runs = tokio::task::JoinSet::new();
    for mut ws in sockets {
        runs.spawn(async move {
            send(&mut ws, &chat(true)).await;
            let got = until_done(&mut ws).await;
            (got.len() == 3, got[0].clone(), ws)
        });
    }
    let (mut back, mut failed) = (Vec::new(), Vec::new());
    while let Some(r) = runs.join_next().await {
        let (ok, first, ws) = r.unwrap();
        if !ok {
            failed.push(first);
        }
        back.push(ws);
    }
    let all = started.elapsed();
    eprintln!(
        "{n} sockets: opened in {opened:?}, {n} chats done at {all:?}; {before} -> {open_rss} (open) -> {} (after)",
        rss()
    );
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    drop(back);
    gw.stop().await;
}
