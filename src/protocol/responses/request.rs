//! Responses requests <-> IR: `decode_request` for Codex and `client.responses.create`
//! clients (reference §2, §7.1), `encode_request` for Responses upstreams (§7.3).
//!
//! Decoding: `instructions` and the leading `system`/`developer` messages make the system
//! prompt (later ones stay mid-conversation system messages, as in the Chat dialect); assistant
//! side items (`reasoning`, assistant messages, `function_call`, `custom_tool_call`) in a row
//! are one assistant turn, call outputs in a row one user turn of tool results; calls without
//! an output and outputs without a call are dropped (pitfall 11), repeated outputs kept once.
//! Reasoning items become thinking blocks per `envelope.rs`. Fields the IR does not model stay
//! as Responses extras; unknown item types are dropped with a log line, never an error.

use serde_json::{Map, Value, json};

use super::envelope::{self, Carried};
use super::tools::{CUSTOM_INPUT, ToolDecoder, ToolMap, custom_input, encode_tools};
use super::wire::{self, Content, Input};
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir::{
    self, Block, Dialect, Effort, Extras, Image, ImageSource, Json, ResponseFormat, Role,
    Signature, SystemBlock, Text, ThinkingConfig, ThinkingMode, ToolChoice,
};
use crate::protocol::openai;

/// The `include` value that asks for reasoning items a client can replay statelessly.
pub const INCLUDE_ENCRYPTED: &str = "reasoning.encrypted_content";

/// OpenAI's floor for `max_output_tokens`.
const MIN_OUTPUT_TOKENS: u32 = 16;
/// OpenAI's limit on call ids and function names.
const MAX_ID_LEN: usize = 64;

/// Decodes a client's `POST /v1/responses` body.
pub fn decode_request(body: &[u8], hints: &RequestHints) -> Result<ir::Request, CodecError> {
    let w: wire::Request = openai::request::parse(body)?;
    let mut extra = w.extra;
    if extra.get("conversation").is_some_and(|c| !c.is_null()) {
        return Err(CodecError::Unsupported(
            "`conversation` objects; send the history in `input` (or use `previous_response_id`)"
                .into(),
        ));
    }
    if extra.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(CodecError::Unsupported(
            "`background: true`; the gateway answers while the request is open".into(),
        ));
    }
    let mut tools = ToolDecoder::default();
    for t in w.tools.iter().flatten() {
        tools.add(t);
    }
    let mut system = Vec::new();
    if let Some(i) = w.instructions.as_ref().filter(|i| !i.is_empty()) {
        system.push(SystemBlock {
            text: i.clone(),
            cache_control: None,
        });
    }
    let messages = match w.input {
        None => Vec::new(),
        Some(Input::Text(t)) => vec![ir::Message {
            role: Role::User,
            content: vec![text_block(t)],
        }],
        Some(Input::Items(items)) => {
            let mut walk = Walk {
                system: &mut system,
                tools: &mut tools,
                messages: Vec::new(),
                leading: true,
                call_sig: None,
            };
            for (i, item) in items.into_iter().enumerate() {
                walk.item(i, item)?;
            }
            drop_orphans(walk.messages)
        }
    };
    let tool_choice = w
        .tool_choice
        .as_ref()
        .and_then(|c| decode_tool_choice(c, &tools.map));
    let thinking = w.reasoning.as_ref().and_then(decode_reasoning);
    let response_format = w
        .text
        .as_ref()
        .and_then(|t| t.format.as_ref())
        .and_then(decode_format);
    // Kept for a Responses upstream and for the reply's echo (see `ReplyContext`).
    for (key, value) in [
        ("instructions", w.instructions.map(|i| json!(i.as_str()))),
        ("tool_choice", w.tool_choice),
        ("reasoning", w.reasoning.map(|r| json!(r))),
        ("text", w.text.map(|t| json!(t))),
        ("store", w.store.map(Value::Bool)),
        ("include", w.include.map(|i| json!(i))),
    ] {
        if let Some(v) = value {
            extra.insert(key.to_owned(), v);
        }
    }
    Ok(ir::Request {
        model: if w.model.is_empty() {
            hints.model.clone().unwrap_or_default()
        } else {
            w.model
        },
        system,
        messages,
        tools: tools.tools,
        tool_choice,
        parallel_tool_calls: w.parallel_tool_calls,
        max_tokens: w.max_output_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        stream: w.stream.or(hints.stream).unwrap_or(false),
        thinking,
        response_format,
        user: w.user,
        extra: Extras::new(Dialect::Responses, extra),
        ..ir::Request::default()
    })
}

fn text_block(text: impl Into<Text>) -> Block {
    Block::Text {
        text: text.into(),
        signature: None,
        cache_control: None,
    }
}

