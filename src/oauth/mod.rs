//! OAuth upstreams: the terminal logins (Gemini CLI's "Login with Google" for Code Assist, and
//! Qwen's device-code login), import of the credential files those CLIs write, and the token
//! refresher the server runs in the background.
//!
//! Where it touches the rest:
//! * the CLI (`cli/oauth.rs`) calls [`commands`]: `login_gemini_cli`, `login_qwen`, `import`,
//!   `status`, `refresh`, `logout`, passing a [`TokenStore`] (the `daemon::StoreHandle`) and a
//!   [`console::Console`] for messages and pasted input;
//! * the server starts [`refresher::spawn`] and hands its [`refresher::TokenSource`] to the
//!   gemini-cli and qwen upstream clients (their wire facts, Code Assist's URLs, headers and
//!   envelope and Qwen's API base, live in `crate::upstream`, which this folder may use);
//! * everything persists through store [`crate::store::ops::Op`]s behind [`TokenStore`], so the
//!   flows are tested against an in-memory store and fake servers on 127.0.0.1.
//!
//! Both logins are opt-in: Qwen ended its free OAuth tier on 2026-04-15, and since 2026-06-18
//! Google serves Gemini CLI logins only to Code Assist Standard/Enterprise seats (other accounts
//! get `UNSUPPORTED_CLIENT`). So every flow opens with a notice of the provider's terms, and
//! every provider refusal becomes an error that names the next step (README, "OAuth logins").

pub mod commands;
pub mod console;
pub mod google;
pub mod import;
pub mod loopback;
pub mod qwen;
pub mod refresher;
pub mod setup;
pub mod token_store;
pub mod tokens;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use token_store::{MemoryStore, TokenStore};
pub use tokens::TokenSet;

use crate::config::{Config, Endpoint, ProviderKind};
use crate::store::records::UnixTime;

/// What went wrong in a login, an import or a refresh. Messages are for the user: they say what
/// the provider answered and what to do next, and never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("login cancelled")]
    Cancelled,
    #[error("timed out after {secs} s waiting for {what}; run the login again")]
    Timeout { what: &'static str, secs: u64 },
    #[error("the provider refused the authorization: {error}{}", fmt_desc(.description))]
    Denied {
        error: String,
        description: Option<String>,
    },
    #[error("{what} failed: {message}")]
    Http { what: &'static str, message: String },
    /// Google's Code Assist answered that this account cannot use this client or tier.
    #[error(
        "Google Code Assist refused this account: {message}{}\n\
         hint: this login works only with a Gemini Code Assist Standard or Enterprise licence; \
         log in with such an account and pass its Google Cloud project with --project, or use a \
         Gemini API key instead: llm-gateway upstream add NAME --provider gemini --api-key-stdin",
        fmt_code(.code)
    )]
    Ineligible {
        code: Option<String>,
        message: String,
    },
    #[error(
        "Google asks you to verify this account first: {message}\n\
         hint: open {url} in a browser, finish the verification, then run the login again"
    )]
    ValidationRequired { message: String, url: String },
    #[error(
        "this account needs a Google Cloud project for Code Assist\n\
         hint: pass --project PROJECT_ID (or set GOOGLE_CLOUD_PROJECT) with a project that has a \
         Code Assist Standard/Enterprise licence, or use a Gemini API key: llm-gateway upstream \
         add NAME --provider gemini --api-key-stdin"
    )]
    ProjectRequired,
    #[error(
        "the device code expired before the login was approved; run `llm-gateway oauth login qwen` again"
    )]
    DeviceExpired,
    #[error("the login was denied in the browser{}", fmt_desc(.description))]
    DeviceDenied { description: Option<String> },
    #[error(
        "the refresh token of `{name}` no longer works ({reason})\n\
         hint: run llm-gateway oauth login {provider} --name {name}"
    )]
    NeedsLogin {
        name: String,
        provider: ProviderKind,
        reason: String,
    },
    #[error("refreshing the token of `{name}` failed: {message}")]
    Refresh { name: String, message: String },
    #[error("no upstream named `{0}`")]
    NotFound(String),
    #[error("`{name}` is not an OAuth upstream of a supported provider{}", fmt_kind(.provider))]
    NotOAuth {
        name: String,
        provider: Option<ProviderKind>,
    },
    #[error("`{name}` has no token{}\nhint: run llm-gateway oauth login {provider} --name {name}", if *.logged_out { " (logged out)" } else { "" })]
    NoToken {
        name: String,
        provider: ProviderKind,
        logged_out: bool,
    },
    #[error("the name `{name}` is taken by a {provider} upstream; pick another with --name")]
    NameTaken {
        name: String,
        provider: ProviderKind,
    },
    #[error("cannot import {path}: {message}")]
    Import { path: String, message: String },
    #[error("{0} has no endpoint configured")]
    NoEndpoint(String),
    #[error("store: {0}")]
    Store(String),
    #[error("{0}")]
    Io(String),
}

