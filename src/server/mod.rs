//! The HTTP front: accept loop with graceful shutdown, router, auth, limits, the pipeline
//! (decode -> route -> send -> encode, with the same-protocol fast path) and errors rendered in
//! the client's dialect.
//!
//! [`run`] is `server start`: it opens the store, takes the pid file, starts the OAuth token
//! refresher (whose token source the gemini-cli and qwen upstreams read through
//! [`State::tokens`]), the admin socket (whose changes reload the [`View`] and wake the
//! refresher), the usage flusher, the signal watcher and the `config.toml` watcher
//! (`config_watch`), and then
//! [`serve`]s until shutdown. [`serve`] is the store-free core: a listener, a [`State`] built
//! from a [`View`], and a cancellation token; the integration tests drive it directly.
//!
//! Files: `router` (path -> handler, small routes), `inbound` (what a client called, Gemini
//! paths), `pipeline` (route, failover, fast path or translation per candidate), `translate`
//! (translated streams and whole replies), `relay` (untouched replies), `shape` (whether a
//! reply is what the client asked for), `request` (body validation and the model edit),
//! `count` (token counts), `estimate` (the bounded local estimate), `models` (model lists),
//! `auth`, `host` (the DNS-rebinding guard on `Host`), `cors` (preflights and the headers for
//! listed web origins), `error`, `ctx` (per-request context, access log, accounting), `cut`
//! (streams ended by the shutdown grace), `metrics`, `overhead` (the gateway's own time:
//! `Server-Timing` and its histogram), `telemetry` (logging), `log_file` (the size-rotated log
//! file), `state`, `config_watch` (the `config.toml` watcher), `body`, `conn` (the bounds on
//! client connections: header and idle timeouts, the connection cap, the open-file limit),
//! `runtime` (the threads it runs on), `stored_responses` (the Responses API's stored replies:
//! saved off the request path, `previous_response_id`, `GET`/`DELETE /v1/responses/{id}`),
//! `ws` (`GET /v1/ws`: chat requests over a WebSocket, run through the same router).

mod admit;
mod auth;
mod bedrock;
mod body;
mod config_watch;
mod conn;
mod cors;
mod count;
mod credential;
mod ctx;
mod cut;
pub mod error;
mod estimate;
pub(crate) mod fast_body;
mod host;
mod inbound;
mod log_file;
mod metrics;
mod models;
mod outcome;
mod overhead;
mod pipeline;
mod relay;
mod reply;
mod router;
pub mod runtime;
mod shape;
mod state;
pub mod stored_responses;
mod telemetry;
mod translate;
mod whole_events;
mod ws;

use std::convert::Infallible;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::Body;
use body::ReqBody;
use cut::{Cut, Watching};
pub use error::{Dialect, ErrorKind, GatewayError, guess_dialect};
pub use state::{DEFAULT_PING_INTERVAL, State, View, load_view};
pub use telemetry::log_path;

use crate::config::Config;
use crate::config::paths::Home;
use crate::daemon::DaemonError;
use crate::daemon::admin::{self, AdminHooks};
use crate::daemon::pidfile::PidFile;
use crate::oauth::{self, TokenStore, token_store::BlockingStore};
use crate::store::Store;
use crate::store::ops::{Op, Reply};
use crate::usage;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("{0}")]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("{0}")]
    Other(String),
}

/// What `server start` (foreground) needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub home: Home,
    pub config: Config,
    pub config_path: PathBuf,
    /// `--listen`, overriding `[server] listen`.
    pub listen: Option<String>,
}

/// How long streams cut at the end of the shutdown grace get to write their error event
/// before their connections are closed.
const CUT_FLUSH: Duration = Duration::from_secs(1);

