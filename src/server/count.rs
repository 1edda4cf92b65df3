//! Token counts: Anthropic's `POST /v1/messages/count_tokens` and Gemini's `:countTokens`.
//!
//! The count is a local **estimate**, cheap enough for the dozens of calls Claude Code's
//! editors fire at startup: tiktoken's `o200k_base` over the JSON text of the request's
//! `system`, `messages` and `tools` (Gemini: `systemInstruction`, `contents`, `tools`), so that
//! tool definitions and the system prompt count (A1.2), with each inline image counted as a
//! fixed [`IMAGE_TOKENS`] instead of its base64 text. Real tokenizers differ by model: the
//! figure is meant for context bookkeeping, not billing. When the model routes to a Gemini or
//! Code Assist upstream, that upstream's own `countTokens` answers instead (a Gemini client's
//! body is forwarded untouched to a Gemini API upstream), falling back to the estimate if it
//! fails. An upstream whose breaker is open, whose model is cooling after a 429 or whose login
//! expired is not asked (the estimate answers at once); a 401 to an OAuth upstream replaces the
//! refused token once and asks again, as chat calls do. The estimate itself, and what bounds
//! its cost on hostile bodies, is in `estimate`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::Value;

use super::Body;
use super::admit::{admit, key_may_use};
use super::body::{ReqBody, read_limited};
use super::credential::RefreshOnce;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::estimate;
use super::inbound::Inbound;
use super::pipeline;
use super::router::json_response;
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir;
use crate::routing::RouteError;
use crate::upstream::adapter::{self, Target};

/// What one inline image counts for (Anthropic's figure for a ~1.15 megapixel image).
pub const IMAGE_TOKENS: u64 = 1_600;

/// Takes inline image data out of `v` (replaced by nothing), returning how many there were.
fn strip_images(v: &mut Value) -> u64 {
    match v {
        Value::Object(m) => {
            let is_base64 = m.get("type").and_then(Value::as_str) == Some("base64");
            let mut n = 0;
            if is_base64 && m.get("data").is_some_and(Value::is_string) {
                m.remove("data");
                n += 1;
            }
            // Gemini `inlineData`/OpenAI data URLs.
            if let Some(Value::Object(inline)) = m.get_mut("inlineData")
                && inline.remove("data").is_some()
            {
                n += 1;
            }
            if let Some(Value::String(url)) = m.get("url")
                && url.starts_with("data:")
            {
                m.remove("url");
                n += 1;
            }
            n + m.values_mut().map(strip_images).sum::<u64>()
        }
        Value::Array(a) => a.iter_mut().map(strip_images).sum(),
        _ => 0,
    }
}

/// The estimate for the named top-level fields of a JSON body (of the object under `wrapper`
/// instead, when the body has one there).
pub fn estimate(body: &[u8], fields: &[&str], wrapper: Option<&str>) -> Result<u64, GatewayError> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::invalid("", format!("the request body is not valid JSON: {e}"))
    })?;
    if let Some(inner) = wrapper.and_then(|w| v.get_mut(w))
        && inner.is_object()
    {
        v = inner.take();
    }
    let Value::Object(map) = &mut v else {
        return Err(GatewayError::invalid(
            "",
            "the request body must be a JSON object",
        ));
    };
    let mut text = String::new();
    let mut images = 0;
    for f in fields {
        if let Some(x) = map.get_mut(*f) {
            images += strip_images(x);
            match x {
                Value::String(s) => text.push_str(s),
                other => text.push_str(&other.to_string()),
            }
            text.push('\n');
        }
    }
    Ok(estimate::count_text(&text) + images * IMAGE_TOKENS)
}

/// [`estimate`] on the blocking pool, in one of the few estimate slots ([`estimate::permit`]).
async fn estimate_blocking(
    body: Bytes,
    fields: &'static [&'static str],
    wrapper: Option<&'static str>,
) -> Result<u64, GatewayError> {
    let slot = estimate::permit().await?;
    // The slot moves into the task: a client that hangs up does not free it before the work ends.
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        estimate(&body, fields, wrapper)
    })
    .await
    .map_err(|e| GatewayError::internal("counting tokens", &e))?
}

/// A dialect's token-count endpoint (`POST /v1/messages/count_tokens` -> `{"input_tokens": N}`,
/// Gemini `:countTokens` -> `{"totalTokens": N}`), read and answered in the dialect's
/// [`CountForm`](crate::protocol::codec::CountForm). Where the form says so, a model whose first
/// upstream speaks the dialect natively is forwarded as it is (the fast path).
pub(crate) async fn serve(
    ctx: &mut Ctx,
    req: http::Request<ReqBody>,
    inbound: Inbound,
) -> Result<Response<Body>, GatewayError> {
    let Some(form) = inbound.dialect.count_form() else {
        return Err(GatewayError::new(
            ErrorKind::NotImplemented,
            "this dialect declares no token count",
        ));
    };
    if form.forward_native {
        let state = Arc::clone(&ctx.state);
        let model = inbound.path_model.clone().unwrap_or_default();
        // A first candidate that takes the client's body as it is counts on the fast path.
        let relayed = state.snapshot().routes.resolve(&model).ok().and_then(|r| {
            r.candidates
                .first()
                .map(|c| adapter::same_protocol(&c.upstream, inbound.dialect))
        });
        if relayed == Some(true) {
            return pipeline::serve(ctx, req, inbound).await;
        }
    }
    let hints = RequestHints {
        model: inbound.path_model.clone(),
        stream: Some(false),
    };
    let (raw, ir) = read(ctx, req, |raw| (form.decode)(raw, &hints)).await?;
    let n = match upstream_count(ctx, &ir).await {
        Some(n) => n,
        None => estimate_blocking(raw, form.fields, form.wrapper).await?,
    };
    Ok(json_response(StatusCode::OK, (form.encode)(n)))
}

