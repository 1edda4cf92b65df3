//! The token refresher the server runs, and the [`TokenSource`] the gemini-cli and qwen
//! upstream clients ask for an access token on every request.
//!
//! Each token is scheduled by its own expiry: it is refreshed when five minutes or half its
//! lifetime remain, whichever is shorter, never twice within `min_spacing`. One refresh per
//! token is in flight at a time: the scheduler, an inline refresh of an expired token and a
//! refresh-on-401 share it. A new token is persisted (`SecretSet`, then `OAuthMetaSet`) and the
//! old refresh token kept when none is returned. A dead refresh token (`invalid_grant`, HTTP
//! 400/401) marks the upstream `needs-login` and stops retries; other failures back off
//! (1 min doubling to 5 min by default) with the state `refresh-failing`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::token_store::{self as ts, TokenStore};
use super::tokens::{self, RefreshFailure, TokenSet};
use super::{OAuthError, http_client, now};
use crate::config::{Config, ProviderKind};
use crate::secret::Secret;
use crate::store::records::{AuthKind, OAuthMeta, OAuthState, UnixTime};

/// Timing of the refresher (tests shrink it).
#[derive(Debug, Clone)]
pub struct RefreshSettings {
    /// Refresh when this much (or half the lifetime, if shorter) remains.
    pub lead: Duration,
    /// Never two refresh attempts of one token closer than this.
    pub min_spacing: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// [`TokenSource::access_token`] refreshes inline when this close to expiry.
    pub inline_skew: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            lead: Duration::from_secs(300),
            min_spacing: Duration::from_secs(5),
            backoff_initial: Duration::from_secs(60),
            backoff_max: Duration::from_secs(300),
            inline_skew: Duration::from_secs(30),
        }
    }
}

/// Refreshes `tokens` of upstream `name` and persists the outcome: the new token and metadata
/// on success; `needs-login` or `refresh-failing` with the reason on failure.
pub(crate) async fn refresh_persist(
    store: &dyn TokenStore,
    http: &reqwest::Client,
    config: &Config,
    name: &str,
    kind: ProviderKind,
    tokens: &TokenSet,
    mut meta: OAuthMeta,
) -> Result<(TokenSet, OAuthMeta), OAuthError> {
    match tokens::refresh(http, config, kind, tokens).await {
        Ok((fresh, resp)) => {
            meta.expires_at = fresh.expiry;
            meta.last_refresh = Some(now());
            meta.state = OAuthState::Active;
            meta.last_error = None;
            if let Some(r) = resp
                .resource_url
                .as_deref()
                .and_then(crate::upstream::kinds::qwen::normalize_resource_url)
            {
                meta.resource_url = Some(r);
            }
            ts::set_secret(store, name, Some(fresh.to_secret())).await?;
            ts::set_meta(store, name, meta.clone()).await?;
            Ok((fresh, meta))
        }
        Err(failure) => {
            let dead = matches!(failure, RefreshFailure::Dead(_));
            meta.state = if dead {
                OAuthState::NeedsLogin
            } else {
                OAuthState::RefreshFailing
            };
            meta.last_error = Some(failure.message().to_string());
            if let Err(e) = ts::set_meta(store, name, meta).await {
                tracing::warn!(upstream = name, error = %e, "cannot record the refresh failure");
            }
            Err(if dead {
                OAuthError::NeedsLogin {
                    name: name.into(),
                    provider: kind,
                    reason: failure.message().into(),
                }
            } else {
                OAuthError::Refresh {
                    name: name.into(),
                    message: failure.message().into(),
                }
            })
        }
    }
}

struct Shared {
    store: Arc<dyn TokenStore>,
    config: Config,
    http: reqwest::Client,
    settings: RefreshSettings,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    wake: Notify,
}

struct Entry {
    name: String,
    kind: ProviderKind,
    /// Held across a refresh: one in flight per token.
    refresh_lock: tokio::sync::Mutex<()>,
    state: Mutex<EntryState>,
}

