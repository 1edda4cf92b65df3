//! What the CLI shows of each record: the `--json` objects (every one has `name`, none holds a
//! secret or a key hash, base URLs redacted, times in RFC 3339) and the table rows and `show`
//! fields built from them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::routing::health::{CoolReason, HealthReport, HealthState};
use crate::store::records::{
    ApiKeyRecord, AuthKind, OAuthMeta, OAuthState, UnixTime, UpstreamRecord, UsageRow,
};

pub fn now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn rfc3339(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

/// `in 42m`, `3h ago`, `now`: coarse, for tables.
pub fn relative(t: UnixTime, now: UnixTime) -> String {
    if t == now {
        return "now".into();
    }
    let (d, future) = if t > now {
        (t - now, true)
    } else {
        (now - t, false)
    };
    let amount = match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m", d / 60),
        3600..86400 => format!("{}h", d / 3600),
        _ => format!("{}d", d / 86400),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn auth_str(a: AuthKind) -> &'static str {
    match a {
        AuthKind::ApiKey => "api-key",
        AuthKind::Oauth => "oauth",
        AuthKind::None => "none",
    }
}

fn oauth_state_str(s: OAuthState) -> &'static str {
    match s {
        OAuthState::Active => "active",
        OAuthState::NeedsLogin => "needs-login",
        OAuthState::RefreshFailing => "refresh-failing",
        OAuthState::LoggedOut => "logged-out",
    }
}

