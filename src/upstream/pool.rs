//! Keep-alive HTTP/1.1 connections to plain-`http` upstreams: local model servers (Ollama,
//! vLLM, llama.cpp, LM Studio) and anything on loopback, where the client's own bookkeeping is
//! a visible share of each request. hyper-util's legacy client spends more per request than
//! the rest of the fast path's forwarding (a pool keyed by SipHash, a lazy-connect `select`,
//! boxed futures, and a task spawned per request to wait for the connection to become idle);
//! this is hyper's own connection API with the least pooling that is still correct:
//!
//! * a connection is lent to one request and comes back when its reply has been read to the
//!   end ([`Lease`] in the reply body); a reply dropped half-read takes its connection with it,
//!   so hyper closes it (and the upstream sees the client go);
//! * a pooled connection is checked before use, and a request the connection refused before
//!   writing anything (the keep-alive race: the upstream closed it while it sat idle) is sent
//!   again on another one; nothing that reached the wire is ever resent;
//! * idle connections are kept [`POOL_IDLE`] at most, [`POOL_MAX_IDLE`] per upstream address,
//!   and a reaper closes the expired ones even when no request comes for that address again.
//!
//! TLS upstreams and proxies stay with hyper-util's client and reqwest ([`super::client`]).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;

use super::client::{POOL_IDLE, POOL_MAX_IDLE};

type Sender = SendRequest<Full<Bytes>>;

/// How many pooled connections one request tries before it opens a new one: all of them may
/// have gone stale together (an upstream restarted), and each costs only a failed check.
const MAX_STALE_TRIES: usize = 4;

