//! The per-request context: what the access log, the metrics and the usage ledger need to know
//! about a request, filled in as it is routed, and [`Ctx::finish`], called exactly once when the
//! reply ends (for a stream: when its last byte is sent or the client goes away).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::Dialect;
use super::state::State;
use super::telemetry::{self, Access};
use crate::routing::Candidate;
use crate::usage::{Outcome, TokenCounts};

pub(crate) struct Ctx {
    pub state: Arc<State>,
    pub method: http::Method,
    /// Logged without its query, which may hold `?key=`. A copy, not a clone of the request's
    /// URI: hyper slices that out of the connection's read buffer, so a clone kept the buffer
    /// alive for as long as a stream ran, beside the one hyper then reads into.
    path: Box<str>,
    /// A short, fixed route name for metrics labels.
    pub route: &'static str,
    pub dialect: Dialect,
    pub started: Instant,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The upstream that answered, and the model name it was sent.
    pub upstream: Option<String>,
    pub upstream_model: Option<String>,
    /// Time spent waiting for upstreams until the reply's head (`None`: none was called):
    /// what `Server-Timing` and the overhead histogram take out of the gateway's own time.
    pub upstream_wait: Option<Duration>,
    /// Set once the request is logged and counted; a context dropped before that is a client
    /// that went away while the gateway was still waiting for an upstream.
    finished: bool,
}

impl Ctx {
    pub fn new<B>(state: Arc<State>, req: &http::Request<B>) -> Ctx {
        Ctx {
            state,
            method: req.method().clone(),
            path: req.uri().path().into(),
            route: "other",
            dialect: super::error::guess_dialect(req.headers()),
            started: Instant::now(),
            model: None,
            upstream: None,
            upstream_model: None,
            upstream_wait: None,
            finished: false,
        }
    }

    /// Moves this request's context out (into the relay that will finish it), leaving a spent
    /// one behind that logs nothing.
    pub fn hand_over(&mut self) -> Ctx {
        self.finished = true;
        Ctx {
            state: Arc::clone(&self.state),
            method: self.method.clone(),
            path: std::mem::take(&mut self.path),
            route: self.route,
            dialect: self.dialect,
            started: self.started,
            model: self.model.take(),
            upstream: self.upstream.take(),
            upstream_model: self.upstream_model.take(),
            // Copied: the router reads it for the reply's head after the hand-over.
            upstream_wait: self.upstream_wait,
            finished: false,
        }
    }

    /// `cand` gives the answer: the access log, metrics and ledger name it from now on.
    pub fn served_by(&mut self, cand: &Candidate) {
        self.upstream = Some(cand.upstream.name.clone());
        self.upstream_model = Some(cand.model.clone());
    }

    /// Counts the time since `since` as waiting for an upstream.
    pub fn waited(&mut self, since: Instant) {
        *self.upstream_wait.get_or_insert_default() += since.elapsed();
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A failed attempt at one upstream before moving on to the next (or giving up).
    pub fn attempt_failed(
        &self,
        upstream: &str,
        model: &str,
        kind: &'static str,
        started: Instant,
    ) {
        self.state.metrics.upstream_error(upstream, kind);
        self.state.ledger.record(
            upstream,
            model,
            &Outcome {
                error: true,
                latency: started.elapsed(),
                tokens: None,
            },
        );
        tracing::warn!(upstream, model, kind, "upstream attempt failed");
    }

    /// Records the end of the reply: metrics, usage (when an upstream answered) and the access
    /// log line.
    pub fn finish(&mut self, status: u16, tokens: Option<TokenCounts>, outcome: &str) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let latency = self.elapsed();
        let error = status >= 400 || outcome != "ok";
        let state = &self.state;
        state.metrics.request(
            self.route,
            self.upstream.as_deref(),
            self.upstream_model.as_deref(),
            status,
            latency,
        );
        if let (Some(up), Some(model)) = (&self.upstream, &self.upstream_model) {
            state.ledger.record(
                up,
                model,
                &Outcome {
                    error,
                    latency,
                    tokens,
                },
            );
            if let Some(t) = tokens {
                state
                    .metrics
                    .tokens(up, model, t.input + t.cache_read + t.cache_write, t.output);
            }
        }
        telemetry::access(&Access {
            method: self.method.as_str(),
            path: &self.path,
            model: self.model.as_deref(),
            upstream: self.upstream.as_deref(),
            upstream_model: self.upstream_model.as_deref(),
            status,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            tokens,
            outcome,
        });
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // 499: nginx's "client closed request", the usual name for it in access logs.
        self.finish(499, None, "client_closed");
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::config::Config;
    use crate::server::state::View;

    /// hyper slices a request's head out of the connection's read buffer. The context outlives
    /// the request (a stream keeps it to the end), so it must keep no slice of that buffer.
    #[test]
    fn the_context_keeps_no_part_of_the_connection_buffer() {
        let buffer = Bytes::from(b"POST /v1/chat/completions?key=sk-x HTTP/1.1\r\n".to_vec());
        let uri = http::Uri::from_maybe_shared(buffer.slice(5..34)).unwrap();
        let req = http::Request::post(uri).body(()).unwrap();
        let state = State::new(Config::default(), View::default()).unwrap();
        let mut ctx = Ctx::new(state, &req);
        drop(req);
        assert!(
            buffer.is_unique(),
            "the context holds a slice of the read buffer"
        );
        let handed = ctx.hand_over();
        assert_eq!(&*handed.path, "/v1/chat/completions");
    }
}
