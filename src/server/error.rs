//! The gateway's errors, in one place: one [`GatewayError`] (what went wrong, the status,
//! whether it came from an upstream, whether it is worth retrying) rendered in the client's
//! [`Dialect`] through that dialect's codec (`encode_error`): OpenAI
//! `{"error":{message,type,param,code}}`, Anthropic `{"type":"error","error":{type,message}}`,
//! Gemini `{"error":{code,message,status}}`, as a whole response or as the stream error event
//! that ends an SSE reply mid-way.
//!
//! Same-protocol routes pass upstream JSON errors through untouched (any other error body, a
//! proxy's HTML page, is decoded and re-rendered like a translated route's); translated routes
//! decode them into an `ir::ApiError` and wrap it here ([`GatewayError::upstream`]), keeping
//! the upstream's wording (Anthropic clients get context-length errors reworded to Anthropic's,
//! and 529 for capacity failures).
//!
//! Also here: the constructors of an attempt's failures (unreachable, silent, an unreadable or
//! unasked-for reply), and the conversions of a codec's and the router's errors.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::Body;
use super::body::full;
use crate::protocol::codec::{CodecError, RelayTrail};
use crate::protocol::dialect;
use crate::protocol::ir::{self, ApiError};
use crate::routing::RouteError;
use crate::upstream::HttpError;
use crate::upstream::adapter::AdapterError;

/// The wire format a client speaks: the protocol's own enum, shared with the codecs.
pub use crate::protocol::ir::Dialect;

/// For routes every client may call (model list, unknown paths): the dialect whose marker
/// header the client sent (Anthropic's `anthropic-version`, Google's `x-goog-api-key`), else
/// OpenAI; the registry knows which.
pub fn guess_dialect(headers: &http::HeaderMap) -> Dialect {
    crate::protocol::dialect::guess(|h| headers.contains_key(h))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    RequestTooLarge,
    /// The request body did not arrive within `[timeouts] client_body_secs` (408).
    RequestTimeout,
    RateLimited,
    /// The gateway itself is momentarily too busy (503; Anthropic clients get 529).
    Overloaded,
    /// No upstream could be reached (502).
    UpstreamUnreachable,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The upstream failed mid-reply.
    UpstreamFailed,
    /// The gateway is stopping and cut the reply (503; Anthropic clients: `overloaded_error`).
    ShuttingDown,
    NotImplemented,
    Internal,
    /// An upstream's own error, decoded from its dialect.
    Upstream(ir::ErrorKind),
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamFailed => StatusCode::BAD_GATEWAY,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Upstream(k) => {
                StatusCode::from_u16(ir_status(k)).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        }
    }

    /// The neutral kind the codecs name.
    pub fn ir(self) -> ir::ErrorKind {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::MethodNotAllowed | ErrorKind::NotImplemented => {
                ir::ErrorKind::InvalidRequest
            }
            ErrorKind::Authentication => ir::ErrorKind::Authentication,
            ErrorKind::PermissionDenied => ir::ErrorKind::Permission,
            ErrorKind::NotFound => ir::ErrorKind::NotFound,
            ErrorKind::RequestTooLarge => ir::ErrorKind::RequestTooLarge,
            ErrorKind::RequestTimeout => ir::ErrorKind::Timeout,
            ErrorKind::RateLimited => ir::ErrorKind::RateLimit,
            ErrorKind::Overloaded => ir::ErrorKind::Unavailable,
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamFailed => ir::ErrorKind::BadGateway,
            ErrorKind::Timeout => ir::ErrorKind::Timeout,
            ErrorKind::ShuttingDown => ir::ErrorKind::Unavailable,
            ErrorKind::Internal => ir::ErrorKind::Api,
            ErrorKind::Upstream(k) => k,
        }
    }
}

fn ir_status(k: ir::ErrorKind) -> u16 {
    use ir::ErrorKind as K;
    match k {
        K::InvalidRequest => 400,
        K::Authentication => 401,
        K::Billing => 402,
        K::Permission => 403,
        K::NotFound => 404,
        K::Conflict => 409,
        K::RequestTooLarge => 413,
        K::RateLimit => 429,
        K::Api => 500,
        K::BadGateway => 502,
        K::Unavailable => 503,
        K::Timeout => 504,
        K::Overloaded => 529,
    }
}

/// Who caused an error: the client and the gateway itself, or an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Gateway,
    Upstream,
}

