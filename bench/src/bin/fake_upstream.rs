//! A fast fake OpenAI-compatible upstream: canned chat completions, streamed or not. Streams are
//! written as separate frames so that proxies in front see real chunking.
//! Usage: fake_upstream LISTEN [DRIP_MS [DRIP_EVENTS]]
//! A stream request for the model `bench-drip` is answered slowly, for the soak: one event every
//! DRIP_MS (default 1000) milliseconds, DRIP_EVENTS (default 30) of them, then the end.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;

const JSON: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a canned answer from the bench upstream, long enough to look like a real short reply."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}"#;

fn chunk(content: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or("null".to_string(), |f| format!("\"{f}\""));
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// (interval, events) of a `bench-drip` stream.
static DRIP: OnceLock<(Duration, usize)> = OnceLock::new();

async fn handle(
    req: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path.ends_with("/models") {
        let list = r#"{"object":"list","data":[{"id":"bench-model","object":"model","created":0,"owned_by":"bench"}]}"#;
        return Ok(json(list));
    }
    let stream = memchr_stream(&body);
    if !stream {
        return Ok(json(JSON));
    }
    if contains(&body, b"\"bench-drip\"") {
        return Ok(drip());
    }
    let words = [
        "Hello",
        "!",
        " This",
        " is",
        " a",
        " canned",
        " streamed",
        " answer",
        ".",
    ];
    let mut frames: Vec<String> = words.iter().map(|w| chunk(w, None)).collect();
    frames.push(chunk("", Some("stop")));
    frames.push("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21}}\n\n".into());
    frames.push("data: [DONE]\n\n".into());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
    tokio::spawn(async move {
        for f in frames {
            if tx.send(Ok(Frame::data(Bytes::from(f)))).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
    });
    let body = StreamBody::new(tokio_stream(rx));
    Ok(Response::builder()
        .header("content-type", "text/event-stream")
        .body(BoxBody::new(body))
        .unwrap_or_else(|_| json(JSON)))
}

/// A stream that drips one event per interval: what a slow model looks like to a proxy.
fn drip() -> Response<BoxBody<Bytes, Infallible>> {
    let (every, events) = *DRIP.get_or_init(|| (Duration::from_secs(1), 30));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for i in 0..events {
            tick.tick().await;
            let word = if i == 0 { "Hello" } else { " drip" };
            if tx
                .send(Ok(Frame::data(Bytes::from(chunk(word, None)))))
                .await
                .is_err()
            {
                return;
            }
        }
        let end = format!("{}data: [DONE]\n\n", chunk("", Some("stop")));
        let _ = tx.send(Ok(Frame::data(Bytes::from(end)))).await;
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(BoxBody::new(StreamBody::new(tokio_stream(rx))))
        .unwrap_or_else(|_| json(JSON))
}

fn contains(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn memchr_stream(body: &[u8]) -> bool {
    body.windows(13).any(|w| w == b"\"stream\":true")
        || body.windows(14).any(|w| w == b"\"stream\": true")
}

fn json(s: &'static str) -> Response<BoxBody<Bytes, Infallible>> {
    let mut r = Response::new(BoxBody::new(Full::new(Bytes::from_static(s.as_bytes()))));
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let every = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let events = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let _ = DRIP.set((Duration::from_millis(every), events));
    let (listener, _) = llm_gateway_bench::bind(&addr).await?;
    loop {
        let (sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(sock), service_fn(handle))
                .await;
        });
    }
}
