//! The reply on its way back: upstream bytes passed to the client chunk by chunk, as they
//! arrive, never buffered whole. Along the way: the idle timeout (`[timeouts] idle_secs`) and
//! the total one (`total_secs`) end the stream with an error event in the client's dialect (or
//! abort a non-SSE body), and so does the end of the shutdown grace ([`Cut`]): the event goes
//! at an event boundary, after a `\n\n` when the bytes relayed so far end mid-event (a dialect
//! that `watches_relay` is relayed in whole events instead, [`WholeEvents`]). The usage
//! scanner counts tokens, and when the relay is dropped (reply done, or client gone) the
//! request is finished in [`Ctx`]. Dropping the relay drops the upstream response, which closes
//! the upstream connection: a client that disconnects cancels the upstream request.
//!
//! Also the steps just before: the reply's first chunk read within the first-byte deadline
//! ([`first_chunk`], for every route), and the fast path's response made of the upstream's
//! status and headers minus hop-by-hop ones ([`relay_reply`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::time::{Instant, Sleep};

use super::Body;
use super::body::BoxError;
use super::ctx::Ctx;
use super::cut::{CUT_MESSAGE, Cut, CutWatch};
use super::error::{ErrorKind, GatewayError};
use super::outcome::{Attempt, Outcome, Turn};
use super::shape;
use super::whole_events::WholeEvents;
use crate::config::file::TimeoutsSection;
use crate::protocol::codec::RelayTrail;
use crate::protocol::dialect;
use crate::routing::Candidate;
use crate::upstream::BodyStream;
use crate::usage::scan::Scanner;

/// An upstream reply's body: the client's own stream type, not boxed (one allocation less per
/// request).
pub(crate) type UpstreamStream = BodyStream;

/// What the relay's `poll_next` answers.
type Polled = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

pub(crate) struct Relay {
    first: Option<Bytes>,
    upstream: Option<UpstreamStream>,
    idle: Duration,
    last_activity: Instant,
    /// The idle and total limits' timer, due at the earlier; it starts at the first wait on
    /// the upstream: a reply that is all there by then (most non-streamed ones) never arms it.
    timer: Option<Pin<Box<Sleep>>>,
    deadline_at: Instant,
    scanner: Scanner,
    sse: bool,
    /// SSE: the line ends the bytes relayed so far end with (two: an event boundary).
    line_ends: LineEnds,
    /// SSE: where the relay waits for the end of the shutdown grace.
    watch: CutWatch,
    status: u16,
    /// Bytes of a reply with a `content-length` not relayed yet: the server drops the body
    /// once that many went out, without polling it for its end, so reaching zero is the end.
    remaining: Option<u64>,
    /// How the reply ended, for the access log; a relay dropped before its end is a client
    /// that went away.
    outcome: &'static str,
    done: bool,
    ctx: Option<Ctx>,
    /// What the dialect's own error event will need of the stream relayed so far (Responses:
    /// its last `sequence_number`); `None` for dialects that need nothing, and for non-SSE.
    trail: Option<Box<RelayTrail>>,
    /// The same dialects' streams go out in whole events, so that a cut leaves no partial one
    /// before the error event.
    whole: Option<WholeEvents>,
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
            timer: None,
            deadline_at: Instant::from_std(ctx.started) + total,
            scanner: if sse { Scanner::sse() } else { Scanner::json() },
            sse,
            line_ends: LineEnds::BOUNDARY,
            watch: CutWatch::default(),
            status,
            remaining: length,
            outcome: if length == Some(0) {
                "ok"
            } else {
                "client_closed"
            },
            done: false,
            trail: (sse && ctx.dialect.watches_relay()).then(Box::default),
            whole: (sse && ctx.dialect.watches_relay()).then(WholeEvents::default),
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
                return Poll::Ready(Some(Ok(Frame::data(self.error_event(ctx, &error)))));
            }
        }
        Poll::Ready(Some(Err(Box::new(error))))
    }

    /// The shutdown grace is over: the client's stream error, at an event boundary.
    fn cut(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        self.upstream = None;
        self.outcome = "shutdown";
        let Some(ctx) = &self.ctx else {
            return Poll::Ready(None);
        };
        let error = GatewayError::new(ErrorKind::ShuttingDown, CUT_MESSAGE);
        Poll::Ready(Some(Ok(Frame::data(self.error_event(ctx, &error)))))
    }

    /// The dialect's stream error event for `error`, numbered after what was relayed, after
    /// the line ends that close an event the relayed bytes left open.
    fn error_event(&self, ctx: &Ctx, error: &GatewayError) -> Bytes {
        let none = RelayTrail::default();
        let event = error.stream_event(ctx.dialect, self.trail.as_deref().unwrap_or(&none));
        let missing = self.line_ends.missing();
        if missing == 0 {
            event
        } else {
            let mut out = Vec::with_capacity(missing + event.len());
            out.resize(missing, b'\n');
            out.extend_from_slice(&event);
            Bytes::from(out)
        }
    }

    fn cut_state(&self) -> Option<&Cut> {
        self.ctx.as_ref().map(|c| &c.state.cut)
    }

    /// The frame for `chunk`; `None` when all of it is held back (an unfinished event).
    fn data(&mut self, chunk: Bytes) -> Option<Polled> {
        self.scanner.feed(&chunk);
        let chunk = match &mut self.whole {
            Some(whole) => whole.feed(chunk)?,
            None => chunk,
        };
        if self.sse {
            self.line_ends = self.line_ends.then(&chunk);
            if let (Some(trail), Some(ctx)) = (self.trail.as_deref_mut(), &self.ctx) {
                dialect::watch_relay(ctx.dialect, &chunk, trail);
            }
        }
        if let Some(left) = &mut self.remaining {
            *left = left.saturating_sub(chunk.len() as u64);
            if *left == 0 {
                self.outcome = "ok";
            }
        }
        Some(Poll::Ready(Some(Ok(Frame::data(chunk)))))
    }
}

