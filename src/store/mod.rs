//! The managed state in `gateway.redb`: typed records ([`records`]), the one enum of operations
//! ([`ops`]) and [`Store::apply`], which every CLI command and the admin socket end in. The
//! tables and the schema version live in [`schema`], the secret backends (OS keyring or the
//! owner-only table) in [`secrets`], gateway API key hashing in [`keys`], the stored Responses
//! API replies (the server's alone, not ops) in [`responses`].
//!
//! redb allows one process at a time: the running server owns the database and the CLI reaches
//! it through the admin socket (see `daemon`). Calls block (redb and the OS keyring are
//! synchronous): call [`Store::open`] and [`Store::apply`] from `tokio::task::spawn_blocking`
//! inside async code. (Keyring calls additionally run on their own thread, so even a misplaced
//! call cannot hit the "runtime inside a runtime" panic of the keyring's D-Bus client.)
//!
//! [`Store`] is a cheap handle (`Clone` shares the one open database), so async callers can move
//! a clone into `spawn_blocking`.

mod apply;
pub mod keys;
pub mod ops;
pub mod peek;
pub mod records;
pub mod responses;
mod schema;
pub mod secrets;

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use crate::config::file::SecretsBackend;
use crate::config::paths::Home;
use crate::config::{Config, env};
use ops::{Op, Reply};
use secrets::SecretStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: String, message: String },
    /// Another process (normally the running server) has the database open.
    #[error("the store at {path} is in use by another process")]
    Locked { path: String },
    #[error(
        "the store at {path} was written by a newer llm-gateway (schema {found}, this build knows {known}); upgrade llm-gateway"
    )]
    TooNew {
        path: String,
        found: u64,
        known: u64,
    },
    #[error("store: {0}")]
    Db(String),
    #[error("a stored record is damaged ({what}): {message}")]
    Corrupt { what: String, message: String },
    #[error("secret store: {0}")]
    Secret(String),
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// Any redb error, worded once. redb errors never carry record contents, so no secret leaks.
    pub(crate) fn db(e: impl Into<redb::Error>) -> StoreError {
        StoreError::Db(e.into().to_string())
    }
}

/// The open database plus the secret backend chosen for it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: redb::Database,
    secrets: SecretStore,
    notice: Option<String>,
}

impl Store {
    /// Opens (creating and migrating as needed) `<home>/gateway.redb`. The home folder is created
    /// 0700 and the database file 0600. The secret backend comes from
    /// `LLM_GATEWAY_SECRETS_BACKEND`, else `[secrets] backend`. Fails with
    /// [`StoreError::Locked`] while another process holds the database.
    pub fn open(home: &Home, config: &Config) -> Result<Store, StoreError> {
        let backend = match std::env::var(env::SECRETS_BACKEND) {
            Ok(v) if !v.trim().is_empty() => parse_backend(&v)?,
            _ => config.secrets.backend,
        };
        home.ensure().map_err(|e| StoreError::Open {
            path: home.root().display().to_string(),
            message: e.to_string(),
        })?;
        Store::open_at(&home.database(), backend)
    }

    /// Opens the database file at `path` with the given secret backend (no env lookup).
    pub fn open_at(path: &Path, backend: SecretsBackend) -> Result<Store, StoreError> {
        Store::open_with(path, backend, schema::CURRENT, schema::migrate)
    }

    /// The open path with the target schema version and migration hook injectable, so tests
    /// can exercise a migration that this build does not (yet) need.
    fn open_with(
        path: &Path,
        backend: SecretsBackend,
        target: u64,
        migrate: schema::MigrateFn,
    ) -> Result<Store, StoreError> {
        let db = open_db(path)?;
        // Chosen first: a migration may move secrets.
        let (secrets, notice) = SecretStore::choose(backend, path)?;
        schema::prepare(&db, path, secrets, target, migrate)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                secrets,
                notice,
            }),
        })
    }

    /// Applies one operation. Never panics; failures come back as [`Reply::Error`].
    pub fn apply(&self, op: Op) -> Reply {
        apply::apply(&self.inner.db, &self.inner.secrets, op)
    }

    /// The one-line notice to show when secrets fall back to the owner-only table (the `auto`
    /// backend found no usable OS keyring); `None` otherwise.
    pub fn secret_notice(&self) -> Option<&str> {
        self.inner.notice.as_deref()
    }

    /// Which backend holds secrets after the `auto` probe: `Keyring` or `File`.
    pub fn secrets_backend(&self) -> SecretsBackend {
        self.inner.secrets.kind()
    }
}

fn parse_backend(v: &str) -> Result<SecretsBackend, StoreError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(SecretsBackend::Auto),
        "keyring" => Ok(SecretsBackend::Keyring),
        "file" => Ok(SecretsBackend::File),
        other => Err(StoreError::Config(format!(
            "{} must be auto, keyring or file (got {other:?})",
            env::SECRETS_BACKEND
        ))),
    }
}

/// Opens the file ourselves so that it is created 0600 (and tightened if it already exists),
/// then hands it to redb, which takes its exclusive lock on it.
fn open_db(path: &Path) -> Result<redb::Database, StoreError> {
    let open_err = |message: String| StoreError::Open {
        path: path.display().to_string(),
        message,
    };
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| open_err(e.to_string()))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| open_err(e.to_string()))?;
    match redb::Builder::new().create_file(file) {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::Locked {
            path: path.display().to_string(),
        }),
        Err(e) => Err(open_err(e.to_string())),
    }
}

/// Upstream and key names: non-empty, at most 64 of `[A-Za-z0-9._-]` (so never a `/`, which
/// routing uses as the `upstream/model` separator).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > 64 {
        return Err(format!("name {name:?} is longer than 64 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "name {name:?} contains {c:?}; use letters, digits, '.', '_' and '-'"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("name {name:?} is reserved"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names() {
        for ok in ["oai", "qwen-intl", "a.b_c-1", "X"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ü", "..", "a:b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_creates_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(&dir.path().join("home"));
        let mut config = Config::default();
        config.secrets.backend = SecretsBackend::File;
        // The env override may be set by whoever runs the tests; only check it parses.
        let store = match std::env::var(env::SECRETS_BACKEND) {
            Ok(_) => return,
            Err(_) => Store::open(&home, &config).unwrap(),
        };
        assert!(store.secret_notice().is_none());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(home.root()), 0o700);
        assert_eq!(mode(&home.database()), 0o600);
    }

    #[test]
    fn second_open_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let _a = Store::open_at(&path, SecretsBackend::File).unwrap();
        match Store::open_at(&path, SecretsBackend::File) {
            Err(StoreError::Locked { .. }) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened twice"),
        }
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!(parse_backend(" File ").unwrap(), SecretsBackend::File);
        assert_eq!(parse_backend("keyring").unwrap(), SecretsBackend::Keyring);
        assert_eq!(parse_backend("auto").unwrap(), SecretsBackend::Auto);
        assert!(parse_backend("vault").is_err());
    }
}
