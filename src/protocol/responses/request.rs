//! Responses requests <-> IR: `decode_request` for Codex and `client.responses.create`
//! clients (reference §2, §7.1; in [`decode`]), `encode_request` for Responses upstreams
//! (§7.3, here).

use serde_json::{Value, json};

use super::envelope;
use super::tools::{ToolMap, custom_input, encode_tools};
use super::wire;
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{
    self, Block, Dialect, Effort, Image, ImageSource, ResponseFormat, Role, Signature, Text,
    ThinkingMode, ToolChoice,
};
use crate::protocol::openai;

mod decode;

pub use decode::decode_request;
use decode::decode_tool_choice;

/// The `include` value that asks for reasoning items a client can replay statelessly.
pub const INCLUDE_ENCRYPTED: &str = "reasoning.encrypted_content";

/// OpenAI's floor for `max_output_tokens`.
const MIN_OUTPUT_TOKENS: u32 = 16;
/// OpenAI's limit on call ids and function names.
const MAX_ID_LEN: usize = 64;

/// A Responses client's own document back as its `input_file` part.
fn file_part(doc: &ir::Document) -> Value {
    let mut part = doc
        .extra
        .for_dialect(Dialect::Responses)
        .cloned()
        .unwrap_or_default();
    part.insert("type".into(), Value::from("input_file"));
    if let Some(t) = &doc.title {
        part.insert("filename".into(), Value::from(t.as_str()));
    }
    if let ir::DocumentSource::Base64 { media_type, data } = &doc.source {
        part.insert(
            "file_data".into(),
            Value::from(format!("data:{media_type};base64,{data}")),
        );
    }
    Value::Object(part)
}

// ---------------------------------------------------------------------------------------------
// Encoding for a Responses upstream

/// A call id OpenAI accepts (at most 64 characters): longer ones are shortened the same way
/// every time, so a call and its output still match.
pub fn wire_call_id(id: &str) -> String {
    if id.len() <= MAX_ID_LEN {
        return id.to_owned();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let prefix: String = id.chars().take(MAX_ID_LEN - 17).collect();
    format!("{prefix}_{hash}")
}

/// Builds the body for a Responses upstream: `store: false` and encrypted reasoning, so every
/// request stands alone; only OpenAI's own reasoning items are replayed (never a foreign
/// signature, pitfall 8); call items carry no `id` (pitfall 9).
pub fn encode_request(req: &ir::Request) -> Result<wire::Request, CodecError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(CodecError::Unsupported(
            "the Responses API returns one answer per request (n must be 1)".into(),
        ));
    }
    let from_responses = req.extra.origin == Some(Dialect::Responses);
    let mut extra = req
        .extra
        .for_dialect(Dialect::Responses)
        .cloned()
        .unwrap_or_default();
    // Codex's own bookkeeping; strict Responses providers reject it.
    extra.remove("client_metadata");
    // The gateway's own id, whose history is in the messages already (and every request to
    // an upstream is `store: false`): the upstream would look for it and fail.
    extra.remove("previous_response_id");
    extra.remove("instructions");
    let raw_choice = extra.remove("tool_choice");
    let raw_reasoning = extra.remove("reasoning");
    let raw_text = extra.remove("text");
    let store = extra.remove("store");
    let include = extra.remove("include");
    let names = openai::tool_name_map(req);
    let map = ToolMap::for_request(req);
    let wire_name = |n: &str| -> String {
        if from_responses {
            n.to_owned()
        } else {
            names.wire(n).to_owned()
        }
    };

    let mut input: Vec<Value> = Vec::new();
    for m in &req.messages {
        match m.role {
            Role::System => {
                let text = block_text(&m.content);
                if !text.is_empty() {
                    input.push(json!({"type": "message", "role": "developer",
                        "content": [{"type": "input_text", "text": Value::from(&text)}]}));
                }
            }
            Role::User => encode_user(m, from_responses, &mut input),
            Role::Assistant => encode_assistant(m, &map, &wire_name, &mut input),
        }
    }

    fix_custom_outputs(&mut input);
    results_before_user_messages(&mut input);
    let tools = encode_tools(&req.tools, &wire_name);
    let has_tools = !tools.is_empty();
    let tool_choice = match (req.tool_choice.as_ref(), raw_choice) {
        _ if !has_tools => None,
        (Some(ToolChoice::Tool(n)), _) => Some(match map.get(n) {
            Some(t) => {
                let kind = if t.custom { "custom" } else { "function" };
                let mut c = json!({"type": kind, "name": t.name});
                if let Some(ns) = &t.namespace {
                    c["namespace"] = json!(ns);
                }
                c
            }
            None => json!({"type": "function", "name": wire_name(n)}),
        }),
        (Some(c), raw) if from_responses && raw.is_some() && decode_matches(c, raw.as_ref()) => raw,
        (Some(ToolChoice::Auto), _) => Some(json!("auto")),
        (Some(ToolChoice::Any), _) => Some(json!("required")),
        (Some(ToolChoice::None), _) => Some(json!("none")),
        (None, _) => None,
    };

    let mut reasoning: Option<wire::Reasoning> =
        raw_reasoning.and_then(|r| serde_json::from_value(r).ok());
    if let Some(t) = &req.thinking {
        let r = reasoning.get_or_insert_with(wire::Reasoning::default);
        r.effort = match t.mode {
            // "none" is unknown to older models: say nothing instead.
            ThinkingMode::Disabled => None,
            _ => t
                .effort
                .or(t.budget_tokens.map(budget_effort))
                .map(|e| effort_name(e, from_responses).to_owned())
                .or(r.effort.take()),
        };
        if t.mode != ThinkingMode::Disabled
            && r.summary.is_none()
            && t.include_thoughts != Some(false)
        {
            r.summary = Some("auto".to_owned());
        }
    }
    let reasoning =
        reasoning.filter(|r| r.effort.is_some() || r.summary.is_some() || !r.extra.is_empty());

    let mut text: Option<wire::TextConfig> = raw_text.and_then(|t| serde_json::from_value(t).ok());
    if let Some(f) = &req.response_format {
        text.get_or_insert_with(wire::TextConfig::default).format = Some(encode_format(f));
    }

    let instructions = Text::join(
        req.system
            .iter()
            .filter(|b| !b.is_attribution())
            .map(|b| &b.text),
        "\n\n",
    );
    let include = if from_responses {
        include.and_then(|i| serde_json::from_value(i).ok())
    } else {
        Some(vec![INCLUDE_ENCRYPTED.to_owned()])
    };
    Ok(wire::Request {
        model: req.model.clone(),
        input: Some(wire::Input::Items(input)),
        instructions: (!instructions.is_empty()).then_some(instructions),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        reasoning,
        text,
        max_output_tokens: req.max_tokens.map(|m| m.max(MIN_OUTPUT_TOKENS)),
        temperature: req.temperature.map(|t| t.clamp(0.0, 2.0)),
        top_p: req.top_p,
        stream: req.stream.then_some(true),
        // Stateless: the gateway sends the whole history every time.
        store: Some(if from_responses {
            store.and_then(|s| s.as_bool()).unwrap_or(false)
        } else {
            false
        }),
        include,
        user: req.user.clone(),
        extra,
    })
}

