//! [`apply`]: one [`Op`] against the database and the secret backend, in one write transaction
//! where it writes. Every failure becomes a [`Reply::Error`] with a kind the CLI maps to a hint.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys;
use super::ops::{Op, OpErrorKind, Reply};
use super::records::{ApiKeyRecord, UpstreamRecord, UsageCounters, UsageRow};
use super::schema::{APPLIED, KEYS, UPSTREAMS, USAGE};
use super::secrets::{SecretStore, base_url_entry, kept_key_entry};
use super::{StoreError, validate_name};

struct Fail {
    kind: OpErrorKind,
    message: String,
}

type OpResult = Result<Reply, Fail>;

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail {
            kind: OpErrorKind::Internal,
            message: e.to_string(),
        }
    }
}

fn fail(kind: OpErrorKind, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
    }
}

fn not_found(what: &str, name: &str) -> Fail {
    fail(OpErrorKind::NotFound, format!("no {what} named {name:?}"))
}

fn valid(name: &str) -> Result<(), Fail> {
    validate_name(name).map_err(|m| fail(OpErrorKind::Invalid, m))
}

pub(crate) fn apply(db: &redb::Database, secrets: &SecretStore, op: Op) -> Reply {
    let result = match op {
        Op::Once { id, inner } => once(db, *secrets, &id, *inner),
        op => run(db, *secrets, op, None),
    };
    match result {
        Ok(reply) => reply,
        Err(Fail { kind, message }) => Reply::Error { kind, message },
    }
}

/// The longest [`Op::Once`] id taken (the CLI sends 32 hex digits).
const MAX_ONCE_ID: usize = 64;
/// How long a committed [`Op::Once`] id is remembered: far longer than a CLI command waits for
/// a server to come back, short enough that the table stays a handful of rows.
const ONCE_KEPT_SECS: u64 = 24 * 60 * 60;

fn once(db: &redb::Database, secrets: SecretStore, id: &str, inner: Op) -> OpResult {
    if id.is_empty() || id.len() > MAX_ONCE_ID {
        return Err(fail(
            OpErrorKind::Invalid,
            "an op id must be 1 to 64 characters",
        ));
    }
    if !inner.mutates() || matches!(inner, Op::Once { .. }) {
        return Err(fail(
            OpErrorKind::Invalid,
            "only a change can be applied once",
        ));
    }
    run(db, secrets, inner, Some(id))
}

