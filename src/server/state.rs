//! What the server knows: the config in force (swapped whole when `config.toml` is reloaded,
//! see `config_watch`) and a [`View`] of the store (upstreams, keys, upstream secrets) swapped
//! whole when the CLI changes something. Both live in one [`Snapshot`]: requests take a cheap
//! `Arc` of it, so a reload never blocks or tears a request in flight.
//!
//! [`State`] can be built from a plain [`View`], which is how tests drive the server without a
//! store; `server::run` fills it from the store with [`load_view`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::ServerError;
use super::auth::{RateLimiter, digest_of};
use super::cors::Cors;
use super::cut::Cut;
use super::metrics::Metrics;
use crate::config::Config;
use crate::routing::health::{BreakerSettings, HealthReport};
use crate::routing::{Candidate, Health, RouteTable};
use crate::secret::Secret;
use crate::store::Store;
use crate::store::ops::{Op, Reply};
use crate::store::records::{ApiKeyRecord, AuthKind, UpstreamRecord};
use crate::upstream::UpstreamClient;
use crate::upstream::adapter::FastTemplate;
use crate::usage::Ledger;

/// The store's contents the server serves from.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub upstreams: Vec<UpstreamRecord>,
    pub keys: Vec<ApiKeyRecord>,
    /// Upstream name -> its API key.
    pub secrets: HashMap<String, Secret>,
}

/// A [`View`] indexed for serving, with the config it was built for.
pub(crate) struct Snapshot {
    /// The config in force when the request started (aliases and rules, limits, timeouts).
    pub config: Arc<Config>,
    pub routes: RouteTable,
    pub keys: Vec<ApiKeyRecord>,
    /// `keys[i]`'s hash, decoded.
    pub key_digests: Vec<Option<[u8; 32]>>,
    pub secrets: HashMap<String, Secret>,
    /// `routes.upstreams()[i]`'s fast-path request, made ahead where it can be.
    pub fast: Vec<Option<FastTemplate>>,
    /// `[server] cors_origins` (`None`: CORS off), made with the rest of the snapshot so a
    /// config reload swaps it too.
    pub cors: Option<Cors>,
}

impl Snapshot {
    fn build(view: View, config: Arc<Config>, health: &Health) -> Snapshot {
        let routes = RouteTable::with_health(view.upstreams, &config.aliases, health);
        let fast = routes
            .upstreams()
            .iter()
            .map(|u| {
                let secret = match u.auth {
                    AuthKind::ApiKey => view.secrets.get(&u.name),
                    _ => None,
                };
                FastTemplate::new(&config, u, secret)
            })
            .collect();
        let cors = Cors::new(&config.server.cors_origins);
        Snapshot {
            config,
            routes,
            key_digests: view.keys.iter().map(|k| digest_of(&k.hash)).collect(),
            keys: view.keys,
            secrets: view.secrets,
            fast,
            cors,
        }
    }

    /// The fast-path template of `cand`'s upstream, if it has one.
    pub fn fast_template(&self, cand: &Candidate) -> Option<&FastTemplate> {
        self.fast.get(cand.slot)?.as_ref()
    }
}

/// Everything a request handler needs, shared by all connections.
pub struct State {
    /// What the snapshot is built from, kept to rebuild it when either part changes; the lock
    /// also makes concurrent rebuilds take turns, so an older one never lands last.
    inputs: Mutex<(View, Arc<Config>)>,
    snapshot: RwLock<Arc<Snapshot>>,
    pub(crate) client: UpstreamClient,
    /// Upstream breakers and 429 cooldowns, kept across view reloads.
    pub(crate) health: Health,
    pub(crate) limiter: RateLimiter,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) metrics: Metrics,
    /// OAuth access tokens, once `run` has started the refresher (absent in store-less tests).
    tokens: std::sync::OnceLock<crate::oauth::refresher::TokenSource>,
    /// Stored Responses API replies, once `run` has opened the store (absent in store-less
    /// tests: nothing is kept then).
    responses: std::sync::OnceLock<Arc<super::stored_responses::StoredResponses>>,
    /// How long an Anthropic stream may stay silent before the gateway sends a `ping`.
    ping_every_ms: AtomicU64,
    /// Set when the shutdown grace is over: streams still running end with an error event.
    pub(crate) cut: Cut,
    /// The upgraded `/v1/ws` sockets, closed by `serve` when it stops.
    pub(crate) ws: super::ws::Sockets,
    /// Where Bedrock upstreams' AWS credentials are read from: the process environment and
    /// home folder, unless a test fixed them ([`State::set_aws_env`]).
    aws_env: std::sync::OnceLock<crate::upstream::bedrock::credentials::Env>,
}

