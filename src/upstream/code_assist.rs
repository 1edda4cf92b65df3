//! What a gemini-cli upstream needs to call Google's Code Assist API (`cloudcode-pa`) the way
//! Gemini CLI does: method URLs (`{api}/v1internal:{method}`, `?alt=sse` for streams), the
//! request/response envelope around a Gemini `generateContent` body, headers, model names, and
//! the reading of Google RPC errors, including the retry delay and daily-quota signal of a 429.
//! Pure functions and types: no I/O here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::gemini::wire::GenerateContentResponse;

pub const API_VERSION: &str = "v1internal";
/// The Gemini CLI version whose User-Agent we present.
pub const CLI_VERSION: &str = "0.34.0";

/// The models a gemini-cli upstream lists (gemini-cli `config/models.ts`).
pub const MODELS: [&str; 9] = [
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3.1-pro-preview",
    "gemini-3-flash-preview",
    "gemini-3-flash",
    "gemini-3.5-flash",
    "gemini-3.1-flash-lite",
];

/// `https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse`.
pub fn method_url(api: &str, method: &str, stream: bool) -> String {
    let mut u = format!("{}/{API_VERSION}:{method}", api.trim_end_matches('/'));
    if stream {
        u.push_str("?alt=sse");
    }
    u
}

/// A long-running operation, fetched with GET.
pub fn operation_url(api: &str, name: &str) -> String {
    format!(
        "{}/{API_VERSION}/{}",
        api.trim_end_matches('/'),
        name.trim_start_matches('/')
    )
}

/// The model name Code Assist expects: no `models/` prefix, and `gemini-3.5-flash` as
/// `gemini-3-flash` (some backends refuse the former; gemini-cli `CCPA_AI_MODEL_MAPPINGS`).
pub fn map_model(model: &str) -> String {
    let m = model.strip_prefix("models/").unwrap_or(model);
    match m {
        "gemini-3.5-flash" => "gemini-3-flash".into(),
        other => other.into(),
    }
}

/// This machine's OS and CPU as Node names them (`process.platform`, `process.arch`): the
/// Node CLIs whose User-Agent the gateway sends (Gemini CLI, Qwen Code) put them there.
pub fn node_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        other => other,
    };
    (os, arch)
}

/// `GeminiCLI/<version>/<model> (<os>; <arch>; terminal)`, with Node's platform names.
pub fn user_agent(model: &str) -> String {
    let (os, arch) = node_platform();
    format!("GeminiCLI/{CLI_VERSION}/{model} ({os}; {arch}; terminal)")
}

/// The request envelope: `{model, project, user_prompt_id?, request: <generateContent body>}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prompt_id: Option<String>,
    pub request: T,
}

impl<T> Envelope<T> {
    pub fn new(model: &str, project: Option<&str>, request: T) -> Envelope<T> {
        Envelope {
            model: map_model(model),
            project: project.map(str::to_string),
            user_prompt_id: None,
            request,
        }
    }
}

/// The response envelope (also each SSE event's data): the Gemini response under `response`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEnvelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<GenerateContentResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `google.rpc.Status`: `{code, message, status, details}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RpcStatus {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl RpcStatus {
    pub fn describe(&self) -> String {
        match (&self.status, &self.message) {
            (Some(s), Some(m)) => format!("{s}: {m}"),
            (None, Some(m)) => m.clone(),
            (Some(s), None) => s.clone(),
            (None, None) => "no details".into(),
        }
    }
}

/// One `details[]` entry; which fields are set depends on `@type`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(rename = "@type", default)]
    pub type_url: String,
    /// ErrorInfo.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// RetryInfo.
    #[serde(default)]
    pub retry_delay: Option<String>,
    /// QuotaFailure.
    #[serde(default)]
    pub violations: Vec<QuotaViolation>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaViolation {
    #[serde(default)]
    pub quota_id: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A Google API error body: `{"error": Status}`, sometimes inside a JSON array, sometimes with
/// another such body stringified in `message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GoogleError {
    pub error: RpcStatus,
}

impl GoogleError {
    pub fn parse(body: &[u8]) -> Option<GoogleError> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let v = match v {
            serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            other => other,
        };
        let mut g: GoogleError = serde_json::from_value(v).ok()?;
        // A stringified inner error carries the real details.
        if let Some(inner) = g
            .error
            .message
            .as_deref()
            .filter(|m| m.trim_start().starts_with('{'))
            .and_then(|m| GoogleError::parse(m.as_bytes()))
        {
            g = inner;
        }
        Some(g)
    }

    pub fn describe(&self) -> String {
        self.error.describe()
    }
}

/// What a 429 says about waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaHint {
    /// How long to wait before retrying, when Google says.
    pub retry_after: Option<Duration>,
    /// The per-day quota is used up (or the wait is too long to be worth retrying).
    pub daily: bool,
    /// A QuotaFailure names a per-day quota: the client is told its daily quota is spent.
    pub per_day: bool,
}