impl Stream for Relay {
    type Item = Result<Frame<Bytes>, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.sse && this.cut_state().is_some_and(Cut::fired) {
            return this.cut();
        }
        if let Some(first) = this.first.take()
            && let Some(ready) = this.data(first)
        {
            return ready;
        }
        let Some(upstream) = this.upstream.as_mut() else {
            this.done = true;
            return Poll::Ready(None);
        };
        match upstream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.last_activity = Instant::now();
                this.data(chunk).unwrap_or_else(|| {
                    // All of it held back (an event not finished yet): poll again for more.
                    cx.waker().wake_by_ref();
                    Poll::Pending
                })
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
                // An upstream that ended mid-event: its last bytes as it sent them.
                let rest = this.whole.as_mut().and_then(WholeEvents::finish);
                Poll::Ready(rest.map(|rest| Ok(Frame::data(rest))))
            }
            Poll::Pending => {
                // One timer for both limits, due at the earlier one: each wait polls one
                // `Sleep`, not two, and it is moved only when it fires, not on every chunk.
                let due = this.deadline_at.min(this.last_activity + this.idle);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                while timer.as_mut().poll(cx).is_ready() {
                    let now = Instant::now();
                    if this.deadline_at <= now {
                        return this.fail(
                            "timeout",
                            GatewayError::new(
                                ErrorKind::Timeout,
                                "the reply took longer than the gateway allows ([timeouts] total_secs)",
                            ),
                        );
                    }
                    let idle_due = this.last_activity + this.idle;
                    if idle_due <= now {
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
                    timer.as_mut().reset(this.deadline_at.min(idle_due));
                }
                if this.sse
                    && let Some(ctx) = &this.ctx
                    && ctx.state.cut.watch(&mut this.watch, cx.waker())
                {
                    return this.cut();
                }
                Poll::Pending
            }
        }
    }
}

/// The line ends a stream ends with, at most two; `\r\n` is one, even split across chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LineEnds {
    count: u8,
    /// The last byte is a `\r` (counted): a `\n` opening the next chunk completes it.
    cr: bool,
}