/// How often pending usage counters are written to the store.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Runs the server in the foreground until SIGINT/SIGTERM or `server stop`, then drains.
/// Prints the address it listens on once it is ready.
pub async fn run(opts: ServeOptions) -> Result<(), ServerError> {
    let ServeOptions {
        home,
        config,
        config_path,
        listen,
    } = opts;
    let listen = listen.unwrap_or_else(|| config.server.listen.clone());
    home.ensure()
        .map_err(|e| ServerError::Other(format!("cannot create {}: {e}", home.root().display())))?;
    let log = telemetry::init(&config.log, &home)?;
    conn::raise_fd_limit();

    // The pid file first: a second server is told who runs rather than failing on the database.
    let _pid = PidFile::acquire(&home, &listen)?;
    let store = {
        let (home, config) = (home.clone(), config.clone());
        tokio::task::spawn_blocking(move || Store::open(&home, &config))
            .await
            .map_err(|e| ServerError::Other(format!("opening the store: {e}")))?
            .map_err(DaemonError::from)?
    };
    let store = Arc::new(store);
    let view = load_view(&store).await?;
    let shutdown = CancellationToken::new();
    let background = CancellationToken::new();
    // The refresher writes to the database directly, not through the admin socket, so its own
    // writes never wake it; CLI changes (a login, refresh or logout) do, via `reload_loop`.
    let refresher = oauth::refresher::spawn(
        Arc::new(BlockingStore(Arc::clone(&store))) as Arc<dyn TokenStore>,
        &config,
        background.clone(),
    )
    .map_err(|e| ServerError::Other(format!("cannot start the OAuth token refresher: {e}")))?;
    let started = config.clone();
    let state = State::new(config, view)?;
    state.set_tokens(refresher.token_source());
    let responses = stored_responses::StoredResponses::new((*store).clone());
    state.set_responses(Arc::clone(&responses));
    let watch = Arc::new(config_watch::ConfigWatch::new(
        config_path,
        Arc::clone(&state),
        log,
        started,
    ));

    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|e| ServerError::Bind {
            addr: listen.clone(),
            message: e.to_string(),
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Other(e.to_string()))?;

    let tasks = TaskTracker::new();

    let reloader = Arc::new(Reloader {
        state: Arc::clone(&state),
        store: Arc::clone(&store),
        refresher: refresher.clone(),
        serial: tokio::sync::Mutex::new(()),
    });
    let hooks = AdminHooks {
        on_change: Arc::new(move || {
            let reloader = Arc::clone(&reloader);
            Box::pin(async move { reloader.reload().await })
        }),
        on_shutdown: {
            let shutdown = shutdown.clone();
            Arc::new(move || shutdown.cancel())
        },
        listen: addr.to_string(),
        health: {
            let state = Arc::clone(&state);
            Arc::new(move || state.health_report())
        },
        overhead: {
            let state = Arc::clone(&state);
            Arc::new(move || state.overhead_summary())
        },
        flush_usage: {
            let (ledger, sink) = (Arc::clone(state.ledger()), store_sink(Arc::clone(&store)));
            Arc::new(move || {
                let (ledger, sink) = (Arc::clone(&ledger), Arc::clone(&sink));
                Box::pin(async move { usage::flush(&ledger, &sink).await })
            })
        },
        config: {
            let watch = Arc::clone(&watch);
            Arc::new(move || {
                let watch = Arc::clone(&watch);
                Box::pin(async move { watch.check(false).await })
            })
        },
    };
    tasks.spawn({
        let (store, cancel) = (Arc::clone(&store), background.clone());
        let socket = home.admin_socket();
        async move {
            if let Err(e) = admin::serve(socket, store, hooks, cancel).await {
                tracing::error!("admin socket stopped: {e}; CLI commands cannot reach this server");
            }
        }
    });
    tasks.spawn(usage::run_flusher(
        Arc::clone(state.ledger()),
        store_sink(Arc::clone(&store)),
        USAGE_FLUSH_EVERY,
        background.clone(),
    ));
    tasks.spawn({
        let state = Arc::clone(&state);
        responses.run(move || state.config().responses.clone(), background.clone())
    });
    tasks.spawn(watch_signals(shutdown.clone()));
    tasks.spawn(Arc::clone(&watch).run(background.clone()));

    let threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(%addr, threads, "listening");
    let mut out = std::io::stdout();
    // stdout carries exactly this line: scripts and `server start --detach` wait for it.
    let _ = writeln!(out, "listening on http://{addr}").and_then(|()| out.flush());

    let served = serve(listener, Arc::clone(&state), shutdown.clone()).await;
    shutdown.cancel();
    background.cancel();
    tasks.close();
    tasks.wait().await;
    refresher.join().await;
    tracing::info!("stopped");
    served
}