/// Beyond this a wait is not worth retrying (gemini-cli `MAX_RETRYABLE_DELAY_SECONDS`).
const MAX_RETRYABLE: Duration = Duration::from_secs(300);

/// Reads a 429 body: RetryInfo `retryDelay`, else ErrorInfo `metadata.quotaResetDelay`, else
/// "retry in Ns" / "reset after Ns" in the message; daily when a QuotaFailure's `quotaId` names
/// a per-day quota, the reason is `QUOTA_EXHAUSTED`, or the wait exceeds five minutes.
pub fn quota_hint(body: &[u8]) -> QuotaHint {
    let Some(g) = GoogleError::parse(body) else {
        return QuotaHint::default();
    };
    let details = &g.error.details;
    let retry_after = details
        .iter()
        .find_map(|d| d.retry_delay.as_deref().and_then(parse_google_duration))
        .or_else(|| {
            details.iter().find_map(|d| {
                d.metadata
                    .get("quotaResetDelay")
                    .and_then(|s| parse_google_duration(s))
            })
        })
        .or_else(|| g.error.message.as_deref().and_then(delay_in_message));
    let per_day = details.iter().any(|d| {
        d.violations.iter().any(|v| {
            v.quota_id
                .as_deref()
                .is_some_and(|q| q.contains("PerDay") || q.contains("Daily"))
        })
    });
    let exhausted = details
        .iter()
        .any(|d| d.reason.as_deref() == Some("QUOTA_EXHAUSTED"));
    let too_long = retry_after.is_some_and(|d| d > MAX_RETRYABLE);
    QuotaHint {
        retry_after,
        daily: per_day || exhausted || too_long,
        per_day,
    }
}

/// Google durations: `"0.539477544s"`, `"539.477544ms"`, `"30s"`, `"1h2m3s"`.
pub fn parse_google_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total))
}

/// "Please retry in 12.5s." / "Your quota will reset after 39s." / "after 1h2m3s".
fn delay_in_message(msg: &str) -> Option<Duration> {
    for marker in ["retry in ", "reset after ", "after "] {
        if let Some(i) = msg.find(marker) {
            let tail = &msg[i + marker.len()..];
            let token: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            let token = token.trim_end_matches('.');
            if let Some(d) = parse_google_duration(token) {
                return Some(d);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_models() {
        assert_eq!(
            method_url(
                "https://cloudcode-pa.googleapis.com/",
                "streamGenerateContent",
                true
            ),
            "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            operation_url("http://x", "operations/abc"),
            "http://x/v1internal/operations/abc"
        );
        assert_eq!(map_model("models/gemini-3.5-flash"), "gemini-3-flash");
        assert_eq!(map_model("gemini-2.5-pro"), "gemini-2.5-pro");
        let ua = user_agent("gemini-2.5-pro");
        assert!(
            ua.starts_with("GeminiCLI/") && ua.ends_with("; terminal)"),
            "{ua}"
        );
        let e = Envelope::new(
            "gemini-3.5-flash",
            Some("p1"),
            serde_json::json!({"contents": []}),
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["model"], "gemini-3-flash");
        assert_eq!(v["project"], "p1");
        let resp: ResponseEnvelope = serde_json::from_value(serde_json::json!({
            "response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}}]},
            "traceId": "t"
        }))
        .unwrap();
        assert_eq!(resp.trace_id.as_deref(), Some("t"));
        assert_eq!(resp.response.unwrap().candidates.len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_google_duration("0.5s"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_google_duration("539.477544ms").map(|d| d.as_millis()),
            Some(539)
        );
        assert_eq!(
            parse_google_duration("1h2m3s"),
            Some(Duration::from_secs(3723))
        );
        assert_eq!(parse_google_duration("soon"), None);
    }

    #[test]
    fn rate_limit_429() {
        let body = br#"{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 0s.","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{"uiMessage":"true","model":"gemini-2.5-pro","quotaResetDelay":"539.477544ms","quotaResetTimeStamp":"2025-10-20T19:14:08Z"}},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.539477544s"}]}}"#;
        let h = quota_hint(body);
        assert_eq!(h.retry_after.map(|d| d.as_millis()), Some(539));
        assert!(!h.daily);
    }

    #[test]
    fn daily_429_wrapped_in_array() {
        let body = br#"[{"error":{"code":429,"message":"Quota exceeded. Please retry in 3600s.","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}]"#;
        let h = quota_hint(body);
        assert!(h.daily);
        assert_eq!(h.retry_after, Some(Duration::from_secs(3600)));
        assert_eq!(quota_hint(b"not json"), QuotaHint::default());
    }

    #[test]
    fn stringified_inner_error() {
        let inner = r#"{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        let outer = serde_json::json!({"error": {"code": 429, "message": inner}}).to_string();
        assert_eq!(
            quota_hint(outer.as_bytes()).retry_after,
            Some(Duration::from_secs(7))
        );
    }
}
