//! Client connections: the bounds that keep idle, slow and surplus connections from holding the
//! gateway's file descriptors for ever (300 half-open connections under a laptop's
//! `ulimit -n 256` used to make `/health` time out).
//!
//! * Each connection has an [`Activity`]: its requests in flight (from a request head until the
//!   reply's last byte, [`InFlight`] riding in the reply body), when it last went idle, and when
//!   bytes of a next request began to arrive (noted by [`Watched`], the socket wrapper).
//!   A reply's tail outlives its [`InFlight`]: hyper drops the body once the last frame is
//!   queued, and up to a few hundred KB may still wait in its write buffer (or h2's) for a slow
//!   reader. So [`Watched`] also notes whether the socket refused bytes (`write_blocked`) and
//!   counts every write as activity: a connection still writing is never idle.
//! * [`Connections`], owned by the accept loop, looks at them a few times a second
//!   ([`Connections::reap`]): a connection with nothing in flight is closed once its request
//!   head is late (`[timeouts] client_header_secs`, counted from connecting, or from the first
//!   byte after a pause) or once it has been idle for `client_idle_secs`. A reply in progress is
//!   never cut, however long a stream stays quiet. Closing drops the connection's task; with
//!   nothing in flight, nothing is lost. This covers HTTP/1 and HTTP/2 alike, and the bytes
//!   before the protocol is known, which hyper's own header timeout does not (it also counts the
//!   pause between requests against the head).
//! * Past `[limits] max_connections` a new connection closes the one idle longest, or is closed
//!   itself when every connection has a request in flight ([`Connections::admit`]): an idle
//!   crowd never locks a new client (a `/health` probe) out. Upgraded WebSockets (`ws`) have
//!   left hyper and this table, but still count: each is a connection in use until it closes.
//! * [`raise_fd_limit`] lifts the soft descriptor limit to the hard one at start, and the cap is
//!   lowered to what the limit leaves room for ([`fd_budget`]).
//!
//! Request bodies have their own deadline (`client_body_secs`, in `body::read_limited`).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::{AbortHandle, Id};

use super::body::{Body, BoxError};
use crate::config::Config;

/// What the accept loop knows of one connection. Times are milliseconds since the accept
/// loop's start, so that connections compare.
pub(crate) struct Activity {
    epoch: Instant,
    in_flight: AtomicU32,
    /// Whether a request came: from then on the idle deadline applies between requests.
    served: AtomicBool,
    /// When the connection was accepted, or its last reply ended.
    idle_since: AtomicU64,
    /// 1 + when the first byte after going idle arrived; 0 while none has.
    first_byte: AtomicU64,
    /// The socket's last write or flush was refused (the client reads slower than we send):
    /// the tail of a reply is still waiting to go out.
    write_blocked: AtomicBool,
}

impl Activity {
    fn new(epoch: Instant) -> Activity {
        let a = Activity {
            epoch,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(0),
            write_blocked: AtomicBool::new(false),
        };
        a.idle_since.store(a.now(), Ordering::Relaxed);
        a
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request head arrived; the returned guard ends the request when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Relaxed);
        self.first_byte.store(0, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn bytes_read(&self) {
        if self.first_byte.load(Ordering::Relaxed) == 0
            && self.in_flight.load(Ordering::Relaxed) == 0
        {
            self.first_byte
                .store(self.now().saturating_add(1), Ordering::Relaxed);
        }
    }

    /// What a write or flush of the socket did.
    fn wrote(&self, outcome: Wrote) {
        match outcome {
            Wrote::Flushed => self.write_blocked.store(false, Ordering::Release),
            Wrote::Bytes => {
                self.write_blocked.store(false, Ordering::Release);
                // Only between requests, and only once served: bytes written before the first
                // request (h2's settings, ping answers) must not put off the head deadline.
                if self.in_flight.load(Ordering::Acquire) == 0
                    && self.served.load(Ordering::Relaxed)
                {
                    self.idle_since.store(self.now(), Ordering::Relaxed);
                }
            }
            Wrote::Refused => self.write_blocked.store(true, Ordering::Release),
            Wrote::Neither => {}
        }
    }

    /// Why the connection should be closed at `now`, if it should: never with a request in
    /// flight, nor while a reply's tail waits for the client to read it.
    fn overdue(&self, now: u64, limits: &Limits) -> Option<&'static str> {
        if !self.idle() {
            return None;
        }
        let idle_since = self.idle_since.load(Ordering::Relaxed);
        let first_byte = self.first_byte.load(Ordering::Relaxed);
        let (from, limit, why) = if !self.served.load(Ordering::Relaxed) {
            (
                idle_since,
                limits.header_ms,
                "no request head in time after connecting",
            )
        } else if first_byte != 0 {
            (
                first_byte - 1,
                limits.header_ms,
                "request head not complete in time",
            )
        } else {
            (idle_since, limits.idle_ms, "idle between requests")
        };
        (limit != 0 && now.saturating_sub(from) >= limit).then_some(why)
    }

