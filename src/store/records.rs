//! The records kept in `gateway.redb`. They travel as JSON over the admin socket too, so they
//! derive serde; none of them holds a secret (secrets live in [`super::secrets`]).

use serde::{Deserialize, Serialize};

use crate::config::ProviderKind;

/// Seconds since the Unix epoch.
pub type UnixTime = u64;

pub const DEFAULT_PRIORITY: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// An API key in the secret store, under the upstream's name.
    ApiKey,
    /// OAuth tokens in the secret store, with metadata in [`OAuthMeta`].
    Oauth,
    /// No credential (a local Ollama or vLLM).
    None,
}

/// The API an OpenAI-family upstream is called through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wire {
    /// `chat/completions`.
    Chat,
    /// `responses`.
    Responses,
}

impl Wire {
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Chat => "chat",
            Wire::Responses => "responses",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamRecord {
    pub name: String,
    pub provider: ProviderKind,
    /// `None`: the provider's (possibly overridden) default API endpoint. Shown to users, so it
    /// never holds a secret when [`Self::base_url_secret`] is set: the URL is then redacted here
    /// (`https://***@relay/v1`) and kept whole in the secret store. Records from before that
    /// are moved there when the store opens (schema 2); every view redacts anyway.
    pub base_url: Option<String>,
    /// The whole base URL, with its userinfo or secret query values, is in the secret store
    /// (entry `NAME/base-url`); the server puts it back in place when it loads the store.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base_url_secret: bool,
    pub models: Vec<String>,
    /// The models came from the upstream's model list rather than `--models`.
    pub models_discovered: bool,
    /// Lower is tried first.
    pub priority: u32,
    pub enabled: bool,
    pub auth: AuthKind,
    /// A provider preset such as Qwen's `intl`, `cn` or `us`.
    pub region: Option<String>,
    /// Azure OpenAI's legacy form: with an API version, calls go to
    /// `/openai/deployments/{deployment}/...?api-version=V`; without, to the v1 endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The wire an OpenAI-compatible (or Azure) upstream speaks: `None` is Chat Completions,
    /// the default; `Some(Wire::Responses)` the Responses API (`upstream add --wire responses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<Wire>,
    /// Bedrock's `--profile`: the AWS profile whose credentials are read at use time (never
    /// the credentials themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub created_at: UnixTime,
    pub oauth: Option<OAuthMeta>,
}

#[cfg(test)]
impl UpstreamRecord {
    /// An enabled API-key upstream with no models and default priority, for unit tests to
    /// adjust with struct-update syntax.
    pub(crate) fn sample(name: &str, provider: ProviderKind) -> UpstreamRecord {
        UpstreamRecord {
            name: name.into(),
            provider,
            base_url: None,
            base_url_secret: false,
            models: Vec::new(),
            models_discovered: false,
            priority: DEFAULT_PRIORITY,
            enabled: true,
            auth: AuthKind::ApiKey,
            region: None,
            api_version: None,
            wire: None,
            profile: None,
            created_at: 0,
            oauth: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OAuthState {
    Active,
    /// The refresh token is dead: the user must log in again.
    NeedsLogin,
    /// Refreshing failed for a reason that may pass; retried with backoff.
    RefreshFailing,
    LoggedOut,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthMeta {
    pub account: Option<String>,
    pub project: Option<String>,
    pub tier: Option<String>,
    /// Access token expiry.
    pub expires_at: Option<UnixTime>,
    pub last_refresh: Option<UnixTime>,
    pub state: OAuthState,
    /// The last refresh error, worded for the user (never a token).
    pub last_error: Option<String>,
    /// Qwen: the API base derived from the token's `resource_url`.
    pub resource_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub name: String,
    /// The first characters of the key, for display (`lgw_ab12cd`).
    pub prefix: String,
    /// Hex SHA-256 of the whole key; the key itself is never stored.
    pub hash: String,
    /// Requests per minute; `None` is unlimited.
    pub rpm: Option<u32>,
    /// Model names or `*` globs the key may use; empty allows all.
    pub models: Vec<String>,
    pub enabled: bool,
    pub revoked: bool,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

/// Counters per (upstream, model), added to by the usage flusher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageCounters {
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Sum of request latencies, to show an average.
    pub latency_ms_total: u64,
}

impl UsageCounters {
    pub fn add(&mut self, other: &UsageCounters) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.latency_ms_total += other.latency_ms_total;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub upstream: String,
    pub model: String,
    pub counters: UsageCounters,
}

/// When a gateway key was last presented and accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUse {
    pub name: String,
    pub at: UnixTime,
}