fn field<T: serde::de::DeserializeOwned>(item: Value, i: usize) -> Result<T, CodecError> {
    serde_json::from_value(item).map_err(|e| CodecError::from_json(&e, format!("input[{i}]")))
}

/// The walk over `input` items.
struct Walk<'a> {
    system: &'a mut Vec<SystemBlock>,
    tools: &'a mut ToolDecoder,
    messages: Vec<ir::Message>,
    /// No user or assistant item yet: system/developer messages join the system prompt.
    leading: bool,
    /// A Gemini call signature read from a `gemini.call` envelope, for the next call.
    call_sig: Option<Signature>,
}

impl Walk<'_> {
    fn item(&mut self, i: usize, item: Value) -> Result<(), CodecError> {
        let kind = match item.get("type").and_then(Value::as_str) {
            Some(k) => k.to_owned(),
            None if item.get("role").is_some() => "message".to_owned(),
            None => {
                return Err(CodecError::Invalid(format!(
                    "input[{i}]: an item needs a `type` or a `role`"
                )));
            }
        };
        match kind.as_str() {
            "message" => self.message(field(item, i)?, i),
            "function_call" => {
                let c: wire::FunctionCall = field(item, i)?;
                let name = self.flat_name(&c.name, c.namespace.as_deref());
                let input = parse_arguments(&c.arguments);
                self.call(c.call_id, name, input);
                Ok(())
            }
            "custom_tool_call" => {
                let c: wire::CustomToolCall = field(item, i)?;
                let name = self.flat_name(&c.name, c.namespace.as_deref());
                self.call(c.call_id, name, json!({ CUSTOM_INPUT: c.input }).into());
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" => {
                let o: wire::CallOutput = field(item, i)?;
                let block = Block::ToolResult {
                    tool_use_id: o.call_id,
                    content: content_blocks(&o.output),
                    is_error: false,
                    cache_control: None,
                };
                self.push(Role::User, vec![block]);
                Ok(())
            }
            "reasoning" => {
                self.reasoning(field(item, i)?);
                Ok(())
            }
            "additional_tools" => {
                // Lite Codex models get their tools here instead of in `tools` (pitfall 5).
                if let Some(Value::Array(ts)) = item.get("tools") {
                    for t in ts {
                        self.tools.add(t);
                    }
                }
                Ok(())
            }
            other => {
                tracing::debug!(item = other, "responses: dropping an input item");
                Ok(())
            }
        }
    }

    fn flat_name(&self, name: &str, namespace: Option<&str>) -> String {
        self.tools.map.flat_name(name, namespace)
    }

    fn call(&mut self, id: String, name: String, input: Json) {
        let signature = self.call_sig.take();
        self.push(
            Role::Assistant,
            vec![Block::ToolUse {
                id,
                name,
                input,
                signature,
            }],
        );
    }

    fn message(&mut self, m: wire::MessageItem, i: usize) -> Result<(), CodecError> {
        match m.role.as_str() {
            "system" | "developer" => {
                let texts: Vec<Text> = content_blocks(&m.content)
                    .into_iter()
                    .filter_map(|b| match b {
                        Block::Text { text, .. } => Some(text),
                        _ => None,
                    })
                    .collect();
                if self.leading {
                    self.system
                        .extend(texts.into_iter().map(|text| SystemBlock {
                            text,
                            cache_control: None,
                        }));
                } else if !texts.is_empty() {
                    self.messages.push(ir::Message {
                        role: Role::System,
                        content: texts.into_iter().map(text_block).collect(),
                    });
                }
            }
            "user" => {
                let blocks = content_blocks(&m.content);
                if !blocks.is_empty() {
                    self.push(Role::User, blocks);
                }
            }
            "assistant" => {
                let blocks: Vec<Block> = content_blocks(&m.content)
                    .into_iter()
                    .filter(|b| !matches!(b, Block::Text { text, .. } if text.is_empty()))
                    .collect();
                if !blocks.is_empty() {
                    self.push(Role::Assistant, blocks);
                }
            }
            other => {
                return Err(CodecError::Invalid(format!(
                    "input[{i}].role: unknown role `{other}` (expected user, assistant, system or developer)"
                )));
            }
        }
        Ok(())
    }

    fn reasoning(&mut self, r: wire::ReasoningItem) {
        let parts = if r.summary.iter().any(|p| !p.text.is_empty()) {
            &r.summary
        } else {
            r.content.as_ref().unwrap_or(&r.summary)
        };
        let text = parts
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let thought = |text: String, signature| Block::Thinking { text, signature };
        let block = match r.encrypted_content.as_deref().filter(|e| !e.is_empty()) {
            None => (!text.is_empty()).then(|| thought(text, None)),
            Some(enc) => match envelope::open(enc) {
                None => Some(thought(
                    text,
                    Some(Signature {
                        origin: Dialect::Responses,
                        value: envelope::pack_native(&r.id, enc),
                    }),
                )),
                Some(None) => {
                    tracing::debug!("responses: dropping an unreadable gateway envelope");
                    (!text.is_empty()).then(|| thought(text, None))
                }
                Some(Some(Carried::AnthropicRedacted(data))) => {
                    Some(Block::RedactedThinking { data })
                }
                Some(Some(Carried::GeminiCall(sig))) => {
                    self.call_sig = Some(Signature {
                        origin: Dialect::Gemini,
                        value: sig,
                    });
                    (!text.is_empty()).then(|| thought(text, None))
                }
                Some(Some(Carried::GeminiText(sig))) => {
                    let sig = Signature {
                        origin: Dialect::Gemini,
                        value: sig,
                    };
                    match self.last_assistant_text() {
                        Some(slot) => {
                            *slot = Some(sig);
                            None
                        }
                        None => Some(thought(text, Some(sig))),
                    }
                }
                Some(Some(c)) => Some(thought(text, c.signature())),
            },
        };
        if let Some(b) = block {
            self.push(Role::Assistant, vec![b]);
        }
    }

    /// The signature slot of the current assistant turn's last text, when it is unsigned.
    fn last_assistant_text(&mut self) -> Option<&mut Option<Signature>> {
        let last = self.messages.last_mut()?;
        if last.role != Role::Assistant {
            return None;
        }
        match last.content.last_mut()? {
            Block::Text { signature, .. } if signature.is_none() => Some(signature),
            _ => None,
        }
    }

    /// Appends to the last message when it has the same role, else starts a new one.
    fn push(&mut self, role: Role, blocks: Vec<Block>) {
        self.leading = false;
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.messages.push(ir::Message {
                role,
                content: blocks,
            }),
        }
    }
}

