//! Google's side of the Gemini CLI login: the installed-app client gemini-cli uses (public by
//! design), the authorization URLs of the loopback and manual (PKCE) flows, the code exchange
//! (through the `oauth2` crate), the account e-mail and token revocation.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse as _, TokenUrl,
};
use serde::Deserialize;

use super::tokens::TokenSet;
use super::{OAuthError, endpoint, now, transport};
use crate::config::{Config, Endpoint, ProviderKind};
use crate::secret::Secret;

pub const CLIENT_ID: &str =
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
/// An installed-app secret: Google documents these as not secret.
pub const CLIENT_SECRET: &str = "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";
pub const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];
/// The manual flow's redirect: Google's page that shows the code to copy.
pub const MANUAL_REDIRECT: &str = "https://codeassist.google.com/authcode";

const KIND: ProviderKind = ProviderKind::GeminiCli;

/// One authorization attempt: the URL to open and what the exchange needs afterwards.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub redirect_uri: String,
    pub pkce_verifier: Option<PkceCodeVerifier>,
}

fn client(
    config: &Config,
    redirect_uri: &str,
) -> Result<
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>,
    OAuthError,
> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        OAuthError::Io(format!("invalid gemini-cli {what} URL: {e}"))
    };
    let auth = AuthUrl::new(endpoint(config, KIND, Endpoint::Auth)?).map_err(|e| bad("auth", e))?;
    let token =
        TokenUrl::new(endpoint(config, KIND, Endpoint::Token)?).map_err(|e| bad("token", e))?;
    let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| bad("redirect", e))?;
    Ok(BasicClient::new(ClientId::new(CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.into()))
        // gemini-cli (google-auth-library) sends the client in the form body.
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_redirect_uri(redirect))
}

/// The authorization URL: offline access and forced consent (so Google issues a refresh token
/// every time), a random state, and PKCE S256 for the manual flow.
pub fn authorize(
    config: &Config,
    redirect_uri: &str,
    state: Option<String>,
    pkce: bool,
) -> Result<Authorization, OAuthError> {
    let c = client(config, redirect_uri)?;
    let state = state.unwrap_or_else(|| CsrfToken::new_random().secret().clone());
    let st = state.clone();
    let mut req = c
        .authorize_url(move || CsrfToken::new(st))
        .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).into())))
        .add_extra_param("access_type", "offline")
        .add_extra_param("prompt", "consent");
    let mut verifier = None;
    if pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        req = req.set_pkce_challenge(challenge);
        verifier = Some(v);
    }
    let (url, _) = req.url();
    Ok(Authorization {
        url: url.to_string(),
        state,
        redirect_uri: redirect_uri.to_string(),
        pkce_verifier: verifier,
    })
}

/// A random `state` for the loopback flow (the callback server must know it before the URL).
pub fn new_state() -> String {
    CsrfToken::new_random().secret().clone()
}

/// Exchanges the authorization code at the token endpoint.
pub async fn exchange(
    http: &reqwest::Client,
    config: &Config,
    auth: Authorization,
    code: &str,
) -> Result<TokenSet, OAuthError> {
    let c = client(config, &auth.redirect_uri)?;
    let mut req = c.exchange_code(AuthorizationCode::new(code.trim().to_string()));
    if let Some(v) = auth.pkce_verifier {
        req = req.set_pkce_verifier(v);
    }
    let resp = req.request_async(http).await.map_err(|e| {
        let message = match &e {
            RequestTokenError::ServerResponse(r) => {
                let mut m = r.error().to_string();
                if let Some(d) = r.error_description() {
                    m.push_str(&format!(" ({d})"));
                }
                m
            }
            RequestTokenError::Request(inner) => {
                format!("cannot reach the token endpoint: {inner}")
            }
            RequestTokenError::Parse(_, _) => "unexpected answer from the token endpoint".into(),
            RequestTokenError::Other(o) => o.clone(),
        };
        OAuthError::Http {
            what: "exchanging the authorization code",
            message,
        }
    })?;
    Ok(TokenSet {
        access_token: Secret::new(resp.access_token().secret().clone()),
        refresh_token: resp
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone())),
        expiry: resp.expires_in().map(|d| now().saturating_add(d.as_secs())),
        token_type: "Bearer".into(),
        scope: resp
            .scopes()
            .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
    })
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    email: Option<String>,
    #[serde(flatten)]
    _extra: serde_json::Map<String, serde_json::Value>,
}

/// The account's e-mail address (for `oauth status`).
pub async fn fetch_email(
    http: &reqwest::Client,
    config: &Config,
    access_token: &Secret,
) -> Result<Option<String>, OAuthError> {
    let url = endpoint(config, KIND, Endpoint::Userinfo)?;
    let what = "fetching the account e-mail";
    let resp = http
        .get(&url)
        .bearer_auth(access_token.expose())
        .send()
        .await
        .map_err(|e| OAuthError::Http {
            what,
            message: transport(e),
        })?;
    if !resp.status().is_success() {
        return Err(OAuthError::Http {
            what,
            message: format!("HTTP {}", resp.status().as_u16()),
        });
    }
    let info: UserInfo = resp.json().await.map_err(|_| OAuthError::Http {
        what,
        message: "unexpected answer".into(),
    })?;
    Ok(info.email)
}

/// Revokes a token at Google (the refresh token revokes the whole grant).
pub async fn revoke(
    http: &reqwest::Client,
    config: &Config,
    token: &Secret,
) -> Result<(), OAuthError> {
    let url = endpoint(config, KIND, Endpoint::Revoke)?;
    let what = "revoking the token";
    let resp = http
        .post(&url)
        .form(&[("token", token.expose())])
        .send()
        .await
        .map_err(|e| OAuthError::Http {
            what,
            message: transport(e),
        })?;
    let status = resp.status().as_u16();
    // 400 invalid_token: already revoked or expired, which is what logout wants anyway.
    if resp.status().is_success() || status == 400 {
        Ok(())
    } else {
        Err(OAuthError::Http {
            what,
            message: format!("HTTP {status}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_url_carries_the_login_parameters() {
        let c = Config::default();
        let a = authorize(
            &c,
            "http://127.0.0.1:5/oauth2callback",
            Some("st".into()),
            false,
        )
        .unwrap();
        let u = url::Url::parse(&a.url).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["state"], "st");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5/oauth2callback");
        assert!(q["scope"].contains("cloud-platform"));
        assert!(!q.contains_key("code_challenge"));
        let m = authorize(&c, MANUAL_REDIRECT, None, true).unwrap();
        let u = url::Url::parse(&m.url).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(m.pkce_verifier.is_some());
    }
}
