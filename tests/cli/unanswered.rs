//! A server that goes away between taking a change and answering it (killed after the commit,
//! restarted, or hung): the CLI learns from the store what happened instead of reporting a
//! change that was made as failed, and `apikey add` never stores a key it does not show.
//! A fake admin socket over the real store plays the server.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::thread::JoinHandle;

use llm_gateway::config::file::SecretsBackend;
use llm_gateway::store::Store;
use llm_gateway::store::keys;
use llm_gateway::store::ops::{Op, Reply};

use super::expect;
use super::live::{Running, get};
use crate::support::{TestHome, stderr, stdout, upstream};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Commits the first change, then exits without answering (database and socket let go).
    CommitThenExit,
    /// Commits the first change, drops the connection unanswered, and serves on (a restart).
    CommitThenRestart,
    /// Drops every change unanswered and uncommitted; answers pings and reads.
    DropEvery,
}

/// The fake server, listening on the home's admin socket until it exits (or the test ends).
fn fake_admin(home: &TestHome, mode: Mode) -> JoinHandle<()> {
    let store = Store::open_at(&home.path().join("gateway.redb"), SecretsBackend::File).unwrap();
    let socket = home.path().join("admin.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let mut store = Some(store);
        let mut dropped = 0;
        loop {
            let (conn, _) = listener.accept().unwrap();
            let mut w = conn.try_clone().unwrap();
            for line in BufReader::new(conn).lines() {
                let op: Op = serde_json::from_str(&line.unwrap()).unwrap();
                let reply = match op {
                    Op::Ping => Reply::Pong {
                        listen: Some("127.0.0.1:1".into()),
                        pid: std::process::id(),
                    },
                    op if op.mutates() && (dropped == 0 || mode == Mode::DropEvery) => {
                        dropped += 1;
                        if mode != Mode::DropEvery {
                            store.as_ref().unwrap().apply(op);
                        }
                        if mode == Mode::CommitThenExit {
                            drop(store.take());
                            std::fs::remove_file(&socket).unwrap();
                            return;
                        }
                        break;
                    }
                    op => store.as_ref().unwrap().apply(op),
                };
                let mut out = serde_json::to_vec(&reply).unwrap();
                out.push(b'\n');
                w.write_all(&out).unwrap();
            }
        }
    })
}

fn stored_key_hashes(home: &TestHome) -> Vec<String> {
    let store = Store::open_at(&home.path().join("gateway.redb"), SecretsBackend::File).unwrap();
    match store.apply(Op::KeyList) {
        Reply::Keys { records } => records.into_iter().map(|r| r.hash).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn apikey_add_committed_by_a_server_killed_before_replying_prints_a_working_key() {
    let h = TestHome::new();
    let server = fake_admin(&h, Mode::CommitThenExit);
    let out = expect(&h, &["apikey", "add", "laptop"], 0);
    server.join().unwrap();
    let key = stdout(&out).trim().to_string();
    assert!(key.starts_with("lgw_"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no longer runs; the store confirms the change"),
        "{}",
        stderr(&out)
    );
    // Stored once, and it is this key.
    assert_eq!(stored_key_hashes(&h), [keys::hash_key(&key)]);

    // The key printed works with the real server.
    let running = Running::start(&h);
    let models = running.url("/v1/models");
    assert_eq!(get(&models, Some(&key)).0, 200);
    assert_eq!(get(&models, Some("lgw_not-a-real-key")).0, 401);
}

#[test]
fn upstream_remove_committed_before_a_restart_succeeds() {
    let h = TestHome::new();
    {
        let store = Store::open_at(&h.path().join("gateway.redb"), SecretsBackend::File).unwrap();
        let record = upstream("oai", "http://127.0.0.1:1/v1", &["fake-model"], 0);
        let reply = store.apply(Op::UpstreamAdd {
            record,
            secret: None,
            base_url: None,
        });
        assert!(matches!(reply, Reply::Done), "{reply:?}");
    }
    let _server = fake_admin(&h, Mode::CommitThenRestart);
    // Sent again as a plain op, the removal would fail with "no upstream named oai".
    let out = expect(&h, &["upstream", "remove", "oai"], 0);
    assert!(
        stderr(&out).contains("a server answers again and the store confirms the change"),
        "{}",
        stderr(&out)
    );
    let out = expect(&h, &["upstream", "list", "--json"], 0);
    assert_eq!(stdout(&out).trim(), "[]");
}

#[test]
fn apikey_add_that_nobody_confirms_fails_but_still_shows_the_key() {
    let h = TestHome::new();
    let _server = fake_admin(&h, Mode::DropEvery);
    let out = expect(&h, &["apikey", "add", "laptop"], 1);
    let key = stdout(&out).trim().to_string();
    assert!(key.starts_with("lgw_"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("may or may not have been made"), "{err}");
    assert!(err.contains("apikey show laptop"), "{err}");
    assert!(!err.contains(&key), "the key leaked into stderr: {err}");
}