fn enabled_str(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

#[derive(Debug, Serialize)]
pub struct OAuthView {
    pub account: Option<String>,
    pub project: Option<String>,
    pub tier: Option<String>,
    pub expires_at: Option<String>,
    pub last_refresh: Option<String>,
    pub state: &'static str,
    pub last_error: Option<String>,
}

impl OAuthView {
    pub fn new(m: &OAuthMeta) -> OAuthView {
        OAuthView {
            account: m.account.clone(),
            project: m.project.clone(),
            tier: m.tier.clone(),
            expires_at: m.expires_at.map(rfc3339),
            last_refresh: m.last_refresh.map(rfc3339),
            state: oauth_state_str(m.state),
            last_error: m.last_error.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UpstreamView {
    pub name: String,
    pub provider: String,
    /// `null`: the provider's default endpoint.
    pub base_url: Option<String>,
    pub region: Option<String>,
    /// Azure's legacy endpoint form; absent for the v1 endpoint and other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `responses` for a Responses-API upstream; absent for Chat Completions (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire: Option<&'static str>,
    pub enabled: bool,
    pub priority: u32,
    pub auth: &'static str,
    pub models: Vec<String>,
    pub models_discovered: bool,
    pub created_at: String,
    pub oauth: Option<OAuthView>,
    /// From the running server; `null` when it does not run (health unknown).
    pub health: Option<HealthView>,
}

impl UpstreamView {
    pub fn new(r: &UpstreamRecord) -> UpstreamView {
        UpstreamView {
            name: r.name.clone(),
            provider: r.provider.as_str().into(),
            base_url: r.base_url.as_deref().map(shown_url),
            region: r.region.clone(),
            api_version: r.api_version.clone(),
            wire: r.wire.map(|w| w.as_str()),
            enabled: r.enabled,
            priority: r.priority,
            auth: auth_str(r.auth),
            models: r.models.clone(),
            models_discovered: r.models_discovered,
            created_at: rfc3339(r.created_at),
            oauth: r.oauth.as_ref().map(OAuthView::new),
            health: None,
        }
    }

    /// With the running server's health of this upstream, when there is one.
    pub fn with_health(mut self, reports: Option<&[HealthReport]>) -> UpstreamView {
        self.health = find_health(reports, &self.name).map(HealthView::new);
        self
    }
}

/// `name`'s report among `reports`.
pub fn find_health<'a>(
    reports: Option<&'a [HealthReport]>,
    name: &str,
) -> Option<&'a HealthReport> {
    reports?.iter().find(|h| h.name == name)
}

#[derive(Debug, Serialize)]
pub struct CoolingView {
    pub model: String,
    pub until: String,
    /// `rate-limited` (a 429 with a delay) or `quota` (a spent daily quota).
    pub reason: &'static str,
}

/// An upstream's health in `--json`: `state` is `healthy`, `failing` (failed lately, still
/// tried in its place), `open` (circuit breaker open until `open_until`: tried only when
/// nothing else is left), `cooling` (some model rate-limited, see `cooling`) or `needs-login`.
#[derive(Debug, Serialize)]
pub struct HealthView {
    pub state: &'static str,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_failure_at: Option<String>,
    pub open_until: Option<String>,
    pub probing: bool,
    pub cooling: Vec<CoolingView>,
}

fn cool_reason_str(r: CoolReason) -> &'static str {
    match r {
        CoolReason::RateLimited => "rate-limited",
        CoolReason::Quota => "quota",
    }
}

impl HealthView {
    pub fn new(h: &HealthReport) -> HealthView {
        HealthView {
            state: h.state.as_str(),
            consecutive_failures: h.consecutive_failures,
            last_error: h.last_error.clone(),
            last_failure_at: h.last_failure_at.map(rfc3339),
            open_until: h.open_until.map(rfc3339),
            probing: h.probing,
            cooling: h
                .cooling
                .iter()
                .map(|c| CoolingView {
                    model: c.model.clone(),
                    until: rfc3339(c.until),
                    reason: cool_reason_str(c.reason),
                })
                .collect(),
        }
    }
}

/// The HEALTH cell and `health:` field: the state and, when not healthy, why and until when.
pub fn health_cell(h: &HealthReport, now: UnixTime) -> String {
    let last = |h: &HealthReport| {
        h.last_error
            .as_deref()
            .map(|e| format!(", last: {e}"))
            .unwrap_or_default()
    };
    match h.state {
        HealthState::Healthy => "healthy".into(),
        HealthState::NeedsLogin => "needs-login".into(),
        HealthState::Failing => format!("failing ({} in a row{})", h.consecutive_failures, last(h)),
        HealthState::Open => {
            let when = match h.open_until {
                _ if h.probing => "probing".to_string(),
                Some(t) => format!("retry {}", relative(t, now)),
                None => "probing".into(),
            };
            format!(
                "open ({} failures{}; {when})",
                h.consecutive_failures,
                last(h)
            )
        }
        HealthState::Cooling => {
            let parts: Vec<String> = h
                .cooling
                .iter()
                .map(|c| {
                    format!(
                        "{} {}, {} left",
                        c.model,
                        cool_reason_str(c.reason),
                        relative(c.until.max(now), now).trim_start_matches("in ")
                    )
                })
                .collect();
            format!("cooling ({})", parts.join("; "))
        }
    }
}

pub const UPSTREAM_HEADERS: [&str; 6] = ["NAME", "PROVIDER", "STATE", "PRIORITY", "MODELS", "AUTH"];

/// The AUTH cell: `api-key`, `none`, or the OAuth state with the token expiry.
fn auth_cell(r: &UpstreamRecord, now: UnixTime) -> String {
    match (&r.oauth, r.auth) {
        (Some(m), _) => match m.expires_at {
            Some(t) if m.state == OAuthState::Active => {
                let word = if t >= now { "expires" } else { "expired" };
                format!("oauth: active, {word} {}", relative(t, now))
            }
            _ => format!("oauth: {}", oauth_state_str(m.state)),
        },
        (None, a) => auth_str(a).into(),
    }
}

/// The upstream table's headers and rows, with a HEALTH column when the server reported health.
pub fn upstream_table(
    records: &[UpstreamRecord],
    health: Option<&[HealthReport]>,
    now: UnixTime,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = UPSTREAM_HEADERS.to_vec();
    if health.is_some() {
        headers.push("HEALTH");
    }
    let rows = records
        .iter()
        .map(|r| {
            let mut row = upstream_row(r, now);
            if health.is_some() {
                row.push(
                    find_health(health, &r.name)
                        .map_or_else(|| "-".into(), |h| health_cell(h, now)),
                );
            }
            row
        })
        .collect();
    (headers, rows)
}

pub fn upstream_row(r: &UpstreamRecord, now: UnixTime) -> Vec<String> {
    vec![
        r.name.clone(),
        r.provider.as_str().into(),
        enabled_str(r.enabled).into(),
        r.priority.to_string(),
        r.models.len().to_string(),
        auth_cell(r, now),
    ]
}

/// A base URL as users see it: without its password or secret query values, including in
/// records stored before those went to the secret store.
fn shown_url(url: &str) -> String {
    crate::upstream::base_url::redact(url).into_owned()
}

pub fn upstream_fields(r: &UpstreamRecord, now: UnixTime) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("name", r.name.clone()),
        ("provider", r.provider.as_str().into()),
        (
            "base url",
            r.base_url
                .as_deref()
                .map_or_else(|| "(provider default)".into(), shown_url),
        ),
        ("state", enabled_str(r.enabled).into()),
        ("priority", r.priority.to_string()),
        ("auth", auth_cell(r, now)),
    ];
    if let Some(region) = &r.region {
        f.push(("region", region.clone()));
    }
    if let Some(v) = &r.api_version {
        f.push(("api version", format!("{v} (legacy deployments endpoint)")));
    }
    if let Some(w) = r.wire {
        f.push(("wire", w.as_str().into()));
    }
    let source = if r.models_discovered {
        "discovered"
    } else {
        "set by hand"
    };
    f.push((
        "models",
        format!("{} ({source}): {}", r.models.len(), r.models.join(", ")),
    ));
    if let Some(m) = &r.oauth {
        f.push(("account", or_dash(m.account.clone())));
        f.push(("project", or_dash(m.project.clone())));
        f.push(("token expires", or_dash(m.expires_at.map(rfc3339))));
        if let Some(e) = &m.last_error {
            f.push(("last error", e.clone()));
        }
    }
    f.push(("created", rfc3339(r.created_at)));
    f
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub name: String,
    pub prefix: String,
    pub state: &'static str,
    pub rpm: Option<u32>,
    pub models: Vec<String>,
    pub enabled: bool,
    pub revoked: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

