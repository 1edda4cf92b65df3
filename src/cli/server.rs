//! `server start | stop | status`. The foreground start ends in [`crate::server::run`];
//! `--detach` re-executes this binary in its own process group with its output appended to the
//! log file (`[log] file`, else `<home>/gateway.log`, which that server then writes and rotates
//! itself), then waits for `GET /health` to answer. `stop` sends `Op::Shutdown`
//! over the admin socket and waits for the pid file's lock to be released.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::view::ServerView;
use super::{Ctx, UserError, calls, output};
use crate::config::env;
use crate::config::paths::Home;
use crate::daemon::{self, RunningInfo};
use crate::server::{ServeOptions, ServerError};

/// How long `start --detach` waits for the new server to answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Added to `[server] shutdown_grace_secs` when `stop` waits for the process to exit.
const STOP_SLACK: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start the server, in the foreground unless --detach
    Start(StartArgs),
    /// Stop the running server after in-flight requests finish (succeeds when none runs)
    Stop,
    /// Show whether the server runs, its pid and its address
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Address to listen on [default: [server] listen in config.toml, else 127.0.0.1:3847]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Run in the background (log in <home>/gateway.log, or [log] file) and return once it answers
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Ctx, command: ServerCommand) -> anyhow::Result<()> {
    match command {
        ServerCommand::Start(a) => start(ctx, &a).await,
        ServerCommand::Stop => stop(ctx).await,
        ServerCommand::Status(a) => status(ctx, &a).await,
    }
}

fn describe(info: &RunningInfo) -> String {
    match &info.listen {
        Some(l) => format!("pid {}, listening on http://{l}", info.pid),
        None => format!("pid {}", info.pid),
    }
}

async fn start(ctx: &Ctx, args: &StartArgs) -> anyhow::Result<()> {
    if let Some(info) = daemon::running(&ctx.home).await {
        let message = format!("the server is already running ({})", describe(&info));
        if args.detach {
            output::info(&message);
            return Ok(());
        }
        return Err(UserError::new(message)
            .hint("stop it with `llm-gateway server stop`, or use another --home")
            .into());
    }
    if args.detach {
        return detach(ctx, args).await;
    }
    let opts = ServeOptions {
        home: ctx.home.clone(),
        config: ctx.config.clone(),
        config_path: ctx.config_path.clone(),
        listen: args.listen.clone(),
    };
    crate::server::run(opts).await.map_err(|e| match e {
        ServerError::Bind { .. } => UserError::new(e.to_string())
            .hint("another program may be using that port: pass --listen ADDR or set [server] listen in config.toml")
            .into(),
        ServerError::Daemon(daemon::DaemonError::AlreadyRunning { .. }) => {
            UserError::new(e.to_string())
                .hint("stop it with `llm-gateway server stop`")
                .into()
        }
        other => anyhow::Error::new(other),
    })
}

/// Starts the server in the background (on `--listen`, else `[server] listen`) with its
/// output in the log, and returns once it answers `/health`. Also `launch`'s way to start it.
pub(super) async fn detach(ctx: &Ctx, args: &StartArgs) -> anyhow::Result<()> {
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| ctx.config.server.listen.clone());
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    let home = std::path::absolute(ctx.home.root())
        .with_context(|| format!("cannot resolve {}", ctx.home.root().display()))?;
    // The server writes and rotates this file itself (told so by LLM_GATEWAY_LOG_FILE); its
    // stdout and stderr go there too, for what it prints before its logging is up (a bad
    // config, a port in use).
    let log_path = log_file(ctx);
    let log_path = std::path::absolute(&log_path)
        .with_context(|| format!("cannot resolve {}", log_path.display()))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let log_start = log.metadata().map_or(0, |m| m.len());
    let log_err = log.try_clone().context("cannot share the log file")?;

    let mut child = Command::new(exe)
        .args(["server", "start", "--listen", &listen, "--home"])
        .arg(&home)
        .env(env::LOG_FILE, &log_path)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .context("cannot start the server process")?;
    let pid = child.id();

    let health = health_url(&listen);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .build()
        .context("cannot build an HTTP client")?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(exit) = child
            .try_wait()
            .context("cannot watch the server process")?
        {
            return Err(not_ready(
                format!("the server exited ({exit}) before it was ready"),
                &log_path,
                log_start,
            ));
        }
        let answered = client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if answered {
            break;
        }
        if Instant::now() >= deadline {
            return Err(not_ready(
                format!(
                    "the server (pid {pid}) did not answer {health} within {}s",
                    READY_TIMEOUT.as_secs()
                ),
                &log_path,
                log_start,
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    output::info(&format!(
        "llm-gateway is running (pid {pid}), listening on http://{listen}"
    ));
    output::info(&format!("log: {}", log_path.display()));
    Ok(())
}

/// The log of a detached server: `[log] file`, else `<home>/gateway.log`.
fn log_file(ctx: &Ctx) -> PathBuf {
    crate::server::log_path(&ctx.config.log, &ctx.home).unwrap_or_else(|| ctx.home.log_file())
}

/// The failure of a detached start, with what the server wrote to its log meanwhile.
fn not_ready(message: String, log_path: &Path, from: u64) -> anyhow::Error {
    let tail = log_tail(log_path, from, 20);
    if !tail.is_empty() {
        output::info(&format!("--- {} ---\n{tail}", log_path.display()));
    }
    UserError::new(message)
        .hint(format!("see {}", log_path.display()))
        .into()
}

/// The last `lines` lines written to the log after byte `from`.
fn log_tail(path: &Path, from: u64, lines: usize) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        f.read_to_string(&mut text)
    });
    if read.is_err() {
        return String::new();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Where to poll a server listening on `listen`: an unspecified address (`0.0.0.0`, `[::]`) is
/// reached on loopback.
pub fn health_url(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(mut addr) => {
            if addr.ip().is_unspecified() {
                let ip = match addr {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                };
                addr.set_ip(ip);
            }
            format!("http://{addr}/health")
        }
        Err(_) => format!("http://{listen}/health"),
    }
}

