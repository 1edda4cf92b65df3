//! The server side of the admin socket: what `server::run` starts next to the HTTP listener.
//! JSON lines: one [`Op`] per line in, one [`Reply`] per line out, many per connection. Store
//! ops run on the blocking pool (redb and the keyring block); `Ping`, `Health`, `Shutdown` and
//! `ConfigReload` are answered here because only the running server can answer them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::DaemonError;
use super::client::MAX_LINE;
use crate::config::live::ConfigState;
use crate::routing::health::HealthReport;
use crate::store::Store;
use crate::store::ops::{Op, OpErrorKind, OverheadSummary, Reply};

/// How long connections get, after `cancel`, to finish the op in hand.
const DRAIN: Duration = Duration::from_secs(5);

/// The async callback of [`AdminHooks::on_change`].
pub type ChangeHook =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What the admin socket tells the running server.
#[derive(Clone)]
pub struct AdminHooks {
    /// Awaited after every op that [`crate::store::ops::Op::mutates`] and succeeded, before the
    /// reply goes out: the server reloads its view here, so a CLI command that returns has
    /// taken effect (a key added is accepted on the very next request).
    pub on_change: ChangeHook,
    /// `server stop`: begin draining. Called before the `Done` reply is written.
    pub on_shutdown: Arc<dyn Fn() + Send + Sync>,
    /// Reported by `Ping`.
    pub listen: String,
    /// Answers `Health`: every upstream's breaker, cooldowns and login state.
    pub health: Arc<dyn Fn() -> Vec<HealthReport> + Send + Sync>,
    /// Also answers `Health`: the gateway's own time per request since start.
    pub overhead: Arc<dyn Fn() -> Option<OverheadSummary> + Send + Sync>,
    /// Awaited before usage counters or keys are read: the server writes the counters and key
    /// uses it has not flushed yet, so `status` right after a request counts it.
    pub flush_usage: ChangeHook,
    /// Answers `ConfigReload`: looks at `config.toml` now and says what is in force.
    pub config: ConfigHook,
}

/// The async callback of [`AdminHooks::config`].
pub type ConfigHook =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ConfigState> + Send>> + Send + Sync>;

/// Serves ops on `socket` (owner-only, a stale file replaced) until `cancel` fires, then lets
/// open connections finish their current op and removes the socket file.
pub async fn serve(
    socket: PathBuf,
    store: Arc<Store>,
    hooks: AdminHooks,
    cancel: CancellationToken,
) -> Result<(), DaemonError> {
    let listener = bind(&socket)?;
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, store.clone(), hooks.clone(), cancel.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: don't spin.
                    tracing::warn!(error = %e, "admin socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = fs::remove_file(&socket);
    let drained =
        tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.shutdown().await;
    }
    Ok(())
}

fn bind(socket: &Path) -> Result<UnixListener, DaemonError> {
    let err = |e: std::io::Error| DaemonError::Socket {
        path: socket.to_path_buf(),
        message: e.to_string(),
    };
    // The pid file lock guarantees we are the only server of this home, so a socket file that
    // exists was left by one that died.
    match fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(socket).map_err(err)?;
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

async fn connection(
    stream: UnixStream,
    store: Arc<Store>,
    hooks: AdminHooks,
    cancel: CancellationToken,
) {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LINE);
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            r = limited.read_line(&mut line) => r,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let too_long = !line.ends_with('\n') && line.len() as u64 >= MAX_LINE;
        let reply = if too_long {
            Reply::Error {
                kind: OpErrorKind::Invalid,
                message: "request line too long".into(),
            }
        } else if line.trim().is_empty() {
            continue;
        } else {
            match serde_json::from_str::<Op>(line.trim()) {
                Ok(op) => handle(op, &store, &hooks).await,
                Err(e) => Reply::Error {
                    kind: OpErrorKind::Invalid,
                    message: format!("unreadable request: {e}"),
                },
            }
        };
        let Ok(mut out) = serde_json::to_vec(&reply) else {
            return;
        };
        out.push(b'\n');
        if w.write_all(&out).await.is_err() || w.flush().await.is_err() || too_long {
            return;
        }
    }
}

async fn handle(op: Op, store: &Arc<Store>, hooks: &AdminHooks) -> Reply {
    match op {
        Op::Ping => Reply::Pong {
            listen: Some(hooks.listen.clone()),
            pid: std::process::id(),
        },
        Op::Shutdown => {
            (hooks.on_shutdown)();
            Reply::Done
        }
        Op::Health => Reply::Health {
            upstreams: (hooks.health)(),
            overhead: (hooks.overhead)(),
        },
        Op::ConfigReload => Reply::Config {
            state: (hooks.config)().await,
        },
        op => {
            if matches!(op, Op::UsageList | Op::KeyList | Op::KeyGet { .. }) {
                (hooks.flush_usage)().await;
            }
            let mutates = op.mutates();
            let store = Arc::clone(store);
            let reply = match tokio::task::spawn_blocking(move || store.apply(op)).await {
                Ok(reply) => reply,
                Err(e) => Reply::Error {
                    kind: OpErrorKind::Internal,
                    message: format!("the store operation failed: {e}"),
                },
            };
            if mutates && !matches!(reply, Reply::Error { .. }) {
                (hooks.on_change)().await;
            }
            reply
        }
    }
}
