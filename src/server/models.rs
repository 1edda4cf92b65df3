//! The model lists: `GET /v1/models` (one superset body: OpenAI's `ListModelsResponse` fields,
//! plus the Anthropic fields Claude Code's discovery reads: `display_name`, `type`,
//! `created_at`, `has_more`, `first_id`, `last_id`) and `GET /v1beta/models` (Gemini's shape,
//! names as `models/<id>`). Both list the models of enabled upstreams, each once, prefixed
//! names not included (any `NAME/model` routes anyway).

use http::Response;
use serde::Serialize;

use super::Body;
use super::admit;
use super::body::ReqBody;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::router::json_response;
use crate::oauth::rfc3339;

#[derive(Serialize)]
struct List {
    object: &'static str,
    data: Vec<Model>,
    has_more: bool,
    first_id: Option<String>,
    last_id: Option<String>,
}

#[derive(Serialize)]
struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: String,
    #[serde(rename = "type")]
    kind: &'static str,
    display_name: String,
    /// RFC 3339.
    created_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiList {
    models: Vec<GeminiModel>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiModel {
    name: String,
    display_name: String,
    supported_generation_methods: [&'static str; 3],
}

/// `GET /v1/models` for OpenAI and Anthropic clients alike.
pub(crate) fn list(ctx: &Ctx, req: http::Request<ReqBody>) -> Result<Response<Body>, GatewayError> {
    let snap = ctx.state.snapshot();
    let (parts, _body) = req.into_parts();
    admit::admit(ctx, &snap, &parts)?;
    let data: Vec<Model> = snap
        .routes
        .models()
        .into_iter()
        .map(|(id, up)| Model {
            display_name: id.clone(),
            id,
            object: "model",
            created: up.created_at,
            owned_by: up.name.clone(),
            kind: "model",
            created_at: rfc3339(up.created_at),
        })
        .collect();
    let body = List {
        object: "list",
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        has_more: false,
        data,
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))?;
    Ok(json_response(http::StatusCode::OK, body))
}

/// `GET /v1beta/models` (Gemini's list).
pub(crate) fn gemini_list(
    ctx: &Ctx,
    req: http::Request<ReqBody>,
) -> Result<Response<Body>, GatewayError> {
    let snap = ctx.state.snapshot();
    let (parts, _body) = req.into_parts();
    admit::admit(ctx, &snap, &parts)?;
    let models = snap
        .routes
        .models()
        .into_iter()
        .map(|(id, _)| GeminiModel {
            name: format!("models/{id}"),
            display_name: id,
            supported_generation_methods: [
                "generateContent",
                "streamGenerateContent",
                "countTokens",
            ],
        })
        .collect();
    let body = serde_json::to_vec(&GeminiList { models })
        .map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))?;
    Ok(json_response(http::StatusCode::OK, body))
}
