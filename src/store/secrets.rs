//! Where upstream secrets (API keys, OAuth token JSON) live: the OS keyring (service
//! `llm-gateway`, user = upstream name) or the owner-only `secrets` table of `gateway.redb`.
//! `[secrets] backend` / `LLM_GATEWAY_SECRETS_BACKEND` choose; `auto` probes the keyring once at
//! open and falls back to the table with a one-line notice.
//!
//! The keyring crate talks D-Bus through zbus, which drives its futures with a private tokio
//! runtime's `block_on`: on a tokio worker thread that panics. Every keyring call therefore runs
//! on a short-lived thread of its own, with a timeout, whatever thread the caller is on.
//!
//! With the keyring backend a secret that is not in the keyring is still looked up in the table
//! (left there while the backend was `file`), and setting or deleting clears the table's copy.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use redb::{ReadableDatabase, WriteTransaction};

use super::StoreError;
use super::schema::SECRETS;
use crate::config::env;
use crate::config::file::SecretsBackend;
use crate::secret::Secret;

/// The keyring service name; the user is the upstream name.
pub const SERVICE: &str = "llm-gateway";

/// The entry of an upstream's whole base URL, when it holds a credential (userinfo, a secret
/// query value): the `/` keeps it apart from every valid upstream name.
pub(crate) fn base_url_entry(name: &str) -> String {
    format!("{name}/base-url")
}

/// The entry of a gateway key's plaintext kept for the CLI's own use (`launch`); the `/`
/// keeps it apart from every valid upstream name and from [`base_url_entry`]'s.
pub(crate) fn kept_key_entry(name: &str) -> String {
    format!("{name}/gateway-key")
}

/// The probe entry's user: the `/` keeps it apart from every valid upstream name.
const PROBE_USER: &str = "probe/llm-gateway";
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous: a locked keyring may be showing the user an unlock prompt.
const OP_TIMEOUT: Duration = Duration::from_secs(120);

/// The backend in use after the `auto` probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretStore {
    Keyring,
    File,
}

impl SecretStore {
    /// Resolves `auto` (probing the keyring) and returns the notice to show, if any.
    pub(crate) fn choose(
        backend: SecretsBackend,
        db_path: &Path,
    ) -> Result<(SecretStore, Option<String>), StoreError> {
        match backend {
            SecretsBackend::Keyring => Ok((SecretStore::Keyring, None)),
            SecretsBackend::File => Ok((SecretStore::File, None)),
            SecretsBackend::Auto => match probe_keyring() {
                Ok(()) => Ok((SecretStore::Keyring, None)),
                Err(reason) => {
                    tracing::debug!(%reason, "OS keyring not usable; secrets go to the store");
                    Ok((
                        SecretStore::File,
                        Some(format!(
                            "note: no OS keyring available; secrets are kept in {} (owner-only)",
                            db_path.display()
                        )),
                    ))
                }
            },
        }
    }

    pub(crate) fn kind(self) -> SecretsBackend {
        match self {
            SecretStore::Keyring => SecretsBackend::Keyring,
            SecretStore::File => SecretsBackend::File,
        }
    }

    pub(crate) fn get(self, db: &redb::Database, name: &str) -> Result<Option<Secret>, StoreError> {
        if self == SecretStore::Keyring
            && let Some(s) = keyring_get(name)?
        {
            return Ok(Some(s));
        }
        let tx = db.begin_read().map_err(StoreError::db)?;
        let table = tx.open_table(SECRETS).map_err(StoreError::db)?;
        let v = table.get(name).map_err(StoreError::db)?;
        Ok(v.map(|g| Secret::new(g.value())))
    }

    /// Stores `secret` under `name`. For the file backend the write is part of `tx`; for the
    /// keyring it happens at once (the caller commits `tx` right after).
    pub(crate) fn set(
        self,
        tx: &WriteTransaction,
        name: &str,
        secret: &Secret,
    ) -> Result<(), StoreError> {
        let mut table = tx.open_table(SECRETS).map_err(StoreError::db)?;
        match self {
            SecretStore::File => {
                table
                    .insert(name, secret.expose())
                    .map_err(StoreError::db)?;
            }
            SecretStore::Keyring => {
                keyring_set(name, secret)?;
                table.remove(name).map_err(StoreError::db)?;
            }
        }
        Ok(())
    }

