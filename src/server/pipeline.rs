//! Client request -> upstream -> reply. Today: the OpenAI same-protocol fast path (chat and
//! legacy completions to OpenAI-compatible upstreams): auth, rate limit, body limit, just
//! enough validation to route, the model edit (and `[[rules]]`), then candidates in order with
//! failover before the first byte, and the reply relayed untouched.
//!
//! "Before the first byte" means before the first body chunk: until then nothing has gone to
//! the client, so a connect error, a 5xx or a 429 moves on to the next candidate, and a silent
//! upstream becomes a 504. From the first chunk on, the reply is the client's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;

use super::Body;
use super::auth;
use super::body::read_limited;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::relay::Relay;
use super::request::JsonBody;
use super::state::Snapshot;
use crate::routing::{Candidate, RouteError, rules};
use crate::store::records::{ApiKeyRecord, AuthKind};
use crate::upstream::{api_base, authorize, speaks_openai};

/// The OpenAI endpoints served on the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenAiEndpoint {
    Chat,
    Completions,
}

impl OpenAiEndpoint {
    fn upstream_path(self) -> &'static str {
        match self {
            OpenAiEndpoint::Chat => "/chat/completions",
            OpenAiEndpoint::Completions => "/completions",
        }
    }
}

/// Marks a response whose [`Relay`] logs and accounts for it when it ends.
#[derive(Clone, Copy)]
pub(crate) struct Relayed;

/// Authenticates and rate-limits a request; returns the key's record.
pub(crate) fn admit<'a>(
    ctx: &Ctx,
    snap: &'a Snapshot,
    parts: &http::request::Parts,
) -> Result<&'a ApiKeyRecord, GatewayError> {
    let presented = auth::presented_key(&parts.headers, parts.uri.query());
    let key = auth::authenticate(&snap.keys, presented.as_ref())?;
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

pub(crate) async fn openai(
    ctx: &mut Ctx,
    req: http::Request<Incoming>,
    endpoint: OpenAiEndpoint,
) -> Result<Response<Body>, GatewayError> {
    let state = Arc::clone(&ctx.state);
    let snap = state.snapshot();
    let (parts, body) = req.into_parts();
    let key = admit(ctx, &snap, &parts)?;

    let raw = read_limited(body, &parts.headers, state.config.limits.max_body_bytes).await?;
    let json = JsonBody::parse(&raw)?;
    let model = json.model()?;
    ctx.model = Some(model.clone());
    match endpoint {
        OpenAiEndpoint::Chat => json.require("messages", &["an array"])?,
        OpenAiEndpoint::Completions => json.require("prompt", &["a string", "an array"])?,
    }
    json.stream()?;

    let route = snap.routes.resolve(&model).map_err(route_error)?;
    let mut names: Vec<String> = vec![model.clone()];
    names.extend(route.alias.iter().cloned());
    for c in &route.candidates {
        names.push(c.model.clone());
        names.push(format!("{}/{}", c.upstream.name, c.model));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    if !auth::model_allowed(key, &name_refs) {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("API key `{}` may not use model `{model}`", key.name),
        )
        .with_code("model_not_allowed"));
    }

    let usable: Vec<Candidate> = route
        .candidates
        .iter()
        .filter(|c| speaks_openai(c.upstream.provider) && c.upstream.auth != AuthKind::Oauth)
        .cloned()
        .collect();
    if usable.is_empty() {
        let c = route.candidates.first();
        return Err(GatewayError::new(
            ErrorKind::NotImplemented,
            format!(
                "model `{model}` is served by upstream `{}` ({}), which this gateway cannot reach from the OpenAI API yet",
                c.map(|c| c.upstream.name.as_str()).unwrap_or("-"),
                c.map(|c| c.upstream.provider.as_str()).unwrap_or("-"),
            ),
        ));
    }
    let candidates = state.cooldowns.filter(usable, Instant::now());
    send(ctx, &snap, &parts.headers, &json, &candidates, endpoint).await
}

fn route_error(e: RouteError) -> GatewayError {
    match e {
        RouteError::EmptyModel => GatewayError::invalid("model", e.to_string()),
        RouteError::UnknownModel { .. } | RouteError::UpstreamDisabled { .. } => {
            let mut g =
                GatewayError::new(ErrorKind::NotFound, e.to_string()).with_code("model_not_found");
            g.param = Some("model".into());
            g
        }
    }
}

