//! One-off calls the CLI makes: model discovery for `upstream add` and `upstream test`.
//!
//! OpenAI-compatible kinds (openai, qwen, deepseek) list `GET {base}/models` and test with a
//! one-token chat completion; anthropic and gemini use their own list and message calls.
//! Gemini CLI (Code Assist) has no model list and is tested by the OAuth module.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::{UpstreamClient, api_base, authorize};
use crate::config::{Config, ProviderKind};
use crate::secret::Secret;
use crate::store::records::UpstreamRecord;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot reach {url}: {message}")]
    Connect { url: String, message: String },
    /// The upstream answered with an error; `message` is its own wording.
    #[error("upstream answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Other(String),
}

/// The upstream's model ids (`GET {base}/models` for OpenAI-compatible kinds).
pub async fn list_models(
    config: &Config,
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
) -> Result<Vec<String>, ProbeError> {
    let (client, base) = prepare(config, upstream)?;
    let url = match upstream.provider {
        ProviderKind::Openai | ProviderKind::Qwen | ProviderKind::Deepseek => {
            format!("{base}/models")
        }
        ProviderKind::Anthropic => format!("{base}/v1/models?limit=1000"),
        ProviderKind::Gemini => format!("{base}/v1beta/models?pageSize=1000"),
        ProviderKind::GeminiCli => {
            return Err(ProbeError::Other(
                "gemini-cli upstreams have no model list; pass --models".into(),
            ));
        }
    };
    let req = authorize(client.http().get(&url), upstream, secret);
    let body = send(req, &url, timeout(config)).await?.1;
    let mut ids: Vec<String> = match upstream.provider {
        ProviderKind::Gemini => {
            let list: GeminiList = parse(&body)?;
            list.models
                .into_iter()
                .map(|m| m.name.trim_start_matches("models/").to_string())
                .collect()
        }
        _ => {
            let list: ModelList = parse(&body)?;
            list.data.into_iter().map(|m| m.id).collect()
        }
    };
    ids.retain(|id| !id.is_empty());
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Sends a tiny real request (one short completion) and returns the latency.
pub async fn test(
    config: &Config,
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
    model: Option<&str>,
) -> Result<Duration, ProbeError> {
    let (client, base) = prepare(config, upstream)?;
    let model = model
        .map(str::to_string)
        .or_else(|| upstream.models.first().cloned())
        .ok_or_else(|| {
            ProbeError::Other(format!(
                "upstream `{}` lists no models; name one to test with",
                upstream.name
            ))
        })?;
    // The gateway would refuse to route such a name; the test should not send it either.
    crate::routing::model_name::check(&model)
        .map_err(|e| ProbeError::Other(format!("invalid model name `{model}`: {e}")))?;
    let (url, body) = match upstream.provider {
        ProviderKind::Openai | ProviderKind::Qwen | ProviderKind::Deepseek => (
            format!("{base}/chat/completions"),
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}),
        ),
        ProviderKind::Anthropic => (
            format!("{base}/v1/messages"),
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}),
        ),
        ProviderKind::Gemini => (
            format!(
                "{base}/v1beta/models/{}:generateContent",
                super::path_segment(model.strip_prefix("models/").unwrap_or(&model))
            ),
            json!({"contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                   "generationConfig": {"maxOutputTokens": 1}}),
        ),
        ProviderKind::GeminiCli => {
            return Err(ProbeError::Other(
                "gemini-cli upstreams are tested through their OAuth login".into(),
            ));
        }
    };
    let req = authorize(client.http().post(&url).json(&body), upstream, secret);
    let started = Instant::now();
    send(req, &url, timeout(config)).await?;
    Ok(started.elapsed())
}

fn prepare(
    config: &Config,
    upstream: &UpstreamRecord,
) -> Result<(UpstreamClient, String), ProbeError> {
    let client = UpstreamClient::new(config).map_err(|e| ProbeError::Other(e.to_string()))?;
    let base = api_base(config, upstream).map_err(|e| ProbeError::Other(e.to_string()))?;
    Ok((client, base))
}

fn timeout(config: &Config) -> Duration {
    Duration::from_secs(config.timeouts.first_byte_secs.clamp(1, 120))
}

/// Sends and reads the whole (small) reply; a non-2xx status becomes [`ProbeError::Status`].
async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<(u16, bytes::Bytes), ProbeError> {
    let connect = |e: reqwest::Error| ProbeError::Connect {
        url: super::base_url::redact(url).into_owned(),
        message: e.without_url().to_string(),
    };
    let resp = req.timeout(timeout).send().await.map_err(connect)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(connect)?;
    if !(200..300).contains(&status) {
        return Err(ProbeError::Status {
            status,
            message: error_message(&body),
        });
    }
    Ok((status, body))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProbeError> {
    serde_json::from_slice(body)
        .map_err(|e| ProbeError::Other(format!("unexpected model list from the upstream: {e}")))
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[derive(Deserialize)]
struct GeminiList {
    #[serde(default)]
    models: Vec<GeminiModel>,
}

#[derive(Deserialize)]
struct GeminiModel {
    name: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    /// OpenAI, Anthropic and Gemini all nest `error.message`.
    Nested {
        error: ErrorDetail,
    },
    Flat {
        error: String,
    },
    Message {
        message: String,
    },
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// The upstream's own error wording, or the start of its body.
pub(crate) fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody::Nested { error }) => error.message,
        Ok(ErrorBody::Flat { error }) => error,
        Ok(ErrorBody::Message { message }) => message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            match text.char_indices().nth(300) {
                Some((cut, _)) => format!("{}...", &text[..cut]),
                None if text.is_empty() => "(empty body)".to_string(),
                None => text.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_wording() {
        assert_eq!(
            error_message(br#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(b"  oops \n"), "oops");
        assert_eq!(error_message(b""), "(empty body)");
        assert!(error_message(&[b'a'; 500]).ends_with("..."));
    }
}
