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
//! * a pooled connection is checked before use (closed ones, and ones not ready within
//!   [`READY_WAIT`], are dropped), and a request that hyper hands back unsent (the connection
//!   closed as it was taken) goes on another one. Nothing that reached the wire is ever resent:
//!   when the upstream closes an idle connection just as a request is written to it, that
//!   request fails (and the gateway's failover takes over), as with hyper-util's client;
//! * idle connections are kept [`POOL_IDLE`] at most, [`POOL_MAX_IDLE`] per upstream address,
//!   and a reaper closes the expired ones even when no request comes for that address again.
//!
//! TLS upstreams and proxies stay with hyper-util's client and reqwest ([`super::client`]).

use std::net::SocketAddr;
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

/// How long a request waits for a pooled connection to finish its last exchange: far longer
/// than a busy machine takes to get there, far shorter than a client would wait.
const READY_WAIT: Duration = Duration::from_millis(250);

/// How many pooled connections one request tries before it opens a new one: all of them may
/// have gone stale together (an upstream restarted), and each costs only a failed check.
const MAX_STALE_TRIES: usize = 4;

/// Plain-`http` keep-alive connections by upstream address. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<FxHashMap<Key, Vec<Idle>>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    reaper: std::sync::Once,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// An upstream address as the pool's key, compared byte for byte. `Authority`'s own `Hash` and
/// `Eq` ignore ASCII case, one byte at a time, which cost more per request than the rest of the
/// pool's bookkeeping; the addresses come from the upstream's base URL, written one way, and two
/// spellings of one address would only keep two idle lists.
#[derive(Clone)]
struct Key(Authority);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
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
    key: Key,
    sender: Sender,
}

