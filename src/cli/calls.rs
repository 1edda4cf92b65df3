//! Typed store calls over a [`StoreHandle`]: one function per [`Op`] the CLI sends, each turning
//! the [`Reply`] into the value it expects and a store refusal into a [`UserError`] with the next
//! step (`no upstream named x` -> `llm-gateway upstream list`).

use anyhow::anyhow;

use super::{UserError, output};
use crate::config::live::ConfigState;
use crate::daemon::{DaemonError, Resent, StoreHandle};
use crate::routing::health::HealthReport;
use crate::secret::Secret;
use crate::store::ops::{Op, OpErrorKind, OverheadSummary, Reply};
use crate::store::records::{ApiKeyRecord, UpstreamRecord, UsageRow};

/// Which kind of record an op is about, for error wording.
#[derive(Clone, Copy)]
enum Noun {
    Upstream,
    Key,
}

impl Noun {
    fn word(self) -> &'static str {
        match self {
            Noun::Upstream => "upstream",
            Noun::Key => "API key",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Noun::Upstream => "upstream",
            Noun::Key => "apikey",
        }
    }
}

/// Sends `op` and returns the reply; a [`Reply::Error`] becomes an error worded for `name`.
async fn call(h: &StoreHandle, op: Op, about: Option<(Noun, &str)>) -> anyhow::Result<Reply> {
    call_change(h, op, about).await.map_err(|e| match e {
        Failed::Unconfirmed(u) => u.into(),
        Failed::Other(e) => e,
    })
}

/// How a call failed: [`Failed::Unconfirmed`] when the outcome of a change is unknown.
enum Failed {
    Unconfirmed(UserError),
    Other(anyhow::Error),
}

/// [`call`], keeping apart a change whose outcome is unknown. A change the server took but did
/// not answer was sent again (see `daemon`): said on stderr when the store confirmed it.
async fn call_change(
    h: &StoreHandle,
    op: Op,
    about: Option<(Noun, &str)>,
) -> Result<Reply, Failed> {
    let applied = match h.apply_change(op).await {
        Ok(applied) => applied,
        Err(e @ DaemonError::Unconfirmed { .. }) => {
            let look = match about {
                Some((noun, _)) => format!("llm-gateway {} list", noun.command()),
                None => "llm-gateway status".into(),
            };
            return Err(Failed::Unconfirmed(
                UserError::new(e.to_string())
                    .hint(format!("see what the store holds with `{look}`")),
            ));
        }
        Err(e) => return Err(Failed::Other(e.into())),
    };
    let reply = applied.reply;
    let confirmed = !matches!(reply, Reply::Error { .. });
    match applied.resent {
        Some(Resent::Server) if confirmed => output::warn(
            "the connection to the server dropped before it answered; a server answers again \
             and the store confirms the change",
        ),
        Some(Resent::Store) if confirmed => output::warn(
            "the server stopped answering and no longer runs; the store confirms the change \
             (start the server again with `llm-gateway server start --detach`)",
        ),
        _ => {}
    }
    let Reply::Error { kind, message } = reply else {
        return Ok(reply);
    };
    let err = match (kind, about) {
        (OpErrorKind::NotFound, Some((noun, name))) => {
            UserError::new(format!("no {} named `{name}`", noun.word())).hint(format!(
                "see the names with `llm-gateway {} list`",
                noun.command()
            ))
        }
        (OpErrorKind::AlreadyExists, Some((noun, name))) => {
            UserError::new(format!("an {} named `{name}` already exists", noun.word()))
                .hint("pick another name, or remove the old one first")
        }
        (OpErrorKind::Invalid, _) => UserError::usage(message),
        _ => UserError::new(format!("the store failed: {message}")),
    };
    Err(Failed::Other(err.into()))
}

fn unexpected(reply: &Reply) -> anyhow::Error {
    let what = match reply {
        Reply::Done => "done",
        Reply::Upstream { .. } => "upstream",
        Reply::Upstreams { .. } => "upstreams",
        Reply::Key { .. } => "key",
        Reply::Keys { .. } => "keys",
        Reply::Secret { .. } => "secret",
        Reply::Usage { .. } => "usage",
        Reply::Pong { .. } => "pong",
        Reply::Health { .. } => "health",
        Reply::Config { .. } => "config",
        Reply::Error { .. } => "error",
    };
    anyhow!("unexpected `{what}` reply from the store (is the server a different version?)")
}

async fn done(h: &StoreHandle, op: Op, about: Option<(Noun, &str)>) -> anyhow::Result<()> {
    match call(h, op, about).await? {
        Reply::Done => Ok(()),
        other => Err(unexpected(&other)),
    }
}

/// Adds `record` with its API key and, when its base URL holds a credential, that whole URL.
pub async fn upstream_add(
    h: &StoreHandle,
    record: UpstreamRecord,
    secret: Option<Secret>,
    base_url: Option<Secret>,
) -> anyhow::Result<()> {
    let name = record.name.clone();
    let about = Some((Noun::Upstream, name.as_str()));
    let op = Op::UpstreamAdd {
        record,
        secret,
        base_url,
    };
    done(h, op, about).await
}

/// The whole base URL of an upstream whose record holds it redacted (`None` for the others).
pub async fn base_url_get(h: &StoreHandle, name: &str) -> anyhow::Result<Option<Secret>> {
    let op = Op::BaseUrlGet { name: name.into() };
    match call(h, op, Some((Noun::Upstream, name))).await? {
        Reply::Secret { secret } => Ok(secret),
        other => Err(unexpected(&other)),
    }
}

