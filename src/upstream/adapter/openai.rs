//! OpenAI-compatible upstreams: `openai` (any base URL), `deepseek` and `qwen` (DashScope with an
//! API key and a region preset, or the Qwen OAuth login). One encoder, different switches.

use http::HeaderMap;
use serde_json::Value;

use super::limits::{max_output_tokens, wants_max_completion_tokens};
use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Credential, Target, UpstreamCall, bearer, header, json_headers};
use crate::config::{Endpoint, ProviderKind, endpoints};
use crate::protocol::ir::{self, Dialect};
use crate::protocol::openai::{self, EncodeOptions, ThinkingStyle};
use crate::routing::rules::Edits;
use crate::store::records::AuthKind;

/// DashScope's OpenAI-compatible bases by `region` (`upstream add --region`).
const DASHSCOPE: [(&str, &str); 3] = [
    (
        "intl",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    ),
    ("cn", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
    ("us", "https://dashscope-us.aliyuncs.com/compatible-mode/v1"),
];

/// The User-Agent qwen-code sends; DashScope and the Qwen portal expect a client they know.
const QWEN_CODE_VERSION: &str = "0.14.2";

fn qwen_user_agent() -> String {
    let (os, arch) = crate::oauth::code_assist::node_platform();
    format!("QwenCode/{QWEN_CODE_VERSION} ({os}; {arch})")
}

/// The API base: the record's own URL; for Qwen OAuth the token's resource URL (unless
/// overridden); for Qwen API keys a config/env override, else the region preset.
pub(super) fn base(t: &Target<'_>) -> Result<String, AdapterError> {
    let r = t.record;
    if let Some(own) = r.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
        return Ok(own.trim().trim_end_matches('/').to_owned());
    }
    if r.provider != ProviderKind::Qwen {
        return Ok(crate::upstream::api_base(t.config, r)?);
    }
    if r.auth == AuthKind::Oauth {
        let resource = t
            .credential
            .meta()
            .or(r.oauth.as_ref())
            .and_then(|m| m.resource_url.as_deref());
        return Ok(crate::oauth::qwen::api_base(t.config, resource));
    }
    let resolved = endpoints::resolve(t.config, ProviderKind::Qwen, Endpoint::Api);
    let default = ProviderKind::Qwen.default_endpoint(Endpoint::Api);
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

fn headers(t: &Target<'_>, stream: bool) -> Result<HeaderMap, AdapterError> {
    let mut h = json_headers(stream);
    bearer(&mut h, t)?;
    if t.record.provider == ProviderKind::Qwen {
        let ua = qwen_user_agent();
        header(&mut h, "user-agent", &ua)?;
        header(&mut h, "x-dashscope-useragent", &ua)?;
        header(&mut h, "x-dashscope-cachecontrol", "enable")?;
        if matches!(t.credential, Credential::OAuth { .. }) {
            header(&mut h, "x-dashscope-authtype", "qwen-oauth")?;
        }
    }
    Ok(h)
}

/// The provider switches for this kind and model.
pub(super) fn options(kind: ProviderKind, model: &str) -> EncodeOptions {
    let cap = max_output_tokens(kind, model);
    match kind {
        ProviderKind::Deepseek => EncodeOptions {
            reasoning_history: true,
            thinking_style: ThinkingStyle::DeepSeek,
            max_tokens_cap: cap,
            ..EncodeOptions::default()
        },
        ProviderKind::Qwen => EncodeOptions {
            reasoning_history: true,
            thinking_style: ThinkingStyle::Qwen,
            max_tokens_cap: cap,
            send_top_k: true,
            // DashScope's compatible mode rejects system messages after the first turn.
            mid_system_as_user: true,
            ..EncodeOptions::default()
        },
        _ => {
            let reasoning = wants_max_completion_tokens(model);
            EncodeOptions {
                max_completion_tokens: reasoning,
                max_tokens_cap: cap,
                // Non-reasoning models reject `reasoning_effort`; say nothing to them.
                thinking_style: if reasoning {
                    ThinkingStyle::ReasoningEffort
                } else {
                    ThinkingStyle::None
                },
                ..EncodeOptions::default()
            }
        }
    }
}

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let opts = options(t.record.provider, t.model);
    let wire = openai::encode_request_with(req, &opts)?;
    // Only a schema that carries `$schema` pays for the detour through a `Value`.
    let body = if carries_schema_uri(req) {
        super::to_body_fixed(&wire, edits, drop_schema_uris)?
    } else {
        super::to_body_for(&wire, req, edits)?
    };
    Ok(UpstreamCall {
        url: format!("{}/chat/completions", base(t)?),
        headers: headers(t, req.stream)?,
        body,
        reply: ReplyFormat {
            dialect: Dialect::OpenAi,
            code_assist: false,
            names: ReplyNames::OpenAi(openai::tool_name_map(req)),
        },
    })
}

