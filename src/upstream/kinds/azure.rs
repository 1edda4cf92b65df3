//! `azure`: Azure OpenAI (and Foundry) deployments. By default the v1 surface,
//! `https://RES.openai.azure.com/openai/v1/chat/completions` with no `api-version` and the
//! deployment name as the body's `model`; with an API version on the record (`upstream add
//! --api-version`) the legacy form for old resources,
//! `{resource}/openai/deployments/{deployment}/chat/completions?api-version=V`. The key goes in
//! an `api-key` header, not `Authorization`.
//!
//! Azure's replies differ from OpenAI's in ways a client must not see: a stream opens with a
//! chunk that has empty `choices` and `prompt_filter_results`, and may carry annotation chunks
//! with `content_filter_results` and no `delta`. So an OpenAI client is never relayed byte for
//! byte: every reply goes through the codecs, which drop what carries nothing. A prompt the
//! content filter refuses (400 `content_filter`) is said to be Azure's ([`ErrorQuirks::Azure`],
//! read in `adapter::reply`), and a filtered completion (`finish_reason: content_filter`) ends
//! as the client's refusal stop. Azure's model list does not list deployments: they are named
//! with `--models`.

use http::HeaderMap;
use serde_json::Value;

use super::{AddRules, ErrorQuirks, Kind, bearer, openai_call_url};
use crate::config::ProviderKind;
use crate::protocol::ir::{ApiError, Dialect, ErrorKind};
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::{AdapterError, Call, Credential, Target, secret_header};

#[derive(Debug)]
pub struct Azure;

impl Kind for Azure {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Azure
    }

    /// Chat Completions, or the Responses API with `--wire responses`.
    fn dialect(&self, record: &UpstreamRecord) -> Dialect {
        super::openai_wire(record)
    }

    fn relays_same_dialect(&self) -> bool {
        false
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        let base = self.api_base(t)?;
        Ok(match t.record.api_version.as_deref() {
            Some(version) => legacy_url(&base, t.model, version, call),
            None => openai_call_url(&v1_base(&base), call),
        })
    }

    /// `api-key: KEY` for a key; a Microsoft Entra token (an OAuth credential) as a bearer.
    fn authorize(&self, h: &mut HeaderMap, cred: &Credential<'_>) -> Result<(), AdapterError> {
        match cred {
            Credential::ApiKey(s) if !s.is_empty() => secret_header(h, "api-key", s.expose()),
            _ => bearer(h, cred),
        }
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(16_384)
    }

    fn models_url(&self, _base: &str) -> Result<String, String> {
        Err("Azure OpenAI's model list does not list deployments; \
             name them with --models DEPLOYMENT,..."
            .into())
    }

    fn error_quirks(&self) -> ErrorQuirks {
        ErrorQuirks::Azure
    }

    /// Azure needs its resource's URL and its deployments' names: it has no public default,
    /// and its model list does not list deployments. `--api-version` picks the legacy
    /// endpoint, `--wire` Chat or Responses.
    fn add_rules(&self) -> AddRules {
        AddRules {
            wire: true,
            api_version: true,
            needs_base_url: Some("https://RESOURCE.openai.azure.com/openai/v1"),
            needs_models: Some("DEPLOYMENT,... (Azure's model list does not list deployments)"),
            ..AddRules::DEFAULT
        }
    }
}

/// The longest wait a 429 may ask for and still be retried: beyond it (Azure says "retry after
/// 86400 seconds" when a daily quota is spent) the deployment rests for the time asked, and
/// the client is told retrying will not help. gemini-cli draws the same line.
const MAX_RETRY_SECS: u64 = 300;

/// Azure's errors read on top of the OpenAI reading: a prompt its content filter refused (400
/// with `code: content_filter`, or `innererror.code: ResponsibleAIPolicyViolation`) says so and
/// names the categories that fired; a 429's "retry after N seconds" is its retry delay, and a
/// delay too long to wait is a cooldown, not a retry.
pub(crate) fn read_error(status: u16, body: &[u8], err: &mut ApiError) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let error = v.get("error").unwrap_or(&Value::Null);
    let code = |e: &Value| match e.get("code") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let inner = error.get("innererror").unwrap_or(&Value::Null);
    if status == 400
        && (code(error) == "content_filter" || code(inner) == "ResponsibleAIPolicyViolation")
    {
        let fired = filtered_categories(inner.get("content_filter_results"));
        let which = if fired.is_empty() {
            String::new()
        } else {
            format!(" ({})", fired.join(", "))
        };
        err.kind = ErrorKind::InvalidRequest;
        err.code = Some("content_filter".into());
        err.should_retry = Some(false);
        err.message = format!(
            "Azure OpenAI's content filter refused the prompt{which}: {}",
            err.message.trim()
        );
        return;
    }
    if status == 429 {
        if err.retry_after_secs.is_none() {
            err.retry_after_secs = retry_after_in(&err.message);
        }
        if err.retry_after_secs.is_some_and(|s| s > MAX_RETRY_SECS) {
            err.should_retry = Some(false);
        }
    }
}

/// The content-filter categories marked `filtered: true` (`hate`, `self_harm`, `jailbreak`...).
fn filtered_categories(results: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(map)) = results else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, r)| r.get("filtered") == Some(&Value::Bool(true)))
        .map(|(name, _)| name.replace('-', "_"))
        .collect()
}

/// `N` from "... Please retry after N seconds." (Azure's 429 wording).
fn retry_after_in(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("retry after ")? + "retry after ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = rest[digits.len()..].trim_start();
    unit.starts_with("second").then_some(n)
}