/// An error the gateway answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub status: StatusCode,
    /// Worded for the user; never holds a secret.
    pub message: String,
    /// The request field at fault (OpenAI's `param`).
    pub param: Option<String>,
    /// A machine-readable code (OpenAI's `code`), e.g. `model_not_found`.
    pub code: Option<String>,
    pub origin: Origin,
    /// Whether trying again (or another upstream) may succeed.
    pub retryable: bool,
    /// Seconds, sent as `retry-after`.
    pub retry_after: Option<u64>,
    /// The id under which the gateway's log holds what the client is not shown
    /// ([`GatewayError::internal`]): the Anthropic body's `request_id`, `x-request-id` otherwise.
    pub request_id: Option<String>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            status: kind.status(),
            message: message.into(),
            param: None,
            code: None,
            origin: Origin::Gateway,
            retryable: matches!(
                kind,
                ErrorKind::RateLimited
                    | ErrorKind::Overloaded
                    | ErrorKind::UpstreamUnreachable
                    | ErrorKind::Timeout
                    | ErrorKind::UpstreamFailed
                    | ErrorKind::ShuttingDown
            ),
            retry_after: None,
            request_id: None,
        }
    }

    /// A failure inside the gateway (a bug: a panic, a task that died). The client gets a
    /// generic 500 naming a fresh request id; `detail` goes only to the log, under that id, since
    /// it may hold internal text (a panic message, a Rust error).
    pub fn internal(what: &str, detail: &dyn std::fmt::Display) -> Self {
        let id = new_request_id();
        tracing::error!(request_id = %id, "internal error while {what}: {detail}");
        let mut e = GatewayError::new(
            ErrorKind::Internal,
            format!("internal error in the gateway; its log has the details under request id {id}"),
        );
        e.request_id = Some(id);
        e
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        let mut e = GatewayError::new(ErrorKind::InvalidRequest, message);
        e.param = Some(param.to_string());
        e
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn from_upstream(mut self) -> Self {
        self.origin = Origin::Upstream;
        self
    }

    /// An upstream's error, decoded from its dialect: its status, wording and retry hints.
    pub fn upstream(api: ApiError) -> Self {
        let status = StatusCode::from_u16(api.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let transient = matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error();
        GatewayError {
            kind: ErrorKind::Upstream(api.kind),
            status,
            message: api.message,
            param: api.param,
            code: api.code,
            origin: Origin::Upstream,
            retryable: api.should_retry.unwrap_or(transient),
            retry_after: api.retry_after_secs,
            request_id: None,
        }
    }

    /// The neutral error the codecs encode, as `dialect`'s clients should get it: Anthropic
    /// clients get other providers' context-length wording as Anthropic's (E6).
    pub fn to_api(&self, dialect: Dialect) -> ApiError {
        let mut api = ApiError {
            status: self.status.as_u16(),
            kind: self.kind.ir(),
            message: self.message.clone(),
            param: self.param.clone(),
            code: self.code.clone(),
            retry_after_secs: self.retry_after,
            should_retry: (!self.retryable).then_some(false),
        };
        if self.origin == Origin::Upstream {
            dialect::from_upstream(dialect, &mut api);
        }
        api
    }

    /// The status `dialect`'s clients get (Anthropic: 529 for capacity failures).
    pub fn client_status(&self, dialect: Dialect) -> StatusCode {
        let api = self.to_api(dialect);
        StatusCode::from_u16(dialect::client_status(dialect, &api)).unwrap_or(self.status)
    }

    /// The JSON body in `dialect`.
    pub fn body(&self, dialect: Dialect) -> Bytes {
        let api = self.to_api(dialect);
        let with_id = self
            .request_id
            .as_deref()
            .and_then(|id| dialect::encode_error_with_id(dialect, &api, id));
        Bytes::from(with_id.unwrap_or_else(|| dialect::encode_error(dialect, &api)))
    }

    /// The whole response in `dialect` (Anthropic: with a `request-id` header equal to the
    /// body's `request_id`, as Anthropic's API sends both).
    pub fn render(&self, dialect: Dialect) -> Response<Body> {
        let body = self.body(dialect);
        let request_id = dialect
            .error_request_id_header()
            .then(|| request_id(&body))
            .flatten();
        let mut resp = Response::new(full(body));
        *resp.status_mut() = self.client_status(dialect);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(id) = request_id {
            h.insert("request-id", id);
        } else if let Some(id) = self.request_id.as_deref()
            && let Ok(v) = HeaderValue::from_str(id)
        {
            h.insert("x-request-id", v);
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if !self.retryable {
            h.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        resp
    }

    /// The SSE event that ends a stream with this error, framed by the dialect (`data: {error}`,
    /// or Anthropic's `event: error` line first).
    /// `trail` is what the relay noted of the stream so far (Responses numbers its events).
    pub fn stream_event(&self, dialect: Dialect, trail: &RelayTrail) -> Bytes {
        let api = self.to_api(dialect);
        let body = self.body(dialect);
        let mut out = Vec::with_capacity(body.len() + 32);
        dialect::stream_error(dialect, &api, &body, trail, &mut out);
        Bytes::from(out)
    }
}

/// The errors of one attempt at an upstream, worded for the user (never a secret, never the
/// URL, which may hold a key).
impl GatewayError {
    /// An upstream reply the gateway cannot read: 502.
    pub fn unreadable_reply(upstream: &str, e: &CodecError) -> Self {
        GatewayError::new(
            ErrorKind::UpstreamFailed,
            format!("upstream `{upstream}` sent a reply the gateway cannot read: {e}"),
        )
        .from_upstream()
    }

    /// A reply that is not what the client asked for (`what` it is instead): 502.
    pub fn not_asked_for(upstream: &str, what: &str) -> Self {
        GatewayError::new(
            ErrorKind::UpstreamFailed,
            format!("upstream `{upstream}` answered with {what}"),
        )
        .from_upstream()
    }

    /// The request for an upstream could not be made (its URL or headers): 502.
    pub fn cannot_call(upstream: &str, e: &AdapterError) -> Self {
        GatewayError::new(
            ErrorKind::UpstreamUnreachable,
            format!("cannot call upstream `{upstream}`: {e}"),
        )
    }

    /// A connection that failed or broke before the reply's first byte: 502.
    pub fn unreachable(upstream: &str, e: &HttpError) -> Self {
        GatewayError::new(
            ErrorKind::UpstreamUnreachable,
            format!("cannot reach upstream `{upstream}`: {}", error_chain(e)),
        )
        .from_upstream()
    }

    /// An upstream silent for `after` (`[timeouts] first_byte_secs`): 504.
    pub fn silent(upstream: &str, after: Duration) -> Self {
        GatewayError::new(
            ErrorKind::Timeout,
            format!(
                "upstream `{upstream}` sent nothing within {} s ([timeouts] first_byte_secs)",
                after.as_secs()
            ),
        )
        .from_upstream()
    }

    /// An error status passed over for the next candidate (the last one's is the answer).
    pub fn status_passed_over(upstream: &str, code: u16) -> Self {
        GatewayError::new(
            ErrorKind::UpstreamUnreachable,
            format!("upstream `{upstream}` answered {code}"),
        )
    }
}

/// A client body the codec cannot read: 400 naming the field.
impl From<CodecError> for GatewayError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::InvalidJson { field, message } => {
                GatewayError::invalid(&field, format!("invalid request at `{field}`: {message}"))
            }
            CodecError::Invalid(m) => GatewayError::new(ErrorKind::InvalidRequest, m),
            CodecError::Unsupported(m) => {
                GatewayError::new(ErrorKind::InvalidRequest, format!("unsupported: {m}"))
            }
        }
    }
}

