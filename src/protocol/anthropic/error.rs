//! Anthropic error bodies (E1) <-> `ir::ApiError`, and the rewording of other providers'
//! context-length errors into the wording Claude Code compacts on (E6).
//!
//! The HTTP status is `ApiError::status`; the server sets it and the `request-id` header. An
//! Anthropic client seeing a non-Anthropic "overloaded/unavailable" gets 529 (see
//! [`client_status`]).

use super::{parse_json, random_id, wire};
use crate::protocol::ir::{ApiError, ErrorKind};

/// The `error.type` Anthropic uses for a kind.
pub fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Billing => "billing_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::Conflict => "conflict_error",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Api | ErrorKind::BadGateway => "api_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::Overloaded | ErrorKind::Unavailable => "overloaded_error",
    }
}

/// The kind for an Anthropic `error.type`, if it is one we know.
pub fn kind_for_type(t: &str) -> Option<ErrorKind> {
    Some(match t {
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "billing_error" => ErrorKind::Billing,
        "permission_error" => ErrorKind::Permission,
        "not_found_error" => ErrorKind::NotFound,
        "conflict_error" => ErrorKind::Conflict,
        "request_too_large" => ErrorKind::RequestTooLarge,
        "rate_limit_error" => ErrorKind::RateLimit,
        "api_error" => ErrorKind::Api,
        "timeout_error" => ErrorKind::Timeout,
        "overloaded_error" => ErrorKind::Overloaded,
        _ => return None,
    })
}

pub(crate) fn status_for_kind(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InvalidRequest => 400,
        ErrorKind::Authentication => 401,
        ErrorKind::Billing => 402,
        ErrorKind::Permission => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::RequestTooLarge => 413,
        ErrorKind::RateLimit => 429,
        ErrorKind::Api => 500,
        ErrorKind::BadGateway => 502,
        ErrorKind::Unavailable => 503,
        ErrorKind::Timeout => 504,
        ErrorKind::Overloaded => 529,
    }
}

/// The status to answer an Anthropic client with: capacity failures become 529, which Claude
/// Code treats as "overloaded, retry" (E4).
pub fn client_status(err: &ApiError) -> u16 {
    match err.kind {
        ErrorKind::Overloaded | ErrorKind::Unavailable => 529,
        _ => err.status,
    }
}

/// Reads an Anthropic error body. Never fails: a body that is not Anthropic's JSON becomes the
/// message (trimmed), with the kind taken from the status.
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    if let Ok(b) = parse_json::<wire::ErrorBody>(body) {
        let kind = kind_for_type(&b.error.kind).unwrap_or_else(|| ErrorKind::for_status(status));
        let mut err = ApiError::new(status, kind, b.error.message);
        // Other dialects' clients recognise a context overflow by this code (OpenAI's name).
        if kind == ErrorKind::InvalidRequest
            && err
                .message
                .to_ascii_lowercase()
                .starts_with("prompt is too long")
        {
            err.code = Some("context_length_exceeded".to_owned());
        }
        return err;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("upstream returned HTTP {status}")
    } else {
        truncate(text, 2000).to_owned()
    };
    ApiError::new(status, ErrorKind::for_status(status), message)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The body for `err` (`{"type":"error","error":{...},"request_id":"req_..."}`).
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    encode_error_with_id(err, &random_id("req_"))
}

