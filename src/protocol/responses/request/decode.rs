//! `decode_request`: a client's `POST /v1/responses` body into the IR.
//!
//! `instructions` and the leading `system`/`developer` messages make the system prompt (later
//! ones stay mid-conversation system messages, as in the Chat dialect); assistant side items
//! (`reasoning`, assistant messages, `function_call`, `custom_tool_call`) in a row are one
//! assistant turn, call outputs in a row one user turn of tool results; calls without an output
//! and outputs without a call are dropped (pitfall 11), repeated outputs kept once. Reasoning
//! items become thinking blocks per `envelope.rs`. Fields the IR does not model stay as
//! Responses extras; unknown item types are dropped with a log line, never an error.
//!
//! The body is read the typed way first (`wire::input`: no `Value` tree, texts and schemas kept
//! as the client's text); a body that reading declines is read again the exact way
//! (`wire::Request`, items as values), whose errors name the field at fault. Both arrive as
//! `wire::input` types, and one walk makes the IR.

use serde_json::{Map, Value, json};

use super::super::envelope::{self, Carried};
use super::super::tools::{CUSTOM_INPUT, ToolDecoder, ToolMap};
use super::super::wire::input::{Content, Input, Item, Part};
use super::super::wire::{self, input};
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir::{
    self, Block, Dialect, Effort, Extras, Image, ImageSource, Json, ResponseFormat, Role,
    Signature, SystemBlock, Text, ThinkingConfig, ThinkingMode, ToolChoice,
};
use crate::protocol::openai;

/// Decodes a client's `POST /v1/responses` body.
pub fn decode_request(body: &[u8], hints: &RequestHints) -> Result<ir::Request, CodecError> {
    // UTF-8 checked once for the whole body, not string by string.
    let fast = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str::<input::Request>(text).ok());
    let w = match fast {
        Some(w) => w,
        None => input::Request::from_exact(openai::request::parse::<wire::Request>(body)?),
    };
    request_from_wire(w, hints)
}

/// The exact reading alone, for tests comparing it with the typed one.
#[cfg(test)]
pub(super) fn decode_exact(body: &[u8], hints: &RequestHints) -> Result<ir::Request, CodecError> {
    let w = openai::request::parse::<wire::Request>(body)?;
    request_from_wire(input::Request::from_exact(w), hints)
}

/// Whether the typed reading takes `body` (else the exact one decides).
#[cfg(test)]
pub(super) fn typed_reading_takes(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .is_some_and(|text| serde_json::from_str::<input::Request>(text).is_ok())
}