/// Whether the client's own `tool_choice` still says what the IR says (rules may change it).
fn decode_matches(c: &ToolChoice, raw: Option<&Value>) -> bool {
    raw.and_then(|r| decode_tool_choice(r, &ToolMap::default()))
        .is_some_and(|d| &d == c)
}

fn budget_effort(budget: u32) -> Effort {
    match budget {
        b if b >= 10_000 => Effort::High,
        b if b >= 5_000 => Effort::Medium,
        _ => Effort::Low,
    }
}

fn effort_name(e: Effort, from_responses: bool) -> &'static str {
    match e {
        Effort::Minimal => "minimal",
        Effort::Low => "low",
        Effort::Medium => "medium",
        Effort::High => "high",
        Effort::XHigh if from_responses => "xhigh",
        Effort::Max if from_responses => "max",
        Effort::XHigh | Effort::Max => "high",
    }
}

fn encode_format(f: &ResponseFormat) -> Value {
    match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => {
            let mut v = json!({"type": "json_schema",
                "name": name.clone().unwrap_or_else(|| "response".to_owned()),
                "schema": schema});
            if let Some(s) = strict {
                v["strict"] = json!(s);
            }
            v
        }
    }
}

fn block_text(blocks: &[Block]) -> Text {
    Text::join(
        blocks.iter().filter_map(|b| match b {
            Block::Text { text, .. } => Some(text),
            _ => None,
        }),
        "\n",
    )
}

fn image_url(img: &Image) -> String {
    match &img.source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url, .. } => url.clone(),
    }
}

/// Input parts for user content (and tool outputs).
fn input_parts(blocks: &[Block], from_responses: bool) -> Vec<Value> {
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            Block::Text { text, .. } if !text.is_empty() => {
                parts.push(json!({"type": "input_text", "text": Value::from(text)}))
            }
            Block::Image(img) => {
                parts.push(json!({"type": "input_image", "image_url": image_url(img)}))
            }
            Block::Unknown {
                origin: Dialect::Responses,
                value,
            } if from_responses => parts.push(value.clone()),
            Block::Document(doc) if doc.extra.origin == Some(Dialect::Responses) => {
                parts.push(file_part(doc));
            }
            // Another dialect's document as text, as for Chat upstreams: not every server
            // behind `--wire responses` takes files.
            Block::Document(doc) => {
                let text = doc
                    .as_text()
                    .unwrap_or_else(|| doc.not_included("this upstream does not take documents"));
                parts.push(json!({"type": "input_text", "text": text}));
            }
            _ => {}
        }
    }
    parts
}

