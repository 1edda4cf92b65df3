//! Gemini requests: a Gemini client's body -> IR ([`decode_request`]), and IR -> the body a
//! Gemini upstream takes ([`encode_request`], rules D4-D17 of docs/translation-rules.md).
//!
//! Tool-call ids (D12/D13): a Gemini history may carry no ids. Calls without one get
//! `gcall_<content>_<part>_<name>` (stable across turns, since history only grows), and each
//! `functionResponse` is paired with a call of the model turn(s) just before it: by `id` when
//! both have one, else the first unanswered call of the same name, else the first unanswered
//! call. Encoding does the reverse pairing by IR id, so the N responses go out in the order of
//! the N calls whatever order the client listed its results in.

use serde_json::Value;

use super::names::{gemini_function_name, is_minted_id, request_call_id, sanitize_id_part};
use super::parts::{BlockList, PartKind, classify, image_part, own_signature};
use super::schema::{SchemaTarget, reduce_schema_for, to_json_schema};
use super::wire::{
    self, Content, FunctionCall, FunctionCallingConfig, FunctionDeclaration, FunctionResponse,
    GenerateContentRequest, Part, ToolConfig,
};
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir::{
    Block, Dialect, Effort, Extras, FunctionTool, Message, Request, ResponseFormat, Role,
    SystemBlock, Text, ThinkingConfig, ThinkingMode, Tool, ToolChoice,
};

/// Placed on the first `functionCall` of a current-turn step that has no Gemini signature, so
/// Gemini 3 accepts a history whose signatures were lost (D17c).
pub const SKIP_SIGNATURE_SENTINEL: &str = "skip_thought_signature_validator";

/// Knobs for [`encode_request_with`]; the upstream layer picks them per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Put [`SKIP_SIGNATURE_SENTINEL`] on unsigned current-turn calls. Default on.
    pub signature_sentinel: bool,
    /// `parametersJsonSchema` (default) or the legacy `parameters`.
    pub schema_target: SchemaTarget,
    /// Send `functionCall.id` / `functionResponse.id` (never minted ones). Default off: the
    /// Gemini API pairs by order, and Code Assist reportedly rejects ids.
    pub send_call_ids: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            signature_sentinel: true,
            schema_target: SchemaTarget::JsonSchema,
            send_call_ids: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding (Gemini client -> IR)
// ---------------------------------------------------------------------------------------------

