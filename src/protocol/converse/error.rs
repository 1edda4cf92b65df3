//! Bedrock error replies and stream exceptions -> [`ApiError`] (reference §1.5).
//!
//! The error's name is in the `x-amzn-ErrorType` header (`ValidationException:http://...`),
//! or in the body's `__type` / `code`; the body's `message` is AWS's wording, kept as it is
//! because clients and users match on it. Stream exceptions use camelCase names
//! (`throttlingException`); both spellings map alike.

use super::wire::ErrorBody;
use crate::protocol::ir::{ApiError, ErrorKind};

/// Seconds a client is told to wait after a throttle when AWS names no delay.
pub const THROTTLE_RETRY_SECS: u64 = 5;

/// What the HTTP layer knows about a failed Bedrock call beyond its status and body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorContext<'a> {
    /// The `x-amzn-ErrorType` header.
    pub error_type: Option<&'a str>,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<&'a str>,
    /// The model id and region, for the access hint.
    pub model: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// An error reply with only status and body (the codec contract's form).
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    decode_error_with(status, body, &ErrorContext::default())
}

/// An error reply with the headers and request facts that refine it.
pub fn decode_error_with(status: u16, body: &[u8], ctx: &ErrorContext<'_>) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let name = ctx
        .error_type
        .map(error_name)
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|b| b.kind.as_deref().or(b.code.as_deref()))
                .map(error_name)
        })
        .unwrap_or_default();
    let message = match parsed.as_ref().and_then(|b| b.message.clone()) {
        Some(m) if !m.is_empty() => m,
        _ => {
            let text = String::from_utf8_lossy(body).trim().to_owned();
            if text.is_empty() {
                format!("Bedrock answered HTTP {status}")
            } else {
                text
            }
        }
    };
    let retry_after = ctx.retry_after.and_then(|s| s.trim().parse::<u64>().ok());
    classify(status, name, message, retry_after, ctx)
}

/// A stream `exception` frame: its `:exception-type` and JSON payload.
pub fn decode_exception(exception_type: &str, payload: &[u8]) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(payload).ok();
    let message = parsed
        .and_then(|b| b.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Bedrock stream failed: {exception_type}"));
    classify(
        0,
        error_name(exception_type),
        message,
        None,
        &ErrorContext::default(),
    )
}

/// AWS's words for a prompt that does not fit the model's context (a `ValidationException`:
/// "Input is too long for requested model.", "too many input tokens", Converse's
/// `model_context_window_exceeded`).
fn is_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("input is too long")
        || m.contains("too many input tokens")
        || m.contains("prompt is too long")
        || m.contains("context window")
}

/// `ValidationException:http://internal...` or `aws#ValidationException` -> `ValidationException`.
fn error_name(raw: &str) -> &str {
    let head = raw.split(':').next().unwrap_or(raw);
    head.rsplit('#').next().unwrap_or(head).trim()
}

