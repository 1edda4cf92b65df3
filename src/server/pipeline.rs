//! Client request -> upstream -> reply, for every chat endpoint and dialect: auth, rate limit,
//! body limit, just enough validation to route, then the candidates in order with failover
//! before the first byte. Per candidate, either
//! * the same-protocol fast path (client dialect = upstream dialect, no rule needing more than
//!   the model): the body forwarded with only the model edited (Gemini: the model is in the
//!   URL, the body untouched) and the reply relayed byte for byte ([`Relay`]); or
//! * translation: the body decoded into the IR once, encoded per candidate by the upstream's
//!   adapter (`upstream::adapter`), and the reply decoded and re-encoded for the client
//!   ([`Translate`] for streams).
//!
//! "Before the first byte" means before the first body chunk: until then nothing has gone to
//! the client, so a connect error, a 5xx, a 429, an upstream silent for `[timeouts]
//! first_byte_secs`, a reply that is not what the client asked for ([`shape`]: an empty body,
//! HTML where JSON was asked for, a body that is no event stream or is not labelled one where a
//! stream was; one whole JSON reply to a stream request is replayed as a stream) or an
//! unreadable reply (a whole one, or a translated stream's first chunk) moves on to the next
//! candidate; the last candidate's failure is the answer (a silent one: 504). Each candidate
//! gets its own `first_byte_secs`, and the request as a whole stays within `total_secs`, so a
//! row of silent upstreams costs at most `min(n * first_byte_secs, total_secs)`; the breaker
//! then takes them out of rotation after a few such failures. From the first chunk on, the
//! reply is the client's. OAuth upstreams get their token from the refresher; a 401 forces one
//! refresh and one retry. An error status whose body is not JSON (a proxy's HTML page) is
//! answered in the client's shape, the upstream's text quoted short; JSON error bodies pass
//! untouched on the fast path.
//!
//! Each outcome feeds the upstream's [`health`](crate::routing::health): connect errors, 5xx,
//! silence and unreadable replies count as failures, 429s cool the (upstream, model) pair, any
//! other answer is a success.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};

use super::Body;
use super::auth;
use super::body::{ReqBody, full, read_limited};
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::inbound::Inbound;
use super::relay::{Relay, UpstreamStream};
use super::request::JsonBody;
use super::shape::{self, Expect, Shape};
use super::state::Snapshot;
use super::stored_responses;
use super::translate::{
    StreamSetup, Translate, collect, collect_prefix, ping_for, response_events, token_counts,
};
use crate::config::file::TimeoutsSection;
use crate::oauth::OAuthError;
use crate::protocol::codec::{CodecError, RequestHints, ResponseCtx};
use crate::protocol::dialect::{self, AnyStreamEncoder};
use crate::protocol::{ir, openai};
use crate::routing::health::{self, CoolReason, Transition};
use crate::routing::rules::{self, Edits};
use crate::routing::{Candidate, RouteError};
use crate::secret::Secret;
use crate::store::records::{ApiKeyRecord, AuthKind, OAuthMeta, UpstreamRecord};
use crate::upstream::adapter::{
    self, Call, Credential, FastTemplate, ReplyFormat, Target, retry_after,
};
use crate::upstream::{Dest, HttpError, UpstreamResponse};

/// How long a daily-quota 429 keeps an upstream out of rotation when Google gives no delay.
const DAILY_QUOTA_COOLDOWN: Duration = Duration::from_secs(3600);
/// The largest whole (non-streamed) upstream reply the gateway reads.
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// How much of an error body that is not JSON is read, to quote it.
const MAX_ERROR_TEXT_BYTES: usize = 64 * 1024;

/// Authenticates and rate-limits a request; returns the key's record.
pub(crate) fn admit<'a>(
    ctx: &Ctx,
    snap: &'a Snapshot,
    parts: &http::request::Parts,
) -> Result<&'a ApiKeyRecord, GatewayError> {
    let key = auth::authenticate_request(
        &snap.keys,
        &snap.key_digests,
        &parts.headers,
        parts.uri.query(),
    )?;
    ctx.state.ledger.key_used(&key.name, crate::oauth::now());
    if let Some(rpm) = key.rpm {
        ctx.state
            .limiter
            .check(&key.name, rpm, Instant::now())
            .map_err(|secs| {
                GatewayError::new(
                    ErrorKind::RateLimited,
                    format!(
                        "API key `{}` is limited to {rpm} requests per minute",
                        key.name
                    ),
                )
                .with_code("rate_limit_exceeded")
                .with_retry_after(secs)
            })?;
    }
    Ok(key)
}