pub async fn upstream_get(h: &StoreHandle, name: &str) -> anyhow::Result<UpstreamRecord> {
    let op = Op::UpstreamGet { name: name.into() };
    match call(h, op, Some((Noun::Upstream, name))).await? {
        Reply::Upstream { record } => Ok(record),
        other => Err(unexpected(&other)),
    }
}

pub async fn upstream_list(h: &StoreHandle) -> anyhow::Result<Vec<UpstreamRecord>> {
    match call(h, Op::UpstreamList, None).await? {
        Reply::Upstreams { records } => Ok(records),
        other => Err(unexpected(&other)),
    }
}

pub async fn upstream_remove(h: &StoreHandle, name: &str) -> anyhow::Result<()> {
    let op = Op::UpstreamRemove { name: name.into() };
    done(h, op, Some((Noun::Upstream, name))).await
}

pub async fn upstream_set_enabled(
    h: &StoreHandle,
    name: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let op = Op::UpstreamSetEnabled {
        name: name.into(),
        enabled,
    };
    done(h, op, Some((Noun::Upstream, name))).await
}

pub async fn secret_get(h: &StoreHandle, name: &str) -> anyhow::Result<Option<Secret>> {
    let op = Op::SecretGet { name: name.into() };
    match call(h, op, Some((Noun::Upstream, name))).await? {
        Reply::Secret { secret } => Ok(secret),
        other => Err(unexpected(&other)),
    }
}

/// Whether `apikey add` took.
pub enum KeyAdded {
    Yes,
    /// The server took the key and stopped answering, and the store could not be asked
    /// afterwards: the key may work. The error says so; the caller still shows the key, since
    /// a key that may be stored must never be one nobody can see.
    Unconfirmed(anyhow::Error),
}

pub async fn key_add(h: &StoreHandle, record: ApiKeyRecord) -> anyhow::Result<KeyAdded> {
    let name = record.name.clone();
    match call_change(h, Op::KeyAdd { record }, Some((Noun::Key, name.as_str()))).await {
        Ok(Reply::Done) => Ok(KeyAdded::Yes),
        Ok(other) => Err(unexpected(&other)),
        Err(Failed::Unconfirmed(u)) => Ok(KeyAdded::Unconfirmed(u.into())),
        Err(Failed::Other(e)) => Err(e),
    }
}

pub async fn key_get(h: &StoreHandle, name: &str) -> anyhow::Result<ApiKeyRecord> {
    let op = Op::KeyGet { name: name.into() };
    match call(h, op, Some((Noun::Key, name))).await? {
        Reply::Key { record } => Ok(record),
        other => Err(unexpected(&other)),
    }
}

pub async fn key_list(h: &StoreHandle) -> anyhow::Result<Vec<ApiKeyRecord>> {
    match call(h, Op::KeyList, None).await? {
        Reply::Keys { records } => Ok(records),
        other => Err(unexpected(&other)),
    }
}

pub async fn key_revoke(h: &StoreHandle, name: &str) -> anyhow::Result<()> {
    let op = Op::KeyRevoke { name: name.into() };
    done(h, op, Some((Noun::Key, name))).await
}

pub async fn key_set_enabled(h: &StoreHandle, name: &str, enabled: bool) -> anyhow::Result<()> {
    let op = Op::KeySetEnabled {
        name: name.into(),
        enabled,
    };
    done(h, op, Some((Noun::Key, name))).await
}

/// The plaintext kept under `name` for the CLI's own use (the launcher's key), if any.
pub async fn kept_key_get(h: &StoreHandle, name: &str) -> anyhow::Result<Option<Secret>> {
    match call(h, Op::KeptKeyGet { name: name.into() }, None).await? {
        Reply::Secret { secret } => Ok(secret),
        other => Err(unexpected(&other)),
    }
}

pub async fn kept_key_set(
    h: &StoreHandle,
    name: &str,
    secret: Option<Secret>,
) -> anyhow::Result<()> {
    let op = Op::KeptKeySet {
        name: name.into(),
        secret,
    };
    done(h, op, None).await
}

pub async fn usage_list(h: &StoreHandle) -> anyhow::Result<Vec<UsageRow>> {
    match call(h, Op::UsageList, None).await? {
        Reply::Usage { rows } => Ok(rows),
        other => Err(unexpected(&other)),
    }
}

/// Every upstream's health from the running server; `None` when no server runs (or it is an
/// older one that cannot say): health is then unknown.
pub async fn health(h: &StoreHandle) -> Option<Vec<HealthReport>> {
    server_health(h).await.map(|(upstreams, _)| upstreams)
}

/// [`health`], and the gateway's own time per request since the server started.
pub async fn server_health(
    h: &StoreHandle,
) -> Option<(Vec<HealthReport>, Option<OverheadSummary>)> {
    if !h.is_remote() {
        return None;
    }
    match h.apply(Op::Health).await {
        Ok(Reply::Health {
            upstreams,
            overhead,
        }) => Some((upstreams, overhead)),
        _ => None,
    }
}

/// Asks the running server to look at `config.toml` now and say whether the file on disk is in
/// force; `None` when no server runs (or it is an older one that cannot say).
pub async fn config_reload(h: &StoreHandle) -> Option<ConfigState> {
    if !h.is_remote() {
        return None;
    }
    match h.apply(Op::ConfigReload).await {
        Ok(Reply::Config { state }) => Some(state),
        _ => None,
    }
}

/// `server stop`: asks the running server to drain and exit.
pub async fn shutdown(h: &StoreHandle) -> anyhow::Result<()> {
    done(h, Op::Shutdown, None).await
}