/// The v1 base from what the user gave: kept when it already ends in `/v1`
/// (`…/openai/v1`), `/v1` added to `…/openai`, `/openai/v1` added to a bare resource origin;
/// any other path (a relay's) is taken as it is.
pub(crate) fn v1_base(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path_of(base);
    if path.ends_with("/v1") {
        base.to_owned()
    } else if path.ends_with("/openai") {
        format!("{base}/v1")
    } else if path.is_empty() {
        format!("{base}/openai/v1")
    } else {
        base.to_owned()
    }
}

/// `{resource}/openai/deployments/{deployment}/chat/completions?api-version=V`, the resource
/// being the base without a trailing `/openai/v1` or `/openai`. The deployment is one escaped
/// path segment, the version an escaped query value.
fn legacy_url(base: &str, deployment: &str, version: &str, call: Call) -> String {
    let base = base.trim_end_matches('/');
    let resource = base
        .strip_suffix("/openai/v1")
        .or_else(|| base.strip_suffix("/openai"))
        .unwrap_or(base);
    let version: String = url::form_urlencoded::byte_serialize(version.as_bytes()).collect();
    let op = match call {
        Call::Completions => "completions",
        // The legacy Responses API is per resource, not per deployment (the body names it).
        Call::Responses => return format!("{resource}/openai/responses?api-version={version}"),
        _ => "chat/completions",
    };
    let deployment = crate::upstream::path_segment(deployment);
    format!("{resource}/openai/deployments/{deployment}/{op}?api-version={version}")
}

/// The path of an absolute URL (`""` for a bare origin).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;

    #[test]
    fn a_filtered_prompt_says_it_was_azure() {
        let body = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self-harm":{"filtered":true,"severity":"medium"},"jailbreak":{"filtered":false,"detected":false}}}}}"#;
        let mut err = crate::protocol::openai::decode_error(400, body);
        read_error(400, body, &mut err);
        assert_eq!(err.status, 400);
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert!(
            err.message
                .starts_with("Azure OpenAI's content filter refused the prompt (self_harm): "),
            "{}",
            err.message
        );
        assert_eq!(err.should_retry, Some(false));
    }

    #[test]
    fn a_day_long_429_is_a_cooldown() {
        let body = br#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current tier. Please retry after 86400 seconds."}}"#;
        let mut err = crate::protocol::openai::decode_error(429, body);
        read_error(429, body, &mut err);
        assert_eq!(err.retry_after_secs, Some(86400));
        assert_eq!(err.should_retry, Some(false));
        let body = br#"{"error":{"code":"429","message":"Please retry after 6 seconds."}}"#;
        let mut err = crate::protocol::openai::decode_error(429, body);
        read_error(429, body, &mut err);
        assert_eq!(err.retry_after_secs, Some(6));
        assert_eq!(err.should_retry, None);
        assert_eq!(retry_after_in("retry after 5 minutes"), None);
    }

    #[test]
    fn v1_urls_never_double_the_segment() {
        for base in [
            "https://res.openai.azure.com",
            "https://res.openai.azure.com/",
            "https://res.openai.azure.com/openai",
            "https://res.openai.azure.com/openai/v1",
            "https://res.openai.azure.com/openai/v1/",
        ] {
            assert_eq!(v1_base(base), "https://res.openai.azure.com/openai/v1");
        }
        assert_eq!(
            v1_base("https://res.services.ai.azure.com/openai/v1/"),
            "https://res.services.ai.azure.com/openai/v1"
        );
        assert_eq!(
            v1_base("http://127.0.0.1:9/relay/azure"),
            "http://127.0.0.1:9/relay/azure"
        );
    }

    #[test]
    fn urls_and_key_header_per_form() {
        let config = Config::default();
        let key = Secret::new("azure-fake-key");
        let no_headers = HeaderMap::new();
        let mut record = UpstreamRecord {
            base_url: Some("https://res.openai.azure.com/openai/v1/".into()),
            ..UpstreamRecord::sample("az", ProviderKind::Azure)
        };
        let url = |record: &UpstreamRecord, model: &str, call| {
            let t = Target {
                config: &config,
                record,
                model,
                credential: Credential::ApiKey(&key),
                client_dialect: Dialect::Anthropic,
                client_headers: &no_headers,
            };
            Azure.call_url(&t, call).unwrap()
        };
        assert_eq!(
            url(&record, "gpt4o-prod", Call::Chat),
            "https://res.openai.azure.com/openai/v1/chat/completions"
        );
        record.api_version = Some("2024-10-21".into());
        assert_eq!(
            url(&record, "gpt4o-prod", Call::Chat),
            "https://res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions\
             ?api-version=2024-10-21"
        );
        // A deployment name cannot add a segment or a query.
        assert_eq!(
            url(&record, "a/b?x=1", Call::Completions),
            "https://res.openai.azure.com/openai/deployments/a%2Fb%3Fx%3D1/completions\
             ?api-version=2024-10-21"
        );
        // The legacy Responses API is per resource; the v1 one sits beside chat/completions.
        assert_eq!(
            url(&record, "codex-prod", Call::Responses),
            "https://res.openai.azure.com/openai/responses?api-version=2024-10-21"
        );
        record.api_version = None;
        assert_eq!(
            url(&record, "codex-prod", Call::Responses),
            "https://res.openai.azure.com/openai/v1/responses"
        );
        let mut h = HeaderMap::new();
        Azure.authorize(&mut h, &Credential::ApiKey(&key)).unwrap();
        assert_eq!(h["api-key"], "azure-fake-key");
        assert!(h["api-key"].is_sensitive());
        assert!(h.get("authorization").is_none());
    }
}
