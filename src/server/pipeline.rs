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
//!
//! This file holds the walk over the candidates ([`Job`]: run, attempt, prepare). Around it:
//! `admit` (key, rate limit, candidates), `credential` (keys, tokens, the 401 refresh-once
//! loop), `outcome` (the one place that books an attempt's failure or success), `reply` (the
//! upstream's answer read for the client), `relay` and `translate` (the reply's body on its
//! way back).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response};

use super::Body;
use super::admit::{admit, candidates};
use super::body::{ReqBody, read_limited};
use super::credential::{Cred, RefreshOnce};
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::fast_body::JsonBody;
use super::inbound::Inbound;
use super::outcome::{Attempt, AttemptClock, Outcome, Turn};
use super::reply::Asked;
use super::state::Snapshot;
use super::stored_responses;
use crate::protocol::codec::RequestHints;
use crate::protocol::{dialect, ir};
use crate::routing::Candidate;
use crate::routing::rules::{self, Edits};
use crate::upstream::Dest;
use crate::upstream::adapter::{self, FastTemplate, ReplyFormat, Target};

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
            let hints = RequestHints {
                model: self.inbound.path_model.clone(),
                stream: Some(self.stream),
            };
            let (dialect, call) = (self.inbound.dialect, self.inbound.call);
            self.ir = Some(dialect::decode_call_request(
                dialect, call, self.raw, &hints,
            )?);
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
        let counts = self.inbound.call.counts_tokens();
        // Bodies without the model (Gemini's) would need rules applied by editing them:
        // translate instead. A count generates nothing, so rules do not touch it.
        let fast = adapter::same_protocol(up, self.inbound.dialect)
            && (self.inbound.model_in_body() || edits.is_empty() || counts)
            && !self.holds_foreign_signatures();
        if fast {
            let (url, headers) = adapter::fast_path(&target, self.inbound.call)
                .map_err(|e| Attempt::Next(GatewayError::cannot_call(&up.name, &e)))?;
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
        if counts {
            // A count that cannot go as the client sent it (another provider's signatures in
            // it) is asked as the upstream's own count, re-encoded without them; its answer
            // is in the client's shape already. Never as a generation.
            let call = adapter::count_tokens(&target, &req)
                .ok_or_else(|| {
                    Attempt::Next(GatewayError::new(
                        ErrorKind::NotImplemented,
                        format!("upstream `{}` cannot count tokens", up.name),
                    ))
                })?
                .map_err(|e| Attempt::Next(GatewayError::cannot_call(&up.name, &e)))?;
            return Ok(Prepared {
                url: Dest::Url(call.url),
                headers: call.headers,
                body: Bytes::from(call.body),
                reply: None,
            });
        }
        let call = adapter::translated(&target, &req, edits).map_err(|e| match e {
            adapter::AdapterError::Codec(c) => Attempt::Fail(c.into()),
            other => Attempt::Next(GatewayError::cannot_call(&up.name, &other)),
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
            .rewrite(
                &cand.model,
                edits,
                cap,
                self.inbound.dialect.fast_path_clears(),
            )
            .map_err(Attempt::Fail)
    }

    /// One candidate's turn: the request prepared (fast path or translated), its credential
    /// (a refused OAuth token replaced once), sent within the first-byte deadline, and the
    /// answer handed to the reply readers.
    async fn attempt(
        &mut self,
        ctx: &mut Ctx,
        cand: &Candidate,
        last: bool,
    ) -> Result<Response<Body>, Attempt> {
        let up = &cand.upstream;
        let clock = AttemptClock::start(ctx.started, &self.snap.config.timeouts);
        let turn = Turn { cand, last, clock };
        let edits = self.edits(ctx, cand)?;
        let mut refresh = RefreshOnce::default();
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
                    let cred = refresh
                        .credential(ctx, self.snap, up)
                        .await
                        .map_err(|e| turn.failed(ctx, Outcome::NoCredential, e))?;
                    // A template has the default headers already.
                    let prepared = self.prepare(cand, &cred, &edits).map(|mut p| {
                        crate::upstream::default_headers(&mut p.headers);
                        p
                    });
                    (cred, prepared)
                }
            };
            let prepared = prepared.inspect_err(|_| turn.record(ctx, Outcome::Unprepared))?;
            let send = ctx
                .state
                .client
                .post(prepared.url, prepared.headers, prepared.body);
            let sent = Instant::now();
            let outcome = tokio::time::timeout_at(clock.deadline, send).await;
            ctx.waited(sent);
            let resp = match outcome {
                Err(_) => {
                    let e = GatewayError::silent(&up.name, clock.first_byte);
                    return Err(turn.failed(ctx, Outcome::Silent, e));
                }
                Ok(Err(e)) => {
                    let e = GatewayError::unreachable(&up.name, &e);
                    return Err(turn.failed(ctx, Outcome::ConnectFailed, e));
                }
                Ok(Ok(resp)) => resp,
            };
            if refresh.retry(resp.status(), &cred) {
                // The refresher's token was refused: replace it once and try again.
                turn.record(ctx, Outcome::TokenRefused);
                continue;
            }
            let asked = self.asked();
            let status = resp.status();
            if status.is_client_error() || status.is_server_error() {
                // Boxed, like the translated reply below: the fast path's future stays small.
                let reply = prepared.reply.as_ref();
                return Box::pin(asked.upstream_error(ctx, &turn, resp, reply)).await;
            }
            let Some(reply) = prepared.reply else {
                return asked.relay_untouched(ctx, &turn, resp).await;
            };
            return Box::pin(asked.translated_reply(ctx, &turn, resp, reply)).await;
        }
    }

    /// The `[[rules]]` edits for `cand`: those whose glob matches the model sent upstream, the
    /// same with the upstream's prefix, or the name the client asked for.
    fn edits(&self, ctx: &Ctx, cand: &Candidate) -> Result<Edits, Attempt> {
        let all = &self.snap.config.rules;
        if all.is_empty() {
            return Ok(Edits::default());
        }
        let prefixed = format!("{}/{}", cand.upstream.name, cand.model);
        let requested = ctx.model.as_deref().unwrap_or_default();
        let matched = rules::matching(all, &[&cand.model, &prefixed, requested]);
        rules::edits(&matched)
            .map_err(|e| Attempt::Fail(GatewayError::new(ErrorKind::Internal, e.to_string())))
    }

    /// What the client asked for, for the reply readers.
    fn asked(&self) -> Asked<'_> {
        Asked {
            inbound: &self.inbound,
            stream: self.stream,
            timeouts: &self.snap.config.timeouts,
            ir: self.ir.as_ref(),
            body_len: self.raw.len(),
            saving: self.saving.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_readers_see_what_the_client_asked_for() {
        let raw = Bytes::from_static(br#"{"model":"m","stream":true,"messages":[]}"#);
        let json = JsonBody::parse(&raw).unwrap();
        let crate::server::inbound::Lookup::Found(inbound) =
            crate::server::inbound::lookup("POST", "/v1/chat/completions", None)
        else {
            panic!("no chat endpoint");
        };
        let state = crate::server::state::State::new(
            crate::config::Config::default(),
            crate::server::state::View::default(),
        )
        .unwrap();
        let snap = state.snapshot();
        let headers = HeaderMap::new();
        let job = Job {
            snap: &snap,
            headers: &headers,
            raw: &raw,
            json: &json,
            inbound,
            stream: true,
            ir: None,
            saving: None,
        };
        let asked = job.asked();
        assert!(asked.stream);
        assert_eq!(asked.body_len, raw.len());
        assert!(asked.ir.is_none() && asked.saving.is_none());
        assert_eq!(asked.timeouts.first_byte_secs, 120);
    }
}
