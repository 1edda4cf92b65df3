//! What became of one candidate's turn, booked in one place. The pipeline and the reply readers
//! (`reply`, `relay`) decide what happened and say it as an [`Outcome`]; [`Turn::record`] turns
//! that into its effects: the failed attempt (metrics, usage ledger, a log line), the
//! upstream's breaker (a failure or a success, see [`health`](crate::routing::health)), and a
//! 429's cooldown of the model.
//!
//! Also here: a turn's clock ([`AttemptClock`]: its start, its first-byte deadline, the
//! request's end) and the [`Attempt`] an attempt ends with when it produces no reply.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::ctx::Ctx;
use super::error::GatewayError;
use crate::config::file::TimeoutsSection;
use crate::routing::Candidate;
use crate::routing::health::{CoolReason, Transition};

/// Why an attempt did not produce the reply.
pub(crate) enum Attempt {
    /// Give up and answer with this.
    Fail(GatewayError),
    /// Try the next candidate; this is the answer when none is left.
    Next(GatewayError),
}

/// One attempt's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptClock {
    /// When the attempt started: its latency in the ledger counts from here.
    pub started: Instant,
    /// Its first-byte deadline: `first_byte` after `started`, within the request's `end`.
    pub deadline: tokio::time::Instant,
    /// `[timeouts] first_byte_secs`.
    pub first_byte: Duration,
    /// The whole request's deadline (`[timeouts] total_secs` from its start).
    pub end: tokio::time::Instant,
}

impl AttemptClock {
    /// The clock of an attempt starting now, for a request that started at `request_started`.
    /// Each candidate gets its own first-byte window, all of them within the total.
    pub fn start(request_started: Instant, timeouts: &TimeoutsSection) -> Self {
        let started = Instant::now();
        let first_byte = Duration::from_secs(timeouts.first_byte_secs.max(1));
        let end = request_started + Duration::from_secs(timeouts.total_secs.max(1));
        AttemptClock {
            started,
            deadline: tokio::time::Instant::from_std((started + first_byte).min(end)),
            first_byte,
            end: tokio::time::Instant::from_std(end),
        }
    }
}

/// One candidate's turn: the candidate, whether it is the last, the attempt's clock.
pub(crate) struct Turn<'c> {
    pub cand: &'c Candidate,
    /// No candidate after this one: its failure is the answer, not a reason to go on.
    pub last: bool,
    pub clock: AttemptClock,
}

/// What happened on a turn, as far as bookkeeping goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// No credential could be had (a login is needed, the refresh failed).
    NoCredential,
    /// The upstream's request could not be made (its URL, a header).
    Unprepared,
    /// Nothing within `first_byte_secs`: no head, or no first chunk.
    Silent,
    /// The connection failed before the reply's head.
    ConnectFailed,
    /// The connection broke before the reply's first chunk.
    ConnectionLost,
    /// A 401 to the refresher's token, which is replaced once and the call made again.
    TokenRefused,
    /// An error status. `cool`: how long a 429 keeps the model out, when that is known;
    /// `failed`: counted as a failed attempt (it is passed over, or read as an error).
    Status {
        code: u16,
        cool: Option<(Duration, CoolReason)>,
        failed: bool,
    },
    /// A whole reply cut short while it was read.
    CutShort,
    /// A reply the gateway cannot read.
    Unreadable,
    /// A reply that is not what the client asked for (HTML for JSON, no event stream).
    NotAskedFor,
    /// One JSON object, an error or unreadable, where a stream was asked for.
    NoStream,
    /// The upstream answered as asked.
    Answered,
}

