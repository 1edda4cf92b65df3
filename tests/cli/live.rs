//! With a detached server: start/status/stop, and changes made from the CLI while it runs going
//! through the admin socket and taking effect at once.

use std::net::TcpListener;

use super::fake::{self, Fake};
use super::{expect, json};
use crate::support::{TestHome, check_exit, stderr, stdout};

/// A port that was free a moment ago (the server cannot be polled on port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A detached server, stopped when the test ends, pass or fail.
pub(super) struct Running<'a> {
    home: &'a TestHome,
    addr: String,
}

impl<'a> Running<'a> {
    pub(super) fn start(home: &'a TestHome) -> Running<'a> {
        Running::start_with(home, |_| {})
    }

    /// [`Running::start`] with the starting command adjusted by `tweak` (its environment).
    pub(super) fn start_with(
        home: &'a TestHome,
        tweak: impl FnOnce(&mut std::process::Command),
    ) -> Running<'a> {
        let addr = format!("127.0.0.1:{}", free_port());
        let args = ["server", "start", "--detach", "--listen", &addr];
        let mut cmd = home.cmd();
        cmd.args(args);
        tweak(&mut cmd);
        let out = check_exit(cmd.output().unwrap(), &args, 0);
        assert!(
            stderr(&out).contains(&format!("listening on http://{addr}")),
            "{}",
            stderr(&out)
        );
        Running { home, addr }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.home.run(&["server", "stop"]);
    }
}

/// `GET url` with an optional gateway key: (status, body); status 0 when nothing answers.
pub(super) fn get(url: &str, key: Option<&str>) -> (u16, String) {
    send(url, key, None)
}

/// `GET url`, or `POST` of `body` as JSON, with an optional gateway key.
pub(super) fn send(url: &str, key: Option<&str>, body: Option<&str>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut req = match body {
            Some(b) => client
                .post(url)
                .header("content-type", "application/json")
                .body(b.to_owned()),
            None => client.get(url),
        };
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    })
}

#[test]
fn detached_server_lifecycle() {
    let h = TestHome::new();
    let server = Running::start(&h);

    let s = json(&h, &["server", "status", "--json"]);
    assert_eq!(s["name"], "server");
    assert_eq!(s["running"], true);
    assert!(s["pid"].as_u64().is_some_and(|p| p > 0), "{s}");
    assert_eq!(s["listen"], server.addr.as_str());
    let text = stdout(&expect(&h, &["server", "status"], 0));
    assert!(text.starts_with("running (pid "), "{text}");

    let again = expect(&h, &["server", "start", "--detach"], 0);
    assert!(
        stderr(&again).contains("already running"),
        "{}",
        stderr(&again)
    );
    let fg = expect(&h, &["server", "start"], 1);
    assert!(stderr(&fg).contains("already running"), "{}", stderr(&fg));

    assert_eq!(get(&server.url("/health"), None).0, 200);
    assert_eq!(json(&h, &["status", "--json"])["server"]["running"], true);
    assert!(h.path().join("gateway.log").is_file());

    let out = expect(&h, &["server", "stop"], 0);
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    assert_eq!(
        stdout(&expect(&h, &["server", "status"], 0)),
        "not running\n"
    );
    assert_eq!(get(&server.url("/health"), None).0, 0);
    expect(&h, &["server", "stop"], 0);
}

#[test]
fn changes_reach_the_running_server_at_once() {
    let h = TestHome::new();
    let server = Running::start(&h);
    let models = server.url("/v1/models");

    expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--api-key",
            "sk-fake-live",
            "--models",
            "fake-live-model",
        ],
        0,
    );
    assert_eq!(json(&h, &["upstream", "list", "--json"])[0]["name"], "oai");

    let out = expect(&h, &["apikey", "add", "live"], 0);
    let key = stdout(&out).trim().to_string();

    let (status, body) = get(&models, Some(&key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fake-live-model"), "{body}");
    assert_eq!(get(&models, None).0, 401);
    assert_eq!(get(&models, Some("lgw_not-a-real-key")).0, 401);

    expect(&h, &["apikey", "disable", "live"], 0);
    assert_eq!(get(&models, Some(&key)).0, 401);
    expect(&h, &["apikey", "enable", "live"], 0);
    assert_eq!(get(&models, Some(&key)).0, 200);
    expect(&h, &["apikey", "revoke", "live"], 0);
    assert_eq!(get(&models, Some(&key)).0, 401);

    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["server"]["running"], true);
    assert_eq!(s["upstreams"][0]["name"], "oai");
    assert_eq!(s["keys"][0]["state"], "revoked");

    expect(&h, &["upstream", "remove", "oai"], 0);
    assert_eq!(
        json(&h, &["upstream", "list", "--json"]),
        serde_json::json!([])
    );
    drop(server);
    assert_eq!(
        stdout(&expect(&h, &["server", "status"], 0)),
        "not running\n"
    );
}

#[test]
fn status_counts_a_request_made_just_before_and_the_key_shows_its_use() {
    let h = TestHome::new();
    let upstream = Fake::start(200, fake::CHAT);
    expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--base-url",
            &upstream.base_url,
            "--api-key",
            "sk-fake-live",
            "--models",
            "fake-model-a",
        ],
        0,
    );
    let key = stdout(&expect(&h, &["apikey", "add", "live"], 0))
        .trim()
        .to_string();
    let server = Running::start(&h);
    let body = r#"{"model":"fake-model-a","messages":[{"role":"user","content":"hi"}]}"#;
    let (status, reply) = send(&server.url("/v1/chat/completions"), Some(&key), Some(body));
    assert_eq!(status, 200, "{reply}");

    // Well before the server's periodic flush: `status` has it written first.
    let usage = &json(&h, &["status", "--json"])["usage"];
    assert_eq!(usage[0]["name"], "oai/fake-model-a", "{usage}");
    assert_eq!(usage[0]["requests"], 1, "{usage}");
    assert_eq!(usage[0]["errors"], 0, "{usage}");
    assert_eq!(usage[0]["input_tokens"], 1, "{usage}");
    let shown = json(&h, &["apikey", "show", "live", "--json"]);
    assert!(shown["last_used_at"].is_string(), "{shown}");
    let listed = stdout(&expect(&h, &["apikey", "list"], 0));
    assert!(!listed.contains("never"), "{listed}");
}
