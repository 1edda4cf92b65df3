//! Upstream health: a circuit breaker per upstream and the 429 cooldowns per (upstream, model),
//! which together order a request's candidates ([`order`]).
//!
//! * **Breaker.** Consecutive failures (connect error, 5xx, first-byte timeout, unreadable
//!   reply) reaching [`BreakerSettings::threshold`] open it for a cooldown that doubles with each
//!   trip, up to a cap. Once the cooldown is over, the next request that routes there claims the
//!   probe (half-open): it tries the upstream in its normal place while other requests keep
//!   treating it as open for [`BreakerSettings::probe_lease`] (a probe whose request vanished
//!   frees the slot when the lease ends). Any success closes the breaker.
//! * **429 cooldowns** are per (upstream, model): Gemini and Code Assist quotas are per model,
//!   and so are OpenAI's and Anthropic's rate limits, so a spent quota of one model must not
//!   take the upstream's other models out of rotation.
//! * **Never worse than an error.** While some candidate is usable, open ones go after the
//!   usable ones (a known-bad upstream is not worth a round trip first, but one that recovered
//!   before its cooldown ended can still save a request the others fail), and cooling and
//!   needs-login ones are left out (a 429's `retry-after` and a missing login are not going to
//!   change within the request). When none is usable they are all kept, needs-login last, so a
//!   request that only they can serve still reaches them.
//!
//! Cost on the request path: per candidate, two relaxed atomic loads when all is well; locks
//! only on failures, probe claims, and while some model of the upstream is cooling. The server
//! keeps one [`Health`] for its lifetime; each [`super::RouteTable`] it builds hands its
//! candidates their upstream's [`UpstreamHealth`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Candidate;
use crate::store::records::{UnixTime, UpstreamRecord};

/// Breaker timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// The first cooldown; each further trip without a success in between doubles it.
    pub base: Duration,
    pub cap: Duration,
    /// How long a claimed probe keeps other requests away (the server uses
    /// `[timeouts] first_byte_secs`: by then the probe has an outcome).
    pub probe_lease: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            threshold: 3,
            base: Duration::from_secs(10),
            cap: Duration::from_secs(300),
            probe_lease: Duration::from_secs(120),
        }
    }
}

