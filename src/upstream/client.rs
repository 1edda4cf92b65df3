//! The HTTP client for upstream calls: one `reqwest::Client` for everything, plus, when no
//! proxy is configured, bare hyper clients that the server's chat requests go through:
//! hyper-util's pooled client over rustls (the same crates reqwest runs on) for `https`, and
//! the gateway's own keep-alive pool on hyper's connection API for plain `http`
//! ([`super::pool`]: local model servers, where per-request overhead shows most). reqwest's
//! per-request layers (URL parsing and IDNA, the redirect and retry layers, the connector
//! service clones) were a measurable part of the gateway's added latency on the same-protocol
//! fast path; the bare clients send the same request (same default `user-agent` and `accept`,
//! same TLS roots and ALPN, same TCP_NODELAY, connect timeout and keep-alive limits).
//!
//! Proxies stay reqwest's job: with `[proxy] url` or a `*_PROXY` variable set, every request
//! goes through reqwest, which applies them (and `NO_PROXY`).

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::UpstreamError;
use super::pool::{Lease, Pool, PoolError};
use crate::config::Config;

/// How long an idle upstream connection is kept.
pub(super) const POOL_IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream host: enough for the concurrency a laptop sees, so that
/// a burst does not close and reopen connections (a new connection per request under load).
pub(super) const POOL_MAX_IDLE: usize = 256;
const USER_AGENT: &str = concat!("llm-gateway/", env!("CARGO_PKG_VERSION"));
/// The environment variables reqwest reads for a proxy.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

type Direct = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The shared HTTP client for upstream calls. Cheap to clone.
#[derive(Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    /// `None` when a proxy applies: then reqwest sends everything.
    direct: Option<Direct>,
    /// Plain-`http` upstreams when no proxy applies ([`super::pool`]).
    plain: Option<Pool>,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("direct", &self.direct.is_some())
            .finish_non_exhaustive()
    }
}

impl UpstreamClient {
    /// Built once from config: `[timeouts] connect_secs`, `[proxy]` (else `HTTPS_PROXY` /
    /// `NO_PROXY`, which reqwest reads itself), TCP_NODELAY, a keep-alive pool.
    pub fn new(config: &Config) -> Result<Self, UpstreamError> {
        let connect = Duration::from_secs(config.timeouts.connect_secs.max(1));
        let mut b = reqwest::Client::builder()
            .connect_timeout(connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE)
            .user_agent(USER_AGENT);
        let proxy = config.proxy.url.trim();
        if !proxy.is_empty() {
            let mut p = reqwest::Proxy::all(proxy).map_err(|e| UpstreamError::Proxy {
                message: e.to_string(),
            })?;
            let no_proxy = config.proxy.no_proxy.trim();
            if !no_proxy.is_empty() {
                p = p.no_proxy(reqwest::NoProxy::from_string(no_proxy));
            }
            b = b.proxy(p);
        }
        let http = b.build().map_err(|e| UpstreamError::Client {
            message: e.to_string(),
        })?;
        let env_proxy = PROXY_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        let (direct, plain) = if proxy.is_empty() && !env_proxy {
            (Some(direct_client(connect)?), Some(Pool::new(connect)))
        } else {
            (None, None)
        };
        Ok(UpstreamClient {
            http,
            direct,
            plain,
        })
    }

    /// The reqwest client, for the one-off calls (probes, token counts).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs `body` to `dest` with `headers`, which should hold the [`default_headers`].
    pub async fn post(
        &self,
        dest: Dest,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, HttpError> {
        let url = match dest {
            Dest::Uri(uri) => Ok(uri),
            Dest::Url(text) => http::Uri::try_from(text.as_str()).map_err(|_| text),
        };
        // A base URL's `user:password@` is Basic auth (reqwest would do the same below).
        let url = url.map(|uri| super::base_url::userinfo_to_basic(uri, &mut headers));
        let url = match (url, &self.direct, &self.plain) {
            (Ok(uri), _, Some(pool)) if uri.scheme_str() == Some("http") => {
                let (resp, lease) = pool
                    .send(post_request(uri, headers, body))
                    .await
                    .map_err(HttpError::Pool)?;
                return Ok(UpstreamResponse::Direct(resp, Some(lease)));
            }
            (Ok(uri), Some(direct), _) if uri.scheme_str() == Some("https") => {
                let resp = direct
                    .request(post_request(uri, headers, body))
                    .await
                    .map_err(HttpError::Send)?;
                return Ok(UpstreamResponse::Direct(resp, None));
            }
            (Ok(uri), ..) => uri.to_string(),
            (Err(text), ..) => text,
        };
        // Boxed: reqwest's future is large, and most requests never take this branch.
        let send = self.http.post(url).headers(headers).body(body).send();
        let resp = Box::pin(send).await.map_err(HttpError::Reqwest)?;
        Ok(UpstreamResponse::Reqwest(resp))
    }
}

fn post_request(uri: http::Uri, headers: HeaderMap, body: Bytes) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::new(Full::new(body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    req
}

/// Where a request goes: a URL parsed ahead (the fast path's [`FastTemplate`]s), or its text.
///
/// [`FastTemplate`]: crate::upstream::adapter::FastTemplate
#[derive(Debug, Clone)]
pub enum Dest {
    Uri(http::Uri),
    Url(String),
}

/// The `user-agent` and `accept` every request has unless it says otherwise (reqwest's
/// defaults, which the bare client sends too).
pub fn default_headers(h: &mut HeaderMap) {
    static AGENT: HeaderValue = HeaderValue::from_static(USER_AGENT);
    static ANY: HeaderValue = HeaderValue::from_static("*/*");
    h.entry(header::USER_AGENT).or_insert_with(|| AGENT.clone());
    h.entry(header::ACCEPT).or_insert_with(|| ANY.clone());
}

/// The bare client: rustls with the webpki roots and ALPN h2/http1.1, as reqwest's
/// `rustls-tls` feature sets it up.
fn direct_client(connect: Duration) -> Result<Direct, UpstreamError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect));
    let https = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| UpstreamError::Client {
            message: e.to_string(),
        })?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https))
}