impl LineEnds {
    /// Nothing yet, or an event just ended.
    const BOUNDARY: LineEnds = LineEnds {
        count: 2,
        cr: false,
    };

    /// The line ends after `chunk` follows these.
    fn then(self, chunk: &[u8]) -> LineEnds {
        let (before, chunk) = match chunk {
            [b'\n', rest @ ..] if self.cr => (self.count, rest),
            _ => (self.count, chunk),
        };
        let Some(&last) = chunk.last() else {
            return LineEnds {
                count: before,
                cr: false,
            };
        };
        LineEnds {
            count: line_ends(before, chunk),
            cr: last == b'\r',
        }
    }

    /// The bytes of `\n` to send before an event of our own so that it starts an event: a
    /// pending `\r` takes one more, as `\r\n` is a single line end.
    fn missing(self) -> usize {
        usize::from(2 - self.count.min(2)) + usize::from(self.cr && self.count < 2)
    }
}

/// The line ends `chunk` ends with (at most two), counting those before it when it is all line
/// ends; `\r\n` is one.
fn line_ends(before: u8, chunk: &[u8]) -> u8 {
    let mut n = 0u8;
    let mut rest = chunk;
    while n < 2 {
        match rest {
            [head @ .., b'\r', b'\n'] | [head @ .., b'\n' | b'\r'] => {
                rest = head;
                n += 1;
            }
            _ => break,
        }
    }
    if rest.is_empty() && n < 2 {
        n = (n + before).min(2);
    }
    n
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            ctx.state.cut.unwatch(&mut self.watch);
            let tokens = self.scanner.finish();
            ctx.finish(self.status, tokens, self.outcome);
        }
    }
}

// ---- before the relay: the first chunk, the reply's head ----

/// The reply's first body chunk (`None`: the body is empty), read before the turn's first-byte
/// deadline: silence or a lost connection is this candidate's failure, and the next one's
/// turn.
pub(crate) async fn first_chunk(
    ctx: &mut Ctx,
    turn: &Turn<'_>,
    stream: &mut UpstreamStream,
) -> Result<Option<Bytes>, Attempt> {
    // A small reply's body is usually there with its head: no timer needed to wait for it,
    // nor the clock read twice to count a wait that did not happen.
    let next = match stream.next().now_or_never() {
        Some(next) => Ok(next),
        None => {
            let waiting = std::time::Instant::now();
            let next = tokio::time::timeout_at(turn.clock.deadline, stream.next()).await;
            ctx.waited(waiting);
            next
        }
    };
    let up = &turn.cand.upstream.name;
    match next {
        Err(_) => Err(turn.failed(
            ctx,
            Outcome::Silent,
            GatewayError::silent(up, turn.clock.first_byte),
        )),
        Ok(Some(Err(e))) => Err(turn.failed(
            ctx,
            Outcome::ConnectionLost,
            GatewayError::unreachable(up, &e),
        )),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(None) => Ok(None),
    }
}

/// Whether a reply is relayed as an event stream (usage read from its events, a shutdown
/// closing it with an error event): the one test of `content-type` the shape check uses too, so
/// that a stream it lets pass as `Text/Event-Stream` is relayed as one.
fn labelled_sse(content_type: &HeaderValue) -> bool {
    content_type.to_str().is_ok_and(shape::is_event_stream)
}