struct EntryState {
    tokens: Option<TokenSet>,
    meta: OAuthMeta,
    /// When the current access token was obtained, to know its lifetime.
    obtained_at: UnixTime,
    /// Bumped on every new token, so waiters can tell a refresh happened meanwhile.
    generation: u64,
    last_attempt: Option<Instant>,
    last_failure: Option<OAuthError>,
    failures: u32,
    retry_at: Option<Instant>,
    dead: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn instant_at(t: UnixTime) -> Instant {
    let n = now();
    if t <= n {
        Instant::now()
    } else {
        Instant::now() + Duration::from_secs(t - n)
    }
}

impl EntryState {
    fn new(tokens: Option<TokenSet>, meta: OAuthMeta) -> EntryState {
        let t = now();
        let obtained_at = match (meta.last_refresh, tokens.as_ref().and_then(|x| x.expiry)) {
            (Some(l), Some(e)) if l <= e && l <= t => l,
            _ => t,
        };
        EntryState {
            dead: meta.state == OAuthState::NeedsLogin,
            tokens,
            meta,
            obtained_at,
            generation: 0,
            last_attempt: None,
            last_failure: None,
            failures: 0,
            retry_at: None,
        }
    }

    /// When the scheduler should refresh this token, if ever.
    fn due(&self, s: &RefreshSettings) -> Option<Instant> {
        if self.dead {
            return None;
        }
        let t = self.tokens.as_ref()?;
        t.refresh_token.as_ref()?;
        let expiry = t.expiry?;
        let at = match self.retry_at {
            Some(r) => r,
            None => {
                let lifetime = expiry.saturating_sub(self.obtained_at);
                let lead = s.lead.as_secs().min(lifetime / 2);
                instant_at(expiry.saturating_sub(lead))
            }
        };
        Some(match self.last_attempt {
            Some(last) => at.max(last + s.min_spacing),
            None => at,
        })
    }
}

impl Shared {
    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        lock(&self.entries).get(name).cloned()
    }

