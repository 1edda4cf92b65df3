//! OAuth upstreams on the request path, through the real binary: `server start --detach` on a
//! free port, logins by pasting the callback address, and requests in every client dialect
//! against the fake Google / Code Assist (and a fake OpenAI-compatible server for Qwen).
//!
//! Each test has its own home and fakes, so they run in parallel: short-lived tokens refreshed
//! in the background while requests keep succeeding, refresh-on-401, a dead refresh token
//! (401 in the client's dialect, or failover), two accounts rotating on 429, a spent daily
//! quota, a slow refresh that blocks nothing, and Qwen OAuth with its DashScope headers. Every
//! test ends by checking that no token shows in the log, the status commands or any reply.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{query, url_in};
use crate::support::fake_oauth::{
    CA_DAILY, CA_RESET_DELAY_20S, CA_RETRY_30S, CA_TEXT, CA_UNAUTHENTICATED, CaRule, FAKE_REFRESH,
    FakeGoogle, FakeQwen, refresh_for_code,
};
use crate::support::fake_openai::FakeOpenAi;
use crate::support::{TestHome, check_exit, stderr, stdout, stdout_json};

/// Substrings of every token the fakes issue (access and refresh, Google and Qwen).
const LEAKS: [&str; 4] = ["ya29.", "fake-refresh", "qwen-fake-", "1//"];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A detached gateway with its own home, pointed at the fakes; stopped on drop.
struct Gw {
    home: TestHome,
    env: Vec<(String, String)>,
    base: String,
    key: String,
    http: reqwest::Client,
    /// Every reply body and CLI output, checked for tokens at the end.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.cmd(&["server", "stop"]).output();
    }
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Gw {
    /// A home whose gemini-cli (and qwen) endpoints are the fakes'; the server is not started.
    fn new(g: &FakeGoogle, q: Option<&FakeQwen>) -> Gw {
        let home = TestHome::new();
        home.write_config("[log]\nlevel = \"debug\"\n");
        let u = |p: &str| g.server.url(p);
        let mut env: Vec<(String, String)> = vec![
            ("LLM_GATEWAY_GEMINI_CLI_AUTH_URL".into(), u("/auth")),
            ("LLM_GATEWAY_GEMINI_CLI_TOKEN_URL".into(), u("/token")),
            ("LLM_GATEWAY_GEMINI_CLI_API_URL".into(), u("")),
            ("LLM_GATEWAY_GEMINI_CLI_USERINFO_URL".into(), u("/userinfo")),
            ("LLM_GATEWAY_GEMINI_CLI_REVOKE_URL".into(), u("/revoke")),
        ];
        if let Some(q) = q {
            env.push((
                "LLM_GATEWAY_QWEN_DEVICE_URL".into(),
                q.server.url("/device"),
            ));
            env.push(("LLM_GATEWAY_QWEN_TOKEN_URL".into(), q.server.url("/token")));
        }
        let mut gw = Gw {
            home,
            env,
            base: String::new(),
            key: String::new(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            seen: std::sync::Mutex::new(Vec::new()),
        };
        gw.key = stdout(&gw.ok(&["apikey", "add", "tests"]))
            .trim()
            .to_string();
        assert!(gw.key.starts_with("lgw_"), "{}", gw.key);
        gw
    }

    fn start(&mut self) {
        let addr = format!("127.0.0.1:{}", free_port());
        self.ok(&["server", "start", "--detach", "--listen", &addr]);
        self.base = format!("http://{addr}");
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.home.cmd();
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.env_remove("LLM_GATEWAY_QWEN_API_URL")
            .env_remove("GOOGLE_CLOUD_PROJECT")
            .env_remove("GOOGLE_CLOUD_PROJECT_ID")
            .args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        self.seen.lock().unwrap().push(stdout(&out) + &stderr(&out));
        check_exit(out, args, 0)
    }

    fn json(&self, args: &[&str]) -> Value {
        stdout_json(&self.ok(args), args)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("gateway.log")).unwrap_or_default()
    }

    /// `oauth login gemini-cli --name NAME`, completed by pasting the callback address with
    /// `code` (`good-code-X` logs in the account whose refresh token is `FAKE_REFRESH-X`).
    async fn login(&self, name: &str, code: &str) {
        let mut c = self.cmd(&[
            "oauth",
            "login",
            "gemini-cli",
            "--no-browser",
            "--yes",
            "--name",
            name,
        ]);
        let code = code.to_string();
        let (status, out, err) = tokio::task::spawn_blocking(move || {
            let mut child = c
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            let mut err = String::new();
            let auth = loop {
                let line = lines
                    .next()
                    .unwrap_or_else(|| panic!("no authorization address:\n{err}"))
                    .unwrap();
                err.push_str(&line);
                err.push('\n');
                if line.contains("/auth?") {
                    break url_in(&line);
                }
            };
            let redirect = query(&auth, "redirect_uri").unwrap();
            let state = query(&auth, "state").unwrap();
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{redirect}?code={code}&state={state}").unwrap();
            stdin.flush().unwrap();
            for line in lines {
                err.push_str(&line.unwrap());
                err.push('\n');
            }
            let out = child.wait_with_output().unwrap();
            (out.status, stdout(&out), err)
        })
        .await
        .unwrap();
        self.seen.lock().unwrap().push(out.clone() + &err);
        assert!(status.success(), "login {name} failed:\n{out}\n{err}");
    }

    /// POSTs `body` to `path` with the gateway key the way `path`'s dialect sends it.
    async fn post(&self, path: &str, body: Value) -> Resp {
        let url = format!("{}{path}", self.base);
        let rb = self.http.post(url).json(&body);
        let rb = if path.starts_with("/v1/messages") {
            rb.header("x-api-key", &self.key)
                .header("anthropic-version", "2023-06-01")
        } else if path.starts_with("/v1beta/") {
            rb.header("x-goog-api-key", &self.key)
        } else {
            rb.bearer_auth(&self.key)
        };
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        Resp {
            status,
            headers,
            text,
        }
    }

    async fn chat(&self, model: &str, stream: bool) -> Resp {
        self.post(
            "/v1/chat/completions",
            json!({"model": model, "stream": stream,
                   "messages": [{"role": "user", "content": "Say hello."}]}),
        )
        .await
    }

    async fn messages(&self, model: &str, stream: bool) -> Resp {
        self.post(
            "/v1/messages",
            json!({"model": model, "max_tokens": 64, "stream": stream,
                   "messages": [{"role": "user", "content": "Say hello."}]}),
        )
        .await
    }

    async fn gemini(&self, model: &str, method: &str) -> Resp {
        let q = if method == "streamGenerateContent" {
            "?alt=sse"
        } else {
            ""
        };
        self.post(
            &format!("/v1beta/models/{model}:{method}{q}"),
            json!({"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]}),
        )
        .await
    }

    /// No token in anything printed, answered or logged, nor in the status views.
    fn assert_no_leak(&self, names: &[&str]) {
        self.json(&["status", "--json"]);
        self.json(&["oauth", "status", "--json"]);
        for n in names {
            self.json(&["upstream", "show", n, "--json"]);
        }
        let mut texts = self.seen.lock().unwrap().clone();
        texts.push(self.log());
        for text in &texts {
            for leak in LEAKS {
                assert!(!text.contains(leak), "{leak:?} leaked:\n{text}");
            }
        }
    }
}

/// The text a reply carries, whatever the dialect, whole or streamed.
fn reply_text(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    let mut out = String::new();
    let mut take = |v: &Value| {
        for p in [
            "/choices/0/message/content",
            "/choices/0/delta/content",
            "/content/0/text",
            "/delta/text",
            "/candidates/0/content/parts/0/text",
        ] {
            if let Some(t) = v.pointer(p).and_then(Value::as_str) {
                out.push_str(t);
            }
        }
    };
    if r.text.trim_start().starts_with('{') {
        take(&r.json());
    } else {
        for line in r.text.lines() {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<Value>(data.trim())
            {
                take(&v);
            }
        }
    }
    out
}

fn error_message(r: &Resp) -> String {
    r.json()["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {}", r.text))
        .to_string()
}

fn upstream_status<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no upstream {name} in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_refresh_in_the_background_while_every_dialect_works() {
    let g = FakeGoogle::start().await;
    g.set(|s| s.expires_in = 6);
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gca", "good-code").await;
    let login_issued = g.issued();

    let model = "gca/gemini-2.5-pro";
    let until = Instant::now() + Duration::from_secs(15);
    let mut sent = 0;
    while Instant::now() < until {
        let replies = [
            gw.chat(model, false).await,
            gw.chat(model, true).await,
            gw.messages(model, false).await,
            gw.messages(model, true).await,
            gw.gemini(model, "generateContent").await,
            gw.gemini(model, "streamGenerateContent").await,
        ];
        for r in &replies {
            assert_eq!(reply_text(r), CA_TEXT, "{}", r.text);
        }
        sent += replies.len();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let count = gw.gemini(model, "countTokens").await;
    assert_eq!(count.status, 200, "{}", count.text);
    assert_eq!(count.json()["totalTokens"], 7);
    sent += 1;

    let seen = g.ca_seen();
    assert_eq!(
        seen.len(),
        sent,
        "one upstream call per request, no retries"
    );
    for s in &seen {
        assert_eq!(s.problem, None, "{} with a bad token", s.path);
        assert_eq!(s.account.as_deref(), Some(FAKE_REFRESH));
        assert_eq!(s.status, 200);
        assert!(
            s.user_agent.starts_with("GeminiCLI/") && s.user_agent.contains("/gemini-2.5-pro ("),
            "{}",
            s.user_agent
        );
        if s.path == "/v1internal:countTokens" {
            assert_eq!(s.body["request"]["model"], "models/gemini-2.5-pro");
            assert!(s.body["request"]["contents"].is_array(), "{}", s.body);
            continue;
        }
        assert_eq!(s.body["model"], "gemini-2.5-pro", "{}", s.body);
        assert_eq!(s.body["project"], "proj-123", "{}", s.body);
        let contents = &s.body["request"]["contents"];
        assert_eq!(contents[0]["role"], "user", "{}", s.body);
        assert_eq!(contents[0]["parts"][0]["text"], "Say hello.", "{}", s.body);
        if s.path == "/v1internal:streamGenerateContent" {
            assert_eq!(s.query, "alt=sse");
        }
    }
    let streams = seen
        .iter()
        .filter(|s| s.path == "/v1internal:streamGenerateContent")
        .count();
    assert!(streams * 2 >= sent - 1, "{streams} streams of {sent}");
    // The newest token was in use at the end, and several refreshes happened on the way.
    assert_eq!(
        seen.last().map(|s| s.token.clone()),
        g.newest_token(FAKE_REFRESH)
    );
    let refreshes = g.refresh_requests().len();
    assert!(
        refreshes >= 2 && g.issued() > login_issued + 1,
        "{refreshes} refreshes"
    );
    assert!(refreshes <= 6, "{refreshes} refreshes in 15 s: a storm");
    let row = gw.json(&["oauth", "status", "gca", "--json"]);
    assert_eq!(row["state"], "active", "{row}");
    gw.assert_no_leak(&["gca"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refreshes_once_and_retries() {
    let g = FakeGoogle::start().await;
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gca", "good-code").await;
    let model = "gca/gemini-2.5-pro";

    // Whole reply, Anthropic client.
    g.set(|s| s.ca_rules = vec![CaRule::once(FAKE_REFRESH, 401, CA_UNAUTHENTICATED)]);
    let r = gw.messages(model, false).await;
    assert_eq!(reply_text(&r), CA_TEXT);
    assert_eq!(g.refresh_requests().len(), 1);
    let seen = g.ca_seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].status, 401);
    assert_ne!(seen[0].token, seen[1].token);
    assert_eq!(Some(seen[1].token.clone()), g.newest_token(FAKE_REFRESH));

    // Right after: a stream, OpenAI client; again exactly one refresh.
    g.set(|s| s.ca_rules = vec![CaRule::once(FAKE_REFRESH, 401, CA_UNAUTHENTICATED)]);
    let r = gw.chat(model, true).await;
    assert_eq!(reply_text(&r), CA_TEXT);
    assert_eq!(g.refresh_requests().len(), 2);
    let seen = g.ca_seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].status, 401);
    assert_eq!(seen[3].status, 200);
    assert_ne!(seen[2].token, seen[3].token);
    assert_eq!(Some(seen[3].token.clone()), g.newest_token(FAKE_REFRESH));

    // A token refused twice: one refresh, then the 401 in the client's dialect.
    g.set(|s| s.ca_rules = vec![CaRule::always(FAKE_REFRESH, 401, CA_UNAUTHENTICATED)]);
    let r = gw.gemini(model, "generateContent").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["error"]["status"], "UNAUTHENTICATED", "{}", r.text);
    assert_eq!(g.refresh_requests().len(), 3);
    assert_eq!(g.ca_seen().len(), 6);

    // Code Assist's model names: `gemini-3.5-flash` goes out as `gemini-3-flash`.
    g.set(|s| s.ca_rules.clear());
    let r = gw.messages("gca/gemini-3.5-flash", false).await;
    assert_eq!(reply_text(&r), CA_TEXT);
    let last = g.ca_seen().pop().unwrap();
    assert_eq!(last.body["model"], "gemini-3-flash", "{}", last.body);
    assert!(
        last.user_agent.contains("/gemini-3-flash ("),
        "{}",
        last.user_agent
    );
    gw.assert_no_leak(&["gca"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_refresh_token_needs_login_then_fails_over() {
    let g = FakeGoogle::start().await;
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gca", "good-code").await;
    // The refresh token is revoked, and with it the access token.
    g.set(|s| {
        s.dead = vec![FAKE_REFRESH.into()];
        s.ca_rules = vec![CaRule::always(FAKE_REFRESH, 401, CA_UNAUTHENTICATED)];
    });
    let model = "gca/gemini-2.5-pro";
    let hint = "llm-gateway oauth login gemini-cli --name gca";

    let r = gw.messages(model, false).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert!(error_message(&r).contains(hint), "{}", r.text);
    assert_eq!(g.refresh_requests().len(), 1);

    let status = gw.json(&["status", "--json"]);
    let up = upstream_status(&status, "gca");
    assert_eq!(up["oauth"]["state"], "needs-login", "{up}");
    let row = gw.json(&["oauth", "status", "gca", "--json"]);
    assert_eq!(row["state"], "needs-login", "{row}");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{row}"
    );

    // OpenAI and Gemini clients get their own shapes; the dead token is not refreshed again.
    let r = gw.chat(model, false).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(error_message(&r).contains(hint), "{}", r.text);
    assert!(r.json()["error"]["type"].is_string(), "{}", r.text);
    let r = gw.chat(model, true).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(error_message(&r).contains(hint), "{}", r.text);
    let r = gw.gemini(model, "generateContent").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["error"]["status"], "UNAUTHENTICATED", "{}", r.text);
    assert!(error_message(&r).contains(hint), "{}", r.text);
    assert_eq!(g.refresh_requests().len(), 1, "a dead token was retried");

    // With an API-key Gemini upstream serving the same model, requests fail over to it.
    let root = g.server.url("");
    gw.ok(&[
        "upstream",
        "add",
        "gk",
        "--provider",
        "gemini",
        "--base-url",
        &root,
        "--api-key",
        "sk-fake-gemini",
        "--models",
        "gemini-2.5-pro",
        "--priority",
        "200",
    ]);
    let before = g.ca_seen().len();
    for r in [
        gw.messages("gemini-2.5-pro", false).await,
        gw.chat("gemini-2.5-pro", false).await,
        gw.chat("gemini-2.5-pro", true).await,
    ] {
        assert_eq!(reply_text(&r), CA_TEXT, "{}", r.text);
    }
    let api_calls = g
        .ca_seen()
        .iter()
        .skip(before)
        .filter(|s| s.path.starts_with("/v1beta/models/gemini-2.5-pro:"))
        .count();
    assert_eq!(api_calls, 3);
    gw.assert_no_leak(&["gca", "gk"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_rotate_on_429() {
    let g = FakeGoogle::start().await;
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gca1", "good-code-1").await;
    gw.login("gca2", "good-code-2").await;
    let (a1, a2) = (
        refresh_for_code("good-code-1"),
        refresh_for_code("good-code-2"),
    );
    g.set(|s| s.ca_rules = vec![CaRule::always(&a1, 429, CA_RETRY_30S)]);

    // gca1 sorts first; its 429 sends the request to gca2, and gca1 cools down for 30 s.
    for r in [
        gw.messages("gemini-2.5-pro", false).await,
        gw.chat("gemini-2.5-pro", true).await,
        gw.gemini("gemini-2.5-pro", "generateContent").await,
        gw.messages("gemini-2.5-pro", true).await,
    ] {
        assert_eq!(reply_text(&r), CA_TEXT, "{}", r.text);
    }
    let seen = g.ca_seen();
    let by = |a: &str| {
        seen.iter()
            .filter(|s| s.account.as_deref() == Some(a))
            .count()
    };
    assert_eq!(by(&a1), 1, "gca1 asked again while cooling down");
    assert_eq!(by(&a2), 4);
    assert!(seen.iter().all(|s| s.problem.is_none()));

    // gca2 now hits a limit with only quotaResetDelay; gca1 is still cooling: a 429 that says
    // when to come back.
    g.set(|s| s.ca_rules = vec![CaRule::always(&a2, 429, CA_RESET_DELAY_20S)]);
    let r = gw.messages("gemini-2.5-pro", false).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((19..=30).contains(&retry), "retry-after {retry}");
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    gw.assert_no_leak(&["gca1", "gca2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_quota_is_reported_as_such() {
    let g = FakeGoogle::start().await;
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gcd", "good-code").await;
    g.set(|s| s.ca_rules = vec![CaRule::always(FAKE_REFRESH, 429, CA_DAILY)]);
    let r = gw.messages("gcd/gemini-2.5-pro", false).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.headers["x-should-retry"], "false");
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    let msg = error_message(&r).to_lowercase();
    assert!(msg.contains("daily") || msg.contains("per day"), "{msg}");
    let r = gw.chat("gcd/gemini-2.5-pro", false).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let msg = error_message(&r).to_lowercase();
    assert!(msg.contains("daily") || msg.contains("per day"), "{msg}");
    gw.assert_no_leak(&["gcd"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_refresh_blocks_no_request() {
    let g = FakeGoogle::start().await;
    let mut gw = Gw::new(&g, None);
    gw.start();
    gw.login("gca1", "good-code-1").await;
    gw.login("gca2", "good-code-2").await;
    // Warm both up (the server loads each login on first use).
    assert_eq!(
        reply_text(&gw.chat("gca1/gemini-2.5-pro", false).await),
        CA_TEXT
    );
    assert_eq!(
        reply_text(&gw.chat("gca2/gemini-2.5-pro", false).await),
        CA_TEXT
    );

    g.set(|s| s.refresh_delay = Duration::from_secs(4));
    let refresh = gw.cmd(&["oauth", "refresh", "gca1"]);
    let slow = tokio::task::spawn_blocking(move || {
        let mut refresh = refresh;
        refresh.output().unwrap()
    });
    // Wait for the refresh to reach the token endpoint.
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.refresh_requests().is_empty() {
        assert!(Instant::now() < deadline, "the refresh never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    for model in ["gca2/gemini-2.5-pro", "gca1/gemini-2.5-pro"] {
        assert_eq!(reply_text(&gw.chat(model, false).await), CA_TEXT);
        assert_eq!(reply_text(&gw.messages(model, true).await), CA_TEXT);
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "requests waited {:?} for a refresh",
        t.elapsed()
    );
    let out = slow.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    gw.assert_no_leak(&["gca1", "gca2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen_oauth_reaches_the_resource_url_with_dashscope_headers() {
    let g = FakeGoogle::start().await;
    let q = FakeQwen::start().await;
    let api = FakeOpenAi::start().await;
    let mut gw = Gw::new(&g, Some(&q));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oauth_creds.json");
    let far_ms = (llm_gateway::oauth::now() + 3000) * 1000;
    std::fs::write(
        &file,
        json!({"access_token": "qwen-fake-imported", "refresh_token": "qwen-fake-rt",
               "token_type": "Bearer", "expiry_date": far_ms,
               "resource_url": api.root_url()})
        .to_string(),
    )
    .unwrap();
    gw.ok(&[
        "oauth",
        "import",
        "qwen",
        "--file",
        file.to_str().unwrap(),
        "--name",
        "qw",
    ]);
    gw.start();
    for r in [
        gw.messages("qw/coder-model", false).await,
        gw.gemini("qw/coder-model", "generateContent").await,
        gw.chat("qw/coder-model", false).await,
    ] {
        assert_eq!(reply_text(&r), "hello", "{}", r.text);
    }
    let reqs = api.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.path, "/v1/chat/completions");
        let h = |n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            h("authorization").as_deref(),
            Some("Bearer qwen-fake-imported")
        );
        assert_eq!(h("x-dashscope-authtype").as_deref(), Some("qwen-oauth"));
        assert_eq!(h("x-dashscope-cachecontrol").as_deref(), Some("enable"));
        let ua = h("user-agent").unwrap_or_default();
        assert!(ua.starts_with("QwenCode/"), "{ua}");
        assert_eq!(h("x-dashscope-useragent"), Some(ua));
        assert_eq!(r.json()["model"], "coder-model");
    }
    assert!(q.server.requests_to("/token").is_empty());
    gw.assert_no_leak(&["qw"]);
}
