//! `GET /v1/ws`: chat requests over a WebSocket, in LLM-Bridge's shape (see
//! `shared/reference/bedrock-azure-ws.md` §3).
//!
//! The client sends `{"type":"chat","api_key":KEY,"payload":{OpenAI chat request}}`; each reply
//! chunk is one text frame `data: {chunk}\n\n`, then exactly one `data: [DONE]\n\n`. Opt-ins: an
//! `id` (echoed as an SSE `id:` line, or in the JSON frame) lets several requests run at once,
//! `{"type":"cancel","id"}` drops that request (and so its upstream call), `"format"` sends
//! another dialect's request, `"framing":"json"` gives `{"type":"chunk"|"done"|"error",...}`.
//!
//! With `"framing":"json"` the `done` frame carries the usage the reply reported, in the
//! request's dialect's shape.
//!
//! Keys: a bad key in the upgrade's `Authorization`/`x-api-key` header is a 401 before the
//! upgrade (the clients that can set headers read it); a bad key in a `Sec-WebSocket-Protocol`
//! entry (the only way a browser has) is upgraded and then closed with 1008 and the reason,
//! because a browser's `WebSocket` never shows a refused handshake's status, only a 1006.
//!
//! Where it touches the rest: every message becomes an internal `POST` to the dialect's own
//! endpoint ([`ReqBody::Whole`]) run through [`router::handle_guarded`], so routing, auth, rate
//! limits, usage accounting, the access log and the shutdown cut are the HTTP ones. The upgraded
//! sockets are tracked in [`Sockets`] (on `State`); `serve` closes them with 1001 when it stops,
//! and its accept loop counts them against `[limits] max_connections` ([`Sockets::open`]): an
//! upgraded socket keeps the slot its HTTP connection had until it closes, and is never closed
//! to make room (it is a client's session, not an idle keep-alive). A peer that answers no
//! protocol ping within one interval, or takes longer than two to take one frame, is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_tungstenite::HyperWebsocket;
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;
use hyper_tungstenite::tungstenite::protocol::frame::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Body;
use super::auth;
use super::body::ReqBody;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::host::HostGuard;
use super::router;
use super::state::State;

/// The browser way to send a key: a `Sec-WebSocket-Protocol` entry with this prefix.
const KEY_PROTOCOL: &str = "llm-gateway.key.";
/// Requests running at once on one connection.
const MAX_IN_FLIGHT: usize = 16;
/// Frames queued for one connection: a full queue pauses the upstream reads feeding it.
const OUT_QUEUE: usize = 32;
/// Bytes tungstenite may buffer for a slow reader before a send fails.
const MAX_WRITE_BUFFER: usize = 1 << 20;
/// Bytes read from a socket at a time: tungstenite's 128 KiB default is kept per socket, which
/// made a thousand idle sockets cost ~128 MB.
const READ_BUFFER: usize = 16 << 10;
/// Protocol pings, so that idle proxies keep the socket open and dead peers are found.
pub(crate) const DEFAULT_WS_PING_INTERVAL: Duration = Duration::from_secs(20);
/// The longest close reason a close frame can carry.
const MAX_CLOSE_REASON: usize = 123;

/// The upgraded sockets, which leave hyper's hands: `closing` asks them to finish what runs and
/// close with 1001; `kill` (the end of the grace) closes them at once.
#[derive(Debug)]
pub(crate) struct Sockets {
    pub(crate) tracker: TaskTracker,
    pub(crate) closing: CancellationToken,
    pub(crate) kill: CancellationToken,
    /// Sockets upgraded and not yet closed (each holds a [`Slot`]).
    open: AtomicUsize,
    ping_every_ms: AtomicU64,
}

impl Default for Sockets {
    fn default() -> Self {
        Sockets {
            tracker: TaskTracker::new(),
            closing: CancellationToken::new(),
            kill: CancellationToken::new(),
            open: AtomicUsize::new(0),
            ping_every_ms: AtomicU64::new(millis(DEFAULT_WS_PING_INTERVAL)),
        }
    }
}

