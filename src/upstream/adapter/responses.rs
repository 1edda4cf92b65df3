//! The OpenAI Responses API as an upstream (kinds `openai` and `azure` with `--wire
//! responses`): `{base}/responses`, the kind's credential and headers, the body from the
//! Responses codec. For a client of another dialect the codec rewrites tool names the way the
//! Chat codec does (at most 64 characters, OpenAI's limit), so the reply carries the name map
//! back ([`ReplyNames::OpenAi`]); a Responses client's names go out as they came.

use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Target, UpstreamCall};
use crate::protocol::ir::{self, Dialect};
use crate::protocol::{openai, responses};
use crate::routing::rules::Edits;

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let kind = t.kind();
    let wire = responses::encode_request(req)?;
    let names = if req.extra.origin == Some(Dialect::Responses) {
        openai::ToolNames::default()
    } else {
        openai::tool_name_map(req)
    };
    Ok(UpstreamCall {
        url: kind.call_url(t, Call::Responses)?,
        headers: super::headers(t, req.stream)?,
        body: super::to_body_for(&wire, req, edits)?,
        reply: ReplyFormat {
            dialect: Dialect::Responses,
            code_assist: false,
            errors: kind.error_quirks(),
            names: ReplyNames::OpenAi(names),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::protocol::ir::{Block, Message, Role, Tool};
    use crate::secret::Secret;
    use crate::store::records::Wire;
    use crate::upstream::adapter::{Credential, translated as adapt};
    use http::HeaderMap;
    use serde_json::Value;

    fn long_tool_request() -> (ir::Request, String) {
        let long = format!("mcp__server__{}", "x".repeat(80));
        let req = ir::Request {
            model: "gpt-5-codex".into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Block::Text {
                    text: "hi".into(),
                    signature: None,
                    cache_control: None,
                }],
            }],
            tools: vec![Tool::Function(ir::FunctionTool {
                name: long.clone(),
                description: None,
                input_schema: crate::protocol::json::Json::empty_object(),
                cache_control: None,
                extra: ir::Extras::default(),
            })],
            stream: true,
            ..ir::Request::default()
        };
        (req, long)
    }

    #[test]
    fn url_headers_body_and_names() {
        let config = Config::default();
        let key = Secret::new("sk-fake");
        let h = HeaderMap::new();
        for (kind, base, url, auth) in [
            (
                ProviderKind::Openai,
                "http://127.0.0.1:9/v1",
                "http://127.0.0.1:9/v1/responses",
                "authorization",
            ),
            (
                ProviderKind::Azure,
                "https://res.openai.azure.com/openai/v1",
                "https://res.openai.azure.com/openai/v1/responses",
                "api-key",
            ),
        ] {
            let record = crate::store::records::UpstreamRecord {
                wire: Some(Wire::Responses),
                ..super::super::test_record(kind, Some(base))
            };
            let t = Target {
                config: &config,
                record: &record,
                model: "gpt-5-codex",
                credential: Credential::ApiKey(&key),
                client_dialect: Dialect::Anthropic,
                client_headers: &h,
            };
            let (req, long) = long_tool_request();
            let call = adapt(&t, &req, &Edits::default()).unwrap();
            assert_eq!(call.url, url);
            assert!(call.headers.contains_key(auth), "{kind:?}");
            assert_eq!(call.headers["accept"], "text/event-stream");
            let body: Value = serde_json::from_slice(&call.body).unwrap();
            assert_eq!(body["store"], false);
            assert_eq!(body["include"][0], "reasoning.encrypted_content");
            assert_eq!(body["stream"], true);
            let wire_name = body["tools"][0]["name"].as_str().unwrap();
            assert!(wire_name.len() <= 64, "{wire_name}");
            assert_eq!(call.reply.dialect, Dialect::Responses);
            // The Chat template would send a Responses body to chat/completions.
            assert!(super::super::FastTemplate::new(&config, &record, Some(&key)).is_none());
            // A whole reply naming the rewritten tool comes back with the client's name.
            let reply = serde_json::json!({
                "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
                "model": "gpt-5-codex",
                "output": [{"type": "function_call", "id": "fc_1", "call_id": "call_1",
                    "name": wire_name, "arguments": "{}", "status": "completed"}],
                "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
            });
            let resp = call
                .reply
                .decode_response(&serde_json::to_vec(&reply).unwrap())
                .unwrap();
            assert!(
                resp.content.iter().any(
                    |b| matches!(b, Block::ToolUse { name, id, .. } if *name == long && id == "call_1")
                ),
                "{:?}",
                resp.content
            );
        }
    }
}
