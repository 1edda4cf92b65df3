//! Shell completion: the dynamic protocol driven as each shell's script drives it (`COMPLETE=SHELL
//! llm-gateway -- WORDS...`), with and without a running server and with the store locked by a
//! process that does not answer; then real shells: bash runs the completion functions of both
//! the dynamic registration and the committed static script with `COMP_WORDS`/`COMP_CWORD`, fish
//! answers `complete -C`, and zsh completes a typed line in a pseudo-terminal (`zpty`). zsh and
//! fish tests print a skip notice where the shell is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::expect;
use super::live::Running;
use crate::support::{TestHome, bin, stderr, stdout};

/// A home with two upstreams (one disabled), a key and two aliases.
fn stocked() -> TestHome {
    let h = TestHome::new();
    let add = |args: &[&str]| expect(&h, args, 0);
    add(&[
        "upstream",
        "add",
        "gem",
        "--provider",
        "gemini",
        "--api-key",
        "fake-gem-key",
        "--models",
        "gemini-2.5-pro,gemini-2.5-flash",
    ]);
    add(&[
        "upstream",
        "add",
        "oai",
        "--provider",
        "openai",
        "--api-key",
        "fake-oai-key",
        "--models",
        "gpt-4o",
    ]);
    add(&["upstream", "disable", "oai"]);
    add(&["apikey", "add", "laptop"]);
    add(&["alias", "set", "claude-*", "gem/gemini-2.5-pro"]);
    add(&["alias", "set", "fast", "gem/gemini-2.5-flash"]);
    h
}

