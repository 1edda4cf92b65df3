//! End-to-end tests with the real clients (Claude Code, Gemini CLI, Codex CLI, the openai /
//! anthropic / google-genai Python SDKs) talking to the real `llm-gateway` binary, which talks to a fake
//! upstream of [`fake`] on loopback.
//!
//! The clients are installed by `scripts/e2e-deps.sh` into `target/e2e`; `scripts/test.sh` runs it
//! and exports `LLM_GATEWAY_E2E_DIR`. Without that variable every test here prints a skip notice
//! and passes; with it, a missing client is a failure. Clients run with a cleared environment
//! (no proxies, a temporary HOME, telemetry and update checks off) and a hard timeout.
//! `browser` (headless Chromium against the in-process server) needs only `/usr/bin/chromium`
//! and skips with a notice without it.
//! `clouds` runs Claude Code through a Bedrock fake (`converse`, a scripted Converse server)
//! and Codex CLI through Azure Chat and Responses deployments.

mod browser;
mod claude;
mod clouds;
mod codex;
mod converse;
mod fake;
mod gemini_cli;
mod launch;
mod sdk;
mod upstreams;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::support::{TestHome, stderr, stdout};

/// Every client run is killed after this long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// The installed clients, or `None` (after a notice) when e2e tests are not enabled.
pub struct Clients {
    dir: PathBuf,
}

impl Clients {
    pub fn get(test: &str) -> Option<Clients> {
        let Some(dir) = std::env::var_os("LLM_GATEWAY_E2E_DIR") else {
            eprintln!(
                "skipping e2e test {test}: LLM_GATEWAY_E2E_DIR is not set \
                 (scripts/test.sh sets it after scripts/e2e-deps.sh)"
            );
            return None;
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        Some(Clients { dir })
    }

    fn need(&self, rel: &str) -> PathBuf {
        let p = self.dir.join(rel);
        assert!(
            p.exists(),
            "{} is missing: run scripts/e2e-deps.sh (LLM_GATEWAY_E2E_DIR={})",
            p.display(),
            self.dir.display()
        );
        p
    }

    pub fn claude(&self) -> PathBuf {
        self.need("node/node_modules/.bin/claude")
    }

    pub fn gemini(&self) -> PathBuf {
        self.need("node/node_modules/.bin/gemini")
    }

    pub fn codex(&self) -> PathBuf {
        self.need("node/node_modules/.bin/codex")
    }

    pub fn python(&self) -> PathBuf {
        self.need("venv/bin/python")
    }
}

/// A Python helper script next to this file.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(name)
}

/// One upstream to register: `upstream add NAME --provider KIND --base-url URL --models MODEL
/// --api-key sk-fake-NAME`.
pub struct Up<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub base_url: String,
    pub model: &'a str,
}

/// The real binary, detached on a free port with a temp home, the given upstreams, `[aliases]`
/// and one gateway key. Stopped on drop, pass or fail.
pub struct Gateway {
    pub home: TestHome,
    pub addr: String,
    pub key: String,
}

fn expect_ok(home: &TestHome, args: &[&str]) -> Output {
    let out = home.run(args);
    assert!(
        out.status.success(),
        "llm-gateway {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Gateway {
    pub fn start(ups: &[Up], aliases: &[(&str, &str)]) -> Gateway {
        let adds: Vec<Vec<String>> = ups
            .iter()
            .map(|u| {
                let key = format!("sk-fake-{}", u.name);
                [
                    "upstream",
                    "add",
                    u.name,
                    "--provider",
                    u.kind,
                    "--base-url",
                    &u.base_url,
                    "--api-key",
                    &key,
                    "--models",
                    u.model,
                ]
                .map(str::to_string)
                .to_vec()
            })
            .collect();
        Gateway::start_adds(&adds, aliases)
    }

    /// [`Gateway::start`] with each upstream given as its whole `upstream add ...` argument list
    /// (for kinds that take more flags: `--region`, `--wire`).
    pub fn start_adds(adds: &[Vec<String>], aliases: &[(&str, &str)]) -> Gateway {
        let home = TestHome::new();
        let mut config = String::from("[log]\nlevel = \"debug\"\n\n[aliases]\n");
        for (from, to) in aliases {
            config.push_str(&format!("\"{from}\" = \"{to}\"\n"));
        }
        home.write_config(&config);
        for args in adds {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            expect_ok(&home, &args);
        }
        let key = stdout(&expect_ok(&home, &["apikey", "add", "e2e"]))
            .trim()
            .to_string();
        let addr = format!("127.0.0.1:{}", free_port());
        expect_ok(&home, &["server", "start", "--detach", "--listen", &addr]);
        Gateway { home, addr, key }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("gateway.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.home.run(&["server", "stop"]);
    }
}

/// A finished client run.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything worth seeing when an assertion on this run fails.
    pub fn context(&self, gw: Option<&Gateway>, fake: &fake::Fake) -> String {
        let log = gw.map(Gateway::log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "exit: {}\n--- stdout\n{}\n--- stderr\n{}\n--- upstream requests\n{}--- gateway log (tail)\n{}",
            self.status,
            self.stdout,
            self.stderr,
            fake.dump(),
            tail.join("\n")
        )
    }
}

/// A client command with a cleared environment: only PATH (clients are node scripts), a fresh
/// HOME and TMPDIR under `home`, and `env`. No proxy variable survives, so nothing but loopback
/// is reached.
pub fn client(program: &Path, home: &Path, env: &[(&str, String)]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TMPDIR", home.join("tmp"))
        .env("LANG", "C.UTF-8")
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs `cmd` to its end within [`CLIENT_TIMEOUT`]; output goes through files so that a run
/// killed on timeout still shows what it printed.
pub async fn run(mut cmd: tokio::process::Command, what: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let waited = tokio::time::timeout(CLIENT_TIMEOUT, child.wait()).await;
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    match waited {
        Ok(status) => Run {
            status: status.unwrap(),
            stdout: read(&out_path),
            stderr: read(&err_path),
        },
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "{what} did not finish within {CLIENT_TIMEOUT:?}\n--- stdout\n{}\n--- stderr\n{}",
                read(&out_path),
                read(&err_path)
            );
        }
    }
}
