//! The redb tables of `gateway.redb` and the schema version kept in `meta`. Records are stored
//! as JSON so that adding an optional field never needs a migration; a change that does (a
//! renamed table, a reshaped key) bumps [`CURRENT`] and gets a step in [`migrate`], which
//! [`prepare`] runs inside one write transaction at open.

use std::path::Path;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::StoreError;
use super::secrets::{SecretStore, base_url_entry};
use crate::secret::Secret;
use crate::upstream::base_url;

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
/// * 1: the first schema.
/// * 2: no upstream record holds a credential in its `base_url` (moved to the secret store).
pub(crate) const CURRENT: u64 = 2;

/// A migration step runner: `(transaction, secret store, from, to)`.
pub(crate) type MigrateFn = fn(&WriteTransaction, SecretStore, u64, u64) -> Result<(), StoreError>;

/// Brings the database from schema `from` (0: a new file) up to `to`. Runs inside the open
/// transaction, so a failed step leaves the file as it was.
pub(crate) fn migrate(
    tx: &WriteTransaction,
    secrets: SecretStore,
    from: u64,
    to: u64,
) -> Result<(), StoreError> {
    // Version 1 is the first schema: the tables are created by `prepare` for every version.
    if from < 2 && to >= 2 {
        base_url_credentials_to_secrets(tx, secrets)?;
    }
    Ok(())
}

/// Schema 2: an upstream added before base URLs with a credential (`https://user:pw@relay/v1`,
/// `?key=...`) were kept apart still holds that URL, password and all, in plain text in its
/// record. The whole URL moves to the secret store (entry `NAME/base-url`) and the record keeps
/// it redacted with `base_url_secret`, as `upstream add` does now. Records are edited as JSON
/// so that fields this step does not know survive; one that does not parse is left alone (the
/// store reports it when it is read).
fn base_url_credentials_to_secrets(
    tx: &WriteTransaction,
    secrets: SecretStore,
) -> Result<(), StoreError> {
    let mut moved = Vec::new();
    {
        let table = tx.open_table(UPSTREAMS).map_err(StoreError::db)?;
        for row in table.iter().map_err(StoreError::db)? {
            let (name, json) = row.map_err(StoreError::db)?;
            let Ok(serde_json::Value::Object(mut record)) =
                serde_json::from_str::<serde_json::Value>(json.value())
            else {
                continue;
            };
            if record.get("base_url_secret") == Some(&serde_json::Value::Bool(true)) {
                continue;
            }
            let Some(whole) = record.get("base_url").and_then(|u| u.as_str()) else {
                continue;
            };
            if !base_url::has_secret(whole) {
                continue;
            }
            let whole = Secret::new(whole);
            let shown = base_url::redact(whole.expose()).into_owned();
            record.insert("base_url".into(), shown.into());
            record.insert("base_url_secret".into(), true.into());
            let json = serde_json::Value::Object(record).to_string();
            moved.push((name.value().to_owned(), whole, json));
        }
    }
    let mut table = tx.open_table(UPSTREAMS).map_err(StoreError::db)?;
    for (name, whole, json) in moved {
        secrets.set(tx, &base_url_entry(&name), &whole)?;
        table
            .insert(name.as_str(), json.as_str())
            .map_err(StoreError::db)?;
    }
    Ok(())
}

