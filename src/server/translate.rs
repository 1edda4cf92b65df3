//! Translated replies on their way back. Streams: upstream bytes -> `SseParser` (or, for
//! Bedrock, the event-stream frames of `upstream::bedrock::StreamBody`) -> the
//! upstream's stream decoder (through the adapter's [`ReplyDecoder`]: envelope, tool names) ->
//! IR events -> the client's stream encoder -> bytes flushed per upstream chunk, never buffered
//! whole. Whole replies: decoded, re-encoded, accounted.
//!
//! Along a stream: every SSE client gets a keep-alive whenever nothing was sent for the ping
//! interval (Claude Code counts every byte against its idle timer, and so do HTTP clients'
//! read timeouts), in the dialect's own form (the encoder's `keep_alive`); Gemini's JSON-array
//! stream gets none. The idle and total timeouts,
//! a cut connection, undecodable events and a body that ends without the dialect's end marker
//! all become the client dialect's error event (never a silent `message_stop`), and so does the
//! end of the shutdown grace ([`Cut`](super::cut::Cut)). An upstream that
//! answers a stream request with one whole JSON reply (some OpenAI-compatible servers ignore
//! `stream`) is read whole and replayed as a complete stream. Usage comes from
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
use super::cut::{CUT_MESSAGE, CutWatch};
use super::error::{ErrorKind, GatewayError};
use super::inbound::Inbound;
use super::relay::UpstreamStream;
use crate::protocol::codec::CodecError;
use crate::protocol::dialect::AnyStreamEncoder;
use crate::protocol::ir::{self, ApiError, Block, ErrorKind as IrKind, Signature, Usage};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};
use crate::upstream::adapter::ReplyDecoder;
use crate::usage::TokenCounts;

/// What a stream needs besides the upstream body.
pub(crate) struct StreamSetup {
    pub decoder: ReplyDecoder,
    pub encoder: AnyStreamEncoder,
    /// The keep-alive interval ([`ping_for`]).
    pub ping: Option<Duration>,
    pub idle: Duration,
    pub total: Duration,
    /// The body's framing when it is not SSE: Bedrock's binary event stream, whose reader
    /// gives block-model events itself (`decoder` then only reads a whole JSON reply).
    pub frames: Option<crate::upstream::bedrock::StreamBody>,
}

pub(crate) struct Translate {
    ctx: Option<Ctx>,
    upstream: Option<UpstreamStream>,
    parser: SseParser,
    frames: Option<crate::upstream::bedrock::StreamBody>,
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
    /// Whether the body's first non-blank byte was seen.
    sniffed: bool,
    /// A whole JSON reply being read (its first byte was `{`, which no SSE line starts with).
    whole: Option<Vec<u8>>,
    /// Where the stream waits for the end of the shutdown grace.
    watch: CutWatch,
}

/// The largest whole JSON reply read in place of a stream.
const MAX_WHOLE_BYTES: usize = 64 * 1024 * 1024;

impl Translate {
    /// A stream for the request that started at `started`; it is the request's once
    /// [`Translate::attach`] gives it the context (after [`Translate::prime`], which may still
    /// send the request to the next upstream).
    pub fn new(
        started: std::time::Instant,
        upstream: UpstreamStream,
        setup: StreamSetup,
    ) -> Translate {
        let now = Instant::now();
        let deadline = Instant::from_std(started) + setup.total;
        let ping_every = setup.ping.unwrap_or(Duration::from_secs(3600));
        Translate {
            ctx: None,
            upstream: Some(upstream),
            parser: SseParser::new(),
            frames: setup.frames,
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
            sniffed: false,
            whole: None,
            watch: CutWatch::default(),
        }
    }

    /// Makes the stream the request's: it finishes `ctx` when it ends.
    pub fn attach(&mut self, ctx: Ctx) {
        self.ctx = Some(ctx);
        self.encode_events();
    }

    /// Takes `chunk` into the whole-reply buffer when the body is one JSON object; `false`
    /// when it is (or may be) SSE.
    fn take_whole(&mut self, chunk: &[u8]) -> bool {
        if !self.sniffed
            && let Some(b) = chunk.iter().find(|b| !b.is_ascii_whitespace())
        {
            self.sniffed = true;
            if *b == b'{' {
                self.whole = Some(Vec::new());
            }
        }
        let Some(buf) = self.whole.as_mut() else {
            return false;
        };
        if buf.len() + chunk.len() > MAX_WHOLE_BYTES {
            self.whole = None;
            self.fail(
                IrKind::BadGateway,
                502,
                format!("the upstream reply is larger than {MAX_WHOLE_BYTES} bytes"),
            );
        } else {
            buf.extend_from_slice(chunk);
        }
        true
    }

    /// The whole JSON reply, replayed as a complete stream (or its error event).
    fn finish_whole(&mut self, body: &[u8]) {
        match self.decoder.decode_whole(body) {
            Ok(resp) => response_events(&resp, &mut self.events),
            Err(e) => self.events.push(StreamEvent::Error(e)),
        }
        self.encode_events();
        self.ended = true;
    }

