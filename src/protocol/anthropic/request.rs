//! Anthropic Messages requests <-> IR: what a client such as Claude Code sends us
//! ([`decode_request`], [`decode_count_tokens`]) and what we send an Anthropic upstream
//! ([`encode_request`]).
//!
//! Anthropic-only request fields the IR does not model (`context_management`, `service_tier`,
//! unknown top-level fields, unknown sub-fields of `thinking`, `output_config`, `metadata`) ride
//! in `ir::Request::extra` under their own key, tagged Anthropic, so they reach Anthropic
//! upstreams and nothing else. Signature handling (see `mod.rs` for the Gemini carrier):
//! only Anthropic-minted thinking signatures are sent to Anthropic; unsigned or foreign-signed
//! thinking blocks are dropped because the API rejects them.

use serde_json::{Map, Value};

use super::blocks::{blocks_from_wire, blocks_to_upstream};
use super::{parse_json, wire};
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir::{
    Dialect, Effort, Extras, FunctionTool, Json, Message, Request, ResponseFormat, Role,
    SystemBlock, ThinkingConfig, ThinkingMode, Tool, ToolChoice,
};

/// `max_tokens` when the IR has none (OpenAI and Gemini clients may omit it; Anthropic
/// requires it). Upstream code clamps it per model afterwards.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;
/// Anthropic's floor for `thinking.budget_tokens`.
pub const MIN_THINKING_BUDGET: u32 = 1024;

// Keys under which Anthropic-only sub-objects are kept in `ir::Request::extra`.
const K_CONTEXT_MANAGEMENT: &str = "context_management";
const K_SERVICE_TIER: &str = "service_tier";
const K_METADATA: &str = "metadata";
const K_THINKING: &str = "thinking";
const K_OUTPUT_CONFIG: &str = "output_config";

/// Decodes a `POST /v1/messages` body. Malformed or mistyped JSON names the field at fault.
pub fn decode_request(body: &[u8], hints: &RequestHints) -> Result<Request, CodecError> {
    let w: wire::Request = parse_json(body)?;
    request_from_wire(w, hints)
}

/// Decodes a `POST /v1/messages/count_tokens` body (same shape, no `max_tokens`).
pub fn decode_count_tokens(body: &[u8]) -> Result<Request, CodecError> {
    decode_request(body, &RequestHints::default())
}

/// The `count_tokens` reply body.
pub fn encode_count_tokens(input_tokens: u64) -> Vec<u8> {
    format!("{{\"input_tokens\":{input_tokens}}}").into_bytes()
}