impl Sockets {
    /// Upgraded sockets open now: the accept loop counts them as connections in use.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// How often an open socket is pinged (sockets opened from now on).
    pub(crate) fn set_ping_interval(&self, every: Duration) {
        self.ping_every_ms
            .store(millis(every).max(1), Ordering::Relaxed);
    }

    fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_every_ms.load(Ordering::Relaxed))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One upgraded socket's place among `[limits] max_connections`, from the upgrade until the
/// socket's task ends.
struct Slot(Arc<State>);

impl Slot {
    fn take(state: &Arc<State>) -> Slot {
        state.ws.open.fetch_add(1, Ordering::AcqRel);
        Slot(Arc::clone(state))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.ws.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where the upgrade's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFrom {
    /// `Authorization` or `x-api-key`: a client that sets headers reads a 401.
    Header,
    /// A `llm-gateway.key.` subprotocol: a browser, which only sees a close code.
    Protocol,
}

/// What every request on one socket shares.
struct Conn {
    state: Arc<State>,
    guard: HostGuard,
    host: Option<HeaderValue>,
    /// From the upgrade (header or subprotocol); wins over a message's `api_key`.
    key: Option<String>,
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
    Ok(Response::from_parts(parts, super::body::empty()))
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Sse,
    Json,
}

/// How one request's frames are written.
#[derive(Debug, Clone)]
struct Frames {
    framing: Framing,
    id: Option<Value>,
}

impl Frames {
    fn id_line(&self) -> String {
        match &self.id {
            Some(Value::String(s)) => format!("id: {}\n", s.replace(['\n', '\r'], " ")),
            Some(v) => format!("id: {v}\n"),
            None => String::new(),
        }
    }

    /// One SSE event of the reply (`event:`/`data:` lines, without the blank line). With JSON
    /// framing, the usage the event reports is noted in `usage`.
    fn event(&self, event: &str, data: &str, usage: &mut Option<Value>) -> Message {
        match self.framing {
            Framing::Sse => Message::text(format!("{}{event}\n\n", self.id_line())),
            Framing::Json => {
                let data: Value =
                    serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
                note_usage(usage, &data);
                json_frame(serde_json::json!({"type": "chunk", "id": self.id, "data": data}))
            }
        }
    }

    fn whole(&self, body: &[u8], usage: &mut Option<Value>) -> Message {
        let text = String::from_utf8_lossy(body);
        self.event(&format!("data: {}", text.trim()), &text, usage)
    }

    /// The end of a request; with JSON framing, `{"type":"done","id","usage"}` (`usage` only
    /// when the reply reported some).
    fn done(&self, usage: Option<Value>) -> Message {
        match self.framing {
            Framing::Sse => Message::text(format!("{}data: [DONE]\n\n", self.id_line())),
            Framing::Json => {
                let mut done = serde_json::json!({"type": "done", "id": self.id});
                if let (Some(u), Some(o)) = (usage, done.as_object_mut()) {
                    o.insert("usage".to_owned(), u);
                }
                json_frame(done)
            }
        }
    }

    /// A failure once the request started; `error` is the `{"type","message",...}` object.
    fn error(&self, status: u16, error: Value) -> Message {
        match self.framing {
            Framing::Sse => {
                let body = serde_json::json!({ "error": error });
                Message::text(format!("{}data: {body}\n\n", self.id_line()))
            }
            Framing::Json => json_frame(serde_json::json!({
                "type": "error", "id": self.id, "status": status, "error": error,
            })),
        }
    }