fn classify(
    status: u16,
    name: &str,
    message: String,
    retry_after: Option<u64>,
    ctx: &ErrorContext<'_>,
) -> ApiError {
    // Stream exceptions are camelCase; compare without the first letter's case.
    let is = |n: &str| {
        name.len() == n.len()
            && name.chars().zip(n.chars()).enumerate().all(|(i, (a, b))| {
                if i == 0 {
                    a.eq_ignore_ascii_case(&b)
                } else {
                    a == b
                }
            })
    };
    let (status, kind, retry): (u16, ErrorKind, Option<bool>) =
        if is("ThrottlingException") || is("ModelNotReadyException") {
            (429, ErrorKind::RateLimit, Some(true))
        } else if is("ServiceQuotaExceededException") {
            // A quota retrying cannot fix: never retried, never failed over as a 429.
            (400, ErrorKind::InvalidRequest, Some(false))
        } else if is("ValidationException") || is("ConflictException") {
            (400, ErrorKind::InvalidRequest, Some(false))
        } else if is("AccessDeniedException") {
            (403, ErrorKind::Permission, Some(false))
        } else if is("ResourceNotFoundException") {
            (404, ErrorKind::NotFound, Some(false))
        } else if is("ModelTimeoutException") {
            (408, ErrorKind::Timeout, Some(true))
        } else if is("ModelErrorException") || is("ModelStreamErrorException") {
            (502, ErrorKind::BadGateway, None)
        } else if is("InternalServerException") {
            (500, ErrorKind::Api, None)
        } else if is("ServiceUnavailableException") {
            (503, ErrorKind::Unavailable, Some(true))
        } else if is("UnrecognizedClientException")
            || is("InvalidSignatureException")
            || is("ExpiredTokenException")
            || is("IncompleteSignatureException")
            || is("MissingAuthenticationTokenException")
            || is("InvalidClientTokenId")
            || is("SignatureDoesNotMatch")
        {
            (401, ErrorKind::Authentication, Some(false))
        } else {
            let status = if status == 0 { 502 } else { status };
            (status, ErrorKind::for_status(status), None)
        };
    let message = if kind == ErrorKind::Permission {
        access_hint(message, ctx)
    } else if kind == ErrorKind::InvalidRequest && is_model_id_refusal(&message) {
        model_id_hint(message, ctx)
    } else if kind == ErrorKind::Authentication && is_clock_skew(&message) {
        format!(
            "{message} (this computer's clock differs from AWS's by more than 5 minutes: \
             correct the system time)"
        )
    } else {
        message
    };
    let overflow = kind == ErrorKind::InvalidRequest && is_context_overflow(&message);
    let mut err = ApiError::new(status, kind, message);
    err.code = if overflow {
        // The code every client dialect reads as "compact and retry" (Anthropic rewords it as
        // `prompt is too long`, Responses answers `context_length_exceeded`).
        Some("context_length_exceeded".to_owned())
    } else {
        (!name.is_empty()).then(|| name.to_owned())
    };
    err.should_retry = retry;
    if status == 429 {
        err.retry_after_secs = Some(retry_after.unwrap_or(THROTTLE_RETRY_SECS));
    }
    err
}

fn access_hint(message: String, ctx: &ErrorContext<'_>) -> String {
    let model = ctx.model.unwrap_or("the model");
    let region = ctx.region.unwrap_or("the upstream's region");
    format!(
        "{message} (hint: enable model access for {model} in {region} in the Bedrock console, \
         and check that the credentials' IAM policy allows bedrock:InvokeModel)"
    )
}

/// Whether a 400 says the model id itself is wrong: unknown to Bedrock in that region, or a
/// model that is only callable through an inference profile.
fn is_model_id_refusal(message: &str) -> bool {
    message.contains("model identifier is invalid")
        || message.contains("on-demand throughput isn't supported")
}

fn model_id_hint(message: String, ctx: &ErrorContext<'_>) -> String {
    let model = ctx.model.unwrap_or("the model");
    let region = ctx.region.unwrap_or("the upstream's region");
    let profiled = model.starts_with("arn:")
        || ["us.", "eu.", "apac.", "global.", "jp.", "au.", "us-gov."]
            .iter()
            .any(|p| model.starts_with(p));
    if profiled {
        return format!(
            "{message} (hint: `{model}` is not a model id Bedrock serves in {region}; \
             `llm-gateway models` lists what the upstream found)"
        );
    }
    format!(
        "{message} (hint: `{model}` is not a model id Bedrock serves on demand in {region}; \
         most Claude models must be called through an inference profile id such as \
         `us.{model}` (or `eu.`, `apac.`, `global.`); `llm-gateway models` lists what the \
         upstream found)"
    )
}

