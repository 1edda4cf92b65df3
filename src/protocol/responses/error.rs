//! Responses errors (reference §5) <-> [`ApiError`]. Before the first byte the body is the
//! OpenAI envelope (all four keys, shared with the Chat dialect); after it, a
//! `response.failed` event whose `error.code` is one Codex acts on ([`failed_error`]):
//! `context_length_exceeded` (its context-window message, no retry), `rate_limit_exceeded` with
//! "try again in Ns" (its retry delay), `insufficient_quota`, else `server_error`.

use serde_json::{Value, json};

use crate::protocol::ir::{ApiError, ErrorKind};
use crate::protocol::openai;

/// Decodes an upstream error body (the same envelope as Chat Completions). Never fails.
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    let mut err = openai::decode_error(status, body);
    mark_context(&mut err);
    err
}

/// The body of an error for a Responses client; the status is [`client_status`]. A rate
/// limit says when to retry in the words Codex reads, as in `response.failed`.
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    let mut err = err.clone();
    mark_context(&mut err);
    if err.kind == ErrorKind::RateLimit && err.code.as_deref() != Some("insufficient_quota") {
        err.message = retry_message(&err);
    }
    openai::encode_error(&err)
}

/// A rate limit's message with "Please try again in Ns." when it names a delay and does not
/// say so already (Codex's `try_parse_retry_after` reads it, CX-SSE).
fn retry_message(err: &ApiError) -> String {
    let mut message = err.message.clone();
    if let Some(secs) = err.retry_after_secs
        && !message.to_ascii_lowercase().contains("try again in")
    {
        if !message.is_empty() && !message.ends_with(' ') {
            message.push(' ');
        }
        message.push_str(&format!("Please try again in {secs}s."));
    }
    message
}

/// Codex retries 5xx and 429 itself and reads the rest as final: the error's own status.
pub fn client_status(err: &ApiError) -> u16 {
    err.status
}

/// Whether an error says the prompt no longer fits, in any provider's words.
fn is_context_error(err: &ApiError) -> bool {
    if err.code.as_deref() == Some("context_length_exceeded") {
        return true;
    }
    let m = err.message.to_ascii_lowercase();
    m.contains("prompt is too long")
        || m.contains("maximum context length")
        || m.contains("context window")
        || (m.contains("input token count") && m.contains("exceeds"))
}

fn mark_context(err: &mut ApiError) {
    if err.kind == ErrorKind::InvalidRequest && is_context_error(err) {
        err.code = Some("context_length_exceeded".to_owned());
    }
}

/// The `error` of a `response.failed` event for `err`.
pub(crate) fn failed_error(err: &ApiError) -> Value {
    let mut message = err.message.clone();
    let code = if is_context_error(err) {
        "context_length_exceeded"
    } else if err.code.as_deref() == Some("insufficient_quota") || err.kind == ErrorKind::Billing {
        "insufficient_quota"
    } else if err.kind == ErrorKind::RateLimit {
        message = retry_message(err);
        "rate_limit_exceeded"
    } else {
        match err.code.as_deref() {
            Some(c @ ("invalid_prompt" | "server_error")) => c,
            _ if err.kind == ErrorKind::InvalidRequest => "invalid_prompt",
            _ => "server_error",
        }
    };
    json!({"code": code, "message": message})
}

/// An error from a Responses upstream's `response.failed` or `error` event.
pub(crate) fn from_failed(code: Option<&str>, message: &str) -> ApiError {
    let (status, kind) = match code {
        Some("context_length_exceeded" | "invalid_prompt") => (400, ErrorKind::InvalidRequest),
        Some("rate_limit_exceeded") => (429, ErrorKind::RateLimit),
        Some("insufficient_quota") => (429, ErrorKind::RateLimit),
        _ => (500, ErrorKind::Api),
    };
    let body = json!({"error": {"message": message, "type": null, "param": null, "code": code}});
    let mut err = decode_error(status, body.to_string().as_bytes());
    err.kind = kind;
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_errors_get_the_code_codex_reads() {
        let e = ApiError::invalid_request("prompt is too long: 210000 tokens > 200000 maximum");
        let v: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(v["error"]["code"], "context_length_exceeded");
        assert_eq!(failed_error(&e)["code"], "context_length_exceeded");
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let mut e = ApiError::new(429, ErrorKind::RateLimit, "Slow down.");
        e.retry_after_secs = Some(7);
        let f = failed_error(&e);
        assert_eq!(f["code"], "rate_limit_exceeded");
        assert_eq!(f["message"], "Slow down. Please try again in 7s.");
        let back = from_failed(Some("rate_limit_exceeded"), "Please try again in 1.5s.");
        assert_eq!((back.status, back.retry_after_secs), (429, Some(2)));
        let quota = from_failed(Some("insufficient_quota"), "You exceeded your quota");
        assert_eq!(quota.should_retry, Some(false));
    }

    #[test]
    fn any_upstreams_rate_limit_is_openais_in_the_body_too() {
        // Bedrock's throttle, as `converse::decode_error` reads it.
        let mut e = ApiError::new(429, ErrorKind::RateLimit, "Too many requests.");
        e.code = Some("ThrottlingException".into());
        e.retry_after_secs = Some(5);
        let v: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
        assert_eq!(
            v["error"]["message"],
            "Too many requests. Please try again in 5s."
        );
        assert_eq!(
            decode_error(429, &encode_error(&e)).retry_after_secs,
            Some(5)
        );
        e.code = Some("insufficient_quota".into());
        let v: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(v["error"]["code"], "insufficient_quota", "{v}");
    }

    #[test]
    fn envelope_has_all_four_keys() {
        let e = ApiError::new(500, ErrorKind::Api, "boom");
        let v: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": null}})
        );
        assert_eq!(failed_error(&e)["code"], "server_error");
    }
}
