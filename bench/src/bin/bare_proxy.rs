//! The floor: a bare hyper pass-through proxy with no parsing, auth or routing. Whatever it
//! adds over a direct call is what any proxy on loopback pays; the gateway is measured against it.
//! Usage: bare_proxy LISTEN UPSTREAM_HOST:PORT [WORKERS]
//! WORKERS: `1` runs everything on one thread (tokio's current-thread runtime); `N` > 1 runs a
//! multi-thread runtime with N workers; absent or `0` a multi-thread runtime with one worker
//! per core (tokio's default). The gateway is compared against the best of them.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, server::conn::http1, service::service_fn};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, hyper::Error>;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    llm_gateway_bench::runtime(workers)?.block_on(serve(listen, upstream))
}

async fn serve(listen: String, upstream: String) -> std::io::Result<()> {
    let (listener, _) = llm_gateway_bench::bind(&listen).await?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let (sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                let upstream = upstream.clone();
                async move {
                    let pq = req
                        .uri()
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_string();
                    let uri = format!("http://{upstream}{pq}");
                    if let Ok(u) = uri.parse() {
                        *req.uri_mut() = u;
                    }
                    let resp: Response<Body> = match client.request(req).await {
                        Ok(r) => r.map(|b| b.boxed()),
                        Err(_) => {
                            let mut r = Response::new(
                                Full::new(Bytes::from_static(b"bad gateway"))
                                    .map_err(|never: Infallible| match never {})
                                    .boxed(),
                            );
                            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                            r
                        }
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}
