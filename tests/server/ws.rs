//! `GET /v1/ws`: LLM-Bridge's message shape and frames, keys on the upgrade, the message or a
//! subprotocol (a bad one: 401, or 1008 for a browser's), ids and cancel, JSON framing and its
//! usage, other dialects, the size bound (1009), the origin check (403), pings, the in-flight
//! and connection caps, and the close with 1001 at shutdown. The client is tokio-tungstenite, as a script's would be.

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
    // Pings far quicker than the request: while closing, unread pongs must not cut it.
    gw.state.set_ws_ping_interval(Duration::from_millis(50));
    let mut ws = connect(&gw).await;
    let mut idle = connect(&gw).await;
    send(&mut ws, &chat(true)).await;
    let first = next_text(&mut ws).await;
    gw.shutdown.cancel();
    let mut got = vec![first];
    got.extend(until_done(&mut ws).await);
    assert_eq!(got, [EVENTS[0], EVENTS[1], DONE]);
    for sock in [&mut ws, &mut idle] {
        let close = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match sock.next().await {
                    Some(Ok(Message::Ping(_))) => {}
                    other => return other,
                }
            }
        })
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

/// A Gemini and a Responses request over one socket: each reply in its own dialect's stream
/// shape, each ended by one `[DONE]`.
#[tokio::test]
async fn gemini_and_responses_requests_share_one_socket() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let gemini = json!({
        "type": "chat", "format": "gemini", "api_key": KEY, "id": "g",
        "payload": {"model": "m", "stream": true,
                    "contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    });
    send(&mut ws, &gemini).await;
    let got = until_done(&mut ws).await;
    assert_eq!(got.last().unwrap(), &format!("id: g\n{DONE}"));
    let chunks: Vec<Value> = got[..got.len() - 1]
        .iter()
        .map(|f| {
            let data = f
                .strip_prefix("id: g\ndata: ")
                .unwrap_or_else(|| panic!("{f}"));
            serde_json::from_str(data.trim_end()).unwrap()
        })
        .collect();
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"][0]["text"],
        "hi"
    );
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );

    let responses = json!({
        "type": "chat", "format": "responses", "api_key": KEY, "id": "r",
        "payload": {"model": "m", "stream": true, "input": "hi", "store": false},
    });
    send(&mut ws, &responses).await;
    let got = until_done(&mut ws).await;
    let events: Vec<&str> = got[..got.len() - 1]
        .iter()
        .map(|f| {
            let rest = f
                .strip_prefix("id: r\nevent: ")
                .unwrap_or_else(|| panic!("{f}"));
            rest.split('\n').next().unwrap()
        })
        .collect();
    assert_eq!(events.first(), Some(&"response.created"), "{events:?}");
    assert_eq!(events.last(), Some(&"response.completed"), "{events:?}");
    assert!(events.contains(&"response.output_text.delta"), "{events:?}");
    let delta = got
        .iter()
        .find(|f| f.contains("event: response.output_text.delta\n"))
        .unwrap();
    let data: Value =
        serde_json::from_str(delta.split("\ndata: ").nth(1).unwrap().trim_end()).unwrap();
    assert_eq!(data["delta"], "hi");
    assert_eq!(got.iter().filter(|f| f.contains("[DONE]")).count(), 1);
    assert_eq!(fake.requests().len(), 2);
    gw.stop().await;
}

/// Idle sockets get protocol pings; a peer that stops answering them is closed, and its place
/// under `[limits] max_connections` comes back.
#[tokio::test]
async fn idle_sockets_are_pinged_and_a_silent_peer_is_dropped() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.limits.max_connections = 1;
    let gw = gateway(&fake, config).await;
    gw.state.set_ws_ping_interval(Duration::from_millis(100));
    let mut ws = connect(&gw).await;
    // A reading peer answers pings (tungstenite does as it reads) and stays open.
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(m) = tokio::time::timeout_at(until, ws.next()).await {
        match m {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 3, "{pings} pings in 700 ms");
    // Now silent: after a missed ping it is closed (the frames it did not read come first).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
                Some(Err(_)) | None => return None,
                Some(Ok(other)) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("the silent peer is closed");
    if let Some(code) = closed {
        assert_eq!(code, CloseCode::Away);
    }
    // Its place under the cap of one is free again.
    let again = connect_soon(&gw).await;
    drop(again);
    gw.stop().await;
}

/// Connects, retrying for up to 2 s while the gateway frees a place.
async fn connect_soon(gw: &Gateway) -> Ws {
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio_tungstenite::connect_async(request(gw, &[])).await {
            Ok((ws, _)) => return ws,
            Err(e) if tokio::time::Instant::now() < until => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no place freed: {e}"),
        }
    }
}

