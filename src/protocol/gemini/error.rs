//! Gemini errors: the Google RPC body `{"error": {code, message, status, details}}` from an
//! upstream -> `ir::ApiError` ([`decode_error`]), and an `ApiError` -> that body for a Gemini
//! client ([`encode_error`], E3).
//!
//! Retry hints, in the order Google's RPC errors carry them: `RetryInfo.retryDelay` ("0.5s"), else ErrorInfo
//! `metadata.quotaResetDelay` ("539.477544ms", "1h2m3s"), else "retry in 23s" in the message,
//! rounded up to whole seconds. A QuotaFailure whose quotaId names a daily quota, an ErrorInfo
//! reason `QUOTA_EXHAUSTED`, a "limit: 0" message, or a delay over five minutes marks the error
//! `should_retry: Some(false)`; a 429 whose QuotaFailure names a daily quota says so in its
//! message when Google's own text does not. An RPC body stringified in another's `message`
//! (Code Assist does this) is read instead of its wrapper. This is the one reader of Google RPC
//! errors: the Gemini API's and Code Assist's alike.
//! Gemini's context-length error gets the code `context_length_exceeded`; its wording is kept.

use serde_json::{Value, json};

use super::wire::ErrorBody;
use crate::protocol::ir::{ApiError, ErrorKind};

/// Longest delay worth waiting for, as gemini-cli decides (`MAX_RETRYABLE_DELAY_SECONDS`).
const MAX_RETRY_DELAY_SECS: u64 = 300;

/// Never fails: a body that is not the RPC shape becomes the message.
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => decode_error_value(status, &value),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            from_message(status, text.trim().chars().take(2000).collect())
        }
    }
}

/// An error known only by its message (no RPC body): what the message itself says, read the
/// way an RPC body's message is.
fn from_message(status: u16, message: String) -> ApiError {
    // As for an RPC body without a message.
    let message = if message.trim().is_empty() {
        format!("upstream returned HTTP {status}")
    } else {
        message
    };
    let mut err = ApiError::new(status, kind_for(status, &message), String::new());
    let delay = retry_in_message(&message);
    classify(&mut err, message, delay, false);
    err
}

pub(super) fn decode_error_value(status: u16, value: &Value) -> ApiError {
    let inner = match value {
        Value::Array(items) => items.first().unwrap_or(value),
        other => other,
    };
    let Some(body) = inner
        .get("error")
        .and_then(|_| serde_json::from_value::<ErrorBody>(inner.clone()).ok())
    else {
        let message = match inner.get("error") {
            Some(Value::String(s)) => s.clone(),
            _ => inner.to_string(),
        };
        return from_message(status, message);
    };
    let e = body.error;
    // An empty message reads as the status name, or the HTTP status when that is empty too.
    let message = [e.message.as_str(), e.status.as_deref().unwrap_or_default()]
        .into_iter()
        .find(|m| !m.is_empty())
        .map_or_else(|| format!("upstream returned HTTP {status}"), str::to_owned);
    let mut err = ApiError::new(status, kind_for(status, &message), String::new());
    let mut daily = false;
    let mut exhausted = false;
    let mut delay: Option<f64> = None;
    let mut reset_delay: Option<f64> = None;
    for detail in &e.details {
        let kind = detail.get("@type").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("google.rpc.ErrorInfo") {
            if let Some(reason) = detail.get("reason").and_then(Value::as_str) {
                exhausted |= reason == "QUOTA_EXHAUSTED";
                err.code = Some(reason.to_string());
            }
            reset_delay = detail
                .get("metadata")
                .and_then(|m| m.get("quotaResetDelay"))
                .and_then(Value::as_str)
                .and_then(parse_duration);
        } else if kind.ends_with("google.rpc.RetryInfo") {
            delay = detail
                .get("retryDelay")
                .and_then(Value::as_str)
                .and_then(parse_duration);
        } else if kind.ends_with("google.rpc.QuotaFailure") {
            let violations = detail.get("violations").and_then(Value::as_array);
            daily |= violations.into_iter().flatten().any(|v| {
                v.get("quotaId")
                    .and_then(Value::as_str)
                    .is_some_and(|q| q.contains("PerDay") || q.contains("Daily"))
            });
        } else if kind.ends_with("google.rpc.BadRequest") {
            err.param = detail
                .get("fieldViolations")
                .and_then(|v| v.get(0))
                .and_then(|v| v.get("field"))
                .and_then(Value::as_str)
                .map(String::from);
        }
    }
    let delay = delay.or(reset_delay).or_else(|| retry_in_message(&message));
    // Google's text often just says "Resource has been exhausted": say which quota.
    let lower = message.to_ascii_lowercase();
    let message =
        if status == 429 && daily && !lower.contains("daily") && !lower.contains("per day") {
            format!(
                "{} (the daily quota of this account is spent; retrying before it resets will not \
             help)",
                message.trim_end()
            )
        } else {
            message
        };
    classify(&mut err, message, delay, daily || exhausted);
    err
}