fn request_from_wire(w: wire::Request, hints: &RequestHints) -> Result<Request, CodecError> {
    let mut extra = w.extra;
    let model = if w.model.is_empty() {
        hints.model.clone().unwrap_or_default()
    } else {
        w.model
    };
    if model.is_empty() {
        return Err(CodecError::InvalidJson {
            field: "model".into(),
            message: "missing field `model`".into(),
        });
    }

    let system = match w.system {
        None => Vec::new(),
        Some(wire::System::Text(s)) if s.is_empty() => Vec::new(),
        Some(wire::System::Text(s)) => vec![SystemBlock {
            text: s,
            cache_control: None,
        }],
        Some(wire::System::Blocks(blocks)) => blocks
            .into_iter()
            .map(|b| SystemBlock {
                text: b.text,
                cache_control: b.cache_control,
            })
            .collect(),
    };

    let messages = w
        .messages
        .into_iter()
        .map(|m| Message {
            role: match m.role {
                wire::Role::User => Role::User,
                wire::Role::Assistant => Role::Assistant,
                wire::Role::System => Role::System,
            },
            content: blocks_from_wire(m.content),
        })
        .collect();

    let tools = w
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(tool_from_wire)
        .collect::<Result<Vec<_>, _>>()?;

    let (tool_choice, parallel_tool_calls) = match w.tool_choice {
        None => (None, None),
        Some(tc) => {
            let choice = match tc.kind {
                wire::ToolChoiceType::Auto => ToolChoice::Auto,
                wire::ToolChoiceType::Any => ToolChoice::Any,
                wire::ToolChoiceType::None => ToolChoice::None,
                wire::ToolChoiceType::Tool => match tc.name {
                    Some(n) => ToolChoice::Tool(n),
                    None => {
                        return Err(CodecError::InvalidJson {
                            field: "tool_choice.name".into(),
                            message: "missing field `name` for tool_choice type `tool`".into(),
                        });
                    }
                },
            };
            (Some(choice), tc.disable_parallel_tool_use.map(|d| !d))
        }
    };

    // output_config: effort joins the thinking config, format becomes response_format, the
    // rest (and an effort the IR cannot carry) stays Anthropic-only.
    let mut oc_rest = Map::new();
    let mut effort_raw = None;
    let mut response_format = None;
    if let Some(oc) = w.output_config {
        oc_rest = oc.extra;
        effort_raw = oc.effort;
        match oc.format {
            Some(f) if f.kind == "json_schema" && f.schema.is_some() => {
                response_format = Some(ResponseFormat::JsonSchema {
                    name: None,
                    schema: f.schema.unwrap_or(Value::Null),
                    strict: None,
                });
            }
            Some(f) => {
                oc_rest.insert("format".into(), to_value(&f)?);
            }
            None => {}
        }
    }

    let thinking = match w.thinking {
        None => {
            // Effort without thinking tunes a non-thinking Claude; other dialects have no such
            // knob, so it stays an Anthropic extra rather than switching thinking on.
            if let Some(e) = effort_raw.take() {
                oc_rest.insert("effort".into(), Value::String(e));
            }
            None
        }
        Some(t) => {
            let mode = match t.kind {
                wire::ThinkingType::Enabled => ThinkingMode::Enabled,
                wire::ThinkingType::Adaptive => ThinkingMode::Adaptive,
                wire::ThinkingType::Disabled => ThinkingMode::Disabled,
            };
            let mut t_rest = t.extra;
            let include_thoughts = match t.display.as_deref() {
                Some("omitted") => Some(false),
                Some("summarized") => Some(true),
                _ => None,
            };
            // The display string itself is Anthropic-only (older models reject it): keep it
            // for Anthropic upstreams, never synthesise it.
            if let Some(d) = t.display {
                t_rest.insert("display".into(), Value::String(d));
            }
            if !t_rest.is_empty() {
                extra.insert(K_THINKING.into(), Value::Object(t_rest));
            }
            let effort = if mode == ThinkingMode::Disabled {
                // Claude Code subagents send `disabled` with an effort; forwarding both is a
                // contradiction strict upstreams reject (A3.6).
                effort_raw = None;
                None
            } else {
                match effort_raw.as_deref().map(parse_effort) {
                    Some(Some(e)) => {
                        effort_raw = None;
                        Some(e)
                    }
                    _ => None,
                }
            };
            if let Some(e) = effort_raw.take() {
                oc_rest.insert("effort".into(), Value::String(e));
            }
            Some(ThinkingConfig {
                mode,
                budget_tokens: t.budget_tokens,
                effort,
                include_thoughts,
            })
        }
    };
    if !oc_rest.is_empty() {
        extra.insert(K_OUTPUT_CONFIG.into(), Value::Object(oc_rest));
    }

    let mut user = None;
    if let Some(m) = w.metadata {
        user = m.user_id;
        if !m.extra.is_empty() {
            extra.insert(K_METADATA.into(), Value::Object(m.extra));
        }
    }
    if let Some(cm) = w.context_management {
        extra.insert(K_CONTEXT_MANAGEMENT.into(), cm);
    }
    if let Some(st) = w.service_tier {
        extra.insert(K_SERVICE_TIER.into(), Value::String(st));
    }

    Ok(Request {
        model,
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: w.max_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        top_k: w.top_k,
        stop: w.stop_sequences.unwrap_or_default(),
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        n: None,
        stream: hints.stream.or(w.stream).unwrap_or(false),
        stream_include_usage: false,
        thinking,
        response_format,
        user,
        extra: Extras::new(Dialect::Anthropic, extra),
    })
}

