//! Translated replies on their way back. Streams: upstream bytes -> `SseParser` -> the
//! upstream's stream decoder (through the adapter's [`ReplyDecoder`]: envelope, tool names) ->
//! IR events -> the client's stream encoder -> bytes flushed per upstream chunk, never buffered
//! whole. Whole replies: decoded, re-encoded, accounted.
//!
//! Along a stream: Anthropic clients get `ping` events whenever nothing was sent for the ping
//! interval (Claude Code counts every byte against its idle timer); the idle and total timeouts,
//! a cut connection, undecodable events and a body that ends without the dialect's end marker
//! all become the client dialect's error event (never a silent `message_stop`). Usage comes from
//! the IR events; the request is finished in [`Ctx`] when the stream is dropped, which also
//! drops the upstream response: a client that leaves cancels the upstream request.

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
use super::relay::UpstreamStream;
use crate::protocol::codec::{AnyStreamEncoder, CodecError};
use crate::protocol::ir::{ApiError, Dialect, ErrorKind as IrKind, Usage};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::protocol::stream::StreamEvent;
use crate::upstream::adapter::ReplyDecoder;
use crate::usage::TokenCounts;

/// What a stream needs besides the upstream body.
pub(crate) struct StreamSetup {
    pub decoder: ReplyDecoder,
    pub encoder: AnyStreamEncoder,
    /// `Some` for Anthropic clients.
    pub ping: Option<Duration>,
    pub idle: Duration,
    pub total: Duration,
}

pub(crate) struct Translate {
    ctx: Option<Ctx>,
    upstream: Option<UpstreamStream>,
    parser: SseParser,
    decoder: ReplyDecoder,
    encoder: AnyStreamEncoder,
    sse: Vec<SseEvent>,
    events: Vec<StreamEvent>,
    /// Encoded bytes not yet handed to hyper.
    out: Vec<u8>,
    usage: Option<Usage>,
    saw_event: bool,
    ping: Option<Duration>,
    ping_timer: Pin<Box<Sleep>>,
    last_sent: Instant,
    idle: Duration,
    last_activity: Instant,
    idle_timer: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    outcome: &'static str,
    /// No more upstream input; `out` may still hold the last bytes.
    ended: bool,
    done: bool,
}

impl Translate {
    pub fn new(ctx: Ctx, upstream: UpstreamStream, setup: StreamSetup) -> Translate {
        let now = Instant::now();
        let deadline = Instant::from_std(ctx.started) + setup.total;
        let ping_every = setup.ping.unwrap_or(Duration::from_secs(3600));
        Translate {
            ctx: Some(ctx),
            upstream: Some(upstream),
            parser: SseParser::new(),
            decoder: setup.decoder,
            encoder: setup.encoder,
            sse: Vec::new(),
            events: Vec::new(),
            out: Vec::new(),
            usage: None,
            saw_event: false,
            ping: setup.ping,
            ping_timer: Box::pin(tokio::time::sleep_until(now + ping_every)),
            last_sent: now,
            idle: setup.idle,
            last_activity: now,
            idle_timer: Box::pin(tokio::time::sleep_until(now + setup.idle)),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            outcome: "client_closed",
            ended: false,
            done: false,
        }
    }

    /// Translates the first chunk before anything is sent, so that an upstream speaking
    /// garbage still gets a real status (502) rather than a 200 with an error event.
    pub fn prime(&mut self, first: &Bytes) -> Result<(), CodecError> {
        let mut sse = std::mem::take(&mut self.sse);
        let parsed = self.parser.push(first, &mut sse);
        let result = parsed
            .map_err(|e| CodecError::Invalid(e.to_string()))
            .and_then(|()| {
                sse.iter()
                    .try_for_each(|ev| self.decoder.feed(ev, &mut self.events))
            });
        sse.clear();
        self.sse = sse;
        result?;
        self.encode_events();
        Ok(())
    }

