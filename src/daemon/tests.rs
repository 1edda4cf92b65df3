//! The admin socket against a real store in a temp home, and `StoreHandle` choosing between it
//! and the database.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::admin::{AdminHooks, serve};
use super::client::{Client, REQUEST_TIMEOUT};
use super::*;
use crate::config::ProviderKind;
use crate::config::file::SecretsBackend;
use crate::secret::Secret;
use crate::store::ops::OpErrorKind;
use crate::store::records::UpstreamRecord;

const LISTEN: &str = "127.0.0.1:3847";

fn file_config() -> Config {
    let mut c = Config::default();
    c.secrets.backend = SecretsBackend::File;
    c
}

fn upstream(name: &str) -> UpstreamRecord {
    UpstreamRecord {
        models: vec!["gpt-fake".into()],
        ..UpstreamRecord::sample(name, ProviderKind::Openai)
    }
}

struct Server {
    changes: Arc<AtomicUsize>,
    shutdowns: Arc<AtomicUsize>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), DaemonError>>,
}

/// A stand-in for `server start`: the store opened by "the server" and the admin socket.
fn start_server(home: &Home) -> Server {
    home.ensure().unwrap();
    let store = Store::open_at(&home.database(), SecretsBackend::File).unwrap();
    serve_with(home, store)
}

fn serve_with(home: &Home, store: Store) -> Server {
    let changes = Arc::new(AtomicUsize::new(0));
    let shutdowns = Arc::new(AtomicUsize::new(0));
    let cancel = CancellationToken::new();
    let (c, s, k) = (changes.clone(), shutdowns.clone(), cancel.clone());
    let hooks = AdminHooks {
        on_change: Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }),
        on_shutdown: Arc::new(move || {
            s.fetch_add(1, Ordering::SeqCst);
            k.cancel();
        }),
        listen: LISTEN.into(),
        health: Arc::new(Vec::new),
        overhead: Arc::new(|| None),
        flush_usage: Arc::new(|| Box::pin(async {})),
        config: Arc::new(|| Box::pin(async { Default::default() })),
    };
    let task = tokio::spawn(serve(
        home.admin_socket(),
        Arc::new(store),
        hooks,
        cancel.clone(),
    ));
    Server {
        changes,
        shutdowns,
        cancel,
        task,
    }
}

