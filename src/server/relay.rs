//! The reply on its way back: upstream bytes passed to the client chunk by chunk, as they
//! arrive, never buffered whole. Along the way: the idle timeout (`[timeouts] idle_secs`) and
//! the total one (`total_secs`) end the stream with an error event in the client's dialect (or
//! abort a non-SSE body), the usage scanner counts tokens, and when the relay is dropped (reply
//! done, or client gone) the request is finished in [`Ctx`]. Dropping the relay drops the
//! upstream response, which closes the upstream connection: a client that disconnects cancels
//! the upstream request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper::body::Frame;
use tokio::time::{Instant, Sleep};

use super::body::BoxError;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use crate::upstream::BodyStream;
use crate::usage::scan::Scanner;

/// An upstream reply's body: the client's own stream type, not boxed (one allocation less per
/// request).
pub(crate) type UpstreamStream = BodyStream;

pub(crate) struct Relay {
    first: Option<Bytes>,
    upstream: Option<UpstreamStream>,
    idle: Duration,
    last_activity: Instant,
    /// Both timers start at the first wait on the upstream: a reply that is all there by then
    /// (most non-streamed ones) never arms them.
    idle_timer: Option<Pin<Box<Sleep>>>,
    deadline: Option<Pin<Box<Sleep>>>,
    deadline_at: Instant,
    scanner: Scanner,
    sse: bool,
    status: u16,
    /// Bytes of a reply with a `content-length` not relayed yet: the server drops the body
    /// once that many went out, without polling it for its end, so reaching zero is the end.
    remaining: Option<u64>,
    /// How the reply ended, for the access log; a relay dropped before its end is a client
    /// that went away.
    outcome: &'static str,
    done: bool,
    ctx: Option<Ctx>,
}

impl Relay {
    /// `first` is the chunk already read (to know the upstream answered); `total` counts from
    /// the start of the request.
    pub fn new(
        ctx: Ctx,
        (status, sse, length): (u16, bool, Option<u64>),
        first: Option<Bytes>,
        upstream: UpstreamStream,
        idle: Duration,
        total: Duration,
    ) -> Relay {
        let now = Instant::now();
        Relay {
            first,
            upstream: Some(upstream),
            idle,
            last_activity: now,
            idle_timer: None,
            deadline: None,
            deadline_at: Instant::from_std(ctx.started) + total,
            scanner: if sse { Scanner::sse() } else { Scanner::json() },
            sse,
            status,
            remaining: length,
            outcome: if length == Some(0) {
                "ok"
            } else {
                "client_closed"
            },
            done: false,
            ctx: Some(ctx),
        }
    }

    fn fail(
        &mut self,
        kind: &'static str,
        error: GatewayError,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        // Dropping the response closes the upstream connection now rather than at the end.
        self.upstream = None;
        self.outcome = "stream_error";
        if let Some(ctx) = &self.ctx {
            if let Some(up) = &ctx.upstream {
                ctx.state.metrics.upstream_error(up, kind);
            }
            tracing::warn!(
                upstream = ctx.upstream.as_deref().unwrap_or("-"),
                kind,
                "{}",
                error.message
            );
            if self.sse {
                return Poll::Ready(Some(Ok(Frame::data(error.stream_event(ctx.dialect)))));
            }
        }
        Poll::Ready(Some(Err(Box::new(error))))
    }

    fn data(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.scanner.feed(&chunk);
        if let Some(left) = &mut self.remaining {
            *left = left.saturating_sub(chunk.len() as u64);
            if *left == 0 {
                self.outcome = "ok";
            }
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

impl Stream for Relay {
    type Item = Result<Frame<Bytes>, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take() {
            return this.data(first);
        }
        let Some(upstream) = this.upstream.as_mut() else {
            this.done = true;
            return Poll::Ready(None);
        };
        match upstream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.last_activity = Instant::now();
                this.data(chunk)
            }
            Poll::Ready(Some(Err(e))) => this.fail(
                "stream",
                GatewayError::new(
                    ErrorKind::UpstreamFailed,
                    format!(
                        "the upstream connection failed mid-reply: {}",
                        e.without_url()
                    ),
                )
                .from_upstream(),
            ),
            Poll::Ready(None) => {
                this.done = true;
                this.outcome = "ok";
                this.upstream = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let deadline_at = this.deadline_at;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline_at)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return this.fail(
                        "timeout",
                        GatewayError::new(
                            ErrorKind::Timeout,
                            "the reply took longer than the gateway allows ([timeouts] total_secs)",
                        ),
                    );
                }
                // The idle timer is moved only when it fires, not on every chunk.
                let due = this.last_activity + this.idle;
                let idle_timer = this
                    .idle_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                while idle_timer.as_mut().poll(cx).is_ready() {
                    let due = this.last_activity + this.idle;
                    if due <= Instant::now() {
                        return this.fail(
                            "idle",
                            GatewayError::new(
                                ErrorKind::Timeout,
                                format!(
                                    "the upstream sent nothing for {} s ([timeouts] idle_secs)",
                                    this.idle.as_secs()
                                ),
                            ),
                        );
                    }
                    idle_timer.as_mut().reset(due);
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            let tokens = self.scanner.finish();
            ctx.finish(self.status, tokens, self.outcome);
        }
    }
}