/// Plain-`http` keep-alive connections by upstream address. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<FxHashMap<Authority, Vec<Idle>>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    reaper: std::sync::Once,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// Why a request through the pool failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the upstream URL has no host")]
    NoHost,
    #[error("`{0}` resolves to no address")]
    NoAddress(String),
    #[error("tcp connect error")]
    Connect(#[source] std::io::Error),
    #[error("tcp connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("HTTP/1.1 handshake failed")]
    Handshake(#[source] hyper::Error),
    #[error("error sending request")]
    Send(#[source] hyper::Error),
}

/// A connection lent to one request. [`Lease::release`] gives it back (once the reply has been
/// read to its end); dropping it closes the connection.
pub struct Lease {
    shared: Arc<Shared>,
    key: Authority,
    sender: Sender,
}

impl Lease {
    /// Back to the pool, unless it was closed (`connection: close`, an error) or the pool is
    /// full for that address.
    pub fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        let mut idle = self.shared.lock();
        let list = idle.entry(self.key).or_default();
        if list.len() < self.shared.max_idle {
            list.push(Idle {
                sender: self.sender,
                since: Instant::now(),
            });
        }
    }
}

impl Pool {
    pub fn new(connect_timeout: Duration) -> Self {
        Pool::with_limits(connect_timeout, POOL_IDLE, POOL_MAX_IDLE)
    }

    fn with_limits(connect_timeout: Duration, idle_timeout: Duration, max_idle: usize) -> Self {
        Pool {
            shared: Arc::new(Shared {
                idle: Mutex::new(FxHashMap::default()),
                connect_timeout,
                idle_timeout,
                max_idle,
                reaper: std::sync::Once::new(),
            }),
        }
    }

    /// Sends `req` (an absolute `http://` URI) on a pooled connection or a new one. The reply
    /// comes with the [`Lease`] to release when its body has been read.
    pub async fn send(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), PoolError> {
        let key = origin_form(&mut req)?;
        self.shared.start_reaper();
        let mut tries = 0;
        while tries < MAX_STALE_TRIES {
            let Some(mut sender) = self.shared.checkout(&key) else {
                break;
            };
            tries += 1;
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, self.lease(key, sender))),
                Err(mut e) => match e.take_message() {
                    // Refused before a byte was written: safe to send again.
                    Some(back) => req = back,
                    None => return Err(PoolError::Send(e.into_error())),
                },
            }
        }
        let mut sender = self.shared.connect(&key).await?;
        let resp = sender.send_request(req).await.map_err(PoolError::Send)?;
        Ok((resp, self.lease(key, sender)))
    }

    fn lease(&self, key: Authority, sender: Sender) -> Lease {
        Lease {
            shared: Arc::clone(&self.shared),
            key,
            sender,
        }
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.shared.lock().values().map(Vec::len).sum()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<Authority, Vec<Idle>>> {
        // A panic while holding the lock leaves only a list of connections behind: still usable.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used live connection for `key` (the likeliest to be still open).
    fn checkout(&self, key: &Authority) -> Option<Sender> {
        let mut idle = self.lock();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(entry) = list.pop() {
            if !entry.sender.is_closed() && now.duration_since(entry.since) < self.idle_timeout {
                return Some(entry.sender);
            }
        }
        None
    }

    async fn connect(&self, key: &Authority) -> Result<Sender, PoolError> {
        let host = key.host();
        // `[::1]` in a URI is `::1` to the resolver.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = key.port_u16().unwrap_or(80);
        let tcp = self.dial(host, port).await?;
        tcp.set_nodelay(true).map_err(PoolError::Connect)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(PoolError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection closed with an error");
            }
        });
        Ok(sender)
    }

    /// Each address the name resolves to in turn, each with the whole connect timeout: a
    /// `localhost` whose `::1` nobody answers still reaches `127.0.0.1`.
    async fn dial(&self, host: &str, port: u16) -> Result<TcpStream, PoolError> {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(PoolError::Connect)?;
        let mut last = PoolError::NoAddress(host.to_owned());
        for addr in addrs {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return Ok(tcp),
                Ok(Err(e)) => last = PoolError::Connect(e),
                Err(_) => last = PoolError::ConnectTimeout(self.connect_timeout),
            }
        }
        Err(last)
    }

    /// Starts the task that closes expired idle connections, once, on the first request (the
    /// pool is made before the runtime runs). It ends with the pool.
    fn start_reaper(self: &Arc<Self>) {
        self.reaper.call_once(|| {
            let weak: Weak<Shared> = Arc::downgrade(self);
            let every = (self.idle_timeout / 2).max(Duration::from_millis(10));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(shared) = weak.upgrade() else { return };
                    shared.reap(Instant::now());
                }
            });
        });
    }

    fn reap(&self, now: Instant) {
        let mut idle = self.lock();
        idle.retain(|_, list| {
            list.retain(|e| {
                !e.sender.is_closed() && now.duration_since(e.since) < self.idle_timeout
            });
            !list.is_empty()
        });
    }
}

/// Turns `req`'s absolute URI into the origin form (`/path?query`) that goes on the wire, adds
/// `Host` when it has none, and returns the address to connect to.
fn origin_form(req: &mut Request<Full<Bytes>>) -> Result<Authority, PoolError> {
    let uri = req.uri();
    let key = uri.authority().cloned().ok_or(PoolError::NoHost)?;
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(path);
    if !req.headers().contains_key(header::HOST) {
        let host = host_header(&key).ok_or(PoolError::NoHost)?;
        req.headers_mut().insert(header::HOST, host);
    }
    Ok(key)
}

