//! A small closed-loop load generator: C connections, each sending requests back to back over
//! keep-alive, recording latency to the last byte and to the first body byte (TTFB).
//! Usage: loadgen URL BODY_FILE CONCURRENCY REQUESTS [HEADER:VALUE ...]
//! Prints one line: label-free figures in microseconds and requests/s.
//! `LOADGEN_WARMUP=N` (default 20) sets the unmeasured requests sent first on one connection;
//! bench/instructions.sh counts them.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Sample {
    total: Duration,
    ttfb: Duration,
}

async fn worker(
    authority: String,
    path: String,
    body: Bytes,
    headers: Vec<(String, String)>,
    n: usize,
) -> Result<Vec<Sample>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut req = Request::post(&path)
            .header("host", &authority)
            .header("content-type", "application/json");
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(body.clone()))?;
        sender.ready().await?;
        let start = Instant::now();
        let resp = sender.send_request(req).await?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()).into());
        }
        let mut body = resp.into_body();
        let mut ttfb = None;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if ttfb.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
                ttfb = Some(start.elapsed());
            }
        }
        let total = start.elapsed();
        out.push(Sample {
            total,
            ttfb: ttfb.unwrap_or(total),
        });
    }
    Ok(out)
}

fn pct(sorted: &[Duration], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_micros()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: loadgen URL BODY_FILE CONCURRENCY REQUESTS [HEADER:VALUE ...]".into());
    }
    let url: hyper::Uri = args[1].parse()?;
    let authority = url.authority().ok_or("URL needs host:port")?.to_string();
    let path = url.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let body = Bytes::from(std::fs::read(&args[2])?);
    let concurrency: usize = args[3].parse()?;
    let requests: usize = args[4].parse()?;
    let headers: Vec<(String, String)> = args[5..]
        .iter()
        .filter_map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let per = requests.div_ceil(concurrency);
    // Warm-up, not measured.
    let warmup = std::env::var("LOADGEN_WARMUP")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(20);
    if warmup > 0 {
        worker(
            authority.clone(),
            path.clone(),
            body.clone(),
            headers.clone(),
            warmup,
        )
        .await?;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        tasks.push(tokio::spawn(worker(
            authority.clone(),
            path.clone(),
            body.clone(),
            headers.clone(),
            per,
        )));
    }
    let mut totals = Vec::new();
    let mut ttfbs = Vec::new();
    for t in tasks {
        for s in t.await?? {
            totals.push(s.total);
            ttfbs.push(s.ttfb);
        }
    }
    let elapsed = start.elapsed();
    totals.sort();
    ttfbs.sort();
    println!(
        "n={} rps={:.0} p50={} p90={} p99={} ttfb_p50={} ttfb_p99={}",
        totals.len(),
        totals.len() as f64 / elapsed.as_secs_f64(),
        pct(&totals, 0.50),
        pct(&totals, 0.90),
        pct(&totals, 0.99),
        pct(&ttfbs, 0.50),
        pct(&ttfbs, 0.99),
    );
    Ok(())
}
