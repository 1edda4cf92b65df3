//! A read-only look at `gateway.redb` for shell completion: the upstream and key records,
//! without creating, migrating or locking the file for writing, and without touching the
//! secret backend (an OS keyring probe could block a TAB press). redb's read-only open takes a
//! shared lock, so it fails at once with [`StoreError::Locked`] while the server (or any
//! writer) holds the database; the caller then asks the admin socket instead.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

use super::StoreError;
use super::records::{ApiKeyRecord, UpstreamRecord};
use super::schema::{KEYS, UPSTREAMS};

/// The records a completion needs. Records that do not decode are left out: a completion
/// offers what it can read and never reports.
#[derive(Debug, Default)]
pub struct Peek {
    pub upstreams: Vec<UpstreamRecord>,
    pub keys: Vec<ApiKeyRecord>,
}

/// Reads the upstreams and keys of the database at `path`. A missing file is an empty store.
pub fn peek(path: &Path) -> Result<Peek, StoreError> {
    if !path.exists() {
        return Ok(Peek::default());
    }
    let db = match redb::Builder::new().open_read_only(path) {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(StoreError::Locked {
                path: path.display().to_string(),
            });
        }
        Err(e) => return Err(StoreError::db(e)),
    };
    let tx = db.begin_read().map_err(StoreError::db)?;
    Ok(Peek {
        upstreams: records(&tx, UPSTREAMS)?,
        keys: records(&tx, KEYS)?,
    })
}

fn records<T: DeserializeOwned>(
    tx: &redb::ReadTransaction,
    def: TableDefinition<&str, &str>,
) -> Result<Vec<T>, StoreError> {
    let table = match tx.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::db(e)),
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(StoreError::db)? {
        let (_, v) = entry.map_err(StoreError::db)?;
        if let Ok(record) = serde_json::from_str(v.value()) {
            out.push(record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::config::file::SecretsBackend;
    use crate::store::Store;
    use crate::store::ops::{Op, Reply};

    #[test]
    fn reads_records_and_steps_aside_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.redb");
        assert!(peek(&path).unwrap().upstreams.is_empty());
        assert!(!path.exists(), "a peek must not create the store");

        let store = Store::open_at(&path, SecretsBackend::File).unwrap();
        let record = UpstreamRecord::sample("gem", ProviderKind::Gemini);
        let op = Op::UpstreamAdd {
            record,
            secret: None,
            base_url: None,
        };
        assert!(matches!(store.apply(op), Reply::Done));
        // The writer holds the file: the peek says so rather than waiting.
        assert!(matches!(peek(&path), Err(StoreError::Locked { .. })));
        drop(store);

        let seen = peek(&path).unwrap();
        assert_eq!(seen.upstreams.len(), 1);
        assert_eq!(seen.upstreams[0].name, "gem");
        assert!(seen.keys.is_empty());
    }
}