/// Whether an authentication failure is a clock skew: SigV4 signatures are valid for 5
/// minutes around AWS's time (`Signature expired: ... is now earlier than ...`, `Signature not
/// yet current`).
pub fn is_clock_skew(message: &str) -> bool {
    message.contains("Signature expired") || message.contains("Signature not yet current")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_exception_maps_to_its_status() {
        let ctx = |t| ErrorContext {
            error_type: Some(t),
            ..ErrorContext::default()
        };
        let e = decode_error_with(
            429,
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            &ctx("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        );
        assert_eq!((e.status, e.kind), (429, ErrorKind::RateLimit));
        assert_eq!(e.retry_after_secs, Some(THROTTLE_RETRY_SECS));
        assert_eq!(
            e.message,
            "Too many requests, please wait before trying again."
        );
        assert_eq!(e.code.as_deref(), Some("ThrottlingException"));

        let e = decode_error_with(
            400,
            br#"{"message":"Quota exceeded"}"#,
            &ctx("ServiceQuotaExceededException"),
        );
        assert_eq!((e.status, e.should_retry), (400, Some(false)));
        let e = decode_error(400, br#"{"message":"The model returned the following errors: bad","__type":"com.amazon#ValidationException"}"#);
        assert_eq!((e.status, e.kind), (400, ErrorKind::InvalidRequest));
        assert_eq!(e.message, "The model returned the following errors: bad");
        let e = decode_error_with(
            429,
            br#"{"message":"not ready"}"#,
            &ctx("ModelNotReadyException"),
        );
        assert_eq!((e.status, e.kind), (429, ErrorKind::RateLimit));
        let e = decode_error_with(
            403,
            br#"{"message":"You don't have access to the model with the specified model ID."}"#,
            &ErrorContext {
                error_type: Some("AccessDeniedException"),
                model: Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
                region: Some("us-west-2"),
                retry_after: None,
            },
        );
        assert_eq!((e.status, e.kind), (403, ErrorKind::Permission));
        assert!(e.message.contains(
            "enable model access for us.anthropic.claude-sonnet-4-5-20250929-v1:0 in us-west-2"
        ));
        for refusal in [
            "The provided model identifier is invalid.",
            "Invocation of model ID anthropic.claude-x with on-demand throughput isn't supported. \
             Retry your request with the ID or ARN of an inference profile.",
        ] {
            let e = decode_error_with(
                400,
                serde_json::json!({ "message": refusal })
                    .to_string()
                    .as_bytes(),
                &ErrorContext {
                    error_type: Some("ValidationException"),
                    model: Some("anthropic.claude-x"),
                    region: Some("eu-west-1"),
                    retry_after: None,
                },
            );
            assert_eq!(e.status, 400);
            assert!(e.message.starts_with(refusal), "{}", e.message);
            assert!(
                e.message.contains(
                    "`anthropic.claude-x` is not a model id Bedrock serves on demand in eu-west-1"
                ) && e.message.contains("`us.anthropic.claude-x`"),
                "{}",
                e.message
            );
        }
        let e = decode_error_with(503, b"", &ctx("ServiceUnavailableException"));
        assert_eq!((e.status, e.kind), (503, ErrorKind::Unavailable));
        assert_eq!(e.message, "Bedrock answered HTTP 503");
    }

    #[test]
    fn retry_after_header_and_clock_skew() {
        let e = decode_error_with(
            429,
            br#"{"message":"slow down"}"#,
            &ErrorContext {
                error_type: Some("ThrottlingException"),
                retry_after: Some("12"),
                ..ErrorContext::default()
            },
        );
        assert_eq!(e.retry_after_secs, Some(12));
        let e = decode_error(
            403,
            br#"{"message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)","__type":"InvalidSignatureException"}"#,
        );
        assert_eq!((e.status, e.kind), (401, ErrorKind::Authentication));
        assert!(e.message.contains("clock"), "{}", e.message);
    }

    #[test]
    fn a_prompt_too_long_for_the_model_is_a_context_length_error() {
        let e = decode_error_with(
            400,
            br#"{"message":"Input is too long for requested model."}"#,
            &ErrorContext {
                error_type: Some("ValidationException"),
                ..ErrorContext::default()
            },
        );
        assert_eq!((e.status, e.kind), (400, ErrorKind::InvalidRequest));
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(e.message, "Input is too long for requested model.");
        let other = decode_error(
            400,
            br#"{"message":"bad input","__type":"ValidationException"}"#,
        );
        assert_eq!(other.code.as_deref(), Some("ValidationException"));
    }

    #[test]
    fn stream_exceptions_are_camel_case() {
        let e = decode_exception("throttlingException", br#"{"message":"slow","p":"abc"}"#);
        assert_eq!((e.status, e.kind), (429, ErrorKind::RateLimit));
        let e = decode_exception(
            "modelStreamErrorException",
            br#"{"message":"boom","originalStatusCode":500}"#,
        );
        assert_eq!(
            (e.status, e.kind, e.message.as_str()),
            (502, ErrorKind::BadGateway, "boom")
        );
        let e = decode_exception("somethingNew", b"not json");
        assert_eq!(e.status, 502);
    }
}