/// Tries the candidates in order; the first that answers (or the last one's error) is relayed.
async fn send(
    ctx: &mut Ctx,
    snap: &Snapshot,
    client_headers: &HeaderMap,
    json: &JsonBody<'_>,
    candidates: &[Candidate],
    endpoint: OpenAiEndpoint,
) -> Result<Response<Body>, GatewayError> {
    let state = Arc::clone(&ctx.state);
    let config = &state.config;
    let first_byte = Duration::from_secs(config.timeouts.first_byte_secs.max(1));
    let mut last_error = GatewayError::new(ErrorKind::UpstreamUnreachable, "no upstream answered");
    for (i, cand) in candidates.iter().enumerate() {
        let last = i + 1 == candidates.len();
        let up = &cand.upstream;
        let started = Instant::now();
        let base = match api_base(config, up) {
            Ok(b) => b,
            Err(e) => {
                ctx.attempt_failed(&up.name, &cand.model, "config", started);
                last_error = GatewayError::new(ErrorKind::UpstreamUnreachable, e.to_string());
                continue;
            }
        };
        let prefixed = format!("{}/{}", up.name, cand.model);
        let requested = ctx.model.clone().unwrap_or_default();
        let matched = rules::matching(&config.rules, &[&cand.model, &prefixed, &requested]);
        let edits = rules::edits(&matched)
            .map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))?;
        let body = json.rewrite(&cand.model, &edits)?;

        let mut rb = state
            .client
            .http()
            .post(format!("{base}{}", endpoint.upstream_path()))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(accept) = client_headers.get(header::ACCEPT) {
            rb = rb.header(header::ACCEPT, accept.clone());
        }
        let rb = authorize(rb, up, snap.secrets.get(&up.name));

        let deadline = tokio::time::Instant::from_std(started) + first_byte;
        let resp = match tokio::time::timeout_at(deadline, rb.send()).await {
            Err(_) => return Err(timeout(ctx, cand, started, first_byte)),
            Ok(Err(e)) => {
                ctx.attempt_failed(&up.name, &cand.model, "connect", started);
                last_error = unreachable(&up.name, &e);
                continue;
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if !last && (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
            if status == StatusCode::TOO_MANY_REQUESTS {
                if let Some(secs) = retry_after(resp.headers()) {
                    state
                        .cooldowns
                        .start(&up.name, Duration::from_secs(secs), Instant::now());
                }
                ctx.attempt_failed(&up.name, &cand.model, "status_429", started);
            } else {
                ctx.attempt_failed(&up.name, &cand.model, "status_5xx", started);
            }
            continue;
        }
        if status == StatusCode::TOO_MANY_REQUESTS
            && let Some(secs) = retry_after(resp.headers())
        {
            state
                .cooldowns
                .start(&up.name, Duration::from_secs(secs), Instant::now());
        }
        let headers = reply_headers(resp.headers());
        let sse = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        let mut stream: super::relay::UpstreamStream = Box::pin(resp.bytes_stream());
        let first = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(timeout(ctx, cand, started, first_byte)),
            Ok(Some(Err(e))) => {
                ctx.attempt_failed(&up.name, &cand.model, "connect", started);
                last_error = unreachable(&up.name, &e);
                if last {
                    break;
                }
                continue;
            }
            Ok(Some(Ok(chunk))) => Some(chunk),
            Ok(None) => None,
        };

        ctx.upstream = Some(up.name.clone());
        ctx.upstream_model = Some(cand.model.clone());
        let mut headers = headers;
        if sse {
            headers.remove(header::CONTENT_LENGTH);
        }
        let relay = Relay::new(
            ctx.hand_over(),
            status.as_u16(),
            sse,
            first,
            stream,
            Duration::from_secs(config.timeouts.idle_secs.max(1)),
            Duration::from_secs(config.timeouts.total_secs.max(1)),
        );
        let mut out = Response::new(StreamBody::new(relay).boxed_unsync());
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        out.extensions_mut().insert(Relayed);
        return Ok(out);
    }
    Err(last_error)
}

fn timeout(ctx: &Ctx, cand: &Candidate, started: Instant, after: Duration) -> GatewayError {
    ctx.attempt_failed(&cand.upstream.name, &cand.model, "timeout", started);
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

fn unreachable(name: &str, e: &reqwest::Error) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnreachable,
        format!("cannot reach upstream `{name}`: {}", error_chain(e)),
    )
    .from_upstream()
}

/// A reqwest error with its causes (`error sending request: connection refused`), without the
/// URL.
pub(crate) fn error_chain(e: &reqwest::Error) -> String {
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

/// `retry-after` in seconds (the HTTP-date form is rare on APIs and ignored).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.ceil() as u64)
}

/// The upstream's headers minus hop-by-hop ones and cookies.
fn reply_headers(upstream: &HeaderMap) -> HeaderMap {
    const DROP: [&str; 9] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "set-cookie",
        "date",
    ];
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        if !DROP.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    if !out.contains_key(header::CONTENT_TYPE) {
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    out
}