/// What an outcome does to the breaker.
#[derive(Debug, PartialEq)]
enum Breaker {
    /// A failure, with a short, secret-free description for `status`.
    Failure(Cow<'static, str>),
    Success,
    Untouched,
}

impl Outcome {
    /// The failed attempt's label (for metrics and the log), if it is one, and the breaker's
    /// part. `first_byte` words a silence.
    fn effects(self, first_byte: Duration) -> (Option<&'static str>, Breaker) {
        let failure = |what: &'static str| Breaker::Failure(Cow::Borrowed(what));
        match self {
            Outcome::NoCredential => (Some("credential"), Breaker::Untouched),
            Outcome::Unprepared => (Some("config"), Breaker::Untouched),
            Outcome::Silent => (
                Some("timeout"),
                Breaker::Failure(Cow::Owned(format!(
                    "no first byte within {} s",
                    first_byte.as_secs()
                ))),
            ),
            Outcome::ConnectFailed => (Some("connect"), failure("connect error")),
            Outcome::ConnectionLost => (Some("connect"), failure("connection lost")),
            Outcome::TokenRefused => (Some("status_401"), Breaker::Untouched),
            Outcome::Status { code, failed, .. } => {
                // A 5xx is a failure, a 429 neither (its cooldown is set apart), any other
                // answer shows the upstream is up.
                let breaker = if code >= 500 {
                    Breaker::Failure(Cow::Owned(format!("HTTP {code}")))
                } else if code == 429 {
                    Breaker::Untouched
                } else {
                    Breaker::Success
                };
                (failed.then(|| status_label(code)), breaker)
            }
            Outcome::CutShort => (None, failure("reply cut short")),
            Outcome::Unreadable => (Some("invalid_reply"), failure("unreadable reply")),
            Outcome::NotAskedFor => (
                Some("invalid_reply"),
                failure("reply not what was asked for"),
            ),
            Outcome::NoStream => (
                Some("invalid_reply"),
                failure("no stream where one was asked for"),
            ),
            Outcome::Answered => (None, Breaker::Success),
        }
    }
}

fn status_label(code: u16) -> &'static str {
    match code {
        429 => "status_429",
        401 => "status_401",
        c if c >= 500 => "status_5xx",
        _ => "status_4xx",
    }
}

impl Turn<'_> {
    /// Books `outcome`: the failed attempt, the breaker, a 429's cooldown.
    pub fn record(&self, ctx: &Ctx, outcome: Outcome) {
        let cand = self.cand;
        if let Outcome::Status {
            cool: Some((duration, reason)),
            ..
        } = outcome
        {
            cand.health
                .rate_limited(&cand.model, duration, reason, Instant::now());
        }
        let (failed, breaker) = outcome.effects(self.clock.first_byte);
        if let Some(kind) = failed {
            ctx.attempt_failed(&cand.upstream.name, &cand.model, kind, self.clock.started);
        }
        match breaker {
            Breaker::Failure(what) => breaker_failure(ctx, cand, &what),
            Breaker::Success => breaker_success(ctx, cand),
            Breaker::Untouched => {}
        }
    }

    /// Books `outcome` and ends the attempt with `e`: the next candidate's turn, or the answer
    /// when this is the last.
    pub fn failed(&self, ctx: &Ctx, outcome: Outcome, e: GatewayError) -> Attempt {
        self.record(ctx, outcome);
        if self.last {
            Attempt::Fail(e)
        } else {
            Attempt::Next(e)
        }
    }
}

/// An attempt on `cand` failed (`what`: short, secret-free, for `status`).
fn breaker_failure(ctx: &Ctx, cand: &Candidate, what: &str) {
    if let Transition::Opened(cooldown) = cand.health.failure(what, Instant::now()) {
        ctx.state.metrics.breaker(&cand.upstream.name, "open");
        tracing::warn!(
            upstream = %cand.upstream.name,
            cooldown_secs = cooldown.as_secs(),
            failures = cand.health.failures(),
            "circuit breaker open: the upstream is tried last until the cooldown ends"
        );
    }
}