fn run(db: &redb::Database, secrets: SecretStore, op: Op, once: Option<&str>) -> OpResult {
    match op {
        Op::UpstreamAdd {
            record,
            secret,
            base_url,
        } => {
            valid(&record.name)?;
            if record.base_url_secret != base_url.is_some() {
                return Err(fail(
                    OpErrorKind::Invalid,
                    "an upstream whose base URL holds a credential needs that URL in the op",
                ));
            }
            write(db, once, |tx| {
                if get_json::<UpstreamRecord>(tx, UPSTREAMS, &record.name)?.is_some() {
                    return Err(fail(
                        OpErrorKind::AlreadyExists,
                        format!("an upstream named {:?} already exists", record.name),
                    ));
                }
                put_json(tx, UPSTREAMS, &record.name, &record)?;
                let url_entry = base_url_entry(&record.name);
                // A leftover secret of an earlier upstream of that name must not resurface.
                for (entry, value) in [(&record.name, &secret), (&url_entry, &base_url)] {
                    match value {
                        Some(s) => secrets.set(tx, entry, s)?,
                        None => secrets.delete(tx, entry)?,
                    }
                }
                Ok(Reply::Done)
            })
        }
        Op::UpstreamUpdate { record } => {
            valid(&record.name)?;
            write(db, once, |tx| {
                existing_upstream(tx, &record.name)?;
                put_json(tx, UPSTREAMS, &record.name, &record)?;
                Ok(Reply::Done)
            })
        }
        Op::UpstreamGet { name } => {
            read_upstream(db, &name).map(|record| Reply::Upstream { record })
        }
        Op::UpstreamList => Ok(Reply::Upstreams {
            records: list_json(db, UPSTREAMS)?,
        }),
        Op::UpstreamRemove { name } => write(db, once, |tx| {
            existing_upstream(tx, &name)?;
            let mut t = tx.open_table(UPSTREAMS).map_err(StoreError::db)?;
            t.remove(name.as_str()).map_err(StoreError::db)?;
            drop(t);
            secrets.delete(tx, &name)?;
            secrets.delete(tx, &base_url_entry(&name))?;
            Ok(Reply::Done)
        }),
        Op::UpstreamSetEnabled { name, enabled } => {
            update_upstream(db, once, &name, |r| r.enabled = enabled)
        }
        Op::OAuthMetaSet { name, meta } => {
            update_upstream(db, once, &name, |r| r.oauth = Some(meta))
        }
        Op::SecretGet { name } => {
            read_upstream(db, &name)?;
            Ok(Reply::Secret {
                secret: secrets.get(db, &name)?,
            })
        }
        Op::BaseUrlGet { name } => {
            let record = read_upstream(db, &name)?;
            Ok(Reply::Secret {
                secret: match record.base_url_secret {
                    true => secrets.get(db, &base_url_entry(&name))?,
                    false => None,
                },
            })
        }
        Op::SecretSet { name, secret } => write(db, once, |tx| {
            existing_upstream(tx, &name)?;
            match &secret {
                Some(s) => secrets.set(tx, &name, s)?,
                None => secrets.delete(tx, &name)?,
            }
            Ok(Reply::Done)
        }),
        Op::KeyAdd { record } => {
            valid(&record.name)?;
            if !keys::is_hash(&record.hash) {
                return Err(fail(
                    OpErrorKind::Invalid,
                    "a key record must hold the key's SHA-256 hash, not the key",
                ));
            }
            write(db, once, |tx| {
                if get_json::<ApiKeyRecord>(tx, KEYS, &record.name)?.is_some() {
                    return Err(fail(
                        OpErrorKind::AlreadyExists,
                        format!("an API key named {:?} already exists", record.name),
                    ));
                }
                put_json(tx, KEYS, &record.name, &record)?;
                Ok(Reply::Done)
            })
        }
        Op::KeyGet { name } => {
            let tx = db.begin_read().map_err(StoreError::db)?;
            let t = tx.open_table(KEYS).map_err(StoreError::db)?;
            match t.get(name.as_str()).map_err(StoreError::db)? {
                Some(v) => Ok(Reply::Key {
                    record: decode(&name, v.value())?,
                }),
                None => Err(not_found("API key", &name)),
            }
        }
        Op::KeyList => Ok(Reply::Keys {
            records: list_json(db, KEYS)?,
        }),
        Op::KeyRevoke { name } => update_key(db, once, &name, |k| {
            k.revoked = true;
            k.enabled = false;
        }),
        Op::KeySetEnabled { name, enabled } => update_key(db, once, &name, |k| k.enabled = enabled),
        Op::KeptKeyGet { name } => Ok(Reply::Secret {
            secret: secrets.get(db, &kept_key_entry(&name))?,
        }),
        Op::KeptKeySet { name, secret } => write(db, once, |tx| {
            match &secret {
                Some(s) => secrets.set(tx, &kept_key_entry(&name), s)?,
                None => secrets.delete(tx, &kept_key_entry(&name))?,
            }
            Ok(Reply::Done)
        }),
        Op::UsageAdd { rows, keys_used } => write(db, once, |tx| {
            {
                let mut t = tx.open_table(USAGE).map_err(StoreError::db)?;
                for row in &rows {
                    let key = (row.upstream.as_str(), row.model.as_str());
                    let mut counters: UsageCounters = match t.get(key).map_err(StoreError::db)? {
                        Some(v) => {
                            decode(&format!("usage {}/{}", row.upstream, row.model), v.value())?
                        }
                        None => UsageCounters::default(),
                    };
                    counters.add(&row.counters);
                    let json = encode(&counters)?;
                    t.insert(key, json.as_str()).map_err(StoreError::db)?;
                }
            }
            // A key removed since its use has nothing to update.
            for used in &keys_used {
                if let Some(mut record) = get_json::<ApiKeyRecord>(tx, KEYS, &used.name)?
                    && record.last_used_at.is_none_or(|t| t < used.at)
                {
                    record.last_used_at = Some(used.at);
                    put_json(tx, KEYS, &used.name, &record)?;
                }
            }
            Ok(Reply::Done)
        }),
        Op::UsageList => {
            let tx = db.begin_read().map_err(StoreError::db)?;
            let t = tx.open_table(USAGE).map_err(StoreError::db)?;
            let mut rows = Vec::new();
            for entry in t.iter().map_err(StoreError::db)? {
                let (k, v) = entry.map_err(StoreError::db)?;
                let (upstream, model) = k.value();
                let counters = decode(&format!("usage {upstream}/{model}"), v.value())?;
                rows.push(UsageRow {
                    upstream: upstream.to_owned(),
                    model: model.to_owned(),
                    counters,
                });
            }
            Ok(Reply::Usage { rows })
        }
        Op::Ping => Ok(Reply::Pong {
            listen: None,
            pid: std::process::id(),
        }),
        Op::Shutdown | Op::Health | Op::ConfigReload => {
            Err(fail(OpErrorKind::Invalid, "the server is not running"))
        }
        Op::Once { .. } => Err(fail(OpErrorKind::Invalid, "an op inside an op")),
    }
}