/// Serves HTTP on `listener` until `shutdown` fires, then stops accepting, lets requests and
/// streams in flight finish for up to `[server] shutdown_grace_secs`, and cuts what remains:
/// streams end with their dialect's error event, then the connections still open are closed.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // HTTP/2 pings a quiet client, so that a vanished one does not hold its streams for ever.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let bound = listener
        .local_addr()
        .map_err(|e| ServerError::Other(format!("the listening socket has no address: {e}")))?;
    let guard = Arc::new(host::HostGuard::new(bound, &state.config().server));
    // Bound to every interface: a connection that arrives on loopback gets the loopback rules.
    let loopback_guard =
        host::HostGuard::for_loopback_arrival(bound, &state.config().server).map(Arc::new);
    // The start of shutdown, told to every connection: hyper finishes the request in flight
    // and closes. The cut's signal (a flag read when a connection's task wakes, a waker left
    // once) rather than hyper-util's `GracefulShutdown`, which polled a `watch` channel on
    // every wake-up of every connection: once per chunk of every stream.
    let drain = Arc::new(Cut::default());
    // A set rather than a per-connection race against a cancellation token: the token would be
    // polled (a lock) every time a connection's task wakes. The set aborts what remains after
    // the grace period; finished connections are reaped as the loop goes.
    let mut connections = JoinSet::new();
    // Idle, slow and surplus connections are closed from here, not from each connection's task,
    // for the same reason.
    let mut open = conn::Connections::new(&state.config());
    let mut reap = tokio::time::interval(open.reap_every());
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // In this order: a connection that ended (one upgraded to a WebSocket, whose place
            // `ws` now holds) leaves the table before a new one is counted against the cap.
            biased;
            Some(done) = connections.join_next_with_id(), if !connections.is_empty() => {
                open.remove(match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                });
            }
            _ = reap.tick(), if !open.is_empty() => open.reap(),
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(activity) = open.admit(state.ws.open()) else {
                    drop(stream);
                    continue;
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
                let guard = match &loopback_guard {
                    Some(strict) if arrived_on_loopback(&stream) => Arc::clone(strict),
                    _ => Arc::clone(&guard),
                };
                let state = Arc::clone(&state);
                let io = TokioIo::new(conn::Watched::new(stream, Arc::clone(&activity)));
                let requests = Arc::clone(&activity);
                let service = service_fn(move |req| {
                    let (state, guard) = (Arc::clone(&state), Arc::clone(&guard));
                    let in_flight = requests.begin();
                    async move {
                        let resp = router::handle_guarded(state, &guard, req.map(ReqBody::from)).await;
                        Ok::<_, Infallible>(resp.map(|body| conn::Tracked::new(body, in_flight)))
                    }
                });
                let conn = builder.serve_connection_with_upgrades(io, service).into_owned();
                let task = connections.spawn(run_connection(conn, Arc::clone(&drain)));
                open.insert(activity, task);
            }
        }
    }
    drop(listener);
    let grace = Duration::from_secs(state.config().server.shutdown_grace_secs);
    // WebSockets finish the requests they run, then close with 1001 (`ws`).
    state.ws.closing.cancel();
    state.ws.tracker.close();
    let sockets = state.ws.tracker.clone();
    drain.fire();
    let finished = {
        let drained = async {
            while connections.join_next().await.is_some() {}
            sockets.wait().await;
        };
        tokio::pin!(drained);
        if tokio::time::timeout(grace, &mut drained).await.is_err() {
            tracing::warn!(
                "requests still running after {} s ([server] shutdown_grace_secs): closing them",
                grace.as_secs()
            );
            state.cut.fire();
            tokio::time::timeout(CUT_FLUSH, &mut drained).await.is_ok()
        } else {
            true
        }
    };
    if !finished {
        connections.abort_all();
        state.ws.kill.cancel();
    }
    while connections.join_next().await.is_some() {}
    let _ = tokio::time::timeout(CUT_FLUSH, state.ws.tracker.wait()).await;
    Ok(())
}

/// One client connection until it ends; when `drain` fires, hyper finishes the request in
/// flight and closes it.
async fn run_connection<C>(conn: C, drain: Arc<Cut>)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let (mut watch, mut draining) = (Watching::new(&drain), false);
    let ended = std::future::poll_fn(|cx| {
        if !draining && watch.fired(cx.waker()) {
            draining = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = ended {
        tracing::debug!("connection ended: {e}");
    }
}

/// Reloads the view after a change made through the admin socket, then wakes the token
/// refresher to re-read the OAuth logins (a login, refresh or logout from the CLI). The admin
/// socket awaits it before replying, so a command that returned has taken effect.
struct Reloader {
    state: Arc<State>,
    store: Arc<Store>,
    refresher: oauth::refresher::RefresherHandle,
    /// Reloads one at a time, so an older read never overwrites a newer view.
    serial: tokio::sync::Mutex<()>,
}

impl Reloader {
    async fn reload(&self) {
        let _one_at_a_time = self.serial.lock().await;
        match load_view(&self.store).await {
            Ok(view) => {
                self.state.set_view(view);
                tracing::info!("reloaded upstreams and keys");
            }
            Err(e) => tracing::error!("cannot reload upstreams and keys: {e}"),
        }
        self.refresher.wake();
    }
}

fn store_sink(store: Arc<Store>) -> usage::Sink {
    Arc::new(move |rows, keys_used| {
        let store = Arc::clone(&store);
        Box::pin(async move {
            let op = Op::UsageAdd { rows, keys_used };
            let reply = tokio::task::spawn_blocking(move || store.apply(op))
                .await
                .map_err(|e| e.to_string())?;
            match reply {
                Reply::Error { message, .. } => Err(message),
                _ => Ok(()),
            }
        })
    })
}

/// SIGINT or SIGTERM start the drain; returns early when shutdown starts some other way.
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: draining"),
        () = sigterm => tracing::info!("SIGTERM: draining"),
        () = shutdown.cancelled() => return,
    }
    shutdown.cancel();
}

/// Whether a connection reached this machine through a loopback address (v4-mapped included).
fn arrived_on_loopback(stream: &tokio::net::TcpStream) -> bool {
    stream.local_addr().is_ok_and(|a| host::is_loopback(a.ip()))
}