/// Pings well inside Claude Code's 20 s "waiting" banner and 300 s idle abort.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(10);

impl State {
    pub fn new(config: Config, view: View) -> Result<Arc<State>, ServerError> {
        let client = UpstreamClient::new(&config).map_err(|e| ServerError::Other(e.to_string()))?;
        let health = Health::new(BreakerSettings {
            probe_lease: Duration::from_secs(config.timeouts.first_byte_secs.max(1)),
            ..BreakerSettings::default()
        });
        let config = Arc::new(config);
        let snapshot = Snapshot::build(view.clone(), Arc::clone(&config), &health);
        Ok(Arc::new(State {
            inputs: Mutex::new((view, config)),
            snapshot: RwLock::new(Arc::new(snapshot)),
            client,
            health,
            limiter: RateLimiter::new(),
            ledger: Arc::new(Ledger::new()),
            metrics: Metrics::new(),
            tokens: std::sync::OnceLock::new(),
            responses: std::sync::OnceLock::new(),
            ping_every_ms: AtomicU64::new(DEFAULT_PING_INTERVAL.as_millis() as u64),
            cut: Cut::default(),
            ws: super::ws::Sockets::default(),
            aws_env: std::sync::OnceLock::new(),
        }))
    }

    /// Reads Bedrock's AWS credentials from `env` instead of the process environment (tests
    /// that run the server in-process: the environment is shared by every test). Call it
    /// before the first request; later calls change nothing.
    pub fn set_aws_env(&self, env: crate::upstream::bedrock::credentials::Env) {
        let _ = self.aws_env.set(env);
    }

    /// The environment Bedrock's credential chain reads.
    pub(crate) fn aws_env(&self) -> &crate::upstream::bedrock::credentials::Env {
        self.aws_env
            .get_or_init(crate::upstream::bedrock::credentials::Env::process)
    }

    /// Replaces the view; requests already running keep the one they started with.
    pub fn set_view(&self, view: View) {
        let mut inputs = self.inputs.lock().unwrap_or_else(|p| p.into_inner());
        inputs.0 = view;
        self.rebuild(&inputs);
    }

    /// Replaces the config in force (a reloaded `config.toml`); requests already running keep
    /// the one they started with. Settings read once at start (the listen address, the HTTP
    /// client's connect timeout and proxy, the log file) are the caller's to keep.
    pub fn set_config(&self, config: Config) {
        let mut inputs = self.inputs.lock().unwrap_or_else(|p| p.into_inner());
        if inputs.1.timeouts.first_byte_secs != config.timeouts.first_byte_secs {
            let mut breaker = self.health.settings();
            breaker.probe_lease = Duration::from_secs(config.timeouts.first_byte_secs.max(1));
            self.health.set_settings(breaker);
        }
        inputs.1 = Arc::new(config);
        self.rebuild(&inputs);
    }