/// Whether some tool's schema mentions `$schema` (a cheap text scan of the schema as received;
/// a false positive only costs the slower serialization).
fn carries_schema_uri(req: &ir::Request) -> bool {
    req.tools.iter().any(|t| match t {
        ir::Tool::Function(f) => f.input_schema.raw().map_or_else(
            || f.input_schema.value().to_string().contains("\"$schema\""),
            |r| r.get().contains("\"$schema\""),
        ),
        ir::Tool::Other { .. } => false,
    })
}

/// Takes `$schema` out of every tool's `parameters` (at any depth of the schema), and nothing
/// else: OpenAI accepts it, but some OpenAI-compatible servers reject a schema that carries it,
/// and Claude Code's tools and most MCP servers send it.
fn drop_schema_uris(body: &mut Value) {
    let Some(tools) = body.get_mut("tools").and_then(Value::as_array_mut) else {
        return;
    };
    for tool in tools {
        if let Some(params) = tool.pointer_mut("/function/parameters") {
            strip_schema_keyword(params);
        }
    }
}

/// Removes `$schema` from a JSON Schema and its subschemas. Walks keywords, not every object, so
/// a property that happens to be named `$schema` stays.
fn strip_schema_keyword(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.remove("$schema");
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                if let Value::Object(named) = value {
                    named.values_mut().for_each(strip_schema_keyword);
                }
            }
            "anyOf" | "allOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(list) = value {
                    list.iter_mut().for_each(strip_schema_keyword);
                }
            }
            "items" => match value {
                Value::Array(list) => list.iter_mut().for_each(strip_schema_keyword),
                other => strip_schema_keyword(other),
            },
            "additionalProperties"
            | "additionalItems"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedItems"
            | "unevaluatedProperties" => {
                strip_schema_keyword(value);
            }
            _ => {}
        }
    }
}