    /// Deletes the secret of `name` wherever it is; a missing secret is not an error.
    pub(crate) fn delete(self, tx: &WriteTransaction, name: &str) -> Result<(), StoreError> {
        if self == SecretStore::Keyring {
            keyring_delete(name)?;
        }
        let mut table = tx.open_table(SECRETS).map_err(StoreError::db)?;
        table.remove(name).map_err(StoreError::db)?;
        Ok(())
    }
}

/// Runs `f` on a thread of its own and waits at most `timeout` for it. On timeout the thread is
/// left to finish (or hang) by itself; the caller gets an error instead of hanging too.
fn on_own_thread<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.recv_timeout(timeout).map_err(|e| match e {
        mpsc::RecvTimeoutError::Timeout => {
            format!("no answer within {} s", timeout.as_secs())
        }
        mpsc::RecvTimeoutError::Disconnected => "the keyring call failed".into(),
    })
}

/// Words a keyring error without the credential listing `Ambiguous` would print.
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::Ambiguous(items) => {
            format!(
                "{} keyring entries match; remove the extra ones",
                items.len()
            )
        }
        other => other.to_string(),
    }
}

fn keyring_error(name: &str, what: String) -> StoreError {
    StoreError::Secret(format!(
        "OS keyring, entry {SERVICE}/{name}: {what}; hint: set [secrets] backend = \"file\" in \
         config.toml (or {}=file) to keep secrets in the owner-only store",
        env::SECRETS_BACKEND
    ))
}

fn keyring_call<T: Send + 'static>(
    name: &str,
    timeout: Duration,
    f: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
) -> Result<keyring::Result<T>, String> {
    let user = name.to_owned();
    on_own_thread(timeout, move || {
        keyring::Entry::new(SERVICE, &user).and_then(f)
    })
}

fn keyring_get(name: &str) -> Result<Option<Secret>, StoreError> {
    match keyring_call(name, OP_TIMEOUT, |e| e.get_password()) {
        Ok(Ok(v)) => Ok(Some(Secret::new(v))),
        Ok(Err(keyring::Error::NoEntry)) => Ok(None),
        Ok(Err(e)) => Err(keyring_error(name, describe(&e))),
        Err(e) => Err(keyring_error(name, e)),
    }
}

fn keyring_set(name: &str, secret: &Secret) -> Result<(), StoreError> {
    let value = secret.clone();
    match keyring_call(name, OP_TIMEOUT, move |e| e.set_password(value.expose())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(keyring_error(name, describe(&e))),
        Err(e) => Err(keyring_error(name, e)),
    }
}

fn keyring_delete(name: &str) -> Result<(), StoreError> {
    match keyring_call(name, OP_TIMEOUT, |e| e.delete_credential()) {
        Ok(Ok(())) | Ok(Err(keyring::Error::NoEntry)) => Ok(()),
        Ok(Err(e)) => Err(keyring_error(name, describe(&e))),
        Err(e) => Err(keyring_error(name, e)),
    }
}