/// Parses JSON into a wire type; errors name the field at fault. Well-formed input takes the
/// plain parser; only a failure pays for path tracking, parsing again with it.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    if let Some(value) = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
    {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| CodecError::InvalidJson {
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// A Gemini client's body. The model and streaming come from the path (`hints`).
pub fn decode_request(body: &[u8], hints: &RequestHints) -> Result<Request, CodecError> {
    let wire: GenerateContentRequest = parse(body)?;
    from_wire(wire, hints)
}

/// `:countTokens` body: bare `contents`, or a whole `generateContentRequest` (with system
/// instruction and tools, which a count must include).
pub fn decode_count_tokens_request(
    body: &[u8],
    hints: &RequestHints,
) -> Result<Request, CodecError> {
    let wire: wire::CountTokensRequest = parse(body)?;
    let inner = match wire.generate_content_request {
        Some(inner) => inner,
        None => GenerateContentRequest {
            contents: wire.contents,
            ..GenerateContentRequest::default()
        },
    };
    from_wire(inner, hints)
}

/// The `:countTokens` reply.
pub fn encode_count_tokens_response(total_tokens: u64) -> Vec<u8> {
    let body = wire::CountTokensResponse {
        total_tokens,
        ..wire::CountTokensResponse::default()
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// [`decode_request`] for an already parsed body (e.g. `countTokens`' `generateContentRequest`).
pub fn from_wire(
    wire: GenerateContentRequest,
    hints: &RequestHints,
) -> Result<Request, CodecError> {
    let mut req = Request {
        model: hints.model.clone().unwrap_or_default(),
        stream: hints.stream.unwrap_or(false),
        ..Request::default()
    };
    let mut extra = wire.extra;

    if let Some(system) = wire.system_instruction {
        for part in system.parts {
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                req.system.push(SystemBlock {
                    text,
                    cache_control: None,
                });
            }
        }
    }

    req.messages = decode_contents(wire.contents)?;

    for tool in wire.tools {
        for decl in tool.function_declarations {
            let schema = decl
                .parameters_json_schema
                .as_ref()
                .or(decl.parameters.as_ref())
                .map(|s| to_json_schema(s))
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}))
                .into();
            req.tools.push(Tool::Function(FunctionTool {
                name: decl.name,
                description: decl.description,
                input_schema: schema,
                cache_control: None,
                extra: Extras::new(Dialect::Gemini, decl.extra),
            }));
        }
        if !tool.extra.is_empty() {
            req.tools.push(Tool::Other {
                origin: Dialect::Gemini,
                value: Value::Object(tool.extra),
            });
        }
    }

    if let Some(config) = wire.tool_config {
        if let Some(fcc) = config.function_calling_config {
            req.tool_choice = match fcc.mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
                Some("ANY") if fcc.allowed_function_names.len() == 1 => fcc
                    .allowed_function_names
                    .first()
                    .cloned()
                    .map(ToolChoice::Tool),
                Some("ANY") => Some(ToolChoice::Any),
                Some("NONE") => Some(ToolChoice::None),
                Some("AUTO") | Some("VALIDATED") => Some(ToolChoice::Auto),
                _ => None,
            };
        }
        if !config.extra.is_empty() {
            extra.insert("toolConfig".into(), Value::Object(config.extra));
        }
    }

    if let Some(g) = wire.generation_config {
        req.max_tokens = g.max_output_tokens;
        req.temperature = g.temperature;
        req.top_p = g.top_p;
        req.top_k = g.top_k;
        req.stop = g.stop_sequences;
        req.seed = g.seed;
        req.presence_penalty = g.presence_penalty;
        req.frequency_penalty = g.frequency_penalty;
        req.n = g.candidate_count;
        req.thinking = g.thinking_config.map(decode_thinking);
        let mut g_extra = g.extra;
        // Gemini CLI writes `responseJsonSchema` with upper-case OpenAPI types too.
        let schema = g
            .response_json_schema
            .as_ref()
            .or(g.response_schema.as_ref())
            .map(to_json_schema);
        match g.response_mime_type.as_deref() {
            Some("application/json") => {
                req.response_format = Some(match schema {
                    Some(schema) => ResponseFormat::JsonSchema {
                        name: None,
                        schema,
                        strict: None,
                    },
                    None => ResponseFormat::JsonObject,
                });
            }
            Some(other) => {
                g_extra.insert("responseMimeType".into(), Value::String(other.into()));
            }
            None => {}
        }
        if !g_extra.is_empty() {
            extra.insert("generationConfig".into(), Value::Object(g_extra));
        }
    }
    if !wire.safety_settings.is_empty()
        && let Ok(v) = serde_json::to_value(&wire.safety_settings)
    {
        extra.insert("safetySettings".into(), v);
    }
    if let Some(cached) = wire.cached_content {
        extra.insert("cachedContent".into(), Value::String(cached));
    }
    req.extra = Extras::new(Dialect::Gemini, extra);
    Ok(req)
}

fn decode_thinking(t: wire::ThinkingConfig) -> ThinkingConfig {
    let effort = t.thinking_level.as_deref().and_then(effort_from_level);
    let (mode, budget_tokens) = match (effort, t.thinking_budget) {
        (Some(_), _) => (ThinkingMode::Adaptive, None),
        (None, Some(0)) => (ThinkingMode::Disabled, None),
        (None, Some(b)) if b > 0 => (ThinkingMode::Enabled, u32::try_from(b).ok()),
        _ => (ThinkingMode::Adaptive, None),
    };
    ThinkingConfig {
        mode,
        budget_tokens,
        effort,
        include_thoughts: t.include_thoughts,
    }
}

fn effort_from_level(level: &str) -> Option<Effort> {
    match level.to_ascii_uppercase().as_str() {
        "MINIMAL" => Some(Effort::Minimal),
        "LOW" => Some(Effort::Low),
        "MEDIUM" => Some(Effort::Medium),
        "HIGH" => Some(Effort::High),
        _ => None,
    }
}

fn level_from_effort(effort: Effort) -> &'static str {
    match effort {
        Effort::Minimal => "MINIMAL",
        Effort::Low => "LOW",
        Effort::Medium => "MEDIUM",
        Effort::High | Effort::XHigh | Effort::Max => "HIGH",
    }
}

struct OpenCall {
    /// The IR id (unique in the request).
    id: String,
    /// The id the client gave the call, which its response names.
    wire_id: Option<String>,
    name: String,
    answered: bool,
}