pub(super) fn fast_path(t: &Target<'_>, call: Call) -> Result<(String, HeaderMap), AdapterError> {
    let path = match call {
        Call::Completions => "/completions",
        _ => "/chat/completions",
    };
    let mut h = headers(t, false)?;
    // The client's own Accept (or none) rather than ours.
    h.remove(http::header::ACCEPT);
    if let Some(a) = t.client_headers.get(http::header::ACCEPT) {
        h.insert(http::header::ACCEPT, a.clone());
    }
    Ok((format!("{}{path}", base(t)?), h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;
    use crate::store::records::UpstreamRecord;

    fn rec(kind: ProviderKind, region: Option<&str>) -> UpstreamRecord {
        UpstreamRecord {
            region: region.map(str::to_owned),
            ..super::super::test_record(kind, None)
        }
    }

    #[test]
    fn qwen_region_presets_and_headers() {
        if std::env::var("LLM_GATEWAY_QWEN_API_URL").is_ok() {
            return;
        }
        let config = Config::default();
        let key = Secret::new("sk-fake");
        let h = HeaderMap::new();
        for (region, want) in [
            (
                None,
                "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            ),
            (
                Some("cn"),
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
            ),
            (
                Some("us"),
                "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
            ),
        ] {
            let r = rec(ProviderKind::Qwen, region);
            let t = Target {
                config: &config,
                record: &r,
                model: "qwen-plus",
                credential: Credential::ApiKey(&key),
                client_dialect: Dialect::Anthropic,
                client_headers: &h,
            };
            assert_eq!(base(&t).unwrap(), want);
            let hd = headers(&t, true).unwrap();
            assert_eq!(hd["x-dashscope-cachecontrol"], "enable");
            assert!(hd["user-agent"].to_str().unwrap().starts_with("QwenCode/"));
            assert_eq!(hd["authorization"], "Bearer sk-fake");
        }
    }

    #[test]
    fn qwen_oauth_base_from_the_token_resource_url() {
        if std::env::var("LLM_GATEWAY_QWEN_API_URL").is_ok() {
            return;
        }
        let config = Config::default();
        let mut r = rec(ProviderKind::Qwen, None);
        r.auth = AuthKind::Oauth;
        let token = Secret::new("qwen-access");
        let meta = crate::store::records::OAuthMeta {
            account: None,
            project: None,
            tier: None,
            expires_at: None,
            last_refresh: None,
            state: crate::store::records::OAuthState::Active,
            last_error: None,
            resource_url: Some("portal.qwen.ai".into()),
        };
        let h = HeaderMap::new();
        let t = Target {
            config: &config,
            record: &r,
            model: "coder-model",
            credential: Credential::OAuth {
                token: &token,
                meta: &meta,
            },
            client_dialect: Dialect::Anthropic,
            client_headers: &h,
        };
        assert_eq!(base(&t).unwrap(), "https://portal.qwen.ai/v1");
        let hd = headers(&t, false).unwrap();
        assert_eq!(hd["authorization"], "Bearer qwen-access");
        assert_eq!(hd["x-dashscope-authtype"], "qwen-oauth");
    }

    #[test]
    fn schema_uris_leave_tool_parameters_and_nothing_else_does() {
        use serde_json::json;
        let mut body = json!({
            "model": "m",
            "response_format": {"type": "json_schema", "json_schema": {"schema": {"$schema": "keep"}}},
            "tools": [
                {"type": "function", "function": {"name": "a", "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {
                        "$schema": {"type": "string", "$schema": "x"},
                        "list": {"type": "array", "items": {"$schema": "x", "type": "string"}},
                        "either": {"anyOf": [{"$schema": "x", "type": "null"}, {"type": "integer"}]}
                    },
                    "$defs": {"d": {"$schema": "x", "type": "boolean"}},
                    "additionalProperties": false
                }}},
                {"type": "function", "function": {"name": "b"}}
            ]
        });
        drop_schema_uris(&mut body);
        assert_eq!(
            body["tools"][0]["function"]["parameters"],
            json!({
                "type": "object",
                "properties": {
                    "$schema": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "string"}},
                    "either": {"anyOf": [{"type": "null"}, {"type": "integer"}]}
                },
                "$defs": {"d": {"type": "boolean"}},
                "additionalProperties": false
            })
        );
        assert_eq!(
            body["tools"][1],
            json!({"type": "function", "function": {"name": "b"}})
        );
        assert_eq!(
            body["response_format"]["json_schema"]["schema"]["$schema"],
            "keep"
        );
    }

    #[test]
    fn switches_per_kind() {
        let o = options(ProviderKind::Deepseek, "deepseek-chat");
        assert!(o.reasoning_history);
        assert_eq!(o.max_tokens_cap, Some(8192));
        assert_eq!(o.thinking_style, ThinkingStyle::DeepSeek);
        let o = options(ProviderKind::Openai, "o3-mini");
        assert!(o.max_completion_tokens);
        assert_eq!(o.thinking_style, ThinkingStyle::ReasoningEffort);
        let o = options(ProviderKind::Openai, "gpt-4o");
        assert!(!o.max_completion_tokens);
        assert_eq!(o.thinking_style, ThinkingStyle::None);
        let o = options(ProviderKind::Qwen, "qwen3-coder-plus");
        assert_eq!(o.thinking_style, ThinkingStyle::Qwen);
        assert!(o.mid_system_as_user);
    }
}
