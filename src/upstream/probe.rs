//! One-off calls the CLI makes: model discovery for `upstream add` and `upstream test`.
//!
//! The URLs and headers are the record's kind's (`kinds::Kind::models_url`, `call_url`,
//! `authorize`, `extra_headers`), as for the server's calls; the list's shape and the test
//! body (one short completion) follow the kind's dialect. Kinds without a model list (Code
//! Assist, Azure) say why in [`ProbeError::Other`]. Bedrock's calls, signed with AWS
//! credentials resolved at use time, are `bedrock::probe`'s.

use std::time::{Duration, Instant};

use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::UpstreamClient;
use super::adapter::{self, Call, Credential, Target};
use crate::config::Config;
use crate::protocol::ir::Dialect;
use crate::secret::Secret;
use crate::store::records::{AuthKind, UpstreamRecord};

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

/// A probe's target: the record with its key, as the server would call it.
fn target<'a>(
    config: &'a Config,
    upstream: &'a UpstreamRecord,
    secret: Option<&'a Secret>,
    model: &'a str,
    no_headers: &'a HeaderMap,
) -> Target<'a> {
    let credential = match secret {
        Some(s) if upstream.auth != AuthKind::None => Credential::ApiKey(s),
        _ => Credential::None,
    };
    Target {
        config,
        record: upstream,
        model,
        credential,
        client_dialect: upstream_dialect(upstream),
        client_headers: no_headers,
    }
}

fn upstream_dialect(upstream: &UpstreamRecord) -> Dialect {
    crate::upstream::kinds::spec(upstream.provider).dialect(upstream)
}

fn other(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Other(e.to_string())
}

/// The upstream's model ids (`GET {base}/models` for OpenAI-compatible kinds).
pub async fn list_models(
    config: &Config,
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
) -> Result<Vec<String>, ProbeError> {
    if crate::upstream::kinds::spec(upstream.provider).aws_credentials() {
        return super::bedrock::probe::list_models(config, upstream, secret).await;
    }
    let no_headers = HeaderMap::new();
    let t = target(config, upstream, secret, "", &no_headers);
    let kind = t.kind();
    let url = kind
        .models_url(&kind.api_base(&t).map_err(other)?)
        .map_err(ProbeError::Other)?;
    let headers = adapter::probe_headers(&t).map_err(other)?;
    let client = client(config)?;
    let body = send(
        client.http().get(&url).headers(headers),
        &url,
        timeout(config),
    )
    .await?
    .1;
    let mut ids: Vec<String> = match upstream_dialect(upstream) {
        Dialect::Gemini => {
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
    if crate::upstream::kinds::spec(upstream.provider).aws_credentials() {
        return super::bedrock::probe::test(config, upstream, secret, &model).await;
    }
    let no_headers = HeaderMap::new();
    let t = target(config, upstream, secret, &model, &no_headers);
    let kind = t.kind();
    if kind.code_assist() {
        return Err(ProbeError::Other(
            "gemini-cli upstreams are tested through their OAuth login".into(),
        ));
    }
    let ping = json!([{"role": "user", "content": "ping"}]);
    let (call, body) = match upstream_dialect(upstream) {
        Dialect::OpenAi => (
            Call::Chat,
            json!({"model": model, "messages": ping, "max_tokens": 1}),
        ),
        Dialect::Anthropic => (
            Call::Messages,
            json!({"model": model, "messages": ping, "max_tokens": 1}),
        ),
        Dialect::Gemini => (
            Call::Generate {
                stream: false,
                alt_sse: false,
            },
            json!({"contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                   "generationConfig": {"maxOutputTokens": 1}}),
        ),
        // 16 is the Responses API's smallest `max_output_tokens`; `store: false` leaves
        // nothing behind on the provider's side.
        Dialect::Responses => (
            Call::Responses,
            json!({"model": model, "input": "ping", "max_output_tokens": 16, "store": false}),
        ),
    };
    let url = kind.call_url(&t, call).map_err(other)?;
    let headers = adapter::probe_headers(&t).map_err(other)?;
    let client = client(config)?;
    let req = client.http().post(&url).headers(headers).json(&body);
    let started = Instant::now();
    send(req, &url, timeout(config)).await?;
    Ok(started.elapsed())
}

pub(crate) fn client(config: &Config) -> Result<UpstreamClient, ProbeError> {
    UpstreamClient::new(config).map_err(other)
}

pub(crate) fn timeout(config: &Config) -> Duration {
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