    /// Re-reads every OAuth upstream: new ones are added, changed tokens (a re-login) replace
    /// the cached ones, logged-out or removed ones are dropped.
    async fn reload(&self) -> Result<(), OAuthError> {
        let records = ts::list_upstreams(self.store.as_ref()).await?;
        let mut seen = Vec::new();
        for r in records {
            if r.auth != AuthKind::Oauth
                || !matches!(r.provider, ProviderKind::GeminiCli | ProviderKind::Qwen)
            {
                continue;
            }
            let meta = match r.oauth.clone() {
                Some(m) if m.state != OAuthState::LoggedOut => m,
                _ => continue,
            };
            let tokens = match ts::get_secret(self.store.as_ref(), &r.name).await {
                Ok(Some(s)) => match TokenSet::from_secret(&s) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(upstream = %r.name, error = %e, "unreadable OAuth token");
                        continue;
                    }
                },
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(upstream = %r.name, error = %e, "cannot read the OAuth token");
                    continue;
                }
            };
            seen.push(r.name.clone());
            self.upsert(&r.name, r.provider, tokens, meta);
        }
        lock(&self.entries).retain(|name, _| seen.contains(name));
        Ok(())
    }

    fn upsert(
        &self,
        name: &str,
        kind: ProviderKind,
        tokens: TokenSet,
        meta: OAuthMeta,
    ) -> Arc<Entry> {
        let mut entries = lock(&self.entries);
        if let Some(e) = entries.get(name) {
            let mut st = lock(&e.state);
            // A CLI refresh or re-login writes the token and then the metadata, and each write
            // wakes a reload: the second one must still replace the stale metadata (and lift a
            // `needs-login` the re-login fixed). The refresher's own writes match memory.
            let changed = st
                .tokens
                .as_ref()
                .is_none_or(|t| t.access_token != tokens.access_token)
                || meta.last_refresh > st.meta.last_refresh
                || (st.dead && meta.state != OAuthState::NeedsLogin);
            if changed {
                let generation = st.generation + 1;
                *st = EntryState::new(Some(tokens), meta);
                st.generation = generation;
            }
            return Arc::clone(e);
        }
        let e = Arc::new(Entry {
            name: name.into(),
            kind,
            refresh_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(EntryState::new(Some(tokens), meta)),
        });
        entries.insert(name.into(), Arc::clone(&e));
        e
    }

    /// The entry of `name`, loaded from the store on first use.
    async fn entry_or_load(&self, name: &str) -> Result<Arc<Entry>, OAuthError> {
        if let Some(e) = self.entry(name) {
            return Ok(e);
        }
        let r = ts::get_upstream(self.store.as_ref(), name)
            .await?
            .ok_or_else(|| OAuthError::NotFound(name.into()))?;
        if r.auth != AuthKind::Oauth {
            return Err(OAuthError::NotOAuth {
                name: name.into(),
                provider: Some(r.provider),
            });
        }
        let meta = r.oauth.clone().ok_or_else(|| OAuthError::NoToken {
            name: name.into(),
            provider: r.provider,
            logged_out: false,
        })?;
        let no_token = || OAuthError::NoToken {
            name: name.into(),
            provider: r.provider,
            logged_out: meta.state == OAuthState::LoggedOut,
        };
        if meta.state == OAuthState::LoggedOut {
            return Err(no_token());
        }
        let secret = ts::get_secret(self.store.as_ref(), name)
            .await?
            .ok_or_else(no_token)?;
        let tokens = TokenSet::from_secret(&secret)?;
        let e = self.upsert(name, r.provider, tokens, meta);
        self.wake.notify_one();
        Ok(e)
    }

    /// Refreshes `entry` unless someone else did since `seen_generation` (or, with `refused`,
    /// the current token is no longer the refused one), or the last attempt was within
    /// `min_spacing` (then its outcome stands, unless it left an expired token or the upstream
    /// refused its token). `scheduled`: only if still due.
    async fn refresh(
        &self,
        entry: &Entry,
        seen_generation: Option<u64>,
        scheduled: bool,
        refused: Option<&Secret>,
    ) -> Result<Secret, OAuthError> {
        let _guard = entry.refresh_lock.lock().await;
        let (tokens, meta) = {
            let st = lock(&entry.state);
            let current = st.tokens.clone();
            if let (Some(r), Some(t)) = (refused, current.as_ref())
                && r.expose() != t.access_token.expose()
            {
                return Ok(t.access_token.clone());
            }
            let needs_login = || OAuthError::NeedsLogin {
                name: entry.name.clone(),
                provider: entry.kind,
                reason: st
                    .meta
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the provider refused the refresh token".into()),
            };
            if seen_generation.is_some_and(|g| g != st.generation)
                && let Some(t) = current.clone()
            {
                return Ok(t.access_token);
            }
            if st.dead {
                return Err(needs_login());
            }
            if scheduled && st.due(&self.settings).is_none_or(|d| d > Instant::now()) {
                return current
                    .map(|t| t.access_token)
                    .ok_or_else(|| OAuthError::Refresh {
                        name: entry.name.clone(),
                        message: "no token".into(),
                    });
            }
            let expired = current
                .as_ref()
                .is_some_and(|t| t.expiry.is_some_and(|e| e <= now()));
            if let Some(last) = st.last_attempt
                && last.elapsed() < self.settings.min_spacing
                && seen_generation.is_some()
                && (st.last_failure.is_some() || (refused.is_none() && !expired))
            {
                return match (&st.last_failure, current) {
                    (None, Some(t)) => Ok(t.access_token),
                    (Some(f), _) => Err(OAuthError::Refresh {
                        name: entry.name.clone(),
                        message: f.to_string(),
                    }),
                    (None, None) => Err(needs_login()),
                };
            }
            let Some(t) = current else {
                return Err(OAuthError::NoToken {
                    name: entry.name.clone(),
                    provider: entry.kind,
                    logged_out: false,
                });
            };
            (t, st.meta.clone())
        };

        let result = refresh_persist(
            self.store.as_ref(),
            &self.http,
            &self.config,
            &entry.name,
            entry.kind,
            &tokens,
            meta.clone(),
        )
        .await;

        let mut st = lock(&entry.state);
        st.last_attempt = Some(Instant::now());
        match result {
            Ok((fresh, meta)) => {
                tracing::info!(upstream = %entry.name, "OAuth token refreshed");
                let access = fresh.access_token.clone();
                st.tokens = Some(fresh);
                st.meta = meta;
                st.obtained_at = now();
                st.generation += 1;
                st.failures = 0;
                st.retry_at = None;
                st.last_failure = None;
                Ok(access)
            }
            Err(e) => {
                tracing::warn!(upstream = %entry.name, error = %e, "OAuth token refresh failed");
                match &e {
                    OAuthError::NeedsLogin { reason, .. } => {
                        st.dead = true;
                        st.meta.state = OAuthState::NeedsLogin;
                        st.meta.last_error = Some(reason.clone());
                    }
                    other => {
                        st.failures += 1;
                        let factor = 2u32.saturating_pow(st.failures.saturating_sub(1).min(16));
                        let backoff = self
                            .settings
                            .backoff_initial
                            .saturating_mul(factor)
                            .min(self.settings.backoff_max);
                        st.retry_at = Some(Instant::now() + backoff);
                        st.meta.state = OAuthState::RefreshFailing;
                        st.meta.last_error = Some(other.to_string());
                    }
                }
                st.last_failure = Some(match &e {
                    OAuthError::NeedsLogin {
                        name,
                        provider,
                        reason,
                    } => OAuthError::NeedsLogin {
                        name: name.clone(),
                        provider: *provider,
                        reason: reason.clone(),
                    },
                    other => OAuthError::Refresh {
                        name: entry.name.clone(),
                        message: other.to_string(),
                    },
                });
                Err(e)
            }
        }
    }

    fn next_due(&self) -> Option<(Instant, Vec<Arc<Entry>>)> {
        let entries: Vec<Arc<Entry>> = lock(&self.entries).values().cloned().collect();
        let mut earliest: Option<Instant> = None;
        let mut due_now = Vec::new();
        for e in entries {
            let Some(d) = lock(&e.state).due(&self.settings) else {
                continue;
            };
            // `due` reads the clock itself: compare with a reading taken after it.
            if d <= Instant::now() {
                due_now.push(e);
            }
            earliest = Some(earliest.map_or(d, |x| x.min(d)));
        }
        earliest.map(|at| (at, due_now))
    }
}