impl BreakerSettings {
    fn cooldown(&self, trips: u32) -> Duration {
        let factor = 2u32.saturating_pow(trips.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Shared {
    /// Times in the atomics are milliseconds since this instant, plus one (0 means "none").
    epoch: Instant,
    settings: Mutex<BreakerSettings>,
}

impl Shared {
    fn ms(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn settings(&self) -> BreakerSettings {
        lock(&self.settings).clone()
    }
}

/// Why a model of an upstream is cooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoolReason {
    /// A 429 that said how long to wait.
    RateLimited,
    /// A spent daily quota (no delay given).
    Quota,
}

#[derive(Debug)]
struct Cool {
    until_ms: u64,
    reason: CoolReason,
}

#[derive(Debug, Default)]
struct Inner {
    /// Times the breaker opened since the last success.
    trips: u32,
    /// A request claimed the half-open probe and has not reported yet.
    probing: bool,
    last_error: Option<String>,
    last_failure: Option<UnixTime>,
    /// Model -> its 429 cooldown.
    cooling: HashMap<String, Cool>,
}

/// One upstream's breaker and cooldowns, shared by every route table of the server's lifetime.
pub struct UpstreamHealth {
    name: String,
    shared: Arc<Shared>,
    /// When the breaker closes again (0: closed).
    open_until: AtomicU64,
    /// The latest end of any model's cooldown: while it is past, no model is cooling and the
    /// lock is not taken.
    cool_until: AtomicU64,
    failures: AtomicU32,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for UpstreamHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamHealth")
            .field("name", &self.name)
            .field("failures", &self.failures.load(Ordering::Relaxed))
            .field("open_until", &self.open_until.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What a failure or success changed, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// The breaker opened (or reopened after a failed probe) for this long.
    Opened(Duration),
    Closed,
}

/// Where a candidate stands for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Usable,
    /// The breaker is open (or another request holds its probe).
    Open,
    /// The model is cooling after a 429.
    Cooling,
    NeedsLogin,
}

impl Standing {
    /// The order among candidates when none is usable: open and cooling ones alike, in routing
    /// order, before those that need a new login.
    fn rank(self) -> u8 {
        match self {
            Standing::Usable => 0,
            Standing::Open | Standing::Cooling => 1,
            Standing::NeedsLogin => 2,
        }
    }
}

impl UpstreamHealth {
    fn new(name: &str, shared: Arc<Shared>) -> UpstreamHealth {
        UpstreamHealth {
            name: name.to_string(),
            shared,
            open_until: AtomicU64::new(0),
            cool_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A detached slot (route tables built without a [`Health`], e.g. in tests).
    pub(crate) fn detached(name: &str) -> Arc<UpstreamHealth> {
        Arc::new(UpstreamHealth::new(name, Arc::new(new_shared())))
    }

    /// The upstream answered (a reply it means, 2xx or a client error other than 429): resets
    /// the failure count and closes the breaker. Reads only, unless something was wrong.
    pub fn success(&self) -> Transition {
        if self.failures.load(Ordering::Relaxed) == 0
            && self.open_until.load(Ordering::Relaxed) == 0
        {
            return Transition::None;
        }
        let mut inner = lock(&self.inner);
        let was_open = self.open_until.swap(0, Ordering::Relaxed) != 0;
        self.failures.store(0, Ordering::Relaxed);
        inner.trips = 0;
        inner.probing = false;
        if was_open {
            Transition::Closed
        } else {
            Transition::None
        }
    }

    /// An attempt failed (`what`: a short, secret-free description for `status`). Opens the
    /// breaker at the threshold, and again, for twice as long, when a probe fails; failures of
    /// requests that started before it opened do not extend it.
    pub fn failure(&self, what: &str, now: Instant) -> Transition {
        let settings = self.shared.settings();
        let mut inner = lock(&self.inner);
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        inner.last_error = Some(what.to_string());
        inner.last_failure = Some(unix_now());
        if failures < settings.threshold {
            return Transition::None;
        }
        let now_ms = self.shared.ms(now);
        if self.open_until.load(Ordering::Relaxed) > now_ms && !inner.probing {
            return Transition::None;
        }
        inner.trips = inner.trips.saturating_add(1);
        inner.probing = false;
        let cooldown = settings.cooldown(inner.trips);
        self.open_until
            .store(self.shared.ms(now + cooldown), Ordering::Relaxed);
        Transition::Opened(cooldown)
    }

    /// A 429: `model` cools for `duration` (extended, never shortened).
    pub fn rate_limited(&self, model: &str, duration: Duration, reason: CoolReason, now: Instant) {
        let end = self.shared.ms(now + duration);
        let mut inner = lock(&self.inner);
        let slot = inner.cooling.entry(model.to_string()).or_insert(Cool {
            until_ms: end,
            reason,
        });
        if slot.until_ms < end {
            *slot = Cool {
                until_ms: end,
                reason,
            };
        }
        let now_ms = self.shared.ms(now);
        inner.cooling.retain(|_, c| c.until_ms > now_ms);
        self.cool_until.fetch_max(end, Ordering::Relaxed);
    }

    pub fn is_cooling(&self, model: &str, now: Instant) -> bool {
        let now_ms = self.shared.ms(now);
        if self.cool_until.load(Ordering::Relaxed) <= now_ms {
            return false;
        }
        lock(&self.inner)
            .cooling
            .get(model)
            .is_some_and(|c| c.until_ms > now_ms)
    }

    /// Whether the breaker is open (a probe in flight counts as open).
    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until.load(Ordering::Relaxed) > self.shared.ms(now)
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether `model` may be tried in its normal place now; claims the probe of a breaker
    /// whose cooldown is over.
    fn standing(&self, model: &str, now: Instant) -> Standing {
        if self.is_cooling(model, now) {
            return Standing::Cooling;
        }
        let until = self.open_until.load(Ordering::Relaxed);
        if until == 0 {
            return Standing::Usable;
        }
        let now_ms = self.shared.ms(now);
        if until > now_ms {
            return Standing::Open;
        }
        let lease = self.shared.settings().probe_lease;
        let claimed = self
            .open_until
            .compare_exchange(
                until,
                self.shared.ms(now + lease),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        if !claimed {
            return Standing::Open;
        }
        lock(&self.inner).probing = true;
        Standing::Usable
    }

    /// What `status` shows. `needs_login`: the OAuth refresher's verdict.
    pub fn report(&self, needs_login: bool, now: Instant) -> HealthReport {
        let now_ms = self.shared.ms(now);
        let to_unix = |ms: u64| {
            let wall = SystemTime::now() + Duration::from_millis(ms.saturating_sub(now_ms));
            wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
        };
        let inner = lock(&self.inner);
        let open_until = self.open_until.load(Ordering::Relaxed);
        let failures = self.failures.load(Ordering::Relaxed);
        let mut cooling: Vec<ModelCooling> = inner
            .cooling
            .iter()
            .filter(|(_, c)| c.until_ms > now_ms)
            .map(|(model, c)| ModelCooling {
                model: model.clone(),
                until: to_unix(c.until_ms),
                reason: c.reason,
            })
            .collect();
        cooling.sort_by(|a, b| a.model.cmp(&b.model));
        let state = if needs_login {
            HealthState::NeedsLogin
        } else if open_until != 0 {
            HealthState::Open
        } else if !cooling.is_empty() {
            HealthState::Cooling
        } else if failures > 0 {
            HealthState::Failing
        } else {
            HealthState::Healthy
        };
        HealthReport {
            name: self.name.clone(),
            state,
            consecutive_failures: failures,
            last_error: (failures > 0).then(|| inner.last_error.clone()).flatten(),
            last_failure_at: inner.last_failure,
            open_until: (open_until != 0).then(|| to_unix(open_until)),
            probing: open_until != 0 && (inner.probing || open_until <= now_ms),
            cooling,
        }
    }
}

fn unix_now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn new_shared() -> Shared {
    Shared {
        epoch: Instant::now(),
        settings: Mutex::new(BreakerSettings::default()),
    }
}

/// A slot and the record it was made for (a changed record gets a fresh slot).
type Slot = (Arc<UpstreamRecord>, Arc<UpstreamHealth>);

/// Every upstream's health, for the server's lifetime.
pub struct Health {
    shared: Arc<Shared>,
    /// Name -> the record the slot was made for, and the slot.
    slots: Mutex<HashMap<String, Slot>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(BreakerSettings::default())
    }
}

impl Health {
    pub fn new(settings: BreakerSettings) -> Health {
        let shared = new_shared();
        *lock(&shared.settings) = settings;
        Health {
            shared: Arc::new(shared),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The breaker timing in use.
    pub fn settings(&self) -> BreakerSettings {
        self.shared.settings()
    }

    /// Changes the breaker timing (tests shrink it).
    pub fn set_settings(&self, settings: BreakerSettings) {
        *lock(&self.shared.settings) = settings;
    }

    /// The slots for a new route table, in the order of `upstreams`. An upstream whose record
    /// changed (re-login, new base URL, re-enabled) starts afresh; slots of upstreams no longer
    /// listed are forgotten.
    pub(crate) fn slots_for(&self, upstreams: &[Arc<UpstreamRecord>]) -> Vec<Arc<UpstreamHealth>> {
        let mut slots = lock(&self.slots);
        let out = upstreams
            .iter()
            .map(|u| {
                match slots.get(&u.name) {
                    Some((rec, slot)) if **rec == **u => return Arc::clone(slot),
                    _ => {}
                }
                let slot = Arc::new(UpstreamHealth::new(&u.name, Arc::clone(&self.shared)));
                slots.insert(u.name.clone(), (Arc::clone(u), Arc::clone(&slot)));
                slot
            })
            .collect();
        slots.retain(|name, _| upstreams.iter().any(|u| &u.name == name));
        out
    }
}

/// Leaves in `candidates` the ones to try, in order. When some are usable: those, then the ones
/// whose breaker is open, as a last resort when every usable one failed (an upstream may have
/// recovered before its cooldown ends; a request that fails anyway costs it no longer
/// cooldown). Cooling models wait for their `retry-after`, and upstreams that need a new login
/// are left out. When none is usable: all of them, open or cooling ones before those needing a
/// new login. `needs_login` is asked only about OAuth upstreams. Allocates only when some
/// candidate is not usable.
pub fn order(
    candidates: &mut Vec<Candidate>,
    now: Instant,
    needs_login: impl Fn(&UpstreamRecord) -> bool,
) {
    // Filled only from the first candidate that is not usable on.
    let mut ranks: Option<Vec<Standing>> = None;
    for (i, c) in candidates.iter().enumerate() {
        let oauth = c.upstream.auth == crate::store::records::AuthKind::Oauth;
        let standing = if oauth && needs_login(&c.upstream) {
            Standing::NeedsLogin
        } else {
            c.health.standing(&c.model, now)
        };
        match &mut ranks {
            Some(r) => r.push(standing),
            None if standing != Standing::Usable => {
                let mut r = vec![Standing::Usable; i];
                r.push(standing);
                ranks = Some(r);
            }
            None => {}
        }
    }
    let Some(ranks) = ranks else {
        return;
    };
    let mut ranked: Vec<(Standing, Candidate)> =
        ranks.into_iter().zip(candidates.drain(..)).collect();
    // Stable sorts: each group keeps the routing order.
    if ranked.iter().any(|(s, _)| *s == Standing::Usable) {
        ranked.retain(|(s, _)| matches!(s, Standing::Usable | Standing::Open));
        ranked.sort_by_key(|(s, _)| *s);
    } else {
        ranked.sort_by_key(|(s, _)| s.rank());
    }
    candidates.extend(ranked.into_iter().map(|(_, c)| c));
}

/// An upstream's health as `status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    Healthy,
    /// Failed lately, breaker still closed.
    Failing,
    /// Breaker open: tried only when nothing else is left.
    Open,
    /// Some model is in a 429 cooldown.
    Cooling,
    /// The OAuth refresh token was refused: `llm-gateway oauth login`.
    NeedsLogin,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Failing => "failing",
            HealthState::Open => "open",
            HealthState::Cooling => "cooling",
            HealthState::NeedsLogin => "needs-login",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCooling {
    pub model: String,
    pub until: UnixTime,
    pub reason: CoolReason,
}

/// One upstream's health, as the running server reports it over the admin socket. Holds no
/// secret: `last_error` is a short description the gateway wrote ("HTTP 503", "connect error").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub name: String,
    pub state: HealthState,
    pub consecutive_failures: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_failure_at: Option<UnixTime>,
    /// When the breaker's cooldown ends (open only).
    #[serde(default)]
    pub open_until: Option<UnixTime>,
    /// The cooldown is over and a probe is (or is about to be) in flight.
    #[serde(default)]
    pub probing: bool,
    #[serde(default)]
    pub cooling: Vec<ModelCooling>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::routing::RouteTable;
    use crate::store::records::AuthKind;

    fn up(name: &str, priority: u32) -> UpstreamRecord {
        UpstreamRecord {
            models: vec!["m".into(), "n".into()],
            priority,
            auth: AuthKind::None,
            ..UpstreamRecord::sample(name, ProviderKind::Openai)
        }
    }

    fn settings() -> BreakerSettings {
        BreakerSettings {
            threshold: 3,
            base: Duration::from_secs(10),
            cap: Duration::from_secs(35),
            probe_lease: Duration::from_secs(5),
        }
    }

    fn setup(names: &[&str]) -> (Health, RouteTable) {
        let health = Health::new(settings());
        let ups = names
            .iter()
            .enumerate()
            .map(|(i, n)| up(n, i as u32))
            .collect();
        let t = RouteTable::with_health(ups, &Default::default(), &health);
        (health, t)
    }

    fn ordered(t: &RouteTable, model: &str, now: Instant) -> Vec<String> {
        let mut c = t.resolve(model).unwrap().candidates;
        order(&mut c, now, |_| false);
        c.iter().map(|c| c.upstream.name.clone()).collect()
    }

    fn slot<'a>(t: &'a RouteTable, name: &str) -> &'a Arc<UpstreamHealth> {
        t.upstreams_with_health()
            .find(|(u, _)| u.name == name)
            .map(|(_, h)| h)
            .unwrap()
    }

    #[test]
    fn failures_open_then_probe_then_close() {
        let (_h, t) = setup(&["a", "b"]);
        let now = Instant::now();
        let a = slot(&t, "a");
        assert_eq!(a.failure("HTTP 503", now), Transition::None);
        assert_eq!(a.failure("HTTP 503", now), Transition::None);
        assert_eq!(ordered(&t, "m", now), ["a", "b"], "still closed");
        assert_eq!(
            a.failure("connect error", now),
            Transition::Opened(Duration::from_secs(10))
        );
        assert_eq!(ordered(&t, "m", now), ["b", "a"], "open: a last resort");
        // A request that started before it opened fails too: no extension.
        assert_eq!(a.failure("HTTP 503", now), Transition::None);
        let r = a.report(false, now);
        assert_eq!(r.state, HealthState::Open);
        assert_eq!(r.consecutive_failures, 4);
        assert_eq!(r.last_error.as_deref(), Some("HTTP 503"));

        // Cooldown over: the first request probes it in its place, the next one does not.
        let later = now + Duration::from_secs(11);
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
        assert_eq!(ordered(&t, "m", later), ["b", "a"]);
        assert!(a.report(false, later).probing);
        // The probe fails: open again for twice as long.
        assert_eq!(
            a.failure("HTTP 503", later),
            Transition::Opened(Duration::from_secs(20))
        );
        let later = later + Duration::from_secs(21);
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
        // Capped at 35 s.
        assert_eq!(
            a.failure("HTTP 503", later),
            Transition::Opened(Duration::from_secs(35))
        );
        // A probe whose request vanished frees the slot after the lease.
        let later = later + Duration::from_secs(36);
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
        assert_eq!(ordered(&t, "m", later), ["b", "a"]);
        let later = later + Duration::from_secs(6);
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
        // Success closes it and resets the count.
        assert_eq!(a.success(), Transition::Closed);
        assert_eq!(a.success(), Transition::None);
        assert_eq!(a.report(false, later).state, HealthState::Healthy);
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
    }

    #[test]
    fn all_open_keeps_them_all() {
        let (_h, t) = setup(&["a", "b"]);
        let now = Instant::now();
        for name in ["b", "a"] {
            for _ in 0..3 {
                slot(&t, name).failure("timeout", now);
            }
        }
        assert_eq!(ordered(&t, "m", now), ["a", "b"]);
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let (_h, t) = setup(&["a"]);
        let now = Instant::now();
        let a = slot(&t, "a");
        a.failure("x", now);
        a.failure("x", now);
        assert_eq!(a.report(false, now).state, HealthState::Failing);
        assert_eq!(a.success(), Transition::None);
        a.failure("x", now);
        a.failure("x", now);
        assert!(!a.is_open(now));
    }

    #[test]
    fn a_429_cools_one_model_only() {
        let (_h, t) = setup(&["a", "b"]);
        let now = Instant::now();
        let a = slot(&t, "a");
        a.rate_limited("m", Duration::from_secs(30), CoolReason::RateLimited, now);
        assert_eq!(ordered(&t, "m", now), ["b"]);
        assert_eq!(ordered(&t, "n", now), ["a", "b"]);
        // Extended, never shortened.
        a.rate_limited("m", Duration::from_secs(5), CoolReason::RateLimited, now);
        let later = now + Duration::from_secs(20);
        assert!(a.is_cooling("m", later));
        let r = a.report(false, later);
        assert_eq!(r.state, HealthState::Cooling);
        assert_eq!(r.cooling.len(), 1);
        assert_eq!(r.cooling[0].model, "m");
        assert_eq!(r.cooling[0].reason, CoolReason::RateLimited);
        let later = now + Duration::from_secs(31);
        assert!(!a.is_cooling("m", later));
        assert_eq!(ordered(&t, "m", later), ["a", "b"]);
        assert_eq!(a.report(false, later).state, HealthState::Healthy);
    }

    #[test]
    fn needs_login_goes_after_open_ones_when_nothing_is_usable() {
        let health = Health::new(settings());
        let mut o = up("o", 0);
        o.auth = AuthKind::Oauth;
        let t = RouteTable::with_health(
            vec![o, up("a", 1), up("b", 2)],
            &Default::default(),
            &health,
        );
        let now = Instant::now();
        for _ in 0..3 {
            slot(&t, "a").failure("x", now);
        }
        let mut c = t.resolve("m").unwrap().candidates;
        order(&mut c, now, |u| u.name == "o");
        let names: Vec<&str> = c.iter().map(|c| c.upstream.name.as_str()).collect();
        assert_eq!(
            names,
            ["b", "a"],
            "a usable one, then the open one; no login"
        );
        slot(&t, "b").rate_limited("m", Duration::from_secs(9), CoolReason::Quota, now);
        let mut c = t.resolve("m").unwrap().candidates;
        order(&mut c, now, |u| u.name == "o");
        let names: Vec<&str> = c.iter().map(|c| c.upstream.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "o"]);
    }

    #[test]
    fn slots_survive_rebuilds_unless_the_record_changed() {
        let health = Health::new(settings());
        let now = Instant::now();
        let t = RouteTable::with_health(vec![up("a", 0), up("b", 1)], &Default::default(), &health);
        for _ in 0..3 {
            slot(&t, "a").failure("x", now);
            slot(&t, "b").failure("x", now);
        }
        let mut b = up("b", 1);
        b.base_url = Some("http://127.0.0.1:1/v1".into());
        let t2 = RouteTable::with_health(vec![up("a", 0), b], &Default::default(), &health);
        assert!(slot(&t2, "a").is_open(now), "same record: same slot");
        assert!(!slot(&t2, "b").is_open(now), "changed record: fresh slot");
    }
}
