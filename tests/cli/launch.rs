//! `launch`: with stand-in clients (shell scripts on `PATH` that record their arguments and
//! environment and exit 7), with and without a running server. The real clients run in
//! tests/e2e/launch.rs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use super::fake::{self, Fake};
use super::live::{Running, get};
use super::{expect, json};
use crate::support::{TestHome, check_exit, stderr, stdout};

/// What a stand-in client saw.
struct Seen {
    args: Vec<String>,
    env: BTreeMap<String, String>,
}

/// A folder of stand-in clients and a home for `launch`.
struct Setup {
    home: TestHome,
    bin: tempfile::TempDir,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Setup {
    /// A home whose config listens on a free port, an upstream `ds` (DeepSeek kind, model
    /// `deepseek-chat`) and the stand-in clients.
    fn new() -> Setup {
        let home = TestHome::new();
        let port = free_port();
        home.write_config(&format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[aliases]\n\"claude-*\" = \"ds/deepseek-chat\"\n"
        ));
        let upstream = Fake::start(200, fake::CHAT);
        expect(
            &home,
            &[
                "upstream",
                "add",
                "ds",
                "--provider",
                "deepseek",
                "--base-url",
                &upstream.base_url,
                "--api-key",
                "sk-fake-ds",
                "--models",
                "deepseek-chat",
            ],
            0,
        );
        let bin = tempfile::tempdir().unwrap();
        for name in ["claude", "gemini", "codex"] {
            let script = format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_OUT/{name}.args\"\nenv > \"$FAKE_OUT/{name}.env\"\nexit 7\n"
            );
            let path = bin.path().join(name);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Setup { home, bin, port }
    }

    fn out_dir(&self) -> PathBuf {
        let d = self.bin.path().join("out");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `llm-gateway ARGS` with the stand-ins on PATH, a user HOME of its own and a competing
    /// Anthropic key in the environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.home.cmd();
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.args(args)
            .env("PATH", path)
            .env("HOME", self.bin.path())
            .env("FAKE_OUT", self.out_dir())
            .env("ANTHROPIC_API_KEY", "sk-fake-users-own")
            .env_remove("GEMINI_CLI_HOME");
        c
    }

