//! Reading an upstream's reply back into the IR: which codec, the Code Assist envelope to take
//! off (whole replies and every SSE event), tool names to map back to the client's, and error
//! bodies with their retry hints (`retry-after`; Google's RetryInfo and daily quotas are read
//! by the Gemini codec's error reader).

use http::HeaderMap;

use super::plain_text;
use crate::protocol::codec::CodecError;
use crate::protocol::converse;
use crate::protocol::dialect::{self as codec, AnyStreamDecoder};
use crate::protocol::gemini;
use crate::protocol::ir::{self, ApiError, Dialect};
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::StreamEvent;
use crate::protocol::{openai, responses};
use crate::upstream::code_assist::ResponseEnvelope;
use crate::upstream::kinds::ErrorQuirks;

/// Tool names the encoder rewrote, per upstream dialect, to restore in replies.
#[derive(Debug, Clone, Default)]
pub enum ReplyNames {
    #[default]
    None,
    OpenAi(openai::ToolNames),
    Gemini(gemini::ToolNames),
    /// AWS Bedrock's Converse: no client dialect, so this also says which codec reads replies.
    Converse(Box<ConverseReply>),
}

/// What reading a Bedrock reply needs from its request.
#[derive(Debug, Clone, Default)]
pub struct ConverseReply {
    /// Tool names and ids the encoder rewrote to Bedrock's rules.
    pub map: converse::ToolMap,
    /// Where the credential came from, for the message when AWS refuses it.
    pub source: String,
    pub model: String,
    pub region: String,
}

/// How to read what an upstream sends back.
#[derive(Debug, Clone)]
pub struct ReplyFormat {
    pub dialect: Dialect,
    /// Google Code Assist: replies (and each SSE event) are `{"response": ..., "traceId"}`.
    pub code_assist: bool,
    /// How the kind's error replies differ from the dialect's (Azure's content filter).
    pub errors: ErrorQuirks,
    pub names: ReplyNames,
}

impl ReplyFormat {
    /// The id a reply without its own message id takes from the response headers: AWS's
    /// `x-amzn-RequestId` for Bedrock, `None` for every other upstream (and no header read).
    pub fn message_id(&self, headers: &http::HeaderMap) -> Option<String> {
        if !matches!(self.names, ReplyNames::Converse(_)) {
            return None;
        }
        headers
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// A Bedrock ConverseStream body's reader (binary event-stream frames), or `None` for
    /// every SSE upstream. `message_id`: AWS's `x-amzn-RequestId`.
    pub fn event_stream(&self, message_id: &str) -> Option<crate::upstream::bedrock::StreamBody> {
        let ReplyNames::Converse(c) = &self.names else {
            return None;
        };
        Some(crate::upstream::bedrock::StreamBody::new(
            converse::StreamDecoder::new()
                .with_tool_map(c.map.clone())
                .with_message_id(message_id),
        ))
    }

    /// The stream decoder for this reply.
    pub fn decoder(&self) -> ReplyDecoder {
        let inner = match (&self.names, self.dialect) {
            (ReplyNames::OpenAi(names), Dialect::OpenAi) => {
                AnyStreamDecoder::OpenAi(openai::StreamDecoder::with_tool_names(names.clone()))
            }
            (ReplyNames::OpenAi(names), Dialect::Responses) => AnyStreamDecoder::Responses(
                responses::StreamDecoder::with_tool_names(names.clone()),
            ),
            (_, d) => AnyStreamDecoder::new(d),
        };
        let names = match &self.names {
            ReplyNames::Gemini(n) if !n.is_empty() => Some(n.clone()),
            _ => None,
        };
        ReplyDecoder {
            inner,
            code_assist: self.code_assist,
            gemini_names: names,
            format: self.clone(),
        }
    }

    /// A whole (non-streamed) reply.
    pub fn decode_response(&self, body: &[u8]) -> Result<ir::Response, CodecError> {
        if let ReplyNames::Converse(c) = &self.names {
            let mut resp = converse::decode_response(body)?;
            c.map.restore(&mut resp);
            return Ok(resp);
        }
        let mut resp = match unwrap_envelope(self.code_assist, body)? {
            Some(inner) => gemini::response::from_wire(inner)?,
            None => codec::decode_response(self.dialect, body)?,
        };
        match &self.names {
            ReplyNames::OpenAi(names) => names.restore(&mut resp),
            ReplyNames::Gemini(names) => names.restore_response(&mut resp),
            ReplyNames::None | ReplyNames::Converse(_) => {}
        }
        Ok(resp)
    }

    /// How to read the replies of a same-protocol upstream on the fast path.
    pub fn plain(dialect: Dialect) -> ReplyFormat {
        ReplyFormat {
            dialect,
            code_assist: false,
            errors: ErrorQuirks::None,
            names: ReplyNames::None,
        }
    }

    /// An error reply, with the retry hints the body or headers give. A body that is not JSON
    /// (a proxy's HTML page) is quoted short, without its markup.
    pub fn decode_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
        if let ReplyNames::Converse(c) = &self.names {
            return converse_error(c, status, headers, body);
        }
        let mut err = codec::decode_error(self.dialect, status, body);
        if !body.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
            let text = plain_text::gist(body);
            err.message = if text.is_empty() {
                format!("upstream returned HTTP {status} with a body that is not JSON")
            } else {
                format!("upstream returned HTTP {status}: \"{text}\"")
            };
        }
        if err.retry_after_secs.is_none() {
            err.retry_after_secs = retry_after(headers);
        }
        if self.errors == ErrorQuirks::Azure {
            crate::upstream::kinds::azure::read_error(status, body, &mut err);
        }
        if let Some(v) = headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
            match v.trim() {
                "false" => err.should_retry = Some(false),
                "true" => err.should_retry = Some(true),
                _ => {}
            }
        }
        err
    }
}

