//! `llm-gateway oauth ...` through the real binary, against the fake Google / Code Assist and
//! Qwen servers (pointed at by `LLM_GATEWAY_<KIND>_<ENDPOINT>_URL`): logins completed by pasting
//! the callback address or by playing the browser, the device flow, import, status, refresh,
//! logout, and a detached server that picks up logins and refreshes tokens in the background.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{query, url_in};
use crate::support::fake_oauth::{FAKE_REFRESH, FakeGoogle, FakeQwen, RefreshMode};
use crate::support::{TestHome, check_exit, stderr, stdout, stdout_json};

/// Words that would mean a token leaked: the fakes' access and refresh tokens.
const LEAKS: [&str; 4] = ["ya29.", "fake-refresh", "qwen-fake-", "1//imported"];

struct Fakes {
    g: FakeGoogle,
    q: FakeQwen,
    /// Everything the binary printed, checked for tokens at the end.
    seen: Mutex<Vec<String>>,
}

impl Fakes {
    async fn start() -> Fakes {
        Fakes {
            g: FakeGoogle::start().await,
            q: FakeQwen::start().await,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn cmd(&self, home: &TestHome, args: &[&str]) -> Command {
        let mut c = home.cmd();
        let g = |p: &str| self.g.server.url(p);
        let q = |p: &str| self.q.server.url(p);
        c.env("LLM_GATEWAY_GEMINI_CLI_AUTH_URL", g("/auth"))
            .env("LLM_GATEWAY_GEMINI_CLI_TOKEN_URL", g("/token"))
            .env("LLM_GATEWAY_GEMINI_CLI_API_URL", g(""))
            .env("LLM_GATEWAY_GEMINI_CLI_USERINFO_URL", g("/userinfo"))
            .env("LLM_GATEWAY_GEMINI_CLI_REVOKE_URL", g("/revoke"))
            .env("LLM_GATEWAY_QWEN_DEVICE_URL", q("/device"))
            .env("LLM_GATEWAY_QWEN_TOKEN_URL", q("/token"))
            .env("LLM_GATEWAY_QWEN_API_URL", q("/v1"))
            .env_remove("GOOGLE_CLOUD_PROJECT")
            .args(args);
        c
    }

    fn record(&self, out: &Output) {
        let mut seen = self.seen.lock().unwrap();
        seen.push(stdout(out));
        seen.push(stderr(out));
    }

    /// Runs `args` and checks the exit code.
    fn expect(&self, home: &TestHome, args: &[&str], code: i32) -> Output {
        let out = self.cmd(home, args).output().unwrap();
        self.record(&out);
        check_exit(out, args, code)
    }

    fn json(&self, home: &TestHome, args: &[&str]) -> Value {
        stdout_json(&self.expect(home, args, 0), args)
    }

    fn spawn(&self, home: &TestHome, args: &[&str]) -> Spawned {
        let mut child = self
            .cmd(home, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        Spawned {
            stdin: child.stdin.take(),
            child,
            lines,
            stdout: Some(stdout),
        }
    }

    /// No token in anything the binary printed.
    fn assert_no_leak(&self) {
        for text in self.seen.lock().unwrap().iter() {
            for leak in LEAKS {
                assert!(!text.contains(leak), "{leak:?} printed:\n{text}");
            }
        }
    }
}

/// A running `llm-gateway` whose stderr is collected line by line.
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Spawned {
    fn stderr(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The first stderr line containing `needle`, waiting up to 20 s.
    fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            if Instant::now() > deadline || self.child.try_wait().unwrap().is_some() {
                let _ = self.child.kill();
                panic!("no stderr line with {needle:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits up to 30 s for the exit; returns (code, stdout, stderr).
    fn finish(mut self, fakes: &Fakes) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after 30 s:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        let out = self.stdout.take().unwrap().join().unwrap();
        // The reader thread may still hold the last lines for a moment.
        std::thread::sleep(Duration::from_millis(50));
        let err = self.stderr();
        let mut seen = fakes.seen.lock().unwrap();
        seen.push(out.clone());
        seen.push(err.clone());
        (status.code().unwrap_or(-1), out, err)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `oauth login gemini-cli --no-browser --yes [extra]` and returns it with the printed
/// authorization address.
fn start_gemini_login(f: &Fakes, home: &TestHome, extra: &[&str]) -> (Spawned, url::Url) {
    let mut args = vec!["oauth", "login", "gemini-cli", "--no-browser", "--yes"];
    args.extend_from_slice(extra);
    let mut p = f.spawn(home, &args);
    let auth = url_in(&p.wait_line("/auth?"));
    (p, auth)
}

/// A Gemini login completed by pasting the callback address on stdin.
fn gemini_login_by_paste(f: &Fakes, home: &TestHome, extra: &[&str]) -> (i32, String, String) {
    let (mut p, auth) = start_gemini_login(f, home, extra);
    let redirect = query(&auth, "redirect_uri").unwrap();
    let state = query(&auth, "state").unwrap();
    p.type_line(&format!("{redirect}?code=good-code&state={state}"));
    p.finish(f)
}

fn parse_time(v: &Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_login_by_paste_then_status_refresh_logout() {
    let f = Fakes::start().await;
    let h = TestHome::new();
    let (code, out, err) = gemini_login_by_paste(&f, &h, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("Google's terms") && err.contains("2026-06-18"),
        "{err}"
    );
    assert!(
        err.contains("added upstream `gemini-cli`") && err.contains("dev@example.com"),
        "{err}"
    );
    assert!(err.contains("gemini-cli/gemini-2.5-pro"), "{err}");
    let exchange = f.g.server.requests_to("/token")[0].form();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert!(exchange["redirect_uri"].starts_with("http://127.0.0.1:"));

    // `oauth status --json`: the agreed shape, one object per login, or one object by name.
    let list = f.json(&h, &["oauth", "status", "--json"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    for key in [
        "name",
        "provider",
        "account",
        "project",
        "tier",
        "expires_at",
        "last_refresh",
        "state",
        "last_error",
    ] {
        assert!(row.get(key).is_some(), "{key} missing: {row}");
    }
    assert_eq!(row["name"], "gemini-cli");
    assert_eq!(row["provider"], "gemini-cli");
    assert_eq!(row["account"], "dev@example.com");
    assert_eq!(row["project"], "proj-123");
    assert_eq!(row["tier"], "standard-tier");
    assert_eq!(row["state"], "active");
    assert_eq!(row["last_error"], Value::Null);
    let first_expiry = parse_time(&row["expires_at"]);
    parse_time(&row["last_refresh"]);
    let one = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert_eq!(&one, row);

    let table = f.expect(&h, &["oauth", "status"], 0);
    let text = stdout(&table);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("proj-123") && text.contains("active"),
        "{text}"
    );
    let shown = f.json(&h, &["upstream", "show", "gemini-cli", "--json"]);
    assert_eq!(shown["auth"], "oauth");
    assert_eq!(shown["oauth"]["state"], "active");
    f.expect(&h, &["upstream", "show", "gemini-cli"], 0);
    f.expect(&h, &["upstream", "list", "--json"], 0);
    let status = f.json(&h, &["status", "--json"]);
    assert_eq!(status["upstreams"][0]["oauth"]["project"], "proj-123");

    // A refresh now: a new token with a later expiry.
    f.g.set(|s| s.expires_in = 7200);
    let out = f.expect(&h, &["oauth", "refresh", "gemini-cli"], 0);
    assert!(
        stderr(&out).contains("refreshed `gemini-cli`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.g.refresh_requests().len(), 1);
    assert_eq!(
        f.g.refresh_requests()[0].form()["refresh_token"],
        FAKE_REFRESH
    );
    let row = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert!(parse_time(&row["expires_at"]) > first_expiry, "{row}");

    // A dead refresh token: exit 1, needs-login, and the way out.
    f.g.set(|s| s.refresh = RefreshMode::InvalidGrant);
    let out = f.expect(&h, &["oauth", "refresh", "gemini-cli"], 1);
    let e = stderr(&out);
    assert!(e.contains("invalid_grant"), "{e}");
    assert!(
        e.contains("hint: run llm-gateway oauth login gemini-cli --name gemini-cli"),
        "{e}"
    );
    let row = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert_eq!(row["state"], "needs-login");
    let table = f.expect(&h, &["status"], 0);
    assert!(
        stdout(&table).contains("oauth: needs-login"),
        "{}",
        stdout(&table)
    );
    let table = f.expect(&h, &["oauth", "status"], 0);
    assert!(
        stderr(&table).contains("oauth login gemini-cli --name gemini-cli"),
        "{}",
        stderr(&table)
    );

    // Logout revokes at the provider, deletes the tokens and keeps the upstream.
    let out = f.expect(&h, &["oauth", "logout", "gemini-cli"], 0);
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert_eq!(
        f.g.server.requests_to("/revoke")[0].form()["token"],
        FAKE_REFRESH
    );
    let row = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert_eq!(row["state"], "logged-out");
    assert_eq!(row["expires_at"], Value::Null);
    let out = f.expect(&h, &["oauth", "refresh", "gemini-cli"], 1);
    assert!(stderr(&out).contains("logged out"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: run llm-gateway oauth login"));
    f.assert_no_leak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_login_through_the_loopback_redirect() {
    let f = Fakes::start().await;
    let h = TestHome::new();
    let (p, auth) = start_gemini_login(&f, &h, &["--name", "gc", "--project", "proj-123"]);
    assert_eq!(query(&auth, "access_type").as_deref(), Some("offline"));
    let redirect = query(&auth, "redirect_uri").unwrap();
    let state = query(&auth, "state").unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let wrong = http
        .get(format!("{redirect}?code=good-code&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let ok = http
        .get(format!("{redirect}?code=good-code&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let (code, _, err) = p.finish(&f);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("added upstream `gc`"), "{err}");
    let load = &f.g.server.requests_to("/v1internal:loadCodeAssist")[0];
    assert_eq!(load.json()["cloudaicompanionProject"], "proj-123");

    // Logging in again under the same name updates it.
    let (code, _, err) = gemini_login_by_paste(&f, &h, &["--name", "gc"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("updated upstream `gc`"), "{err}");
    assert_eq!(
        f.json(&h, &["oauth", "status", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    f.assert_no_leak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_manual_login_takes_the_pasted_code() {
    let f = Fakes::start().await;
    let h = TestHome::new();
    let mut p = f.spawn(
        &h,
        &[
            "oauth",
            "login",
            "gemini-cli",
            "--manual",
            "--no-browser",
            "--yes",
        ],
    );
    let auth = url_in(&p.wait_line("/auth?"));
    assert_eq!(
        query(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    p.wait_line("Enter the authorization code");
    p.type_line("good-code");
    let (code, _, err) = p.finish(&f);
    assert_eq!(code, 0, "{err}");
    let exchange = f.g.server.requests_to("/token")[0].form();
    assert!(exchange["code_verifier"].len() >= 43);
    assert_eq!(
        f.json(&h, &["oauth", "status", "gemini-cli", "--json"])["state"],
        "active"
    );
    f.assert_no_leak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ineligible_account_exits_1_with_the_explanation() {
    let f = Fakes::start().await;
    f.g.set(|s| {
        s.load = json!({"ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "tierId": "free-tier",
            "reasonMessage": "This client is no longer supported for Gemini Code Assist for individuals."}]})
    });
    let h = TestHome::new();
    let (code, out, err) = gemini_login_by_paste(&f, &h, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("error: Google Code Assist refused this account")
            && err.contains("UNSUPPORTED_CLIENT")
            && err.contains("no longer supported"),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("--provider gemini --api-key-stdin"),
        "{err}"
    );
    // Nothing was saved.
    assert_eq!(f.json(&h, &["oauth", "status", "--json"]), json!([]));
    f.assert_no_leak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen_device_login_with_pending_and_slow_down() {
    let f = Fakes::start().await;
    f.q.set(|s| {
        s.polls = vec![
            (400, json!({"error": "authorization_pending"})),
            (429, json!({"error": "slow_down"})),
        ]
    });
    let h = TestHome::new();
    let p = f.spawn(&h, &["oauth", "login", "qwen", "--no-browser", "--yes"]);
    let (code, out, err) = p.finish(&f);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("ABCD-1234") && err.contains("2026-04-15"),
        "{err}"
    );
    assert!(err.contains("added upstream `qwen`"), "{err}");
    assert_eq!(f.q.server.requests_to("/token").len(), 3);
    let row = f.json(&h, &["oauth", "status", "qwen", "--json"]);
    assert_eq!(row["provider"], "qwen");
    assert_eq!(row["state"], "active");
    assert_eq!(row["project"], Value::Null);
    parse_time(&row["expires_at"]);
    let shown = f.json(&h, &["upstream", "show", "qwen", "--json"]);
    assert_eq!(shown["models"], json!(["coder-model"]));

    // Qwen has no revocation endpoint: logout deletes the tokens only.
    let out = f.expect(&h, &["oauth", "logout", "qwen"], 0);
    assert!(!stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert_eq!(
        f.json(&h, &["oauth", "status", "qwen", "--json"])["state"],
        "logged-out"
    );
    f.assert_no_leak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_gemini_cli_and_qwen_credential_files() {
    let f = Fakes::start().await;
    let h = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let far_ms = (llm_gateway::oauth::now() + 3000) * 1000;

    // Gemini CLI's ~/.gemini/oauth_creds.json.
    let gfile = dir.path().join("gemini.json");
    std::fs::write(
        &gfile,
        json!({"access_token": "ya29.imported", "refresh_token": "1//imported",
               "scope": "https://www.googleapis.com/auth/cloud-platform",
               "token_type": "Bearer", "id_token": "a.b.c", "expiry_date": far_ms})
        .to_string(),
    )
    .unwrap();
    let g = gfile.to_str().unwrap();
    let out = f.expect(&h, &["oauth", "import", "gemini-cli", "--file", g], 0);
    assert!(
        stderr(&out).contains("imported: added upstream `gemini-cli`"),
        "{}",
        stderr(&out)
    );
    let row = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert_eq!(row["project"], "proj-123");
    assert_eq!(row["account"], "dev@example.com");
    assert_eq!(
        parse_time(&row["expires_at"]),
        std::time::UNIX_EPOCH + Duration::from_millis(far_ms)
    );

    // Qwen Code's ~/.qwen/oauth_creds.json, with its resource_url.
    let qfile = dir.path().join("qwen.json");
    std::fs::write(
        &qfile,
        json!({"access_token": "qwen-fake-imported", "refresh_token": "qwen-fake-rt",
               "token_type": "Bearer", "expiry_date": far_ms,
               "resource_url": "portal.qwen.ai"})
        .to_string(),
    )
    .unwrap();
    let q = qfile.to_str().unwrap();
    f.expect(
        &h,
        &["oauth", "import", "qwen", "--file", q, "--name", "qw"],
        0,
    );
    let rows = f.json(&h, &["oauth", "status", "--json"]);
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gemini-cli", "qw"]);

    // A broken file is refused without quoting it; a name taken by another kind is refused.
    std::fs::write(&qfile, r#"{"access_token": "qwen-fake-secret"}"#).unwrap();
    let out = f.expect(
        &h,
        &["oauth", "import", "qwen", "--file", q, "--name", "q2"],
        1,
    );
    assert!(stderr(&out).contains("cannot import"), "{}", stderr(&out));
    let out = f.expect(
        &h,
        &["oauth", "import", "gemini-cli", "--file", g, "--name", "qw"],
        1,
    );
    assert!(stderr(&out).contains("taken"), "{}", stderr(&out));
    f.assert_no_leak();
}

/// A port that was free a moment ago (the server cannot be polled on port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A detached server with the fakes' endpoints, stopped when the test ends, pass or fail.
struct Server<'a> {
    home: &'a TestHome,
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        let _ = self.home.run(&["server", "stop"]);
    }
}

impl Server<'_> {
    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("gateway.log")).unwrap_or_default()
    }
}

/// Polls `oauth status NAME --json` until `pred` holds (up to `secs`).
fn wait_status(
    f: &Fakes,
    h: &TestHome,
    server: &Server,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let row = f.json(h, &["oauth", "status", "gemini-cli", "--json"]);
        if pred(&row) {
            return row;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: not after {secs} s: {row}\n--- log\n{}",
                server.log()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_server_picks_up_logins_and_refreshes_in_the_background() {
    let f = Fakes::start().await;
    let h = TestHome::new();
    let addr = format!("127.0.0.1:{}", free_port());
    f.expect(&h, &["server", "start", "--detach", "--listen", &addr], 0);
    let server = Server { home: &h };

    // Six-second tokens: the refresher renews them every few seconds.
    f.g.set(|s| s.expires_in = 6);
    let (code, _, err) = gemini_login_by_paste(&f, &h, &[]);
    assert_eq!(code, 0, "{err}");
    let login = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    let login_expiry = parse_time(&login["expires_at"]);

    // The server knew of no login when it started: refreshes prove the admin socket woke it.
    let row = wait_status(&f, &h, &server, 20, "two background refreshes", |_| {
        f.g.refresh_requests().len() >= 2
    });
    assert_eq!(row["state"], "active");
    let row = wait_status(&f, &h, &server, 10, "a later expiry", |r| {
        parse_time(&r["expires_at"]) > login_expiry
    });
    assert!(parse_time(&row["last_refresh"]) >= parse_time(&login["last_refresh"]));
    // Every refresh kept the one refresh token.
    assert!(
        f.g.refresh_requests()
            .iter()
            .all(|r| r.form()["refresh_token"] == FAKE_REFRESH)
    );

    // The refresh token dies: the server marks the upstream needs-login and stops trying.
    f.g.set(|s| s.refresh = RefreshMode::InvalidGrant);
    let row = wait_status(&f, &h, &server, 20, "needs-login", |r| {
        r["state"] == "needs-login"
    });
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{row}"
    );
    let status = f.expect(&h, &["status"], 0);
    assert!(
        stdout(&status).contains("oauth: needs-login"),
        "{}",
        stdout(&status)
    );
    assert!(
        stderr(&status)
            .contains("needs a new login: llm-gateway oauth login gemini-cli --name gemini-cli"),
        "{}",
        stderr(&status)
    );
    let s = f.json(&h, &["status", "--json"]);
    assert_eq!(s["server"]["running"], true);
    assert_eq!(s["upstreams"][0]["oauth"]["state"], "needs-login");
    let dead_at = f.g.refresh_requests().len();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        f.g.refresh_requests().len(),
        dead_at,
        "retried a dead token"
    );

    // Logging in again while the server runs revives the schedule.
    f.g.set(|s| s.refresh = RefreshMode::Ok);
    let (code, _, err) = gemini_login_by_paste(&f, &h, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("updated upstream `gemini-cli`"), "{err}");
    wait_status(&f, &h, &server, 20, "refreshes after the re-login", |r| {
        r["state"] == "active" && f.g.refresh_requests().len() > dead_at
    });

    // `oauth refresh` while the server runs goes through its admin socket.
    let before = f.g.refresh_requests().len();
    f.expect(&h, &["oauth", "refresh", "gemini-cli"], 0);
    assert!(f.g.refresh_requests().len() > before);

    // Logout while it runs: revoked, and the refresher lets the login go.
    f.expect(&h, &["oauth", "logout", "gemini-cli"], 0);
    assert_eq!(f.g.server.requests_to("/revoke").len(), 1);
    let row = f.json(&h, &["oauth", "status", "gemini-cli", "--json"]);
    assert_eq!(row["state"], "logged-out");
    let after = f.g.refresh_requests().len();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        f.g.refresh_requests().len(),
        after,
        "refreshed after logout"
    );
    assert_eq!(
        f.json(&h, &["oauth", "status", "gemini-cli", "--json"])["state"],
        "logged-out"
    );

    f.expect(&h, &["server", "stop"], 0);
    let log = server.log();
    for leak in LEAKS {
        assert!(!log.contains(leak), "{leak:?} in the server log:\n{log}");
    }
    drop(server);
    f.assert_no_leak();
}