/// `cand` answered: closes its breaker if it was open. Reads only when all was well.
fn breaker_success(ctx: &Ctx, cand: &Candidate) {
    if cand.health.success() == Transition::Closed {
        ctx.state.metrics.breaker(&cand.upstream.name, "closed");
        tracing::info!(upstream = %cand.upstream.name, "circuit breaker closed");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::routing::health::UpstreamHealth;
    use crate::server::state::{State, View};
    use crate::store::records::UpstreamRecord;

    fn candidate() -> Candidate {
        Candidate {
            upstream: Arc::new(UpstreamRecord::sample("up", ProviderKind::Openai)),
            slot: 0,
            model: "m".into(),
            health: UpstreamHealth::detached("up"),
        }
    }

    fn ctx() -> Ctx {
        let state = State::new(Config::default(), View::default()).unwrap();
        let req = http::Request::post("/v1/chat/completions")
            .body(())
            .unwrap();
        Ctx::new(state, &req)
    }

    fn turn(cand: &Candidate) -> Turn<'_> {
        Turn {
            cand,
            last: false,
            clock: AttemptClock::start(Instant::now(), &TimeoutsSection::default()),
        }
    }

    #[test]
    fn each_outcome_has_its_label_and_breaker_effect() {
        let second = Duration::from_secs(7);
        let fail = |s: &'static str| Breaker::Failure(Cow::Borrowed(s));
        let status = |code, failed| Outcome::Status {
            code,
            cool: None,
            failed,
        };
        let table = [
            (
                Outcome::NoCredential,
                Some("credential"),
                Breaker::Untouched,
            ),
            (Outcome::Unprepared, Some("config"), Breaker::Untouched),
            (
                Outcome::Silent,
                Some("timeout"),
                fail("no first byte within 7 s"),
            ),
            (
                Outcome::ConnectFailed,
                Some("connect"),
                fail("connect error"),
            ),
            (
                Outcome::ConnectionLost,
                Some("connect"),
                fail("connection lost"),
            ),
            (
                Outcome::TokenRefused,
                Some("status_401"),
                Breaker::Untouched,
            ),
            (status(503, true), Some("status_5xx"), fail("HTTP 503")),
            (status(500, false), None, fail("HTTP 500")),
            (status(429, true), Some("status_429"), Breaker::Untouched),
            (status(401, true), Some("status_401"), Breaker::Success),
            (status(400, false), None, Breaker::Success),
            (Outcome::CutShort, None, fail("reply cut short")),
            (
                Outcome::Unreadable,
                Some("invalid_reply"),
                fail("unreadable reply"),
            ),
            (
                Outcome::NotAskedFor,
                Some("invalid_reply"),
                fail("reply not what was asked for"),
            ),
            (
                Outcome::NoStream,
                Some("invalid_reply"),
                fail("no stream where one was asked for"),
            ),
            (Outcome::Answered, None, Breaker::Success),
        ];
        for (outcome, label, breaker) in table {
            assert_eq!(outcome.effects(second), (label, breaker), "{outcome:?}");
        }
    }

    #[test]
    fn failures_open_the_breaker_and_an_answer_closes_it() {
        let cand = candidate();
        let ctx = ctx();
        let turn = turn(&cand);
        let now = Instant::now();
        turn.record(&ctx, Outcome::Silent);
        turn.record(&ctx, Outcome::ConnectFailed);
        assert_eq!(cand.health.failures(), 2);
        assert!(!cand.health.is_open(now));
        // Bookkeeping that is not the upstream's fault leaves the breaker alone.
        turn.record(&ctx, Outcome::NoCredential);
        turn.record(&ctx, Outcome::TokenRefused);
        assert_eq!(cand.health.failures(), 2);
        turn.record(
            &ctx,
            Outcome::Status {
                code: 502,
                cool: None,
                failed: true,
            },
        );
        assert!(cand.health.is_open(Instant::now()));
        turn.record(&ctx, Outcome::Answered);
        assert_eq!(cand.health.failures(), 0);
        assert!(!cand.health.is_open(Instant::now()));
        // Every failed attempt is in the usage ledger as an error of (upstream, model).
        let rows = ctx.state.ledger.take();
        let row = rows
            .iter()
            .find(|r| r.upstream == "up" && r.model == "m")
            .unwrap();
        assert_eq!(row.counters.errors, 5);
    }

    #[test]
    fn a_429_cools_the_model_only_when_told_how_long() {
        let cand = candidate();
        let ctx = ctx();
        let turn = turn(&cand);
        let status = |cool| Outcome::Status {
            code: 429,
            cool,
            failed: true,
        };
        turn.record(&ctx, status(None));
        assert!(!cand.health.is_cooling("m", Instant::now()));
        turn.record(
            &ctx,
            status(Some((Duration::from_secs(60), CoolReason::RateLimited))),
        );
        assert!(cand.health.is_cooling("m", Instant::now()));
        assert!(!cand.health.is_cooling("other", Instant::now()));
        // A 429 is no breaker failure.
        assert_eq!(cand.health.failures(), 0);
    }

    #[test]
    fn the_first_byte_deadline_stays_within_the_total() {
        let timeouts = TimeoutsSection {
            first_byte_secs: 60,
            total_secs: 10,
            ..TimeoutsSection::default()
        };
        let request_started = Instant::now();
        let clock = AttemptClock::start(request_started, &timeouts);
        assert_eq!(clock.deadline, clock.end);
        assert_eq!(
            clock.end,
            tokio::time::Instant::from_std(request_started + Duration::from_secs(10))
        );
        let roomy = AttemptClock::start(request_started, &TimeoutsSection::default());
        assert!(roomy.deadline < roomy.end);
        assert_eq!(roomy.first_byte, Duration::from_secs(120));
    }
}
