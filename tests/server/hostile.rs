//! Hostile HTTP against the real binary (`server start` in the foreground), written byte by byte
//! on raw TCP sockets: slowloris, idle and half-open crowds past the connection cap and under a
//! low open-file limit, oversize heads, bad chunking, CR/LF inside header values, stalled bodies,
//! 10,000-level nesting and invalid UTF-8 on every dialect's endpoints, and token counts of
//! hostile texts. Each case ends by checking that `/health` still answers. The client timeouts
//! are set to a second or two in `config.toml`, so the suite runs in seconds.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::fake_openai::FakeOpenAi;
use crate::support::{TestHome, bin, check_exit, stdout};

/// Short client timeouts: heads within 1 s, idle connections closed after 2 s, bodies within 1 s.
const CONFIG: &str =
    "[timeouts]\nclient_header_secs = 1\nclient_idle_secs = 2\nclient_body_secs = 1\n";

/// The real binary serving on 127.0.0.1:0, killed when dropped.
struct Server {
    _home: TestHome,
    child: Child,
    addr: SocketAddr,
    key: String,
    _fake: Option<FakeOpenAi>,
}

impl Server {
    /// Starts it with `config`, a gateway key, and (with `fake`) an OpenAI upstream serving `m`.
    /// `ulimit` is a shell `ulimit` argument list applied before `exec` (e.g. `-Sn 256`).
    async fn start(config: &str, ulimit: Option<&str>, fake: Option<FakeOpenAi>) -> Server {
        let home = TestHome::new();
        home.write_config(config);
        let key = stdout(&check_exit(
            home.run(&["apikey", "add", "hostile"]),
            &["apikey", "add"],
            0,
        ))
        .trim()
        .to_string();
        if let Some(fake) = &fake {
            let args = [
                "upstream",
                "add",
                "oai",
                "--provider",
                "openai",
                "--base-url",
                &fake.base_url(),
                "--api-key",
                "sk-fake-hostile",
                "--models",
                "m",
            ];
            check_exit(home.run(&args), &args, 0);
        }
        let mut cmd = home.cmd();
        if let Some(limit) = ulimit {
            let mut sh = std::process::Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
                .arg(bin())
                .stdin(Stdio::null());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            cmd = sh;
        }
        cmd.args(["server", "start", "--listen", "127.0.0.1:0"])
            .env("LLM_GATEWAY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start the server");
        let out = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Server {
            _home: home,
            child,
            addr,
            key,
            _fake: fake,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// `GET /health` on a new connection answers 200 within 3 s.
    async fn assert_healthy(&self) {
        let answer = tokio::time::timeout(Duration::from_secs(3), async {
            let mut s = self.connect().await;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            out
        })
        .await
        .expect("/health did not answer within 3 s");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200"), "/health: {text}");
    }

    /// Sends `request` on a new connection and reads until the server closes it (at most
    /// `within`): the status (0 when it closed without answering) and the body.
    async fn exchange(&self, request: &[u8], within: Duration) -> (u16, String) {
        let mut s = self.connect().await;
        // The server may answer and close before it has read everything (a head too large).
        let _ = s.write_all(request).await;
        let out = read_until_closed(&mut s, within)
            .await
            .unwrap_or_else(|| panic!("not closed within {within:?}"));
        parse_reply(&out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything read until the peer closes (or resets) the connection; `None` if it stays open
/// longer than `within`.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(out)
}

/// The status and body of the first reply in `raw` (0 and "" when there is none).
fn parse_reply(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A POST with a content-length, `Connection: close`, and the dialect's key header.
fn post(path: &str, auth: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The routes of each dialect with its key header.
fn endpoints(key: &str) -> Vec<(&'static str, &'static str, String)> {
    let anthropic = format!("x-api-key: {key}\r\nanthropic-version: 2023-06-01");
    let openai = format!("Authorization: Bearer {key}");
    let gemini = format!("x-goog-api-key: {key}");
    vec![
        ("anthropic", "/v1/messages", anthropic.clone()),
        ("anthropic", "/v1/messages/count_tokens", anthropic),
        ("openai", "/v1/chat/completions", openai.clone()),
        ("openai", "/v1/completions", openai),
        ("gemini", "/v1beta/models/m:generateContent", gemini.clone()),
        (
            "gemini",
            "/v1beta/models/m:streamGenerateContent?alt=sse",
            gemini.clone(),
        ),
        ("gemini", "/v1beta/models/m:countTokens", gemini),
    ]
}

/// `body` is an error in `dialect`'s shape.
fn assert_error_shape(dialect: &str, body: &str, what: &str) {
    let v: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body:.300}"));
    match dialect {
        "anthropic" => assert_eq!(v["type"], "error", "{what}: {v}"),
        "openai" => assert!(v["error"]["message"].is_string(), "{what}: {v}"),
        _ => assert!(v["error"]["code"].is_u64(), "{what}: {v}"),
    }
}

#[tokio::test]
async fn slowloris_is_closed_after_the_header_timeout() {
    let server = Server::start(CONFIG, None, None).await;
    let mut slow = server.connect().await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (mut rd, mut wr) = slow.into_split();
    let trickle = async {
        for b in b"X-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
            if wr.write_all(&[*b]).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let closed = async {
        let mut buf = [0u8; 1024];
        while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.assert_healthy().await;
    };
    let watched = async {
        tokio::select! {
            () = trickle => {}
            () = closed => {}
        }
    };
    let (closed_in_time, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(6), watched),
        meanwhile
    );
    assert!(
        closed_in_time.is_ok(),
        "a head trickled byte by byte kept its connection for {:?}",
        started.elapsed()
    );
    server.assert_healthy().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let server = Server::start(CONFIG, None, None).await;
    // Silent after connecting: closed after the header timeout.
    let mut silent = server.connect().await;
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(5))
            .await
            .is_some(),
        "a silent connection stayed open"
    );
    // Kept alive after a reply: still usable at once, closed after the idle timeout.
    let mut kept = server.connect().await;
    for _ in 0..2 {
        kept.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = kept.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    assert!(
        read_until_closed(&mut kept, Duration::from_secs(6))
            .await
            .is_some(),
        "an idle kept-alive connection stayed open"
    );
    server.assert_healthy().await;
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_the_connection_closes() {
    let server = Server::start(CONFIG, None, None).await;
    let mut s = server.connect().await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\":",
        server.key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let out = read_until_closed(&mut s, Duration::from_secs(6))
        .await
        .expect("a stalled body kept its connection");
    let (status, body) = parse_reply(&out);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&out));
    assert_error_shape("openai", &body, "stalled body");
    assert!(body.contains("client_body_secs"), "{body}");
    server.assert_healthy().await;
}

#[tokio::test]
async fn oversize_heads_bad_chunking_and_crlf_in_headers_are_refused() {
    let server = Server::start(CONFIG, None, None).await;
    let auth = format!("Authorization: Bearer {}", server.key);
    let within = Duration::from_secs(5);

    // 1 MB of headers: 431 (or closed), never a crash.
    let mut big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    for i in 0..16_000 {
        big.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "a".repeat(50)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let (status, _) = server.exchange(&big, within).await;
    assert!(matches!(status, 0 | 431), "oversize head: {status}");
    server.assert_healthy().await;

    let chunked = |body: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
        )
    };
    // An invalid chunk size, a chunk longer than announced, a body without its last chunk.
    for (what, body) in [
        ("chunk size not hex", "zz\r\nhello\r\n0\r\n\r\n"),
        ("chunk overrun", "2\r\nhello\r\n0\r\n\r\n"),
        ("no last chunk", "5\r\nhello\r\n"),
    ] {
        let (status, reply) = server.exchange(chunked(body).as_bytes(), within).await;
        assert!(matches!(status, 0 | 400 | 408), "{what}: {status} {reply}");
        if status != 0 {
            assert_error_shape("openai", &reply, what);
        }
        server.assert_healthy().await;
    }

    // CR or LF inside a header value, and an obsolete folded line.
    for (what, head) in [
        ("bare CR", "X-Test: a\rInjected: yes\r\n"),
        ("NUL", "X-Test: a\0b\r\n"),
        ("folded line", "X-Test: a\r\n Injected: yes\r\n"),
        ("CR LF in the request line", ""),
    ] {
        let request = if head.is_empty() {
            "GET /health\r\nInjected: yes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_string()
        } else {
            format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Connection: close\r\n\r\n")
        };
        let (status, reply) = server.exchange(request.as_bytes(), within).await;
        assert!(matches!(status, 0 | 400), "{what}: {status} {reply}");
        server.assert_healthy().await;
    }
}

/// 10,000 levels of nesting: a 400 in the client's shape wherever the gateway parses the body,
/// on every dialect's endpoints; never a crash.
#[tokio::test]
async fn deep_nesting_is_a_400_in_each_dialect() {
    let fake = FakeOpenAi::start().await;
    let server = Server::start(CONFIG, None, Some(fake)).await;
    let n = 10_000;
    let arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    for (dialect, path, auth) in endpoints(&server.key) {
        let mut bodies = vec![("arrays", arrays.clone()), ("objects", objects.clone())];
        // Deep inside an otherwise valid request, routed to the OpenAI upstream: translated,
        // so decoded (the OpenAI routes forward bodies unparsed but for their top level).
        let inner = match dialect {
            "anthropic" => Some(format!(
                r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":{arrays}}}]}}"#
            )),
            "gemini" => Some(format!(
                r#"{{"contents":[{{"role":"user","parts":{arrays}}}]}}"#
            )),
            _ => None,
        };
        bodies.extend(inner.map(|b| ("inside a request", b)));
        for (what, body) in bodies {
            let what = format!("{path} {what}");
            let (status, reply) = server
                .exchange(&post(path, &auth, body.as_bytes()), Duration::from_secs(10))
                .await;
            assert_eq!(status, 400, "{what}: {reply:.300}");
            assert_error_shape(dialect, &reply, &what);
        }
    }
    // A value the gateway carries without reading it (a Gemini call's `args` goes to OpenAI as
    // a JSON string) is not parsed, so not limited: it must merely not hurt.
    let (_, _, auth) = endpoints(&server.key).remove(4);
    let body = format!(
        r#"{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{objects}}}}}]}},{{"role":"user","parts":[{{"text":"go on"}}]}}]}}"#
    );
    let (status, reply) = server
        .exchange(
            &post("/v1beta/models/m:generateContent", &auth, body.as_bytes()),
            Duration::from_secs(10),
        )
        .await;
    assert!(matches!(status, 200 | 400), "{status}: {reply:.300}");
    server.assert_healthy().await;
}

#[tokio::test]
async fn invalid_utf8_in_body_path_and_query() {
    let fake = FakeOpenAi::start().await;
    let server = Server::start(CONFIG, None, Some(fake)).await;
    let within = Duration::from_secs(5);
    for (dialect, path, auth) in endpoints(&server.key) {
        let body: &[u8] = b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}],\"contents\":[{\"parts\":[{\"text\":\"\xc3\x28\"}]}]}";
        let (status, reply) = server.exchange(&post(path, &auth, body), within).await;
        assert_eq!(status, 400, "{path}: {reply:.300}");
        assert_error_shape(dialect, &reply, path);
    }
    for target in [
        &b"/v1/\xff\xfe"[..],
        b"/health?x=\xff",
        b"/v1/models?key=\xc3\x28",
        b"/v1beta/models/m%FF%FE:generateContent",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let (status, reply) = server.exchange(&request, within).await;
        let shown = String::from_utf8_lossy(target);
        assert!(
            status == 0 || (400..500).contains(&status) || status == 200,
            "{shown}: {status} {reply}"
        );
        assert!(!reply.contains("panicked"), "{shown}: {reply}");
    }
    server.assert_healthy().await;
}