/// The fast path's reply, relayed byte for byte (`first` read already): the upstream's
/// headers minus hop-by-hop ones, its status, its body chunk by chunk.
pub(crate) fn relay_reply(
    ctx: &mut Ctx,
    cand: &Candidate,
    timeouts: &TimeoutsSection,
    status: StatusCode,
    mut headers: HeaderMap,
    first: Option<Bytes>,
    stream: UpstreamStream,
) -> Response<Body> {
    let idle = Duration::from_secs(timeouts.idle_secs.max(1));
    let total = Duration::from_secs(timeouts.total_secs.max(1));
    let sse = reply_headers(&mut headers);
    ctx.served_by(cand);
    let length = if sse {
        headers.remove(header::CONTENT_LENGTH);
        None
    } else {
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let relay = Relay::new(
        ctx.hand_over(),
        (status.as_u16(), sse, length),
        first,
        stream,
        idle,
        total,
    );
    let mut out = Response::new(StreamBody::new(relay).boxed_unsync());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// The upstream's headers minus hop-by-hop ones and cookies, edited in place; whether they
/// label an event stream ([`labelled_sse`]; one lookup of `content-type` for both).
fn reply_headers(headers: &mut HeaderMap) -> bool {
    static KEEP_ALIVE: http::HeaderName = http::HeaderName::from_static("keep-alive");
    static PROXY_CONNECTION: http::HeaderName = http::HeaderName::from_static("proxy-connection");
    let drop = |name: &http::HeaderName| {
        // Standard names compare as a tag, not as text.
        [
            &header::CONNECTION,
            &header::TRANSFER_ENCODING,
            &header::TE,
            &header::TRAILER,
            &header::UPGRADE,
            &header::SET_COOKIE,
            &header::DATE,
            &KEEP_ALIVE,
            &PROXY_CONNECTION,
        ]
        .contains(&name)
    };
    // One scan of the (few) headers per name present, rather than a lookup for each of them.
    while let Some(name) = headers.keys().find(|k| drop(k)).cloned() {
        headers.remove(name);
    }
    if let Some(label) = headers.get(header::CONTENT_TYPE) {
        return labelled_sse(label);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    false
}

#[cfg(test)]
mod tests {
    use super::{LineEnds, line_ends};

    #[test]
    fn line_ends_across_chunks() {
        assert_eq!(line_ends(2, b"data: {}\n\n"), 2);
        assert_eq!(line_ends(2, b"data: {}\r\n\r\n"), 2);
        assert_eq!(line_ends(0, b"data: {\"a\""), 0);
        assert_eq!(line_ends(2, b"data: {}\n"), 1);
        assert_eq!(line_ends(1, b"\n"), 2);
        assert_eq!(line_ends(0, b"\r\n"), 1);
        assert_eq!(line_ends(2, b""), 2);
        assert_eq!(line_ends(0, b"\n\n\n"), 2);
    }

    fn after(chunks: &[&[u8]]) -> LineEnds {
        chunks
            .iter()
            .fold(LineEnds::BOUNDARY, |ends, chunk| ends.then(chunk))
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_end() {
        let split = after(&[b"data: x\r", b"\n"]);
        assert_eq!(split.count, 1);
        assert_eq!(split.missing(), 1, "one more line end closes the event");
        assert_eq!(after(&[b"data: x\r", b"\n", b"\r", b"\n"]).missing(), 0);
        assert_eq!(after(&[b"data: x\r\n\r", b"\n"]).missing(), 0);
        assert_eq!(after(&[b"data: x\r", b"\n\r\n"]).missing(), 0);
        assert_eq!(after(&[b"data: x\r", b"\r"]).missing(), 0, "two bare CRs");
    }

    #[test]
    fn a_pending_cr_takes_one_more_newline() {
        // "data: x\r" + "\n\n" is CRLF LF: the event ends.
        assert_eq!(after(&[b"data: x\r"]).missing(), 2);
        assert_eq!(after(&[b"data: x\n"]).missing(), 1);
        assert_eq!(after(&[b"data: x\n\r"]).missing(), 0);
        assert_eq!(after(&[]).missing(), 0);
    }

    #[test]
    fn a_stream_the_shape_check_passes_is_relayed_as_one() {
        use http::{HeaderMap, HeaderValue, header};

        use super::{reply_headers, shape};
        for label in [
            "text/event-stream",
            "Text/Event-Stream",
            "TEXT/EVENT-STREAM; charset=utf-8",
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(label));
            assert!(
                shape::stream_label(h.get(header::CONTENT_TYPE)).is_ok(),
                "{label}"
            );
            assert!(reply_headers(&mut h), "{label}");
        }
        let mut h = HeaderMap::new();
        assert!(!reply_headers(&mut h), "no label is JSON");
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!reply_headers(&mut h));
    }
}