fn tool_from_wire(t: wire::Tool) -> Result<Tool, CodecError> {
    let is_client_tool =
        t.input_schema.is_some() && matches!(t.kind.as_deref(), None | Some("custom"));
    if !is_client_tool {
        return Ok(Tool::Other {
            origin: Dialect::Anthropic,
            value: to_value(&t)?,
        });
    }
    let mut extra = t.extra;
    if let Some(kind) = t.kind {
        extra.insert("type".into(), Value::String(kind));
    }
    Ok(Tool::Function(FunctionTool {
        name: t.name,
        description: t.description,
        input_schema: t.input_schema.unwrap_or_default(),
        cache_control: t.cache_control,
        extra: Extras::new(Dialect::Anthropic, extra),
    }))
}

pub(crate) fn parse_effort(s: &str) -> Option<Effort> {
    Some(match s {
        "minimal" => Effort::Minimal,
        "low" => Effort::Low,
        "medium" => Effort::Medium,
        "high" => Effort::High,
        "xhigh" => Effort::XHigh,
        "max" => Effort::Max,
        _ => return None,
    })
}

fn effort_str(e: Effort) -> &'static str {
    match e {
        Effort::Minimal | Effort::Low => "low",
        Effort::Medium => "medium",
        Effort::High => "high",
        Effort::XHigh => "xhigh",
        Effort::Max => "max",
    }
}

