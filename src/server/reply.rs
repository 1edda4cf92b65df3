//! The upstream's answer to one attempt, read for the client ([`Asked`]: what the client asked
//! for, as these readers need it):
//! * an error status: the next candidate's turn for a 5xx or a 429 (with the model's cooldown
//!   when the upstream says how long), else the answer, untouched on the fast path when its
//!   body is JSON, in the client's shape otherwise;
//! * the fast path's reply, relayed untouched once its head and first chunk show it is what
//!   the client asked for ([`shape`]), or, one whole JSON reply to a stream request, replayed
//!   as a stream;
//! * a translated reply, whole (decoded and re-encoded) or streamed ([`Translate`]).
//!
//! Until one of these returns a response nothing has gone to the client, so an unreadable or
//! unasked-for reply is still this candidate's failure. Every outcome is booked through
//! [`Turn::record`].

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};

use super::Body;
use super::body::full;
use super::ctx::Ctx;
use super::error::GatewayError;
use super::inbound::Inbound;
use super::outcome::{Attempt, Outcome, Turn};
use super::relay::{UpstreamStream, first_chunk, relay_reply};
use super::shape::{self, Expect, Shape};
use super::stored_responses;
use super::translate::{
    StreamSetup, Translate, collect, collect_prefix, ping_for, response_events, token_counts,
};
use crate::config::file::TimeoutsSection;
use crate::protocol::codec::ResponseCtx;
use crate::protocol::dialect::{self, AnyStreamEncoder};
use crate::protocol::ir;
use crate::routing::health::CoolReason;
use crate::upstream::UpstreamResponse;
use crate::upstream::adapter::{ReplyFormat, retry_after};

/// How long a daily-quota 429 keeps an upstream out of rotation when Google gives no delay.
const DAILY_QUOTA_COOLDOWN: Duration = Duration::from_secs(3600);
/// The largest whole (non-streamed) upstream reply the gateway reads.
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// How much of an error body that is not JSON is read, to quote it.
const MAX_ERROR_TEXT_BYTES: usize = 64 * 1024;

/// What the client asked for, as the reply readers need it.
pub(crate) struct Asked<'a> {
    pub inbound: &'a Inbound,
    pub stream: bool,
    pub timeouts: &'a TimeoutsSection,
    /// The decoded request, once a candidate needed translation.
    pub ir: Option<&'a ir::Request>,
    /// The length of the client's body (a token estimate until the upstream reports usage).
    pub body_len: usize,
    /// Keeping the reply (Responses `store`), when asked.
    pub saving: Option<&'a stored_responses::Saving>,
}

