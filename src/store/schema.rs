//! The redb tables of `gateway.redb` and the schema version kept in `meta`. Records are stored
//! as JSON so that adding an optional field never needs a migration; a change that does (a
//! renamed table, a reshaped key) bumps [`CURRENT`] and gets a step in [`migrate`], which
//! [`prepare`] runs inside one write transaction at open.

use std::path::Path;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::StoreError;

/// `"schema_version"` -> version.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Upstream name -> JSON of `UpstreamRecord`.
pub(crate) const UPSTREAMS: TableDefinition<&str, &str> = TableDefinition::new("upstreams");
/// Key name -> JSON of `ApiKeyRecord`.
pub(crate) const KEYS: TableDefinition<&str, &str> = TableDefinition::new("keys");
/// (upstream, model) -> JSON of `UsageCounters`.
pub(crate) const USAGE: TableDefinition<(&str, &str), &str> = TableDefinition::new("usage");
/// Upstream name -> secret; used only by the file backend.
pub(crate) const SECRETS: TableDefinition<&str, &str> = TableDefinition::new("secrets");
/// Id of an `Op::Once` -> when it was committed (Unix seconds); kept a day (see `apply`).
pub(crate) const APPLIED: TableDefinition<&str, u64> = TableDefinition::new("applied_ops");

pub(crate) const VERSION_KEY: &str = "schema_version";

/// The schema this build writes.
pub(crate) const CURRENT: u64 = 1;

/// A migration step runner: `(transaction, from, to)`.
pub(crate) type MigrateFn = fn(&WriteTransaction, u64, u64) -> Result<(), StoreError>;

/// Brings the database from schema `from` (0: a new file) up to `to`. Runs inside the open
/// transaction, so a failed step leaves the file as it was.
pub(crate) fn migrate(tx: &WriteTransaction, from: u64, to: u64) -> Result<(), StoreError> {
    let _ = (tx, from, to);
    // Version 1 is the first schema: the tables are created by `prepare` for every version.
    // Future steps go here as `if from < 2 { ... }`.
    Ok(())
}

/// Creates missing tables, checks the schema version, runs `migrate` when it is behind.
pub(crate) fn prepare(
    db: &redb::Database,
    path: &Path,
    target: u64,
    migrate: MigrateFn,
) -> Result<(), StoreError> {
    let tx = db.begin_write().map_err(StoreError::db)?;
    let found = {
        let meta = tx.open_table(META).map_err(StoreError::db)?;
        let v = meta.get(VERSION_KEY).map_err(StoreError::db)?;
        v.map(|g| g.value()).unwrap_or(0)
    };
    if found > target {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found,
            known: target,
        });
    }
    for table in [UPSTREAMS, KEYS, SECRETS] {
        tx.open_table(table).map_err(StoreError::db)?;
    }
    tx.open_table(USAGE).map_err(StoreError::db)?;
    tx.open_table(APPLIED).map_err(StoreError::db)?;
    if found < target {
        migrate(&tx, found, target)?;
        let mut meta = tx.open_table(META).map_err(StoreError::db)?;
        meta.insert(VERSION_KEY, target).map_err(StoreError::db)?;
    }
    tx.commit().map_err(StoreError::db)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::file::SecretsBackend;
    use crate::store::Store;
    use crate::store::ops::{Op, Reply};

    static CALLS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

    fn recording(tx: &WriteTransaction, from: u64, to: u64) -> Result<(), StoreError> {
        CALLS.lock().unwrap().push((from, to));
        // A real step would reshape data; this one proves it runs inside the transaction.
        let mut t = tx.open_table(META).map_err(StoreError::db)?;
        t.insert("migrated_by_test", to).map_err(StoreError::db)?;
        Ok(())
    }

    fn version(path: &Path) -> u64 {
        let db = redb::Builder::new().open(path).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let t = tx.open_table(META).unwrap();
        t.get(VERSION_KEY).unwrap().unwrap().value()
    }

    #[test]
    fn new_file_gets_current_version_and_migration_runs_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        drop(Store::open_at(&path, SecretsBackend::File).unwrap());
        assert_eq!(version(&path), CURRENT);

        // Data written at version 1 survives a migration to version 2.
        let s = Store::open_at(&path, SecretsBackend::File).unwrap();
        assert!(matches!(
            s.apply(Op::UsageAdd {
                rows: vec![],
                keys_used: vec![]
            }),
            Reply::Done
        ));
        drop(s);
        CALLS.lock().unwrap().clear();
        drop(Store::open_with(&path, SecretsBackend::File, 2, recording).unwrap());
        assert_eq!(*CALLS.lock().unwrap(), vec![(1, 2)]);
        assert_eq!(version(&path), 2);
        // Already at 2: no step runs again.
        drop(Store::open_with(&path, SecretsBackend::File, 2, recording).unwrap());
        assert_eq!(CALLS.lock().unwrap().len(), 1);
        // This build (schema 1) refuses a file from the future.
        match Store::open_at(&path, SecretsBackend::File) {
            Err(StoreError::TooNew { found: 2, .. }) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened a newer schema"),
        }
    }

    fn failing(_: &WriteTransaction, _: u64, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Db("step failed".into()))
    }

    #[test]
    fn failed_migration_leaves_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        drop(Store::open_at(&path, SecretsBackend::File).unwrap());
        assert!(Store::open_with(&path, SecretsBackend::File, 2, failing).is_err());
        assert_eq!(version(&path), 1);
    }
}