/// What the upstream clients ask for tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenSource {
    shared: Arc<Shared>,
}

impl TokenSource {
    /// A fresh access token for upstream `name`: the cached one, or refreshed inline when it
    /// is expired or about to be (`inline_skew`, at most a quarter of its lifetime). A token
    /// still valid is handed out at once while a refresh of it is in flight: a refresh never
    /// makes a request wait unless the request has no usable token.
    pub async fn access_token(&self, name: &str) -> Result<Secret, OAuthError> {
        let entry = self.shared.entry_or_load(name).await?;
        let (token, expiry, generation, lifetime) = {
            let st = lock(&entry.state);
            let expiry = st.tokens.as_ref().and_then(|t| t.expiry);
            (
                st.tokens.as_ref().map(|t| t.access_token.clone()),
                expiry,
                st.generation,
                expiry.map(|e| e.saturating_sub(st.obtained_at)),
            )
        };
        let Some(token) = token else {
            return Err(OAuthError::NoToken {
                name: name.into(),
                provider: entry.kind,
                logged_out: false,
            });
        };
        let t = now();
        let skew = self
            .shared
            .settings
            .inline_skew
            .as_secs()
            .min(lifetime.unwrap_or(u64::MAX) / 4);
        match expiry {
            Some(e) if t < e && entry.refresh_lock.try_lock().is_err() => Ok(token),
            Some(e) if t.saturating_add(skew) >= e => {
                match self
                    .shared
                    .refresh(&entry, Some(generation), false, None)
                    .await
                {
                    Ok(fresh) => Ok(fresh),
                    // Still valid for a moment: better than failing the request.
                    Err(_) if t < e => Ok(token),
                    Err(err) => Err(err),
                }
            }
            _ => Ok(token),
        }
    }