/// The `Host` header for a plain-`http` address: the host, and the port unless it is 80 (as
/// hyper-util's client writes it); never the userinfo.
pub fn host_header(authority: &Authority) -> Option<HeaderValue> {
    let host = authority.host();
    match authority.port_u16() {
        None | Some(80) => HeaderValue::from_str(host).ok(),
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")).ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A raw HTTP/1.1 upstream answering `ok` to every request; counts its connections and, with
    /// `close_after_reply`, closes each connection after one reply without saying so (the
    /// keep-alive race a pooled connection must survive).
    async fn upstream(close_after_reply: bool) -> (Authority, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&conns);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // A request is its head plus the 2-byte `{}` body the tests send.
                        let whole = |buf: &[u8]| {
                            buf.windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .is_some_and(|end| buf.len() >= end + 4 + 2)
                        };
                        while !whole(&buf) {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if sock.write_all(reply).await.is_err() || close_after_reply {
                            return;
                        }
                    }
                });
            }
        });
        (format!("{addr}").parse().unwrap(), conns)
    }

    async fn call(pool: &Pool, at: &Authority) -> Result<Bytes, PoolError> {
        let (resp, lease) = pool.send(post(&format!("http://{at}/v1/x"))).await?;
        let body = BodyStream(resp.into_body(), Some(lease)).read().await;
        Ok(body)
    }

    /// The reply body read to its end, then the lease released, as `client::BodyStream` does.
    struct BodyStream(Incoming, Option<Lease>);

    impl BodyStream {
        async fn read(mut self) -> Bytes {
            let body = (&mut self.0).collect().await.unwrap().to_bytes();
            if let Some(lease) = self.1.take() {
                lease.release();
            }
            body
        }
    }

    #[tokio::test]
    async fn one_connection_carries_requests_one_after_another() {
        let (at, conns) = upstream(false).await;
        let pool = Pool::new(Duration::from_secs(2));
        for _ in 0..5 {
            assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        }
        assert_eq!(conns.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_while_idle_is_replaced() {
        let (at, conns) = upstream(true).await;
        let pool = Pool::new(Duration::from_secs(2));
        for _ in 0..3 {
            assert_eq!(call(&pool, &at).await.unwrap(), "ok");
            // Both orders: the close noticed before the next request, and not yet noticed.
            tokio::task::yield_now().await;
        }
        assert_eq!(conns.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_reply_dropped_half_read_does_not_come_back() {
        let (at, conns) = upstream(false).await;
        let pool = Pool::new(Duration::from_secs(2));
        let (resp, lease) = pool.send(post(&format!("http://{at}/"))).await.unwrap();
        drop((resp, lease));
        assert_eq!(pool.idle_count(), 0);
        assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_expire_and_the_pool_keeps_at_most_its_limit() {
        let (at, conns) = upstream(false).await;
        let pool = Pool::with_limits(Duration::from_secs(2), Duration::from_millis(40), 1);
        let ((a, la), (b, lb)) = tokio::join!(
            async { pool.send(post(&format!("http://{at}/"))).await.unwrap() },
            async { pool.send(post(&format!("http://{at}/"))).await.unwrap() },
        );
        BodyStream(a.into_body(), Some(la)).read().await;
        BodyStream(b.into_body(), Some(lb)).read().await;
        assert_eq!(conns.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(), 1, "one over the limit is closed");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(pool.idle_count(), 0, "the reaper closed the expired one");
        assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        assert_eq!(conns.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let pool = Pool::new(Duration::from_secs(2));
        let err = pool
            .send(post(&format!("http://{addr}/")))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, PoolError::Connect(_)), "{err:?}");
    }

    fn post(uri: &str) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::from_static(b"{}")));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = uri.parse().unwrap_or_default();
        req
    }

    #[test]
    fn the_origin_form_goes_on_the_wire_with_a_host() {
        let mut req = post("http://127.0.0.1:9000/v1/chat/completions?x=1");
        let key = origin_form(&mut req).ok();
        assert_eq!(key.as_ref().map(Authority::as_str), Some("127.0.0.1:9000"));
        assert_eq!(req.uri().to_string(), "/v1/chat/completions?x=1");
        assert_eq!(req.headers()[header::HOST], "127.0.0.1:9000");

        let mut req = post("http://user:secret@localhost:80/");
        assert!(origin_form(&mut req).is_ok());
        assert_eq!(req.headers()[header::HOST], "localhost");

        let mut req = post("http://[::1]/");
        req.headers_mut()
            .insert(header::HOST, HeaderValue::from_static("kept"));
        assert!(origin_form(&mut req).is_ok());
        assert_eq!(req.headers()[header::HOST], "kept");

        assert!(matches!(
            origin_form(&mut post("/relative")),
            Err(PoolError::NoHost)
        ));
    }
}
