//! Path -> handler, and the small routes: `/health`, `/metrics`, `/v1/models`, the liveness
//! probes some clients send (`HEAD /`, `GET /`, `HEAD /api/hello`), and 404/405 in the
//! client's dialect. Every request ends in one access-log line: relayed replies write theirs
//! when they end, the rest here.

use std::sync::Arc;

use http::{HeaderValue, Method, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Serialize;

use super::Body;
use super::body::{empty, full};
use super::ctx::Ctx;
use super::error::{Dialect, ErrorKind, GatewayError};
use super::pipeline::{self, OpenAiEndpoint, Relayed};
use super::state::State;

pub(crate) async fn handle(state: Arc<State>, req: http::Request<Incoming>) -> Response<Body> {
    let mut ctx = Ctx::new(state, &req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = match (&method, path.as_str()) {
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
            Ok(metrics(&ctx))
        }
        (&Method::GET, "/v1/models") => {
            ctx.route = "models";
            models(&ctx, req)
        }
        (&Method::POST, "/v1/chat/completions") => {
            ctx.route = "chat";
            ctx.dialect = Dialect::OpenAi;
            pipeline::openai(&mut ctx, req, OpenAiEndpoint::Chat).await
        }
        (&Method::POST, "/v1/completions") => {
            ctx.route = "completions";
            ctx.dialect = Dialect::OpenAi;
            pipeline::openai(&mut ctx, req, OpenAiEndpoint::Completions).await
        }
        (_, "/v1/chat/completions" | "/v1/completions" | "/v1/models" | "/health" | "/metrics") => {
            Err(GatewayError::new(
                ErrorKind::MethodNotAllowed,
                format!("{method} is not allowed on {path}"),
            ))
        }
        _ => Err(GatewayError::new(
            ErrorKind::NotFound,
            format!("no route for {method} {path}"),
        )),
    };
    let resp = result.unwrap_or_else(|e| e.render(ctx.dialect));
    if resp.extensions().get::<Relayed>().is_none() {
        let outcome = if resp.status().is_success() {
            "ok"
        } else {
            "error"
        };
        ctx.finish(resp.status().as_u16(), None, outcome);
    }
    resp
}

fn ok_empty() -> Response<Body> {
    Response::new(empty())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
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

mod wire {
    use serde::Serialize;

    /// OpenAI `ListModelsResponse`, plus the fields Claude Code reads (design C28).
    #[derive(Serialize)]
    pub struct OpenAiList {
        pub object: &'static str,
        pub data: Vec<OpenAiModel>,
    }

    #[derive(Serialize)]
    pub struct OpenAiModel {
        pub id: String,
        pub object: &'static str,
        pub created: u64,
        pub owned_by: String,
    }

    /// Anthropic's model list.
    #[derive(Serialize)]
    pub struct AnthropicList {
        pub data: Vec<AnthropicModel>,
        pub has_more: bool,
        pub first_id: Option<String>,
        pub last_id: Option<String>,
    }

    #[derive(Serialize)]
    pub struct AnthropicModel {
        #[serde(rename = "type")]
        pub kind: &'static str,
        pub id: String,
        pub display_name: String,
        /// RFC 3339.
        pub created_at: String,
    }
}

/// `GET /v1/models`: the models of enabled upstreams, in the OpenAI shape, or the Anthropic one
/// when the client sends `anthropic-version`. (Hook for the Gemini issue: `Dialect::Gemini`,
/// i.e. `x-goog-api-key`, still gets the OpenAI shape here; `/v1beta/models` is not routed yet.)
fn models(ctx: &Ctx, req: http::Request<Incoming>) -> Result<Response<Body>, GatewayError> {
    let snap = ctx.state.snapshot();
    let (parts, _body) = req.into_parts();
    pipeline::admit(ctx, &snap, &parts)?;
    let models = snap.routes.models();
    let body = if ctx.dialect == Dialect::Anthropic {
        let data: Vec<wire::AnthropicModel> = models
            .into_iter()
            .map(|(id, _)| wire::AnthropicModel {
                kind: "model",
                display_name: id.clone(),
                id,
                created_at: "1970-01-01T00:00:00Z".into(),
            })
            .collect();
        serde_json::to_vec(&wire::AnthropicList {
            first_id: data.first().map(|m| m.id.clone()),
            last_id: data.last().map(|m| m.id.clone()),
            has_more: false,
            data,
        })
    } else {
        serde_json::to_vec(&wire::OpenAiList {
            object: "list",
            data: models
                .into_iter()
                .map(|(id, up)| wire::OpenAiModel {
                    id,
                    object: "model",
                    created: up.created_at,
                    owned_by: up.name.clone(),
                })
                .collect(),
        })
    }
    .map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))?;
    Ok(json_response(StatusCode::OK, body))
}
