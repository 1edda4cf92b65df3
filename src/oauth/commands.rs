//! The entry points behind `llm-gateway oauth ...`: login (gemini-cli, qwen), import, status,
//! refresh and logout. Each takes a [`TokenStore`] (the CLI passes its `daemon::StoreHandle`),
//! the config (for endpoints and proxy) and, where it talks to the user, a [`Console`]. The CLI
//! renders the returned values; nothing here prints a token.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::console::Console;
use super::import::{self, ImportedCreds};
use super::loopback::{Callback, CallbackServer, classify_pasted};
use super::refresher::refresh_persist;
use super::setup::{self, SetupOptions};
use super::token_store::{self as ts, TokenStore};
use super::tokens::TokenSet;
use super::{OAuthError, google, http_client, now, qwen, rfc3339};
use crate::config::{Config, ProviderKind, env};
use crate::store::ops::Op;
use crate::store::records::{
    AuthKind, DEFAULT_PRIORITY, OAuthMeta, OAuthState, UnixTime, UpstreamRecord,
};
use crate::upstream::code_assist;

const GEMINI_NOTICE: &str = "\
Note: this signs in with Google the way Gemini CLI does and uses your account's Gemini Code \
Assist entitlement outside Gemini CLI. Google's terms for that login apply to how you use it; \
read them before you go on. Since 2026-06-18 Google serves this login only to Gemini Code Assist \
Standard/Enterprise licences: individual (free, Google AI Pro/Ultra) accounts are refused. \
A Gemini API key (`llm-gateway upstream add NAME --provider gemini`) is the supported path.";

const QWEN_NOTICE: &str = "\
Note: Qwen ended its free OAuth tier on 2026-04-15; tokens from this login work only for \
accounts that still have access, and Qwen's terms for Qwen Code apply to using them here. \
An API key (`llm-gateway upstream add NAME --provider qwen`) is the supported path.";

/// Options of `oauth login`. The defaults are the real ones; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The upstream's name; `gemini-cli` or `qwen` by default.
    pub name: Option<String>,
    pub no_browser: bool,
    /// gemini-cli: the copy-the-code flow (PKCE, redirect to Google's code page).
    pub manual: bool,
    /// gemini-cli: the Code Assist project (else `GOOGLE_CLOUD_PROJECT`).
    pub project: Option<String>,
    /// Skips the confirmation after the notice.
    pub yes: bool,
    /// How long the browser login may take.
    pub timeout: Duration,
    /// gemini-cli: between polls of the onboarding operation.
    pub onboard_poll: Duration,
    /// qwen: the first device-code poll interval.
    pub device_poll: Duration,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            name: None,
            no_browser: false,
            manual: false,
            project: None,
            yes: false,
            timeout: Duration::from_secs(300),
            onboard_poll: Duration::from_secs(5),
            device_poll: Duration::from_secs(2),
        }
    }
}

/// What a login or import saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoginOutcome {
    pub name: String,
    pub provider: ProviderKind,
    pub account: Option<String>,
    pub project: Option<String>,
    pub tier: Option<String>,
    pub expires_at: Option<UnixTime>,
    /// An existing upstream of that name was updated rather than created.
    pub updated: bool,
    /// A problem that did not stop the save (e.g. Code Assist setup failed on import).
    pub warning: Option<String>,
}

/// One row of `oauth status`. Never carries a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRow {
    pub name: String,
    pub provider: ProviderKind,
    pub account: Option<String>,
    pub project: Option<String>,
    pub tier: Option<String>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// RFC 3339.
    pub last_refresh: Option<String>,
    pub state: OAuthState,
    pub last_error: Option<String>,
}

impl StatusRow {
    pub fn from_record(r: &UpstreamRecord) -> StatusRow {
        let m = r
            .oauth
            .clone()
            .unwrap_or_else(|| empty_meta(OAuthState::LoggedOut));
        StatusRow {
            name: r.name.clone(),
            provider: r.provider,
            account: m.account,
            project: m.project,
            tier: m.tier,
            expires_at: m.expires_at.map(rfc3339),
            last_refresh: m.last_refresh.map(rfc3339),
            state: m.state,
            last_error: m.last_error,
        }
    }
}