/// The candidates `shell`'s script would get for `words` (the last is the word under the
/// cursor), as the script calls the binary: values only, help text cut off.
fn candidates_with(
    h: &TestHome,
    shell: &str,
    words: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> Vec<String> {
    let out = run_completion(h, shell, words, tweak);
    assert!(out.status.success(), "{words:?}: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "",
        "a completion must print nothing on stderr"
    );
    stdout(&out)
        .lines()
        .map(|l| l.split(['\t', ':']).next().unwrap_or("").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn candidates(h: &TestHome, shell: &str, words: &[&str]) -> Vec<String> {
    candidates_with(h, shell, words, |_| {})
}

fn run_completion(
    h: &TestHome,
    shell: &str,
    words: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> Output {
    let mut c = h.cmd();
    c.env("COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words);
    tweak(&mut c);
    c.output().unwrap()
}

fn has(list: &[String], want: &[&str]) {
    for w in want {
        assert!(list.iter().any(|c| c == w), "{w} not in {list:?}");
    }
}

fn lacks(list: &[String], unwanted: &[&str]) {
    for w in unwanted {
        assert!(
            !list.iter().any(|c| c == w),
            "{w} should not be in {list:?}"
        );
    }
}

#[test]
fn names_come_from_the_store_and_config() {
    let h = stocked();
    for shell in ["bash", "zsh", "fish"] {
        let got = candidates(&h, shell, &["llm-gateway", "upstream", "remove", ""]);
        has(&got, &["gem", "oai"]);
        lacks(&got, &["laptop"]);
        let got = candidates(&h, shell, &["llm-gateway", "apikey", "revoke", ""]);
        has(&got, &["laptop"]);
        lacks(&got, &["gem"]);
    }
    let got = candidates(&h, "bash", &["llm-gateway", "upstream", "show", "g"]);
    assert_eq!(got, ["gem"]);
    let got = candidates(
        &h,
        "bash",
        &["llm-gateway", "launch", "claude", "--model", ""],
    );
    has(&got, &["gemini-2.5-pro", "gem/gemini-2.5-flash", "fast"]);
    // A disabled upstream's models are not offered; a glob is not a name to ask for.
    lacks(&got, &["gpt-4o", "oai/gpt-4o", "claude-*"]);
    let got = candidates(
        &h,
        "bash",
        &["llm-gateway", "launch", "claude", "--small-model=gem/"],
    );
    assert_eq!(
        got,
        [
            "--small-model=gem/gemini-2.5-pro",
            "--small-model=gem/gemini-2.5-flash"
        ]
    );
    let got = candidates(&h, "bash", &["llm-gateway", "alias", "remove", ""]);
    has(&got, &["claude-*", "fast"]);
    let got = candidates(&h, "bash", &["llm-gateway", "alias", "set", "sonnet", ""]);
    has(&got, &["gem/gemini-2.5-pro"]);
    lacks(&got, &["fast"]);
    let got = candidates(&h, "bash", &["llm-gateway", "launch", ""]);
    has(&got, &["claude", "codex", "gemini"]);
    // No OAuth upstream here: API-key upstreams are not offered to `oauth refresh`.
    let got = candidates(&h, "bash", &["llm-gateway", "oauth", "refresh", ""]);
    lacks(&got, &["gem", "oai"]);
    // Subcommands and flags still complete.
    assert_eq!(
        candidates(&h, "bash", &["llm-gateway", "upstream", "re"]),
        ["remove"]
    );
    let got = candidates(
        &h,
        "bash",
        &["llm-gateway", "upstream", "add", "x", "--provider", ""],
    );
    has(&got, &["openai", "gemini", "deepseek"]);
}

#[test]
fn home_flag_on_the_line_names_the_store() {
    let h = stocked();
    let empty = TestHome::new();
    let home = h.path().to_str().unwrap();
    let words = ["llm-gateway", "--home", home, "upstream", "remove", ""];
    has(&candidates(&empty, "bash", &words), &["gem", "oai"]);
    lacks(
        &candidates(&empty, "bash", &["llm-gateway", "upstream", "remove", ""]),
        &["gem"],
    );
}

#[test]
fn a_fresh_home_stays_untouched() {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("not-yet");
    let out = Command::new(bin())
        .env("COMPLETE", "bash")
        .env("LLM_GATEWAY_HOME", &home)
        .env("_CLAP_COMPLETE_INDEX", "3")
        .args(["--", "llm-gateway", "upstream", "remove", ""])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    assert!(!home.exists(), "completion created {}", home.display());
}

#[test]
fn a_broken_config_still_completes_the_store_quietly() {
    let h = stocked();
    h.write_config("[aliases\nbroken");
    let got = candidates(&h, "bash", &["llm-gateway", "upstream", "remove", ""]);
    has(&got, &["gem"]);
    lacks(
        &candidates(&h, "bash", &["llm-gateway", "alias", "remove", ""]),
        &["fast"],
    );
}

#[test]
fn names_come_from_the_running_server() {
    let h = stocked();
    let _server = Running::start(&h);
    // The server holds the database now: these names can only have come over the admin socket.
    let got = candidates(&h, "bash", &["llm-gateway", "upstream", "disable", ""]);
    has(&got, &["gem", "oai"]);
    has(
        &candidates(&h, "fish", &["llm-gateway", "apikey", "show", ""]),
        &["laptop"],
    );
    let got = candidates(
        &h,
        "zsh",
        &["llm-gateway", "launch", "gemini", "--model", "gem"],
    );
    has(&got, &["gem/gemini-2.5-pro"]);
}

#[test]
fn a_locked_store_without_a_server_gives_no_names_fast() {
    let h = stocked();
    let db = std::fs::File::open(h.path().join("gateway.redb")).unwrap();
    // What redb takes for a writer: an exclusive lock, while no server answers on the socket.
    db.try_lock().unwrap();
    let start = Instant::now();
    let got = candidates(&h, "bash", &["llm-gateway", "upstream", "remove", ""]);
    let took = start.elapsed();
    lacks(&got, &["gem"]);
    assert_eq!(
        candidates(&h, "bash", &["llm-gateway", "upstream", "re"]),
        ["remove"]
    );
    assert!(took < Duration::from_secs(2), "a TAB press took {took:?}");
    db.unlock().unwrap();
}

#[test]
fn completions_prints_the_same_registration_as_complete_env() {
    let h = TestHome::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let flag = expect(&h, &["completions", shell], 0);
        let env = h.cmd().env("COMPLETE", shell).output().unwrap();
        assert!(env.status.success());
        assert_eq!(stdout(&flag), stdout(&env), "{shell}");
        assert!(
            stdout(&flag).contains(bin().to_str().unwrap()),
            "{shell}: {}",
            stdout(&flag)
        );
    }
}

// ---- real shells ----

fn shell_exists(shell: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {shell}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "skipping the {shell} completion test: {shell} is not installed (apt-get install {shell})"
        );
    }
    found
}

/// `program` with the test home's environment, `$BIN` set to the binary, and the shell's own
/// state (fish history, zsh's dump) kept in `scratch`.
fn shell(h: &TestHome, program: &str, scratch: &Path) -> Command {
    let mut c = Command::new(program);
    c.env("LLM_GATEWAY_HOME", h.path())
        .env("LLM_GATEWAY_SECRETS_BACKEND", "file")
        .env("BIN", bin())
        .env("HOME", scratch)
        .env("TMPDIR", scratch)
        .env("XDG_CONFIG_HOME", scratch.join("config"))
        .env("XDG_DATA_HOME", scratch.join("data"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env_remove("COMPLETE")
        .stdin(Stdio::null());
    c
}

/// Runs `c` and gives up after 30 s (a pseudo-terminal that never prints its marker).
fn output_within(mut c: Command) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{c:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}\n{}", stdout(out), stderr(out));
    stdout(out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Sources `setup` in `bash --norc`, then calls the function registered for llm-gateway with
/// `COMP_WORDS` = `words` and the cursor in the last one, as bash does on TAB.
fn in_bash(h: &TestHome, setup: &str, words: &[&str]) -> Vec<String> {
    let scratch = tempfile::tempdir().unwrap();
    let script = format!(
        r#"{setup}
spec=$(complete -p llm-gateway) || exit 9
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9
prev=""; (( COMP_CWORD > 0 )) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
"$fn" llm-gateway "${{COMP_WORDS[COMP_CWORD]}}" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let mut c = shell(h, "bash", scratch.path());
    c.args(["--norc", "--noprofile", "-c", &script, "bash"])
        .args(words);
    lines(&output_within(c))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bash_completes_with_the_dynamic_registration() {
    let h = stocked();
    let setup = r#"source <("$BIN" completions bash)"#;
    has(
        &in_bash(&h, setup, &["llm-gateway", "upstream", "remove", ""]),
        &["gem", "oai"],
    );
    assert_eq!(
        in_bash(&h, setup, &["llm-gateway", "upstream", "re"]),
        ["remove"]
    );
    assert_eq!(
        in_bash(&h, setup, &["llm-gateway", "apikey", "enable", "la"]),
        ["laptop"]
    );
    let got = in_bash(
        &h,
        setup,
        &[
            "llm-gateway",
            "launch",
            "claude",
            "--model",
            "gem/gemini-2.5-f",
        ],
    );
    assert_eq!(got, ["gem/gemini-2.5-flash"]);
    assert_eq!(
        in_bash(&h, setup, &["llm-gateway", "alias", "remove", "fa"]),
        ["fast"]
    );
    let got = in_bash(&h, setup, &["llm-gateway", "upstream", "add", "x", "--pr"]);
    assert_eq!(got, ["--provider", "--priority", "--profile"]);
}

#[test]
fn bash_completes_with_the_committed_static_script() {
    let h = stocked();
    let path = repo().join("completions/llm-gateway.bash");
    let setup = format!("source '{}'", path.display());
    // Past the first word: the branch names used to be mangled two ways and nothing completed.
    assert_eq!(
        in_bash(&h, &setup, &["llm-gateway", "upstream", "re"]),
        ["remove"]
    );
    assert_eq!(
        in_bash(&h, &setup, &["llm-gateway", "oauth", "log"]),
        ["login", "logout"]
    );
    let got = in_bash(
        &h,
        &setup,
        &["llm-gateway", "upstream", "add", "x", "--provider", "gem"],
    );
    assert_eq!(got, ["gemini", "gemini-cli"]);
    let got = in_bash(&h, &setup, &["llm-gateway", "apikey", "add", "k", "--r"]);
    assert_eq!(got, ["--rpm"]);
}

#[test]
fn fish_completes_names_and_subcommands() {
    if !shell_exists("fish") {
        return;
    }
    let h = stocked();
    let fish = |setup: &str, line: &str| {
        let scratch = tempfile::tempdir().unwrap();
        let mut c = shell(&h, "fish", scratch.path());
        c.args([
            "--no-config",
            "-c",
            &format!("{setup}; complete -C {line:?}"),
        ]);
        lines(&output_within(c))
    };
    let dynamic = "$BIN completions fish | source";
    has(
        &fish(dynamic, "llm-gateway upstream remove "),
        &["gem", "oai"],
    );
    has(&fish(dynamic, "llm-gateway apikey revoke "), &["laptop"]);
    let got = fish(dynamic, "llm-gateway launch codex --model gemini-2.5");
    assert_eq!(got, ["gemini-2.5-pro", "gemini-2.5-flash"]);
    assert_eq!(fish(dynamic, "llm-gateway upstream re"), ["remove"]);
    let file = repo().join("completions/llm-gateway.fish");
    let committed = format!("source '{}'", file.display());
    assert_eq!(fish(&committed, "llm-gateway upstream re"), ["remove"]);
}

#[test]
fn zsh_completes_names_and_subcommands() {
    if !shell_exists("zsh") {
        return;
    }
    let h = stocked();
    let scratch = tempfile::tempdir().unwrap();
    let dynamic = scratch.path().join("dynamic.zsh");
    std::fs::write(&dynamic, stdout(&expect(&h, &["completions", "zsh"], 0))).unwrap();
    let zsh = |setup: &Path, line: &str| {
        let mut c = shell(&h, "zsh", scratch.path());
        c.arg("-f")
            .arg(repo().join("tests/cli/zsh-capture.zsh"))
            .arg(setup)
            .arg(line);
        lines(&output_within(c))
    };
    has(
        &zsh(&dynamic, "llm-gateway upstream remove "),
        &["gem", "oai"],
    );
    has(&zsh(&dynamic, "llm-gateway apikey show "), &["laptop"]);
    let got = zsh(&dynamic, "llm-gateway launch claude --model gem/");
    assert_eq!(got, ["gem/gemini-2.5-pro", "gem/gemini-2.5-flash"]);
    assert_eq!(zsh(&dynamic, "llm-gateway upstream re"), ["remove"]);
    let committed = repo().join("completions/llm-gateway.zsh");
    assert_eq!(zsh(&committed, "llm-gateway upstream re"), ["remove"]);
    let got = zsh(&committed, "llm-gateway upstream add x --provider gem");
    assert_eq!(got, ["gemini", "gemini-cli"]);
}

/// Runs the completion part of `install.sh` (from `shell_name=` to its `esac`) for `shell`, with
/// this build as the installed binary and `scratch` as the user's home and prefix.
fn install_completion(shell: &str, scratch: &Path) {
    let text = std::fs::read_to_string(repo().join("install.sh")).unwrap();
    let start = text
        .find("\nshell_name=")
        .expect("install.sh has shell_name=");
    let end = start + text[start..].find("\nesac\n").expect("install.sh has esac") + 6;
    let mut c = Command::new("bash");
    c.args(["-c", &format!("set -euo pipefail\n{}", &text[start..end])])
        .env("bin", bin())
        .env("prefix", scratch.join("prefix"))
        .env("SHELL", format!("/bin/{shell}"))
        .env("HOME", scratch.join("home"))
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME");
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn install_sh_sets_up_completion_that_knows_the_store() {
    let h = stocked();
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    install_completion("bash", scratch.path());
    let file = home.join(".local/share/bash-completion/completions/llm-gateway");
    // What bash-completion does on the first TAB: source the file named after the command.
    let setup = format!("source '{}'", file.display());
    has(
        &in_bash(&h, &setup, &["llm-gateway", "upstream", "remove", ""]),
        &["gem", "oai"],
    );

    if shell_exists("fish") {
        install_completion("fish", scratch.path());
        // fish loads ~/.config/fish/completions/llm-gateway.fish for a command on PATH.
        let path = format!(
            "{}:{}",
            bin().parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        );
        let mut c = shell(&h, "fish", &home);
        c.env("PATH", path)
            .env_remove("XDG_CONFIG_HOME")
            .args(["-c", "complete -C 'llm-gateway apikey show '"]);
        has(&lines(&output_within(c)), &["laptop"]);
    }
    if shell_exists("zsh") {
        install_completion("zsh", scratch.path());
        let fpath = scratch.path().join("prefix/share/zsh/site-functions");
        let setup = scratch.path().join("fpath.zsh");
        let dump = scratch.path().join("zcompdump-fpath");
        let text = format!(
            "fpath=({} $fpath); compinit -u -d {}\n",
            fpath.display(),
            dump.display()
        );
        std::fs::write(&setup, text).unwrap();
        // The very first TAB already offers the names (the autoloaded function hands over).
        let mut c = shell(&h, "zsh", scratch.path());
        c.arg("-f")
            .arg(repo().join("tests/cli/zsh-capture.zsh"))
            .arg(&setup);
        c.arg("llm-gateway upstream enable ");
        has(&lines(&output_within(c)), &["gem", "oai"]);
    }
}
