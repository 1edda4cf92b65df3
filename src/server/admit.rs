//! Admission, before any upstream is asked: the gateway key checked and its requests-per-minute
//! limit applied ([`admit`]), then the routed model's candidates the key may use, in the order
//! the upstreams' health gives them ([`candidates`]). Every endpoint that takes a key admits
//! through here (chat, token counts, model lists, stored responses).

use std::time::Instant;

use super::auth;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::state::Snapshot;
use crate::routing::health;
use crate::routing::{Candidate, Route};
use crate::store::records::ApiKeyRecord;

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
    let route = snap.routes.resolve(model)?;
    key_may_use(key, model, &route)?;
    let mut candidates = route.candidates;
    let tokens = ctx.state.tokens();
    health::order(&mut candidates, Instant::now(), |u| {
        tokens.is_some_and(|t| t.needs_login(&u.name))
    });
    Ok(candidates)
}

/// A 403 unless `key`'s model globs allow `model`, routed as `route`.
pub(crate) fn key_may_use(
    key: &ApiKeyRecord,
    model: &str,
    route: &Route,
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
fn model_allowed(key: &ApiKeyRecord, model: &str, route: &Route) -> bool {
    let mut names: Vec<String> = vec![model.to_owned()];
    names.extend(route.alias.iter().cloned());
    for c in &route.candidates {
        names.push(c.model.clone());
        names.push(format!("{}/{}", c.upstream.name, c.model));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    auth::model_allowed(key, &name_refs)
}