    fn encode_events(&mut self) {
        for ev in self.events.drain(..) {
            self.saw_event = true;
            match &ev {
                StreamEvent::MessageStart { usage, .. } => {
                    self.usage.get_or_insert(*usage);
                }
                StreamEvent::MessageDelta { usage, .. } => self.usage = Some(*usage),
                StreamEvent::MessageStop => self.outcome = "ok",
                StreamEvent::Error(e) => {
                    self.outcome = "stream_error";
                    self.ended = true;
                    tracing::warn!(
                        upstream = self
                            .ctx
                            .as_ref()
                            .and_then(|c| c.upstream.as_deref())
                            .unwrap_or("-"),
                        status = e.status,
                        "upstream stream failed: {}",
                        e.message
                    );
                }
                _ => {}
            }
            self.encoder.encode(&ev, &mut self.out);
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let mut sse = std::mem::take(&mut self.sse);
        if let Err(e) = self.parser.push(chunk, &mut sse) {
            self.fail(
                IrKind::BadGateway,
                502,
                format!("invalid SSE from the upstream: {e}"),
            );
        }
        for ev in &sse {
            if self.ended {
                break;
            }
            if let Err(e) = self.decoder.feed(ev, &mut self.events) {
                self.encode_events();
                self.fail(
                    IrKind::BadGateway,
                    502,
                    format!("the upstream sent an event the gateway cannot read: {e}"),
                );
            }
        }
        sse.clear();
        self.sse = sse;
        self.encode_events();
    }

    fn end_of_body(&mut self) {
        let mut sse = std::mem::take(&mut self.sse);
        let _ = self.parser.finish(&mut sse);
        for ev in &sse {
            if self.decoder.feed(ev, &mut self.events).is_err() {
                break;
            }
        }
        self.sse = sse;
        if !self.ended {
            if !self.saw_event && self.events.is_empty() {
                self.fail(
                    IrKind::BadGateway,
                    502,
                    "the upstream reply ended without a single event".into(),
                );
            } else {
                let _ = self.decoder.finish(&mut self.events);
            }
        }
        self.encode_events();
        self.ended = true;
    }

    /// Ends the stream with the client dialect's error event.
    fn fail(&mut self, kind: IrKind, status: u16, message: String) {
        if self.ended {
            return;
        }
        self.encode_events();
        self.events
            .push(StreamEvent::Error(ApiError::new(status, kind, message)));
        self.encode_events();
        self.ended = true;
        self.upstream = None;
        if let Some(ctx) = &self.ctx
            && let Some(up) = &ctx.upstream
        {
            ctx.state.metrics.upstream_error(up, "stream");
        }
    }

    /// The bytes encoded so far, as the next frame.
    fn take_out(&mut self) -> Option<Frame<Bytes>> {
        if self.out.is_empty() {
            return None;
        }
        self.last_sent = Instant::now();
        Some(Frame::data(Bytes::from(std::mem::take(&mut self.out))))
    }
}

impl Stream for Translate {
    type Item = Result<Frame<Bytes>, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(frame) = this.take_out() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if this.ended {
                this.done = true;
                this.upstream = None;
                return Poll::Ready(None);
            }
            let Some(upstream) = this.upstream.as_mut() else {
                this.end_of_body();
                continue;
            };
            match upstream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.last_activity = Instant::now();
                    this.feed(&chunk);
                }
                Poll::Ready(Some(Err(e))) => this.fail(
                    IrKind::BadGateway,
                    502,
                    format!(
                        "the upstream connection failed mid-reply: {}",
                        e.without_url()
                    ),
                ),
                Poll::Ready(None) => {
                    this.upstream = None;
                    this.end_of_body();
                }
                Poll::Pending => {
                    if this.deadline.as_mut().poll(cx).is_ready() {
                        this.fail(
                            IrKind::Timeout,
                            504,
                            "the reply took longer than the gateway allows ([timeouts] total_secs)"
                                .into(),
                        );
                        continue;
                    }
                    let now = Instant::now();
                    let mut idle_fired = false;
                    while this.idle_timer.as_mut().poll(cx).is_ready() {
                        let due = this.last_activity + this.idle;
                        if due <= now {
                            idle_fired = true;
                            break;
                        }
                        this.idle_timer.as_mut().reset(due);
                    }
                    if idle_fired {
                        let secs = this.idle.as_secs();
                        this.fail(
                            IrKind::Timeout,
                            504,
                            format!(
                                "the upstream sent nothing for {secs} s ([timeouts] idle_secs)"
                            ),
                        );
                        continue;
                    }
                    if let Some(every) = this.ping {
                        while this.ping_timer.as_mut().poll(cx).is_ready() {
                            let due = this.last_sent + every;
                            if due <= Instant::now() {
                                this.encoder.encode(&StreamEvent::Ping, &mut this.out);
                                this.ping_timer.as_mut().reset(Instant::now() + every);
                                break;
                            }
                            this.ping_timer.as_mut().reset(due);
                        }
                        if !this.out.is_empty() {
                            continue;
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for Translate {
    fn drop(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            let tokens = self.usage.map(|u| token_counts(&u));
            ctx.finish(200, tokens, self.outcome);
        }
    }
}

pub(crate) fn token_counts(u: &Usage) -> TokenCounts {
    TokenCounts {
        input: u.input_tokens,
        output: u.output_tokens,
        cache_read: u.cache_read_tokens,
        cache_write: u.cache_write_tokens,
    }
}

/// Reads a whole upstream body (the first chunk already read) under the total deadline.
pub(crate) async fn collect(
    first: Option<Bytes>,
    mut rest: UpstreamStream,
    deadline: Instant,
    max: usize,
) -> Result<Bytes, GatewayError> {
    let mut buf = Vec::new();
    if let Some(f) = first {
        buf.extend_from_slice(&f);
    }
    loop {
        match tokio::time::timeout_at(deadline, rest.next()).await {
            Err(_) => {
                return Err(GatewayError::new(
                    ErrorKind::Timeout,
                    "the reply took longer than the gateway allows ([timeouts] total_secs)",
                )
                .from_upstream());
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(e))) => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamFailed,
                    format!(
                        "the upstream connection failed mid-reply: {}",
                        e.without_url()
                    ),
                )
                .from_upstream());
            }
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > max {
                    return Err(GatewayError::new(
                        ErrorKind::UpstreamFailed,
                        format!("the upstream reply is larger than {max} bytes"),
                    )
                    .from_upstream());
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}

/// The ping interval for a client of `dialect`, if it gets pings.
pub(crate) fn ping_for(dialect: Dialect, every: Duration) -> Option<Duration> {
    (dialect == Dialect::Anthropic && !every.is_zero()).then_some(every)
}