    /// Decodes the first chunk before anything is sent, so that an upstream speaking garbage
    /// can still fail over, or get a real status (502) rather than a 200 with an error event.
    pub fn prime(&mut self, first: &Bytes) -> Result<(), CodecError> {
        if let Some(frames) = self.frames.as_mut() {
            return frames.push(first, &mut self.events);
        }
        if self.take_whole(first) {
            return Ok(());
        }
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
        // Encoded once attached: an error event among them is logged with the upstream's name.
        result
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
        if let Some(frames) = self.frames.as_mut() {
            let read = frames.push(chunk, &mut self.events);
            self.encode_events();
            if let Err(e) = read {
                self.fail(
                    IrKind::BadGateway,
                    502,
                    format!("the upstream sent an event the gateway cannot read: {e}"),
                );
            }
            return;
        }
        if self.take_whole(chunk) {
            return;
        }
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
        if let Some(mut frames) = self.frames.take() {
            if !self.ended {
                let read = frames.finish(&mut self.events);
                self.encode_events();
                if let Err(e) = read
                    && !self.ended
                {
                    self.fail(
                        IrKind::BadGateway,
                        502,
                        format!("the upstream stream ended badly: {e}"),
                    );
                }
            }
            self.ended = true;
            return;
        }
        if let Some(body) = self.whole.take() {
            self.finish_whole(&body);
            return;
        }
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

    /// The shutdown grace is over: the stream ends with the client's error event, which does
    /// not blame the upstream.
    fn cut(&mut self) {
        if self.ended {
            return;
        }
        self.encode_events();
        let error = ApiError::new(503, IrKind::Unavailable, CUT_MESSAGE);
        self.encoder
            .encode(&StreamEvent::Error(error), &mut self.out);
        self.outcome = "shutdown";
        self.ended = true;
        self.upstream = None;
    }

    fn cut_fired(&self) -> bool {
        self.ctx.as_ref().is_some_and(|c| c.state.cut.fired())
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
            if !this.ended && this.cut_fired() {
                this.cut();
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
                                this.encoder.keep_alive(&mut this.out);
                                this.ping_timer.as_mut().reset(Instant::now() + every);
                                break;
                            }
                            this.ping_timer.as_mut().reset(due);
                        }
                        if !this.out.is_empty() {
                            continue;
                        }
                    }
                    if let Some(ctx) = &this.ctx
                        && ctx.state.cut.watch(&mut this.watch, cx.waker())
                    {
                        this.cut();
                        continue;
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
            ctx.state.cut.unwatch(&mut self.watch);
            let tokens = self.usage.map(|u| token_counts(&u));
            ctx.finish(200, tokens, self.outcome);
        }
    }
}

/// A whole reply as the stream that would have carried it: message start, each block with
/// its content in one delta (and its signature), message delta with the stop reason and usage,
/// message stop.
pub(crate) fn response_events(resp: &ir::Response, out: &mut Vec<StreamEvent>) {
    out.push(StreamEvent::MessageStart {
        id: resp.id.clone(),
        model: resp.model.clone(),
        usage: resp.usage,
    });
    let mut index = 0;
    for block in &resp.content {
        let (start, deltas) = match block {
            Block::Text {
                text, signature, ..
            } => (
                BlockStart::Text,
                [
                    (!text.is_empty()).then(|| Delta::Text(text.to_string())),
                    signed(signature),
                ],
            ),
            Block::Thinking { text, signature } => (
                BlockStart::Thinking,
                [
                    (!text.is_empty()).then(|| Delta::Thinking(text.clone())),
                    signed(signature),
                ],
            ),
            Block::RedactedThinking { data } => (
                BlockStart::RedactedThinking { data: data.clone() },
                [None, None],
            ),
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => (
                BlockStart::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                    signature: signature.clone(),
                },
                [Some(Delta::ToolInputJson(input.to_string())), None],
            ),
            // Not in an assistant reply.
            Block::Image(_)
            | Block::ToolResult { .. }
            | Block::Document(_)
            | Block::Unknown { .. } => continue,
        };
        let redacted = matches!(start, BlockStart::RedactedThinking { .. });
        if !redacted && deltas.iter().all(Option::is_none) {
            // An empty text or thinking block: clients echo them back, and Anthropic rejects
            // them in history.
            continue;
        }
        out.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        for delta in deltas.into_iter().flatten() {
            out.push(StreamEvent::BlockDelta { index, delta });
        }
        out.push(StreamEvent::BlockStop { index });
        index += 1;
    }
    out.push(StreamEvent::MessageDelta {
        stop_reason: resp.stop_reason.clone(),
        stop_sequence: resp.stop_sequence.clone(),
        usage: resp.usage,
    });
    out.push(StreamEvent::MessageStop);
}

fn signed(sig: &Option<Signature>) -> Option<Delta> {
    sig.clone().map(Delta::Signature)
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

/// Up to `max` bytes of an upstream body (the first chunk already read), for quoting: what came
/// before the body ended, failed, grew past `max` or ran past `deadline`.
pub(crate) async fn collect_prefix(
    first: Option<Bytes>,
    mut rest: UpstreamStream,
    deadline: Instant,
    max: usize,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut next = first.map(Ok);
    while buf.len() < max {
        let chunk = match next.take() {
            Some(chunk) => chunk,
            None => match tokio::time::timeout_at(deadline, rest.next()).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) | Err(_) => break,
            },
        };
        let Ok(chunk) = chunk else { break };
        let room = max - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    buf
}

/// The keep-alive interval for a streaming client, if it gets keep-alives: every SSE client
/// does; Gemini's JSON-array stream (`:streamGenerateContent` without `alt=sse`) does not.
pub(crate) fn ping_for(inbound: &Inbound, every: Duration) -> Option<Duration> {
    (!every.is_zero() && !inbound.json_array_stream()).then_some(every)
}