/// Tool-call arguments: a JSON object text; empty or `null` is `{}`; anything else is kept as
/// text under `_raw` rather than failing the whole request.
fn parse_arguments(args: &str) -> Json {
    let args = args.trim();
    if args.is_empty() {
        return Json::empty_object();
    }
    if let Ok(j) = Json::parse(args)
        && j.is_object()
    {
        return j;
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Null) => Json::empty_object(),
        _ => json!({ "_raw": args }).into(),
    }
}

/// Message or tool-output content as IR blocks.
fn content_blocks(content: &Content) -> Vec<Block> {
    match content {
        Content::Text(t) => vec![text_block(t.clone())],
        Content::Parts(parts) => parts.iter().filter_map(part_block).collect(),
    }
}

fn part_block(part: &Value) -> Option<Block> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
    let s = |k: &str| part.get(k).and_then(Value::as_str);
    Some(match kind {
        "input_text" | "output_text" | "text" | "summary_text" => text_block(s("text")?),
        "refusal" => text_block(s("refusal")?),
        "input_image" => match s("image_url") {
            Some(url) => Block::Image(Image {
                source: openai::request::decode_image_url(url),
                cache_control: None,
            }),
            None => Block::Unknown {
                origin: Dialect::Responses,
                value: part.clone(),
            },
        },
        "input_file" => file_document(part).unwrap_or_else(|| Block::Unknown {
            origin: Dialect::Responses,
            value: part.clone(),
        }),
        _ => Block::Unknown {
            origin: Dialect::Responses,
            value: part.clone(),
        },
    })
}

/// An `input_file` part (`file_data` as a data URL, or a `file_url` / `file_id`) as a
/// document; its other fields stay in the extras. `None` for a shape it does not know.
fn file_document(part: &Value) -> Option<Block> {
    let mut rest = part.as_object()?.clone();
    rest.remove("type");
    let title = match rest.remove("filename") {
        Some(Value::String(t)) => Some(t),
        None => None,
        Some(_) => return None,
    };
    let text =
        |rest: &Map<String, Value>, k: &str| rest.get(k).and_then(Value::as_str).map(str::to_owned);
    let source = match rest.remove("file_data") {
        Some(Value::String(url)) => match openai::request::decode_image_url(&url) {
            ImageSource::Base64 { media_type, data } => {
                ir::DocumentSource::Base64 { media_type, data }
            }
            ImageSource::Url { .. } => return None,
        },
        Some(_) => return None,
        None => match (text(&rest, "file_url"), text(&rest, "file_id")) {
            (Some(url), _) => ir::DocumentSource::Reference { location: url },
            (None, Some(id)) => ir::DocumentSource::Reference {
                location: format!("file `{id}`"),
            },
            (None, None) => return None,
        },
    };
    Some(Block::Document(ir::Document {
        source,
        title,
        cache_control: None,
        extra: Extras::new(Dialect::Responses, rest),
    }))
}

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

