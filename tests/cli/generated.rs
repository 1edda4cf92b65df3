//! The committed completions and man pages match what the binary generates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::TestHome;

const STALE: &str = "generated files are stale: run `scripts/regen.sh` and commit the result";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {STALE}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn completions_are_fresh() {
    let h = TestHome::new();
    for (shell, file) in [
        ("bash", "llm-gateway.bash"),
        ("zsh", "llm-gateway.zsh"),
        ("fish", "llm-gateway.fish"),
        ("elvish", "llm-gateway.elv"),
        ("powershell", "llm-gateway.ps1"),
    ] {
        let out = h.run(&["completions", shell, "--static"]);
        assert!(out.status.success());
        let committed = std::fs::read(repo().join("completions").join(file))
            .unwrap_or_else(|e| panic!("completions/{file}: {e}; {STALE}"));
        assert!(committed == out.stdout, "completions/{file}: {STALE}");
    }
}

#[test]
fn man_pages_are_fresh() {
    let h = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let out = h
        .cmd()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let fresh = read_dir(dir.path());
    let committed = read_dir(&repo().join("man"));
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        committed.keys().collect::<Vec<_>>(),
        "man/: {STALE}"
    );
    for (name, text) in &fresh {
        assert!(committed.get(name) == Some(text), "man/{name}: {STALE}");
    }
}
