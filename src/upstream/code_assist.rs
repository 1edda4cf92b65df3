//! What a gemini-cli upstream needs to call Google's Code Assist API (`cloudcode-pa`) the way
//! Gemini CLI does: method URLs (`{api}/v1internal:{method}`, `?alt=sse` for streams), the
//! request/response envelope around a Gemini `generateContent` body, the User-Agent, model
//! names, and the Google RPC error shape the login's onboarding calls describe. The retry delay
//! and daily-quota signal of a 429 are read once, by `crate::protocol::gemini::error`.
//! Pure functions and types: no I/O here.

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
}