/// Tool results first, as `function_call_output` items; then the message's own content.
fn encode_user(m: &ir::Message, from_responses: bool, out: &mut Vec<Value>) {
    let mut own = Vec::new();
    for b in &m.content {
        match b {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                let parts = input_parts(content, from_responses);
                let only_text = parts.iter().all(|p| p["type"] == "input_text");
                let output = if only_text {
                    let mut text = parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n");
                    if *is_error {
                        text = if text.is_empty() {
                            "Error".to_owned()
                        } else {
                            format!("Error: {text}")
                        };
                    }
                    json!(text)
                } else {
                    Value::Array(parts)
                };
                out.push(json!({"type": "function_call_output",
                    "call_id": wire_call_id(tool_use_id), "output": output}));
            }
            other => own.push(other.clone()),
        }
    }
    let parts = input_parts(&own, from_responses);
    if !parts.is_empty() {
        out.push(json!({"type": "message", "role": "user", "content": parts}));
    }
}

/// A call's output written right after a user message (a reasoning item the encoder left out
/// stood between them) goes before it, as a user turn's results go first: read back, the two
/// are one turn, which must encode the same (fuzz finding). Per run of user messages and
/// outputs, the outputs first, each side in its order (a stable sort: linear in the run).
fn results_before_user_messages(input: &mut [Value]) {
    let user_message = |v: &Value| v["type"] == "message" && v["role"] == "user";
    let output = |v: &Value| {
        matches!(
            v["type"].as_str(),
            Some("function_call_output" | "custom_tool_call_output")
        )
    };
    let in_run = |v: &Value| user_message(v) || output(v);
    for run in input.chunk_by_mut(|a, b| in_run(a) && in_run(b)) {
        if !run.is_sorted_by_key(|v| !output(v)) {
            run.sort_by_key(|v| !output(v));
        }
    }
}

fn encode_assistant(
    m: &ir::Message,
    map: &ToolMap,
    wire_name: &dyn Fn(&str) -> String,
    out: &mut Vec<Value>,
) {
    let mut text: Vec<Value> = Vec::new();
    let flush = |text: &mut Vec<Value>, out: &mut Vec<Value>| {
        if !text.is_empty() {
            out.push(
                json!({"type": "message", "role": "assistant", "status": "completed",
                "content": std::mem::take(text)}),
            );
        }
    };
    for b in &m.content {
        match b {
            Block::Text { text: t, .. } if !t.is_empty() => {
                text.push(json!({"type": "output_text", "text": Value::from(t), "annotations": []}))
            }
            Block::Thinking {
                text: t,
                signature:
                    Some(Signature {
                        origin: Dialect::Responses,
                        value,
                    }),
            } => {
                flush(&mut text, out);
                let (id, enc) = envelope::unpack_native(value);
                let summary: Vec<Value> = if t.is_empty() {
                    Vec::new()
                } else {
                    vec![json!({"type": "summary_text", "text": t})]
                };
                let mut item = json!({"type": "reasoning", "summary": summary,
                    "encrypted_content": enc});
                if !id.is_empty() {
                    item["id"] = json!(id);
                }
                out.push(item);
            }
            Block::ToolUse {
                id, name, input, ..
            } => {
                flush(&mut text, out);
                let call_id = wire_call_id(id);
                let item = match map.get(name) {
                    Some(t) if t.custom => {
                        let mut v = json!({"type": "custom_tool_call", "call_id": call_id,
                            "name": t.name, "input": custom_input(input.value())});
                        if let Some(ns) = &t.namespace {
                            v["namespace"] = json!(ns);
                        }
                        v
                    }
                    Some(t) => {
                        let mut v = json!({"type": "function_call", "call_id": call_id,
                            "name": t.name, "arguments": input.to_compact_string()});
                        if let Some(ns) = &t.namespace {
                            v["namespace"] = json!(ns);
                        }
                        v
                    }
                    None => json!({"type": "function_call", "call_id": call_id,
                        "name": wire_name(name), "arguments": input.to_compact_string()}),
                };
                out.push(item);
            }
            // Foreign signatures, unsigned thoughts and redacted thinking: OpenAI cannot take
            // them (`invalid_encrypted_content`, or a 404 for an unknown reasoning id).
            _ => {}
        }
    }
    flush(&mut text, out);
}

/// The output items of custom tools answer as `custom_tool_call_output`: fixed up after the
/// walk, since a result does not say which kind of call it answers.
fn fix_custom_outputs(input: &mut [Value]) {
    let custom: std::collections::HashSet<String> = input
        .iter()
        .filter(|i| i["type"] == "custom_tool_call")
        .filter_map(|i| i["call_id"].as_str().map(str::to_owned))
        .collect();
    if custom.is_empty() {
        return;
    }
    for item in input.iter_mut() {
        if item["type"] == "function_call_output"
            && item["call_id"].as_str().is_some_and(|c| custom.contains(c))
        {
            item["type"] = json!("custom_tool_call_output");
        }
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
