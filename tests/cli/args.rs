//! Parsing and exit codes (0 success, 1 error, 2 usage error), missing values without a terminal,
//! and the commands that need no store.

use super::{expect, json};
use crate::support::{TestHome, stderr, stdout};

#[test]
fn help_and_version_succeed_on_stdout() {
    let h = TestHome::new();
    let out = expect(&h, &["--help"], 0);
    assert!(stdout(&out).contains("Usage: llm-gateway"));
    let out = expect(&h, &["--version"], 0);
    assert!(stdout(&out).starts_with("llm-gateway "));
    for sub in [
        "server",
        "status",
        "upstream",
        "apikey",
        "oauth",
        "completions",
        "man",
    ] {
        expect(&h, &[sub, "--help"], 0);
    }
}

#[test]
fn usage_errors_exit_2() {
    let h = TestHome::new();
    let cases: &[&[&str]] = &[
        &[],
        &["bogus"],
        &["server"],
        &["server", "start", "--bogus"],
        &["upstream", "add"],
        &["upstream", "add", "x", "--provider", "azure"],
        &[
            "upstream",
            "add",
            "a/b",
            "--provider",
            "openai",
            "--api-key",
            "k",
        ],
        &[
            "upstream",
            "add",
            "x",
            "--provider",
            "openai",
            "--api-key",
            "k",
            "--api-key-stdin",
        ],
        &[
            "upstream",
            "add",
            "x",
            "--provider",
            "openai",
            "--api-key",
            "k",
            "--no-api-key",
        ],
        &[
            "upstream",
            "add",
            "x",
            "--provider",
            "qwen",
            "--region",
            "eu",
            "--api-key",
            "k",
        ],
        &[
            "upstream",
            "add",
            "x",
            "--provider",
            "openai",
            "--priority",
            "-1",
            "--api-key",
            "k",
        ],
        &["upstream", "show"],
        &["upstream", "test"],
        &["apikey", "add"],
        &["apikey", "add", "k", "--rpm", "0"],
        &["apikey", "add", "k", "--rpm", "many"],
        &["apikey", "revoke"],
        &["status", "--bogus"],
        &["oauth", "login"],
        &["oauth", "login", "claude"],
        &["oauth", "import", "openai"],
        &["oauth", "refresh"],
        &["completions"],
        &["completions", "tcsh"],
    ];
    for args in cases {
        let out = expect(&h, args, 2);
        assert!(
            stdout(&out).is_empty(),
            "{args:?}: usage errors go to stderr"
        );
        let err = stderr(&out);
        assert!(
            err.contains("error:") || err.contains("Usage:"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn checks_the_add_flags_before_touching_anything() {
    let h = TestHome::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "upstream",
                "add",
                "x",
                "--provider",
                "openai",
                "--region",
                "cn",
                "--api-key",
                "k",
            ],
            "--region",
        ),
        (
            &[
                "upstream",
                "add",
                "x",
                "--provider",
                "anthropic",
                "--no-api-key",
            ],
            "--no-api-key",
        ),
        (
            &[
                "upstream",
                "add",
                "x",
                "--provider",
                "openai",
                "--base-url",
                "api.example",
                "--api-key",
                "k",
            ],
            "--base-url",
        ),
    ];
    for (args, flag) in cases {
        let out = expect(&h, args, 2);
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn missing_values_without_a_terminal_name_the_flag() {
    let h = TestHome::new();
    let out = expect(&h, &["upstream", "add", "x"], 2);
    assert!(stderr(&out).contains("--provider"), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a terminal"), "{}", stderr(&out));

    let out = expect(&h, &["upstream", "add", "x", "--provider", "anthropic"], 2);
    assert!(stderr(&out).contains("--api-key-stdin"), "{}", stderr(&out));

    let out = expect(
        &h,
        &[
            "upstream",
            "add",
            "x",
            "--provider",
            "openai",
            "--api-key-stdin",
        ],
        2,
    );
    assert!(stderr(&out).contains("--api-key-stdin"), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

#[test]
fn gemini_cli_points_to_oauth_login() {
    let h = TestHome::new();
    let out = expect(&h, &["upstream", "add", "g", "--provider", "gemini-cli"], 1);
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("oauth login gemini-cli"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn oauth_commands_without_logins() {
    let h = TestHome::new();
    let out = expect(&h, &["oauth", "status"], 0);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("no OAuth logins"), "{}", stderr(&out));
    assert_eq!(
        json(&h, &["oauth", "status", "--json"]),
        serde_json::json!([])
    );
    for args in [
        &["oauth", "status", "gem", "--json"][..],
        &["oauth", "refresh", "gem"],
        &["oauth", "logout", "gem"],
    ] {
        let out = expect(&h, args, 1);
        assert!(
            stderr(&out).contains("no upstream named `gem`"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = expect(
        &h,
        &["oauth", "login", "qwen", "--name", "qw", "--manual"],
        2,
    );
    assert!(stderr(&out).contains("--manual"), "{}", stderr(&out));
    let out = expect(
        &h,
        &[
            "oauth",
            "import",
            "gemini-cli",
            "--file",
            "/nonexistent/creds.json",
        ],
        1,
    );
    assert!(
        stderr(&out).contains("cannot import /nonexistent/creds.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn server_status_and_stop_when_nothing_runs() {
    let h = TestHome::new();
    let out = expect(&h, &["server", "status"], 0);
    assert_eq!(stdout(&out), "not running\n");
    let v = json(&h, &["server", "status", "--json"]);
    assert_eq!(v["name"], "server");
    assert_eq!(v["running"], false);
    assert!(v["pid"].is_null() && v["listen"].is_null());
    let out = expect(&h, &["server", "stop"], 0);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("not running"), "{}", stderr(&out));
}

#[test]
fn home_flag_is_global_and_beats_the_environment() {
    let h = TestHome::new();
    let other = tempfile::tempdir().unwrap();
    let dir = other.path().join("gw");
    let out = h
        .cmd()
        .args(["server", "status", "--home"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.join("config.toml").is_file());
    assert!(!h.path().join("config.toml").exists());
}

#[test]
fn completions_for_every_shell() {
    let h = TestHome::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        // The dynamic registration calls the binary back; the static script lists the tree.
        let text = stdout(&expect(&h, &["completions", shell], 0));
        assert!(text.contains("llm-gateway"), "{shell}");
        assert!(text.contains("COMPLETE"), "{shell}");
        let text = stdout(&expect(&h, &["completions", shell, "--static"], 0));
        assert!(text.contains("llm-gateway"), "{shell}");
        assert!(text.contains("upstream"), "{shell}");
    }
    // Neither needs the home folder.
    assert!(!h.path().join("config.toml").exists());
}

#[test]
fn man_prints_the_main_page_or_writes_all() {
    let h = TestHome::new();
    let out = expect(&h, &["man"], 0);
    assert!(
        stdout(&out).contains(".TH llm-gateway 1"),
        "{}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = h
        .cmd()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in [
        "llm-gateway.1",
        "llm-gateway-upstream-add.1",
        "llm-gateway-apikey-add.1",
        "llm-gateway-server-start.1",
        "llm-gateway-oauth-login.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
}