/// Creates missing tables, checks the schema version, runs `migrate` when it is behind.
pub(crate) fn prepare(
    db: &redb::Database,
    path: &Path,
    secrets: SecretStore,
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
    // Added without a version bump: an older build ignores tables it does not know.
    tx.open_table(super::responses::RESPONSES)
        .map_err(StoreError::db)?;
    tx.open_table(super::responses::RESPONSES_BY_AGE)
        .map_err(StoreError::db)?;
    if found < target {
        migrate(&tx, secrets, found, target)?;
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

    fn recording(
        tx: &WriteTransaction,
        _: SecretStore,
        from: u64,
        to: u64,
    ) -> Result<(), StoreError> {
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

        // Data written at this version survives a migration to the next.
        let next = CURRENT + 1;
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
        drop(Store::open_with(&path, SecretsBackend::File, next, recording).unwrap());
        assert_eq!(*CALLS.lock().unwrap(), vec![(CURRENT, next)]);
        assert_eq!(version(&path), next);
        // Already there: no step runs again.
        drop(Store::open_with(&path, SecretsBackend::File, next, recording).unwrap());
        assert_eq!(CALLS.lock().unwrap().len(), 1);
        // This build refuses a file from the future.
        match Store::open_at(&path, SecretsBackend::File) {
            Err(StoreError::TooNew { found, .. }) if found == next => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened a newer schema"),
        }
    }

    fn failing(_: &WriteTransaction, _: SecretStore, _: u64, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Db("step failed".into()))
    }

    #[test]
    fn failed_migration_leaves_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        drop(Store::open_at(&path, SecretsBackend::File).unwrap());
        assert!(Store::open_with(&path, SecretsBackend::File, CURRENT + 1, failing).is_err());
        assert_eq!(version(&path), CURRENT);
    }

    fn no_step(_: &WriteTransaction, _: SecretStore, _: u64, _: u64) -> Result<(), StoreError> {
        Ok(())
    }

    fn raw(path: &Path, def: TableDefinition<&str, &str>, key: &str) -> Option<String> {
        let db = redb::Builder::new().open(path).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let t = tx.open_table(def).unwrap();
        t.get(key).unwrap().map(|v| v.value().to_owned())
    }

    #[test]
    fn version_2_moves_a_credential_in_a_base_url_to_the_secret_store() {
        use crate::config::ProviderKind;
        use crate::store::records::UpstreamRecord;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let whole = "https://user:pw-fake@relay.example/v1?key=k-fake&x=1";
        // A store of schema 1, written the way builds of then did: the URL whole in the record.
        let s = Store::open_with(&path, SecretsBackend::File, 1, no_step).unwrap();
        for (name, url) in [("relay", whole), ("plain", "http://127.0.0.1:1/v1")] {
            let reply = s.apply(Op::UpstreamAdd {
                record: UpstreamRecord {
                    base_url: Some(url.into()),
                    ..UpstreamRecord::sample(name, ProviderKind::Openai)
                },
                secret: None,
                base_url: None,
            });
            assert!(matches!(reply, Reply::Done), "{reply:?}");
        }
        drop(s);
        assert!(raw(&path, UPSTREAMS, "relay").unwrap().contains("pw-fake"));

        let s = Store::open_at(&path, SecretsBackend::File).unwrap();
        let record = |name: &str| match s.apply(Op::UpstreamGet { name: name.into() }) {
            Reply::Upstream { record } => record,
            other => panic!("{other:?}"),
        };
        let relay = record("relay");
        assert_eq!(
            relay.base_url.as_deref(),
            Some("https://***@relay.example/v1?key=***&x=1")
        );
        assert!(relay.base_url_secret);
        match s.apply(Op::BaseUrlGet {
            name: "relay".into(),
        }) {
            Reply::Secret { secret } => {
                assert_eq!(secret.as_ref().map(|u| u.expose()), Some(whole));
            }
            other => panic!("{other:?}"),
        }
        let plain = record("plain");
        assert_eq!(plain.base_url.as_deref(), Some("http://127.0.0.1:1/v1"));
        assert!(!plain.base_url_secret);
        drop(s);
        assert_eq!(version(&path), CURRENT);
        let stored = raw(&path, UPSTREAMS, "relay").unwrap();
        assert!(
            !stored.contains("pw-fake") && !stored.contains("k-fake"),
            "{stored}"
        );
        assert_eq!(
            raw(&path, SECRETS, &base_url_entry("relay")).as_deref(),
            Some(whole)
        );
        assert_eq!(raw(&path, SECRETS, &base_url_entry("plain")), None);
    }
}