fn key_state(r: &ApiKeyRecord) -> &'static str {
    if r.revoked {
        "revoked"
    } else if r.enabled {
        "active"
    } else {
        "disabled"
    }
}

impl KeyView {
    pub fn new(r: &ApiKeyRecord) -> KeyView {
        KeyView {
            name: r.name.clone(),
            prefix: r.prefix.clone(),
            state: key_state(r),
            rpm: r.rpm,
            models: r.models.clone(),
            enabled: r.enabled,
            revoked: r.revoked,
            created_at: rfc3339(r.created_at),
            last_used_at: r.last_used_at.map(rfc3339),
        }
    }
}

pub const KEY_HEADERS: [&str; 6] = ["NAME", "PREFIX", "STATE", "RPM", "MODELS", "LAST USED"];

fn models_cell(models: &[String]) -> String {
    if models.is_empty() {
        "*".into()
    } else {
        models.join(",")
    }
}

pub fn key_row(r: &ApiKeyRecord, now: UnixTime) -> Vec<String> {
    vec![
        r.name.clone(),
        r.prefix.clone(),
        key_state(r).into(),
        r.rpm.map_or_else(|| "-".into(), |n| n.to_string()),
        models_cell(&r.models),
        r.last_used_at
            .map_or_else(|| "never".into(), |t| relative(t, now)),
    ]
}

pub fn key_fields(r: &ApiKeyRecord) -> Vec<(&'static str, String)> {
    vec![
        ("name", r.name.clone()),
        ("prefix", r.prefix.clone()),
        ("state", key_state(r).into()),
        (
            "rpm",
            r.rpm.map_or_else(|| "unlimited".into(), |n| n.to_string()),
        ),
        ("models", models_cell(&r.models)),
        ("created", rfc3339(r.created_at)),
        (
            "last used",
            r.last_used_at.map_or_else(|| "never".into(), rfc3339),
        ),
    ]
}

#[derive(Debug, Serialize)]
pub struct UsageView {
    /// `upstream/model`, the name a client can use to pin this route.
    pub name: String,
    pub upstream: String,
    pub model: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub avg_latency_ms: u64,
}

impl UsageView {
    pub fn new(r: &UsageRow) -> UsageView {
        let c = &r.counters;
        UsageView {
            name: format!("{}/{}", r.upstream, r.model),
            upstream: r.upstream.clone(),
            model: r.model.clone(),
            requests: c.requests,
            errors: c.errors,
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            cache_read_tokens: c.cache_read_tokens,
            cache_write_tokens: c.cache_write_tokens,
            avg_latency_ms: c.latency_ms_total.checked_div(c.requests).unwrap_or(0),
        }
    }
}

pub const USAGE_HEADERS: [&str; 7] = [
    "UPSTREAM", "MODEL", "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "AVG MS",
];