/// Token counts of hostile texts: a million spaces made the tokenizer panic (a 500 carrying the
/// panic's text); a 30 MiB word took 20 s of CPU and 1.8 GB. Both are bounded now.
#[tokio::test]
async fn token_counts_of_hostile_texts_answer() {
    let fake = FakeOpenAi::start().await;
    let server = Server::start(CONFIG, None, Some(fake)).await;
    let auth = format!("x-api-key: {}\r\nanthropic-version: 2023-06-01", server.key);
    for (what, text) in [
        ("a million spaces", " ".repeat(1_000_000)),
        ("a 30 MiB word", "a".repeat(30 << 20)),
    ] {
        let body = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{text}"}}]}}"#);
        let (status, reply) = server
            .exchange(
                &post("/v1/messages/count_tokens", &auth, body.as_bytes()),
                Duration::from_secs(60),
            )
            .await;
        assert_eq!(status, 200, "{what}: {reply:.300}");
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert!(v["input_tokens"].as_u64().unwrap() > 0, "{what}: {v}");
    }
    server.assert_healthy().await;
}

/// A laptop's `ulimit -n 256`: 300 half-open connections (no key needed) made `/health` time
/// out. The server raises its soft limit to the hard one at start.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn half_open_crowd_under_a_low_soft_limit() {
    let server = Server::start(CONFIG, Some("-S -n 256"), None).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        nums[0], nums[1],
        "soft limit raised to the hard one: {line}"
    );
    let mut crowd = Vec::new();
    for _ in 0..300 {
        let mut s = server.connect().await;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        crowd.push(s);
    }
    server.assert_healthy().await;
    drop(crowd);
}

/// Past the connection cap (here set by a hard limit of 64 open files) idle connections make
/// room for new ones, so `/health` still answers.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn idle_crowd_past_the_cap_does_not_lock_out_health() {
    let config = format!("{CONFIG}[limits]\nmax_connections = 20\n");
    // Long enough that the crowd is not simply timed out during the test.
    let config = config.replace("client_header_secs = 1", "client_header_secs = 30");
    let server = Server::start(&config, Some("-n 64"), None).await;
    let mut crowd = Vec::new();
    for _ in 0..100 {
        let mut s = server.connect().await;
        let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
        crowd.push(s);
    }
    server.assert_healthy().await;
    // The oldest of the crowd were closed to make room.
    let mut closed = 0;
    for s in crowd.iter_mut().take(20) {
        if read_until_closed(s, Duration::from_millis(200))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(closed > 0, "no connection of the crowd was closed");
}
