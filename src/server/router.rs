//! Path -> handler, and the small routes: `/health`, `/metrics`, the liveness probes some
//! clients send (`HEAD /`, `GET /`, `HEAD /api/hello`), and 404/405 in the client's dialect.
//! Chat endpoints of every dialect go to `pipeline`, token counts to `count`, model lists to
//! `models`. Every request ends in one access-log line: relayed replies write theirs
//! when they end, the rest here.

use std::sync::Arc;

use http::{HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;

use super::Body;
use super::admit;
use super::body::{ReqBody, empty, full};
use super::cors;
use super::ctx::Ctx;
use super::error::{Dialect, ErrorKind, GatewayError};
use super::host::{HostGuard, Refused};
use super::inbound::{Inbound, Lookup, dialect_of, lookup};
use super::overhead;
use super::pipeline;
use super::state::State;
use super::stored_responses;
use super::{count, models};
use crate::protocol::codec::{ListForm, Serve};

/// [`handle`], with a panic anywhere in it (a bug) answered as a generic 500 in the client's
/// dialect naming a request id, the panic's text only in the log: without this the connection
/// would just drop, and a handler that formats a caught panic could show its text.
pub(crate) async fn handle_guarded(
    state: Arc<State>,
    guard: &HostGuard,
    req: http::Request<ReqBody>,
) -> Response<Body> {
    use futures_util::FutureExt as _;
    let dialect = dialect_for(req.method(), req.uri().path(), req.headers());
    match std::panic::AssertUnwindSafe(handle(state, guard, req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            GatewayError::internal("handling a request", &detail).render(dialect)
        }
    }
}

/// The dialect [`handle`] answers `path` in: the dialect whose path it is, else the one the
/// headers suggest (as `handle` sets `ctx.dialect`).
fn dialect_for(method: &Method, path: &str, headers: &http::HeaderMap) -> Dialect {
    dialect_of(method.as_str(), path).unwrap_or_else(|| super::error::guess_dialect(headers))
}

pub(crate) async fn handle(
    state: Arc<State>,
    guard: &HostGuard,
    req: http::Request<ReqBody>,
) -> Response<Body> {
    let mut ctx = Ctx::new(state, &req);
    let method = req.method().clone();
    let uri = req.uri().clone();
    let path = uri.path();
    // Browsers send `Origin`; other clients don't, and pay one header lookup for CORS.
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut allowed = None;
    let result = if let Err(refused) = guard.check(&req) {
        ctx.route = "host_refused";
        Err(host_refused(&refused))
    } else {
        let mut cors_on = false;
        if let Some(o) = &origin {
            let snap = ctx.state.snapshot();
            if let Some(cors) = &snap.cors {
                cors_on = true;
                allowed = cors.allows(o).then(|| o.clone());
            }
        }
        if cors_on && cors::is_preflight(&method, req.headers()) {
            ctx.route = "preflight";
            match &allowed {
                Some(o) => Ok(cors::preflight(o, req.headers())),
                None => Err(origin_refused(origin.as_ref())),
            }
        } else {
            route(&mut ctx, guard, req, &method, path).await
        }
    };
    let mut resp = result.unwrap_or_else(|e| e.render(ctx.dialect));
    if let Some(o) = allowed {
        cors::decorate(o, resp.headers_mut());
    }
    // The head goes out now (a stream's body follows): the gateway's time ends here.
    let gw = ctx
        .elapsed()
        .saturating_sub(ctx.upstream_wait.unwrap_or_default());
    ctx.state.metrics.overhead.observe(ctx.route, gw);
    if let Some(v) = overhead::server_timing(gw, ctx.upstream_wait) {
        resp.headers_mut().insert(overhead::SERVER_TIMING, v);
    }
    // A relayed reply's context was handed over (or finished) already: this is then a no-op.
    let outcome = if resp.status().is_success() {
        "ok"
    } else {
        "error"
    };
    ctx.finish(resp.status().as_u16(), None, outcome);
    resp
}

/// A request addressed to a host the server does not answer for (DNS rebinding): 403 before
/// anything else is looked at.
fn host_refused(refused: &Refused) -> GatewayError {
    GatewayError::new(
        ErrorKind::PermissionDenied,
        format!(
            "requests addressed to host `{}` are refused: the gateway answers requests for \
             localhost, 127.0.0.1 and [::1] (and the names in [server] allowed_hosts), which \
             keeps web pages from reaching it through DNS rebinding",
            refused.host
        ),
    )
    .with_code("host_not_allowed")
}

/// A preflight from a web page whose origin is not in `[server] cors_origins`.
fn origin_refused(origin: Option<&HeaderValue>) -> GatewayError {
    let shown: String = origin
        .map(|o| {
            String::from_utf8_lossy(o.as_bytes())
                .chars()
                .take(100)
                .collect()
        })
        .unwrap_or_default();
    GatewayError::new(
        ErrorKind::PermissionDenied,
        format!(
            "web pages on `{shown}` may not call the gateway: add the origin to [server] \
             cors_origins in config.toml"
        ),
    )
    .with_code("origin_not_allowed")
}

async fn route(
    ctx: &mut Ctx,
    guard: &HostGuard,
    req: http::Request<ReqBody>,
    method: &Method,
    path: &str,
) -> Result<Response<Body>, GatewayError> {
    match (method, path) {
        (&Method::HEAD | &Method::GET, "/") | (&Method::HEAD, "/api/hello") => {
            ctx.route = "probe";
            Ok(ok_empty())
        }
        (&Method::GET | &Method::HEAD, "/health") => {
            ctx.route = "health";
            Ok(health())
        }
        (&Method::GET, "/metrics") => {
            ctx.route = "metrics";
            if guard.metrics_need_key() {
                // Exposed beyond loopback: a key, unless `[server] public_metrics`.
                let snap = ctx.state.snapshot();
                admit::admit(ctx, &snap, &req.into_parts().0)?;
            }
            Ok(metrics(ctx))
        }
        (&Method::GET, "/v1/ws") => super::ws::upgrade(ctx, guard, req),
        (_, "/health" | "/metrics") => Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
        )),
        _ if let Some(stored) = stored_responses::endpoint(method, path) => {
            // Answered in the dialect of the API they belong to (the one serving POST
            // /v1/responses): its error shape, its 404s.
            if let Some(d) = dialect_of("POST", stored_responses::CREATE_PATH) {
                ctx.dialect = d;
            }
            let (parts, _) = req.into_parts();
            stored_responses::serve(ctx, &parts, stored).await
        }
        _ => match lookup(method.as_str(), path, req.uri().query()) {
            Lookup::Found(inbound) => endpoint(ctx, req, inbound).await,
            Lookup::WrongMethod => Err(GatewayError::new(
                ErrorKind::MethodNotAllowed,
                format!("{method} is not allowed on {path}"),
            )),
            Lookup::UnknownMethod(dialect, called) => {
                ctx.dialect = dialect;
                Err(GatewayError::new(
                    ErrorKind::NotFound,
                    format!("unsupported {} method `{called}`", title(dialect)),
                ))
            }
            Lookup::NotFound => Err(GatewayError::new(
                ErrorKind::NotFound,
                format!("no route for {method} {path}"),
            )),
        },
    }
}

