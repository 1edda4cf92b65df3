//! The HTTP front: accept loop with graceful shutdown, router, auth, limits, the pipeline
//! (decode -> route -> send -> encode, with the same-protocol fast path) and errors rendered in
//! the client's dialect.

use std::path::PathBuf;

use crate::config::Config;
use crate::config::paths::Home;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("{0}")]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("{0}")]
    Other(String),
}

/// What `server start` (foreground) needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub home: Home,
    pub config: Config,
    pub config_path: PathBuf,
    /// `--listen`, overriding `[server] listen`.
    pub listen: Option<String>,
}

/// Runs the server in the foreground until SIGINT/SIGTERM or `server stop`, then drains.
/// Prints the address it listens on once it is ready.
pub async fn run(opts: ServeOptions) -> Result<(), ServerError> {
    let _ = opts;
    Err(ServerError::Other("not implemented yet".into()))
}
