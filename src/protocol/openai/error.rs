//! OpenAI-shaped errors (E2) <-> [`ApiError`]: `decode_error` reads whatever an OpenAI-compatible
//! upstream sent (tolerating HTML and plain text), `encode_error` writes the body OpenAI clients
//! expect, always with `message`, `type`, `param` and `code`. The HTTP status and retry headers
//! are the server's business (`err.status`, `retry_after_secs`, `should_retry`).

use serde_json::{Map, Value};

use super::wire;
use crate::protocol::ir::{ApiError, ErrorKind};

/// The human-readable text of an `error` value: an object's `message`, or a string itself.
pub(crate) fn error_message(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| v.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

/// Decodes an upstream error body. Never fails: a body that is not OpenAI-shaped JSON becomes
/// the message as it is (trimmed, or the status when empty).
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    let mut err = ApiError::new(status, ErrorKind::for_status(status), String::new());
    let parsed = serde_json::from_slice::<Value>(body).ok();
    // Some providers wrap the error in an array (`[{"error": {...}}]`).
    let parsed = match parsed {
        Some(Value::Array(mut items)) if !items.is_empty() => Some(items.swap_remove(0)),
        other => other,
    };
    let object = match &parsed {
        Some(Value::Object(m)) => match m.get("error") {
            Some(Value::Object(inner)) => Some(inner.clone()),
            Some(Value::String(s)) => Some(Map::from_iter([(
                "message".to_owned(),
                Value::String(s.clone()),
            )])),
            _ => Some(m.clone()),
        },
        _ => None,
    };
    match object {
        Some(obj) => {
            err.message = obj
                .get("message")
                .or_else(|| obj.get("detail"))
                .map(error_message)
                .unwrap_or_else(|| Value::Object(obj.clone()).to_string());
            err.param = obj.get("param").and_then(value_text);
            err.code = obj.get("code").and_then(value_text);
            let kind_name = obj.get("type").and_then(Value::as_str).unwrap_or_default();
            if err.code.is_none() && is_code_like(kind_name) {
                err.code = Some(kind_name.to_owned());
            }
        }
        None => {
            err.message = String::from_utf8_lossy(body).trim().to_owned();
        }
    }
    if err.message.is_empty() {
        err.message = format!("upstream returned HTTP {status}");
    }
    classify(&mut err);
    err
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `type` values that are really codes (OpenAI puts `insufficient_quota` in both).
fn is_code_like(t: &str) -> bool {
    matches!(
        t,
        "insufficient_quota" | "context_length_exceeded" | "rate_limit_exceeded"
    )
}

/// Spent quotas are not worth retrying (E5); context-length errors are marked as such (their
/// wording is the upstream's: only Anthropic clients get it reworded, at encoding, E6); "try
/// again in Ns" becomes a retry delay.
fn classify(err: &mut ApiError) {
    if err.code.as_deref() == Some("insufficient_quota") {
        err.should_retry = Some(false);
        if err.status == 429 {
            err.kind = ErrorKind::RateLimit;
        }
    }
    if err.retry_after_secs.is_none() {
        err.retry_after_secs = retry_delay(&err.message);
    }
    let lower = err.message.to_ascii_lowercase();
    if err.code.as_deref() == Some("context_length_exceeded")
        || lower.contains("maximum context length")
    {
        err.code = Some("context_length_exceeded".to_owned());
        err.kind = ErrorKind::InvalidRequest;
    }
}

/// "Please try again in 20s" / "in 1.5s" / "in 250ms" (OpenAI's rate-limit wording).
fn retry_delay(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in ")? + "try again in ".len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = number.parse().ok()?;
    let unit = &rest[number.len()..];
    let secs = if unit.starts_with("ms") {
        value / 1000.0
    } else {
        value
    };
    // Round up, and never below one second: a zero delay means "no hint".
    Some((secs.ceil() as u64).max(1))
}

/// The OpenAI `type` for an error kind.
pub(crate) fn type_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest
        | ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::RequestTooLarge => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::Billing => "insufficient_quota",
        ErrorKind::RateLimit => "rate_limit_exceeded",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::Api | ErrorKind::BadGateway | ErrorKind::Unavailable | ErrorKind::Overloaded => {
            "server_error"
        }
    }
}

