//! The running server as seen from the CLI: the pid file guarded by a lock ([`pidfile`]), the
//! admin socket that carries store [`Op`]s to the server ([`admin`] serves it, [`client`] talks
//! to it), and [`StoreHandle`], which sends an op over the socket when the server runs and
//! applies it to the database directly when it does not. Both paths end in `Store::apply`.
//!
//! A server can die (or restart) after it committed a change and before it replied. So every
//! change goes over the socket as an [`Op::Once`] with a fresh id, and when the reply does not
//! come the same op is sent once more to wherever the store is then (the restarted server, or
//! the database itself): the store applies it only if the first send did not, so `Done` means
//! the change is in the store either way, and an error is the store's real answer. Only when
//! that second send fails too is the outcome unknown, and the error says so.

pub mod admin;
pub mod client;
pub mod pidfile;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::config::paths::Home;
use crate::store::ops::{Op, Reply};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("admin socket {path}: {message}")]
    Socket { path: PathBuf, message: String },
    /// The request left (perhaps only in part) and no reply came: the op may have been applied.
    #[error("admin socket {path}: {message}")]
    Unanswered { path: PathBuf, message: String },
    /// A change the server took without answering, whose outcome the store could not tell
    /// afterwards either.
    #[error(
        "the server stopped answering after it received the change ({first}), and asking the \
         store again failed too ({second}): the change may or may not have been made"
    )]
    Unconfirmed { first: String, second: String },
    #[error("the server is already running (pid {pid})")]
    AlreadyRunning { pid: u32 },
    #[error("the server is not running")]
    NotRunning,
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The database is locked but no server answers on the socket: one is starting or stopping,
    /// or another command holds the database.
    #[error(
        "the store at {path} is in use by another process that does not answer on {socket}; \
         hint: if the server is starting or stopping, try again in a moment"
    )]
    Busy { path: PathBuf, socket: PathBuf },
}

/// What the pid file and the admin socket say about a running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningInfo {
    pub pid: u32,
    pub listen: Option<String>,
}

/// How long [`StoreHandle::open`] waits for a locked database to become reachable.
const LOCKED_WAIT: Duration = Duration::from_secs(3);
const LOCKED_STEP: Duration = Duration::from_millis(100);

/// Where store operations go: the running server, or the database itself.
pub enum StoreHandle {
    /// The admin socket; `home` and `config` find the store again if the server goes away.
    Remote {
        socket: PathBuf,
        home: Home,
        config: Box<Config>,
    },
    Local(Box<crate::store::Store>),
}

/// A reply, and whether it took a second send because the server stopped answering.
#[derive(Debug)]
pub struct Applied {
    pub reply: Reply,
    pub resent: Option<Resent>,
}

/// Where a change went the second time (see [`StoreHandle::apply_change`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    /// A server answers on the socket again (it was restarted).
    Server,
    /// No server runs any more: the database itself.
    Store,
}

impl StoreHandle {
    /// Connects to the running server's admin socket, or opens the database when no server
    /// runs. A database locked by a process that does not (yet, or any more) answer on the
    /// socket is retried for about 3 s before giving up with [`DaemonError::Busy`].
    pub async fn open(home: &Home, config: &Config) -> Result<StoreHandle, DaemonError> {
        let socket = home.admin_socket();
        let remote = |socket: PathBuf| StoreHandle::Remote {
            socket,
            home: home.clone(),
            config: Box::new(config.clone()),
        };
        if client::ping(&socket).await.is_some() {
            return Ok(remote(socket));
        }
        let deadline = Instant::now() + LOCKED_WAIT;
        loop {
            match open_local(home, config).await {
                Ok(store) => return Ok(StoreHandle::Local(Box::new(store))),
                Err(DaemonError::Store(StoreError::Locked { .. })) => {}
                Err(e) => return Err(e),
            }
            if client::ping(&socket).await.is_some() {
                return Ok(remote(socket));
            }
            if Instant::now() >= deadline {
                return Err(DaemonError::Busy {
                    path: home.database(),
                    socket,
                });
            }
            tokio::time::sleep(LOCKED_STEP).await;
        }
    }

    pub async fn apply(&self, op: Op) -> Result<Reply, DaemonError> {
        self.apply_change(op).await.map(|a| a.reply)
    }

    /// [`StoreHandle::apply`], saying whether a change had to be sent a second time because
    /// the server stopped answering (see the module doc).
    pub async fn apply_change(&self, op: Op) -> Result<Applied, DaemonError> {
        let (socket, home, config) = match self {
            StoreHandle::Local(store) => {
                return Ok(Applied {
                    reply: apply_local(store, op).await?,
                    resent: None,
                });
            }
            StoreHandle::Remote {
                socket,
                home,
                config,
            } => (socket, home, config),
        };
        if !op.mutates() {
            return Ok(Applied {
                reply: client::request(socket, &op).await?,
                resent: None,
            });
        }
        let op = Op::Once {
            id: op_id(),
            inner: Box::new(op),
        };
        let first = match client::request(socket, &op).await {
            Err(DaemonError::Unanswered { message, .. }) => message,
            other => {
                return other.map(|reply| Applied {
                    reply,
                    resent: None,
                });
            }
        };
        let unconfirmed = |second: DaemonError| DaemonError::Unconfirmed {
            first: first.clone(),
            second: second.to_string(),
        };
        let again = StoreHandle::open(home, config).await.map_err(unconfirmed)?;
        let (reply, resent) = match &again {
            StoreHandle::Remote { socket, .. } => {
                (client::request(socket, &op).await, Resent::Server)
            }
            StoreHandle::Local(store) => (apply_local(store, op).await, Resent::Store),
        };
        Ok(Applied {
            reply: reply.map_err(unconfirmed)?,
            resent: Some(resent),
        })
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, StoreHandle::Remote { .. })
    }

    /// The local store's secret fallback notice (see `Store::secret_notice`); `None` when
    /// remote, where it is the server's to report.
    pub fn secret_notice(&self) -> Option<&str> {
        match self {
            StoreHandle::Local(store) => store.secret_notice(),
            StoreHandle::Remote { .. } => None,
        }
    }
}

async fn apply_local(store: &Store, op: Op) -> Result<Reply, DaemonError> {
    let store = Store::clone(store);
    tokio::task::spawn_blocking(move || store.apply(op))
        .await
        .map_err(|e| DaemonError::Store(StoreError::Db(format!("the store operation failed: {e}"))))
}

/// A fresh [`Op::Once`] id: 128 random bits, so no two commands ever share one.
fn op_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn open_local(home: &Home, config: &Config) -> Result<Store, DaemonError> {
    let (home, config) = (home.clone(), config.clone());
    tokio::task::spawn_blocking(move || Store::open(&home, &config))
        .await
        .map_err(|e| DaemonError::Store(StoreError::Db(format!("opening the store failed: {e}"))))?
        .map_err(DaemonError::Store)
}

/// The running server, if any: the pid file locked by a live process (a server that is still
/// starting counts, with the listen address it recorded), or the admin socket answering a
/// `Ping` (whose pid and listen address win when both answer).
pub async fn running(home: &Home) -> Option<RunningInfo> {
    let h = home.clone();
    let from_file = tokio::task::spawn_blocking(move || pidfile::read(&h))
        .await
        .ok()
        .flatten();
    match client::ping(&home.admin_socket()).await {
        Some((pid, listen)) => Some(RunningInfo { pid, listen }),
        None => from_file,
    }
}

#[cfg(test)]
mod tests;