    fn rebuild(&self, (view, config): &(View, Arc<Config>)) {
        let snap = Snapshot::build(view.clone(), Arc::clone(config), &self.health);
        let snap = Arc::new(snap);
        match self.snapshot.write() {
            Ok(mut slot) => *slot = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
    }

    /// Hands the server the refresher's token source; set once, by `run`.
    pub fn set_tokens(&self, tokens: crate::oauth::refresher::TokenSource) {
        let _ = self.tokens.set(tokens);
    }

    /// Hands the server the stored Responses API replies; set once, by `run` (or a test).
    pub fn set_responses(&self, responses: Arc<super::stored_responses::StoredResponses>) {
        let _ = self.responses.set(responses);
    }

    /// The stored Responses API replies, when the server has a store.
    pub(crate) fn responses(&self) -> Option<&Arc<super::stored_responses::StoredResponses>> {
        self.responses.get()
    }

    /// Access tokens of OAuth upstreams, when the refresher runs.
    pub fn tokens(&self) -> Option<&crate::oauth::refresher::TokenSource> {
        self.tokens.get()
    }

    /// Changes the circuit breaker's timing (tests use short cooldowns; the defaults are
    /// [`BreakerSettings::default`] with the probe lease set to `[timeouts] first_byte_secs`).
    pub fn set_breaker(&self, settings: BreakerSettings) {
        self.health.set_settings(settings);
    }

    /// Every upstream's health (enabled or not), in routing order: what `status` shows while
    /// the server runs.
    pub fn health_report(&self) -> Vec<HealthReport> {
        let snap = self.snapshot();
        let now = std::time::Instant::now();
        snap.routes
            .upstreams_with_health()
            .map(|(u, h)| {
                let needs_login = u.auth == AuthKind::Oauth
                    && self.tokens().is_some_and(|t| t.needs_login(&u.name));
                h.report(needs_login, now)
            })
            .collect()
    }

    /// Changes the silence after which Anthropic streams get a `ping` (tests use a short one;
    /// zero turns pings off).
    pub fn set_ping_interval(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.ping_every_ms.store(ms, Ordering::Relaxed);
    }

    /// How often `/v1/ws` sockets opened from now on get a protocol ping; a peer that answers
    /// none within one interval is dropped (default [`super::ws::DEFAULT_WS_PING_INTERVAL`]).
    pub fn set_ws_ping_interval(&self, every: Duration) {
        self.ws.set_ping_interval(every);
    }

    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_every_ms.load(Ordering::Relaxed))
    }

    /// The config in force now. A request reads the one of its [`Snapshot`] instead, so that
    /// it sees one config from start to end.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.snapshot().config)
    }

    /// Usage not yet flushed to the store.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The gateway's own time per request since start (p50, p99), for `status`.
    pub fn overhead_summary(&self) -> Option<crate::store::ops::OverheadSummary> {
        self.metrics.overhead.summary()
    }

    /// The Prometheus text of `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// Reads upstreams, keys and upstream API keys from the store (blocking calls, off the runtime).
pub async fn load_view(store: &Arc<Store>) -> Result<View, ServerError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || load_view_blocking(&store))
        .await
        .map_err(|e| ServerError::Other(format!("loading the store: {e}")))?
}

fn load_view_blocking(store: &Store) -> Result<View, ServerError> {
    let mut upstreams = match store.apply(Op::UpstreamList) {
        Reply::Upstreams { records } => records,
        other => return Err(unexpected("listing upstreams", other)),
    };
    // A base URL holding a credential is redacted in its record: the whole one serves.
    for u in upstreams.iter_mut().filter(|u| u.base_url_secret) {
        match store.apply(Op::BaseUrlGet {
            name: u.name.clone(),
        }) {
            Reply::Secret { secret: Some(url) } => u.base_url = Some(url.expose().to_owned()),
            Reply::Secret { secret: None } => {
                tracing::warn!(upstream = %u.name, "the upstream's base URL is missing from the secret store; add the upstream again");
            }
            other => {
                // Its requests go to the redacted URL and fail there; the others still serve.
                tracing::warn!(upstream = %u.name, "cannot read the upstream's base URL from the secret store: {}", describe(&other));
            }
        }
    }
    let keys = match store.apply(Op::KeyList) {
        Reply::Keys { records } => records,
        other => return Err(unexpected("listing API keys", other)),
    };
    let mut secrets = HashMap::new();
    for u in upstreams.iter().filter(|u| u.auth == AuthKind::ApiKey) {
        match store.apply(Op::SecretGet {
            name: u.name.clone(),
        }) {
            Reply::Secret {
                secret: Some(secret),
            } => {
                secrets.insert(u.name.clone(), secret);
            }
            Reply::Secret { secret: None } => {
                tracing::warn!(upstream = %u.name, "upstream has no API key stored");
            }
            other => {
                // One unreadable secret must not keep the others from serving.
                tracing::warn!(upstream = %u.name, "cannot read the upstream's API key: {}", describe(&other));
            }
        }
    }
    Ok(View {
        upstreams,
        keys,
        secrets,
    })
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Error { message, .. } => message.clone(),
        _ => "unexpected reply".to_string(),
    }
}

fn unexpected(what: &str, reply: Reply) -> ServerError {
    ServerError::Other(format!("{what}: {}", describe(&reply)))
}
