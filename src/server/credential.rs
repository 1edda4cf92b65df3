//! The credential an attempt sends, fetched at use time: an upstream's API key from the store
//! view, an OAuth access token from the refresher's `TokenSource`, or AWS credentials from their
//! chain (`server::bedrock`). [`RefreshOnce`] is the 401 loop every caller of an OAuth upstream
//! shares (chat calls in `pipeline`, token counts in `count`): a refused token is replaced once
//! and the call made again, never more.

use http::StatusCode;

use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::state::Snapshot;
use crate::oauth::OAuthError;
use crate::secret::Secret;
use crate::store::records::{AuthKind, OAuthMeta, UpstreamRecord};
use crate::upstream::adapter::Credential;

/// The credential an attempt uses, owned.
pub(crate) enum Cred {
    None,
    Key(Secret),
    OAuth {
        token: Secret,
        meta: OAuthMeta,
    },
    /// AWS Bedrock's, resolved from its chain at use time.
    Aws(crate::upstream::bedrock::credentials::Resolved),
}

impl Cred {
    pub(crate) fn as_credential(&self) -> Credential<'_> {
        match self {
            Cred::None => Credential::None,
            Cred::Key(k) => Credential::ApiKey(k),
            Cred::OAuth { token, meta } => Credential::OAuth { token, meta },
            Cred::Aws(r) => Credential::Aws(r),
        }
    }
}

/// The refresh-once loop around the calls to one upstream: [`credential`](Self::credential)
/// before each call, [`retry`](Self::retry) with each reply's status.
#[derive(Default)]
pub(crate) struct RefreshOnce {
    /// The token the upstream refused with a 401, once it did.
    refused: Option<Secret>,
}

impl RefreshOnce {
    /// The key or token for `up`: after a refusal, a token that replaces the refused one.
    pub async fn credential(
        &self,
        ctx: &Ctx,
        snap: &Snapshot,
        up: &UpstreamRecord,
    ) -> Result<Cred, GatewayError> {
        credential(ctx, snap, up, self.refused.as_ref()).await
    }

    /// Whether to call again: the upstream refused the refresher's token (a 401) for the first
    /// time. The token is then taken as refused, so the next credential replaces it.
    pub fn retry(&mut self, status: StatusCode, cred: &Cred) -> bool {
        if status != StatusCode::UNAUTHORIZED || self.refused.is_some() {
            return false;
        }
        let Cred::OAuth { token, .. } = cred else {
            return false;
        };
        self.refused = Some(token.clone());
        true
    }
}

/// The key or token for an upstream. OAuth tokens come from the refresher (after a 401, one
/// that replaces the `refused` token).
async fn credential(
    ctx: &Ctx,
    snap: &Snapshot,
    up: &UpstreamRecord,
    refused: Option<&Secret>,
) -> Result<Cred, GatewayError> {
    if crate::upstream::kinds::spec(up.provider).aws_credentials() {
        return Box::pin(crate::server::bedrock::credential(
            ctx.state.aws_env(),
            snap,
            up,
        ))
        .await;
    }
    match up.auth {
        AuthKind::None => Ok(Cred::None),
        AuthKind::ApiKey => Ok(snap
            .secrets
            .get(&up.name)
            .cloned()
            .map_or(Cred::None, Cred::Key)),
        AuthKind::Oauth => Box::pin(oauth_credential(ctx, up, refused)).await,
    }
}

/// [`credential`] of an OAuth upstream (boxed there: API-key requests need not carry its
/// future).
async fn oauth_credential(
    ctx: &Ctx,
    up: &UpstreamRecord,
    refused: Option<&Secret>,
) -> Result<Cred, GatewayError> {
    let Some(tokens) = ctx.state.tokens() else {
        return Err(GatewayError::new(
            ErrorKind::UpstreamUnreachable,
            format!(
                "OAuth upstream `{}` has no token source: the token refresher is not running",
                up.name
            ),
        ));
    };
    let token = match refused {
        Some(r) => tokens.replace_refused(&up.name, r).await,
        None => tokens.access_token(&up.name).await,
    }
    .map_err(oauth_error)?;
    let meta = tokens.meta(&up.name).await.map_err(oauth_error)?;
    Ok(Cred::OAuth { token, meta })
}

/// A token that cannot be had: a login is needed (401, with the command in the message), or the
/// refresh failed (502).
fn oauth_error(e: OAuthError) -> GatewayError {
    match e {
        OAuthError::NeedsLogin { .. } | OAuthError::NoToken { .. } => {
            GatewayError::new(ErrorKind::Authentication, e.to_string())
                .with_code("oauth_login_required")
        }
        other => GatewayError::new(ErrorKind::UpstreamUnreachable, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(token: &str) -> Cred {
        Cred::OAuth {
            token: Secret::new(token),
            meta: OAuthMeta {
                account: None,
                project: None,
                tier: None,
                expires_at: None,
                last_refresh: None,
                state: crate::store::records::OAuthState::Active,
                last_error: None,
                resource_url: None,
            },
        }
    }

    #[test]
    fn a_refused_token_is_replaced_once() {
        let mut refresh = RefreshOnce::default();
        assert!(!refresh.retry(StatusCode::OK, &oauth("t1")));
        assert!(!refresh.retry(StatusCode::FORBIDDEN, &oauth("t1")));
        assert!(refresh.retry(StatusCode::UNAUTHORIZED, &oauth("t1")));
        assert_eq!(refresh.refused.as_ref().map(Secret::expose), Some("t1"));
        // The replacement refused too: that 401 is the answer.
        assert!(!refresh.retry(StatusCode::UNAUTHORIZED, &oauth("t2")));
    }

    #[test]
    fn keys_are_not_refreshed() {
        let mut refresh = RefreshOnce::default();
        assert!(!refresh.retry(StatusCode::UNAUTHORIZED, &Cred::Key(Secret::new("sk-fake"))));
        assert!(!refresh.retry(StatusCode::UNAUTHORIZED, &Cred::None));
        assert!(refresh.refused.is_none());
    }
}
