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