/// The candidates for `model` that `key` may use, in order: open upstreams after the usable
/// ones, cooling and needs-login ones only when nothing else is usable ([`health::order`]).
pub(crate) fn candidates(
    ctx: &Ctx,
    snap: &Snapshot,
    key: &ApiKeyRecord,
    model: &str,
) -> Result<Vec<Candidate>, GatewayError> {
    let route = snap.routes.resolve(model).map_err(route_error)?;
    key_may_use(key, model, &route)?;
    let mut candidates = route.candidates;
    let tokens = ctx.state.tokens();
    health::order(&mut candidates, Instant::now(), |u| {
        tokens.is_some_and(|t| t.needs_login(&u.name))
    });
    Ok(candidates)
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

/// The next candidate, or this error as the answer when `cand` was the last.
fn next_or_fail(last: bool, e: GatewayError) -> Attempt {
    if last {
        Attempt::Fail(e)
    } else {
        Attempt::Next(e)
    }
}

/// A 403 unless `key`'s model globs allow `model`, routed as `route`.
pub(crate) fn key_may_use(
    key: &ApiKeyRecord,
    model: &str,
    route: &crate::routing::Route,
) -> Result<(), GatewayError> {
    // A key without model globs may use every model: no need for the names.
    if key.models.is_empty() || model_allowed(key, model, route) {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorKind::PermissionDenied,
        format!("API key `{}` may not use model `{model}`", key.name),
    )
    .with_code("model_not_allowed"))
}

/// Whether `key`'s model globs allow any name the routed model goes by.
fn model_allowed(key: &ApiKeyRecord, model: &str, route: &crate::routing::Route) -> bool {
    let mut names: Vec<String> = vec![model.to_owned()];
    names.extend(route.alias.iter().cloned());
    for c in &route.candidates {
        names.push(c.model.clone());
        names.push(format!("{}/{}", c.upstream.name, c.model));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    auth::model_allowed(key, &name_refs)
}

/// Serves one chat request (any dialect, any endpoint).
pub(crate) async fn serve(
    ctx: &mut Ctx,
    req: http::Request<ReqBody>,
    inbound: Inbound,
) -> Result<Response<Body>, GatewayError> {
    // `ctx.state` is read where needed rather than cloned: every clone of that `Arc` is an
    // atomic write to a cache line all the workers share.
    let snap = ctx.state.snapshot();
    let (parts, body) = req.into_parts();
    let key = admit(ctx, &snap, &parts)?;
    let config = &snap.config;
    let (max_body, within) = (
        config.limits.max_body_bytes,
        Duration::from_secs(config.timeouts.client_body_secs),
    );
    let raw = read_limited(body, &parts.headers, max_body, within).await?;
    let json = JsonBody::parse(&raw)?;
    let (model, stream) = inbound.model_and_stream(&json)?;
    ctx.model = Some(model);
    let candidates = candidates(ctx, &snap, key, ctx.model.as_deref().unwrap_or_default())?;
    // The Responses API's state: `previous_response_id` expanded into the body, `store` kept.
    let (mut expanded, mut saving) = (None, None);
    if inbound.dialect.stores_replies() {
        (expanded, saving) = stored_responses::prepare(&ctx.state, &key.name, &json).await?;
    }
    let (expanded_raw, expanded_json);
    let (raw, json) = match expanded {
        Some(b) => {
            expanded_raw = b;
            expanded_json = JsonBody::parse(&expanded_raw)?;
            (&expanded_raw, &expanded_json)
        }
        None => (&raw, &json),
    };
    let mut job = Job {
        snap: &snap,
        headers: &parts.headers,
        raw,
        json,
        inbound,
        stream,
        ir: None,
        saving,
    };
    job.run(ctx, &candidates).await
}

/// One request's attempts over its candidates.
struct Job<'a> {
    snap: &'a Snapshot,
    headers: &'a HeaderMap,
    raw: &'a Bytes,
    json: &'a JsonBody<'a>,
    inbound: Inbound,
    stream: bool,
    /// The decoded request, once a candidate needed translation.
    ir: Option<ir::Request>,
    /// Keeping the reply (Responses `store`), when asked.
    saving: Option<stored_responses::Saving>,
}

/// What one attempt sends.
struct Prepared {
    url: Dest,
    headers: HeaderMap,
    body: Bytes,
    /// `None` on the fast path: the reply goes back untouched.
    reply: Option<ReplyFormat>,
}

/// The credential an attempt uses, owned.
pub(crate) enum Cred {
    None,
    Key(Secret),
    OAuth {
        token: Secret,
        meta: OAuthMeta,
    },
    /// AWS Bedrock's, resolved from its chain at use time.
    Aws(crate::upstream::bedrock::credentials::Resolved),
}

impl Cred {
    pub(crate) fn as_credential(&self) -> Credential<'_> {
        match self {
            Cred::None => Credential::None,
            Cred::Key(k) => Credential::ApiKey(k),
            Cred::OAuth { token, meta } => Credential::OAuth { token, meta },
            Cred::Aws(r) => Credential::Aws(r),
        }
    }
}