    /// Nothing in flight and nothing waiting to be written.
    fn idle(&self) -> bool {
        // Acquire: pairs with `InFlight::drop`, which records `idle_since` before it decrements.
        self.in_flight.load(Ordering::Acquire) == 0 && !self.write_blocked.load(Ordering::Acquire)
    }
}

/// One request of a connection, from its head until its reply body is dropped (sent whole, or
/// abandoned).
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now(), Ordering::Relaxed);
        a.first_byte.store(0, Ordering::Relaxed);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A reply body holding its request's [`InFlight`].
pub(crate) struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl Tracked {
    pub fn new(inner: Body, in_flight: InFlight) -> Tracked {
        Tracked {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A client socket that tells its [`Activity`] when bytes arrive and whether they leave.
pub(crate) struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.activity.wrote(accepted(&polled));
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.activity.wrote(accepted(&polled));
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        this.activity.wrote(match &polled {
            // Not a write: hyper flushes on every wake-up, with or without bytes sent.
            Poll::Ready(Ok(())) => Wrote::Flushed,
            Poll::Pending => Wrote::Refused,
            Poll::Ready(Err(_)) => Wrote::Neither,
        });
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// What a write or flush of the socket did, for [`Activity::wrote`].
#[derive(Clone, Copy)]
enum Wrote {
    /// Bytes went out.
    Bytes,
    /// Everything written reached the socket.
    Flushed,
    /// The socket is full: the client does not read as fast as we send.
    Refused,
    /// An error or a zero-length write: the connection is ending or nothing changed.
    Neither,
}

fn accepted(polled: &Poll<io::Result<usize>>) -> Wrote {
    match polled {
        Poll::Ready(Ok(n)) if *n > 0 => Wrote::Bytes,
        Poll::Pending => Wrote::Refused,
        Poll::Ready(_) => Wrote::Neither,
    }
}

/// The client-connection settings, in milliseconds (0: no limit).
struct Limits {
    header_ms: u64,
    idle_ms: u64,
    cap: usize,
}

struct Open {
    activity: Arc<Activity>,
    abort: AbortHandle,
    closing: bool,
}

/// The open client connections, keyed by their task's id.
pub(crate) struct Connections {
    epoch: Instant,
    limits: Limits,
    open: HashMap<Id, Open>,
    /// How many of `open` were told to close and have not ended yet.
    closing: usize,
    /// When a connection was last refused (a warning at most once a minute).
    last_refusal_warning: Option<Instant>,
}

impl Connections {
    pub fn new(config: &Config) -> Connections {
        let ms = |secs: u64| secs.saturating_mul(1000);
        let wanted = match config.limits.max_connections {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let cap = match fd_budget() {
            Some(budget) if budget < wanted => {
                tracing::warn!(
                    "serving at most {budget} client connections at once: the file descriptor \
                     limit leaves no room for [limits] max_connections = {}",
                    config.limits.max_connections
                );
                budget
            }
            _ => wanted,
        };
        Connections {
            epoch: Instant::now(),
            limits: Limits {
                header_ms: ms(config.timeouts.client_header_secs),
                idle_ms: ms(config.timeouts.client_idle_secs),
                cap,
            },
            open: HashMap::new(),
            closing: 0,
            last_refusal_warning: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// How often [`Connections::reap`] should run: a quarter of the shortest timeout, between
    /// 100 ms and 1 s.
    pub fn reap_every(&self) -> Duration {
        let shortest = [self.limits.header_ms, self.limits.idle_ms]
            .into_iter()
            .filter(|&ms| ms > 0)
            .min()
            .unwrap_or(4000);
        Duration::from_millis((shortest / 4).clamp(100, 1000))
    }

    /// The activity record of a connection just accepted, or `None` when it must be closed: at
    /// the cap, the connection idle longest is closed to make room, and only when every
    /// connection has a request in flight is the new one refused. `upgraded`: the WebSockets
    /// open, which count as connections in use (never closed to make room).
    pub fn admit(&mut self, upgraded: usize) -> Option<Arc<Activity>> {
        let in_use = (self.open.len() - self.closing).saturating_add(upgraded);
        if in_use >= self.limits.cap && !self.evict_one() {
            let now = Instant::now();
            if self
                .last_refusal_warning
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60))
            {
                self.last_refusal_warning = Some(now);
                tracing::warn!(
                    "refusing client connections: all {} are busy ([limits] max_connections)",
                    self.limits.cap
                );
            }
            return None;
        }
        Some(Arc::new(Activity::new(self.epoch)))
    }

    pub fn insert(&mut self, activity: Arc<Activity>, abort: AbortHandle) {
        self.open.insert(
            abort.id(),
            Open {
                activity,
                abort,
                closing: false,
            },
        );
    }

    /// Forgets a connection whose task ended.
    pub fn remove(&mut self, id: Id) {
        if self.open.remove(&id).is_some_and(|o| o.closing) {
            self.closing -= 1;
        }
    }

    /// Closes every connection past its deadline.
    pub fn reap(&mut self) {
        let Some(now) = self.open.values().next().map(|o| o.activity.now()) else {
            return;
        };
        for o in self.open.values_mut().filter(|o| !o.closing) {
            if let Some(why) = o.activity.overdue(now, &self.limits) {
                tracing::debug!(why, "closing a client connection");
                o.abort.abort();
                o.closing = true;
                self.closing += 1;
            }
        }
    }

    /// Closes the connection idle longest, if one is idle. One whose next request has begun to
    /// arrive goes last: it is about to be busy, and closing it would drop that request.
    ///
    /// A request whose first byte arrives between this look and the abort is still lost; that
    /// is the race every HTTP/1.1 server closing a keep-alive connection has, and clients
    /// retry a request that got no reply byte on a reused connection.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .open
            .values_mut()
            .filter(|o| !o.closing && o.activity.idle())
            .min_by_key(|o| {
                let a = &o.activity;
                (
                    a.first_byte.load(Ordering::Relaxed) != 0,
                    a.idle_since.load(Ordering::Relaxed),
                )
            });
        let Some(victim) = victim else {
            return false;
        };
        tracing::debug!("closing the client connection idle longest to make room for a new one");
        victim.abort.abort();
        victim.closing = true;
        self.closing += 1;
        true
    }
}

/// Raises the soft limit on open files to the hard limit (macOS shells start at 256), so that
/// the connection cap rather than `accept` failing is what bounds clients.
pub fn raise_fd_limit() {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft);
    match (before, rlimit::increase_nofile_limit(u64::MAX)) {
        (Ok(before), Ok(now)) if now > before => {
            tracing::debug!("raised the open-file limit from {before} to {now}");
        }
        (_, Err(e)) => tracing::warn!("cannot raise the open-file limit: {e}"),
        _ => {}
    }
}

/// How many client connections the open-file limit leaves room for: each may hold an upstream
/// connection too, and the store, the log, the listeners and the runtime need some.
fn fd_budget() -> Option<usize> {
    let (soft, _) = rlimit::Resource::NOFILE.get().ok()?;
    let reserved = (soft / 4).min(64);
    let budget = (soft.saturating_sub(reserved) / 2).max(1);
    Some(usize::try_from(budget).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_ms: 1_000,
            idle_ms: 5_000,
            cap: 10,
        }
    }

    #[test]
    fn deadlines_apply_only_with_nothing_in_flight() {
        let a = Arc::new(Activity::new(Instant::now()));
        let t0 = a.idle_since.load(Ordering::Relaxed);
        let l = limits();
        assert_eq!(a.overdue(t0 + 999, &l), None);
        assert!(
            a.overdue(t0 + 1_000, &l).is_some(),
            "a silent new connection"
        );

        let req = a.begin();
        assert_eq!(a.overdue(t0 + 1_000_000, &l), None, "a reply in progress");
        drop(req);
        let t1 = a.idle_since.load(Ordering::Relaxed);
        assert_eq!(a.overdue(t1 + 4_999, &l), None);
        assert_eq!(
            a.overdue(t1 + 5_000, &l),
            Some("idle between requests"),
            "idle after a reply"
        );

        a.bytes_read();
        let t2 = a.first_byte.load(Ordering::Relaxed) - 1;
        assert_eq!(a.overdue(t2 + 999, &l), None);
        assert_eq!(
            a.overdue(t2 + 1_000, &l),
            Some("request head not complete in time")
        );

        let off = Limits {
            header_ms: 0,
            idle_ms: 0,
            cap: 10,
        };
        assert_eq!(a.overdue(u64::MAX / 2, &off), None, "0 turns a limit off");
    }

    /// Writes to `w` until the socket refuses bytes.
    fn fill(w: &mut Watched<tokio::io::DuplexStream>, cx: &mut Context<'_>) {
        let chunk = [b'x'; 64];
        while Pin::new(&mut *w).poll_write(cx, &chunk).is_ready() {}
    }

    #[tokio::test]
    async fn a_reply_tail_waiting_for_a_slow_reader_keeps_the_connection_busy() {
        use tokio::io::AsyncReadExt;

        let a = Arc::new(Activity::new(Instant::now()));
        let (io, mut client) = tokio::io::duplex(256);
        let mut w = Watched::new(io, Arc::clone(&a));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let l = limits();

        // hyper drops the reply body (and its InFlight) once the last frame is queued, while
        // its write buffer still holds bytes the client has not read.
        let req = a.begin();
        fill(&mut w, &mut cx);
        drop(req);
        let t = a.idle_since.load(Ordering::Relaxed);
        assert!(!a.idle(), "a blocked writer is not idle");
        assert_eq!(
            a.overdue(t + 1_000_000, &l),
            None,
            "a reply's tail is never cut"
        );

        // The client reads; the rest goes out and the connection is idle from then.
        let mut sink = [0u8; 256];
        let n = client.read(&mut sink).await.unwrap();
        assert!(n > 0);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(Pin::new(&mut w).poll_write(&mut cx, b"tail").is_ready());
        assert!(Pin::new(&mut w).poll_flush(&mut cx).is_ready());
        assert!(a.idle());
        let after = a.idle_since.load(Ordering::Relaxed);
        assert!(after > t, "the last write restarts the idle clock");
        assert_eq!(a.overdue(after + 4_999, &l), None);
        assert!(a.overdue(after + 5_000, &l).is_some());
    }

    #[test]
    fn writes_before_the_first_request_do_not_put_off_its_deadline() {
        let a = Arc::new(Activity::new(Instant::now()));
        let t0 = a.idle_since.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(5));
        a.wrote(Wrote::Bytes);
        assert_eq!(a.idle_since.load(Ordering::Relaxed), t0);
    }

    fn table(activities: &[Arc<Activity>]) -> Connections {
        let mut c = Connections {
            epoch: activities[0].epoch,
            limits: Limits {
                cap: activities.len(),
                ..limits()
            },
            open: HashMap::new(),
            closing: 0,
            last_refusal_warning: None,
        };
        for a in activities {
            let task = tokio::spawn(std::future::pending::<()>());
            c.insert(Arc::clone(a), task.abort_handle());
        }
        c
    }

    fn closed(c: &Connections, a: &Arc<Activity>) -> bool {
        c.open
            .values()
            .any(|o| Arc::ptr_eq(&o.activity, a) && o.closing)
    }

    #[tokio::test]
    async fn upgraded_sockets_take_places_under_the_cap() {
        let epoch = Instant::now();
        let idle = Arc::new(Activity::new(epoch));
        let mut c = table(&[Arc::clone(&idle)]);
        c.limits.cap = 2;
        // One connection and one WebSocket fill the cap: the idle connection makes room.
        assert!(c.admit(1).is_some());
        assert!(closed(&c, &idle));
        // Two WebSockets fill it: nothing can be closed for a newcomer.
        let mut c = table(&[Arc::clone(&idle)]);
        c.limits.cap = 2;
        c.open.clear();
        assert!(c.admit(2).is_none());
        assert!(c.admit(1).is_some(), "a closed socket gives its place back");
    }

    #[tokio::test]
    async fn eviction_spares_a_connection_whose_next_request_is_arriving() {
        let epoch = Instant::now();
        let served = |idle_since: u64| {
            let a = Arc::new(Activity::new(epoch));
            drop(a.begin());
            a.idle_since.store(idle_since, Ordering::Relaxed);
            a
        };
        // Idle longest, but its next request head has begun to arrive.
        let arriving = served(10);
        arriving.first_byte.store(500, Ordering::Relaxed);
        // Idle longer than `quiet`, but still writing the tail of its last reply.
        let writing = served(20);
        writing.wrote(Wrote::Refused);
        let quiet = served(30);
        let mut c = table(&[
            Arc::clone(&arriving),
            Arc::clone(&writing),
            Arc::clone(&quiet),
        ]);

        assert!(c.evict_one());
        assert!(closed(&c, &quiet), "the quiet connection goes first");
        assert!(c.evict_one());
        assert!(closed(&c, &arriving), "then the one with a head arriving");
        assert!(!c.evict_one(), "never one still writing a reply");
        assert!(!closed(&c, &writing));
    }
}