pub(crate) fn encode_error_with_id(err: &ApiError, request_id: &str) -> Vec<u8> {
    let body = wire::ErrorBody {
        kind: "error".into(),
        error: wire::ErrorDetail {
            kind: error_type(err.kind).into(),
            message: err.message.clone(),
            extra: Default::default(),
        },
        request_id: Some(request_id.to_owned()),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Rewrites OpenAI/DeepSeek ("maximum context length is M tokens. However, you requested N
/// tokens") and Gemini ("The input token count (N) exceeds the maximum number of tokens allowed
/// (M)") context-length errors into Anthropic's `prompt is too long: N tokens > M maximum`
/// (400 `invalid_request_error`), the wording Claude Code compacts on (E6). Returns whether it
/// changed anything.
pub fn reword_context_error(err: &mut ApiError) -> bool {
    let lower = err.message.to_ascii_lowercase();
    if lower.starts_with("prompt is too long") {
        return false;
    }
    let numbers = if let Some(i) = lower.find("maximum context length is") {
        // OpenAI/DeepSeek: M first, then N after "resulted in" / "requested".
        let after = &lower[i + "maximum context length is".len()..];
        let (m, rest) = next_number(after);
        let n = ["resulted in", "requested"]
            .iter()
            .find_map(|k| rest.find(k).map(|j| next_number(&rest[j + k.len()..]).0))
            .flatten();
        Some((n, m))
    } else if let Some(i) = lower.find("input token count") {
        let after = &lower[i + "input token count".len()..];
        let (n, rest) = next_number(after);
        let m = rest
            .find("maximum number of tokens")
            .and_then(|j| next_number(&rest[j..]).0);
        match (n, m) {
            // "The input token count exceeds the maximum number of tokens allowed (M)".
            (Some(m), None) => Some((None, Some(m))),
            other => Some(other),
        }
    } else if err.code.as_deref() == Some("context_length_exceeded") {
        Some((None, None))
    } else {
        None
    };
    let Some(numbers) = numbers else {
        return false;
    };
    err.message = match numbers {
        (Some(n), Some(m)) => format!("prompt is too long: {n} tokens > {m} maximum"),
        _ => format!("prompt is too long: {}", err.message),
    };
    err.status = 400;
    err.kind = ErrorKind::InvalidRequest;
    true
}

/// The first integer in `s` (digits, `,` separators allowed) and the text after it.
fn next_number(s: &str) -> (Option<u64>, &str) {
    let Some(start) = s.find(|c: char| c.is_ascii_digit()) else {
        return (None, s);
    };
    let tail = &s[start..];
    let end = tail
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(tail.len());
    let digits: String = tail[..end].chars().filter(char::is_ascii_digit).collect();
    (digits.parse().ok(), &tail[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn table_round_trips() {
        for (status, t) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (409, "conflict_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ] {
            let body = format!(
                r#"{{"type":"error","error":{{"type":"{t}","message":"m"}},"request_id":"req_1"}}"#
            );
            let e = decode_error(status, body.as_bytes());
            assert_eq!(e.kind, ErrorKind::for_status(status), "{t}");
            assert_eq!(status_for_kind(e.kind), status);
            let out: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
            assert_eq!(out["type"], "error");
            assert_eq!(out["error"]["type"], t);
            assert_eq!(out["error"]["message"], "m");
            assert!(out["request_id"].as_str().unwrap().starts_with("req_"));
        }
    }

    #[test]
    fn prompt_too_long_gets_the_context_length_code() {
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 212345 tokens > 200000 maximum"}}"#;
        let e = decode_error(400, body);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(
            e.message,
            "prompt is too long: 212345 tokens > 200000 maximum"
        );
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}}"#;
        assert_eq!(decode_error(400, body).code, None);
    }

    #[test]
    fn non_json_bodies_fall_back_to_text() {
        let e = decode_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.kind, ErrorKind::BadGateway);
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        let e = decode_error(503, b"");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(client_status(&e), 529);
        let out: Value = serde_json::from_slice(&encode_error(&e)).unwrap();
        assert_eq!(out["error"]["type"], "overloaded_error");
    }

    #[test]
    fn rewords_openai_deepseek_and_gemini_context_errors() {
        let mut e = ApiError::invalid_request(
            "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens (69000 in the messages, 1000 in the completion). Please reduce the length.",
        );
        assert!(reword_context_error(&mut e));
        assert_eq!(
            e.message,
            "prompt is too long: 70000 tokens > 65536 maximum"
        );

        let mut e = ApiError::invalid_request(
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130,512 tokens.",
        );
        assert!(reword_context_error(&mut e));
        assert_eq!(
            e.message,
            "prompt is too long: 130512 tokens > 128000 maximum"
        );

        let mut e = ApiError::new(
            400,
            ErrorKind::InvalidRequest,
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        );
        assert!(reword_context_error(&mut e));
        assert_eq!(
            e.message,
            "prompt is too long: 1200000 tokens > 1048576 maximum"
        );

        let mut e = ApiError::new(
            500,
            ErrorKind::Api,
            "The input token count exceeds the maximum number of tokens allowed (1048576).",
        );
        assert!(reword_context_error(&mut e));
        assert!(
            e.message
                .starts_with("prompt is too long: The input token count")
        );
        assert_eq!((e.status, e.kind), (400, ErrorKind::InvalidRequest));

        let mut e = ApiError::invalid_request("prompt is too long: 5 tokens > 4 maximum");
        assert!(!reword_context_error(&mut e));
        let mut e = ApiError::invalid_request("messages: field required");
        assert!(!reword_context_error(&mut e));
    }
}