/// Runs `f` in a write transaction, committed only when `f` succeeds. With the id of an
/// [`Op::Once`], the id is committed in the same transaction, and an id already there means
/// an earlier send of this very op was committed (its reply lost): `Done` again, nothing
/// applied twice. redb has one writer at a time, so a resend that races the first send waits
/// for it and then sees its id.
fn write(
    db: &redb::Database,
    once: Option<&str>,
    f: impl FnOnce(&WriteTransaction) -> OpResult,
) -> OpResult {
    let tx = db.begin_write().map_err(StoreError::db)?;
    if let Some(id) = once {
        let t = tx.open_table(APPLIED).map_err(StoreError::db)?;
        if t.get(id).map_err(StoreError::db)?.is_some() {
            return Ok(Reply::Done);
        }
    }
    let reply = f(&tx)?;
    if let Some(id) = once {
        let now = unix_now();
        let mut t = tx.open_table(APPLIED).map_err(StoreError::db)?;
        t.retain(|_, at| at.saturating_add(ONCE_KEPT_SECS) >= now)
            .map_err(StoreError::db)?;
        t.insert(id, now).map_err(StoreError::db)?;
    }
    tx.commit().map_err(StoreError::db)?;
    Ok(reply)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn encode<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Db(format!("cannot encode a record: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

fn get_json<T: DeserializeOwned>(
    tx: &WriteTransaction,
    def: TableDefinition<&str, &str>,
    name: &str,
) -> Result<Option<T>, StoreError> {
    let t = tx.open_table(def).map_err(StoreError::db)?;
    let v = t.get(name).map_err(StoreError::db)?;
    v.map(|g| decode(name, g.value())).transpose()
}

fn put_json<T: Serialize>(
    tx: &WriteTransaction,
    def: TableDefinition<&str, &str>,
    name: &str,
    value: &T,
) -> Result<(), StoreError> {
    let json = encode(value)?;
    let mut t = tx.open_table(def).map_err(StoreError::db)?;
    t.insert(name, json.as_str()).map_err(StoreError::db)?;
    Ok(())
}

fn list_json<T: DeserializeOwned>(
    db: &redb::Database,
    def: TableDefinition<&str, &str>,
) -> Result<Vec<T>, StoreError> {
    let tx = db.begin_read().map_err(StoreError::db)?;
    let t = tx.open_table(def).map_err(StoreError::db)?;
    let mut out = Vec::new();
    for entry in t.iter().map_err(StoreError::db)? {
        let (k, v) = entry.map_err(StoreError::db)?;
        out.push(decode(k.value(), v.value())?);
    }
    Ok(out)
}

fn existing_upstream(tx: &WriteTransaction, name: &str) -> Result<UpstreamRecord, Fail> {
    get_json(tx, UPSTREAMS, name)?.ok_or_else(|| not_found("upstream", name))
}

fn read_upstream(db: &redb::Database, name: &str) -> Result<UpstreamRecord, Fail> {
    let tx = db.begin_read().map_err(StoreError::db)?;
    let t = tx.open_table(UPSTREAMS).map_err(StoreError::db)?;
    match t.get(name).map_err(StoreError::db)? {
        Some(v) => Ok(decode(name, v.value())?),
        None => Err(not_found("upstream", name)),
    }
}

fn update_upstream(
    db: &redb::Database,
    once: Option<&str>,
    name: &str,
    edit: impl FnOnce(&mut UpstreamRecord),
) -> OpResult {
    write(db, once, |tx| {
        let mut record = existing_upstream(tx, name)?;
        edit(&mut record);
        put_json(tx, UPSTREAMS, name, &record)?;
        Ok(Reply::Done)
    })
}

fn update_key(
    db: &redb::Database,
    once: Option<&str>,
    name: &str,
    edit: impl FnOnce(&mut ApiKeyRecord),
) -> OpResult {
    write(db, once, |tx| {
        let mut record: ApiKeyRecord =
            get_json(tx, KEYS, name)?.ok_or_else(|| not_found("API key", name))?;
        edit(&mut record);
        put_json(tx, KEYS, name, &record)?;
        Ok(Reply::Done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::config::file::SecretsBackend;
    use crate::secret::Secret;
    use crate::store::Store;
    use crate::store::records::{KeyUse, OAuthMeta, OAuthState};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_at(&dir.path().join("g.redb"), SecretsBackend::File).unwrap();
        (dir, s)
    }

    fn upstream(name: &str) -> UpstreamRecord {
        UpstreamRecord {
            base_url: Some("http://127.0.0.1:1/v1".into()),
            models: vec!["gpt-fake".into()],
            created_at: 1,
            ..UpstreamRecord::sample(name, ProviderKind::Openai)
        }
    }

    fn key(name: &str) -> ApiKeyRecord {
        let (_, prefix, hash) = keys::generate();
        ApiKeyRecord {
            name: name.into(),
            prefix,
            hash,
            rpm: Some(60),
            models: vec![],
            enabled: true,
            revoked: false,
            created_at: 1,
            last_used_at: None,
        }
    }

    fn err_kind(r: Reply) -> OpErrorKind {
        match r {
            Reply::Error { kind, .. } => kind,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn done(r: Reply) {
        assert!(matches!(r, Reply::Done), "{r:?}");
    }

    #[test]
    fn a_base_url_holding_a_credential_is_kept_apart_and_goes_with_the_upstream() {
        let (_d, s) = store();
        let url = |s: &Store, name: &str| match s.apply(Op::BaseUrlGet { name: name.into() }) {
            Reply::Secret { secret } => secret.map(|u| u.expose().to_owned()),
            other => panic!("{other:?}"),
        };
        let whole = "https://user:pw-fake@relay.example/v1";
        let record = UpstreamRecord {
            base_url: Some("https://***@relay.example/v1".into()),
            base_url_secret: true,
            ..upstream("relay")
        };
        // The flag and the URL go together.
        assert_eq!(
            err_kind(s.apply(Op::UpstreamAdd {
                record: record.clone(),
                secret: None,
                base_url: None,
            })),
            OpErrorKind::Invalid
        );
        done(s.apply(Op::UpstreamAdd {
            record,
            secret: Some(Secret::new("sk-fake")),
            base_url: Some(Secret::new(whole)),
        }));
        assert_eq!(url(&s, "relay").as_deref(), Some(whole));
        let stored = get_upstream(&s, "relay");
        assert_eq!(
            stored.base_url.as_deref(),
            Some("https://***@relay.example/v1")
        );
        assert!(stored.base_url_secret);
        // Records without the flag have nothing there.
        done(s.apply(Op::UpstreamAdd {
            record: upstream("plain"),
            secret: None,
            base_url: None,
        }));
        assert_eq!(url(&s, "plain"), None);

        // Removed with the upstream: a later one of that name does not inherit it.
        done(s.apply(Op::UpstreamRemove {
            name: "relay".into(),
        }));
        let again = UpstreamRecord {
            base_url_secret: true,
            ..upstream("relay")
        };
        done(s.apply(Op::UpstreamAdd {
            record: again,
            secret: None,
            base_url: Some(Secret::new("https://other:pw2@relay.example/v1")),
        }));
        done(s.apply(Op::UpstreamRemove {
            name: "relay".into(),
        }));
        done(s.apply(Op::UpstreamAdd {
            record: upstream("relay"),
            secret: None,
            base_url: None,
        }));
        let tx = s.inner.db.begin_read().unwrap();
        let t = tx.open_table(super::super::schema::SECRETS).unwrap();
        assert!(t.get("relay/base-url").unwrap().is_none());
    }

    fn get_upstream(s: &Store, name: &str) -> UpstreamRecord {
        match s.apply(Op::UpstreamGet { name: name.into() }) {
            Reply::Upstream { record } => record,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn upstream_life() {
        let (_d, s) = store();
        let add = |name: &str| Op::UpstreamAdd {
            record: upstream(name),
            secret: Some(Secret::new("sk-fake")),
            base_url: None,
        };
        done(s.apply(add("oai")));
        done(s.apply(add("b-second")));
        assert_eq!(err_kind(s.apply(add("oai"))), OpErrorKind::AlreadyExists);
        assert_eq!(err_kind(s.apply(add("a/b"))), OpErrorKind::Invalid);
        assert_eq!(err_kind(s.apply(add(""))), OpErrorKind::Invalid);
        assert_eq!(get_upstream(&s, "oai"), upstream("oai"));

        let mut changed = upstream("oai");
        changed.models = vec!["x".into(), "y".into()];
        changed.models_discovered = true;
        done(s.apply(Op::UpstreamUpdate {
            record: changed.clone(),
        }));
        assert_eq!(get_upstream(&s, "oai"), changed);
        assert_eq!(
            err_kind(s.apply(Op::UpstreamUpdate {
                record: upstream("ghost")
            })),
            OpErrorKind::NotFound
        );

        done(s.apply(Op::UpstreamSetEnabled {
            name: "oai".into(),
            enabled: false,
        }));
        assert!(!get_upstream(&s, "oai").enabled);
        let meta = OAuthMeta {
            account: Some("fake@example.com".into()),
            project: None,
            tier: None,
            expires_at: Some(5),
            last_refresh: None,
            state: OAuthState::Active,
            last_error: None,
            resource_url: None,
        };
        done(s.apply(Op::OAuthMetaSet {
            name: "oai".into(),
            meta: meta.clone(),
        }));
        assert_eq!(get_upstream(&s, "oai").oauth, Some(meta));

        match s.apply(Op::UpstreamList) {
            Reply::Upstreams { records } => {
                let names: Vec<_> = records.iter().map(|r| r.name.as_str()).collect();
                assert_eq!(names, ["b-second", "oai"]);
            }
            other => panic!("{other:?}"),
        }

        done(s.apply(Op::UpstreamRemove { name: "oai".into() }));
        assert_eq!(
            err_kind(s.apply(Op::UpstreamGet { name: "oai".into() })),
            OpErrorKind::NotFound
        );
        assert_eq!(
            err_kind(s.apply(Op::UpstreamRemove { name: "oai".into() })),
            OpErrorKind::NotFound
        );
        // Re-adding the name without a secret does not bring the old one back.
        done(s.apply(Op::UpstreamAdd {
            record: upstream("oai"),
            secret: None,
            base_url: None,
        }));
        match s.apply(Op::SecretGet { name: "oai".into() }) {
            Reply::Secret { secret } => assert!(secret.is_none()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err_kind(s.apply(Op::SecretSet {
                name: "ghost".into(),
                secret: Some(Secret::new("x"))
            })),
            OpErrorKind::NotFound
        );
    }

    #[test]
    fn key_life() {
        let (_d, s) = store();
        let k = key("laptop");
        done(s.apply(Op::KeyAdd { record: k.clone() }));
        assert_eq!(
            err_kind(s.apply(Op::KeyAdd { record: k.clone() })),
            OpErrorKind::AlreadyExists
        );
        let mut plain = key("bad");
        plain.hash = "lgw_notahash".into();
        assert_eq!(
            err_kind(s.apply(Op::KeyAdd { record: plain })),
            OpErrorKind::Invalid
        );
        match s.apply(Op::KeyGet {
            name: "laptop".into(),
        }) {
            Reply::Key { record } => assert_eq!(record, k),
            other => panic!("{other:?}"),
        }
        done(s.apply(Op::KeySetEnabled {
            name: "laptop".into(),
            enabled: false,
        }));
        done(s.apply(Op::KeyAdd { record: key("ci") }));
        done(s.apply(Op::KeyRevoke { name: "ci".into() }));
        match s.apply(Op::KeyList) {
            Reply::Keys { records } => {
                assert_eq!(records.len(), 2);
                assert!(records[0].revoked && records[0].name == "ci");
                assert!(!records[1].enabled && !records[1].revoked);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err_kind(s.apply(Op::KeyRevoke {
                name: "ghost".into()
            })),
            OpErrorKind::NotFound
        );
        assert_eq!(
            err_kind(s.apply(Op::KeyGet {
                name: "ghost".into()
            })),
            OpErrorKind::NotFound
        );
    }

    #[test]
    fn usage_adds_up() {
        let (_d, s) = store();
        let row = |up: &str, model: &str, n: u64| UsageRow {
            upstream: up.into(),
            model: model.into(),
            counters: UsageCounters {
                requests: n,
                input_tokens: 10 * n,
                ..Default::default()
            },
        };
        done(s.apply(Op::UsageAdd {
            rows: vec![row("oai", "gpt-4o", 1), row("qw", "qwen3/coder:x", 2)],
            keys_used: Vec::new(),
        }));
        done(s.apply(Op::UsageAdd {
            rows: vec![row("oai", "gpt-4o", 3)],
            keys_used: Vec::new(),
        }));
        match s.apply(Op::UsageList) {
            Reply::Usage { rows } => {
                assert_eq!(
                    rows,
                    vec![row("oai", "gpt-4o", 4), row("qw", "qwen3/coder:x", 2)]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_keeps_its_latest_use() {
        let (_d, s) = store();
        done(s.apply(Op::KeyAdd { record: key("ci") }));
        let used = |at| Op::UsageAdd {
            rows: Vec::new(),
            keys_used: vec![
                KeyUse {
                    name: "ci".into(),
                    at,
                },
                // Removed since: nothing to update, no error.
                KeyUse {
                    name: "gone".into(),
                    at,
                },
            ],
        };
        done(s.apply(used(200)));
        done(s.apply(used(100)));
        match s.apply(Op::KeyGet { name: "ci".into() }) {
            Reply::Key { record } => assert_eq!(record.last_used_at, Some(200)),
            other => panic!("{other:?}"),
        }
    }

    fn once(id: &str, inner: Op) -> Op {
        Op::Once {
            id: id.into(),
            inner: Box::new(inner),
        }
    }

    fn applied_ids(s: &Store) -> Vec<String> {
        let tx = s.inner.db.begin_read().unwrap();
        let t = tx.open_table(APPLIED).unwrap();
        t.iter()
            .unwrap()
            .map(|e| e.unwrap().0.value().to_owned())
            .collect()
    }

    #[test]
    fn a_change_sent_twice_is_applied_once() {
        let (_d, s) = store();
        let add = once("a1", Op::KeyAdd { record: key("ci") });
        done(s.apply(add.clone()));
        // The same op again (its reply was lost): done, and still one key.
        done(s.apply(add));
        match s.apply(Op::KeyList) {
            Reply::Keys { records } => assert_eq!(records.len(), 1),
            other => panic!("{other:?}"),
        }
        // Another op of the same content is not the same op.
        let other = once("a2", Op::KeyAdd { record: key("ci") });
        assert_eq!(err_kind(s.apply(other)), OpErrorKind::AlreadyExists);

        // A removal resent after it was committed reports what happened, not "no such name".
        done(s.apply(Op::UpstreamAdd {
            record: upstream("oai"),
            secret: None,
            base_url: None,
        }));
        let remove = once("r1", Op::UpstreamRemove { name: "oai".into() });
        done(s.apply(remove.clone()));
        done(s.apply(remove));
        // Resending did not apply it again: a new upstream of that name survives the resend.
        done(s.apply(Op::UpstreamAdd {
            record: upstream("oai"),
            secret: None,
            base_url: None,
        }));
        done(s.apply(once("r1", Op::UpstreamRemove { name: "oai".into() })));
        assert_eq!(get_upstream(&s, "oai"), upstream("oai"));
    }

    #[test]
    fn a_failed_change_leaves_no_id() {
        let (_d, s) = store();
        let remove = once("r1", Op::UpstreamRemove { name: "oai".into() });
        assert_eq!(err_kind(s.apply(remove.clone())), OpErrorKind::NotFound);
        assert!(applied_ids(&s).is_empty());
        done(s.apply(Op::UpstreamAdd {
            record: upstream("oai"),
            secret: None,
            base_url: None,
        }));
        done(s.apply(remove));
        assert_eq!(
            err_kind(s.apply(Op::UpstreamGet { name: "oai".into() })),
            OpErrorKind::NotFound
        );
        assert_eq!(applied_ids(&s), ["r1"]);
    }

    #[test]
    fn once_takes_only_changes() {
        let (_d, s) = store();
        for bad in [
            once("x", Op::KeyList),
            once("x", Op::Ping),
            once("x", once("y", Op::KeyRevoke { name: "k".into() })),
            once("", Op::KeyRevoke { name: "k".into() }),
            once(&"x".repeat(65), Op::KeyRevoke { name: "k".into() }),
        ] {
            assert_eq!(err_kind(s.apply(bad)), OpErrorKind::Invalid);
        }
        assert!(applied_ids(&s).is_empty());
    }

    #[test]
    fn old_ids_are_dropped() {
        let (_d, s) = store();
        {
            let tx = s.inner.db.begin_write().unwrap();
            {
                let mut t = tx.open_table(APPLIED).unwrap();
                t.insert("old", unix_now() - ONCE_KEPT_SECS - 10).unwrap();
                t.insert("recent", unix_now() - 60).unwrap();
            }
            tx.commit().unwrap();
        }
        done(s.apply(once("new", Op::KeyAdd { record: key("ci") })));
        let mut ids = applied_ids(&s);
        ids.sort();
        assert_eq!(ids, ["new", "recent"]);
    }

    #[test]
    fn ping_and_shutdown_locally() {
        let (_d, s) = store();
        match s.apply(Op::Ping) {
            Reply::Pong { listen, pid } => {
                assert!(listen.is_none());
                assert_eq!(pid, std::process::id());
            }
            other => panic!("{other:?}"),
        }
        match s.apply(Op::Shutdown) {
            Reply::Error { kind, message } => {
                assert_eq!(kind, OpErrorKind::Invalid);
                assert_eq!(message, "the server is not running");
            }
            other => panic!("{other:?}"),
        }
    }
}