fn empty_meta(state: OAuthState) -> OAuthMeta {
    OAuthMeta {
        account: None,
        project: None,
        tier: None,
        expires_at: None,
        last_refresh: None,
        state,
        last_error: None,
        resource_url: None,
    }
}

fn notice_and_confirm(console: &Console, notice: &str, yes: bool) -> Result<(), OAuthError> {
    console.say(notice);
    if yes {
        return Ok(());
    }
    match console.confirm("Continue with this login?") {
        Some(false) => Err(OAuthError::Cancelled),
        // Some(true), or stdin is not a terminal: the notice was shown, go on.
        _ => Ok(()),
    }
}

/// Refuses a name taken by another kind of upstream (before the user goes through a login).
async fn check_name(
    store: &dyn TokenStore,
    name: &str,
    kind: ProviderKind,
) -> Result<(), OAuthError> {
    match ts::get_upstream(store, name).await? {
        Some(r) if r.provider != kind || r.auth != AuthKind::Oauth => Err(OAuthError::NameTaken {
            name: name.into(),
            provider: r.provider,
        }),
        _ => Ok(()),
    }
}

fn is_oauth_kind(kind: ProviderKind) -> bool {
    matches!(kind, ProviderKind::GeminiCli | ProviderKind::Qwen)
}

fn default_models(kind: ProviderKind) -> Vec<String> {
    match kind {
        ProviderKind::GeminiCli => code_assist::MODELS.iter().map(|m| m.to_string()).collect(),
        _ => qwen::MODELS.iter().map(|m| m.to_string()).collect(),
    }
}

/// Creates the upstream, or updates the OAuth upstream of that name (a re-login).
async fn save(
    store: &dyn TokenStore,
    name: &str,
    kind: ProviderKind,
    tokens: &TokenSet,
    meta: OAuthMeta,
) -> Result<bool, OAuthError> {
    match ts::get_upstream(store, name).await? {
        Some(mut r) => {
            if r.provider != kind {
                return Err(OAuthError::NameTaken {
                    name: name.into(),
                    provider: r.provider,
                });
            }
            ts::set_secret(store, name, Some(tokens.to_secret())).await?;
            r.auth = AuthKind::Oauth;
            r.oauth = Some(meta);
            if r.models.is_empty() {
                r.models = default_models(kind);
            }
            ts::done(store, Op::UpstreamUpdate { record: r }).await?;
            Ok(true)
        }
        None => {
            let record = UpstreamRecord {
                name: name.into(),
                provider: kind,
                base_url: None,
                base_url_secret: false,
                models: default_models(kind),
                models_discovered: false,
                priority: DEFAULT_PRIORITY,
                enabled: true,
                auth: AuthKind::Oauth,
                region: None,
                api_version: None,
                wire: None,
                profile: None,
                created_at: now(),
                oauth: Some(meta),
            };
            ts::done(
                store,
                Op::UpstreamAdd {
                    record,
                    secret: Some(tokens.to_secret()),
                    base_url: None,
                },
            )
            .await?;
            Ok(false)
        }
    }
}

fn setup_options(opts: &LoginOptions) -> SetupOptions {
    SetupOptions {
        project: opts
            .project
            .clone()
            .or_else(|| std::env::var(env::GOOGLE_CLOUD_PROJECT).ok())
            .filter(|p| !p.trim().is_empty()),
        poll_interval: opts.onboard_poll,
        ..SetupOptions::default()
    }
}

