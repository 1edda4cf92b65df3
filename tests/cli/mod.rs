//! CLI tests: every command, with and without a running server.
//!
//! `args`, `config` and `generated` need no store. `manage` (store without a server) and `live`
//! (a detached server) exercise the real store and server behind the CLI.

mod args;
mod config;
mod fake;
mod generated;
mod live;
mod manage;

use std::process::Output;

use crate::support::{TestHome, stderr, stdout};

/// Runs `args` and checks the exit code, showing the output when it differs.
pub fn expect(home: &TestHome, args: &[&str], code: i32) -> Output {
    let out = home.run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "llm-gateway {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Runs `args`, expects success and parses stdout as JSON.
pub fn json(home: &TestHome, args: &[&str]) -> serde_json::Value {
    let out = expect(home, args, 0);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", args.join(" "), stdout(&out)))
}
