//! [`TokenStore`]: where the OAuth code reads and writes upstream records, token secrets and
//! OAuth metadata. It is one method, `apply(Op)`, so the real implementations are thin:
//! `daemon::StoreHandle` (the CLI: admin socket or direct database) and [`BlockingStore`] (the
//! server, which owns the `Store`). [`MemoryStore`] implements the ops the OAuth code uses, for
//! tests. Typed helpers on `dyn TokenStore` turn replies into records and errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::OAuthError;
use crate::daemon::StoreHandle;
use crate::secret::Secret;
use crate::store::Store;
use crate::store::ops::{Op, OpErrorKind, Reply};
use crate::store::records::{OAuthMeta, UpstreamRecord};

pub trait TokenStore: Send + Sync {
    /// Applies one store operation.
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>>;
}

impl TokenStore for StoreHandle {
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>> {
        Box::pin(async move {
            StoreHandle::apply(self, op)
                .await
                .map_err(|e| OAuthError::Store(e.to_string()))
        })
    }
}

/// The server's own database: `Store::apply` blocks, so it runs on the blocking pool.
#[derive(Clone)]
pub struct BlockingStore(pub Arc<Store>);

impl TokenStore for BlockingStore {
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>> {
        let store = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.apply(op))
                .await
                .map_err(|e| OAuthError::Store(format!("store task failed: {e}")))
        })
    }
}

/// An in-memory store implementing the ops the OAuth code uses; it records every op applied
/// (secrets masked by their own Debug) so tests can count writes.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    upstreams: BTreeMap<String, UpstreamRecord>,
    secrets: BTreeMap<String, Secret>,
    log: Vec<String>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Names of the ops applied so far, in order (`"secret_set"`, ...).
    pub fn op_log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    pub fn record(&self, name: &str) -> Option<UpstreamRecord> {
        self.lock().upstreams.get(name).cloned()
    }

    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.lock().secrets.get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A poisoned lock only means a test thread panicked; the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply_now(&self, op: Op) -> Reply {
        let mut g = self.lock();
        let tag = serde_json::to_value(&op)
            .ok()
            .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
            .unwrap_or_default();
        g.log.push(tag);
        let not_found = |name: &str| Reply::Error {
            kind: OpErrorKind::NotFound,
            message: format!("no upstream named `{name}`"),
        };
        match op {
            Op::UpstreamAdd { record, secret, .. } => {
                if g.upstreams.contains_key(&record.name) {
                    return Reply::Error {
                        kind: OpErrorKind::AlreadyExists,
                        message: format!("an upstream named `{}` exists", record.name),
                    };
                }
                if let Some(s) = secret {
                    g.secrets.insert(record.name.clone(), s);
                }
                g.upstreams.insert(record.name.clone(), record);
                Reply::Done
            }
            Op::UpstreamUpdate { record } => match g.upstreams.get_mut(&record.name) {
                Some(r) => {
                    *r = record;
                    Reply::Done
                }
                None => not_found(&record.name),
            },
            Op::UpstreamGet { name } => match g.upstreams.get(&name) {
                Some(r) => Reply::Upstream { record: r.clone() },
                None => not_found(&name),
            },
            Op::UpstreamList => Reply::Upstreams {
                records: g.upstreams.values().cloned().collect(),
            },
            Op::UpstreamRemove { name } => {
                g.secrets.remove(&name);
                match g.upstreams.remove(&name) {
                    Some(_) => Reply::Done,
                    None => not_found(&name),
                }
            }
            Op::SecretGet { name } => {
                if !g.upstreams.contains_key(&name) {
                    return not_found(&name);
                }
                Reply::Secret {
                    secret: g.secrets.get(&name).cloned(),
                }
            }
            Op::SecretSet { name, secret } => {
                if !g.upstreams.contains_key(&name) {
                    return not_found(&name);
                }
                match secret {
                    Some(s) => g.secrets.insert(name, s),
                    None => g.secrets.remove(&name),
                };
                Reply::Done
            }
            Op::OAuthMetaSet { name, meta } => match g.upstreams.get_mut(&name) {
                Some(r) => {
                    r.oauth = Some(meta);
                    Reply::Done
                }
                None => not_found(&name),
            },
            other => Reply::Error {
                kind: OpErrorKind::Invalid,
                message: format!("MemoryStore does not implement {other:?}"),
            },
        }
    }
}

impl TokenStore for MemoryStore {
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>> {
        let reply = self.apply_now(op);
        Box::pin(async move { Ok(reply) })
    }
}

impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>> {
        (**self).apply(op)
    }
}

fn unexpected(reply: Reply) -> OAuthError {
    match reply {
        Reply::Error { message, .. } => OAuthError::Store(message),
        other => OAuthError::Store(format!("unexpected reply {other:?}")),
    }
}

/// Typed calls over any [`TokenStore`].
pub(crate) async fn get_upstream(
    store: &dyn TokenStore,
    name: &str,
) -> Result<Option<UpstreamRecord>, OAuthError> {
    match store.apply(Op::UpstreamGet { name: name.into() }).await? {
        Reply::Upstream { record } => Ok(Some(record)),
        Reply::Error {
            kind: OpErrorKind::NotFound,
            ..
        } => Ok(None),
        other => Err(unexpected(other)),
    }
}

pub(crate) async fn list_upstreams(
    store: &dyn TokenStore,
) -> Result<Vec<UpstreamRecord>, OAuthError> {
    match store.apply(Op::UpstreamList).await? {
        Reply::Upstreams { records } => Ok(records),
        other => Err(unexpected(other)),
    }
}

pub(crate) async fn get_secret(
    store: &dyn TokenStore,
    name: &str,
) -> Result<Option<Secret>, OAuthError> {
    match store.apply(Op::SecretGet { name: name.into() }).await? {
        Reply::Secret { secret } => Ok(secret),
        Reply::Error {
            kind: OpErrorKind::NotFound,
            ..
        } => Err(OAuthError::NotFound(name.into())),
        other => Err(unexpected(other)),
    }
}

pub(crate) async fn done(store: &dyn TokenStore, op: Op) -> Result<(), OAuthError> {
    match store.apply(op).await? {
        Reply::Done => Ok(()),
        other => Err(unexpected(other)),
    }
}

pub(crate) async fn set_secret(
    store: &dyn TokenStore,
    name: &str,
    secret: Option<Secret>,
) -> Result<(), OAuthError> {
    done(
        store,
        Op::SecretSet {
            name: name.into(),
            secret,
        },
    )
    .await
}

pub(crate) async fn set_meta(
    store: &dyn TokenStore,
    name: &str,
    meta: OAuthMeta,
) -> Result<(), OAuthError> {
    done(
        store,
        Op::OAuthMetaSet {
            name: name.into(),
            meta,
        },
    )
    .await
}