async fn wait_for_socket(home: &Home) {
    for _ in 0..100 {
        if client::ping(&home.admin_socket()).await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("admin socket never answered");
}

#[tokio::test]
async fn admin_socket_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    home.ensure().unwrap();
    // A stale socket file from a crashed server is replaced.
    std::fs::write(home.admin_socket(), b"stale").unwrap();
    let server = start_server(&home);
    wait_for_socket(&home).await;
    let mode = std::fs::metadata(home.admin_socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let mut c = Client::connect(&home.admin_socket(), Duration::from_secs(2))
        .await
        .unwrap();
    let t = REQUEST_TIMEOUT;
    match c.request(&Op::Ping, t).await.unwrap() {
        Reply::Pong { listen, pid } => {
            assert_eq!(listen.as_deref(), Some(LISTEN));
            assert_eq!(pid, std::process::id());
        }
        other => panic!("{other:?}"),
    }
    let add = Op::UpstreamAdd {
        record: upstream("oai"),
        secret: Some(Secret::new("sk-fake-over-socket")),
        base_url: None,
    };
    assert!(matches!(c.request(&add, t).await.unwrap(), Reply::Done));
    assert_eq!(server.changes.load(Ordering::SeqCst), 1);
    // Reads and failures do not trigger a reload.
    let get = Op::UpstreamGet { name: "oai".into() };
    match c.request(&get, t).await.unwrap() {
        Reply::Upstream { record } => assert_eq!(record, upstream("oai")),
        other => panic!("{other:?}"),
    }
    match c.request(&add, t).await.unwrap() {
        Reply::Error { kind, .. } => assert_eq!(kind, OpErrorKind::AlreadyExists),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.changes.load(Ordering::SeqCst), 1);
    // The secret crosses the socket intact (it is masked everywhere else).
    match c
        .request(&Op::SecretGet { name: "oai".into() }, t)
        .await
        .unwrap()
    {
        Reply::Secret { secret } => assert_eq!(secret.unwrap().expose(), "sk-fake-over-socket"),
        other => panic!("{other:?}"),
    }
    let disable = Op::UpstreamSetEnabled {
        name: "oai".into(),
        enabled: false,
    };
    assert!(matches!(c.request(&disable, t).await.unwrap(), Reply::Done));
    assert_eq!(server.changes.load(Ordering::SeqCst), 2);

    // A garbled line gets an error and the connection stays usable.
    let mut raw = tokio::net::UnixStream::connect(home.admin_socket())
        .await
        .unwrap();
    raw.write_all(b"{not json}\n{\"op\":\"upstream_list\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(raw).lines();
    let first: Reply = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert!(matches!(
        first,
        Reply::Error {
            kind: OpErrorKind::Invalid,
            ..
        }
    ));
    let second: Reply = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    match second {
        Reply::Upstreams { records } => assert_eq!(records.len(), 1),
        other => panic!("{other:?}"),
    }

    // `server stop`.
    assert!(matches!(
        c.request(&Op::Shutdown, t).await.unwrap(),
        Reply::Done
    ));
    assert_eq!(server.shutdowns.load(Ordering::SeqCst), 1);
    tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!home.admin_socket().exists());
    assert!(server.cancel.is_cancelled());
}

#[tokio::test]
async fn store_handle_picks_local_then_remote() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    let config = file_config();

    // No server: the database itself.
    assert_eq!(running(&home).await, None);
    let local = StoreHandle::open(&home, &config).await.unwrap();
    assert!(!local.is_remote());
    let add = Op::UpstreamAdd {
        record: upstream("made-locally"),
        secret: None,
        base_url: None,
    };
    assert!(matches!(local.apply(add).await.unwrap(), Reply::Done));
    match local.apply(Op::Shutdown).await.unwrap() {
        Reply::Error { message, .. } => assert_eq!(message, "the server is not running"),
        other => panic!("{other:?}"),
    }
    drop(local);

    // A server: the socket, and never "database already open".
    let pid = pidfile::PidFile::acquire(&home, LISTEN).unwrap();
    let server = start_server(&home);
    wait_for_socket(&home).await;
    let remote = StoreHandle::open(&home, &config).await.unwrap();
    assert!(remote.is_remote());
    match remote.apply(Op::UpstreamList).await.unwrap() {
        Reply::Upstreams { records } => assert_eq!(records[0].name, "made-locally"),
        other => panic!("{other:?}"),
    }
    let add = Op::UpstreamAdd {
        record: upstream("made-remotely"),
        secret: None,
        base_url: None,
    };
    assert!(matches!(remote.apply(add).await.unwrap(), Reply::Done));
    assert_eq!(server.changes.load(Ordering::SeqCst), 1);
    assert_eq!(
        running(&home).await,
        Some(RunningInfo {
            pid: std::process::id(),
            listen: Some(LISTEN.into()),
        })
    );

    assert!(matches!(
        remote.apply(Op::Shutdown).await.unwrap(),
        Reply::Done
    ));
    server.task.await.unwrap().unwrap();
    drop(pid);
    assert_eq!(running(&home).await, None);
    // The server's store is closed with its task: the CLI opens the database again.
    let local = StoreHandle::open(&home, &config).await.unwrap();
    assert!(!local.is_remote());
}

#[tokio::test]
async fn locked_database_waits_for_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    home.ensure().unwrap();
    // A server that has opened the database but not yet its socket.
    let early = Store::open_at(&home.database(), SecretsBackend::File).unwrap();
    let h = home.clone();
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        serve_with(&h, early)
    });
    let handle = StoreHandle::open(&home, &file_config()).await.unwrap();
    let server = starter.await.unwrap();
    assert!(handle.is_remote());
    assert!(matches!(
        handle.apply(Op::KeyList).await.unwrap(),
        Reply::Keys { .. }
    ));
    drop(handle);
    server.cancel.cancel();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn locked_database_without_server_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    home.ensure().unwrap();
    let _held = Store::open_at(&home.database(), SecretsBackend::File).unwrap();
    let started = Instant::now();
    match StoreHandle::open(&home, &file_config()).await {
        Err(DaemonError::Busy { .. }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a locked database"),
    }
    assert!(started.elapsed() >= LOCKED_WAIT);
}

/// What [`FakeAdmin`] does with the first change it is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Drop1st {
    /// Commits it, then exits without answering (the database and the socket let go).
    CommitThenExit,
    /// Commits it, drops the connection unanswered, and goes on serving (a restart).
    CommitThenRestart,
    /// Exits without answering before it commits anything.
    ExitBeforeCommit,
    /// Drops every change unanswered and uncommitted, and goes on answering pings.
    DropEvery,
}