/// One of the dialects' declared endpoints, served as it declares.
async fn endpoint(
    ctx: &mut Ctx,
    req: http::Request<ReqBody>,
    inbound: Inbound,
) -> Result<Response<Body>, GatewayError> {
    let e = inbound.endpoint;
    ctx.route = e.route;
    if !e.shared {
        ctx.dialect = inbound.dialect;
    }
    match e.serve {
        Serve::Generate => pipeline::serve(ctx, req, inbound).await,
        // Boxed: the chat routes' future need not be as large as every other route's.
        Serve::CountTokens => Box::pin(count::serve(ctx, req, inbound)).await,
        Serve::ModelList => match inbound.dialect.list_form() {
            Some(ListForm::Gemini) => models::gemini_list(ctx, req),
            Some(ListForm::OpenAiAnthropic) | None => models::list(ctx, req),
        },
    }
}

/// A dialect's name as a title ("Gemini"), for messages.
fn title(d: Dialect) -> String {
    let name = d.as_str();
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn ok_empty() -> Response<Body> {
    Response::new(empty())
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

fn health() -> Response<Body> {
    let body = serde_json::to_vec(&Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
    .unwrap_or_default();
    json_response(StatusCode::OK, body)
}

fn metrics(ctx: &Ctx) -> Response<Body> {
    let mut r = Response::new(full(ctx.state.metrics_text()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
