//! The soak client: holds N streams open through a proxy (each on its own connection, a new one
//! started as soon as one ends) while sending a steady rate of non-stream requests, for a fixed
//! time; every few seconds it prints one line of the curve: the proxy's RSS (read from /proc),
//! its open descriptors, the open streams and the completed requests and errors. At the end it
//! judges the RSS curve: after the warm-up every sample must lie within the tolerance of the
//! smallest one (a leak shows as a climb; a bounded cache that fills once does not).
//!
//! Usage: soak --pid PID [--streams 1000] [--rps 200] [--duration 600] [--every 10]
//!             [--warmup 60] [--tolerance 10] [--ramp 5] [--load-conns 16] [--fresh]
//!             --stream URL BODY_FILE [--stream URL BODY_FILE ...]
//!             --load URL BODY_FILE [--load URL BODY_FILE ...] [--header 'NAME: VALUE' ...]
//! Streams and load requests go round-robin over the `--stream` and `--load` targets. A stream
//! counts as complete when it ended with `[DONE]` (OpenAI) or `message_stop` (Anthropic).
//! `--fresh` opens a new connection for every stream rather than keeping one per slot.
//! Exit status: 0 when the verdict is PASS, 1 when FAIL, 2 on bad arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Target {
    authority: String,
    path: String,
    body: Bytes,
}

struct Opts {
    pid: u32,
    streams: usize,
    rps: f64,
    duration: Duration,
    every: Duration,
    warmup: Duration,
    tolerance: f64,
    ramp: Duration,
    load_conns: usize,
    /// A new connection for every stream instead of keep-alive.
    fresh: bool,
    stream_targets: Vec<Target>,
    load_targets: Vec<Target>,
    headers: Vec<(String, String)>,
}

#[derive(Default)]
struct Counters {
    open_streams: AtomicU64,
    streams_done: AtomicU64,
    stream_errors: AtomicU64,
    requests_done: AtomicU64,
    request_errors: AtomicU64,
}