    /// A message refused before any request started: the seed's plain `{"error":{...}}`.
    fn refused(&self, kind: &str, message: &str) -> Message {
        let error = serde_json::json!({
            "message": message,
            "type": kind,
            "timestamp": crate::oauth::now(),
        });
        match self.framing {
            Framing::Sse => json_frame(serde_json::json!({ "error": error })),
            Framing::Json => self.error(400, error),
        }
    }
}

fn json_frame(v: Value) -> Message {
    Message::text(v.to_string())
}

/// Notes the usage an event (or a whole reply) reports, in its dialect's shape: Chat's and the
/// Responses API's `usage` (the latter inside `response` on its terminal event), Anthropic's
/// split between `message_start` (`message.usage`) and `message_delta` (`usage`), Gemini's
/// `usageMetadata`. Later figures overwrite earlier ones key by key.
fn note_usage(acc: &mut Option<Value>, data: &Value) {
    let found = [
        data.get("usage"),
        data.get("usageMetadata"),
        data.get("message").and_then(|m| m.get("usage")),
        data.get("response").and_then(|r| r.get("usage")),
    ];
    for u in found.into_iter().flatten() {
        let Value::Object(new) = u else { continue };
        match acc {
            Some(Value::Object(old)) => {
                for (k, v) in new {
                    old.insert(k.clone(), v.clone());
                }
            }
            _ => *acc = Some(u.clone()),
        }
    }
}

/// Sends `m`, or gives up after `within` (a peer that stopped reading); whether it went.
async fn send_within<S>(sink: &mut S, m: Message, within: Duration) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    matches!(tokio::time::timeout(within, sink.send(m)).await, Ok(Ok(())))
}

