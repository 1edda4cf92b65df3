//! `qwen`: Alibaba DashScope's OpenAI-compatible API with an API key (region presets `intl`,
//! `cn`, `us`), or the Qwen OAuth login, whose token names its own API base (`resource_url`).
//! DashScope wants the headers qwen-code sends, takes `top_k`, thinks Qwen's way, and rejects a
//! system message after the first turn.

use http::HeaderMap;

use super::{AddRules, Kind, RegionRule, openai_call_url};
use crate::config::{Config, Endpoint, ProviderKind, endpoints};
use crate::protocol::ir::Dialect;
use crate::protocol::openai::{EncodeOptions, ThinkingStyle};
use crate::store::records::{AuthKind, UpstreamRecord};
use crate::upstream::adapter::limits::max_output_tokens;
use crate::upstream::adapter::{AdapterError, Call, Credential, Target, header};

const KIND: ProviderKind = ProviderKind::Qwen;

/// DashScope's OpenAI-compatible bases by `region` (`upstream add --region`).
const DASHSCOPE: [(&str, &str); 3] = [
    (
        "intl",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    ),
    ("cn", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
    ("us", "https://dashscope-us.aliyuncs.com/compatible-mode/v1"),
];

/// The names of [`DASHSCOPE`]'s regions, the first the default.
const REGIONS: [&str; 3] = [DASHSCOPE[0].0, DASHSCOPE[1].0, DASHSCOPE[2].0];

/// The API base when a token names none (CLIProxyAPI's fallback).
pub const DEFAULT_RESOURCE_BASE: &str = "https://portal.qwen.ai/v1";

/// The User-Agent qwen-code sends; DashScope and the Qwen portal expect a client they know.
const QWEN_CODE_VERSION: &str = "0.14.2";

fn user_agent() -> String {
    let (os, arch) = crate::upstream::code_assist::node_platform();
    format!("QwenCode/{QWEN_CODE_VERSION} ({os}; {arch})")
}

#[derive(Debug)]
pub struct Qwen;

impl Kind for Qwen {
    fn provider(&self) -> ProviderKind {
        KIND
    }

    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::OpenAi
    }

    fn templated(&self) -> bool {
        true
    }

    /// The record's own URL; for an OAuth login the token's resource URL (unless overridden);
    /// for an API key a config/env override, else the region preset.
    fn api_base(&self, t: &Target<'_>) -> Result<String, AdapterError> {
        let r = t.record;
        if let Some(own) = r.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
            return Ok(own.trim().trim_end_matches('/').to_owned());
        }
        if r.auth == AuthKind::Oauth {
            let resource = t
                .credential
                .meta()
                .or(r.oauth.as_ref())
                .and_then(|m| m.resource_url.as_deref());
            return Ok(api_base(t.config, resource));
        }
        let resolved = endpoints::resolve(t.config, KIND, Endpoint::Api);
        let default = KIND.default_endpoint(Endpoint::Api);
        if let Some(o) = resolved.filter(|o| Some(o.as_str()) != default) {
            return Ok(o.trim_end_matches('/').to_owned());
        }
        let region = r.region.as_deref().unwrap_or("intl").to_ascii_lowercase();
        let preset = DASHSCOPE
            .iter()
            .find(|(name, _)| *name == region)
            .map_or(DASHSCOPE[0].1, |(_, url)| url);
        Ok((*preset).to_owned())
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        Ok(openai_call_url(&self.api_base(t)?, call))
    }

    fn extra_headers(&self, h: &mut HeaderMap, t: &Target<'_>) -> Result<(), AdapterError> {
        let ua = user_agent();
        header(h, "user-agent", &ua)?;
        header(h, "x-dashscope-useragent", &ua)?;
        header(h, "x-dashscope-cachecontrol", "enable")?;
        if matches!(t.credential, Credential::OAuth { .. }) {
            header(h, "x-dashscope-authtype", "qwen-oauth")?;
        }
        Ok(())
    }

    fn openai_options(&self, model: &str) -> EncodeOptions {
        EncodeOptions {
            reasoning_history: true,
            thinking_style: ThinkingStyle::Qwen,
            max_tokens_cap: max_output_tokens(KIND, model),
            send_top_k: true,
            // DashScope's compatible mode rejects system messages after the first turn.
            mid_system_as_user: true,
            ..EncodeOptions::default()
        }
    }

    fn add_rules(&self) -> AddRules {
        AddRules {
            region: RegionRule::Presets(&REGIONS),
            ..AddRules::DEFAULT
        }
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(8_192)
    }

    fn models_url(&self, base: &str) -> Result<String, String> {
        Ok(format!("{base}/models"))
    }
}

/// `portal.qwen.ai` -> `https://portal.qwen.ai/v1`: scheme kept if present, `https://` added if
/// not, trailing `/` trimmed, `/v1` appended unless present.
pub fn normalize_resource_url(resource_url: &str) -> Option<String> {
    let r = resource_url.trim().trim_end_matches('/');
    if r.is_empty() {
        return None;
    }
    let with_scheme = if r.contains("://") {
        r.to_string()
    } else {
        format!("https://{r}")
    };
    Some(if with_scheme.ends_with("/v1") {
        with_scheme
    } else {
        format!("{with_scheme}/v1")
    })
}

/// The API base a qwen OAuth upstream calls: `LLM_GATEWAY_QWEN_API_URL` or `[providers.qwen]
/// api_url` when set, else the token's normalized `resource_url`, else portal.qwen.ai.
pub fn api_base(config: &Config, resource_url: Option<&str>) -> String {
    let resolved = endpoints::resolve(config, KIND, Endpoint::Api);
    if let Some(r) = resolved.filter(|r| Some(r.as_str()) != KIND.default_endpoint(Endpoint::Api)) {
        return r.trim_end_matches('/').to_string();
    }
    resource_url
        .and_then(normalize_resource_url)
        .unwrap_or_else(|| DEFAULT_RESOURCE_BASE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_url_forms() {
        for r in [
            "portal.qwen.ai",
            "https://portal.qwen.ai",
            "https://portal.qwen.ai/v1",
            "https://portal.qwen.ai/v1/",
        ] {
            assert_eq!(
                normalize_resource_url(r).as_deref(),
                Some("https://portal.qwen.ai/v1")
            );
        }
        assert_eq!(
            normalize_resource_url("http://127.0.0.1:9/").as_deref(),
            Some("http://127.0.0.1:9/v1")
        );
        assert_eq!(normalize_resource_url(" "), None);
    }

    #[test]
    fn api_base_prefers_override() {
        if std::env::var("LLM_GATEWAY_QWEN_API_URL").is_ok() {
            return;
        }
        let mut c = Config::default();
        assert_eq!(
            api_base(&c, Some("portal.qwen.ai")),
            "https://portal.qwen.ai/v1"
        );
        assert_eq!(api_base(&c, None), DEFAULT_RESOURCE_BASE);
        c.providers.insert(
            "qwen".into(),
            crate::config::file::ProviderEndpoints {
                api_url: Some("http://127.0.0.1:7/v1/".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            api_base(&c, Some("portal.qwen.ai")),
            "http://127.0.0.1:7/v1"
        );
    }
}