pub(crate) fn error_body(err: &ApiError) -> wire::ErrorBody {
    // OpenAI writes `insufficient_quota` and the like in both `type` and `code`, and
    // `decode_error` reads such a type as the code: without it here too, the same error would
    // read differently on the way back.
    let kind = type_name(err.kind);
    let code = match err.code.as_deref() {
        // A rate limit reads as OpenAI's whatever the upstream called it (Bedrock's
        // `ThrottlingException`, Azure's `"429"`): clients branch on these two codes.
        Some(c) if err.kind == ErrorKind::RateLimit && c != "insufficient_quota" => {
            Some(kind.to_owned())
        }
        Some(c) => Some(c.to_owned()),
        None => is_code_like(kind).then(|| kind.to_owned()),
    };
    wire::ErrorBody {
        error: wire::ErrorObject {
            message: err.message.clone(),
            kind: Some(kind.to_owned()),
            param: err.param.clone().map(Value::String),
            code: code.map(Value::String),
            extra: Map::new(),
        },
    }
}

/// The body of an error for an OpenAI client; the status is `err.status`.
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&error_body(err)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_openai_shape() {
        let body = json!({"error": {"message": "Invalid model", "type": "invalid_request_error",
            "param": "model", "code": "model_not_found"}});
        let e = decode_error(404, body.to_string().as_bytes());
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "Invalid model");
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }

    #[test]
    fn tolerates_html_and_odd_shapes() {
        let e = decode_error(502, b"<html>Bad Gateway</html>\n");
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        assert_eq!(e.kind, ErrorKind::BadGateway);
        let e = decode_error(500, b"");
        assert_eq!(e.message, "upstream returned HTTP 500");
        let e = decode_error(400, br#"[{"error": {"message": "x", "code": 400}}]"#);
        assert_eq!((e.message.as_str(), e.code.as_deref()), ("x", Some("400")));
        let e = decode_error(400, br#"{"error": "plain"}"#);
        assert_eq!(e.message, "plain");
        let e = decode_error(422, br#"{"detail": "bad field"}"#);
        assert_eq!(e.message, "bad field");
    }

    #[test]
    fn quota_is_not_retryable_and_rate_limit_has_delay() {
        let body = json!({"error": {"message": "You exceeded your current quota",
            "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}});
        let e = decode_error(429, body.to_string().as_bytes());
        assert_eq!(e.should_retry, Some(false));
        let body = json!({"error": {"message": "Rate limit reached. Please try again in 1.5s.",
            "type": "requests", "code": "rate_limit_exceeded"}});
        let e = decode_error(429, body.to_string().as_bytes());
        assert_eq!(e.retry_after_secs, Some(2));
        assert_eq!(e.should_retry, None);
    }

    #[test]
    fn context_length_is_marked_and_keeps_its_wording() {
        let message = "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens (69000 in the messages, 1000 in the completion).";
        let body =
            json!({"error": {"message": message, "type": "invalid_request_error", "code": null}});
        let mut e = decode_error(400, body.to_string().as_bytes());
        assert_eq!(e.message, message);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        // Anthropic clients (Claude Code) get the wording they compact on.
        assert!(crate::protocol::anthropic::reword_context_error(&mut e));
        assert_eq!(
            e.message,
            "prompt is too long: 70000 tokens > 65536 maximum"
        );
    }

    /// Fuzz finding: a billing (402) or rate-limit (429) error went out with the `type`
    /// `insufficient_quota` or `rate_limit_exceeded` and no code, which this decoder (like
    /// OpenAI's own bodies) reads as the code too, so the same error read back differently.
    /// Minimised input: `{"error":{"type":"server_error"}}`.
    #[test]
    fn code_like_types_round_trip() {
        for (status, kind, name) in [
            (402, ErrorKind::Billing, "insufficient_quota"),
            (429, ErrorKind::RateLimit, "rate_limit_exceeded"),
        ] {
            let e = decode_error(status, br#"{"error":{"type":"server_error"}}"#);
            assert_eq!(e.kind, kind);
            let body = encode_error(&e);
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["type"], name);
            assert_eq!(v["error"]["code"], name);
            assert_eq!(encode_error(&decode_error(status, &body)), body);
        }
    }

    #[test]
    fn encodes_all_four_keys() {
        let e = ApiError::new(429, ErrorKind::RateLimit, "slow down");
        let v: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "slow down", "type": "rate_limit_exceeded", "param": null, "code": "rate_limit_exceeded"}})
        );
    }
}
