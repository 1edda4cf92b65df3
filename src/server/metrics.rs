//! `GET /metrics`: Prometheus text from prometheus-client. Requests by route, upstream, model
//! and status; latency by route; tokens in and out by upstream and model; upstream failures by
//! kind; circuit breaker transitions by upstream. Labels carry only routed model names, so unknown names cannot blow up cardinality.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    tokens: Family<TokenLabels, Counter>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    breaker: Family<BreakerLabels, Counter>,
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
        Metrics {
            registry,
            requests,
            latency,
            tokens,
            upstream_errors,
            breaker,
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
        self.requests
            .get_or_create(&RequestLabels {
                route,
                upstream: upstream.unwrap_or_default().to_string(),
                model: model.unwrap_or_default().to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(latency.as_secs_f64());
    }

    pub fn tokens(&self, upstream: &str, model: &str, input: u64, output: u64) {
        for (direction, n) in [("in", input), ("out", output)] {
            self.tokens
                .get_or_create(&TokenLabels {
                    upstream: upstream.to_string(),
                    model: model.to_string(),
                    direction,
                })
                .inc_by(n);
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
}