/// A model that routes nowhere: 400 for a bad name, 404 for an unknown one.
impl From<RouteError> for GatewayError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::EmptyModel => GatewayError::invalid("model", e.to_string()),
            RouteError::InvalidModel { .. } => {
                GatewayError::invalid("model", e.to_string()).with_code("invalid_model")
            }
            RouteError::UnknownModel { .. } | RouteError::UpstreamDisabled { .. } => {
                let mut g = GatewayError::new(ErrorKind::NotFound, e.to_string())
                    .with_code("model_not_found");
                g.param = Some("model".into());
                g
            }
        }
    }
}

/// An HTTP error with its causes (`error sending request: connection refused`), without the
/// URL.
pub(crate) fn error_chain(e: &HttpError) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !msg.contains(&s_text) {
            msg = format!("{msg}: {s_text}");
        }
        source = s.source();
    }
    msg
}

/// A fresh id such as `req_01Ab...`, in the shape Anthropic's API uses.
fn new_request_id() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let mut id = String::from("req_");
    id.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from),
    );
    id
}

/// The `request_id` of an Anthropic error body, as a header value.
fn request_id(body: &[u8]) -> Option<HeaderValue> {
    #[derive(serde::Deserialize)]
    struct WithId {
        request_id: Option<String>,
    }
    let id = serde_json::from_slice::<WithId>(body).ok()?.request_id?;
    HeaderValue::from_str(&id).ok()
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The registry's dialect of that name: the server names no dialect variant.
    fn named(name: &str) -> Dialect {
        name.parse().unwrap()
    }

    fn json_of(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn openai_shape_has_all_four_keys() {
        let e = GatewayError::invalid("model", "`model` must be a string");
        assert_eq!(
            json_of(&e.body(named("openai"))),
            json!({"error": {"message": "`model` must be a string", "type": "invalid_request_error",
                             "param": "model", "code": null}})
        );
        let r = e.render(named("openai"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let e = GatewayError::new(ErrorKind::RateLimited, "slow down").with_retry_after(7);
        let mut a = json_of(&e.body(named("anthropic")));
        assert!(a["request_id"].as_str().unwrap().starts_with("req_"));
        a.as_object_mut().unwrap().remove("request_id");
        assert_eq!(
            a,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
        );
        let g = json_of(&e.body(named("gemini")));
        assert_eq!(g["error"]["code"], 429);
        assert_eq!(g["error"]["message"], "slow down");
        assert_eq!(g["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(g["error"]["details"][0]["retryDelay"], "7s");
        let r = e.render(named("gemini"));
        assert_eq!(r.headers()["retry-after"], "7");
        assert!(r.headers().get("x-should-retry").is_none());
    }

    #[tokio::test]
    async fn anthropic_errors_carry_the_request_id_header() {
        use http_body_util::BodyExt;
        let e = GatewayError::new(ErrorKind::NotFound, "no such model");
        let r = e.render(named("anthropic"));
        let header_id = r.headers()["request-id"].to_str().unwrap().to_owned();
        assert!(header_id.starts_with("req_"));
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(json_of(&body)["request_id"], header_id.as_str());
        for d in [named("openai"), named("gemini")] {
            assert!(e.render(d).headers().get("request-id").is_none());
        }
    }

    /// A panic's text (here from a blocking task, as the token estimate runs) reaches only the
    /// log; the client gets a generic 500 naming the id the log has it under.
    #[tokio::test]
    async fn internal_errors_name_an_id_and_hide_the_detail() {
        use http_body_util::BodyExt;
        let joined = tokio::task::spawn_blocking(|| -> u64 { panic!("secret internal detail") })
            .await
            .unwrap_err();
        let e = GatewayError::internal("counting tokens", &joined);
        let id = e.request_id.clone().unwrap();
        assert!(id.starts_with("req_"));
        for d in [named("anthropic"), named("openai"), named("gemini")] {
            let r = e.render(d);
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let header = if d == named("anthropic") {
                "request-id"
            } else {
                "x-request-id"
            };
            assert_eq!(r.headers()[header], id.as_str());
            let body = r.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains(&id), "{text}");
            assert!(
                !text.contains("secret") && !text.contains("panicked"),
                "{text}"
            );
            if d == named("anthropic") {
                assert_eq!(json_of(&body)["request_id"], id.as_str());
            }
        }
    }

    #[test]
    fn upstream_errors_keep_wording_and_map_per_dialect() {
        let mut api = ApiError::new(503, ir::ErrorKind::Unavailable, "The model is overloaded.");
        api.retry_after_secs = Some(3);
        let e = GatewayError::upstream(api);
        let r = e.render(named("anthropic"));
        assert_eq!(r.status().as_u16(), 529);
        assert_eq!(r.headers()["retry-after"], "3");
        let v = json_of(&e.body(named("anthropic")));
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "The model is overloaded.");
        assert_eq!(e.render(named("openai")).status().as_u16(), 503);

        let api = ApiError::new(
            400,
            ir::ErrorKind::InvalidRequest,
            "This model's maximum context length is 128000 tokens. However, you requested 130000 tokens.",
        );
        let e = GatewayError::upstream(api);
        let v = json_of(&e.body(named("anthropic")));
        assert_eq!(
            v["error"]["message"],
            "prompt is too long: 130000 tokens > 128000 maximum"
        );
        assert!(
            e.render(named("anthropic"))
                .headers()
                .get("x-should-retry")
                .is_some()
        );

        let mut api = ApiError::new(429, ir::ErrorKind::RateLimit, "daily quota");
        api.should_retry = Some(false);
        let r = GatewayError::upstream(api).render(named("anthropic"));
        assert_eq!(r.headers()["x-should-retry"], "false");
    }

    #[test]
    fn stream_events() {
        let e = GatewayError::new(ErrorKind::Timeout, "upstream went quiet");
        let none = RelayTrail::default();
        let a = e.stream_event(named("anthropic"), &none);
        assert!(a.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        assert!(a.ends_with(b"\n\n"));
        let o = e.stream_event(named("openai"), &none);
        assert!(o.starts_with(b"data: {\"error\":"));
    }

    #[test]
    fn statuses() {
        for (k, s) in [
            (ErrorKind::RequestTooLarge, 413),
            (ErrorKind::UpstreamUnreachable, 502),
            (ErrorKind::Timeout, 504),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Authentication, 401),
            (ErrorKind::PermissionDenied, 403),
        ] {
            assert_eq!(GatewayError::new(k, "x").status.as_u16(), s);
        }
        assert!(!GatewayError::new(ErrorKind::Authentication, "x").retryable);
        assert!(GatewayError::new(ErrorKind::Timeout, "x").retryable);
    }
}