/// A thinking budget for `enabled` thinking that came without one (e.g. from an OpenAI
/// `reasoning_effort`).
fn budget_for(effort: Option<Effort>) -> u32 {
    match effort {
        Some(Effort::Minimal) => 1024,
        Some(Effort::Low) => 4096,
        None | Some(Effort::Medium) => 8192,
        Some(Effort::High) => 16384,
        Some(Effort::XHigh) => 24576,
        Some(Effort::Max) => 32000,
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, CodecError> {
    serde_json::to_value(v).map_err(|e| CodecError::Invalid(e.to_string()))
}

/// Builds the body for an Anthropic upstream. See the module doc for what is dropped.
pub fn encode_request(req: &Request) -> Result<wire::Request, CodecError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(CodecError::Unsupported(
            "Anthropic returns one choice per request (n must be 1)".into(),
        ));
    }
    let mut extra = req
        .extra
        .for_dialect(Dialect::Anthropic)
        .cloned()
        .unwrap_or_default();
    let mut take_obj = |key: &str| match extra.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut thinking_rest = take_obj(K_THINKING);
    let mut oc_rest = take_obj(K_OUTPUT_CONFIG);
    let metadata_rest = take_obj(K_METADATA);
    let context_management = extra.remove(K_CONTEXT_MANAGEMENT);
    let service_tier = match extra.remove(K_SERVICE_TIER) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let from_anthropic = req.extra.origin == Some(Dialect::Anthropic);

    let max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).max(1);

    let display = match thinking_rest.remove("display") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let mut effort = None;
    let thinking = match &req.thinking {
        None => None,
        Some(t) => match t.mode {
            ThinkingMode::Disabled => Some(wire::Thinking {
                kind: wire::ThinkingType::Disabled,
                budget_tokens: None,
                display: None,
                extra: thinking_rest,
            }),
            // No budget can satisfy 1024 <= budget < max_tokens: send no thinking at all.
            ThinkingMode::Enabled if max_tokens <= MIN_THINKING_BUDGET => None,
            ThinkingMode::Enabled => {
                let budget = t
                    .budget_tokens
                    .unwrap_or_else(|| budget_for(t.effort))
                    .clamp(MIN_THINKING_BUDGET, max_tokens - 1);
                // Older models reject `effort`; only an Anthropic client knows it may send it.
                if from_anthropic {
                    effort = t.effort;
                }
                Some(wire::Thinking {
                    kind: wire::ThinkingType::Enabled,
                    budget_tokens: Some(budget),
                    display,
                    extra: thinking_rest,
                })
            }
            ThinkingMode::Adaptive => {
                effort = t.effort;
                Some(wire::Thinking {
                    kind: wire::ThinkingType::Adaptive,
                    budget_tokens: None,
                    display,
                    extra: thinking_rest,
                })
            }
        },
    };
    let messages: Vec<wire::Message> = req
        .messages
        .iter()
        .filter_map(|m| {
            let blocks = blocks_to_upstream(&m.content);
            (!blocks.is_empty()).then(|| wire::Message {
                role: match m.role {
                    Role::User => wire::Role::User,
                    Role::Assistant => wire::Role::Assistant,
                    Role::System => wire::Role::System,
                },
                content: wire::Content::Blocks(blocks),
                extra: Map::new(),
            })
        })
        .collect();
    let thinking = match thinking {
        Some(t) if t.kind != wire::ThinkingType::Disabled && !tool_loop_is_signed(&messages) => {
            tracing::debug!(
                "anthropic: thinking left off: the last tool-calling assistant turn has no \
                 thinking Claude signed (another provider's, or a client that drops signatures)"
            );
            None
        }
        t => t,
    };
    let thinking_on = thinking
        .as_ref()
        .is_some_and(|t| t.kind != wire::ThinkingType::Disabled);

    let format = match &req.response_format {
        Some(ResponseFormat::JsonSchema { schema, .. }) => Some(wire::OutputFormat {
            kind: "json_schema".into(),
            schema: Some(schema.clone()),
            extra: Map::new(),
        }),
        // `json_object` has no Anthropic form; `text` is the default.
        _ => match oc_rest.remove("format") {
            Some(v) => serde_json::from_value(v).ok(),
            None => None,
        },
    };
    let effort = effort.map(|e| effort_str(e).to_owned());
    let effort = match (effort, oc_rest.remove("effort")) {
        (Some(e), _) => Some(e),
        // An effort kept as an extra is only meaningful without a thinking mode override.
        (None, Some(Value::String(e)))
            if req
                .thinking
                .as_ref()
                .is_none_or(|t| t.mode != ThinkingMode::Disabled) =>
        {
            Some(e)
        }
        _ => None,
    };
    let output_config = (effort.is_some() || format.is_some() || !oc_rest.is_empty()).then_some(
        wire::OutputConfig {
            effort,
            format,
            extra: oc_rest,
        },
    );

    let tool_choice = encode_tool_choice(req, thinking_on);

    let metadata = (req.user.is_some() || !metadata_rest.is_empty()).then(|| wire::Metadata {
        user_id: req.user.clone(),
        extra: metadata_rest,
    });

    let system: Vec<wire::SystemBlock> = req
        .system
        .iter()
        .filter(|b| !b.text.is_empty())
        .map(|b| wire::SystemBlock {
            kind: "text".into(),
            text: b.text.clone(),
            cache_control: b.cache_control.clone(),
            extra: Map::new(),
        })
        .collect();

    let mut tools = Vec::with_capacity(req.tools.len());
    for t in &req.tools {
        match t {
            Tool::Function(f) => tools.push(wire::Tool {
                kind: None,
                name: f.name.clone(),
                description: f.description.clone(),
                input_schema: Some(schema_object(&f.input_schema)),
                cache_control: f.cache_control.clone(),
                extra: f
                    .extra
                    .for_dialect(Dialect::Anthropic)
                    .cloned()
                    .unwrap_or_default(),
            }),
            Tool::Other {
                origin: Dialect::Anthropic,
                value,
            } => tools.push(
                serde_json::from_value(value.clone())
                    .map_err(|e| CodecError::Invalid(format!("server tool: {e}")))?,
            ),
            Tool::Other { .. } => {}
        }
    }

    Ok(wire::Request {
        model: req.model.clone(),
        max_tokens: Some(max_tokens),
        messages,
        system: (!system.is_empty()).then_some(wire::System::Blocks(system)),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        thinking,
        output_config,
        metadata,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        // OpenAI allows up to 2, Anthropic up to 1.
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        top_k: req.top_k,
        stream: req.stream.then_some(true),
        context_management,
        service_tier,
        extra,
    })
}