/// Set, read back and delete a probe entry: only a keyring that does all three is usable.
fn probe_keyring() -> Result<(), String> {
    let r = keyring_call(PROBE_USER, PROBE_TIMEOUT, |entry| {
        let value = "llm-gateway keyring probe";
        entry.set_password(value)?;
        let back = entry.get_password();
        let deleted = entry.delete_credential();
        match back {
            Ok(v) if v == value => deleted.map(|()| true),
            Ok(_) => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err("the keyring returned a different value".into()),
        Err(e) => Err(describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::ops::{Op, OpErrorKind, Reply};
    use crate::store::records::UpstreamRecord;

    fn record(name: &str) -> UpstreamRecord {
        UpstreamRecord {
            models: vec!["m".into()],
            ..UpstreamRecord::sample(name, crate::config::ProviderKind::Openai)
        }
    }

    fn secret_of(store: &Store, name: &str) -> Option<String> {
        match store.apply(Op::SecretGet { name: name.into() }) {
            Reply::Secret { secret } => secret.map(|s| s.expose().to_owned()),
            other => panic!("{other:?}"),
        }
    }

    /// The whole life of a secret through the ops, on whichever backend `store` uses.
    fn round_trip(store: &Store, name: &str) {
        let add = Op::UpstreamAdd {
            record: record(name),
            secret: Some(Secret::new("sk-fake-first")),
            base_url: None,
        };
        assert!(matches!(store.apply(add), Reply::Done));
        assert_eq!(secret_of(store, name).as_deref(), Some("sk-fake-first"));
        let token = r#"{"access_token":"fake-at","refresh_token":"fake-rt","expiry":1}"#;
        let set = Op::SecretSet {
            name: name.into(),
            secret: Some(Secret::new(token)),
        };
        assert!(matches!(store.apply(set), Reply::Done));
        assert_eq!(secret_of(store, name).as_deref(), Some(token));
        let clear = Op::SecretSet {
            name: name.into(),
            secret: None,
        };
        assert!(matches!(store.apply(clear), Reply::Done));
        assert_eq!(secret_of(store, name), None);
        let set = Op::SecretSet {
            name: name.into(),
            secret: Some(Secret::new("sk-fake-again")),
        };
        assert!(matches!(store.apply(set), Reply::Done));
        assert!(matches!(
            store.apply(Op::UpstreamRemove { name: name.into() }),
            Reply::Done
        ));
        match store.apply(Op::SecretGet { name: name.into() }) {
            Reply::Error { kind, .. } => assert_eq!(kind, OpErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_backend_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let store = Store::open_at(&path, SecretsBackend::File).unwrap();
        assert_eq!(store.secrets_backend(), SecretsBackend::File);
        round_trip(&store, "oai");
        // The secret is gone from the table itself, not just hidden.
        let add = Op::UpstreamAdd {
            record: record("kept"),
            secret: Some(Secret::new("sk-fake-kept")),
            base_url: None,
        };
        assert!(matches!(store.apply(add), Reply::Done));
        drop(store);
        let store = Store::open_at(&path, SecretsBackend::File).unwrap();
        assert_eq!(secret_of(&store, "kept").as_deref(), Some("sk-fake-kept"));
    }

    #[test]
    fn own_thread_times_out_instead_of_hanging() {
        let r = on_own_thread(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
        });
        assert!(r.unwrap_err().contains("no answer"));
        assert_eq!(on_own_thread(Duration::from_secs(5), || 7).unwrap(), 7);
    }

    // The tests below talk to a real Secret Service: run them with scripts/keyring-test.sh,
    // which starts a throwaway D-Bus session and gnome-keyring.

    #[test]
    #[ignore = "needs a Secret Service: scripts/keyring-test.sh"]
    fn keyring_backend_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("g.redb"), SecretsBackend::Keyring).unwrap();
        let name = format!("lgw-test-{}", std::process::id());
        round_trip(&store, &name);
        // A keyring-backed secret never lands in the table.
        let add = Op::UpstreamAdd {
            record: record(&name),
            secret: Some(Secret::new("sk-fake-keyring")),
            base_url: None,
        };
        assert!(matches!(store.apply(add), Reply::Done));
        assert_eq!(
            keyring_get(&name).unwrap().unwrap().expose(),
            "sk-fake-keyring"
        );
        let tx = store.inner.db.begin_read().unwrap();
        assert!(
            tx.open_table(SECRETS)
                .unwrap()
                .get(name.as_str())
                .unwrap()
                .is_none()
        );
        drop(tx);
        assert!(matches!(
            store.apply(Op::UpstreamRemove { name: name.clone() }),
            Reply::Done
        ));
        assert!(keyring_get(&name).unwrap().is_none());
    }

    /// `auto` picks the keyring when one answers, and the calls work straight from a tokio
    /// worker thread (no `spawn_blocking`), where zbus's own `block_on` would otherwise panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs a Secret Service: scripts/keyring-test.sh"]
    async fn keyring_auto_from_async_worker() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("g.redb"), SecretsBackend::Auto).unwrap();
        assert_eq!(store.secrets_backend(), SecretsBackend::Keyring);
        assert!(store.secret_notice().is_none());
        round_trip(&store, &format!("lgw-async-{}", std::process::id()));
    }

    /// Without a Secret Service, `auto` falls back to the table with the notice; run by
    /// scripts/keyring-test.sh outside the D-Bus session.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs no Secret Service: scripts/keyring-test.sh"]
    async fn secret_service_absent_auto_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let store = Store::open_at(&path, SecretsBackend::Auto).unwrap();
        assert_eq!(store.secrets_backend(), SecretsBackend::File);
        let notice = store.secret_notice().unwrap();
        assert!(
            notice.starts_with("note: no OS keyring available"),
            "{notice}"
        );
        assert!(notice.contains(&path.display().to_string()));
        round_trip(&store, "oai");
    }
}