pub fn usage_row(u: &UsageView) -> Vec<String> {
    vec![
        u.upstream.clone(),
        u.model.clone(),
        u.requests.to_string(),
        u.errors.to_string(),
        u.input_tokens.to_string(),
        u.output_tokens.to_string(),
        u.avg_latency_ms.to_string(),
    ]
}

/// `server status --json`, and the server part of `status --json`.
#[derive(Debug, Serialize)]
pub struct ServerView {
    pub name: &'static str,
    pub running: bool,
    pub pid: Option<u32>,
    pub listen: Option<String>,
    /// The gateway's own time per request since the server started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead: Option<crate::store::ops::OverheadSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::store::records::UsageCounters;

    fn upstream() -> UpstreamRecord {
        UpstreamRecord {
            models: vec!["gpt-4o-mini".into()],
            ..UpstreamRecord::sample("oai", ProviderKind::Openai)
        }
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(100, 100), "now");
        assert_eq!(relative(101, 100), "in 1s");
        assert_eq!(relative(99, 100), "1s ago");
        assert_eq!(relative(100 + 42 * 60, 100), "in 42m");
        assert_eq!(relative(100, 100 + 3 * 3600), "3h ago");
        assert_eq!(relative(0, 2 * 86400), "2d ago");
    }

    #[test]
    fn upstream_json_shape() {
        let v = serde_json::to_value(UpstreamView::new(&upstream())).unwrap();
        assert_eq!(v["name"], "oai");
        assert_eq!(v["provider"], "openai");
        assert_eq!(v["auth"], "api-key");
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["models"][0], "gpt-4o-mini");
    }

    #[test]
    fn oauth_cell_shows_expiry() {
        let mut r = upstream();
        r.auth = AuthKind::Oauth;
        r.oauth = Some(OAuthMeta {
            account: Some("dev@example.com".into()),
            project: None,
            tier: None,
            expires_at: Some(1000 + 600),
            last_refresh: None,
            state: OAuthState::Active,
            last_error: None,
            resource_url: None,
        });
        assert_eq!(upstream_row(&r, 1000)[5], "oauth: active, expires in 10m");
    }

    #[test]
    fn key_json_has_no_hash() {
        let r = ApiKeyRecord {
            name: "laptop".into(),
            prefix: "lgw_abcdefgh".into(),
            hash: "deadbeef".into(),
            rpm: Some(60),
            models: vec![],
            enabled: true,
            revoked: false,
            created_at: 0,
            last_used_at: None,
        };
        let text = serde_json::to_string(&KeyView::new(&r)).unwrap();
        assert!(
            !text.contains("deadbeef") && !text.contains("hash"),
            "{text}"
        );
        assert!(text.contains("\"state\":\"active\""));
    }

    #[test]
    fn health_cells_and_json() {
        use crate::routing::health::ModelCooling;
        let mut h = HealthReport {
            name: "oai".into(),
            state: HealthState::Open,
            consecutive_failures: 3,
            last_error: Some("HTTP 503".into()),
            last_failure_at: Some(990),
            open_until: Some(1030),
            probing: false,
            cooling: vec![],
        };
        assert_eq!(
            health_cell(&h, 1000),
            "open (3 failures, last: HTTP 503; retry in 30s)"
        );
        let v = serde_json::to_value(
            UpstreamView::new(&upstream()).with_health(Some(std::slice::from_ref(&h))),
        )
        .unwrap();
        assert_eq!(v["health"]["state"], "open");
        assert_eq!(v["health"]["open_until"], "1970-01-01T00:17:10Z");
        h.state = HealthState::Cooling;
        h.cooling = vec![ModelCooling {
            model: "m".into(),
            until: 1060,
            reason: CoolReason::RateLimited,
        }];
        assert_eq!(health_cell(&h, 1000), "cooling (m rate-limited, 1m left)");
        let unknown = serde_json::to_value(UpstreamView::new(&upstream()).with_health(None));
        assert!(unknown.unwrap()["health"].is_null());
    }

    #[test]
    fn usage_average() {
        let row = UsageRow {
            upstream: "oai".into(),
            model: "m".into(),
            counters: UsageCounters {
                requests: 4,
                latency_ms_total: 1000,
                ..Default::default()
            },
        };
        let v = UsageView::new(&row);
        assert_eq!((v.name.as_str(), v.avg_latency_ms), ("oai/m", 250));
    }
}
