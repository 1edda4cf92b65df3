//! The DNS-rebinding guard: bound to loopback the server answers only requests addressed to a
//! loopback name or a name in `[server] allowed_hosts` (403 in the client's shape otherwise,
//! no upstream called), whatever the route; bound elsewhere `/metrics` needs a key unless
//! `[server] public_metrics`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::fake_openai::FakeOpenAi;
use crate::support::{Gateway, KEY, test_config, upstream, view};

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str =
    r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
const GEMINI: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

async fn gateway(fake: &FakeOpenAi, config: llm_gateway::config::Config) -> Gateway {
    Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await
}

/// `method path` with `Host: host` (and `body` with the key as the route's clients send it):
/// the status and the body as JSON (`Null` when it is not JSON).
async fn call(gw: &Gateway, host: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let c = Gateway::client();
    let url = gw.url(path);
    let mut rb = match method {
        "POST" => c
            .post(url)
            .body(body.to_string())
            .header("content-type", "application/json"),
        _ => c.get(url),
    };
    rb = rb.header("host", host);
    rb = if path == "/v1/messages" {
        rb.header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
    } else if path.starts_with("/v1beta/") {
        rb.header("x-goog-api-key", KEY)
    } else {
        rb.bearer_auth(KEY)
    };
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An address of this machine that is not loopback (the one its default route leaves from), if
/// it has one; a UDP "connect" only picks the route, nothing is sent.
fn own_lan_ip() -> Option<std::net::IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn routes() -> [(&'static str, &'static str, &'static str); 6] {
    [
        ("POST", "/v1/chat/completions", CHAT),
        ("POST", "/v1/messages", MESSAGES),
        ("POST", "/v1beta/models/m:generateContent", GEMINI),
        ("GET", "/v1/models", ""),
        ("GET", "/metrics", ""),
        ("GET", "/health", ""),
    ]
}

#[tokio::test]
async fn a_foreign_host_is_refused_on_every_route_in_the_clients_shape() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, test_config()).await;
    let port = gw.addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("127.0.0.1.nip.io:{port}"),
        format!("localhost.evil.example:{port}"),
    ] {
        for (method, path, body) in routes() {
            let (status, json) = call(&gw, &host, method, path, body).await;
            assert_eq!(status, 403, "{host} {path}: {json}");
            let message = if path == "/v1/messages" {
                assert_eq!(json["type"], "error", "{json}");
                assert_eq!(json["error"]["type"], "permission_error", "{json}");
                &json["error"]["message"]
            } else if path.starts_with("/v1beta/") {
                assert_eq!(json["error"]["status"], "PERMISSION_DENIED", "{json}");
                &json["error"]["message"]
            } else {
                assert_eq!(json["error"]["code"], "host_not_allowed", "{json}");
                &json["error"]["message"]
            };
            let message = message.as_str().unwrap();
            assert!(
                message.contains(&host) && message.contains("allowed_hosts"),
                "{message}"
            );
        }
    }
    assert!(fake.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn loopback_names_are_answered() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, test_config()).await;
    let port = gw.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("LocalHost:{port}"),
        format!("app.localhost:{port}"),
        "localhost".to_string(),
    ] {
        for (method, path, body) in routes() {
            if path.starts_with("/v1beta/") || path == "/v1/messages" {
                continue; // the fake speaks OpenAI only: the Host check is what is tested
            }
            let (status, json) = call(&gw, &host, method, path, body).await;
            assert_eq!(status, 200, "{host} {path}: {json}");
        }
    }
    assert_eq!(fake.requests().len(), 6);
    gw.stop().await;
}

#[tokio::test]
async fn names_in_allowed_hosts_are_answered() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.server.allowed_hosts = vec!["gateway.lan".into(), "box.example:8443".into()];
    let gw = gateway(&fake, config).await;
    let port = gw.addr.port();
    for host in [
        format!("gateway.lan:{port}"),
        "GATEWAY.LAN".to_string(),
        "box.example:8443".to_string(),
        format!("localhost:{port}"),
    ] {
        let (status, json) = call(&gw, &host, "POST", "/v1/chat/completions", CHAT).await;
        assert_eq!(status, 200, "{host}: {json}");
    }
    for host in ["box.example:9000", "evil.example"] {
        let (status, _) = call(&gw, host, "GET", "/health", "").await;
        assert_eq!(status, 403, "{host}");
    }
    gw.stop().await;
}

