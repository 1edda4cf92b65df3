//! Body plumbing for the server: the one response body type, small constructors, and reading a
//! request body under `[limits] max_body_bytes` and `[timeouts] client_body_secs`.

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;

use super::error::{ErrorKind, GatewayError};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body: whole, empty, or an upstream stream passing through.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Every request body: one read from the client's connection, or one the gateway made itself
/// (a chat request that arrived as a WebSocket message, run through the same router).
#[derive(Debug)]
pub enum ReqBody {
    Wire(Incoming),
    Whole(Full<Bytes>),
}

impl From<Incoming> for ReqBody {
    fn from(b: Incoming) -> Self {
        ReqBody::Wire(b)
    }
}

impl hyper::body::Body for ReqBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ReqBody::Wire(b) => std::pin::Pin::new(b).poll_frame(cx).map_err(Into::into),
            ReqBody::Whole(b) => std::pin::Pin::new(b)
                .poll_frame(cx)
                .map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Wire(b) => b.is_end_stream(),
            ReqBody::Whole(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            ReqBody::Wire(b) => b.size_hint(),
            ReqBody::Whole(b) => b.size_hint(),
        }
    }
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Reads the whole request body, refusing more than `max` bytes (413) without reading them all,
/// and a body that has not arrived within `within` (408: a client that stops sending would
/// otherwise hold the connection and the request for ever).
pub async fn read_limited(
    body: ReqBody,
    headers: &http::HeaderMap,
    max: u64,
    within: std::time::Duration,
) -> Result<Bytes, GatewayError> {
    tokio::time::timeout(within, read_all(body, headers, max))
        .await
        .unwrap_or_else(|_| {
            Err(GatewayError::new(
                ErrorKind::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s ([timeouts] client_body_secs)",
                    within.as_secs()
                ),
            ))
        })
}

async fn read_all(
    body: ReqBody,
    headers: &http::HeaderMap,
    max: u64,
) -> Result<Bytes, GatewayError> {
    let too_large = || {
        GatewayError::new(
            ErrorKind::RequestTooLarge,
            format!(
                "request body is larger than the gateway's limit of {max} bytes ([limits] max_body_bytes)"
            ),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut body = Limited::new(body, limit);
    // Most bodies come in one frame: that one is kept as it is, without `collect`'s queue.
    let mut first = Bytes::new();
    let mut more: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                GatewayError::new(
                    ErrorKind::InvalidRequest,
                    format!("cannot read the request body: {e}"),
                )
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        match &mut more {
            Some(all) => all.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut all = BytesMut::with_capacity(first.len() + data.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                more = Some(all);
            }
        }
    }
    Ok(more.map_or(first, BytesMut::freeze))
}
