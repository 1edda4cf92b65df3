//! The upgrade of `GET /v1/ws`: the shutdown and origin checks, the key from the
//! `Authorization`/`x-api-key` header or a `llm-gateway.key.` subprotocol (and the plain
//! subprotocol echoed back), tungstenite's buffer and size limits, and the spawn of the socket's
//! task.
//!
//! Where it touches the rest: [`upgrade`] is called by the router (`super::router`) for
//! `/v1/ws`; keys are checked with [`auth::authenticate_request`] against the config snapshot; the
//! socket's task is `super::serve_socket`, tracked in `State::ws` and holding a `super::Slot`.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Response, header};
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{Conn, Slot, serve_socket};
use crate::server::Body;
use crate::server::auth;
use crate::server::body::ReqBody;
use crate::server::ctx::Ctx;
use crate::server::error::{ErrorKind, GatewayError};
use crate::server::host::HostGuard;

/// The browser way to send a key: a `Sec-WebSocket-Protocol` entry with this prefix.
const KEY_PROTOCOL: &str = "llm-gateway.key.";
/// Bytes tungstenite may buffer for a slow reader before a send fails.
const MAX_WRITE_BUFFER: usize = 1 << 20;
/// Bytes read from a socket at a time: tungstenite's 128 KiB default is kept per socket, which
/// made a thousand idle sockets cost ~128 MB.
const READ_BUFFER: usize = 16 << 10;
/// The longest close reason a close frame can carry.
const MAX_CLOSE_REASON: usize = 123;

/// Where the upgrade's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFrom {
    /// `Authorization` or `x-api-key`: a client that sets headers reads a 401.
    Header,
    /// A `llm-gateway.key.` subprotocol: a browser, which only sees a close code.
    Protocol,
}

/// Answers the upgrade: 403 for an origin outside `[server] cors_origins` (when set), 401 for a
/// bad key in a header, else 101 and a task serving the socket (which closes at once with 1008
/// when the key of a subprotocol was bad).
pub(crate) fn upgrade(
    ctx: &mut Ctx,
    guard: &HostGuard,
    mut req: http::Request<ReqBody>,
) -> Result<Response<Body>, GatewayError> {
    ctx.route = "ws";
    let state = Arc::clone(&ctx.state);
    if state.ws.closing.is_cancelled() {
        return Err(GatewayError::new(
            ErrorKind::ShuttingDown,
            "the gateway is shutting down",
        ));
    }
    if !hyper_tungstenite::is_upgrade_request(&req) {
        return Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            "/v1/ws takes a WebSocket upgrade (GET with `Upgrade: websocket`)",
        ));
    }
    let snap = state.snapshot();
    if let (Some(origin), Some(cors)) = (req.headers().get(header::ORIGIN), &snap.cors)
        && !cors.allows(origin)
    {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            "web pages on this origin may not open /v1/ws: add the origin to [server] \
             cors_origins in config.toml",
        )
        .with_code("origin_not_allowed"));
    }
    let (key, plain_protocol) = upgrade_key(req.headers());
    let mut refused = None;
    if let Some((k, from)) = &key {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {k}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Err(e) = auth::authenticate_request(&snap.keys, &snap.key_digests, &headers, None) {
            match from {
                KeyFrom::Header => return Err(e),
                KeyFrom::Protocol => refused = Some(close_reason(&e.message)),
            }
        }
    }
    let limit = usize::try_from(snap.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
        .max_write_buffer_size(MAX_WRITE_BUFFER);
    let (resp, socket) = hyper_tungstenite::upgrade(&mut req, Some(config)).map_err(|e| {
        GatewayError::new(
            ErrorKind::InvalidRequest,
            format!("bad WebSocket upgrade: {e}"),
        )
    })?;
    let conn = Arc::new(Conn {
        state: Arc::clone(&state),
        guard: guard.clone(),
        host: req.headers().get(header::HOST).cloned(),
        key: key.map(|(k, _)| k),
    });
    let slot = Slot::take(&state);
    state
        .ws
        .tracker
        .spawn(serve_socket(socket, conn, slot, refused));
    let (mut parts, body) = resp.into_parts();
    if let Some(p) = plain_protocol {
        parts.headers.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    drop(body);
    Ok(Response::from_parts(parts, crate::server::body::empty()))
}

/// `message` cut to what a close frame's reason holds, at a character boundary.
fn close_reason(message: &str) -> String {
    let mut end = message.len().min(MAX_CLOSE_REASON);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_owned()
}

/// The key on the upgrade (`Authorization`/`x-api-key`, else a `llm-gateway.key.` protocol),
/// and the first plain protocol offered, to echo back (never the key-bearing one).
fn upgrade_key(headers: &HeaderMap) -> (Option<(String, KeyFrom)>, Option<HeaderValue>) {
    let header_key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned())
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
        })
        .filter(|k| !k.is_empty());
    let mut proto_key = None;
    let mut plain = None;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match p.strip_prefix(KEY_PROTOCOL) {
                Some(k) => proto_key = proto_key.or_else(|| Some(k.to_owned())),
                None => {
                    if plain.is_none() {
                        plain = HeaderValue::from_str(p).ok();
                    }
                }
            }
        }
    }
    let key = match (header_key, proto_key) {
        (Some(k), _) => Some((k, KeyFrom::Header)),
        (None, Some(k)) => Some((k, KeyFrom::Protocol)),
        (None, None) => None,
    };
    (key, plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_from_subprotocol_is_not_echoed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("llm-gateway.key.sk-test, llm-gateway"),
        );
        let (key, plain) = upgrade_key(&h);
        assert_eq!(key, Some(("sk-test".to_owned(), KeyFrom::Protocol)));
        assert_eq!(plain, Some(HeaderValue::from_static("llm-gateway")));
    }

    #[test]
    fn header_key_wins() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("llm-gateway.key.b"),
        );
        assert_eq!(upgrade_key(&h).0, Some(("a".to_owned(), KeyFrom::Header)));
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert_eq!(close_reason("invalid API key"), "invalid API key");
        let long = "é".repeat(100);
        let r = close_reason(&long);
        assert!(r.len() <= MAX_CLOSE_REASON && r.len() >= MAX_CLOSE_REASON - 1);
        assert!(long.starts_with(&r));
    }
}
