//! One client message on the socket: parsed ([`ClientMessage`]), answered at once (`ping`,
//! `cancel`, a refusal) or started as a request: an internal `POST` to the dialect's own endpoint
//! ([`target`], [`internal_request`]), run through the router, its reply written as frames
//! ([`run`]). Requests without an id run one after another; with an id, at once (up to
//! [`MAX_IN_FLIGHT`]) and cancellable.
//!
//! Where it touches the rest: [`start`] is called by `super::serve_socket` for each text frame;
//! requests go through [`router::handle_guarded`] with the socket's `super::Conn` (state, host
//! guard, key), so they are HTTP requests in every respect; frames come from `super::frames`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_tungstenite::tungstenite::Message;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Conn;
use super::frames::{Frames, Framing, event_end, event_frame, json_frame};
use crate::server::body::ReqBody;
use crate::server::router;

/// Requests running at once on one connection.
const MAX_IN_FLIGHT: usize = 16;

/// One client message.
#[derive(Debug, Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: Option<String>,
    api_key: Option<String>,
    payload: Option<Value>,
    id: Option<Value>,
    format: Option<String>,
    framing: Option<String>,
    #[serde(flatten)]
    _extra: serde_json::Map<String, Value>,
}

/// Handles one client message: starts a request, cancels one, or answers a ping. Returns the
/// frames to send at once when the message is refused.
pub(super) fn start(
    conn: &Arc<Conn>,
    text: &str,
    tx: mpsc::Sender<Message>,
    tasks: &mut JoinSet<()>,
    by_id: &mut HashMap<String, CancellationToken>,
    previous: &mut Option<oneshot::Receiver<()>>,
) -> Vec<Message> {
    let plain = Frames {
        framing: Framing::Sse,
        id: None,
    };
    let msg: ClientMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return vec![plain.refused(
                "invalid_request_error",
                &format!("the message is not a JSON request: {e}"),
            )];
        }
    };
    let framing = match msg.framing.as_deref() {
        None | Some("sse") => Framing::Sse,
        Some("json") => Framing::Json,
        Some(other) => {
            return vec![plain.refused(
                "invalid_request_error",
                &format!("unknown framing `{other}`: use \"sse\" or \"json\""),
            )];
        }
    };
    let frames = Frames {
        framing,
        id: msg.id.clone(),
    };
    let id_key = msg.id.as_ref().map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    // Finished requests leave their tokens behind; drop them before looking one up.
    by_id.retain(|_, t| !t.is_cancelled());
    match msg.kind.as_deref() {
        Some("ping") => {
            return vec![json_frame(
                serde_json::json!({"type": "pong", "id": msg.id}),
            )];
        }
        Some("cancel") => {
            return match id_key.and_then(|k| by_id.remove(&k)) {
                Some(token) => {
                    token.cancel();
                    Vec::new()
                }
                None => vec![frames.refused(
                    "invalid_request_error",
                    "no request with this id is running on this connection",
                )],
            };
        }
        Some("chat") => {}
        other => {
            return vec![frames.refused(
                "invalid_request_error",
                &format!(
                    "unknown message type `{}`: send {{\"type\":\"chat\",\"payload\":{{...}}}}",
                    other.unwrap_or("")
                ),
            )];
        }
    }
    let Some(payload) = msg.payload else {
        return vec![frames.refused("invalid_request_error", "`payload` is required")];
    };
    let format = msg.format.as_deref().unwrap_or("openai");
    let model = payload
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(model) = model else {
        return vec![frames.refused("invalid_request_error", "`payload.model` is required")];
    };
    let Some((path, body)) = target(format, &model, payload) else {
        return vec![frames.refused(
            "invalid_request_error",
            &format!(
                "unknown format `{format}`: use \"openai\", \"anthropic\", \"gemini\" or \"responses\""
            ),
        )];
    };
    if tasks.len() >= MAX_IN_FLIGHT {
        // Ended like any failed request (error, then done), so a client waiting for this id's
        // `[DONE]` is not left waiting.
        let error = serde_json::json!({
            "type": "rate_limit_error",
            "message": format!("at most {MAX_IN_FLIGHT} requests may run at once on one connection"),
        });
        return vec![frames.error(429, error), frames.done(None)];
    }
    let token = CancellationToken::new();
    let wait_for = match &id_key {
        Some(k) => {
            if by_id.contains_key(k) {
                return vec![frames.refused(
                    "invalid_request_error",
                    "a request with this id is already running on this connection",
                )];
            }
            by_id.insert(k.clone(), token.clone());
            None
        }
        None => None,
    };
    let (turn_done, turn) = if id_key.is_none() {
        let (s, r) = oneshot::channel();
        (Some(s), previous.replace(r))
    } else {
        (None, wait_for)
    };
    let key = conn
        .key
        .clone()
        .or_else(|| {
            msg.api_key
                .map(|k| k.strip_prefix("Bearer ").unwrap_or(&k).trim().to_owned())
        })
        .filter(|k| !k.is_empty());
    let conn = Arc::clone(conn);
    tasks.spawn(async move {
        if let Some(turn) = turn {
            let _ = turn.await;
        }
        let req = internal_request(&conn, &path, key.as_deref(), body);
        tokio::select! {
            biased;
            () = token.cancelled() => {
                let error = serde_json::json!({
                    "type": "cancelled",
                    "message": "the request was cancelled by the client",
                });
                let _ = tx.send(frames.error(499, error)).await;
                let _ = tx.send(frames.done(None)).await;
            }
            () = run(&conn, req, &frames, &tx) => {}
        }
        // A finished request's id may be used again.
        token.cancel();
        drop(turn_done);
    });
    Vec::new()
}