fn request_from_wire(w: input::Request, hints: &RequestHints) -> Result<ir::Request, CodecError> {
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
    for t in w.tools.into_iter().flatten() {
        tools.add_wire(t);
    }
    let mut system = Vec::new();
    if let Some(i) = w.instructions.as_ref().filter(|i| !i.is_empty()) {
        system.push(SystemBlock {
            text: i.clone(),
            cache_control: None,
        });
    }
    let mut walk = Walk {
        system: &mut system,
        tools: &mut tools,
        messages: Vec::new(),
        leading: true,
        call_sig: None,
    };
    match w.input {
        None => {}
        Some(Input::Text(t)) => walk.push(Role::User, vec![text_block(t)]),
        Some(Input::Items(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                walk.item(i, item)?;
            }
        }
        Some(Input::Values(items)) => {
            // Read and walked one by one: the first item at fault is the one named.
            for (i, item) in items.into_iter().enumerate() {
                if let Some(item) = item_from_value(item, i)? {
                    walk.item(i, item)?;
                }
            }
        }
    }
    let mut messages = drop_orphans(walk.messages);
    results_first(&mut messages);
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

/// An item of the exact reading, read by its `type` (`None`: nothing to walk).
fn item_from_value(item: Value, i: usize) -> Result<Option<Item>, CodecError> {
    let kind = match item.get("type").and_then(Value::as_str) {
        Some(k) => k.to_owned(),
        None if item.get("role").is_some() => "message".to_owned(),
        None => {
            return Err(CodecError::Invalid(format!(
                "input[{i}]: an item needs a `type` or a `role`"
            )));
        }
    };
    let call = |name, call_id, namespace, arguments| input::Call {
        call_id,
        name,
        namespace,
        arguments,
    };
    Ok(Some(match kind.as_str() {
        "message" => {
            let m: wire::MessageItem = field(item, i)?;
            Item::Message {
                role: m.role,
                content: content_from_value(m.content),
            }
        }
        "function_call" => {
            let c: wire::FunctionCall = field(item, i)?;
            Item::FunctionCall(call(c.name, c.call_id, c.namespace, c.arguments))
        }
        "custom_tool_call" => {
            let c: wire::CustomToolCall = field(item, i)?;
            Item::CustomToolCall(call(c.name, c.call_id, c.namespace, c.input))
        }
        "function_call_output" | "custom_tool_call_output" => {
            let o: wire::CallOutput = field(item, i)?;
            Item::CallOutput {
                call_id: o.call_id,
                output: content_from_value(o.output),
            }
        }
        "reasoning" => {
            let r: wire::ReasoningItem = field(item, i)?;
            Item::Reasoning(input::ReasoningItem {
                id: r.id,
                summary: r.summary,
                content: r.content,
                encrypted_content: r.encrypted_content,
            })
        }
        "additional_tools" => Item::AdditionalTools(match item {
            Value::Object(mut o) => match o.remove("tools") {
                Some(Value::Array(ts)) => ts.into_iter().map(input::Tool::Value).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }),
        _ => Item::Unknown(kind),
    }))
}

fn content_from_value(c: wire::Content) -> Content {
    match c {
        wire::Content::Text(t) => Content::Text(t),
        wire::Content::Parts(ps) => {
            Content::Parts(ps.into_iter().filter_map(Part::from_value).collect())
        }
    }
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
    fn item(&mut self, i: usize, item: Item) -> Result<(), CodecError> {
        match item {
            Item::Message { role, content } => return self.message(&role, content, i),
            Item::FunctionCall(c) => {
                let name = self.flat_name(&c.name, c.namespace.as_deref());
                let input = parse_arguments(&c.arguments);
                self.call(c.call_id, name, input);
            }
            Item::CustomToolCall(c) => {
                let name = self.flat_name(&c.name, c.namespace.as_deref());
                self.call(c.call_id, name, json!({ CUSTOM_INPUT: c.arguments }).into());
            }
            Item::CallOutput { call_id, output } => {
                let block = Block::ToolResult {
                    tool_use_id: call_id,
                    content: content_blocks(output),
                    is_error: false,
                    cache_control: None,
                };
                self.push(Role::User, vec![block]);
            }
            Item::Reasoning(r) => self.reasoning(r),
            Item::AdditionalTools(ts) => {
                // Lite Codex models get their tools here instead of in `tools` (pitfall 5).
                for t in ts {
                    self.tools.add_wire(t);
                }
            }
            Item::Unknown(kind) => {
                tracing::debug!(item = kind, "responses: dropping an input item");
            }
        }
        Ok(())
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

    fn message(&mut self, role: &str, content: Content, i: usize) -> Result<(), CodecError> {
        match role {
            "system" | "developer" => {
                let texts: Vec<Text> = content_blocks(content)
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
            // Empty texts carry nothing and every encoder leaves them out; kept, an empty user
            // turn would stop a system message after it from leading, and the request would
            // read differently once encoded (fuzz finding).
            "user" | "assistant" => {
                let blocks: Vec<Block> = content_blocks(content)
                    .into_iter()
                    .filter(|b| !matches!(b, Block::Text { text, .. } if text.is_empty()))
                    .collect();
                if !blocks.is_empty() {
                    let role = if role == "user" {
                        Role::User
                    } else {
                        Role::Assistant
                    };
                    self.push(role, blocks);
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

    fn reasoning(&mut self, r: input::ReasoningItem) {
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
fn content_blocks(content: Content) -> Vec<Block> {
    match content {
        Content::Text(t) => vec![text_block(t)],
        Content::Parts(parts) => parts.into_iter().map(part_block).collect(),
    }
}

fn part_block(part: Part) -> Block {
    let unknown = |value| Block::Unknown {
        origin: Dialect::Responses,
        value,
    };
    match part {
        Part::Text(t) => text_block(t),
        Part::Image(url) => Block::Image(Image {
            source: openai::request::decode_image_url(&url),
            cache_control: None,
        }),
        Part::Other(v) if v.get("type").and_then(Value::as_str) == Some("input_file") => {
            file_document(&v).unwrap_or_else(|| unknown(v))
        }
        Part::Other(v) => unknown(v),
    }
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
/// A user turn's call outputs ahead of its own content, each kept in its order, where every
/// encoder writes them: a message then an output (as read, or as `drop_orphans` joined them)
/// would otherwise read back in the other order once encoded (fuzz finding). A stable sort,
/// and only of the turns that need it.
fn results_first(messages: &mut [ir::Message]) {
    let other = |b: &Block| !matches!(b, Block::ToolResult { .. });
    for m in messages.iter_mut().filter(|m| m.role == Role::User) {
        if !m.content.is_sorted_by_key(other) {
            m.content.sort_by_key(other);
        }
    }
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

pub(super) fn decode_tool_choice(c: &Value, tools: &ToolMap) -> Option<ToolChoice> {
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