/// One raw HTTP/1.0 request (`head` lines after the request line): the status code.
async fn raw_http10(gw: &Gateway, head: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.addr.port()))
        .await
        .unwrap();
    s.write_all(format!("GET /health HTTP/1.0\r\n{head}\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

/// `GET uri` over HTTP/2 (prior knowledge), `:authority` taken from `uri`: the status code.
async fn h2_get(gw: &Gateway, uri: &str) -> u16 {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", gw.addr.port()))
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn http10_without_host_and_http2_authority() {
    let fake = FakeOpenAi::start().await;
    let gw = gateway(&fake, test_config()).await;
    let port = gw.addr.port();
    // No Host at all: no name a browser could have chosen.
    assert_eq!(raw_http10(&gw, "").await, 200);
    assert_eq!(raw_http10(&gw, "Host: evil.example\r\n").await, 403);
    assert_eq!(raw_http10(&gw, "Host: localhost\r\n").await, 200);
    // HTTP/2 carries the host in `:authority`.
    assert_eq!(
        h2_get(&gw, &format!("http://127.0.0.1:{port}/health")).await,
        200
    );
    assert_eq!(
        h2_get(&gw, &format!("http://[::1]:{port}/health")).await,
        200
    );
    assert_eq!(
        h2_get(&gw, &format!("http://evil.example:{port}/health")).await,
        403
    );
    gw.stop().await;
}

#[tokio::test]
async fn on_a_non_loopback_listen_metrics_need_a_key_unless_public() {
    let fake = FakeOpenAi::start().await;
    let v = || view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]);
    let c = Gateway::client();

    let gw = Gateway::start_on(test_config(), v(), "0.0.0.0:0").await;
    let metrics = gw.url("/metrics");
    assert_eq!(c.get(&metrics).send().await.unwrap().status(), 401);
    assert_eq!(
        c.get(&metrics)
            .bearer_auth("lgw_test_wrong_key")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&metrics)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Exposed on purpose: a LAN client may use any Host, and /health needs no key...
    if let Some(ip) = own_lan_ip() {
        let url = format!("http://{ip}:{}/health", gw.addr.port());
        let resp = c.get(url).header("host", "gateway.lan:3847").send().await;
        assert_eq!(resp.unwrap().status(), 200, "through {ip}");
    }
    // ...but a connection that arrives on loopback is where a rebound name comes from: a
    // page on this machine whose name resolves to 127.0.0.1 is refused, loopback names are not.
    let (status, body) = call(&gw, "rebound.example:3847", "GET", "/health", "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "host_not_allowed");
    let (status, _) = call(&gw, "rebound.example", "POST", "/v1/chat/completions", CHAT).await;
    assert_eq!(status, 403);
    assert_eq!(
        call(&gw, "localhost:3847", "GET", "/health", "").await.0,
        200
    );
    let health = c.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    gw.stop().await;

    let mut config = test_config();
    config.server.public_metrics = true;
    let gw = Gateway::start_on(config, v(), "0.0.0.0:0").await;
    assert_eq!(
        c.get(gw.url("/metrics")).send().await.unwrap().status(),
        200
    );
    gw.stop().await;

    // `allowed_hosts` turns the Host check on there too.
    let mut config = test_config();
    config.server.allowed_hosts = vec!["gateway.lan".into()];
    let gw = Gateway::start_on(config, v(), "0.0.0.0:0").await;
    assert_eq!(call(&gw, "gateway.lan", "GET", "/health", "").await.0, 200);
    assert_eq!(call(&gw, "evil.example", "GET", "/health", "").await.0, 403);
    gw.stop().await;

    // On loopback /metrics stays keyless (the Host check guards it).
    let gw = Gateway::start(test_config(), v()).await;
    assert_eq!(
        c.get(gw.url("/metrics")).send().await.unwrap().status(),
        200
    );
    gw.stop().await;
}
