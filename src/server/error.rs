//! The gateway's own errors, in one place: one [`GatewayError`] (what went wrong, the status,
//! whether it came from an upstream, whether it is worth retrying) rendered in the client's
//! [`Dialect`]: OpenAI `{"error":{message,type,param,code}}`, Anthropic
//! `{"type":"error","error":{type,message}}`, Gemini `{"error":{code,message,status}}`, as a
//! whole response or as the stream error event that ends an SSE reply mid-way.
//!
//! Upstream errors that arrive with a status and body are passed through untouched by the
//! pipeline; only errors the gateway itself decides (and upstream failures without a usable
//! reply: unreachable, timeout) are rendered here.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use super::Body;
use super::body::full;

/// The wire format a client speaks, from its route (and, on shared routes, its headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Dialect {
    /// For routes every client may call (model list, unknown paths): Anthropic clients send
    /// `anthropic-version`, Google clients `x-goog-api-key`; everyone else gets OpenAI.
    pub fn guess(headers: &http::HeaderMap) -> Dialect {
        if headers.contains_key("anthropic-version") {
            Dialect::Anthropic
        } else if headers.contains_key("x-goog-api-key") {
            Dialect::Gemini
        } else {
            Dialect::OpenAi
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    RequestTooLarge,
    RateLimited,
    /// No upstream could be reached (502).
    UpstreamUnreachable,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The upstream failed mid-reply.
    UpstreamFailed,
    NotImplemented,
    Internal,
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
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamFailed => StatusCode::BAD_GATEWAY,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::RequestTooLarge
            | ErrorKind::NotImplemented => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamUnreachable
            | ErrorKind::Timeout
            | ErrorKind::UpstreamFailed
            | ErrorKind::Internal => "server_error",
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::MethodNotAllowed | ErrorKind::NotImplemented => {
                "invalid_request_error"
            }
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamFailed | ErrorKind::Internal => {
                "api_error"
            }
        }
    }

    fn gemini_status(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "INVALID_ARGUMENT",
            ErrorKind::Authentication => "UNAUTHENTICATED",
            ErrorKind::PermissionDenied => "PERMISSION_DENIED",
            ErrorKind::NotFound | ErrorKind::MethodNotAllowed => "NOT_FOUND",
            ErrorKind::RateLimited => "RESOURCE_EXHAUSTED",
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamFailed => "UNAVAILABLE",
            ErrorKind::Timeout => "DEADLINE_EXCEEDED",
            ErrorKind::NotImplemented => "UNIMPLEMENTED",
            ErrorKind::Internal => "INTERNAL",
        }
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
                    | ErrorKind::UpstreamUnreachable
                    | ErrorKind::Timeout
                    | ErrorKind::UpstreamFailed
            ),
            retry_after: None,
        }
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

    /// The JSON body in `dialect`.
    pub fn body(&self, dialect: Dialect) -> Bytes {
        let json = match dialect {
            Dialect::OpenAi => serde_json::to_vec(&wire::OpenAiEnvelope {
                error: wire::OpenAiError {
                    message: &self.message,
                    kind: self.kind.openai_type(),
                    param: self.param.as_deref(),
                    code: self.code.as_deref(),
                },
            }),
            Dialect::Anthropic => serde_json::to_vec(&wire::AnthropicEnvelope {
                kind: "error",
                error: wire::AnthropicError {
                    kind: self.kind.anthropic_type(),
                    message: &self.message,
                },
            }),
            Dialect::Gemini => serde_json::to_vec(&wire::GeminiEnvelope {
                error: wire::GeminiError {
                    code: self.status.as_u16(),
                    message: &self.message,
                    status: self.kind.gemini_status(),
                },
            }),
        };
        // Serializing these plain structs cannot fail; keep a valid body regardless.
        Bytes::from(json.unwrap_or_else(|_| b"{\"error\":{}}".to_vec()))
    }

    /// The whole response in `dialect`.
    pub fn render(&self, dialect: Dialect) -> Response<Body> {
        let mut resp = Response::new(full(self.body(dialect)));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if !self.retryable {
            h.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        resp
    }

    /// The SSE event that ends a stream with this error: `data: {error}` for OpenAI and Gemini,
    /// `event: error` with the Anthropic error object for Anthropic.
    pub fn stream_event(&self, dialect: Dialect) -> Bytes {
        let body = self.body(dialect);
        let mut out = Vec::with_capacity(body.len() + 32);
        if dialect == Dialect::Anthropic {
            out.extend_from_slice(b"event: error\n");
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for GatewayError {}

mod wire {
    use super::Serialize;

    #[derive(Serialize)]
    pub struct OpenAiEnvelope<'a> {
        pub error: OpenAiError<'a>,
    }

    /// All four keys are always present; `param` and `code` may be null.
    #[derive(Serialize)]
    pub struct OpenAiError<'a> {
        pub message: &'a str,
        #[serde(rename = "type")]
        pub kind: &'a str,
        pub param: Option<&'a str>,
        pub code: Option<&'a str>,
    }

    #[derive(Serialize)]
    pub struct AnthropicEnvelope<'a> {
        #[serde(rename = "type")]
        pub kind: &'a str,
        pub error: AnthropicError<'a>,
    }

    #[derive(Serialize)]
    pub struct AnthropicError<'a> {
        #[serde(rename = "type")]
        pub kind: &'a str,
        pub message: &'a str,
    }

    #[derive(Serialize)]
    pub struct GeminiEnvelope<'a> {
        pub error: GeminiError<'a>,
    }

    #[derive(Serialize)]
    pub struct GeminiError<'a> {
        pub code: u16,
        pub message: &'a str,
        pub status: &'a str,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn json_of(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn openai_shape_has_all_four_keys() {
        let e = GatewayError::invalid("model", "`model` must be a string");
        assert_eq!(
            json_of(&e.body(Dialect::OpenAi)),
            json!({"error": {"message": "`model` must be a string", "type": "invalid_request_error",
                             "param": "model", "code": null}})
        );
        let r = e.render(Dialect::OpenAi);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let e = GatewayError::new(ErrorKind::RateLimited, "slow down").with_retry_after(7);
        assert_eq!(
            json_of(&e.body(Dialect::Anthropic)),
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
        );
        assert_eq!(
            json_of(&e.body(Dialect::Gemini)),
            json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
        );
        let r = e.render(Dialect::Gemini);
        assert_eq!(r.headers()["retry-after"], "7");
        assert!(r.headers().get("x-should-retry").is_none());
    }

    #[test]
    fn stream_events() {
        let e = GatewayError::new(ErrorKind::Timeout, "upstream went quiet");
        let a = e.stream_event(Dialect::Anthropic);
        assert!(a.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        assert!(a.ends_with(b"\n\n"));
        let o = e.stream_event(Dialect::OpenAi);
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
