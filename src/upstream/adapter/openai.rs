//! The OpenAI Chat Completions dialect as an upstream (kinds `openai`, `deepseek`, `qwen`,
//! `azure`): one encoder, whose switches, URL and headers come from the record's kind.

use serde_json::Value;

use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Target, UpstreamCall};
use crate::protocol::ir::{self, Dialect};
use crate::protocol::openai;
use crate::routing::rules::Edits;

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let kind = t.kind();
    let opts = kind.openai_options(t.model);
    let wire = openai::encode_request_with(req, &opts)?;
    // Only a schema that carries `$schema` pays for the detour through a `Value`.
    let body = if carries_schema_uri(req) {
        super::to_body_fixed(&wire, edits, drop_schema_uris)?
    } else {
        super::to_body_for(&wire, req, edits)?
    };
    Ok(UpstreamCall {
        url: kind.call_url(t, Call::Chat)?,
        headers: super::headers(t, req.stream)?,
        body,
        reply: ReplyFormat {
            dialect: Dialect::OpenAi,
            code_assist: false,
            errors: kind.error_quirks(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::protocol::openai::ThinkingStyle;
    use crate::secret::Secret;
    use crate::store::records::{AuthKind, UpstreamRecord};
    use crate::upstream::adapter::Credential;
    use crate::upstream::kinds::spec;
    use http::HeaderMap;

    fn base(t: &Target<'_>) -> Result<String, AdapterError> {
        t.kind().api_base(t)
    }

    fn headers(t: &Target<'_>, stream: bool) -> Result<HeaderMap, AdapterError> {
        super::super::headers(t, stream)
    }

    fn options(kind: ProviderKind, model: &str) -> openai::EncodeOptions {
        spec(kind).openai_options(model)
    }

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