/// Whether thinking may stay on for `messages`: with thinking on, Claude wants the assistant
/// turn in progress (the messages after the last user message that is not only tool results),
/// when it calls tools, to open with its own signed thinking: 400 "Expected `thinking` or
/// `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant`
/// message must start with a thinking block (preceeding the lastmost set of `tool_use` and
/// `tool_result` blocks)" otherwise. Unsigned and foreign-signed thinking was dropped on the
/// way here, so a tool loop that began on another provider, or from a client that cannot carry
/// signatures, has none: such a request goes without thinking (the API's own advice), and the
/// next turn has it again.
pub(crate) fn tool_loop_is_signed(messages: &[wire::Message]) -> bool {
    fn blocks(m: &wire::Message) -> &[wire::ContentBlock] {
        match &m.content {
            wire::Content::Blocks(b) => b,
            wire::Content::Text(_) => &[],
        }
    }
    let opened = messages
        .iter()
        .rposition(|m| {
            m.role != wire::Role::Assistant
                && (matches!(m.content, wire::Content::Text(_))
                    || blocks(m)
                        .iter()
                        .any(|b| !matches!(b, wire::ContentBlock::ToolResult(_))))
        })
        .map_or(0, |i| i + 1);
    let turn = &messages[opened..];
    let calls = turn.iter().any(|m| {
        m.role == wire::Role::Assistant
            && blocks(m)
                .iter()
                .any(|b| matches!(b, wire::ContentBlock::ToolUse(_)))
    });
    let first = turn
        .iter()
        .find(|m| m.role == wire::Role::Assistant)
        .and_then(|m| blocks(m).first());
    !calls
        || matches!(
            first,
            Some(wire::ContentBlock::Thinking(_) | wire::ContentBlock::RedactedThinking(_))
        )
}

fn encode_tool_choice(req: &Request, thinking_on: bool) -> Option<wire::ToolChoice> {
    let disable_parallel = req.parallel_tool_calls.map(|p| !p);
    let (kind, name) = match &req.tool_choice {
        None if disable_parallel == Some(true) => (wire::ToolChoiceType::Auto, None),
        None => return None,
        Some(ToolChoice::Auto) => (wire::ToolChoiceType::Auto, None),
        Some(ToolChoice::None) => (wire::ToolChoiceType::None, None),
        // With thinking on, Anthropic only allows `auto` and `none` (C8).
        Some(ToolChoice::Any | ToolChoice::Tool(_)) if thinking_on => {
            (wire::ToolChoiceType::Auto, None)
        }
        Some(ToolChoice::Any) => (wire::ToolChoiceType::Any, None),
        Some(ToolChoice::Tool(n)) => (wire::ToolChoiceType::Tool, Some(n.clone())),
    };
    Some(wire::ToolChoice {
        kind,
        name,
        disable_parallel_tool_use: disable_parallel,
        extra: Map::new(),
    })
}

/// Anthropic requires `input_schema` to be an object schema.
fn schema_object(schema: &Json) -> Json {
    if schema.is_object() && !schema.is_empty_object() {
        schema.clone()
    } else {
        Json::from(serde_json::json!({"type": "object", "properties": {}}))
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
