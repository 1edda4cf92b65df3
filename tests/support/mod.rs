//! Shared test support: a temp home and the real binary, fake upstreams on port 0.
#![allow(dead_code)]

pub mod fake_oauth;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary `LLM_GATEWAY_HOME`, removed on drop.
pub struct TestHome {
    dir: tempfile::TempDir,
}

impl TestHome {
    pub fn new() -> TestHome {
        TestHome {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `llm-gateway` with this home, the file secret backend (no keyring in tests unless asked)
    /// and a clean environment for the variables the gateway reads.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("LLM_GATEWAY_HOME", self.path())
            .env("LLM_GATEWAY_SECRETS_BACKEND", "file")
            .env("NO_COLOR", "1")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::null());
        c
    }

    /// Runs the command with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run llm-gateway")
    }

    /// Writes `config.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).expect("write config");
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llm-gateway"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