/// The endpoint a dialect's request goes to, and its body.
fn target(format: &str, model: &str, mut payload: Value) -> Option<(String, Bytes)> {
    let path = match format {
        "openai" | "chat" => "/v1/chat/completions".to_owned(),
        "anthropic" => "/v1/messages".to_owned(),
        "responses" => "/v1/responses".to_owned(),
        "gemini" => {
            let stream = payload.get("stream").and_then(Value::as_bool) == Some(true);
            if let Some(o) = payload.as_object_mut() {
                o.remove("model");
                o.remove("stream");
            }
            let model =
                percent_encoding::utf8_percent_encode(model, percent_encoding::NON_ALPHANUMERIC);
            if stream {
                format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("/v1beta/models/{model}:generateContent")
            }
        }
        _ => return None,
    };
    Some((path, Bytes::from(payload.to_string())))
}

fn internal_request(
    conn: &Conn,
    path: &str,
    key: Option<&str>,
    body: Bytes,
) -> http::Request<ReqBody> {
    let mut req = http::Request::new(ReqBody::Whole(Full::new(body)));
    *req.method_mut() = Method::POST;
    if let Ok(uri) = path.parse() {
        *req.uri_mut() = uri;
    }
    let h = req.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(host) = &conn.host {
        h.insert(header::HOST, host.clone());
    }
    if let Some(k) = key
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {k}"))
    {
        h.insert(header::AUTHORIZATION, v);
    }
    req
}

/// Runs one request through the router and writes its reply as frames.
async fn run(
    conn: &Conn,
    req: http::Request<ReqBody>,
    frames: &Frames,
    tx: &mpsc::Sender<Message>,
) {
    let resp = router::handle_guarded(Arc::clone(&conn.state), &conn.guard, req).await;
    let status = resp.status();
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut body = resp.into_body();
    let mut usage = None;
    if !status.is_success() || !is_sse {
        let whole = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                let _ = tx
                    .send(frames.error(502, stream_error(&e.to_string())))
                    .await;
                let _ = tx.send(frames.done(None)).await;
                return;
            }
        };
        let m = if status.is_success() {
            frames.whole(&whole, &mut usage)
        } else {
            frames.error(status.as_u16(), error_object(status, &whole))
        };
        if tx.send(m).await.is_ok() {
            let _ = tx.send(frames.done(usage)).await;
        }
        return;
    }
    let mut buf = BytesMut::new();
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                let _ = tx
                    .send(frames.error(502, stream_error(&e.to_string())))
                    .await;
                break;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(end) = event_end(&buf) {
            let event = buf.split_to(end.0);
            let _ = buf.split_to(end.1);
            if let Some(m) = event_frame(frames, &event, &mut usage)
                && tx.send(m).await.is_err()
            {
                return;
            }
        }
    }
    let _ = tx.send(frames.done(usage)).await;
}

/// The `error` object of an error reply in any dialect (`{"error":{...}}` or Anthropic's
/// `{"type":"error","error":{...}}`), else a generic one naming the status.
fn error_object(status: StatusCode, body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) => match o.remove("error") {
            Some(e @ Value::Object(_)) => e,
            Some(other) => serde_json::json!({"message": other, "type": "error"}),
            None => Value::Object(o),
        },
        _ => serde_json::json!({
            "message": format!("the request failed with status {}", status.as_u16()),
            "type": "api_error",
        }),
    }
}

fn stream_error(message: &str) -> Value {
    serde_json::json!({"message": message, "type": "api_error"})
}
