//! A fake OpenAI-compatible upstream on hyper, port 0: records every request, answers from a
//! script (then a default reply) with whole JSON or SSE chunks, per-chunk delays, a delayed
//! first byte, any status and headers, and streams cut mid-way. It also notices when the
//! gateway drops a reply before its end (the gateway closed the connection).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Bytes>,
    /// Before the status line and headers.
    pub first_byte_delay: Duration,
    /// Before each chunk.
    pub chunk_delay: Duration,
    /// Abort the connection after this many chunks instead of ending cleanly.
    pub cut_after: Option<usize>,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![Bytes::copy_from_slice(body.as_bytes())],
            first_byte_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            cut_after: None,
        }
    }

    /// SSE: one chunk per event, each sent as given (include the `data: ` and blank line).
    pub fn sse(events: &[&str]) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: events
                .iter()
                .map(|e| Bytes::copy_from_slice(e.as_bytes()))
                .collect(),
            first_byte_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            cut_after: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay_first_byte(mut self, d: Duration) -> Reply {
        self.first_byte_delay = d;
        self
    }

    pub fn chunk_delay(mut self, d: Duration) -> Reply {
        self.chunk_delay = d;
        self
    }

    pub fn cut_after(mut self, n: usize) -> Reply {
        self.cut_after = Some(n);
        self
    }

    /// The whole body as the client should see it.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The gateway's end of the connection it came on.
    pub peer: Option<std::net::SocketAddr>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A rule the fake enforces as the real API does: the reply for a request that breaks it.
pub type Check = fn(path: &str, body: &[u8]) -> Option<Reply>;

struct Inner {
    check: Mutex<Option<Check>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    requests: Mutex<Vec<Recorded>>,
    cancelled: AtomicUsize,
    changed: Notify,
}

pub struct FakeOpenAi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

pub const CHAT_REPLY: &str = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\n \"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},\"finish_reason\":\"stop\"}],\n \"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}";

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let inner = Arc::new(Inner {
            check: Mutex::new(None),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Reply::json(200, CHAT_REPLY)),
            requests: Mutex::new(Vec::new()),
            cancelled: AtomicUsize::new(0),
            changed: Notify::new(),
        });
        let (addr, task) = super::serve({
            let inner = Arc::clone(&inner);
            move |req| answer(Arc::clone(&inner), req)
        })
        .await;
        FakeOpenAi { addr, inner, task }
    }

    /// The server root (`http://127.0.0.1:PORT`), the API base of Anthropic and Gemini kinds.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API base to give the gateway (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues a reply for the next request; later requests get the default.
    pub fn push(&self, reply: Reply) {
        self.inner.script.lock().unwrap().push_back(reply);
    }

    /// Requests breaking `check` get its reply (the script is left as it is).
    pub fn set_check(&self, check: Check) {
        *self.inner.check.lock().unwrap() = Some(check);
    }

    pub fn set_default(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = reply;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Replies dropped before their end: the gateway closed the connection.
    pub fn cancelled(&self) -> usize {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    pub async fn wait_cancelled(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.inner.changed.notified();
            if self.cancelled() > 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.cancelled() > 0;
            }
        }
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a reply body dropped before its end.
struct Guard {
    inner: Arc<Inner>,
    finished: bool,
}

impl Guard {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.cancelled.fetch_add(1, Ordering::SeqCst);
            self.inner.changed.notify_waiters();
        }
    }
}

type FakeBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn answer(
    inner: Arc<Inner>,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<FakeBody> {
    let (parts, body) = req.into_parts();
    let peer = parts.extensions.get::<super::Peer>().map(|p| p.0);
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let check = *inner.check.lock().unwrap();
    let refused = check.and_then(|c| c(parts.uri.path(), &body));
    inner.requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body,
        peer,
    });
    let reply = refused.unwrap_or_else(|| {
        inner
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| inner.default.lock().unwrap().clone())
    });
    // Created before the first-byte delay: a gateway that gives up while waiting counts too.
    let guard = Guard {
        inner: Arc::clone(&inner),
        finished: false,
    };
    if !reply.first_byte_delay.is_zero() {
        tokio::time::sleep(reply.first_byte_delay).await;
    }
    let state = (reply.clone(), 0usize, guard);
    let frames = stream::unfold(state, |(reply, i, mut guard)| async move {
        if !reply.chunk_delay.is_zero() && i < reply.chunks.len() {
            tokio::time::sleep(reply.chunk_delay).await;
        }
        if reply.cut_after == Some(i) {
            guard.finished = true;
            let err = std::io::Error::other("cut by the fake");
            return Some((Err(err), (reply, usize::MAX, guard)));
        }
        if i >= reply.chunks.len() {
            guard.finish();
            return None;
        }
        let chunk = reply.chunks[i].clone();
        Some((Ok(Frame::data(chunk)), (reply, i + 1, guard)))
    });
    let mut resp = http::Response::new(BodyExt::boxed(StreamBody::new(frames)));
    *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in &reply.headers {
        resp.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    resp
}

/// A loopback port nobody listens on (connect is refused).
pub async fn dead_base_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/v1")
}

/// SSE bytes cut at frame boundaries, one chunk per event, as a scripted reply.
pub fn sse_frames(bytes: &[u8]) -> Reply {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let frames: Vec<String> = text.split_inclusive("\n\n").map(str::to_string).collect();
    let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
    Reply::sse(&refs)
}

/// A Chat Completions reply for an IR response (what an OpenAI-compatible upstream sends).
pub fn completion(resp: &llm_gateway::protocol::ir::Response) -> Reply {
    use llm_gateway::protocol::{codec::ResponseCtx, openai};
    let ctx = ResponseCtx {
        model: resp.model.clone(),
        ..ResponseCtx::default()
    };
    Reply::json(
        200,
        std::str::from_utf8(&openai::encode_response(resp, &ctx)).unwrap(),
    )
}

/// A chunk stream (with the usage chunk and `[DONE]`) for IR stream events.
pub fn chunks(events: &[llm_gateway::protocol::stream::StreamEvent]) -> Reply {
    use llm_gateway::protocol::{codec::ResponseCtx, openai};
    let ctx = ResponseCtx {
        model: "upstream-model".into(),
        include_usage: true,
        ..ResponseCtx::default()
    };
    let mut enc = openai::StreamEncoder::new(&ctx);
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    sse_frames(&out)
}

/// An OpenAI error body with this status.
pub fn error(err: &llm_gateway::protocol::ir::ApiError) -> Reply {
    let body = llm_gateway::protocol::openai::encode_error(err);
    Reply::json(err.status, std::str::from_utf8(&body).unwrap())
}