/// A Bedrock error reply, read with its headers; AWS refusing the credential (401, or 403 on an
/// authentication failure) names where the credential came from.
fn converse_error(c: &ConverseReply, status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let error_type = header("x-amzn-errortype");
    let ctx = converse::ErrorContext {
        error_type,
        retry_after: header("retry-after"),
        model: Some(&c.model),
        region: Some(&c.region),
    };
    let mut err = converse::decode_error_with(status, body, &ctx);
    let auth_refused = status == 401
        || (status == 403
            && error_type.is_some_and(|t| {
                t.starts_with("UnrecognizedClientException")
                    || t.starts_with("InvalidSignatureException")
                    || t.starts_with("ExpiredTokenException")
            }));
    if auth_refused && !c.source.is_empty() {
        err.message =
            crate::upstream::bedrock::credentials::rejected_message(&c.source, &err.message);
    }
    if err.retry_after_secs.is_none() {
        err.retry_after_secs = retry_after(headers);
    }
    err
}

/// The `response` of a Code Assist envelope; `None` when the body is not one (an error or a
/// bare Gemini reply).
fn unwrap_envelope(
    code_assist: bool,
    body: &[u8],
) -> Result<Option<gemini::wire::GenerateContentResponse>, CodecError> {
    if !code_assist {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| CodecError::from_json(&e, "Code Assist reply"))?;
    if v.get("response").is_none() {
        return Ok(None);
    }
    let env: ResponseEnvelope =
        serde_json::from_value(v).map_err(|e| CodecError::from_json(&e, "Code Assist reply"))?;
    Ok(env.response)
}

/// `retry-after` (seconds) or `retry-after-ms`.
pub fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
    };
    num("retry-after")
        .or_else(|| num("retry-after-ms").map(|ms| ms / 1000.0))
        .map(|s| s.ceil() as u64)
}

/// An upstream's SSE events -> IR stream events, through the envelope when there is one.
#[derive(Debug)]
pub struct ReplyDecoder {
    inner: AnyStreamDecoder,
    code_assist: bool,
    gemini_names: Option<gemini::ToolNames>,
    /// For an upstream that answers a stream request with one whole JSON reply.
    format: ReplyFormat,
}