    /// Refresh-on-401: replaces the token the upstream refused. Concurrent callers share one
    /// refresh; a caller arriving just after one finished gets its token.
    pub async fn force_refresh(&self, name: &str) -> Result<Secret, OAuthError> {
        let entry = self.shared.entry_or_load(name).await?;
        let generation = lock(&entry.state).generation;
        self.shared
            .refresh(&entry, Some(generation), false, None)
            .await
    }

    /// Refresh-on-401 for the token `refused`: a newer token if there is one already (a
    /// concurrent caller or the scheduler replaced it), else a refresh now, even right after
    /// another one (the upstream refused that one's token). A refresh that failed within
    /// `min_spacing` is not retried: its error stands.
    pub async fn replace_refused(
        &self,
        name: &str,
        refused: &Secret,
    ) -> Result<Secret, OAuthError> {
        let entry = self.shared.entry_or_load(name).await?;
        let generation = lock(&entry.state).generation;
        self.shared
            .refresh(&entry, Some(generation), false, Some(refused))
            .await
    }

    /// Whether `name`'s refresh token was refused (`needs-login`): requests skip it up front
    /// rather than pay a 401 round trip. Never waits (no store read); an upstream the
    /// refresher has not loaded yet is not known to need a login.
    pub fn needs_login(&self, name: &str) -> bool {
        self.shared.entry(name).is_some_and(|e| lock(&e.state).dead)
    }

    /// The OAuth metadata the refresher holds for `name` (project, resource URL, state).
    pub async fn meta(&self, name: &str) -> Result<OAuthMeta, OAuthError> {
        let entry = self.shared.entry_or_load(name).await?;
        let meta = lock(&entry.state).meta.clone();
        Ok(meta)
    }
}

/// The running refresher. Cheap to clone.
#[derive(Clone)]
pub struct RefresherHandle {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl RefresherHandle {
    /// Re-reads the OAuth upstreams from the store (call it after a login, import, logout or
    /// removal made while the server runs).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Refreshes `name` now, whatever its schedule (shares an in-flight refresh).
    pub async fn refresh_now(&self, name: &str) -> Result<(), OAuthError> {
        let entry = self.shared.entry_or_load(name).await?;
        self.shared
            .refresh(&entry, None, false, None)
            .await
            .map(|_| ())
    }

    pub fn token_source(&self) -> TokenSource {
        TokenSource {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Waits for the task to end (after the cancel token fired).
    pub async fn join(&self) {
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

/// Starts the refresher with the default timing.
pub fn spawn(
    store: Arc<dyn TokenStore>,
    config: &Config,
    cancel: CancellationToken,
) -> Result<RefresherHandle, OAuthError> {
    spawn_with(store, config, RefreshSettings::default(), cancel)
}

pub fn spawn_with(
    store: Arc<dyn TokenStore>,
    config: &Config,
    settings: RefreshSettings,
    cancel: CancellationToken,
) -> Result<RefresherHandle, OAuthError> {
    let shared = Arc::new(Shared {
        store,
        config: config.clone(),
        http: http_client(config)?,
        settings,
        entries: Mutex::new(HashMap::new()),
        wake: Notify::new(),
    });
    let task = tokio::spawn(run(Arc::clone(&shared), cancel));
    Ok(RefresherHandle {
        shared,
        task: Arc::new(Mutex::new(Some(task))),
    })
}

async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    if let Err(e) = shared.reload().await {
        tracing::warn!(error = %e, "the OAuth refresher cannot read the upstreams");
    }
    loop {
        let next = shared.next_due();
        let due_now = next.as_ref().map(|(_, d)| d.clone()).unwrap_or_default();
        if !due_now.is_empty() {
            let refreshes = due_now.iter().map(|e| shared.refresh(e, None, true, None));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = futures_util::future::join_all(refreshes) => {}
            }
            continue;
        }
        // Far enough to mean "never" without overflowing Instant arithmetic.
        let sleep_until = next
            .map(|(at, _)| at)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.wake.notified() => {
                if let Err(e) = shared.reload().await {
                    tracing::warn!(error = %e, "the OAuth refresher cannot read the upstreams");
                }
            }
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
}
