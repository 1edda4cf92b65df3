//! The running server as seen from the CLI: the pid file (guarded by a lock), the admin socket
//! that carries store [`Op`]s to the server, and [`StoreHandle`], which sends an op over the
//! socket when the server runs and applies it to the database directly when it does not.

use std::path::PathBuf;

use crate::config::Config;
use crate::config::paths::Home;
use crate::store::ops::{Op, Reply};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("admin socket {path}: {message}")]
    Socket { path: PathBuf, message: String },
    #[error("the server is already running (pid {pid})")]
    AlreadyRunning { pid: u32 },
    #[error("the server is not running")]
    NotRunning,
}

/// What the pid file and the admin socket say about a running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningInfo {
    pub pid: u32,
    pub listen: Option<String>,
}

/// Where store operations go: the running server, or the database itself.
pub enum StoreHandle {
    Remote { socket: PathBuf },
    Local(Box<crate::store::Store>),
}

impl StoreHandle {
    /// Connects to the running server's admin socket, or opens the database when no server runs.
    pub async fn open(home: &Home, config: &Config) -> Result<StoreHandle, DaemonError> {
        let _ = (home, config);
        Err(DaemonError::NotRunning)
    }

    pub async fn apply(&self, op: Op) -> Result<Reply, DaemonError> {
        let _ = op;
        Err(DaemonError::NotRunning)
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, StoreHandle::Remote { .. })
    }
}

/// The running server, if any (pid file locked by a live process and socket answering).
pub async fn running(home: &Home) -> Option<RunningInfo> {
    let _ = home;
    None
}

/// The server side of the admin socket: what `server::run` starts next to the HTTP listener.
pub mod admin {
    use std::path::PathBuf;
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::DaemonError;
    use crate::store::Store;

    /// What the admin socket tells the running server.
    #[derive(Clone)]
    pub struct AdminHooks {
        /// Called after every op that [`crate::store::ops::Op::mutates`]: reload the view.
        pub on_change: Arc<dyn Fn() + Send + Sync>,
        /// `server stop`: begin draining.
        pub on_shutdown: Arc<dyn Fn() + Send + Sync>,
        /// Reported by `Ping`.
        pub listen: String,
    }

    /// Serves ops on `socket` (owner-only, a stale file replaced) until `cancel` fires.
    pub async fn serve(
        socket: PathBuf,
        store: Arc<Store>,
        hooks: AdminHooks,
        cancel: CancellationToken,
    ) -> Result<(), DaemonError> {
        let _ = (store, hooks, cancel);
        Err(DaemonError::Socket {
            path: socket,
            message: "not implemented yet".into(),
        })
    }
}

/// The pid file, held under an exclusive lock for the server's lifetime.
pub mod pidfile {
    use super::DaemonError;
    use crate::config::paths::Home;

    pub struct PidFile {
        _file: std::fs::File,
    }

    impl PidFile {
        /// Takes the lock and writes this process's pid and listen address, or reports the
        /// server that holds it.
        pub fn acquire(home: &Home, listen: &str) -> Result<PidFile, DaemonError> {
            let _ = (home, listen);
            Err(DaemonError::NotRunning)
        }
    }
}