fn target(url: &str, body_file: &str) -> Result<Target, Error> {
    let uri: hyper::Uri = url.parse()?;
    Ok(Target {
        authority: uri.authority().ok_or("URL needs host:port")?.to_string(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        body: Bytes::from(std::fs::read(body_file)?),
    })
}

fn parse() -> Result<Opts, Error> {
    let mut o = Opts {
        pid: 0,
        streams: 1000,
        rps: 200.0,
        duration: Duration::from_secs(600),
        every: Duration::from_secs(10),
        warmup: Duration::from_secs(60),
        tolerance: 10.0,
        ramp: Duration::from_secs(5),
        load_conns: 16,
        fresh: false,
        stream_targets: Vec::new(),
        load_targets: Vec::new(),
        headers: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    let secs = |v: Option<String>| -> Result<Duration, Error> {
        Ok(Duration::from_secs_f64(v.ok_or("missing value")?.parse()?))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pid" => o.pid = args.next().ok_or("--pid needs a value")?.parse()?,
            "--streams" => o.streams = args.next().ok_or("--streams needs a value")?.parse()?,
            "--rps" => o.rps = args.next().ok_or("--rps needs a value")?.parse()?,
            "--duration" => o.duration = secs(args.next())?,
            "--every" => o.every = secs(args.next())?,
            "--warmup" => o.warmup = secs(args.next())?,
            "--ramp" => o.ramp = secs(args.next())?,
            "--tolerance" => {
                o.tolerance = args.next().ok_or("--tolerance needs a value")?.parse()?
            }
            "--load-conns" => {
                o.load_conns = args.next().ok_or("--load-conns needs a value")?.parse()?
            }
            "--fresh" => o.fresh = true,
            "--stream" | "--load" => {
                let url = args
                    .next()
                    .ok_or("--stream/--load need URL and BODY_FILE")?;
                let body = args
                    .next()
                    .ok_or("--stream/--load need URL and BODY_FILE")?;
                let t = target(&url, &body)?;
                if a == "--stream" {
                    o.stream_targets.push(t);
                } else {
                    o.load_targets.push(t);
                }
            }
            "--header" => {
                let h = args.next().ok_or("--header needs 'NAME: VALUE'")?;
                let (k, v) = h.split_once(':').ok_or("--header needs 'NAME: VALUE'")?;
                o.headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if o.pid == 0 {
        return Err("--pid PID (the process whose RSS is sampled) is required".into());
    }
    if (o.streams > 0 && o.stream_targets.is_empty()) || (o.rps > 0.0 && o.load_targets.is_empty())
    {
        return Err("give at least one --stream and one --load target".into());
    }
    Ok(o)
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, Error> {
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// The kept connection when it can take a request, else a new one.
async fn ready<'a>(
    sender: &'a mut Option<SendRequest<Full<Bytes>>>,
    authority: &str,
) -> Result<&'a mut SendRequest<Full<Bytes>>, Error> {
    let alive = match sender.as_mut() {
        Some(s) => s.ready().await.is_ok(),
        None => false,
    };
    if !alive {
        *sender = Some(connect(authority).await?);
    }
    sender.as_mut().ok_or_else(|| "no connection".into())
}

fn request(t: &Target, headers: &[(String, String)]) -> Result<Request<Full<Bytes>>, Error> {
    let mut req = Request::post(&t.path)
        .header("host", &t.authority)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    Ok(req.body(Full::new(t.body.clone()))?)
}

/// Whether the last bytes of a stream hold its end marker.
fn ended_well(tail: &[u8]) -> bool {
    let has = |n: &[u8]| tail.windows(n.len()).any(|w| w == n);
    has(b"[DONE]") || has(b"message_stop")
}

/// One stream slot: a stream at a time, back to back, reconnecting after an error.
async fn stream_slot(
    t: Target,
    fresh: bool,
    headers: Arc<Vec<(String, String)>>,
    c: Arc<Counters>,
) {
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        if fresh {
            sender = None;
        }
        let ok = async {
            let s = ready(&mut sender, &t.authority).await?;
            let resp = s.send_request(request(&t, &headers)?).await?;
            if !resp.status().is_success() {
                return Err::<bool, Error>(format!("status {}", resp.status()).into());
            }
            c.open_streams.fetch_add(1, Relaxed);
            let mut body = resp.into_body();
            let mut tail: Vec<u8> = Vec::with_capacity(128);
            let read = async {
                while let Some(frame) = body.frame().await {
                    if let Some(d) = frame?.data_ref() {
                        tail.extend_from_slice(d);
                        let cut = tail.len().saturating_sub(64);
                        tail.drain(..cut);
                    }
                }
                Ok::<(), Error>(())
            }
            .await;
            c.open_streams.fetch_sub(1, Relaxed);
            read?;
            Ok(ended_well(&tail))
        }
        .await;
        match ok {
            Ok(true) => {
                c.streams_done.fetch_add(1, Relaxed);
            }
            Ok(false) | Err(_) => {
                c.stream_errors.fetch_add(1, Relaxed);
                sender = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// One load connection: a request every `period`, round-robin over the targets.
async fn load_conn(
    targets: Arc<Vec<Target>>,
    first: usize,
    period: Duration,
    headers: Arc<Vec<(String, String)>>,
    c: Arc<Counters>,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let mut i = first;
    loop {
        tick.tick().await;
        let t = &targets[i % targets.len()];
        i += 1;
        let ok = async {
            let s = ready(&mut sender, &t.authority).await?;
            let resp = s.send_request(request(t, &headers)?).await?;
            let status = resp.status();
            resp.into_body().collect().await?;
            if status.is_success() {
                Ok(())
            } else {
                Err::<(), Error>(format!("status {status}").into())
            }
        }
        .await;
        match ok {
            Ok(()) => c.requests_done.fetch_add(1, Relaxed),
            Err(_) => {
                sender = None;
                c.request_errors.fetch_add(1, Relaxed)
            }
        };
    }
}

/// (RSS in MB, open descriptors) of `pid`; zeros when it is gone.
fn sample(pid: u32) -> (f64, usize) {
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss_kb / 1024.0, fds)
}

#[tokio::main]
async fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    let c = Arc::new(Counters::default());
    let headers = Arc::new(o.headers.clone());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..o.streams {
        let t = o.stream_targets[i % o.stream_targets.len()].clone();
        let fresh = o.fresh;
        let (headers, c) = (Arc::clone(&headers), Arc::clone(&c));
        // Spread over the ramp: a thousand connects at once would only measure the backlog.
        let delay = o.ramp.mul_f64(i as f64 / o.streams as f64);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            stream_slot(t, fresh, headers, c).await;
        });
    }
    if o.rps > 0.0 {
        let targets = Arc::new(o.load_targets.clone());
        let period = Duration::from_secs_f64(o.load_conns as f64 / o.rps);
        for i in 0..o.load_conns {
            let (targets, headers, c) =
                (Arc::clone(&targets), Arc::clone(&headers), Arc::clone(&c));
            let offset = period.mul_f64(i as f64 / o.load_conns as f64);
            tasks.spawn(async move {
                tokio::time::sleep(offset).await;
                load_conn(targets, i, period, headers, c).await;
            });
        }
    }

    println!(
        "{:>6} {:>8} {:>6} {:>6} {:>12} {:>13} {:>7}",
        "t_s", "rss_mb", "fds", "open", "streams_done", "requests_done", "errors"
    );
    // (time, RSS, open streams) per sample.
    let mut curve: Vec<(f64, f64, u64)> = Vec::new();
    let mut ticks = 0u32;
    loop {
        let t = o.every * ticks;
        if t > o.duration {
            break;
        }
        tokio::time::sleep_until((start + t).into()).await;
        let (rss, fds) = sample(o.pid);
        let errors = c.stream_errors.load(Relaxed) + c.request_errors.load(Relaxed);
        let open = c.open_streams.load(Relaxed);
        println!(
            "{:>6.0} {:>8.1} {:>6} {:>6} {:>12} {:>13} {:>7}",
            t.as_secs_f64(),
            rss,
            fds,
            open,
            c.streams_done.load(Relaxed),
            c.requests_done.load(Relaxed),
            errors
        );
        curve.push((t.as_secs_f64(), rss, open));
        ticks += 1;
    }
    tasks.abort_all();

    let warm = |&&(t, _, _): &&(f64, f64, u64)| t >= o.warmup.as_secs_f64();
    let after: Vec<f64> = curve.iter().filter(warm).map(|&(_, r, _)| r).collect();
    let least_open = curve
        .iter()
        .filter(warm)
        .map(|&(_, _, n)| n)
        .min()
        .unwrap_or(0);
    let stream_errors = c.stream_errors.load(Relaxed);
    let request_errors = c.request_errors.load(Relaxed);
    let requests = c.requests_done.load(Relaxed);
    println!(
        "requests: {requests} non-stream ({:.0}/s), {} streams completed; errors: {stream_errors} stream, {request_errors} non-stream",
        requests as f64 / o.duration.as_secs_f64(),
        c.streams_done.load(Relaxed),
    );
    if after.len() < 2 || after.iter().any(|&r| r <= 0.0) {
        println!(
            "verdict: FAIL (fewer than two samples after the {:.0} s warm-up, or the process is gone)",
            o.warmup.as_secs_f64()
        );
        std::process::exit(1);
    }
    let min = after.iter().copied().fold(f64::INFINITY, f64::min);
    let max = after.iter().copied().fold(0.0, f64::max);
    let (first, last) = (after[0], after[after.len() - 1]);
    let spread = 100.0 * (max - min) / min;
    let flat = spread <= o.tolerance;
    println!(
        "RSS after the {:.0} s warm-up: {} samples, first {first:.1} MB, last {last:.1} MB, min {min:.1}, max {max:.1}: spread {spread:.1} % (limit {:.0} %)",
        o.warmup.as_secs_f64(),
        after.len(),
        o.tolerance,
    );
    let clean = stream_errors == 0 && request_errors == 0;
    // A slot is between two streams for a moment only: 98 % of them open is "held".
    let held = least_open as f64 >= 0.98 * o.streams as f64;
    println!(
        "open streams after the warm-up: at least {least_open} of {}",
        o.streams
    );
    let pass = flat && clean && held;
    println!(
        "verdict: {} (RSS {}; {}; streams {})",
        if pass { "PASS" } else { "FAIL" },
        if flat { "flat" } else { "NOT flat" },
        if clean { "no errors" } else { "errors above" },
        if held { "held" } else { "NOT held" },
    );
    std::process::exit(if pass { 0 } else { 1 });
}