/// Upgraded sockets hold places under `[limits] max_connections`: past it a new connection is
/// closed at once (no hang), and a socket that closes gives its place back.
#[tokio::test]
async fn upgraded_sockets_count_against_max_connections() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let mut config = test_config();
    config.limits.max_connections = 2;
    let gw = gateway(&fake, config).await;
    let mut a = connect(&gw).await;
    let mut b = connect(&gw).await;
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(request(&gw, &[])),
    )
    .await
    .expect("refused at once, not left hanging");
    assert!(refused.is_err(), "a third socket past a cap of two");
    // The two still work.
    for ws in [&mut a, &mut b] {
        send(ws, &chat(true)).await;
        assert_eq!(until_done(ws).await, [EVENTS[0], EVENTS[1], DONE]);
    }
    a.close(None).await.unwrap();
    drop(a);
    let mut c = connect_soon(&gw).await;
    send(&mut c, &chat(true)).await;
    assert_eq!(until_done(&mut c).await, [EVENTS[0], EVENTS[1], DONE]);
    gw.stop().await;
}

/// Sixteen requests run at once on one socket; the seventeenth is refused with its id (an
/// error, then its done), and the sixteen complete.
#[tokio::test]
async fn the_seventeenth_request_at_once_is_refused_with_its_id() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS).chunk_delay(Duration::from_millis(300)));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    for id in 0..17 {
        let mut m = chat(true);
        m["id"] = json!(id);
        m["framing"] = json!("json");
        send(&mut ws, &m).await;
    }
    let mut done = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    let mut chunks = 0;
    while done.len() < 17 {
        let v: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
        let id = v["id"].as_i64().unwrap();
        match v["type"].as_str().unwrap() {
            "chunk" => chunks += 1,
            "error" => errors.push(v),
            "done" => assert!(done.insert(id), "two done frames for {id}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], 16);
    assert_eq!(errors[0]["status"], 429);
    assert!(
        errors[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16 requests")
    );
    assert_eq!(chunks, 16 * 2, "every admitted request streamed its chunks");
    assert_eq!(fake.requests().len(), 16);
    gw.stop().await;
}

/// The next JSON `done` frame (chunks skipped).
async fn json_done(ws: &mut Ws) -> Value {
    loop {
        let v: Value = serde_json::from_str(&next_text(ws).await).unwrap();
        if v["type"] == "done" {
            return v;
        }
    }
}

/// With JSON framing the `done` frame carries the usage the reply reported, in the request's
/// dialect's shape; none reported, none given.
#[tokio::test]
async fn json_done_frames_carry_the_reported_usage() {
    let usage_chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n";
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&[EVENTS[0], EVENTS[1], usage_chunk, DONE]));
    let gw = gateway(&fake, test_config()).await;
    let mut ws = connect(&gw).await;
    let mut m = chat(true);
    m["framing"] = json!("json");
    m["id"] = json!("chat");
    send(&mut ws, &m).await;
    let done = json_done(&mut ws).await;
    assert_eq!(done["id"], "chat");
    assert_eq!(
        done["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
    );

    let anthropic = json!({
        "type": "chat", "format": "anthropic", "api_key": KEY, "framing": "json", "id": "a",
        "payload": {"model": "m", "max_tokens": 5, "stream": true,
                    "messages": [{"role": "user", "content": "hi"}]},
    });
    send(&mut ws, &anthropic).await;
    let done = json_done(&mut ws).await;
    assert_eq!(done["usage"]["input_tokens"], 3, "{done}");
    assert_eq!(done["usage"]["output_tokens"], 2, "{done}");

    let whole = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}"#;
    fake.set_default(Reply::json(200, whole));
    let mut m = chat(false);
    m["framing"] = json!("json");
    send(&mut ws, &m).await;
    let done = json_done(&mut ws).await;
    assert_eq!(done["usage"]["prompt_tokens"], 4, "{done}");

    fake.set_default(Reply::sse(&EVENTS));
    let mut m = chat(true);
    m["framing"] = json!("json");
    send(&mut ws, &m).await;
    let done = json_done(&mut ws).await;
    assert!(done.get("usage").is_none(), "{done}");
    gw.stop().await;
}

/// A browser cannot read a refused handshake's status, so a bad key in the subprotocol is
/// upgraded and closed with 1008 and the reason; a bad key in a header stays a 401.
#[tokio::test]
async fn a_bad_subprotocol_key_closes_with_1008() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, test_config()).await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(request(
        &gw,
        &[(
            "sec-websocket-protocol",
            "llm-gateway, llm-gateway.key.lgw_wrong",
        )],
    ))
    .await
    .unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "llm-gateway");
    let close = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match close {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(f.code, CloseCode::Policy);
            assert_eq!(f.reason.as_str(), "invalid API key");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
    let refused =
        tokio_tungstenite::connect_async(request(&gw, &[("x-api-key", "lgw_wrong")])).await;
    match refused {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    assert!(fake.requests().is_empty());
    gw.stop().await;
}