/// `oauth login gemini-cli`: notice, browser (or manual) login, code exchange, account e-mail,
/// Code Assist setup, then the upstream is saved (created, or updated on a re-login).
pub async fn login_gemini_cli(
    store: &dyn TokenStore,
    config: &Config,
    console: &mut Console,
    opts: LoginOptions,
) -> Result<LoginOutcome, OAuthError> {
    let kind = ProviderKind::GeminiCli;
    let name = opts.name.clone().unwrap_or_else(|| kind.as_str().into());
    check_name(store, &name, kind).await?;
    notice_and_confirm(console, GEMINI_NOTICE, opts.yes)?;
    let http = http_client(config)?;

    let tokens = if opts.manual {
        manual_flow(&http, config, console, &opts).await?
    } else {
        loopback_flow(&http, config, console, &opts).await?
    };
    if tokens.refresh_token.is_none() {
        console.say("warning: Google returned no refresh token; this login lasts until the access token expires");
    }

    let account = match google::fetch_email(&http, config, &tokens.access_token).await {
        Ok(a) => a,
        Err(e) => {
            console.say(&format!("note: could not read the account e-mail: {e}"));
            None
        }
    };
    let spinner = console.spinner("Setting up Gemini Code Assist...");
    let user = setup::setup_user(&http, config, &tokens.access_token, &setup_options(&opts)).await;
    drop(spinner);
    let user = user?;

    let meta = OAuthMeta {
        account: account.clone(),
        project: Some(user.project.clone()),
        tier: Some(user.tier.clone()),
        expires_at: tokens.expiry,
        last_refresh: Some(now()),
        state: OAuthState::Active,
        last_error: None,
        resource_url: None,
    };
    let updated = save(store, &name, kind, &tokens, meta).await?;
    Ok(LoginOutcome {
        name,
        provider: kind,
        account,
        project: Some(user.project),
        tier: Some(user.tier),
        expires_at: tokens.expiry,
        updated,
        warning: None,
    })
}

fn open_browser(console: &Console, url: &str, no_browser: bool) {
    if !no_browser && open::that_detached(url).is_err() {
        console.say("(could not open a browser; open the address above yourself)");
    }
}