/// An upstream's reply, from either client. A reply from the plain-`http` pool holds its
/// connection's [`Lease`], released when the body has been read to its end.
pub enum UpstreamResponse {
    Direct(http::Response<Incoming>, Option<Lease>),
    Reqwest(reqwest::Response),
}

impl UpstreamResponse {
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamResponse::Direct(r, _) => r.status(),
            UpstreamResponse::Reqwest(r) => r.status(),
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        match self {
            UpstreamResponse::Direct(r, _) => r.headers(),
            UpstreamResponse::Reqwest(r) => r.headers(),
        }
    }

    /// The headers, owned, and the body.
    pub fn into_parts(self) -> (HeaderMap, BodyStream) {
        match self {
            UpstreamResponse::Direct(r, lease) => {
                let (parts, body) = r.into_parts();
                (parts.headers, BodyStream::Direct(body, lease))
            }
            UpstreamResponse::Reqwest(mut r) => {
                let headers = std::mem::take(r.headers_mut());
                (headers, BodyStream::Reqwest(Box::pin(r.bytes_stream())))
            }
        }
    }

    /// The body, chunk by chunk as it arrives.
    pub fn bytes_stream(self) -> BodyStream {
        self.into_parts().1
    }
}

type ReqwestStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// [`UpstreamResponse::bytes_stream`].
pub enum BodyStream {
    Direct(Incoming, Option<Lease>),
    Reqwest(ReqwestStream),
}

impl Stream for BodyStream {
    type Item = Result<Bytes, HttpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            BodyStream::Direct(body, lease) => loop {
                let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
                // Released at the end, or at the last byte when the length says so: the
                // server drops a reply with a `content-length` as soon as that much went out.
                if (frame.is_none() || body.is_end_stream())
                    && let Some(lease) = lease.take()
                {
                    lease.release();
                }
                match frame {
                    None => return Poll::Ready(None),
                    Some(Err(e)) => return Poll::Ready(Some(Err(HttpError::Body(e)))),
                    Some(Ok(frame)) => {
                        // Trailers carry nothing the gateway relays.
                        if let Ok(data) = frame.into_data() {
                            return Poll::Ready(Some(Ok(data)));
                        }
                    }
                }
            },
            BodyStream::Reqwest(s) => s
                .as_mut()
                .poll_next(cx)
                .map(|o| o.map(|r| r.map_err(HttpError::Reqwest))),
        }
    }
}

/// A failed upstream call or body read. Its `Display` is the outermost message; the causes are
/// its `source()` chain.
#[derive(Debug)]
pub enum HttpError {
    Send(hyper_util::client::legacy::Error),
    Pool(PoolError),
    Body(hyper::Error),
    Reqwest(reqwest::Error),
}

impl HttpError {
    /// The error without the request URL in its message (reqwest puts it there).
    pub fn without_url(self) -> Self {
        match self {
            HttpError::Reqwest(e) => HttpError::Reqwest(e.without_url()),
            other => other,
        }
    }

    /// The URL in the message, if any.
    pub fn url(&self) -> Option<&reqwest::Url> {
        match self {
            HttpError::Reqwest(e) => e.url(),
            _ => None,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Send(e) => e.fmt(f),
            HttpError::Pool(e) => e.fmt(f),
            HttpError::Body(e) => e.fmt(f),
            HttpError::Reqwest(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Send(e) => e.source(),
            HttpError::Pool(e) => e.source(),
            HttpError::Body(e) => e.source(),
            HttpError::Reqwest(e) => e.source(),
        }
    }
}