/// The socket's loop: reads messages, starts requests, writes their frames, pings, and closes.
/// `refused`: the reason the upgrade's key was refused; the socket closes with 1008 at once.
async fn serve_socket(
    socket: HyperWebsocket,
    conn: Arc<Conn>,
    _slot: Slot,
    refused: Option<String>,
) {
    let ws = match socket.await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!("WebSocket upgrade failed: {e}");
            return;
        }
    };
    let sockets = &conn.state.ws;
    let every = sockets.ping_interval();
    // One frame may take this long to leave; a peer slower than that has stopped reading.
    let stalled = every.saturating_mul(2);
    let (mut sink, mut stream) = ws.split();
    let close = |code: CloseCode, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    if let Some(reason) = refused {
        let _ = send_within(&mut sink, close(CloseCode::Policy, reason), stalled).await;
        return;
    }
    let away = || close(CloseCode::Away, "server shutting down".to_owned());
    let (tx, mut rx) = mpsc::channel::<Message>(OUT_QUEUE);
    let mut tx = Some(tx);
    let mut tasks = JoinSet::new();
    let mut by_id: HashMap<String, CancellationToken> = HashMap::new();
    // Requests without an id run one after the other, as the seed's did.
    let mut previous: Option<oneshot::Receiver<()>> = None;
    let mut ping = tokio::time::interval(every);
    ping.reset();
    // Whether the peer sent anything (a pong, a message) since the last ping.
    let mut heard = true;
    loop {
        tokio::select! {
            () = sockets.kill.cancelled() => {
                let _ = send_within(&mut sink, away(), Duration::from_secs(1)).await;
                return;
            }
            () = sockets.closing.cancelled(), if tx.is_some() => {
                // Finish what runs (rx ends once the last request's sender is gone), then 1001.
                tx = None;
                by_id.clear();
            }
            out = rx.recv() => match out {
                Some(m) => {
                    if !send_within(&mut sink, m, stalled).await {
                        return;
                    }
                }
                None => {
                    let _ = send_within(&mut sink, away(), stalled).await;
                    return;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                by_id.retain(|_, t| !t.is_cancelled());
            }
            _ = ping.tick() => {
                // While closing, the socket is no longer read, so pongs go unseen: the grace
                // period bounds it then.
                if !heard && tx.is_some() {
                    tracing::debug!("closing a WebSocket whose peer answered no ping");
                    let reason = "no answer to ping".to_owned();
                    let _ = send_within(&mut sink, close(CloseCode::Away, reason), every).await;
                    return;
                }
                heard = false;
                if !send_within(&mut sink, Message::Ping(Bytes::new()), stalled).await {
                    return;
                }
            }
            read = stream.next(), if tx.is_some() => {
                heard = true;
                let text = match read {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let f = Frames { framing: Framing::Sse, id: None };
                        let m = f.refused("invalid_request_error", "send requests as text frames");
                        if !send_within(&mut sink, m, stalled).await { return; }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Ok(_)) => continue,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                        let m = close(CloseCode::Size, "message too large".to_owned());
                        let _ = send_within(&mut sink, m, stalled).await;
                        return;
                    }
                    Some(Err(e)) => {
                        tracing::debug!("WebSocket read: {e}");
                        return;
                    }
                };
                let Some(sender) = tx.clone() else { continue };
                let refused = start(
                    &conn,
                    text.as_str(),
                    sender,
                    &mut tasks,
                    &mut by_id,
                    &mut previous,
                );
                for m in refused {
                    if !send_within(&mut sink, m, stalled).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Handles one client message: starts a request, cancels one, or answers a ping. Returns the
/// frames to send at once when the message is refused.
fn start(
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

/// Where the first SSE event in `buf` ends: (its length, the separator's length).
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// One SSE event as a frame; comments (keep-alives) and the upstream's `[DONE]` give none.
fn event_frame(frames: &Frames, event: &[u8], usage: &mut Option<Value>) -> Option<Message> {
    let text = String::from_utf8_lossy(event);
    let text = text.replace("\r\n", "\n");
    let mut data = Vec::new();
    let mut kept = Vec::new();
    for line in text.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
        kept.push(line);
    }
    let data = data.join("\n");
    if kept.is_empty() || data == "[DONE]" {
        return None;
    }
    Some(frames.event(&kept.join("\n"), &data, usage))
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
    fn sse_events_become_frames_without_done_or_comments() {
        let f = Frames {
            framing: Framing::Sse,
            id: None,
        };
        let mut u = None;
        assert!(event_frame(&f, b": keep-alive", &mut u).is_none());
        assert!(event_frame(&f, b"data: [DONE]", &mut u).is_none());
        let m = event_frame(&f, b"data: {\"a\":1}", &mut u);
        assert_eq!(m, Some(Message::text("data: {\"a\":1}\n\n")));
        let f = Frames {
            framing: Framing::Json,
            id: Some(Value::from("x")),
        };
        let Some(Message::Text(m)) =
            event_frame(&f, b"event: ping\ndata: {\"type\":\"ping\"}", &mut u)
        else {
            unreachable!("a text frame")
        };
        let v: Value = serde_json::from_str(m.as_str()).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"type": "chunk", "id": "x", "data": {"type": "ping"}})
        );
    }

    #[test]
    fn usage_is_gathered_in_the_dialects_shape() {
        let mut u = None;
        note_usage(&mut u, &serde_json::json!({"choices": [], "usage": null}));
        assert_eq!(u, None);
        // Anthropic: input tokens at the start, output tokens at the end.
        let start = serde_json::json!({"type": "message_start",
            "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}});
        note_usage(&mut u, &start);
        let delta = serde_json::json!({"type": "message_delta", "usage": {"output_tokens": 4}});
        note_usage(&mut u, &delta);
        assert_eq!(
            u,
            Some(serde_json::json!({"input_tokens": 7, "output_tokens": 4}))
        );
        let mut u = None;
        let done = serde_json::json!({"type": "response.completed",
            "response": {"usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}});
        note_usage(&mut u, &done);
        assert_eq!(u.unwrap()["total_tokens"], 5);
        let mut u = None;
        note_usage(
            &mut u,
            &serde_json::json!({"usageMetadata": {"totalTokenCount": 9}}),
        );
        assert_eq!(u.unwrap()["totalTokenCount"], 9);
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert_eq!(close_reason("invalid API key"), "invalid API key");
        let long = "é".repeat(100);
        let r = close_reason(&long);
        assert!(r.len() <= MAX_CLOSE_REASON && r.len() >= MAX_CLOSE_REASON - 1);
        assert!(long.starts_with(&r));
    }

    #[test]
    fn event_end_finds_either_separator() {
        assert_eq!(event_end(b"data: a\n\ndata: b"), Some((7, 2)));
        assert_eq!(event_end(b"data: a\r\n\r\n"), Some((7, 4)));
        assert_eq!(event_end(b"data: a\n"), None);
    }
}