fn fmt_desc(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn fmt_code(c: &Option<String>) -> String {
    c.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default()
}

fn fmt_kind(k: &Option<ProviderKind>) -> String {
    k.map(|k| format!(" (provider {k})")).unwrap_or_default()
}

impl OAuthError {
    /// Whether the user must log in again (nothing a retry can fix).
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            OAuthError::NeedsLogin { .. } | OAuthError::NoToken { .. }
        )
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 (UTC, seconds) for status output.
pub fn rfc3339(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

/// The endpoint, or an error naming it.
pub(crate) fn endpoint(
    config: &Config,
    kind: ProviderKind,
    ep: Endpoint,
) -> Result<String, OAuthError> {
    crate::config::endpoints::resolve(config, kind, ep)
        .ok_or_else(|| OAuthError::NoEndpoint(format!("{kind} {}", ep.as_str())))
}

/// The HTTP client for OAuth and Code Assist calls: no redirects (an OAuth endpoint that
/// redirects is misconfigured, and following it could leak a code), `[proxy] url` when set
/// (reqwest honours `HTTPS_PROXY` by itself), a bounded timeout.
pub fn http_client(config: &Config) -> Result<reqwest::Client, OAuthError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(config.timeouts.connect_secs.max(1)))
        .timeout(Duration::from_secs(60));
    if !config.proxy.url.trim().is_empty() {
        let mut proxy = reqwest::Proxy::all(config.proxy.url.trim())
            .map_err(|e| OAuthError::Io(format!("invalid [proxy] url: {e}")))?;
        if !config.proxy.no_proxy.trim().is_empty() {
            proxy = proxy.no_proxy(reqwest::NoProxy::from_string(&config.proxy.no_proxy));
        }
        b = b.proxy(proxy);
    }
    b.build()
        .map_err(|e| OAuthError::Io(format!("cannot build the HTTP client: {e}")))
}

/// A short, token-free description of a transport error.
/// Sends `req` and reads the whole answer: its status and body, or the transport failure worded
/// for the user (`what` says which step failed).
pub(crate) async fn send_and_read(
    req: reqwest::RequestBuilder,
    what: &'static str,
) -> Result<(u16, bytes::Bytes), OAuthError> {
    let resp = req.send().await.map_err(|e| OAuthError::Http {
        what,
        message: transport(e),
    })?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| OAuthError::Http {
        what,
        message: transport(e),
    })?;
    Ok((status, body))
}

pub(crate) fn transport(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect ({e})")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn errors_name_next_steps() {
        let e = OAuthError::Ineligible {
            code: Some("UNSUPPORTED_CLIENT".into()),
            message: "This client is no longer supported".into(),
        };
        let s = e.to_string();
        assert!(s.contains("UNSUPPORTED_CLIENT") && s.contains("--provider gemini"));
        assert!(s.contains("--project"));
    }
}
