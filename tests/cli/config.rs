//! config.toml: written with comments on first run, never overwritten, parsed strictly.

use std::os::unix::fs::PermissionsExt;

use llm_gateway::config::file::TEMPLATE;

use super::expect;
use crate::support::{TestHome, stderr};

#[test]
fn first_run_writes_the_template_owner_only() {
    let h = TestHome::new();
    let path = h.path().join("config.toml");
    assert!(!path.exists());
    expect(&h, &["server", "status"], 0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), TEMPLATE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn an_existing_config_is_never_overwritten() {
    let h = TestHome::new();
    let text = "[timeouts]\nconnect_secs = 3\n";
    h.write_config(text);
    expect(&h, &["server", "status"], 0);
    expect(&h, &["server", "status"], 0);
    assert_eq!(
        std::fs::read_to_string(h.path().join("config.toml")).unwrap(),
        text
    );
}

#[test]
fn an_unknown_key_is_named() {
    let h = TestHome::new();
    h.write_config("[server]\nlisten_addr = \"127.0.0.1:1\"\n");
    let out = expect(&h, &["server", "status"], 1);
    let err = stderr(&out);
    assert!(err.contains("listen_addr"), "{err}");
    assert!(err.contains("config.toml"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_bad_secrets_backend_variable_is_named() {
    let h = TestHome::new();
    let out = h
        .cmd()
        .env("LLM_GATEWAY_SECRETS_BACKEND", "vault")
        .args(["server", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("LLM_GATEWAY_SECRETS_BACKEND"),
        "{}",
        stderr(&out)
    );
}
