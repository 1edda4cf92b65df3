//! CLI tests: every command, with and without a running server.
//!
//! `args`, `config` and `generated` need no store. `manage` (store without a server) and `live`
//! (a detached server) exercise the real store and server behind the CLI; `unanswered` has a
//! server that goes away between a change and its reply; `reload` edits `config.toml` under a
//! running server.

mod alias;
mod args;
mod completion;
mod config;
mod fake;
mod generated;
mod launch;
mod live;
mod log;
mod manage;
mod reload;
mod unanswered;
mod url_secrets;

use std::process::Output;

use crate::support::{TestHome, check_exit, stdout_json};

/// Runs `args` and checks the exit code, showing the output when it differs.
pub fn expect(home: &TestHome, args: &[&str], code: i32) -> Output {
    check_exit(home.run(args), args, code)
}

/// Runs `args`, expects success and parses stdout as JSON.
pub fn json(home: &TestHome, args: &[&str]) -> serde_json::Value {
    stdout_json(&expect(home, args, 0), args)
}
