//! Upstreams: base URLs, auth injection and provider quirks live here, never in the codecs.
//!
//! [`kinds`] holds one file per provider kind (its dialect, URLs, credential header, quirks,
//! hooks) behind the `Kind` trait; [`adapter`] turns IR requests into an upstream's HTTP
//! request per dialect, asking the kind what differs, and reads the replies back;
//! [`code_assist`] is Google Code Assist's wire (URLs, envelope, headers, model names, 429
//! hints). [`UpstreamClient`] (in [`client`]) is the one HTTP client the server builds from
//! config (timeouts, proxy, pool, TCP_NODELAY); [`api_base`] says where a record's requests go
//! by default; [`base_url`] hides and applies what a base URL itself holds (userinfo, secret
//! query values). [`probe`] holds the one-off calls of `upstream add|test`.

pub mod adapter;
pub mod base_url;
pub mod bedrock;
pub mod client;
pub mod code_assist;
pub mod kinds;
pub mod pool;
pub mod probe;

pub use client::{BodyStream, Dest, HttpError, UpstreamClient, UpstreamResponse, default_headers};

use crate::config::{Config, Endpoint, ProviderKind, endpoints};
use crate::store::records::UpstreamRecord;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("invalid [proxy] url: {message}")]
    Proxy { message: String },
    #[error("cannot build the HTTP client: {message}")]
    Client { message: String },
    #[error("upstream `{name}` has no API URL for provider {kind}; set one with --base-url")]
    NoBaseUrl { name: String, kind: ProviderKind },
}

/// What stays as it is in a path segment: RFC 3986's unreserved characters. Everything else,
/// `/`, `:`, `?`, `#` and `%` included, is escaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` escaped as ONE URL path segment, for a model name in an upstream's URL
/// (`{base}/v1beta/models/{model}:generateContent`): its `/`, `?` or `#` cannot add a segment,
/// a query or a fragment. Dot segments are refused earlier ([`crate::routing::model_name`]):
/// URL parsers treat `..` and `%2E%2E` alike.
pub fn path_segment(s: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(s, SEGMENT)
}

/// Version sent to Anthropic upstreams.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The record's API base without a trailing `/`: its own `base_url`, else (Qwen OAuth) the
/// token's resource URL, else the kind's default as overridden by config and environment.
pub fn api_base(config: &Config, record: &UpstreamRecord) -> Result<String, UpstreamError> {
    let from_record = record
        .base_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            record
                .oauth
                .as_ref()
                .and_then(|o| o.resource_url.clone())
                .filter(|u| !u.trim().is_empty())
        });
    let base = match from_record {
        Some(u) => u,
        None => endpoints::resolve(config, record.provider, Endpoint::Api).ok_or_else(|| {
            UpstreamError::NoBaseUrl {
                name: record.name.clone(),
                kind: record.provider,
            }
        })?,
    };
    Ok(base.trim().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::OAuthMeta;

    fn rec(kind: ProviderKind, base: Option<&str>) -> UpstreamRecord {
        UpstreamRecord {
            base_url: base.map(str::to_string),
            ..UpstreamRecord::sample("u", kind)
        }
    }

    #[test]
    fn a_model_is_one_path_segment() {
        assert_eq!(
            path_segment("gemini-2.5-flash_x~1").to_string(),
            "gemini-2.5-flash_x~1"
        );
        assert_eq!(
            path_segment("m:generateContent?alt=json&key=x#").to_string(),
            "m%3AgenerateContent%3Falt%3Djson%26key%3Dx%23"
        );
        assert_eq!(path_segment("a/b c%").to_string(), "a%2Fb%20c%25");
        assert_eq!(path_segment("é").to_string(), "%C3%A9");
    }

    #[test]
    fn base_from_record_then_config() {
        let c = Config::default();
        assert_eq!(
            api_base(
                &c,
                &rec(ProviderKind::Openai, Some("http://127.0.0.1:9/v1/"))
            )
            .unwrap(),
            "http://127.0.0.1:9/v1"
        );
        let mut c = Config::default();
        c.providers.insert(
            "deepseek".into(),
            crate::config::file::ProviderEndpoints {
                api_url: Some("http://127.0.0.1:8/v1".into()),
                ..Default::default()
            },
        );
        // The environment override would win, and tests must not depend on it being unset.
        if std::env::var("LLM_GATEWAY_DEEPSEEK_API_URL").is_err() {
            assert_eq!(
                api_base(&c, &rec(ProviderKind::Deepseek, None)).unwrap(),
                "http://127.0.0.1:8/v1"
            );
        }
        let mut q = rec(ProviderKind::Qwen, None);
        q.oauth = Some(OAuthMeta {
            account: None,
            project: None,
            tier: None,
            expires_at: None,
            last_refresh: None,
            state: crate::store::records::OAuthState::Active,
            last_error: None,
            resource_url: Some("https://portal.qwen.ai/v1".into()),
        });
        assert_eq!(api_base(&c, &q).unwrap(), "https://portal.qwen.ai/v1");
    }

    #[test]
    fn auth_headers_per_kind() {
        use crate::secret::Secret;
        use crate::store::records::AuthKind;
        let config = Config::default();
        let key = Secret::new("sk-fake");
        let none = http::HeaderMap::new();
        let build = |record: &UpstreamRecord| {
            let t = adapter::Target {
                config: &config,
                record,
                model: "m",
                credential: if record.auth == AuthKind::None {
                    adapter::Credential::None
                } else {
                    adapter::Credential::ApiKey(&key)
                },
                client_dialect: crate::protocol::ir::Dialect::OpenAi,
                client_headers: &none,
            };
            adapter::probe_headers(&t).unwrap()
        };
        let r = build(&rec(ProviderKind::Openai, None));
        assert_eq!(r["authorization"], "Bearer sk-fake");
        let r = build(&rec(ProviderKind::Anthropic, None));
        assert_eq!(r["x-api-key"], "sk-fake");
        assert_eq!(r["anthropic-version"], ANTHROPIC_VERSION);
        assert!(r.get("authorization").is_none());
        let r = build(&rec(ProviderKind::Gemini, None));
        assert_eq!(r["x-goog-api-key"], "sk-fake");
        let r = build(&rec(
            ProviderKind::Azure,
            Some("https://res.openai.azure.com/openai/v1"),
        ));
        assert_eq!(r["api-key"], "sk-fake");
        assert!(r.get("authorization").is_none());
        let mut keyless = rec(ProviderKind::Openai, None);
        keyless.auth = AuthKind::None;
        assert!(build(&keyless).get("authorization").is_none());
    }

    #[test]
    fn bad_proxy_is_an_error() {
        let mut c = Config::default();
        c.proxy.url = "::not a url::".into();
        assert!(matches!(
            UpstreamClient::new(&c),
            Err(UpstreamError::Proxy { .. })
        ));
        c.proxy.url = "http://127.0.0.1:3128".into();
        c.proxy.no_proxy = "localhost,127.0.0.1".into();
        assert!(UpstreamClient::new(&c).is_ok());
    }
}