/// `id` when no call of the request has it yet, else one minted from the call's place: the IR
/// (and every other dialect) pairs results with calls by id, so two calls sharing one would
/// both claim the same results.
fn unique_call_id(
    id: String,
    ci: usize,
    pi: usize,
    name: &str,
    seen: &mut std::collections::HashSet<String>,
) -> String {
    let mut id = id;
    if seen.contains(&id) {
        id = request_call_id(ci, pi, name);
        let base = id.clone();
        let mut n = 1;
        while seen.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
    }
    seen.insert(id.clone());
    id
}

fn decode_contents(contents: Vec<Content>) -> Result<Vec<Message>, CodecError> {
    let mut messages = Vec::new();
    let mut open_calls: Vec<OpenCall> = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    let mut previous_was_model = false;
    for (ci, content) in contents.into_iter().enumerate() {
        let role = match content.role.as_deref() {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") | Some("assistant") => Role::Assistant,
            Some(other) => {
                return Err(CodecError::Invalid(format!(
                    "contents[{ci}].role: unknown role `{other}` (expected `user` or `model`)"
                )));
            }
        };
        if role == Role::Assistant && !previous_was_model {
            open_calls.clear();
        }
        previous_was_model = role == Role::Assistant;
        let mut list = BlockList::for_client();
        for (pi, part) in content.parts.iter().enumerate() {
            match classify(part) {
                PartKind::Block(block) => list.push(block),
                PartKind::SignatureOnly(sig) => list.signature_only(sig),
                PartKind::Skip => {}
                PartKind::Call(call, signature) => {
                    let wire_id = call
                        .id
                        .as_deref()
                        .filter(|i| !i.is_empty())
                        .map(|i| sanitize_id_part(i, 128));
                    let id = wire_id
                        .clone()
                        .unwrap_or_else(|| request_call_id(ci, pi, &call.name));
                    let id = unique_call_id(id, ci, pi, &call.name, &mut seen_ids);
                    open_calls.push(OpenCall {
                        id: id.clone(),
                        wire_id,
                        name: call.name.clone(),
                        answered: false,
                    });
                    list.push(Block::ToolUse {
                        id,
                        name: call.name.clone(),
                        input: super::parts::args_object(&call.args),
                        signature,
                    });
                }
                PartKind::Response(resp) => {
                    let id = pair_response(&resp, &mut open_calls)
                        .unwrap_or_else(|| request_call_id(ci, pi, &resp.name));
                    let (content, is_error) = result_content(resp.response.value());
                    list.push(Block::ToolResult {
                        tool_use_id: id,
                        content,
                        is_error,
                        cache_control: None,
                    });
                }
            }
        }
        let blocks = list.finish();
        if !blocks.is_empty() {
            messages.push(Message {
                role,
                content: blocks,
            });
        }
    }
    Ok(messages)
}

fn pair_response(resp: &FunctionResponse, open: &mut [OpenCall]) -> Option<String> {
    let by_id = resp
        .id
        .as_deref()
        .filter(|i| !i.is_empty())
        .map(|i| sanitize_id_part(i, 128))
        .and_then(|id| {
            // The client's own id first; then the IR id (a client echoing one it was given).
            open.iter()
                .position(|c| !c.answered && c.wire_id.as_deref() == Some(id.as_str()))
                .or_else(|| open.iter().position(|c| !c.answered && c.id == id))
        });
    let index = by_id
        .or_else(|| open.iter().position(|c| !c.answered && c.name == resp.name))
        .or_else(|| open.iter().position(|c| !c.answered))?;
    let call = open.get_mut(index)?;
    call.answered = true;
    Some(call.id.clone())
}

/// `{"result": "x"}` / `{"output": "x"}` -> text `x`; `{"error": ...}` -> an error result;
/// anything else -> the object as JSON text.
fn result_content(response: &Value) -> (Vec<Block>, bool) {
    let text_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (text, is_error) = match response {
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((k, v)) if k == "result" || k == "output" || k == "content" => (text_of(v), false),
            Some((k, v)) if k == "error" => (text_of(v), true),
            _ => (response.to_string(), false),
        },
        Value::Null => (String::new(), false),
        other => (text_of(other), false),
    };
    let content = if text.is_empty() {
        Vec::new()
    } else {
        vec![Block::Text {
            text: text.into(),
            signature: None,
            cache_control: None,
        }]
    };
    (content, is_error)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

#[path = "request_encode.rs"]
mod encode;
pub(super) use encode::document_part;
pub use encode::{encode_request, encode_request_with};