impl ReplyDecoder {
    /// A whole JSON reply where a stream was asked for (some OpenAI-compatible servers ignore
    /// `stream`): the reply, or the error it holds (a 200 carrying `{"error": ...}`), or a 502
    /// naming what could not be read.
    pub fn decode_whole(&self, body: &[u8]) -> Result<ir::Response, ApiError> {
        if matches!(self.format.names, ReplyNames::Converse(_)) {
            return self.format.decode_response(body).map_err(|e| {
                ApiError::new(
                    502,
                    ir::ErrorKind::BadGateway,
                    format!("the upstream sent a reply the gateway cannot read: {e}"),
                )
            });
        }
        // First: a lenient decoder (Anthropic's) takes an error object for an empty reply.
        let has_error = serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null()));
        if has_error {
            return Err(codec::decode_error(self.format.dialect, 502, body));
        }
        self.format.decode_response(body).map_err(|e| {
            ApiError::new(
                502,
                ir::ErrorKind::BadGateway,
                format!("the upstream sent a reply the gateway cannot read: {e}"),
            )
        })
    }

    pub fn feed(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let from = out.len();
        let data = ev.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        match (&mut self.inner, self.code_assist) {
            (AnyStreamDecoder::Gemini(d), true) => {
                match unwrap_envelope(true, data.as_bytes())? {
                    Some(chunk) => d.feed_response(chunk, out),
                    // An error object (or a bare chunk): the Gemini decoder reads both.
                    None => d.feed(ev, out)?,
                }
            }
            (inner, _) => inner.feed(ev, out)?,
        }
        self.restore(&mut out[from..]);
        Ok(())
    }

    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let from = out.len();
        self.inner.finish(out)?;
        self.restore(&mut out[from..]);
        Ok(())
    }

    fn restore(&self, events: &mut [StreamEvent]) {
        if let Some(names) = &self.gemini_names {
            events.iter_mut().for_each(|e| names.restore_event(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrock_refusing_a_credential_names_its_source() {
        let format = ReplyFormat {
            dialect: Dialect::Anthropic,
            code_assist: false,
            errors: ErrorQuirks::None,
            names: ReplyNames::Converse(Box::new(ConverseReply {
                source: "the profile `work`".into(),
                model: "m".into(),
                region: "us-east-1".into(),
                ..ConverseReply::default()
            })),
        };
        let mut h = HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            "UnrecognizedClientException:http://internal.amazon.com/"
                .parse()
                .unwrap(),
        );
        let e = format.decode_error(
            403,
            &h,
            br#"{"message":"The security token included in the request is invalid."}"#,
        );
        assert!(e.message.contains("the profile `work`"), "{}", e.message);
        assert!(e.message.contains("security token"), "{}", e.message);
        let throttled = format.decode_error(429, &HeaderMap::new(), br#"{"message":"slow down"}"#);
        assert_eq!(throttled.status, 429);
        assert!(!throttled.message.contains("profile"));
    }

    #[test]
    fn retry_hints_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(7));
        let f = ReplyFormat {
            dialect: Dialect::OpenAi,
            code_assist: false,
            errors: ErrorQuirks::None,
            names: ReplyNames::None,
        };
        h.insert("x-should-retry", "false".parse().unwrap());
        let e = f.decode_error(429, &h, br#"{"error":{"message":"slow"}}"#);
        assert_eq!(e.retry_after_secs, Some(7));
        assert_eq!(e.should_retry, Some(false));
    }

    #[test]
    fn an_html_error_page_is_quoted_short() {
        let page = format!(
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>{}</body></html>",
            "<p>padding</p>".repeat(1000)
        );
        for d in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
            let e = ReplyFormat::plain(d).decode_error(502, &HeaderMap::new(), page.as_bytes());
            assert_eq!(e.status, 502);
            assert!(
                e.message.starts_with(
                    "upstream returned HTTP 502: \"502 Bad Gateway 502 Bad Gateway padding"
                ),
                "{d:?}: {}",
                e.message
            );
            assert!(!e.message.contains('<'), "{}", e.message);
            assert!(e.message.chars().count() < 260, "{}", e.message);
        }
        // JSON bodies keep their own message.
        let e = ReplyFormat::plain(Dialect::OpenAi).decode_error(
            503,
            &HeaderMap::new(),
            br#"{"error":{"message":"<b>down</b>"}}"#,
        );
        assert_eq!(e.message, "<b>down</b>");
    }

    #[test]
    fn an_error_in_place_of_a_whole_reply_is_an_error_in_every_dialect() {
        for (d, body) in [
            (
                Dialect::Anthropic,
                &br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#[..],
            ),
            (
                Dialect::OpenAi,
                br#"{"error":{"message":"busy","type":"server_error"}}"#,
            ),
            (
                Dialect::Gemini,
                br#"{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}"#,
            ),
        ] {
            let e = ReplyFormat::plain(d)
                .decoder()
                .decode_whole(body)
                .unwrap_err();
            assert_eq!(e.message, "busy", "{d:?}");
        }
    }

    #[test]
    fn a_spent_daily_quota_says_so() {
        let f = ReplyFormat {
            dialect: Dialect::Gemini,
            code_assist: true,
            errors: ErrorQuirks::None,
            names: ReplyNames::None,
        };
        let body = br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel"}]}]}}"#;
        let e = f.decode_error(429, &HeaderMap::new(), body);
        assert_eq!(e.should_retry, Some(false));
        assert!(e.message.contains("daily quota"), "{}", e.message);
        let body = br#"{"error":{"code":429,"message":"Slow down.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}}"#;
        let e = f.decode_error(429, &HeaderMap::new(), body);
        assert_eq!(e.message, "Slow down.");
        assert_eq!(e.retry_after_secs, Some(3));
    }
}