    /// `sh -c SCRIPT` with the same environment.
    fn shell(&self, script: &str) -> Command {
        let mut sh = Command::new("sh");
        sh.args(["-c", script]);
        for (k, v) in self.cmd(&[]).get_envs() {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        sh
    }

    fn run(&self, args: &[&str], code: i32) -> Output {
        check_exit(self.cmd(args).output().unwrap(), args, code)
    }

    fn seen(&self, client: &str) -> Seen {
        let read = |ext: &str| {
            std::fs::read_to_string(self.out_dir().join(format!("{client}.{ext}")))
                .unwrap_or_else(|e| panic!("{client} did not run: {e}"))
        };
        let args = read("args").lines().map(str::to_owned).collect();
        let env = read("env")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Seen { args, env }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn running(&self) -> bool {
        json(&self.home, &["server", "status", "--json"])["running"] == true
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.home.run(&["server", "stop"]);
    }
}

fn keys(h: &TestHome) -> Vec<(String, String)> {
    json(h, &["apikey", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn launch_claude_starts_the_server_keeps_its_key_and_execs_the_client() {
    let s = Setup::new();
    assert!(!s.running());
    let args = [
        "launch",
        "claude",
        "--model",
        "ds/deepseek-chat",
        "--small-model",
        "deepseek-chat",
        "--",
        "-p",
        "hello there",
    ];
    // The client's exit code is launch's: it was exec'd.
    let out = s.run(&args, 7);
    let seen = s.seen("claude");
    assert_eq!(seen.args, ["-p", "hello there"]);
    let env = &seen.env;
    let base = format!("http://127.0.0.1:{}", s.port);
    assert_eq!(env["ANTHROPIC_BASE_URL"], base);
    assert_eq!(env["ANTHROPIC_MODEL"], "ds/deepseek-chat");
    assert_eq!(env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "ds/deepseek-chat");
    assert_eq!(env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "ds/deepseek-chat");
    assert_eq!(env["ANTHROPIC_DEFAULT_HAIKU_MODEL"], "deepseek-chat");
    assert_eq!(env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"], "1");
    // deepseek-chat has a 128K window, under the 200K Claude Code assumes.
    assert_eq!(env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"], "128000");
    assert!(
        !env.contains_key("ANTHROPIC_API_KEY"),
        "the user's key is kept away"
    );
    let key = env["ANTHROPIC_AUTH_TOKEN"].clone();
    assert!(key.starts_with("lgw_"), "{key}");
    assert!(!stdout(&out).contains(&key) && !stderr(&out).contains(&key));

    // The server stays; the key works there and is listed as `launcher`.
    assert!(s.running());
    assert_eq!(get(&s.url("/v1/models"), Some(&key)).0, 200);
    assert_eq!(keys(&s.home), [("launcher".into(), "active".into())]);

    // Again, without a model: the same key, the client's own model names.
    s.run(&["launch", "claude"], 7);
    let seen = s.seen("claude");
    assert_eq!(seen.env["ANTHROPIC_AUTH_TOKEN"], key);
    assert!(!seen.env.contains_key("ANTHROPIC_MODEL"));
    assert!(!seen.env.contains_key("CLAUDE_CODE_AUTO_COMPACT_WINDOW"));
    assert!(seen.args.is_empty() || seen.args == [""], "{:?}", seen.args);
    assert_eq!(keys(&s.home).len(), 1);

    // Revoked: the next launch makes a new key.
    expect(&s.home, &["apikey", "revoke", "launcher"], 0);
    let out = s.run(&["launch", "claude"], 7);
    assert!(stderr(&out).contains("launcher-2"), "{}", stderr(&out));
    let fresh = s.seen("claude").env["ANTHROPIC_AUTH_TOKEN"].clone();
    assert_ne!(fresh, key);
    assert_eq!(get(&s.url("/v1/models"), Some(&fresh)).0, 200);
    assert_eq!(get(&s.url("/v1/models"), Some(&key)).0, 401);
    assert_eq!(
        keys(&s.home),
        [
            ("launcher".into(), "revoked".into()),
            ("launcher-2".into(), "active".into())
        ]
    );
}

#[test]
fn launch_uses_a_running_servers_address_and_a_disabled_key_is_replaced() {
    let s = Setup::new();
    // Started elsewhere than the config's address.
    let server = Running::start(&s.home);
    s.run(&["launch", "claude", "--model", "claude-sonnet-4-5"], 7);
    let env = s.seen("claude").env;
    assert_eq!(env["ANTHROPIC_BASE_URL"], server.url(""));
    // Through the alias to deepseek-chat: its window is known.
    assert_eq!(env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"], "128000");
    expect(&s.home, &["apikey", "disable", "launcher"], 0);
    s.run(&["launch", "claude"], 7);
    assert_ne!(
        s.seen("claude").env["ANTHROPIC_AUTH_TOKEN"],
        env["ANTHROPIC_AUTH_TOKEN"]
    );
}

#[test]
fn launch_refuses_an_unknown_model_before_anything_starts() {
    let s = Setup::new();
    let out = s.run(&["launch", "claude", "--model", "gpt-9"], 1);
    let err = stderr(&out);
    assert!(err.contains("--model gpt-9"), "{err}");
    assert!(err.contains("deepseek-chat"), "lists what there is: {err}");
    assert!(err.contains("claude-*"), "and the aliases: {err}");
    assert!(err.contains("llm-gateway models"), "{err}");
    assert!(!s.running(), "no server started for nothing");
    assert!(keys(&s.home).is_empty());
    assert!(!s.out_dir().join("claude.args").exists());

    // The same with a server running.
    let _server = Running::start(&s.home);
    let out = s.run(&["launch", "claude", "--small-model", "nope/x"], 1);
    assert!(
        stderr(&out).contains("--small-model nope/x"),
        "{}",
        stderr(&out)
    );
    s.run(&["launch", "nobody"], 2);
}

#[test]
fn launch_of_a_missing_client_names_its_package() {
    let s = Setup::new();
    let out = check_exit(
        s.cmd(&["launch", "gemini"])
            .env("PATH", "/nonexistent")
            .output()
            .unwrap(),
        &["launch", "gemini"],
        1,
    );
    assert!(
        stderr(&out).contains("npm install -g @google/gemini-cli"),
        "{}",
        stderr(&out)
    );
    assert!(!s.running());
}

#[test]
fn launch_gemini_and_codex_get_their_own_settings() {
    let s = Setup::new();
    let out = s.run(
        &[
            "launch",
            "gemini",
            "--model",
            "ds/deepseek-chat",
            "--",
            "-p",
            "hi",
        ],
        7,
    );
    let seen = s.seen("gemini");
    assert_eq!(seen.args, ["-p", "hi"]);
    assert_eq!(seen.env["GOOGLE_GEMINI_BASE_URL"], s.url(""));
    assert_eq!(seen.env["GEMINI_MODEL"], "ds/deepseek-chat");
    assert!(seen.env["GEMINI_API_KEY"].starts_with("lgw_"));
    // The gateway's settings file selects API-key auth; under a temporary folder Gemini CLI
    // would skip it, so it is not named, and the user is told how to choose once.
    let settings = s.home.path().join("launch/gemini-system-settings.json");
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap()
            .contains("gemini-api-key")
    );
    assert!(!seen.env.contains_key("GEMINI_CLI_SYSTEM_SETTINGS_PATH"));
    assert!(
        stderr(&out).contains("Use Gemini API key"),
        "{}",
        stderr(&out)
    );
    assert!(
        !s.bin.path().join(".gemini").exists(),
        "the user's folder is not written"
    );

    // A sign-in that would go around the gateway is refused.
    std::fs::create_dir_all(s.bin.path().join(".gemini")).unwrap();
    std::fs::write(
        s.bin.path().join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "oauth-personal"}}}"#,
    )
    .unwrap();
    let out = s.run(&["launch", "gemini"], 1);
    assert!(stderr(&out).contains("oauth-personal"), "{}", stderr(&out));

    s.run(&["launch", "codex", "--", "exec", "say hi"], 7);
    let seen = s.seen("codex");
    let key = seen.env["LLM_GATEWAY_API_KEY"].clone();
    assert!(key.starts_with("lgw_"));
    assert_eq!(seen.env.get("GEMINI_API_KEY"), None);
    let args = seen.args.join(" ");
    assert!(
        args.starts_with("-c model_provider=\"llm-gateway\" "),
        "{args}"
    );
    assert!(
        args.contains(&format!(
            "-c model_providers.llm-gateway.base_url=\"{}/v1\"",
            s.url("")
        )),
        "{args}"
    );
    assert!(args.contains("wire_api=\"responses\""), "{args}");
    assert!(args.ends_with(" exec say hi"), "{args}");
}

/// `eval "$(llm-gateway launch claude --print)"` in a shell: the command substitution ends
/// when launch exits, even though it started the server (which must not hold the pipe).
#[test]
fn launch_print_in_a_command_substitution_returns_with_the_server_left_running() {
    let s = Setup::new();
    let bin = crate::support::bin();
    let script = format!(
        "eval \"$('{}' launch claude --print --model ds/deepseek-chat)\" && \
         printf '%s\\n%s\\n%s\\n' \"$ANTHROPIC_BASE_URL\" \"$ANTHROPIC_MODEL\" \"${{ANTHROPIC_API_KEY:-unset}}\" && \
         printf '%s' \"$ANTHROPIC_AUTH_TOKEN\" > \"$FAKE_OUT/token\"",
        bin.display()
    );
    let out = finishes(s.shell(&script));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [s.url(""), "ds/deepseek-chat".into(), "unset".into()]
    );
    let token = std::fs::read_to_string(s.out_dir().join("token")).unwrap();
    assert!(s.running());
    assert_eq!(get(&s.url("/v1/models"), Some(&token)).0, 200);
}

/// Runs `cmd` to its end; a run that has not ended after a minute is a hang (a pipe held
/// open), reported as such rather than blocking the suite.
fn finishes(mut cmd: Command) -> Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("the command did not return: something holds its stdout"),
    }
}