impl Lease {
    /// Back to the pool, unless it is known to be closed or the pool is full for that address.
    /// One closing just now (`connection: close`) may still come back: the next checkout drops
    /// it.
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
        let key = Key(origin_form(&mut req)?);
        self.shared.start_reaper();
        for _ in 0..MAX_STALE_TRIES {
            let Some(mut sender) = self.shared.checkout(&key) else {
                break;
            };
            if !ready_soon(&mut sender).await {
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

    fn lease(&self, key: Key, sender: Sender) -> Lease {
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

/// Whether a pooled connection is ready for a request, waiting at most [`READY_WAIT`]. It
/// usually is at once; one that is not may still be writing the last request's body to an
/// upstream that answered early and stopped reading, and would hold this request forever.
/// Dropped then (closing it): nothing of this request was written yet.
async fn ready_soon(sender: &mut Sender) -> bool {
    // Checked once first: the usual case arms no timer.
    if let Some(ready) = futures_util::FutureExt::now_or_never(sender.ready()) {
        return ready.is_ok();
    }
    matches!(
        tokio::time::timeout(READY_WAIT, sender.ready()).await,
        Ok(Ok(()))
    )
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<Key, Vec<Idle>>> {
        // A panic while holding the lock leaves only a list of connections behind: still usable.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used live connection for `key` (the likeliest to be still open).
    fn checkout(&self, key: &Key) -> Option<Sender> {
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

    async fn connect(&self, Key(key): &Key) -> Result<Sender, PoolError> {
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

    /// The name resolved and each address tried in turn, all within the connect timeout; each
    /// address gets an equal share of what is left (as hyper-util's connector does), so a
    /// `localhost` whose `::1` nobody answers still reaches `127.0.0.1` in time.
    async fn dial(&self, host: &str, port: u16) -> Result<TcpStream, PoolError> {
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| PoolError::ConnectTimeout(self.connect_timeout))?
                .map_err(PoolError::Connect)?
                .collect();
        let mut last = PoolError::NoAddress(host.to_owned());
        for (i, addr) in addrs.iter().enumerate() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
            match tokio::time::timeout(share, TcpStream::connect(addr)).await {
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
    match authority.port() {
        None => HeaderValue::from_str(host).ok(),
        Some(port) if port.as_u16() == 80 => HeaderValue::from_str(host).ok(),
        // The authority itself when it is exactly `host:port` (no userinfo, no leading zero in
        // the port): what formatting would give, without formatting on every request.
        Some(port)
            if !port.as_str().starts_with('0')
                && authority.as_str().len() == host.len() + 1 + port.as_str().len() =>
        {
            HeaderValue::from_str(authority.as_str()).ok()
        }
        Some(port) => HeaderValue::from_str(&format!("{host}:{}", port.as_u16())).ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use hyper::body::Body as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// How the fake upstream behaves after each request.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        /// Answers `ok` and keeps the connection for the next request.
        KeepAlive,
        /// Answers `ok`, then closes without saying so (the keep-alive race).
        CloseSilently,
        /// Answers `ok` with `connection: close`, then closes.
        ConnectionClose,
        /// Answers `413` as soon as it has the head, never reads the body, keeps the socket.
        EarlyReply,
    }

    /// Connections accepted, and connections the gateway side closed.
    #[derive(Default)]
    struct Counts {
        opened: AtomicUsize,
        closed_by_client: AtomicUsize,
    }

    /// A raw HTTP/1.1 upstream; requests are a head plus the 2-byte body `post` sends.
    async fn upstream(mode: Mode) -> (Authority, Arc<Counts>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let seen = Arc::clone(&counts);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                seen.opened.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let body_len = if mode == Mode::EarlyReply { 0 } else { 2 };
                    let whole = |buf: &[u8]| {
                        buf.windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .is_some_and(|end| buf.len() >= end + 4 + body_len)
                    };
                    loop {
                        while !whole(&buf) {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => {
                                    seen.closed_by_client.fetch_add(1, Ordering::SeqCst);
                                    return;
                                }
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let reply: &[u8] = match mode {
                            Mode::ConnectionClose => {
                                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
                            }
                            Mode::EarlyReply => {
                                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig"
                            }
                            _ => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                        };
                        if sock.write_all(reply).await.is_err() {
                            return;
                        }
                        match mode {
                            Mode::KeepAlive => {}
                            Mode::CloseSilently | Mode::ConnectionClose => return,
                            Mode::EarlyReply => {
                                // Holds the socket without reading: the client's write stalls.
                                tokio::time::sleep(Duration::from_secs(60)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (format!("{addr}").parse().unwrap(), counts)
    }

    fn post(uri: &str) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::from_static(b"{}")));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = uri.parse().unwrap_or_default();
        req
    }

    async fn call(pool: &Pool, at: &Authority) -> Result<Bytes, PoolError> {
        call_with(pool, at, Bytes::from_static(b"{}")).await
    }

    /// One request, its reply read the way `client::BodyStream` reads it: the lease released
    /// at the end, or at the last byte when the reply's length says so.
    async fn call_with(pool: &Pool, at: &Authority, body: Bytes) -> Result<Bytes, PoolError> {
        let mut req = post(&format!("http://{at}/v1/x"));
        *req.body_mut() = Full::new(body);
        let (resp, lease) = pool.send(req).await?;
        let mut body = resp.into_body();
        let mut lease = Some(lease);
        let mut out = Vec::new();
        loop {
            let frame = body.frame().await;
            if (frame.is_none() || body.is_end_stream())
                && let Some(lease) = lease.take()
            {
                lease.release();
            }
            match frame {
                None => return Ok(Bytes::from(out)),
                Some(frame) => {
                    if let Ok(data) = frame.map_err(PoolError::Send)?.into_data() {
                        out.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} did not happen within 2 s");
    }

    #[tokio::test]
    async fn one_connection_carries_requests_one_after_another() {
        let (at, counts) = upstream(Mode::KeepAlive).await;
        let pool = Pool::new(Duration::from_secs(2));
        for _ in 0..5 {
            assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        }
        assert_eq!(counts.opened.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn connections_the_upstream_closes_are_not_used_again() {
        for mode in [Mode::CloseSilently, Mode::ConnectionClose] {
            let (at, counts) = upstream(mode).await;
            let pool = Pool::new(Duration::from_secs(2));
            for _ in 0..3 {
                assert_eq!(call(&pool, &at).await.unwrap(), "ok");
            }
            assert_eq!(counts.opened.load(Ordering::SeqCst), 3);
        }
    }

    #[tokio::test]
    async fn a_reply_dropped_half_read_closes_its_connection() {
        let (at, counts) = upstream(Mode::KeepAlive).await;
        let pool = Pool::new(Duration::from_secs(2));
        let (resp, lease) = pool.send(post(&format!("http://{at}/"))).await.unwrap();
        drop((resp, lease));
        assert_eq!(pool.idle_count(), 0);
        eventually("the close", || {
            counts.closed_by_client.load(Ordering::SeqCst) == 1
        })
        .await;
        assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        assert_eq!(counts.opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_still_writing_an_answered_request_does_not_hold_the_next() {
        let (at, counts) = upstream(Mode::EarlyReply).await;
        let pool = Pool::new(Duration::from_secs(2));
        // Far more than the socket buffers take: the write is still going when the reply is
        // read, and the reply's length releases the connection.
        let big = Bytes::from(vec![b' '; 32 << 20]);
        assert_eq!(call_with(&pool, &at, big).await.unwrap(), "big");
        let next = tokio::time::timeout(Duration::from_secs(10), call(&pool, &at)).await;
        assert_eq!(next.unwrap().unwrap(), "big");
        assert_eq!(counts.opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_expire_and_the_pool_keeps_at_most_its_limit() {
        let (at, counts) = upstream(Mode::KeepAlive).await;
        let pool = Pool::with_limits(Duration::from_secs(2), Duration::from_millis(40), 1);
        let (a, b) = tokio::join!(call(&pool, &at), call(&pool, &at));
        assert_eq!((a.unwrap(), b.unwrap()), ("ok".into(), "ok".into()));
        assert_eq!(counts.opened.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(), 1, "one over the limit is closed");
        eventually("the reaper", || pool.idle_count() == 0).await;
        eventually("both closes", || {
            counts.closed_by_client.load(Ordering::SeqCst) == 2
        })
        .await;
        assert_eq!(call(&pool, &at).await.unwrap(), "ok");
        assert_eq!(counts.opened.load(Ordering::SeqCst), 3);
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

    #[test]
    fn the_host_header_is_host_and_port_as_formatting_gives_it() {
        let host = |a: &str| {
            host_header(&a.parse::<Authority>().unwrap()).map(|h| h.to_str().unwrap().to_owned())
        };
        assert_eq!(host("127.0.0.1:9000").as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(host("[::1]:8080").as_deref(), Some("[::1]:8080"));
        assert_eq!(host("user:pw@h:8080").as_deref(), Some("h:8080"));
        assert_eq!(host("h:08080").as_deref(), Some("h:8080"));
        assert_eq!(host("h:80").as_deref(), Some("h"));
        assert_eq!(host("h:080").as_deref(), Some("h"));
        assert_eq!(host("h").as_deref(), Some("h"));
        assert_eq!(host("h:0").as_deref(), Some("h:0"));
    }
}
