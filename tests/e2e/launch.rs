//! `llm-gateway launch` with the real clients, no server running beforehand: Claude Code
//! writes a file through a tool call (launch starts the server and leaves it running), a second
//! launch reuses the launcher's key; Gemini CLI answers; Codex waits for the Responses dialect.
//!
//! Each run goes through the real binary, which execs the client: the clients' folder is put
//! on `PATH` in the run's environment, as an installed client would be.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::claude::{CONTENT, FINAL, Task};
use super::fake::{Dialect, Fake};
use super::gemini_cli::{self, PLAIN};
use super::upstreams::{assert_requests, round_trip, routed, up};
use super::{Clients, Run, client, expect_ok, free_port, run};
use crate::support::{TestHome, bin};

/// A gateway home with one upstream and no server yet; the server `launch` starts is stopped
/// on drop.
struct Home {
    home: TestHome,
    port: u16,
}

impl Home {
    /// In `parent` when given (see the Gemini test), with `fake` as upstream and `aliases`.
    fn new(parent: Option<&Path>, fake: &Fake, aliases: &[(&str, &str)]) -> Home {
        let home = match parent {
            Some(p) => TestHome::new_in(p),
            None => TestHome::new(),
        };
        let port = free_port();
        let mut config = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[log]\nlevel = \"debug\"\n\n[aliases]\n"
        );
        for (from, to) in aliases {
            config.push_str(&format!("\"{from}\" = \"{to}\"\n"));
        }
        home.write_config(&config);
        let u = up(fake);
        let key = format!("sk-fake-{}", u.name);
        expect_ok(
            &home,
            &[
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
            ],
        );
        Home { home, port }
    }

    /// `llm-gateway ARGS` as a user runs it: the clients on PATH, a fresh client HOME, `env`.
    fn launch(
        &self,
        clients_dir: &Path,
        client_home: &Path,
        args: &[&str],
        env: &[(&str, String)],
    ) -> tokio::process::Command {
        let path = format!(
            "{}:{}",
            clients_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut vars = vec![
            ("PATH", path),
            ("LLM_GATEWAY_HOME", self.home.path().display().to_string()),
            ("LLM_GATEWAY_SECRETS_BACKEND", "file".to_string()),
        ];
        vars.extend(env.iter().cloned());
        let mut cmd = client(&bin(), client_home, &vars);
        cmd.args(args);
        cmd
    }

    /// Whether the server runs, on the address of the config.
    fn running(&self) -> bool {
        let out = expect_ok(&self.home, &["server", "status", "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        s["running"] == true && s["listen"] == format!("127.0.0.1:{}", self.port)
    }

    fn keys(&self) -> serde_json::Value {
        let out = expect_ok(&self.home, &["apikey", "list", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("gateway.log")).unwrap_or_default()
    }

    fn context(&self, out: &Run, fake: &Fake) -> String {
        format!(
            "exit: {}\n--- stdout\n{}\n--- stderr\n{}\n--- upstream requests\n{}--- gateway log\n{}",
            out.status,
            out.stdout,
            out.stderr,
            fake.dump(),
            self.log()
        )
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.home.run(&["server", "stop"]);
    }
}

fn clients_dir(program: &Path) -> PathBuf {
    program.parent().unwrap().to_path_buf()
}

const CLAUDE_HEADLESS: [(&str, &str); 7] = [
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    // Root may only skip permission prompts inside a declared sandbox.
    ("IS_SANDBOX", "1"),
    ("CLAUDE_CODE_MAX_RETRIES", "1"),
    ("API_TIMEOUT_MS", "60000"),
    // What launch must override: a user's own Anthropic key.
    ("ANTHROPIC_API_KEY", "sk-fake-users-own-anthropic-key"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_writes_a_file_and_a_second_launch_reuses_the_key() {
    let Some(clients) =
        Clients::get("launch_claude_writes_a_file_and_a_second_launch_reuses_the_key")
    else {
        return;
    };
    let d = Dialect::OpenAi;
    let (task, fake) = Task::start(d).await;
    let gw = Home::new(None, &fake, &[]);
    assert!(!gw.running());
    let client_home = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = CLAUDE_HEADLESS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    let model = routed(d);
    let args = [
        "launch",
        "claude",
        "--model",
        &model,
        "--",
        "-p",
        "Create the file out.txt in the current directory with the Write tool.",
        "--dangerously-skip-permissions",
        "--max-turns",
        "4",
    ];
    for round in 1..=2 {
        let _ = std::fs::remove_file(&task.target);
        let mut cmd = gw.launch(
            &clients_dir(&clients.claude()),
            client_home.path(),
            &args,
            &env,
        );
        cmd.current_dir(task.work.path());
        let out = run(cmd, "llm-gateway launch claude").await;
        let ctx = gw.context(&out, &fake);
        assert!(out.status.success(), "round {round}\n{ctx}");
        assert!(out.stdout.contains(FINAL), "round {round}\n{ctx}");
        assert_eq!(
            std::fs::read_to_string(&task.target).ok().as_deref(),
            Some(CONTENT),
            "round {round}\n{ctx}"
        );
        assert_requests(&fake, &ctx);
        let (tool, _, result) = round_trip(&fake, &ctx);
        assert_eq!(tool, "Write", "{ctx}");
        assert!(result.contains("out.txt"), "{ctx}");
        assert!(gw.running(), "launch leaves the server running\n{ctx}");
        let keys = gw.keys();
        assert_eq!(
            keys.as_array().map(Vec::len),
            Some(1),
            "one key, reused: {keys}"
        );
        assert_eq!(keys[0]["name"], "launcher", "{keys}");
        assert!(keys[0]["last_used_at"].is_string(), "{keys}");
        assert!(
            !out.stdout.contains("lgw_"),
            "the key stays off stdout\n{ctx}"
        );
    }
}

/// The Gemini CLI takes its auth choice from a system settings file only when root owns it and
/// every folder above it: run as root, a gateway home under the build folder (not /tmp, which
/// anyone may write) is such a place, and the user's own settings need no choice. Run as
/// another user, or from a checkout under such a folder, the test makes the choice in the
/// client's settings, as a user would once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_gemini_answers() {
    let Some(clients) = Clients::get("launch_gemini_answers") else {
        return;
    };
    let d = Dialect::Gemini;
    let work = tempfile::tempdir().unwrap();
    let fake = Fake::start(
        d,
        gemini_cli::responder(d, work.path().join("unused.txt").display().to_string()),
    )
    .await;
    let gw = Home::new(
        Some(Path::new(env!("CARGO_TARGET_TMPDIR"))),
        &fake,
        &[("gemini-*", &routed(d))],
    );
    let client_home = tempfile::tempdir().unwrap();
    // The system settings file counts only when root owns it and every folder above it, none
    // of them group- or world-writable (a checkout under /tmp is not such a place).
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
        && Path::new(env!("CARGO_TARGET_TMPDIR"))
            .ancestors()
            .all(|p| std::fs::metadata(p).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0));
    let mut settings = json!({
        "telemetry": {"enabled": false},
        "privacy": {"usageStatisticsEnabled": false},
        "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false,
                    "maxAttempts": 1},
    });
    if !root {
        settings["security"] = json!({"auth": {"selectedType": "gemini-api-key"}});
    }
    std::fs::create_dir_all(client_home.path().join(".gemini")).unwrap();
    std::fs::write(
        client_home.path().join(".gemini/settings.json"),
        settings.to_string(),
    )
    .unwrap();
    let env = [("GEMINI_CLI_TRUST_WORKSPACE", "true".to_string())];
    let model = routed(d);
    let args = [
        "launch",
        "gemini",
        "--model",
        &model,
        "--",
        "-p",
        "Say hello.",
        "--yolo",
    ];
    let mut cmd = gw.launch(
        &clients_dir(&clients.gemini()),
        client_home.path(),
        &args,
        &env,
    );
    cmd.current_dir(work.path());
    let out = run(cmd, "llm-gateway launch gemini").await;
    let ctx = gw.context(&out, &fake);
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(PLAIN), "{ctx}");
    assert_requests(&fake, &ctx);
    assert!(gw.running(), "{ctx}");
    let user_settings =
        std::fs::read_to_string(client_home.path().join(".gemini/settings.json")).unwrap();
    assert_eq!(
        user_settings,
        settings.to_string(),
        "the user's file is not written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_codex_answers() {
    let Some(clients) = Clients::get("launch_codex_answers") else {
        return;
    };
    let d = Dialect::OpenAi;
    let work = tempfile::tempdir().unwrap();
    let fake = Fake::start(
        d,
        gemini_cli::responder(d, work.path().join("unused.txt").display().to_string()),
    )
    .await;
    let gw = Home::new(None, &fake, &[]);
    let client_home = tempfile::tempdir().unwrap();
    let model = routed(d);
    let args = [
        "launch",
        "codex",
        "--model",
        &model,
        "--",
        "exec",
        "--skip-git-repo-check",
        "Say hello.",
    ];
    let env = [(
        "CODEX_HOME",
        client_home.path().join(".codex").display().to_string(),
    )];
    std::fs::create_dir_all(client_home.path().join(".codex")).unwrap();
    let mut cmd = gw.launch(
        &clients_dir(&clients.codex()),
        client_home.path(),
        &args,
        &env,
    );
    cmd.current_dir(work.path());
    let out = run(cmd, "llm-gateway launch codex").await;
    let ctx = gw.context(&out, &fake);
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(PLAIN), "{ctx}");
}