/// Drops calls nobody answered and answers to calls that are not there, and repeated answers.
fn drop_orphans(mut messages: Vec<ir::Message>) -> Vec<ir::Message> {
    use std::collections::HashSet;
    let mut calls = HashSet::new();
    let mut answered = HashSet::new();
    for m in &messages {
        for b in &m.content {
            match b {
                Block::ToolUse { id, .. } => {
                    calls.insert(id.clone());
                }
                Block::ToolResult { tool_use_id, .. } => {
                    answered.insert(tool_use_id.clone());
                }
                _ => {}
            }
        }
    }
    let mut seen = HashSet::new();
    let before: usize = messages.iter().map(|m| m.content.len()).sum();
    for m in &mut messages {
        m.content.retain(|b| match b {
            Block::ToolUse { id, .. } => {
                let keep = answered.contains(id);
                if !keep {
                    tracing::debug!(call = %id, "responses: dropping a call without an output");
                }
                keep
            }
            Block::ToolResult { tool_use_id, .. } => {
                let keep = calls.contains(tool_use_id) && seen.insert(tool_use_id.clone());
                if !keep {
                    tracing::debug!(call = %tool_use_id, "responses: dropping an unmatched output");
                }
                keep
            }
            _ => true,
        });
    }
    messages.retain(|m| !m.content.is_empty());
    if messages.iter().map(|m| m.content.len()).sum::<usize>() == before {
        return messages;
    }
    // A dropped call can leave two turns of one role side by side: one turn, as the walk makes
    // of adjacent items (so decoding what was encoded from this gives the same turns).
    let mut merged: Vec<ir::Message> = Vec::with_capacity(messages.len());
    for m in messages {
        match merged.last_mut() {
            Some(last) if last.role == m.role => last.content.extend(m.content),
            _ => merged.push(m),
        }
    }
    merged
}

fn decode_tool_choice(c: &Value, tools: &ToolMap) -> Option<ToolChoice> {
    match c {
        Value::String(s) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Any),
            other => {
                tracing::debug!(choice = other, "responses: unknown tool_choice, using auto");
                Some(ToolChoice::Auto)
            }
        },
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let name = o.get("name").and_then(Value::as_str);
            match (kind, name) {
                ("function" | "custom", Some(n)) => Some(ToolChoice::Tool(
                    tools.flat_name(n, o.get("namespace").and_then(Value::as_str)),
                )),
                ("allowed_tools", _) => match o.get("mode").and_then(Value::as_str) {
                    Some("required") => Some(ToolChoice::Any),
                    _ => Some(ToolChoice::Auto),
                },
                _ => {
                    tracing::debug!(choice = kind, "responses: hosted tool_choice, using auto");
                    Some(ToolChoice::Auto)
                }
            }
        }
        _ => None,
    }
}

fn decode_reasoning(r: &wire::Reasoning) -> Option<ThinkingConfig> {
    let include_thoughts = r.summary.as_ref().map(|_| true);
    let effort = r.effort.as_deref()?;
    if effort == "none" {
        return Some(ThinkingConfig {
            mode: ThinkingMode::Disabled,
            budget_tokens: None,
            effort: None,
            include_thoughts: None,
        });
    }
    let effort = match effort {
        "minimal" => Some(Effort::Minimal),
        "low" => Some(Effort::Low),
        "medium" => Some(Effort::Medium),
        "high" => Some(Effort::High),
        "xhigh" => Some(Effort::XHigh),
        "max" | "ultra" => Some(Effort::Max),
        // Codex's catalog grows new names; the model still thinks.
        other => {
            tracing::debug!(effort = other, "responses: unknown reasoning effort");
            None
        }
    };
    Some(ThinkingConfig {
        mode: ThinkingMode::Enabled,
        budget_tokens: None,
        effort,
        include_thoughts,
    })
}

fn decode_format(f: &Value) -> Option<ResponseFormat> {
    match f.get("type").and_then(Value::as_str)? {
        "text" => Some(ResponseFormat::Text),
        "json_object" => Some(ResponseFormat::JsonObject),
        "json_schema" => Some(ResponseFormat::JsonSchema {
            name: f.get("name").and_then(Value::as_str).map(str::to_owned),
            schema: f.get("schema").cloned().unwrap_or_else(|| json!({})),
            strict: f.get("strict").and_then(Value::as_bool),
        }),
        _ => None,
    }
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