/// One attempt's clock: when it started, its first-byte deadline, and `first_byte_secs`.
type Timing = (Instant, tokio::time::Instant, Duration);

/// Why an attempt did not produce the reply.
enum Attempt {
    /// Give up and answer with this.
    Fail(GatewayError),
    /// Try the next candidate; this is the error if none is left.
    Next(GatewayError),
}

impl Job<'_> {
    async fn run(
        &mut self,
        ctx: &mut Ctx,
        candidates: &[Candidate],
    ) -> Result<Response<Body>, GatewayError> {
        let mut last_error =
            GatewayError::new(ErrorKind::UpstreamUnreachable, "no upstream answered");
        for (i, cand) in candidates.iter().enumerate() {
            let last = i + 1 == candidates.len();
            match self.attempt(ctx, cand, last).await {
                Ok(resp) => return Ok(resp),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Next(e)) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn decoded(&mut self) -> Result<&ir::Request, GatewayError> {
        if self.ir.is_none() {
            let decoded = match self.inbound.call {
                Call::Completions => openai::decode_completion_request(self.raw),
                _ => dialect::decode_request(
                    self.inbound.dialect,
                    self.raw,
                    &RequestHints {
                        model: self.inbound.path_model.clone(),
                        stream: Some(self.stream),
                    },
                ),
            };
            self.ir = Some(decoded.map_err(codec_error)?);
        }
        self.ir
            .as_ref()
            .ok_or_else(|| GatewayError::new(ErrorKind::Internal, "request not decoded"))
    }

    fn prepare(
        &mut self,
        cand: &Candidate,
        cred: &Cred,
        edits: &Edits,
    ) -> Result<Prepared, Attempt> {
        let config = &self.snap.config;
        let up = &cand.upstream;
        let target = Target {
            config,
            record: up,
            model: &cand.model,
            credential: cred.as_credential(),
            client_dialect: self.inbound.dialect,
            client_headers: self.headers,
        };
        // Bodies without the model (Gemini's) would need rules applied by editing them:
        // translate instead.
        let fast = adapter::same_protocol(up, self.inbound.dialect)
            && (self.inbound.model_in_body() || edits.is_empty())
            && !self.holds_foreign_signatures();
        if fast {
            let (url, headers) = adapter::fast_path(&target, self.inbound.call)
                .map_err(|e| Attempt::Next(adapter_error(&up.name, e)))?;
            return Ok(Prepared {
                url: Dest::Url(url),
                headers,
                body: self.fast_body(cand, edits)?,
                reply: None,
            });
        }
        let stream = self.stream;
        let mut req = self.decoded().map_err(Attempt::Fail)?.clone();
        req.model = cand.model.clone();
        req.stream = stream;
        let call = adapter::translated(&target, &req, edits).map_err(|e| match e {
            adapter::AdapterError::Codec(c) => Attempt::Fail(codec_error(c)),
            other => Attempt::Next(adapter_error(&up.name, other)),
        })?;
        Ok(Prepared {
            url: Dest::Url(call.url),
            headers: call.headers,
            body: Bytes::from(call.body),
            reply: Some(call.reply),
        })
    }

    /// The fast path with the request made ahead ([`FastTemplate`]): an OpenAI client on an
    /// OpenAI-compatible upstream with an API key.
    fn prepare_templated(
        &self,
        cand: &Candidate,
        template: &FastTemplate,
        edits: &Edits,
    ) -> Result<Prepared, Attempt> {
        let (uri, headers) = template.request(self.inbound.call, self.headers);
        Ok(Prepared {
            url: Dest::Uri(uri),
            headers,
            body: self.fast_body(cand, edits)?,
            reply: None,
        })
    }

    /// Whether the client's body carries another provider's signatures in the gateway's
    /// wrapping (a conversation begun on Gemini, continued here): forwarded as it is, the
    /// upstream would refuse the whole request. One `memmem` pass, only on the fast path.
    fn holds_foreign_signatures(&self) -> bool {
        self.inbound
            .dialect
            .foreign_signature_mark()
            .is_some_and(|mark| memchr::memmem::find(self.raw, mark.as_bytes()).is_some())
    }

    /// The client's body for a same-protocol upstream: Gemini's as it is (the model is in the
    /// URL), the others' with the model (and an output-token limit over the model's cap) edited.
    fn fast_body(&self, cand: &Candidate, edits: &Edits) -> Result<Bytes, Attempt> {
        if !self.inbound.model_in_body() {
            return Ok(self.raw.clone());
        }
        let cap = adapter::limits::max_output_tokens(cand.upstream.provider, &cand.model);
        self.json
            .rewrite(&cand.model, edits, cap)
            .map_err(Attempt::Fail)
    }

    async fn attempt(
        &mut self,
        ctx: &mut Ctx,
        cand: &Candidate,
        last: bool,
    ) -> Result<Response<Body>, Attempt> {
        let config = &self.snap.config;
        let up = &cand.upstream;
        let started = Instant::now();
        let first_byte = Duration::from_secs(config.timeouts.first_byte_secs.max(1));
        let total = Duration::from_secs(config.timeouts.total_secs.max(1));
        // Each candidate gets its own first-byte window, all of them within the total.
        let deadline =
            tokio::time::Instant::from_std((started + first_byte).min(ctx.started + total));
        let edits = if config.rules.is_empty() {
            Edits::default()
        } else {
            let prefixed = format!("{}/{}", up.name, cand.model);
            let requested = ctx.model.as_deref().unwrap_or_default();
            let matched = rules::matching(&config.rules, &[&cand.model, &prefixed, requested]);
            rules::edits(&matched)
                .map_err(|e| Attempt::Fail(GatewayError::new(ErrorKind::Internal, e.to_string())))?
        };

        // The token the upstream refused with a 401, once it did: replaced once, then retried.
        let mut refused: Option<Secret> = None;
        // Templates exist for OpenAI-compatible upstreams only, so for their own clients only.
        let template = if adapter::same_protocol(up, self.inbound.dialect) {
            self.snap.fast_template(cand)
        } else {
            None
        };
        loop {
            let (cred, prepared) = match template {
                // Templates are made for API-key upstreams only: no credential to fetch.
                Some(t) => (Cred::None, self.prepare_templated(cand, t, &edits)),
                None => {
                    let cred = credential(ctx, self.snap, up, refused.as_ref())
                        .await
                        .inspect_err(|_| {
                            ctx.attempt_failed(&up.name, &cand.model, "credential", started);
                        })
                        .map_err(Attempt::Next)?;
                    // A template has the default headers already.
                    let prepared = self.prepare(cand, &cred, &edits).map(|mut p| {
                        crate::upstream::default_headers(&mut p.headers);
                        p
                    });
                    (cred, prepared)
                }
            };
            let prepared = prepared
                .inspect_err(|_| ctx.attempt_failed(&up.name, &cand.model, "config", started))?;
            let send = ctx
                .state
                .client
                .post(prepared.url, prepared.headers, prepared.body);
            let sent = Instant::now();
            let outcome = tokio::time::timeout_at(deadline, send).await;
            ctx.waited(sent);
            let resp = match outcome {
                Err(_) => return Err(next_or_fail(last, timeout(ctx, cand, started, first_byte))),
                Ok(Err(e)) => {
                    ctx.attempt_failed(&up.name, &cand.model, "connect", started);
                    breaker_failure(ctx, cand, "connect error");
                    return Err(Attempt::Next(unreachable(&up.name, &e)));
                }
                Ok(Ok(resp)) => resp,
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED
                && refused.is_none()
                && ctx.state.tokens().is_some()
                && let Cred::OAuth { token, .. } = &cred
            {
                // The refresher's token was refused: replace it once and try again.
                ctx.attempt_failed(&up.name, &cand.model, "status_401", started);
                refused = Some(token.clone());
                continue;
            }
            let reply = prepared.reply;
            if status.is_client_error() || status.is_server_error() {
                // Boxed, like the translated reply below: the fast path's future stays small.
                let timing = (started, deadline, first_byte);
                return Box::pin(self.upstream_error(
                    ctx,
                    cand,
                    last,
                    timing,
                    resp,
                    reply.as_ref(),
                ))
                .await;
            }
            let timing = (started, deadline, first_byte);
            let Some(reply) = reply else {
                return self.relay_untouched(ctx, cand, timing, resp, last).await;
            };
            return Box::pin(self.translated_reply(ctx, cand, timing, resp, reply, last)).await;
        }
    }

    /// An error status from the upstream: the next candidate for 5xx and 429 (with a cooldown
    /// when the upstream says how long), else the error in the client's dialect (untouched on
    /// the fast path).
    async fn upstream_error(
        &self,
        ctx: &mut Ctx,
        cand: &Candidate,
        last: bool,
        (started, deadline, first_byte): Timing,
        resp: UpstreamResponse,
        reply: Option<&ReplyFormat>,
    ) -> Result<Response<Body>, Attempt> {
        let up = &cand.upstream;
        let status = resp.status();
        let code = status.as_u16();
        let retry_status = status.is_server_error() || code == 429;
        let Some(reply) = reply else {
            // Fast path: failover on 5xx/429, else the upstream's reply as it is.
            if code == 429
                && let Some(secs) = retry_after(resp.headers())
            {
                cand.health.rate_limited(
                    &cand.model,
                    Duration::from_secs(secs),
                    CoolReason::RateLimited,
                    Instant::now(),
                );
            }
            note_status(ctx, cand, code);
            if !last && retry_status {
                ctx.attempt_failed(&up.name, &cand.model, status_label(code), started);
                return Err(Attempt::Next(GatewayError::new(
                    ErrorKind::UpstreamUnreachable,
                    format!("upstream `{}` answered {code}", up.name),
                )));
            }
            return self
                .fast_error(ctx, cand, (started, deadline, first_byte), resp)
                .await;
        };
        let headers = resp.headers().clone();
        let total = tokio::time::Instant::from_std(ctx.started)
            + Duration::from_secs(self.snap.config.timeouts.total_secs.max(1));
        let reading = Instant::now();
        let body = collect(None, resp.bytes_stream(), total, MAX_REPLY_BYTES)
            .await
            .unwrap_or_default();
        ctx.waited(reading);
        let api = reply.decode_error(code, &headers, &body);
        if code == 429 {
            let cool = match (api.retry_after_secs, api.should_retry) {
                (Some(s), _) => Some((Duration::from_secs(s), CoolReason::RateLimited)),
                (None, Some(false)) => Some((DAILY_QUOTA_COOLDOWN, CoolReason::Quota)),
                _ => None,
            };
            if let Some((d, reason)) = cool {
                cand.health
                    .rate_limited(&cand.model, d, reason, Instant::now());
            }
        }
        note_status(ctx, cand, code);
        ctx.attempt_failed(&up.name, &cand.model, status_label(code), started);
        let err = GatewayError::upstream(api);
        if !last && retry_status {
            return Err(Attempt::Next(err));
        }
        ctx.upstream = Some(up.name.clone());
        ctx.upstream_model = Some(cand.model.clone());
        Err(Attempt::Fail(err))
    }

    async fn translated_reply(
        &self,
        ctx: &mut Ctx,
        cand: &Candidate,
        timing: Timing,
        resp: UpstreamResponse,
        reply: ReplyFormat,
        last: bool,
    ) -> Result<Response<Body>, Attempt> {
        let started = timing.0;
        let state = Arc::clone(&ctx.state);
        let config = &self.snap.config;
        let up = &cand.upstream;
        // Bedrock's replies carry no message id: AWS's request id stands in.
        let message_id = reply.message_id(resp.headers());
        let mut upstream: UpstreamStream = resp.bytes_stream();
        let first = first_chunk(ctx, cand, &mut upstream, timing, last).await?;
        let rctx = self.response_ctx(ctx);
        let idle = Duration::from_secs(config.timeouts.idle_secs.max(1));
        let total = Duration::from_secs(config.timeouts.total_secs.max(1));

        if !self.stream {
            ctx.upstream = Some(up.name.clone());
            ctx.upstream_model = Some(cand.model.clone());
            let total_deadline = tokio::time::Instant::from_std(ctx.started) + total;
            let reading = Instant::now();
            let body = collect(first, upstream, total_deadline, MAX_REPLY_BYTES).await;
            ctx.waited(reading);
            let body = body
                .inspect_err(|_| breaker_failure(ctx, cand, "reply cut short"))
                .map_err(Attempt::Fail)?;
            // Nothing has gone to the client yet: an unreadable reply may still fail over.
            let mut resp = reply.decode_response(&body).map_err(|e| {
                ctx.attempt_failed(&up.name, &cand.model, "invalid_reply", started);
                breaker_failure(ctx, cand, "unreadable reply");
                next_or_fail(last, bad_reply(&up.name, &e))
            })?;
            if let Some(id) = message_id.filter(|_| resp.id.is_empty()) {
                resp.id = id;
            }
            breaker_success(ctx, cand);
            let out = match self.inbound.call {
                Call::Completions => openai::encode_completion_response(&resp, &rctx),
                _ => dialect::encode_response(self.inbound.dialect, &resp, &rctx),
            };
            if let Some(saving) = &self.saving {
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

        let encoder = match self.inbound.call {
            Call::Completions => AnyStreamEncoder::completions(&rctx),
            _ => AnyStreamEncoder::new(self.inbound.dialect, &rctx),
        };
        let setup = StreamSetup {
            decoder: reply.decoder(),
            encoder,
            ping: ping_for(&self.inbound, state.ping_interval()),
            idle,
            total,
            frames: reply.event_stream(message_id.as_deref().unwrap_or_default()),
        };
        // Translated streams are asked for as SSE, whatever the client's framing (but
        // Bedrock's binary event stream, which its frames' CRCs check).
        if setup.frames.is_none()
            && let Shape::Wrong(what) = shape::body(Expect::Sse, first.as_deref())
        {
            return Err(malformed(ctx, cand, started, last, &what));
        }
        // Nothing has gone to the client yet: a first event that cannot be read is this
        // upstream's failure, like an unreadable whole reply.
        let mut translate = Translate::new(ctx.started, upstream, setup);
        if let Some(first) = &first
            && let Err(e) = translate.prime(first)
        {
            ctx.attempt_failed(&up.name, &cand.model, "invalid_reply", started);
            breaker_failure(ctx, cand, "unreadable reply");
            return Err(next_or_fail(last, bad_reply(&up.name, &e)));
        }
        breaker_success(ctx, cand);
        ctx.upstream = Some(up.name.clone());
        ctx.upstream_model = Some(cand.model.clone());
        translate.attach(ctx.hand_over());
        let body = match self.saving.clone() {
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

    /// What the client asked for: an event stream, or one JSON value (a whole reply, or
    /// Gemini's JSON-array stream).
    fn expect(&self) -> Expect {
        if self.stream && !self.inbound.json_array_stream() {
            Expect::Sse
        } else {
            Expect::Json
        }
    }

    /// The fast path's reply to a request the upstream accepted: relayed untouched once its
    /// head and first chunk show it is what the client asked for ([`shape`]).
    async fn relay_untouched(
        &self,
        ctx: &mut Ctx,
        cand: &Candidate,
        timing: Timing,
        resp: UpstreamResponse,
        last: bool,
    ) -> Result<Response<Body>, Attempt> {
        let status = resp.status();
        let (headers, body) = resp.into_parts();
        let mut stream: UpstreamStream = body;
        let first = first_chunk(ctx, cand, &mut stream, timing, last).await?;
        let expect = self.expect();
        let shape = if shape::encoded(&headers) {
            Shape::Fits
        } else {
            shape::body(expect, first.as_deref())
        };
        match shape {
            Shape::Fits => {}
            Shape::WholeJson => {
                return Box::pin(self.whole_for_stream(ctx, cand, timing.0, first, stream, last))
                    .await;
            }
            Shape::Wrong(what) => return Err(malformed(ctx, cand, timing.0, last, &what)),
        }
        if expect == Expect::Sse
            && let Err(what) = shape::stream_label(headers.get(header::CONTENT_TYPE))
        {
            return Err(malformed(ctx, cand, timing.0, last, &what));
        }
        breaker_success(ctx, cand);
        let resp = relay(
            ctx,
            cand,
            &self.snap.config.timeouts,
            status,
            headers,
            first,
            stream,
        );
        // A Responses upstream's reply to a `store` request is kept on its way out.
        Ok(stored_responses::keep_relayed(self.saving.as_ref(), resp))
    }

    /// The fast path's error status, the last word (no failover left or none fits): a JSON
    /// body is relayed as it is; any other (a proxy's HTML page, plain text, nothing) is
    /// answered in the client's shape with the upstream's status and its text quoted short.
    async fn fast_error(
        &self,
        ctx: &mut Ctx,
        cand: &Candidate,
        timing: Timing,
        resp: UpstreamResponse,
    ) -> Result<Response<Body>, Attempt> {
        let status = resp.status();
        let (headers, body) = resp.into_parts();
        let mut stream: UpstreamStream = body;
        let first = first_chunk(ctx, cand, &mut stream, timing, true).await?;
        if shape::is_json(first.as_deref()) || shape::encoded(&headers) {
            return Ok(relay(
                ctx,
                cand,
                &self.snap.config.timeouts,
                status,
                headers,
                first,
                stream,
            ));
        }
        let total = Duration::from_secs(self.snap.config.timeouts.total_secs.max(1));
        let deadline = tokio::time::Instant::from_std(ctx.started) + total;
        let reading = Instant::now();
        let body = collect_prefix(first, stream, deadline, MAX_ERROR_TEXT_BYTES).await;
        ctx.waited(reading);
        let api =
            ReplyFormat::plain(self.inbound.dialect).decode_error(status.as_u16(), &headers, &body);
        ctx.upstream = Some(cand.upstream.name.clone());
        ctx.upstream_model = Some(cand.model.clone());
        Err(Attempt::Fail(GatewayError::upstream(api)))
    }

    /// The fast path's stream request answered with one JSON object (a server that ignores
    /// `stream`, or an error sent with a 200): read whole, and replayed as the stream the
    /// client asked for, as a translated route would; an error or an unreadable body is this
    /// candidate's failure.
    async fn whole_for_stream(
        &self,
        ctx: &mut Ctx,
        cand: &Candidate,
        started: Instant,
        first: Option<Bytes>,
        stream: UpstreamStream,
        last: bool,
    ) -> Result<Response<Body>, Attempt> {
        let up = &cand.upstream;
        let total = Duration::from_secs(self.snap.config.timeouts.total_secs.max(1));
        let deadline = tokio::time::Instant::from_std(ctx.started) + total;
        let reply = ReplyFormat::plain(self.inbound.dialect);
        let reading = Instant::now();
        let body = collect(first, stream, deadline, MAX_REPLY_BYTES).await;
        ctx.waited(reading);
        let resp = match body {
            Ok(body) => reply.decoder().decode_whole(&body),
            Err(e) => Err(e.to_api(self.inbound.dialect)),
        };
        let resp = resp.map_err(|api| {
            ctx.attempt_failed(&up.name, &cand.model, "invalid_reply", started);
            breaker_failure(ctx, cand, "no stream where one was asked for");
            next_or_fail(last, GatewayError::upstream(api))
        })?;
        breaker_success(ctx, cand);
        ctx.upstream = Some(up.name.clone());
        ctx.upstream_model = Some(cand.model.clone());
        let rctx = self.response_ctx(ctx);
        let mut encoder = match self.inbound.call {
            Call::Completions => AnyStreamEncoder::completions(&rctx),
            _ => AnyStreamEncoder::new(self.inbound.dialect, &rctx),
        };
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

    fn response_ctx(&self, ctx: &Ctx) -> ResponseCtx {
        let ir = self.ir.as_ref();
        ResponseCtx {
            model: ctx.model.clone().unwrap_or_default(),
            include_usage: ir.is_some_and(|r| r.stream_include_usage),
            // A rough local estimate (about 4 bytes a token) for Anthropic's `message_start`
            // before the upstream reports usage; the final figures come at the end.
            estimated_input_tokens: (self.raw.len() / 4) as u64,
            json_array_stream: self.inbound.json_array_stream(),
            responses: ir.and_then(|r| dialect::reply_context(self.inbound.dialect, r)),
        }
    }
}

/// The key or token for an upstream. OAuth tokens come from the refresher (after a 401, one
/// that replaces the `refused` token).
pub(crate) async fn credential(
    ctx: &Ctx,
    snap: &Snapshot,
    up: &UpstreamRecord,
    refused: Option<&Secret>,
) -> Result<Cred, GatewayError> {
    if crate::upstream::kinds::spec(up.provider).aws_credentials() {
        return Box::pin(crate::server::bedrock::credential(snap, up)).await;
    }
    match up.auth {
        AuthKind::None => Ok(Cred::None),
        AuthKind::ApiKey => Ok(snap
            .secrets
            .get(&up.name)
            .cloned()
            .map_or(Cred::None, Cred::Key)),
        AuthKind::Oauth => Box::pin(oauth_credential(ctx, up, refused)).await,
    }
}

/// [`credential`] of an OAuth upstream (boxed there: API-key requests need not carry its
/// future).
async fn oauth_credential(
    ctx: &Ctx,
    up: &UpstreamRecord,
    refused: Option<&Secret>,
) -> Result<Cred, GatewayError> {
    let Some(tokens) = ctx.state.tokens() else {
        return Err(GatewayError::new(
            ErrorKind::UpstreamUnreachable,
            format!(
                "OAuth upstream `{}` has no token source: the token refresher is not running",
                up.name
            ),
        ));
    };
    let token = match refused {
        Some(r) => tokens.replace_refused(&up.name, r).await,
        None => tokens.access_token(&up.name).await,
    }
    .map_err(oauth_error)?;
    let meta = tokens.meta(&up.name).await.map_err(oauth_error)?;
    Ok(Cred::OAuth { token, meta })
}

/// A token that cannot be had: a login is needed (401, with the command in the message), or the
/// refresh failed (502).
fn oauth_error(e: OAuthError) -> GatewayError {
    match e {
        OAuthError::NeedsLogin { .. } | OAuthError::NoToken { .. } => {
            GatewayError::new(ErrorKind::Authentication, e.to_string())
                .with_code("oauth_login_required")
        }
        other => GatewayError::new(ErrorKind::UpstreamUnreachable, other.to_string()),
    }
}

/// The reply's first body chunk (`None`: the body is empty), read before `deadline`: silence
/// or a lost connection is this candidate's failure, and the next one's turn unless it is the
/// `last`.
async fn first_chunk(
    ctx: &mut Ctx,
    cand: &Candidate,
    stream: &mut UpstreamStream,
    (started, deadline, first_byte): Timing,
    last: bool,
) -> Result<Option<Bytes>, Attempt> {
    // A small reply's body is usually there with its head: no timer needed to wait for it.
    let waiting = Instant::now();
    let next = match stream.next().now_or_never() {
        Some(next) => Ok(next),
        None => tokio::time::timeout_at(deadline, stream.next()).await,
    };
    ctx.waited(waiting);
    match next {
        Err(_) => Err(next_or_fail(last, timeout(ctx, cand, started, first_byte))),
        Ok(Some(Err(e))) => {
            let up = &cand.upstream.name;
            ctx.attempt_failed(up, &cand.model, "connect", started);
            breaker_failure(ctx, cand, "connection lost");
            Err(next_or_fail(last, unreachable(up, &e)))
        }
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(None) => Ok(None),
    }
}

/// Whether a reply is relayed as an event stream (usage read from its events, a shutdown
/// closing it with an error event): the one test of `content-type` the shape check uses too, so
/// that a stream it lets pass as `Text/Event-Stream` is relayed as one.
fn labelled_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(shape::is_event_stream)
}

/// The fast path's reply, relayed byte for byte (`first` read already): the upstream's
/// headers minus hop-by-hop ones, its status, its body chunk by chunk.
fn relay(
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
    reply_headers(&mut headers);
    let sse = labelled_sse(&headers);
    ctx.upstream = Some(cand.upstream.name.clone());
    ctx.upstream_model = Some(cand.model.clone());
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

/// A reply that is not what the client asked for (`what` it is), seen before anything went to
/// the client: this candidate's failure, and the next one's turn unless it is the `last`.
fn malformed(ctx: &Ctx, cand: &Candidate, started: Instant, last: bool, what: &str) -> Attempt {
    let up = &cand.upstream.name;
    ctx.attempt_failed(up, &cand.model, "invalid_reply", started);
    breaker_failure(ctx, cand, "reply not what was asked for");
    next_or_fail(
        last,
        GatewayError::new(
            ErrorKind::UpstreamFailed,
            format!("upstream `{up}` answered with {what}"),
        )
        .from_upstream(),
    )
}

/// An error status's effect on the breaker: a 5xx is a failure, a 429 neither (its cooldown
/// is set apart), any other answer shows the upstream is up.
fn note_status(ctx: &Ctx, cand: &Candidate, code: u16) {
    if code >= 500 {
        breaker_failure(ctx, cand, &format!("HTTP {code}"));
    } else if code != 429 {
        breaker_success(ctx, cand);
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

/// A client body the codec cannot read: 400 naming the field.
pub(crate) fn codec_error(e: CodecError) -> GatewayError {
    match e {
        CodecError::InvalidJson { field, message } => {
            GatewayError::invalid(&field, format!("invalid request at `{field}`: {message}"))
        }
        CodecError::Invalid(m) => GatewayError::new(ErrorKind::InvalidRequest, m),
        CodecError::Unsupported(m) => {
            GatewayError::new(ErrorKind::InvalidRequest, format!("unsupported: {m}"))
        }
    }
}

/// An upstream reply the gateway cannot read: 502.
fn bad_reply(name: &str, e: &CodecError) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamFailed,
        format!("upstream `{name}` sent a reply the gateway cannot read: {e}"),
    )
    .from_upstream()
}

fn adapter_error(name: &str, e: adapter::AdapterError) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnreachable,
        format!("cannot call upstream `{name}`: {e}"),
    )
}

pub(crate) fn route_error(e: RouteError) -> GatewayError {
    match e {
        RouteError::EmptyModel => GatewayError::invalid("model", e.to_string()),
        RouteError::InvalidModel { .. } => {
            GatewayError::invalid("model", e.to_string()).with_code("invalid_model")
        }
        RouteError::UnknownModel { .. } | RouteError::UpstreamDisabled { .. } => {
            let mut g =
                GatewayError::new(ErrorKind::NotFound, e.to_string()).with_code("model_not_found");
            g.param = Some("model".into());
            g
        }
    }
}

fn timeout(ctx: &Ctx, cand: &Candidate, started: Instant, after: Duration) -> GatewayError {
    ctx.attempt_failed(&cand.upstream.name, &cand.model, "timeout", started);
    breaker_failure(
        ctx,
        cand,
        &format!("no first byte within {} s", after.as_secs()),
    );
    GatewayError::new(
        ErrorKind::Timeout,
        format!(
            "upstream `{}` sent nothing within {} s ([timeouts] first_byte_secs)",
            cand.upstream.name,
            after.as_secs()
        ),
    )
    .from_upstream()
}

fn unreachable(name: &str, e: &HttpError) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnreachable,
        format!("cannot reach upstream `{name}`: {}", error_chain(e)),
    )
    .from_upstream()
}

/// An HTTP error with its causes (`error sending request: connection refused`), without the
/// URL.
pub(crate) fn error_chain(e: &HttpError) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !msg.contains(&s_text) {
            msg = format!("{msg}: {s_text}");
        }
        source = s.source();
    }
    msg
}

/// The upstream's headers minus hop-by-hop ones and cookies, edited in place.
fn reply_headers(headers: &mut HeaderMap) {
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
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_the_shape_check_passes_is_relayed_as_one() {
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
            assert!(labelled_sse(&h), "{label}");
        }
        let mut h = HeaderMap::new();
        assert!(!labelled_sse(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!labelled_sse(&h));
    }
}
