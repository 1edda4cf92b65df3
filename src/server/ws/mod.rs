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
//!
//! The parts: [`handshake`] answers the upgrade (origin, key, subprotocol) and spawns the
//! socket's task; this file holds the socket's loop ([`serve_socket`]: reads, pings, close
//! codes) and the bookkeeping shared with `serve` ([`Sockets`], [`Slot`]); [`request`] turns one
//! client message into an internal request and runs it; [`frames`] writes a request's reply as
//! frames in the framing the client chose.
//!
//! [`ReqBody::Whole`]: crate::server::body::ReqBody::Whole
//! [`router::handle_guarded`]: crate::server::router::handle_guarded

mod frames;
mod handshake;
mod request;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::HeaderValue;
use hyper_tungstenite::HyperWebsocket;
use hyper_tungstenite::tungstenite::protocol::frame::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::host::HostGuard;
use super::state::State;
use frames::{Frames, Framing};
pub(crate) use handshake::upgrade;
use request::start;

/// Frames queued for one connection: a full queue pauses the upstream reads feeding it.
const OUT_QUEUE: usize = 32;
/// Protocol pings, so that idle proxies keep the socket open and dead peers are found.
pub(crate) const DEFAULT_WS_PING_INTERVAL: Duration = Duration::from_secs(20);

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

/// What every request on one socket shares.
struct Conn {
    state: Arc<State>,
    guard: HostGuard,
    host: Option<HeaderValue>,
    /// From the upgrade (header or subprotocol); wins over a message's `api_key`.
    key: Option<String>,
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