/// An admin socket over a real store that goes away with a change, as a server killed between
/// commit and reply does.
fn fake_admin(home: &Home, mode: Drop1st) -> JoinHandle<()> {
    home.ensure().unwrap();
    let store = Store::open_at(&home.database(), SecretsBackend::File).unwrap();
    let socket = home.admin_socket();
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        let mut store = Some(store);
        let mut dropped = 0;
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            let (r, mut w) = conn.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Some(line) = lines.next_line().await.unwrap() {
                let op: Op = serde_json::from_str(&line).unwrap();
                let reply = match op {
                    Op::Ping => Reply::Pong {
                        listen: Some(LISTEN.into()),
                        pid: std::process::id(),
                    },
                    op if op.mutates() && (dropped == 0 || mode == Drop1st::DropEvery) => {
                        dropped += 1;
                        if matches!(mode, Drop1st::CommitThenExit | Drop1st::CommitThenRestart) {
                            store.as_ref().unwrap().apply(op);
                        }
                        if matches!(mode, Drop1st::CommitThenExit | Drop1st::ExitBeforeCommit) {
                            // Exit: the database lock, the socket and the connection go.
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
                w.write_all(&out).await.unwrap();
            }
        }
    })
}

fn keys_in(handle: &Reply) -> Vec<String> {
    match handle {
        Reply::Keys { records } => records.iter().map(|r| r.hash.clone()).collect(),
        other => panic!("{other:?}"),
    }
}

fn key_record(name: &str) -> crate::store::records::ApiKeyRecord {
    let (_, prefix, hash) = crate::store::keys::generate();
    crate::store::records::ApiKeyRecord {
        name: name.into(),
        prefix,
        hash,
        rpm: None,
        models: vec![],
        enabled: true,
        revoked: false,
        created_at: 1,
        last_used_at: None,
    }
}

#[tokio::test]
async fn a_change_committed_by_a_server_that_then_died_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    home.ensure().unwrap();
    {
        let s = Store::open_at(&home.database(), SecretsBackend::File).unwrap();
        s.apply(Op::UpstreamAdd {
            record: upstream("oai"),
            secret: None,
            base_url: None,
        });
    }
    let server = fake_admin(&home, Drop1st::CommitThenExit);
    let handle = StoreHandle::open(&home, &file_config()).await.unwrap();
    assert!(handle.is_remote());
    // A removal: sent again as a plain op it would fail with "no upstream named oai".
    let applied = handle
        .apply_change(Op::UpstreamRemove { name: "oai".into() })
        .await
        .unwrap();
    assert!(matches!(applied.reply, Reply::Done), "{:?}", applied.reply);
    assert_eq!(applied.resent, Some(Resent::Store));
    server.await.unwrap();
    let local = StoreHandle::open(&home, &file_config()).await.unwrap();
    match local.apply(Op::UpstreamList).await.unwrap() {
        Reply::Upstreams { records } => assert!(records.is_empty(), "{records:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_change_committed_before_a_restart_is_confirmed_by_the_new_server() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    let server = fake_admin(&home, Drop1st::CommitThenRestart);
    let handle = StoreHandle::open(&home, &file_config()).await.unwrap();
    let record = key_record("ci");
    let hash = record.hash.clone();
    let applied = handle.apply_change(Op::KeyAdd { record }).await.unwrap();
    // Not "an API key named ci already exists": the resend is recognised as the same op.
    assert!(matches!(applied.reply, Reply::Done), "{:?}", applied.reply);
    assert_eq!(applied.resent, Some(Resent::Server));
    assert_eq!(keys_in(&handle.apply(Op::KeyList).await.unwrap()), [hash]);
    server.abort();
}

#[tokio::test]
async fn a_change_lost_before_commit_is_made_by_the_resend() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    let server = fake_admin(&home, Drop1st::ExitBeforeCommit);
    let handle = StoreHandle::open(&home, &file_config()).await.unwrap();
    let record = key_record("ci");
    let hash = record.hash.clone();
    let applied = handle.apply_change(Op::KeyAdd { record }).await.unwrap();
    assert!(matches!(applied.reply, Reply::Done), "{:?}", applied.reply);
    assert_eq!(applied.resent, Some(Resent::Store));
    server.await.unwrap();
    let local = StoreHandle::open(&home, &file_config()).await.unwrap();
    assert_eq!(keys_in(&local.apply(Op::KeyList).await.unwrap()), [hash]);
}

#[tokio::test]
async fn a_change_nobody_confirms_is_reported_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(&dir.path().join("h"));
    let server = fake_admin(&home, Drop1st::DropEvery);
    let handle = StoreHandle::open(&home, &file_config()).await.unwrap();
    match handle
        .apply_change(Op::KeyAdd {
            record: key_record("ci"),
        })
        .await
    {
        Err(e @ DaemonError::Unconfirmed { .. }) => {
            assert!(e.to_string().contains("may or may not"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    server.abort();
}
