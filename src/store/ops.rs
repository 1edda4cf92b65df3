//! The one enum of store operations. The CLI sends them over the admin socket while the server
//! runs and applies them to the database directly when it does not; both paths end in
//! `Store::apply`, so behaviour is identical. Ops and replies are JSON lines on the socket.

use serde::{Deserialize, Serialize};

use super::records::{ApiKeyRecord, KeyUse, OAuthMeta, UpstreamRecord, UsageRow};
use crate::config::live::ConfigState;
use crate::routing::health::HealthReport;
use crate::secret::{Secret, exposed};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Fails if the name is taken.
    UpstreamAdd {
        record: UpstreamRecord,
        #[serde(with = "exposed", default)]
        secret: Option<Secret>,
        /// The whole base URL when it holds a credential (`record.base_url_secret`).
        #[serde(with = "exposed", default)]
        base_url: Option<Secret>,
    },
    /// Replaces an existing record (model list refresh, OAuth metadata, ...).
    UpstreamUpdate {
        record: UpstreamRecord,
    },
    UpstreamGet {
        name: String,
    },
    UpstreamList,
    /// Removes the record and its secrets.
    UpstreamRemove {
        name: String,
    },
    UpstreamSetEnabled {
        name: String,
        enabled: bool,
    },
    /// The upstream's secret (API key, or OAuth token JSON), for `upstream test` and OAuth.
    SecretGet {
        name: String,
    },
    /// The whole base URL of an upstream whose record holds it redacted
    /// (`base_url_secret`), as a [`Reply::Secret`].
    BaseUrlGet {
        name: String,
    },
    SecretSet {
        name: String,
        #[serde(with = "exposed", default)]
        secret: Option<Secret>,
    },
    OAuthMetaSet {
        name: String,
        meta: OAuthMeta,
    },
    /// Fails if the name is taken. The record holds only the hash.
    KeyAdd {
        record: ApiKeyRecord,
    },
    KeyGet {
        name: String,
    },
    KeyList,
    KeyRevoke {
        name: String,
    },
    KeySetEnabled {
        name: String,
        enabled: bool,
    },
    /// The plaintext of a gateway key the CLI keeps for its own use under `name` (`launcher`:
    /// the key `launch` hands to clients), as a [`Reply::Secret`].
    KeptKeyGet {
        name: String,
    },
    /// Keeps (or, with `None`, forgets) such a plaintext, in the secret store.
    KeptKeySet {
        name: String,
        #[serde(with = "exposed", default)]
        secret: Option<Secret>,
    },
    UsageAdd {
        rows: Vec<UsageRow>,
        /// Keys' last use, each kept when later than the stored one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keys_used: Vec<KeyUse>,
    },
    UsageList,
    /// Whether the answering side is the running server (and where it listens).
    Ping,
    /// Every upstream's health (breaker, cooldowns, needs-login) as the running server sees
    /// it; an error when applied to the database directly (no server, no health).
    Health,
    /// Asks the running server to drain and exit (`server stop`); answered by the admin
    /// socket, an error when applied to the database directly.
    Shutdown,
    /// Applies the change `inner` at most once: `id` is committed with it, and a second `Once`
    /// with that id replies `Done` without applying anything. The CLI sends every change this
    /// way, so when the server goes away between commit and reply it can send the same op
    /// again (to the restarted server, or to the database itself) and learn what happened
    /// instead of failing a change that was made or making it twice.
    Once {
        id: String,
        inner: Box<Op>,
    },
    /// Asks the running server to look at `config.toml` now (putting a changed file in force)
    /// and say whether the file on disk is in force; an error when applied to the database.
    ConfigReload,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Done,
    Upstream {
        record: UpstreamRecord,
    },
    Upstreams {
        records: Vec<UpstreamRecord>,
    },
    Key {
        record: ApiKeyRecord,
    },
    Keys {
        records: Vec<ApiKeyRecord>,
    },
    Secret {
        #[serde(with = "exposed", default)]
        secret: Option<Secret>,
    },
    Usage {
        rows: Vec<UsageRow>,
    },
    Pong {
        listen: Option<String>,
        pid: u32,
    },
    Health {
        upstreams: Vec<HealthReport>,
        /// The gateway's own time per request since the server started (absent before the
        /// first request, and from servers older than the field).
        #[serde(default)]
        overhead: Option<OverheadSummary>,
    },
    Config {
        state: ConfigState,
    },
    /// The op failed; `kind` lets the CLI choose an exit code and hint.
    Error {
        kind: OpErrorKind,
        message: String,
    },
}

/// The running server's own time per request (`llm_gateway_overhead_seconds`), for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverheadSummary {
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpErrorKind {
    NotFound,
    AlreadyExists,
    Invalid,
    Internal,
}

impl Op {
    /// Ops that change what the running server routes, authorizes or refreshes: after one of
    /// them the server reloads its in-memory view. Every one of them replies `Done` when it
    /// succeeds (a repeated [`Op::Once`] relies on it).
    pub fn mutates(&self) -> bool {
        if let Op::Once { inner, .. } = self {
            return inner.mutates();
        }
        !matches!(
            self,
            Op::UpstreamGet { .. }
                | Op::UpstreamList
                | Op::SecretGet { .. }
                | Op::BaseUrlGet { .. }
                | Op::KeyGet { .. }
                | Op::KeyList
                | Op::KeptKeyGet { .. }
                | Op::UsageList
                | Op::Ping
                | Op::Health
                | Op::Shutdown
                | Op::ConfigReload
        )
    }
}