async fn stop(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(info) = daemon::running(&ctx.home).await else {
        output::info("the server is not running");
        return Ok(());
    };
    let store = ctx.store().await?;
    if !store.is_remote() {
        // It stopped between the two checks.
        output::info("the server is not running");
        return Ok(());
    }
    // A server may drop the socket as it begins draining instead of answering: then the
    // request still counts if the process lets go of its pid file shortly after.
    let sent = calls::shutdown(&store).await;
    let wait = match &sent {
        Ok(()) => Duration::from_secs(ctx.config.server.shutdown_grace_secs) + STOP_SLACK,
        Err(_) => STOP_SLACK,
    };
    let deadline = Instant::now() + wait;
    while !released(&ctx.home).await {
        if Instant::now() >= deadline {
            sent?;
            return Err(UserError::new(format!(
                "the server (pid {}) did not stop within {}s",
                info.pid,
                wait.as_secs()
            ))
            .hint(format!(
                "it may still be draining requests; see {} or end it with `kill {}`",
                log_file(ctx).display(),
                info.pid
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
    output::info(&format!("stopped the server (pid {})", info.pid));
    Ok(())
}

/// Whether the server has let go of its pid file (it holds an exclusive lock while it runs).
async fn released(home: &Home) -> bool {
    match pid_lock_free(&home.pid_file()) {
        Some(free) => free,
        None => daemon::running(home).await.is_none(),
    }
}

/// `None` when the lock cannot be tested here (then the caller asks the daemon instead).
fn pid_lock_free(path: &Path) -> Option<bool> {
    match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(true),
        Err(_) => None,
        Ok(f) => match f.try_lock() {
            // Dropping `f` releases the lock at once.
            Ok(()) => Some(true),
            Err(TryLockError::WouldBlock) => Some(false),
            Err(TryLockError::Error(_)) => None,
        },
    }
}

async fn status(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<()> {
    let info = daemon::running(&ctx.home).await;
    let view = ServerView {
        name: "server",
        running: info.is_some(),
        pid: info.as_ref().map(|i| i.pid),
        listen: info.as_ref().and_then(|i| i.listen.clone()),
        overhead: None,
    };
    if args.json {
        return output::json(&view);
    }
    match &info {
        Some(i) => output::line(&format!("running ({})", describe(i))),
        None => output::line("not running"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_on_loopback() {
        assert_eq!(health_url("127.0.0.1:3847"), "http://127.0.0.1:3847/health");
        assert_eq!(health_url("0.0.0.0:80"), "http://127.0.0.1:80/health");
        assert_eq!(health_url("[::]:80"), "http://[::1]:80/health");
        assert_eq!(health_url("localhost:9"), "http://localhost:9/health");
    }

    #[test]
    fn pid_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.pid");
        assert_eq!(pid_lock_free(&path), Some(true));
        let held = File::create(&path).unwrap();
        held.lock().unwrap();
        assert_eq!(pid_lock_free(&path), Some(false));
        held.unlock().unwrap();
        assert_eq!(pid_lock_free(&path), Some(true));
    }

    #[test]
    fn tail_from_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        std::fs::write(&path, "old\nnew 1\nnew 2\nnew 3\n").unwrap();
        assert_eq!(log_tail(&path, 4, 2), "new 2\nnew 3");
    }
}