async fn loopback_flow(
    http: &reqwest::Client,
    config: &Config,
    console: &mut Console,
    opts: &LoginOptions,
) -> Result<TokenSet, OAuthError> {
    let state = google::new_state();
    let mut server = CallbackServer::start(state.clone())
        .await
        .map_err(|e| OAuthError::Io(format!("cannot listen on 127.0.0.1 for the login: {e}")))?;
    let auth = google::authorize(config, &server.redirect_uri(), Some(state.clone()), false)?;
    console.say(&format!(
        "Open this address in a browser to sign in with Google:\n\n  {}\n\n\
         If the browser runs on another machine, paste here the address it ends up on \
         (http://127.0.0.1:.../oauth2callback?...).",
        auth.url
    ));
    open_browser(console, &auth.url, opts.no_browser);
    let deadline = tokio::time::sleep(opts.timeout);
    tokio::pin!(deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let code = loop {
        let cb = tokio::select! {
            cb = server.next() => match cb {
                Some(cb) => cb,
                None => return Err(OAuthError::Io("the login callback server stopped".into())),
            },
            line = console.next_line_or_pending() => classify_pasted(&line, &state),
            _ = &mut deadline => return Err(OAuthError::Timeout {
                what: "the browser login",
                secs: opts.timeout.as_secs(),
            }),
            _ = &mut ctrl_c => return Err(OAuthError::Cancelled),
        };
        match cb {
            Callback::Code(c) => break c,
            Callback::Error { error, description } => {
                return Err(OAuthError::Denied { error, description });
            }
            Callback::Refused(why) => {
                console.say(&format!("Not accepted: {why}. Still waiting..."))
            }
        }
    };
    drop(server);
    google::exchange(http, config, auth, &code).await
}

async fn manual_flow(
    http: &reqwest::Client,
    config: &Config,
    console: &mut Console,
    opts: &LoginOptions,
) -> Result<TokenSet, OAuthError> {
    let auth = google::authorize(config, google::MANUAL_REDIRECT, None, true)?;
    console.say(&format!(
        "Open this address in a browser, sign in, and copy the authorization code it shows:\n\n  {}\n",
        auth.url
    ));
    open_browser(console, &auth.url, opts.no_browser);
    console.say("Enter the authorization code:");
    let deadline = tokio::time::sleep(opts.timeout);
    tokio::pin!(deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let code = loop {
        let line = tokio::select! {
            line = console.next_line() => match line {
                Some(l) => l,
                None => return Err(OAuthError::Io(
                    "no authorization code: input closed (run the login in a terminal)".into(),
                )),
            },
            _ = &mut deadline => return Err(OAuthError::Timeout {
                what: "the authorization code",
                secs: opts.timeout.as_secs(),
            }),
            _ = &mut ctrl_c => return Err(OAuthError::Cancelled),
        };
        // Accept the code alone, or a pasted URL carrying it.
        let code = match url::Url::parse(&line) {
            Ok(u) => u
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned()),
            Err(_) => Some(line),
        };
        match code.filter(|c| !c.is_empty()) {
            Some(c) => break c,
            None => console.say("That holds no code; paste the authorization code:"),
        }
    };
    google::exchange(http, config, auth, &code).await
}

/// `oauth login qwen`: notice, device-code login, then the upstream is saved.
pub async fn login_qwen(
    store: &dyn TokenStore,
    config: &Config,
    console: &mut Console,
    opts: LoginOptions,
) -> Result<LoginOutcome, OAuthError> {
    let kind = ProviderKind::Qwen;
    let name = opts.name.clone().unwrap_or_else(|| kind.as_str().into());
    check_name(store, &name, kind).await?;
    notice_and_confirm(console, QWEN_NOTICE, opts.yes)?;
    let http = http_client(config)?;
    let device = qwen::DeviceOptions {
        interval: opts.device_poll,
        no_browser: opts.no_browser,
    };
    let (tokens, resource) = qwen::device_login(&http, config, console, &device).await?;
    save_qwen(store, &name, &tokens, resource.as_deref()).await
}

async fn save_qwen(
    store: &dyn TokenStore,
    name: &str,
    tokens: &TokenSet,
    resource_url: Option<&str>,
) -> Result<LoginOutcome, OAuthError> {
    let kind = ProviderKind::Qwen;
    let meta = OAuthMeta {
        expires_at: tokens.expiry,
        last_refresh: Some(now()),
        resource_url: resource_url.and_then(crate::upstream::kinds::qwen::normalize_resource_url),
        ..empty_meta(OAuthState::Active)
    };
    let updated = save(store, name, kind, tokens, meta).await?;
    Ok(LoginOutcome {
        name: name.into(),
        provider: kind,
        account: None,
        project: None,
        tier: None,
        expires_at: tokens.expiry,
        updated,
        warning: None,
    })
}

/// `oauth import PROVIDER [--file PATH] [--name NAME]`: reuses Gemini CLI's or Qwen Code's
/// saved credentials. A Gemini import also asks Code Assist for the project; when that fails
/// the upstream is saved without one and the outcome's `warning` says why.
pub async fn import(
    store: &dyn TokenStore,
    config: &Config,
    console: &mut Console,
    provider: ProviderKind,
    file: Option<PathBuf>,
    name: Option<String>,
) -> Result<LoginOutcome, OAuthError> {
    if !is_oauth_kind(provider) {
        return Err(OAuthError::NotOAuth {
            name: name.unwrap_or_default(),
            provider: Some(provider),
        });
    }
    let name = name.unwrap_or_else(|| provider.as_str().into());
    let path = file
        .or_else(|| import::default_path(provider))
        .ok_or_else(|| OAuthError::Io("cannot find your home directory; pass --file".into()))?;
    check_name(store, &name, provider).await?;
    let ImportedCreds {
        mut tokens,
        resource_url,
    } = import::read_creds(provider, &path)?;
    let http = http_client(config)?;

    // An expired access token is refreshed first: Code Assist setup needs a live one.
    if tokens.remaining(now()).is_some_and(|r| r < 60) {
        match super::tokens::refresh(&http, config, provider, &tokens).await {
            Ok((fresh, _)) => tokens = fresh,
            Err(super::tokens::RefreshFailure::Dead(why)) => {
                return Err(OAuthError::Import {
                    path: path.display().to_string(),
                    message: format!(
                        "its refresh token no longer works ({why}); run `llm-gateway oauth login {provider}`"
                    ),
                });
            }
            Err(super::tokens::RefreshFailure::Transient(why)) => {
                console.say(&format!("note: the access token is expired and refreshing failed ({why}); the server will retry"));
            }
        }
    }

    if provider == ProviderKind::Qwen {
        return save_qwen(store, &name, &tokens, resource_url.as_deref()).await;
    }

    let account = google::fetch_email(&http, config, &tokens.access_token)
        .await
        .ok()
        .flatten();
    let opts = SetupOptions {
        project: std::env::var(env::GOOGLE_CLOUD_PROJECT)
            .ok()
            .filter(|p| !p.trim().is_empty()),
        ..SetupOptions::default()
    };
    let (project, tier, warning) =
        match setup::setup_user(&http, config, &tokens.access_token, &opts).await {
            Ok(u) => (Some(u.project), Some(u.tier), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
    if let Some(w) = &warning {
        console.say(&format!(
            "warning: saved without a Code Assist project: {w}"
        ));
    }
    let meta = OAuthMeta {
        account: account.clone(),
        project: project.clone(),
        tier: tier.clone(),
        expires_at: tokens.expiry,
        last_refresh: Some(now()),
        state: OAuthState::Active,
        last_error: warning.clone(),
        resource_url: None,
    };
    let updated = save(store, &name, provider, &tokens, meta).await?;
    Ok(LoginOutcome {
        name,
        provider,
        account,
        project,
        tier,
        expires_at: tokens.expiry,
        updated,
        warning,
    })
}

/// The OAuth upstream `name` with its metadata and tokens (if any).
async fn load(
    store: &dyn TokenStore,
    name: &str,
) -> Result<(UpstreamRecord, OAuthMeta, Option<TokenSet>), OAuthError> {
    let r = ts::get_upstream(store, name)
        .await?
        .ok_or_else(|| OAuthError::NotFound(name.into()))?;
    if r.auth != AuthKind::Oauth || !is_oauth_kind(r.provider) {
        return Err(OAuthError::NotOAuth {
            name: name.into(),
            provider: Some(r.provider),
        });
    }
    let meta = r
        .oauth
        .clone()
        .unwrap_or_else(|| empty_meta(OAuthState::LoggedOut));
    let tokens = match ts::get_secret(store, name).await? {
        Some(s) => Some(TokenSet::from_secret(&s)?),
        None => None,
    };
    Ok((r, meta, tokens))
}

/// `oauth status [NAME]`: every OAuth upstream, or the one named.
pub async fn status(
    store: &dyn TokenStore,
    name: Option<&str>,
) -> Result<Vec<StatusRow>, OAuthError> {
    match name {
        Some(n) => {
            let (r, _, _) = load(store, n).await?;
            Ok(vec![StatusRow::from_record(&r)])
        }
        None => Ok(ts::list_upstreams(store)
            .await?
            .iter()
            .filter(|r| r.auth == AuthKind::Oauth && is_oauth_kind(r.provider))
            .map(StatusRow::from_record)
            .collect()),
    }
}

/// `oauth refresh NAME`: refreshes now and persists the result (or the failure state).
pub async fn refresh(
    store: &dyn TokenStore,
    config: &Config,
    name: &str,
) -> Result<StatusRow, OAuthError> {
    let (r, meta, tokens) = load(store, name).await?;
    let tokens = tokens.ok_or_else(|| OAuthError::NoToken {
        name: name.into(),
        provider: r.provider,
        logged_out: meta.state == OAuthState::LoggedOut,
    })?;
    let http = http_client(config)?;
    refresh_persist(store, &http, config, name, r.provider, &tokens, meta).await?;
    let (r, _, _) = load(store, name).await?;
    Ok(StatusRow::from_record(&r))
}

/// What logout did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogoutOutcome {
    pub name: String,
    /// The provider revoked the grant (Google); Qwen has no revocation endpoint.
    pub revoked: bool,
    /// Why revocation did not happen, when it was tried and failed.
    pub warning: Option<String>,
}

/// `oauth logout NAME`: revokes where the provider supports it, deletes the tokens, and marks
/// the upstream logged out (the upstream itself stays; `upstream remove` deletes it).
pub async fn logout(
    store: &dyn TokenStore,
    config: &Config,
    name: &str,
) -> Result<LogoutOutcome, OAuthError> {
    let (r, mut meta, tokens) = load(store, name).await?;
    let mut revoked = false;
    let mut warning = None;
    if let (ProviderKind::GeminiCli, Some(t)) = (r.provider, &tokens) {
        let token = t.refresh_token.as_ref().unwrap_or(&t.access_token);
        let http = http_client(config)?;
        match google::revoke(&http, config, token).await {
            Ok(()) => revoked = true,
            Err(e) => warning = Some(e.to_string()),
        }
    }
    ts::set_secret(store, name, None).await?;
    meta.state = OAuthState::LoggedOut;
    meta.expires_at = None;
    meta.last_error = None;
    ts::set_meta(store, name, meta).await?;
    Ok(LogoutOutcome {
        name: name.into(),
        revoked,
        warning,
    })
}
