//! The managed state in `gateway.redb`: typed records ([`records`]), the one enum of operations
//! ([`ops`]) and [`Store::apply`], which every CLI command and the admin socket end in.
//!
//! redb allows one process at a time: the running server owns the database and the CLI reaches
//! it through the admin socket (see `daemon`). Calls block (redb and the OS keyring are
//! synchronous): call them from `tokio::task::spawn_blocking` inside async code.

pub mod ops;
pub mod records;

use crate::config::Config;
use crate::config::paths::Home;
use ops::{Op, OpErrorKind, Reply};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: String, message: String },
}

/// The open database plus the secret backend chosen for it.
pub struct Store {
    _private: (),
}

impl Store {
    /// Opens (creating and migrating as needed) `<home>/gateway.redb`.
    pub fn open(home: &Home, _config: &Config) -> Result<Store, StoreError> {
        Err(StoreError::Open {
            path: home.database().display().to_string(),
            message: "not implemented yet".into(),
        })
    }

    /// Applies one operation. Never panics; failures come back as [`Reply::Error`].
    pub fn apply(&self, _op: Op) -> Reply {
        Reply::Error {
            kind: OpErrorKind::Internal,
            message: "not implemented yet".into(),
        }
    }
}
