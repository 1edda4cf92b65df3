//! The token set kept as an OAuth upstream's secret (a small JSON document), and the token
//! endpoint calls shared by both providers: refresh, and the parsing of token answers and
//! OAuth error bodies.
//!
//! Refresh is a plain form POST rather than the `oauth2` crate's request: the refresher must tell
//! a dead refresh token (`invalid_grant`, HTTP 400/401) from a passing failure by status code, and
//! Qwen's answer carries `resource_url`, which `oauth2` would drop.

use serde::{Deserialize, Serialize};

use super::{OAuthError, now, transport};
use crate::config::{Config, Endpoint, ProviderKind};
use crate::secret::Secret;
use crate::store::records::UnixTime;

/// The secret of an OAuth upstream. Debug masks the tokens; [`TokenSet::to_secret`] is the only
/// way out as plain text, into the secret store.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Access-token expiry, seconds since the epoch.
    pub expiry: Option<UnixTime>,
    pub token_type: String,
    pub scope: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenJson {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry: Option<UnixTime>,
    #[serde(default = "bearer")]
    token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl TokenSet {
    /// The JSON stored as the upstream's secret.
    pub fn to_secret(&self) -> Secret {
        let json = TokenJson {
            access_token: self.access_token.expose().to_string(),
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_string()),
            expiry: self.expiry,
            token_type: self.token_type.clone(),
            scope: self.scope.clone(),
            extra: serde_json::Map::new(),
        };
        // Serializing a struct of strings and numbers cannot fail.
        Secret::new(serde_json::to_string(&json).unwrap_or_default())
    }

    pub fn from_secret(secret: &Secret) -> Result<TokenSet, OAuthError> {
        let json: TokenJson = serde_json::from_str(secret.expose()).map_err(|e| {
            // serde's message can quote the input; keep only where it broke.
            OAuthError::Store(format!(
                "the stored OAuth token is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if json.access_token.is_empty() {
            return Err(OAuthError::Store("the stored OAuth token is empty".into()));
        }
        Ok(TokenSet {
            access_token: Secret::new(json.access_token),
            refresh_token: json
                .refresh_token
                .filter(|r| !r.is_empty())
                .map(Secret::new),
            expiry: json.expiry,
            token_type: json.token_type,
            scope: json.scope,
        })
    }

    /// Seconds left before expiry (0 when expired; `None` when unknown).
    pub fn remaining(&self, at: UnixTime) -> Option<u64> {
        self.expiry.map(|e| e.saturating_sub(at))
    }

    /// Builds the set from a token answer; `previous` supplies the refresh token when the answer
    /// has none (Google never returns one on refresh).
    pub fn from_response(resp: &TokenResponse, previous: Option<&Secret>) -> TokenSet {
        TokenSet {
            access_token: Secret::new(resp.access_token.clone()),
            refresh_token: resp
                .refresh_token
                .clone()
                .filter(|r| !r.is_empty())
                .map(Secret::new)
                .or_else(|| previous.cloned()),
            expiry: resp.expires_in.map(|s| now().saturating_add(s)),
            token_type: resp.token_type.clone().unwrap_or_else(bearer),
            scope: resp.scope.clone(),
        }
    }
}

/// A successful token endpoint answer (code exchange, device poll, refresh).
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Qwen: the host of the API these tokens are for.
    #[serde(default)]
    pub resource_url: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An OAuth error body (`{"error": "...", "error_description": "..."}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ErrorBody {
    /// Parses an error body; a body that is not an OAuth error gives an empty one (its text is
    /// never echoed: it could carry anything).
    pub fn parse(body: &[u8]) -> ErrorBody {
        serde_json::from_slice::<ErrorBody>(body).unwrap_or_default()
    }

    /// `invalid_grant (Token has been expired or revoked.)`, or `HTTP 503`.
    pub fn describe(&self, status: u16) -> String {
        match (&self.error, &self.error_description) {
            (Some(e), Some(d)) => format!("{e} ({d})"),
            (Some(e), None) => e.clone(),
            (None, Some(d)) => format!("HTTP {status}: {d}"),
            (None, None) => format!("HTTP {status}"),
        }
    }
}

/// Why a refresh failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The refresh token is dead (`invalid_grant`, HTTP 400/401): only a new login helps.
    Dead(String),
    /// Anything that may pass: network, 5xx, 429, a malformed answer.
    Transient(String),
}

impl RefreshFailure {
    pub fn message(&self) -> &str {
        match self {
            RefreshFailure::Dead(m) | RefreshFailure::Transient(m) => m,
        }
    }
}

/// The public client of each provider's login.
pub(crate) fn client_fields(kind: ProviderKind) -> Vec<(&'static str, &'static str)> {
    match kind {
        ProviderKind::GeminiCli => vec![
            ("client_id", super::google::CLIENT_ID),
            ("client_secret", super::google::CLIENT_SECRET),
        ],
        _ => vec![("client_id", super::qwen::CLIENT_ID)],
    }
}

/// Exchanges a refresh token for a new access token at the provider's token endpoint.
/// The answer's refresh token replaces the old one only when present.
pub async fn refresh(
    http: &reqwest::Client,
    config: &Config,
    kind: ProviderKind,
    current: &TokenSet,
) -> Result<(TokenSet, TokenResponse), RefreshFailure> {
    let Some(refresh_token) = current.refresh_token.as_ref() else {
        return Err(RefreshFailure::Dead("no refresh token was stored".into()));
    };
    let url = crate::config::endpoints::resolve(config, kind, Endpoint::Token)
        .ok_or_else(|| RefreshFailure::Transient(format!("{kind} has no token endpoint")))?;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    form.extend(client_fields(kind));
    let resp = http
        .post(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| RefreshFailure::Transient(transport(e)))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| RefreshFailure::Transient(transport(e)))?;
    if status == 200 {
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            RefreshFailure::Transient("the token endpoint answered with an unexpected body".into())
        })?;
        if parsed.access_token.is_empty() {
            return Err(RefreshFailure::Transient(
                "the token endpoint answered without an access token".into(),
            ));
        }
        return Ok((
            TokenSet::from_response(&parsed, Some(refresh_token)),
            parsed,
        ));
    }
    let err = ErrorBody::parse(&body);
    let what = err.describe(status);
    let dead = err.error.as_deref() == Some("invalid_grant") || matches!(status, 400 | 401);
    if dead {
        Err(RefreshFailure::Dead(what))
    } else {
        Err(RefreshFailure::Transient(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trip_and_masking() {
        let t = TokenSet {
            access_token: Secret::new("ya29.fake-access"),
            refresh_token: Some(Secret::new("1//fake-refresh")),
            expiry: Some(1_900_000_000),
            token_type: "Bearer".into(),
            scope: Some("a b".into()),
        };
        let s = t.to_secret();
        assert!(s.expose().contains("ya29.fake-access"));
        assert_eq!(TokenSet::from_secret(&s).unwrap(), t);
        assert!(!format!("{t:?}").contains("fake"));
    }

    #[test]
    fn keeps_old_refresh_token() {
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"new","expires_in":60}"#).unwrap();
        let t = TokenSet::from_response(&r, Some(&Secret::new("old-rt")));
        assert_eq!(t.refresh_token.unwrap().expose(), "old-rt");
        assert_eq!(t.token_type, "Bearer");
        assert!(t.expiry.unwrap() >= now() + 59);
    }

    #[test]
    fn bad_secret_does_not_echo() {
        let e = TokenSet::from_secret(&Secret::new("{\"access_token\": ya29.leak")).unwrap_err();
        assert!(!e.to_string().contains("leak"));
    }
}