/// The retry delay and whether retrying is worth it, and a context-length error marked as
/// such; `message` becomes the error's.
fn classify(err: &mut ApiError, message: String, delay: Option<f64>, mut daily: bool) {
    if let Some(secs) = delay {
        let secs = secs.ceil().max(0.0) as u64;
        err.retry_after_secs = Some(secs);
        if secs > MAX_RETRY_DELAY_SECS {
            daily = true;
        }
    }
    if daily || message.contains("limit: 0") {
        err.should_retry = Some(false);
    }
    // Code Assist sometimes wraps the real error, stringified, in the message of another: its
    // retry hints count. The message stays as sent, so that decoding what a client was told
    // gives the same error again.
    if message.trim_start().starts_with('{')
        && let Ok(v) = serde_json::from_str::<Value>(&message)
        // An RPC body whose own message is not another: one level, never an endless descent.
        && serde_json::from_value::<ErrorBody>(v.clone())
            .is_ok_and(|b| !b.error.message.trim_start().starts_with('{'))
    {
        let inner = decode_error_value(err.status, &v);
        err.retry_after_secs = err.retry_after_secs.or(inner.retry_after_secs);
        err.should_retry = err.should_retry.or(inner.should_retry);
    }
    if is_context_length(&message) {
        err.kind = ErrorKind::InvalidRequest;
        err.code
            .get_or_insert_with(|| "context_length_exceeded".into());
    }
    err.message = message;
}

fn kind_for(status: u16, message: &str) -> ErrorKind {
    // Gemini answers 503 both when a model is overloaded and when the service is down.
    if status == 503 && message.to_ascii_lowercase().contains("overloaded") {
        ErrorKind::Overloaded
    } else {
        ErrorKind::for_status(status)
    }
}

/// "The input token count (N) exceeds the maximum number of tokens allowed (M)." The wording is
/// kept (clients of each dialect match on their own; the Anthropic encoder rewords it, E6); the
/// code says what it is.
fn is_context_length(message: &str) -> bool {
    message.contains("input token count") && message.contains("exceeds the maximum")
}

fn retry_in_message(message: &str) -> Option<f64> {
    let lower = message.to_ascii_lowercase();
    let idx = lower
        .find("retry in ")
        .or_else(|| lower.find("reset after "))?;
    let rest = lower.get(idx..)?.split_once(' ')?.1;
    let rest = rest
        .strip_prefix("in ")
        .or(rest.strip_prefix("after "))
        .unwrap_or(rest);
    let token = rest.split_whitespace().next()?.trim_end_matches(['.', ',']);
    parse_duration(token)
}

/// Go/protobuf durations: "0.5s", "539.477544ms", "1h2m3s", "30s".
fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s.trim();
    let mut any = false;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..end)?.parse().ok()?;
        let tail = rest.get(end..)?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let factor = match tail.get(..unit_len)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * factor;
        any = true;
        rest = tail.get(unit_len..)?;
    }
    any.then_some(total)
}

/// The HTTP status a Gemini client gets: Anthropic's 529 is not a Google status, so capacity
/// failures answer 503 `UNAVAILABLE` as Gemini itself does.
pub fn client_status(err: &ApiError) -> u16 {
    if err.status == 529 { 503 } else { err.status }
}

/// The canonical RPC status name for an HTTP status (E3).
pub fn canonical_status(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 | 402 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 | 529 => "UNAVAILABLE",
        408 | 504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

pub(super) fn error_body(err: &ApiError) -> Value {
    let mut details = Vec::new();
    if let Some(code) = &err.code {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": code,
            "domain": "llm-gateway",
        }));
    }
    if let Some(secs) = err.retry_after_secs {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{secs}s"),
        }));
    }
    let mut error = json!({
        "code": client_status(err),
        "message": err.message,
        "status": canonical_status(client_status(err)),
    });
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    json!({ "error": error })
}