impl Asked<'_> {
    /// An error status from the upstream: the next candidate for 5xx and 429 (with a cooldown
    /// when the upstream says how long), else the error in the client's dialect (untouched on
    /// the fast path, whose `reply` is `None`).
    pub async fn upstream_error(
        &self,
        ctx: &mut Ctx,
        turn: &Turn<'_>,
        resp: UpstreamResponse,
        reply: Option<&ReplyFormat>,
    ) -> Result<Response<Body>, Attempt> {
        let up = &turn.cand.upstream;
        let status = resp.status();
        let code = status.as_u16();
        let passed_over = !turn.last && (status.is_server_error() || code == 429);
        let Some(reply) = reply else {
            // Fast path: failover on 5xx/429, else the upstream's reply as it is.
            let cool = if code == 429 {
                retry_after(resp.headers())
                    .map(|secs| (Duration::from_secs(secs), CoolReason::RateLimited))
            } else {
                None
            };
            let failed = passed_over;
            turn.record(ctx, Outcome::Status { code, cool, failed });
            if passed_over {
                let e = GatewayError::status_passed_over(&up.name, code);
                return Err(Attempt::Next(e));
            }
            return self.fast_error(ctx, turn, resp).await;
        };
        let headers = resp.headers().clone();
        let reading = Instant::now();
        let body = collect(None, resp.bytes_stream(), turn.clock.end, MAX_REPLY_BYTES)
            .await
            .unwrap_or_default();
        ctx.waited(reading);
        let api = reply.decode_error(code, &headers, &body);
        let cool = if code == 429 {
            match (api.retry_after_secs, api.should_retry) {
                (Some(s), _) => Some((Duration::from_secs(s), CoolReason::RateLimited)),
                (None, Some(false)) => Some((DAILY_QUOTA_COOLDOWN, CoolReason::Quota)),
                _ => None,
            }
        } else {
            None
        };
        let failed = true;
        turn.record(ctx, Outcome::Status { code, cool, failed });
        let err = GatewayError::upstream(api);
        if passed_over {
            return Err(Attempt::Next(err));
        }
        ctx.served_by(turn.cand);
        Err(Attempt::Fail(err))
    }

    /// A translated reply: decoded from the upstream's dialect and encoded in the client's,
    /// whole or as a stream.
    pub async fn translated_reply(
        &self,
        ctx: &mut Ctx,
        turn: &Turn<'_>,
        resp: UpstreamResponse,
        reply: ReplyFormat,
    ) -> Result<Response<Body>, Attempt> {
        let cand = turn.cand;
        let up = &cand.upstream;
        // Bedrock's replies carry no message id: AWS's request id stands in.
        let message_id = reply.message_id(resp.headers());
        let mut upstream: UpstreamStream = resp.bytes_stream();
        let first = first_chunk(ctx, turn, &mut upstream).await?;
        let rctx = self.response_ctx(ctx);

        if !self.stream {
            ctx.served_by(cand);
            let reading = Instant::now();
            let body = collect(first, upstream, turn.clock.end, MAX_REPLY_BYTES).await;
            ctx.waited(reading);
            let body = body
                .inspect_err(|_| turn.record(ctx, Outcome::CutShort))
                .map_err(Attempt::Fail)?;
            // Nothing has gone to the client yet: an unreadable reply may still fail over.
            let mut resp = reply.decode_response(&body).map_err(|e| {
                let err = GatewayError::unreadable_reply(&up.name, &e);
                turn.failed(ctx, Outcome::Unreadable, err)
            })?;
            if let Some(id) = message_id.filter(|_| resp.id.is_empty()) {
                resp.id = id;
            }
            turn.record(ctx, Outcome::Answered);
            let (dialect, call) = (self.inbound.dialect, self.inbound.call);
            let out = dialect::encode_call_response(dialect, call, &resp, &rctx);
            if let Some(saving) = self.saving {
                saving.whole(&out);
            }
            ctx.finish(200, Some(token_counts(&resp.usage)), "ok");
            let mut r = Response::new(full(out));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(r);
        }

        let setup = StreamSetup {
            decoder: reply.decoder(),
            encoder: self.encoder(&rctx),
            ping: ping_for(self.inbound, ctx.state.ping_interval()),
            idle: Duration::from_secs(self.timeouts.idle_secs.max(1)),
            total: Duration::from_secs(self.timeouts.total_secs.max(1)),
            frames: reply.event_stream(message_id.as_deref().unwrap_or_default()),
        };
        // Translated streams are asked for as SSE, whatever the client's framing (but
        // Bedrock's binary event stream, which its frames' CRCs check).
        if setup.frames.is_none()
            && let Shape::Wrong(what) = shape::body(Expect::Sse, first.as_deref())
        {
            return Err(not_asked_for(ctx, turn, &what));
        }
        // Nothing has gone to the client yet: a first event that cannot be read is this
        // upstream's failure, like an unreadable whole reply.
        let mut translate = Translate::new(ctx.started, upstream, setup);
        if let Some(first) = &first
            && let Err(e) = translate.prime(first)
        {
            let err = GatewayError::unreadable_reply(&up.name, &e);
            return Err(turn.failed(ctx, Outcome::Unreadable, err));
        }
        turn.record(ctx, Outcome::Answered);
        ctx.served_by(cand);
        translate.attach(ctx.hand_over());
        let body = match self.saving.cloned() {
            Some(mut saving) => StreamBody::new(translate.inspect(move |item| {
                if let Ok(data) = item.as_ref().map(|f| f.data_ref()) {
                    data.inspect(|d| saving.tap(d));
                }
            }))
            .boxed_unsync(),
            None => StreamBody::new(translate).boxed_unsync(),
        };
        let mut out = Response::new(body);
        let content_type = if rctx.json_array_stream {
            "application/json"
        } else {
            "text/event-stream"
        };
        let h = out.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Ok(out)
    }

    /// The fast path's reply to a request the upstream accepted: relayed untouched once its
    /// head and first chunk show it is what the client asked for ([`shape`]).
    pub async fn relay_untouched(
        &self,
        ctx: &mut Ctx,
        turn: &Turn<'_>,
        resp: UpstreamResponse,
    ) -> Result<Response<Body>, Attempt> {
        let status = resp.status();
        let (headers, body) = resp.into_parts();
        let mut stream: UpstreamStream = body;
        let first = first_chunk(ctx, turn, &mut stream).await?;
        let expect = self.expect();
        let shape = if shape::encoded(&headers) {
            Shape::Fits
        } else {
            shape::body(expect, first.as_deref())
        };
        match shape {
            Shape::Fits => {}
            Shape::WholeJson => {
                return Box::pin(self.whole_for_stream(ctx, turn, first, stream)).await;
            }
            Shape::Wrong(what) => return Err(not_asked_for(ctx, turn, &what)),
        }
        if expect == Expect::Sse
            && let Err(what) = shape::stream_label(headers.get(header::CONTENT_TYPE))
        {
            return Err(not_asked_for(ctx, turn, &what));
        }
        turn.record(ctx, Outcome::Answered);
        let timeouts = self.timeouts;
        let resp = relay_reply(ctx, turn.cand, timeouts, status, headers, first, stream);
        // A Responses upstream's reply to a `store` request is kept on its way out.
        Ok(stored_responses::keep_relayed(self.saving, resp))
    }

    /// The fast path's error status, the last word (no failover left or none fits): a JSON
    /// body is relayed as it is; any other (a proxy's HTML page, plain text, nothing) is
    /// answered in the client's shape with the upstream's status and its text quoted short.
    async fn fast_error(
        &self,
        ctx: &mut Ctx,
        turn: &Turn<'_>,
        resp: UpstreamResponse,
    ) -> Result<Response<Body>, Attempt> {
        let status = resp.status();
        let (headers, body) = resp.into_parts();
        let mut stream: UpstreamStream = body;
        // This status is the answer already: silence or a break after its head ends the
        // request too, whatever candidates are left.
        let answer = Turn {
            last: true,
            ..*turn
        };
        let first = first_chunk(ctx, &answer, &mut stream).await?;
        if shape::is_json(first.as_deref()) || shape::encoded(&headers) {
            let timeouts = self.timeouts;
            return Ok(relay_reply(
                ctx, turn.cand, timeouts, status, headers, first, stream,
            ));
        }
        let reading = Instant::now();
        let body = collect_prefix(first, stream, turn.clock.end, MAX_ERROR_TEXT_BYTES).await;
        ctx.waited(reading);
        let api =
            ReplyFormat::plain(self.inbound.dialect).decode_error(status.as_u16(), &headers, &body);
        ctx.served_by(turn.cand);
        Err(Attempt::Fail(GatewayError::upstream(api)))
    }

    /// The fast path's stream request answered with one JSON object (a server that ignores
    /// `stream`, or an error sent with a 200): read whole, and replayed as the stream the
    /// client asked for, as a translated route would; an error or an unreadable body is this
    /// candidate's failure.
    async fn whole_for_stream(
        &self,
        ctx: &mut Ctx,
        turn: &Turn<'_>,
        first: Option<Bytes>,
        stream: UpstreamStream,
    ) -> Result<Response<Body>, Attempt> {
        let reply = ReplyFormat::plain(self.inbound.dialect);
        let reading = Instant::now();
        let body = collect(first, stream, turn.clock.end, MAX_REPLY_BYTES).await;
        ctx.waited(reading);
        let resp = match body {
            Ok(body) => reply.decoder().decode_whole(&body),
            Err(e) => Err(e.to_api(self.inbound.dialect)),
        };
        let resp =
            resp.map_err(|api| turn.failed(ctx, Outcome::NoStream, GatewayError::upstream(api)))?;
        turn.record(ctx, Outcome::Answered);
        ctx.served_by(turn.cand);
        let rctx = self.response_ctx(ctx);
        let mut encoder = self.encoder(&rctx);
        let mut events = Vec::new();
        response_events(&resp, &mut events);
        let mut out = Vec::new();
        for ev in &events {
            encoder.encode(ev, &mut out);
        }
        ctx.finish(200, Some(token_counts(&resp.usage)), "ok");
        let mut r = Response::new(full(out));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Ok(r)
    }

    /// What the client asked for: an event stream, or one JSON value (a whole reply, or
    /// Gemini's JSON-array stream).
    fn expect(&self) -> Expect {
        if self.stream && !self.inbound.json_array_stream() {
            Expect::Sse
        } else {
            Expect::Json
        }
    }

    /// The client's stream encoder.
    fn encoder(&self, rctx: &ResponseCtx) -> AnyStreamEncoder {
        AnyStreamEncoder::for_call(self.inbound.dialect, self.inbound.call, rctx)
    }

    fn response_ctx(&self, ctx: &Ctx) -> ResponseCtx {
        ResponseCtx {
            model: ctx.model.clone().unwrap_or_default(),
            include_usage: self.ir.is_some_and(|r| r.stream_include_usage),
            // A rough local estimate (about 4 bytes a token) for Anthropic's `message_start`
            // before the upstream reports usage; the final figures come at the end.
            estimated_input_tokens: (self.body_len / 4) as u64,
            json_array_stream: self.inbound.json_array_stream(),
            responses: self
                .ir
                .and_then(|r| dialect::reply_context(self.inbound.dialect, r)),
        }
    }
}

/// A reply that is not what the client asked for (`what` it is), seen before anything went to
/// the client: this candidate's failure.
fn not_asked_for(ctx: &Ctx, turn: &Turn<'_>, what: &str) -> Attempt {
    let err = GatewayError::not_asked_for(&turn.cand.upstream.name, what);
    turn.failed(ctx, Outcome::NotAskedFor, err)
}
