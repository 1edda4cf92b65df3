//! `GET /metrics`: Prometheus text from prometheus-client. Requests by route, upstream, model
//! and status; latency by route; tokens in and out by upstream and model; upstream failures by
//! kind; circuit breaker transitions by upstream; the gateway's own time by route
//! ([`Overhead`]). Labels carry only routed model names, so
//! unknown names cannot blow up cardinality.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::overhead::{Overhead, OverheadMetric};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    upstream: String,
    model: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    upstream: String,
    model: String,
    direction: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamErrorLabels {
    upstream: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    upstream: String,
    /// `open` or `closed`.
    to: &'static str,
}

fn latency_histogram() -> Histogram {
    // 5 ms .. ~160 s
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

/// The metric handles for one (route, upstream, model, status), kept per worker thread so that
/// counting a request allocates no label strings and takes no family lock. Handles share their
/// values with the families (which never drop a series), so the exposition sees every count.
#[derive(Clone)]
struct Hot {
    metrics: u64,
    route: &'static str,
    status: u16,
    upstream: Box<str>,
    model: Box<str>,
    requests: Counter,
    latency: Histogram,
    /// In and out, made on the first token report (a series only once there are tokens).
    tokens: Option<(Counter, Counter)>,
}

/// How many label sets a thread keeps (a laptop's few upstreams and models; past it, start over).
const HOT_MAX: usize = 64;

thread_local! {
    static HOT: RefCell<Vec<Hot>> = const { RefCell::new(Vec::new()) };
}

pub struct Metrics {
    /// Tells this instance's handles apart in the per-thread cache ([`Hot`]).
    id: u64,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    tokens: Family<TokenLabels, Counter>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    breaker: Family<BreakerLabels, Counter>,
    /// The gateway's own time per request, by route.
    pub(crate) overhead: Arc<Overhead>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("llm_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        let breaker = Family::<BreakerLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route, upstream, model and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to the end of the reply",
            latency.clone(),
        );
        registry.register(
            "tokens",
            "Tokens reported by upstreams, by direction (in, out)",
            tokens.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream attempts, by kind (connect, timeout, status_5xx, status_429, stream)",
            upstream_errors.clone(),
        );
        registry.register(
            "upstream_breaker_transitions",
            "Circuit breaker state changes, by upstream and new state (open, closed)",
            breaker.clone(),
        );
        let overhead = Arc::new(Overhead::default());
        registry.register(
            "overhead_seconds",
            "Time spent in the gateway itself per request (to the reply's head, upstream waits \
             excluded), by route",
            OverheadMetric(Arc::clone(&overhead)),
        );
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            latency,
            tokens,
            upstream_errors,
            breaker,
            overhead,
        }
    }

    pub fn request(
        &self,
        route: &'static str,
        upstream: Option<&str>,
        model: Option<&str>,
        status: u16,
        latency: Duration,
    ) {
        let (upstream, model) = (upstream.unwrap_or_default(), model.unwrap_or_default());
        HOT.with_borrow_mut(|hot| {
            let found = hot.iter().find(|h| {
                h.metrics == self.id
                    && h.route == route
                    && h.status == status
                    && *h.upstream == *upstream
                    && *h.model == *model
            });
            let fresh;
            let h = match found {
                Some(h) => h,
                None => {
                    fresh = self.hot(route, upstream, model, status);
                    if hot.len() >= HOT_MAX {
                        hot.clear();
                    }
                    hot.push(fresh.clone());
                    &fresh
                }
            };
            h.requests.inc();
            h.latency.observe(latency.as_secs_f64());
        });
    }

    pub fn tokens(&self, upstream: &str, model: &str, input: u64, output: u64) {
        HOT.with_borrow_mut(|hot| {
            let entry = hot
                .iter_mut()
                .find(|h| h.metrics == self.id && *h.upstream == *upstream && *h.model == *model);
            let made;
            let (tokens_in, tokens_out) = match entry {
                Some(h) => h
                    .tokens
                    .get_or_insert_with(|| self.token_pair(upstream, model)),
                None => {
                    made = self.token_pair(upstream, model);
                    &made
                }
            };
            tokens_in.inc_by(input);
            tokens_out.inc_by(output);
        });
    }

    fn token_pair(&self, upstream: &str, model: &str) -> (Counter, Counter) {
        (
            self.token(upstream, model, "in"),
            self.token(upstream, model, "out"),
        )
    }

    fn token(&self, upstream: &str, model: &str, direction: &'static str) -> Counter {
        self.tokens
            .get_or_create(&TokenLabels {
                upstream: upstream.to_string(),
                model: model.to_string(),
                direction,
            })
            .clone()
    }

    /// The handles for one label set, from the families (creating the series).
    fn hot(&self, route: &'static str, upstream: &str, model: &str, status: u16) -> Hot {
        Hot {
            metrics: self.id,
            route,
            status,
            upstream: upstream.into(),
            model: model.into(),
            requests: self
                .requests
                .get_or_create(&RequestLabels {
                    route,
                    upstream: upstream.to_string(),
                    model: model.to_string(),
                    status,
                })
                .clone(),
            latency: self.latency.get_or_create(&RouteLabels { route }).clone(),
            tokens: None,
        }
    }

    pub fn upstream_error(&self, upstream: &str, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&UpstreamErrorLabels {
                upstream: upstream.to_string(),
                kind,
            })
            .inc();
    }

    /// A circuit breaker opened (`to` = "open") or closed ("closed").
    pub fn breaker(&self, upstream: &str, to: &'static str) {
        self.breaker
            .get_or_create(&BreakerLabels {
                upstream: upstream.to_string(),
                to,
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new();
        m.request(
            "chat",
            Some("oai"),
            Some("gpt-4o"),
            200,
            Duration::from_millis(20),
        );
        m.tokens("oai", "gpt-4o", 10, 3);
        m.upstream_error("oai", "connect");
        m.breaker("oai", "open");
        let text = m.render();
        assert!(
            text.contains(
                "llm_gateway_upstream_breaker_transitions_total{upstream=\"oai\",to=\"open\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("llm_gateway_requests_total{route=\"chat\",upstream=\"oai\",model=\"gpt-4o\",status=\"200\"} 1"), "{text}");
        assert!(
            text.contains(
                "llm_gateway_tokens_total{upstream=\"oai\",model=\"gpt-4o\",direction=\"in\"} 10"
            ),
            "{text}"
        );
        assert!(
            text.contains("llm_gateway_upstream_errors_total{upstream=\"oai\",kind=\"connect\"} 1")
        );
        assert!(text.contains("llm_gateway_request_duration_seconds_bucket"));
    }

    /// Handles cached per thread count into their own instance, again and again.
    #[test]
    fn cached_handles_count_into_their_own_metrics() {
        let (a, b) = (Metrics::new(), Metrics::new());
        let ms = Duration::from_millis(5);
        for _ in 0..3 {
            a.request("chat", Some("oai"), Some("m"), 200, ms);
        }
        b.request("chat", Some("oai"), Some("m"), 200, ms);
        b.request("chat", Some("oai"), Some("m"), 500, ms);
        a.tokens("oai", "m", 7, 1);
        a.tokens("oai", "m", 3, 1);
        let series = |route_status: &str| {
            format!(
                "llm_gateway_requests_total{{route=\"chat\",upstream=\"oai\",model=\"m\",status=\"{route_status}\"}}"
            )
        };
        let (ta, tb) = (a.render(), b.render());
        assert!(ta.contains(&format!("{} 3", series("200"))), "{ta}");
        assert!(!ta.contains(&series("500")), "{ta}");
        assert!(tb.contains(&format!("{} 1", series("200"))), "{tb}");
        assert!(tb.contains(&format!("{} 1", series("500"))), "{tb}");
        assert!(
            ta.contains(
                "llm_gateway_tokens_total{upstream=\"oai\",model=\"m\",direction=\"in\"} 10"
            ),
            "{ta}"
        );
        // No token series without token reports.
        assert!(!tb.contains("llm_gateway_tokens_total{"), "{tb}");
    }
}