/// Auth, body, and the decoded request (a bad body is a 400 naming the field).
async fn read(
    ctx: &mut Ctx,
    req: http::Request<ReqBody>,
    decode: impl FnOnce(&[u8]) -> Result<ir::Request, CodecError>,
) -> Result<(Bytes, ir::Request), GatewayError> {
    let state = Arc::clone(&ctx.state);
    let snap = state.snapshot();
    let (parts, body) = req.into_parts();
    let key = admit(ctx, &snap, &parts)?;
    let raw = read_limited(
        body,
        &parts.headers,
        snap.config.limits.max_body_bytes,
        Duration::from_secs(snap.config.timeouts.client_body_secs),
    )
    .await?;
    let ir = decode(&raw)?;
    // Judged as a chat request's model is, although an unknown one still gets the estimate:
    // the name may reach an upstream's `countTokens` URL.
    match snap.routes.resolve(&ir.model) {
        Ok(route) => key_may_use(key, &ir.model, &route)?,
        Err(e @ RouteError::InvalidModel { .. }) => return Err(e.into()),
        Err(_) => {}
    }
    ctx.model = Some(ir.model.clone());
    Ok((raw, ir))
}

/// The count from the routed upstream when it can count (Gemini, Code Assist); `None` (use the
/// local estimate) when it cannot or fails.
async fn upstream_count(ctx: &Ctx, ir: &ir::Request) -> Option<u64> {
    let state = Arc::clone(&ctx.state);
    let snap = state.snapshot();
    let now = Instant::now();
    let tokens = state.tokens();
    let cand = snap
        .routes
        .resolve(&ir.model)
        .ok()?
        .candidates
        .into_iter()
        .find(|c| {
            crate::upstream::kinds::spec(c.upstream.provider).counts_tokens()
                && !c.health.is_open(now)
                && !c.health.is_cooling(&c.model, now)
                && !tokens.is_some_and(|t| t.needs_login(&c.upstream.name))
        })?;
    let mut req = ir.clone();
    req.model = cand.model.clone();
    let wait = Duration::from_secs(state.config().timeouts.first_byte_secs.max(1));
    let mut refresh = RefreshOnce::default();
    let resp = loop {
        let cred = refresh.credential(ctx, &snap, &cand.upstream).await.ok()?;
        let target = Target {
            config: &snap.config,
            record: &cand.upstream,
            model: &cand.model,
            credential: cred.as_credential(),
            client_dialect: ctx.dialect,
            client_headers: &http::HeaderMap::new(),
        };
        let call = adapter::count_tokens(&target, &req)?.ok()?;
        let send = state
            .client
            .http()
            .post(&call.url)
            .headers(call.headers)
            .body(call.body)
            .send();
        let resp = tokio::time::timeout(wait, send).await.ok()?.ok()?;
        if refresh.retry(resp.status(), &cred) {
            tracing::debug!(upstream = %cand.upstream.name, "countTokens: token refused; refreshing");
            continue;
        }
        break resp;
    };
    if !resp.status().is_success() {
        tracing::debug!(upstream = %cand.upstream.name, status = %resp.status(), "countTokens failed; estimating");
        return None;
    }
    let body = tokio::time::timeout(wait, resp.bytes()).await.ok()?.ok()?;
    let v: Value = serde_json::from_slice(&body).ok()?;
    v.get("totalTokens").and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_and_system_count_images_do_not_explode() {
        let small = br#"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#;
        let a = estimate(small, &["system", "messages", "tools"], None).unwrap();
        assert!(a > 0 && a < 20, "{a}");
        let tools: Vec<Value> = (0..10)
            .map(|i| serde_json::json!({"name": format!("tool_{i}"), "description": "Reads a file from the local filesystem and returns its contents with line numbers.",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string", "description": "Absolute path"}}, "required": ["path"]}}))
            .collect();
        let big = serde_json::json!({"model": "m", "system": "You are helpful.",
            "messages": [{"role": "user", "content": "hello there"}], "tools": tools});
        let b = estimate(
            big.to_string().as_bytes(),
            &["system", "messages", "tools"],
            None,
        )
        .unwrap();
        assert!(b > a + 300, "{a} -> {b}");
        let img = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A".repeat(100_000)}}]}]});
        let c = estimate(img.to_string().as_bytes(), &["messages"], None).unwrap();
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 50).contains(&c), "{c}");
    }
}