/// The body for a Gemini client; the HTTP status is [`client_status`].
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    error_body(err).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_assist_429s() {
        let body = br#"{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 0s.","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{"uiMessage":"true","model":"gemini-2.5-pro","quotaResetDelay":"539.477544ms","quotaResetTimeStamp":"2025-10-20T19:14:08Z"}},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.539477544s"}]}}"#;
        let e = decode_error(429, body);
        assert_eq!(e.retry_after_secs, Some(1));
        assert_eq!(e.should_retry, None);

        let body = br#"[{"error":{"code":429,"message":"Quota exceeded. Please retry in 3600s.","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}]"#;
        let e = decode_error(429, body);
        assert_eq!(e.should_retry, Some(false));
        assert_eq!(e.retry_after_secs, Some(3600));
        assert!(e.message.contains("daily quota"), "{}", e.message);

        let body = br#"{"error":{"code":429,"message":"Quota used.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED"}]}}"#;
        assert_eq!(decode_error(429, body).should_retry, Some(false));

        let inner = r#"{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        let outer = json!({"error": {"code": 429, "message": inner}}).to_string();
        let e = decode_error(429, outer.as_bytes());
        assert_eq!(e.retry_after_secs, Some(7));
    }

    /// Fuzz finding: a context-length error whose body is not the RPC shape (plain text, or
    /// JSON without an `error` object) was not marked `context_length_exceeded` (nor read for a
    /// retry delay), so it read differently once the gateway had written it as an RPC body.
    #[test]
    fn context_length_is_marked_whatever_the_body() {
        let minimised = br#""The input token count (1203456) exceeds the maximum number of tokens allowed (1048576).""#;
        let text = b"The input token count (1203456) exceeds the maximum number of tokens allowed (1048576).";
        for body in [&minimised[..], &text[..]] {
            let err = decode_error(500, body);
            assert_eq!(err.code.as_deref(), Some("context_length_exceeded"));
            assert_eq!(err.kind, ErrorKind::InvalidRequest);
            let encoded = encode_error(&err);
            assert_eq!(encode_error(&decode_error(500, &encoded)), encoded);
        }
        let err = decode_error(429, b"Quota exceeded, please retry in 23s.");
        assert_eq!(err.retry_after_secs, Some(23));
    }

    /// Fuzz finding: `{"error": ""}` kept an empty message, which the RPC body it was written
    /// as reads as the status name. Minimised input.
    #[test]
    fn an_empty_error_string_gets_the_status_as_its_message() {
        let err = decode_error(400, br#"{"error":""}"#);
        assert_eq!(err.message, "upstream returned HTTP 400");
        let body = encode_error(&err);
        assert_eq!(encode_error(&decode_error(400, &body)), body);
    }

    /// Fuzz finding: an RPC body with neither message nor status name kept the empty status
    /// name as its message, which reads as the canonical name once written. Minimised input.
    #[test]
    fn an_empty_message_and_status_name_get_the_http_status() {
        let err = decode_error(400, br#"{"error":{"status":""}}"#);
        assert_eq!(err.message, "upstream returned HTTP 400");
        let body = encode_error(&err);
        assert_eq!(encode_error(&decode_error(400, &body)), body);
    }

    #[test]
    fn anthropic_overloaded_529_answers_503_unavailable() {
        let err = ApiError::new(529, ErrorKind::Overloaded, "Overloaded");
        assert_eq!(client_status(&err), 503);
        let body: Value = serde_json::from_slice(&encode_error(&err)).unwrap();
        assert_eq!(body["error"]["code"], 503);
        assert_eq!(body["error"]["status"], "UNAVAILABLE");
    }

    #[test]
    fn quota_error_with_retry_info() {
        let body = json!({"error": {"code": 429, "message": "You have exhausted your capacity on this model.",
            "status": "RESOURCE_EXHAUSTED", "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                 "domain": "cloudcode-pa.googleapis.com", "metadata": {"quotaResetDelay": "539.477544ms"}},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}});
        let err = decode_error(429, body.to_string().as_bytes());
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.code.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
        assert_eq!(err.retry_after_secs, Some(3));
        assert_eq!(err.should_retry, None);
        assert_eq!(
            err.message,
            "You have exhausted your capacity on this model."
        );
    }

    #[test]
    fn wrapped_in_array_daily_quota_and_reset_delay() {
        let body = json!([{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
                 "metadata": {"quotaResetDelay": "1h2m3s"}}]}}]);
        let err = decode_error(429, body.to_string().as_bytes());
        assert_eq!(err.should_retry, Some(false));
        assert_eq!(err.retry_after_secs, Some(3723));
        assert_eq!(err.code.as_deref(), Some("QUOTA_EXHAUSTED"));
    }

    #[test]
    fn non_json_context_length_and_message_delays() {
        let err = decode_error(502, b"<html>Bad Gateway</html>");
        assert_eq!((err.status, err.kind), (502, ErrorKind::BadGateway));
        assert_eq!(err.message, "<html>Bad Gateway</html>");
        assert_eq!(decode_error(500, b"").message, "upstream returned HTTP 500");

        let body = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}});
        let err = decode_error(400, body.to_string().as_bytes());
        assert!(err.message.starts_with("The input token count (1200000)"));
        assert_eq!(err.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(err.kind, ErrorKind::InvalidRequest);

        let body = json!({"error": {"code": 429, "message": "Resource exhausted. Please retry in 23.4s."}});
        assert_eq!(
            decode_error(429, body.to_string().as_bytes()).retry_after_secs,
            Some(24)
        );
        let body = json!({"error": {"code": 503, "message": "The model is overloaded."}});
        assert_eq!(
            decode_error(503, body.to_string().as_bytes()).kind,
            ErrorKind::Overloaded
        );
    }

    #[test]
    fn encodes_rpc_shape() {
        let mut err = ApiError::new(429, ErrorKind::RateLimit, "slow down");
        err.retry_after_secs = Some(7);
        let v: Value = serde_json::from_slice(&encode_error(&err)).unwrap();
        assert_eq!(v["error"]["code"], 429);
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(v["error"]["details"][0]["retryDelay"], "7s");
        let v: Value =
            serde_json::from_slice(&encode_error(&ApiError::invalid_request("bad"))).unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
        );
        for (s, name) in [
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ] {
            assert_eq!(canonical_status(s), name);
        }
    }
}
