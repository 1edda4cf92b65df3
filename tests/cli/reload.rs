//! `config.toml` reloads itself: a running server puts a saved file in force without a
//! restart, keeps its settings when the file no longer parses (and `status` says so), and says
//! which changed keys wait for a restart.

use std::time::{Duration, Instant};

use super::fake::{self, Fake};
use super::live::{Running, send};
use super::{expect, json};
use crate::support::{TestHome, stdout};

/// Generous: the server looks at the file four times a second.
const WAIT: Duration = Duration::from_secs(15);

const CHAT_BODY: &str = r#"{"model":"MODEL","messages":[{"role":"user","content":"hi"}]}"#;

/// A home with an upstream `oai` serving `fake-model-a` and a key; returns the key.
fn home_with_upstream(h: &TestHome) -> String {
    let upstream = Fake::start(200, fake::CHAT);
    expect(
        h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--base-url",
            &upstream.base_url,
            "--api-key",
            "sk-fake-reload",
            "--models",
            "fake-model-a",
        ],
        0,
    );
    stdout(&expect(h, &["apikey", "add", "reload"], 0))
        .trim()
        .to_string()
}

/// The status of a chat request for `model`.
fn chat(server: &Running, key: &str, model: &str) -> u16 {
    let body = CHAT_BODY.replace("MODEL", model);
    send(&server.url("/v1/chat/completions"), Some(key), Some(&body)).0
}

/// Waits until `f` holds, failing with `what` after [`WAIT`].
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Saves `text` as editors do: a new file renamed over the old one.
fn save(h: &TestHome, text: &str) {
    let tmp = h.path().join("config.toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, h.path().join("config.toml")).unwrap();
}

fn log(h: &TestHome) -> String {
    std::fs::read_to_string(h.path().join("gateway.log")).unwrap_or_default()
}

#[test]
fn an_alias_added_by_hand_takes_effect_and_a_broken_file_changes_nothing() {
    let h = TestHome::new();
    let key = home_with_upstream(&h);
    h.write_config("# my settings\n[aliases]\n");
    let server = Running::start(&h);
    assert_eq!(chat(&server, &key, "my-model"), 404);

    // Saved in place, as `echo >>` or a plain write does.
    h.write_config("# my settings\n[aliases]\n\"my-*\" = \"oai/fake-model-a\"\n");
    eventually("the alias applies", || {
        chat(&server, &key, "my-model") == 200
    });
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["config"]["in_force"], true, "{s}");
    assert!(log(&h).contains("reloaded: aliases.my-*"), "{}", log(&h));

    // A key the schema does not know: nothing changes, the log names it with its line.
    save(
        &h,
        "# my settings\n[aliases]\n\"other\" = \"oai/fake-model-a\"\n[timeouts]\nidle_sec = 5\n",
    );
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["config"]["in_force"], false, "{s}");
    let error = s["config"]["error"].as_str().unwrap();
    assert!(error.contains("`timeouts.idle_sec` (line 5)"), "{error}");
    let text = stdout(&expect(&h, &["status"], 0));
    assert!(text.contains("NOT in force"), "{text}");
    assert!(text.contains("timeouts.idle_sec"), "{text}");
    assert_eq!(chat(&server, &key, "my-model"), 200, "the old alias stays");
    assert_eq!(chat(&server, &key, "other"), 404, "nothing of the new file");
    let logged: Vec<String> = log(&h)
        .lines()
        .filter(|l| l.contains("not applied"))
        .map(str::to_owned)
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("`timeouts.idle_sec` (line 5)"),
        "{logged:?}"
    );

    // Fixed: the new file applies, the old alias is gone.
    save(
        &h,
        "# my settings\n[aliases]\n\"other\" = \"oai/fake-model-a\"\n[timeouts]\nidle_secs = 5\n",
    );
    eventually("the fixed file applies", || {
        chat(&server, &key, "other") == 200
    });
    assert_eq!(chat(&server, &key, "my-model"), 404);
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["config"]["in_force"], true, "{s}");
    assert_eq!(s["config"]["error"], serde_json::Value::Null, "{s}");
}

#[test]
fn a_listen_change_waits_for_a_restart_and_status_says_so() {
    let h = TestHome::new();
    home_with_upstream(&h);
    h.write_config("[server]\n");
    let _server = Running::start(&h);
    save(&h, "[server]\nlisten = \"127.0.0.1:1\"\n");
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["config"]["in_force"], true, "{s}");
    assert_eq!(
        s["config"]["needs_restart"],
        serde_json::json!(["server.listen"]),
        "{s}"
    );
    let text = stdout(&expect(&h, &["status"], 0));
    assert!(text.contains("restart the server"), "{text}");
    eventually("the restart notice is logged", || {
        log(&h).contains("server.listen changed")
    });
}

#[test]
fn log_level_and_format_apply_live() {
    let h = TestHome::new();
    let key = home_with_upstream(&h);
    h.write_config("[log]\nlevel = \"info\"\n");
    let server = Running::start(&h);
    let requests = |h: &TestHome| log(h).matches("request").count();
    assert_eq!(chat(&server, &key, "fake-model-a"), 200);
    eventually("the access line", || requests(&h) >= 1);

    save(&h, "[log]\nlevel = \"warn\"\n");
    json(&h, &["status", "--json"]);
    let before = requests(&h);
    assert_eq!(chat(&server, &key, "fake-model-a"), 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(requests(&h), before, "no access line at warn");

    save(&h, "[log]\nlevel = \"info\"\nformat = \"json\"\n");
    json(&h, &["status", "--json"]);
    assert_eq!(chat(&server, &key, "fake-model-a"), 200);
    eventually("a JSON access line", || {
        log(&h).lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["fields"]["message"] == "request")
        })
    });
}

#[test]
fn status_without_a_server_shows_a_broken_file() {
    let h = TestHome::new();
    h.write_config("[server]\nlisten_addr = \"x\"\n");
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["server"]["running"], false, "{s}");
    assert_eq!(s["config"]["in_force"], serde_json::Value::Null, "{s}");
    let error = s["config"]["error"].as_str().unwrap();
    assert!(error.contains("`server.listen_addr` (line 2)"), "{error}");
}
