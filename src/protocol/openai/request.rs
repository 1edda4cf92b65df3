//! Chat Completions requests <-> IR: `decode_request` for OpenAI clients, `encode_request` /
//! `encode_request_with` for OpenAI-compatible upstreams (docs/translation-rules.md C1-C17).
//!
//! Provider differences are not decided here: `upstream/` picks an [`EncodeOptions`] per provider
//! (DeepSeek's reasoning replay, Qwen's `enable_thinking`, o-series `max_completion_tokens`, a
//! `max_tokens` cap) and may edit the typed result further. Tool names OpenAI would reject are
//! rewritten by [`ToolNames`] (in `names.rs`), whose map turns them back in replies.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::names::ToolNames;
use super::thinking::{ThinkingStyle, apply_thinking, decode_thinking};
use super::wire::{self, ContentPart, MessageContent, Role};
use crate::protocol::codec::{CodecError, RequestHints};
use crate::protocol::ir::{
    self, Block, Dialect, Extras, FunctionTool, Image, ImageSource, Json, SystemBlock, Text,
    ToolChoice,
};

const MAX_COMPLETION_TOKENS: &str = "max_completion_tokens";

/// Provider switches for [`encode_request_with`]; `upstream/` chooses them.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// Send thinking text back as `reasoning_content` on assistant messages, and `""` on every
    /// assistant tool-call turn without one (DeepSeek / Qwen thinking mode, C10).
    pub reasoning_history: bool,
    /// Write the output limit as `max_completion_tokens` (OpenAI o-series) instead of `max_tokens`.
    pub max_completion_tokens: bool,
    /// Clamp the output limit to the upstream model's maximum (A3.4).
    pub max_tokens_cap: Option<u32>,
    pub thinking_style: ThinkingStyle,
    /// Send `top_k` as a body field (vLLM, Qwen); OpenAI itself rejects it.
    pub send_top_k: bool,
    /// Turn mid-conversation system messages into `<system-reminder>` user text, for providers
    /// that only accept a leading system message (A4.2).
    pub mid_system_as_user: bool,
}

/// Parses JSON into a wire type; errors name the field at fault (`messages[1].content`).
/// Well-formed input takes the plain parser: path tracking (a `String` per key, the flattened
/// `extra` maps buffered twice) more than doubled the cost of a reply, and only a failure needs
/// it, so a failure parses again with it.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    // UTF-8 checked once for the whole body, not string by string.
    if let Some(value) = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
    {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            "body".to_owned()
        } else {
            field
        };
        CodecError::from_json(e.inner(), field)
    })?;
    de.end().map_err(|e| CodecError::from_json(&e, "body"))?;
    Ok(value)
}

/// Decodes a client's Chat Completions request body.
pub fn decode_request(body: &[u8], hints: &RequestHints) -> Result<ir::Request, CodecError> {
    let w: wire::ChatCompletionRequest = parse(body)?;
    let mut req = ir::Request {
        model: if w.model.is_empty() {
            hints.model.clone().unwrap_or_default()
        } else {
            w.model
        },
        stream: w.stream.or(hints.stream).unwrap_or(false),
        stream_include_usage: w
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        max_tokens: w.max_completion_tokens.or(w.max_tokens),
        temperature: w.temperature,
        top_p: w.top_p,
        top_k: w
            .extra
            .get("top_k")
            .and_then(Value::as_u64)
            .and_then(|k| u32::try_from(k).ok()),
        stop: match w.stop {
            None => Vec::new(),
            Some(wire::Stop::One(s)) => vec![s],
            Some(wire::Stop::Many(v)) => v,
        },
        seed: w.seed,
        presence_penalty: w.presence_penalty,
        frequency_penalty: w.frequency_penalty,
        n: w.n,
        parallel_tool_calls: w.parallel_tool_calls,
        thinking: decode_thinking(w.reasoning_effort.as_deref(), &w.extra)?,
        response_format: w.response_format.map(decode_response_format),
        user: w.user,
        ..ir::Request::default()
    };
    let (system, messages) = decode_messages(w.messages)?;
    req.system = system;
    req.messages = messages;
    req.tools = w
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(decode_tool)
        .collect();
    req.tool_choice = w.tool_choice.map(decode_tool_choice).transpose()?;
    let mut extra = w.extra;
    // Remembered (as an OpenAI-only extra) so that an OpenAI upstream gets the field the client
    // chose: o-series models reject `max_tokens`. `encode_request_with` consumes the marker.
    if let Some(m) = w.max_completion_tokens {
        extra.insert(MAX_COMPLETION_TOKENS.to_owned(), json!(m));
    }
    req.extra = Extras::new(Dialect::OpenAi, extra);
    Ok(req)
}

fn text_block(text: impl Into<Text>) -> Block {
    Block::Text {
        text: text.into(),
        signature: None,
        cache_control: None,
    }
}

fn decode_messages(
    wire_messages: Vec<wire::Message>,
) -> Result<(Vec<SystemBlock>, Vec<ir::Message>), CodecError> {
    let mut system = Vec::new();
    let mut messages: Vec<ir::Message> = Vec::new();
    let mut leading = true;
    let mut prev_tool = false;
    for (i, m) in wire_messages.into_iter().enumerate() {
        let role = m.role;
        match role {
            Role::System | Role::Developer => {
                let texts = text_parts(m.content());
                if leading {
                    system.extend(texts.into_iter().map(|text| SystemBlock {
                        text,
                        cache_control: None,
                    }));
                } else {
                    messages.push(ir::Message {
                        role: ir::Role::System,
                        content: texts.into_iter().map(text_block).collect(),
                    });
                }
            }
            Role::User | Role::Assistant => {
                let message = match role {
                    Role::User => ir::Message {
                        role: ir::Role::User,
                        content: content_blocks(m.content()),
                    },
                    _ => decode_assistant(m, i)?,
                };
                // A message with nothing in it is no turn (no encoder sends one), so it does
                // not end the leading system prompt either.
                if message.content.is_empty() {
                    continue;
                }
                messages.push(message);
            }
            Role::Tool => {
                let Some(tool_use_id) = m.tool_call_id.clone() else {
                    return Err(CodecError::Invalid(format!(
                        "messages[{i}].tool_call_id is required on tool messages"
                    )));
                };
                let (tool_use_id, _) = super::carrier::unwrap(tool_use_id);
                let block = Block::ToolResult {
                    tool_use_id,
                    content: content_blocks(m.content()),
                    is_error: false,
                    cache_control: None,
                };
                // Consecutive tool messages answer one assistant turn: one IR user message (C3).
                match messages.last_mut() {
                    Some(last) if prev_tool => last.content.push(block),
                    _ => messages.push(ir::Message {
                        role: ir::Role::User,
                        content: vec![block],
                    }),
                }
            }
            Role::Function => {
                return Err(CodecError::Unsupported(format!(
                    "messages[{i}]: the `function` role is deprecated; use `tool` messages"
                )));
            }
        }
        if !matches!(role, Role::System | Role::Developer) {
            leading = false;
        }
        prev_tool = role == Role::Tool;
    }
    Ok((system, messages))
}

/// The text of a system/developer message, one string per text part.
fn text_parts(content: Option<&MessageContent>) -> Vec<Text> {
    match content {
        None => Vec::new(),
        Some(MessageContent::Text(s)) => vec![s.clone()],
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect(),
    }
}

fn content_blocks(content: Option<&MessageContent>) -> Vec<Block> {
    match content {
        None => Vec::new(),
        Some(MessageContent::Text(s)) => vec![text_block(s.clone())],
        Some(MessageContent::Parts(parts)) => parts.iter().map(part_block).collect(),
    }
}

fn part_block(part: &ContentPart) -> Block {
    match part {
        ContentPart::Text { text, .. } => text_block(text.clone()),
        ContentPart::Refusal { refusal, .. } => text_block(refusal.clone()),
        ContentPart::ImageUrl { image_url, .. } => Block::Image(Image {
            source: decode_image_url(&image_url.url),
            cache_control: None,
        }),
        ContentPart::File(file) => file_document(file).unwrap_or_else(|| Block::Unknown {
            origin: Dialect::OpenAi,
            value: serde_json::to_value(part).unwrap_or(Value::Null),
        }),
        ContentPart::InputAudio(_) => Block::Unknown {
            origin: Dialect::OpenAi,
            value: serde_json::to_value(part).unwrap_or(Value::Null),
        },
    }
}

/// A `file` part (`{"file": {"file_data": "data:...;base64,...", "filename"}}` or a
/// `file_id`) as a document; the file object's other fields stay in its extras. `None` for a
/// shape it does not know (kept verbatim instead).
fn file_document(part: &wire::Extra) -> Option<Block> {
    let Some(Value::Object(file)) = part.get("file") else {
        return None;
    };
    if part.len() != 1 {
        return None;
    }
    let mut rest = file.clone();
    let title = match rest.remove("filename") {
        Some(Value::String(t)) => Some(t),
        None => None,
        Some(_) => return None,
    };
    let source = match (rest.remove("file_data"), rest.get("file_id")) {
        (Some(Value::String(url)), _) => match decode_image_url(&url) {
            ImageSource::Base64 { media_type, data } => {
                ir::DocumentSource::Base64 { media_type, data }
            }
            ImageSource::Url { .. } => return None,
        },
        (None, Some(Value::String(id))) => ir::DocumentSource::Reference {
            location: format!("file `{id}`"),
        },
        _ => return None,
    };
    Some(Block::Document(ir::Document {
        source,
        title,
        cache_control: None,
        extra: Extras::new(Dialect::OpenAi, rest),
    }))
}

/// A Chat client's own document back as its `file` part.
fn file_part(doc: &ir::Document) -> ContentPart {
    let mut file = doc
        .extra
        .for_dialect(Dialect::OpenAi)
        .cloned()
        .unwrap_or_default();
    if let Some(t) = &doc.title {
        file.insert("filename".into(), Value::from(t.as_str()));
    }
    if let ir::DocumentSource::Base64 { media_type, data } = &doc.source {
        file.insert(
            "file_data".into(),
            Value::from(format!("data:{media_type};base64,{data}")),
        );
    }
    ContentPart::File(Map::from_iter([("file".to_owned(), Value::Object(file))]))
}

/// `data:<media type>;base64,<data>` becomes inline data; anything else stays a URL (C7).
pub(crate) fn decode_image_url(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((meta, data)) = rest.split_once(',')
        && let Some(media_type) = meta.strip_suffix(";base64")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url {
        url: url.to_owned(),
        media_type: None,
    }
}

fn decode_assistant(m: wire::Message, i: usize) -> Result<ir::Message, CodecError> {
    let mut content = Vec::new();
    if let Some(r) = m.reasoning_content.as_ref().or(m.reasoning.as_ref())
        && !r.is_empty()
    {
        content.push(Block::Thinking {
            text: r.clone(),
            signature: None,
        });
    }
    content.extend(
        content_blocks(m.content())
            .into_iter()
            .filter(|b| !matches!(b, Block::Text { text, .. } if text.is_empty())),
    );
    if let Some(r) = m.refusal.filter(|r| !r.is_empty()) {
        content.push(text_block(r));
    }
    for (j, call) in m.tool_calls.unwrap_or_default().into_iter().enumerate() {
        let field = format!("messages[{i}].tool_calls[{j}].function.arguments");
        let (id, signature) = super::carrier::unwrap(call.id);
        content.push(Block::ToolUse {
            input: parse_arguments(&call.function.arguments, &field)?,
            id,
            name: call.function.name,
            signature,
        });
    }
    Ok(ir::Message {
        role: ir::Role::Assistant,
        content,
    })
}

/// Tool-call arguments from a client: a JSON object text; empty or `null` means `{}`. An
/// object is kept as text ([`Json`]); anything else goes through a `Value` for its error.
fn parse_arguments(args: &str, field: &str) -> Result<Json, CodecError> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Json::empty_object());
    }
    if let Ok(j) = Json::parse(args)
        && j.is_object()
    {
        return Ok(j);
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => Ok(Value::Object(m).into()),
        Ok(Value::Null) => Ok(Json::empty_object()),
        Ok(_) => Err(CodecError::InvalidJson {
            field: field.to_owned(),
            message: "tool call arguments must be a JSON object".to_owned(),
        }),
        Err(e) => Err(CodecError::from_json(&e, field)),
    }
}

fn decode_tool(t: wire::Tool) -> ir::Tool {
    match (t.kind.as_str(), t.function) {
        ("function", Some(f)) => {
            let mut extra = f.extra;
            // `strict` is meaningful only to OpenAI upstreams: it travels as an OpenAI extra.
            if let Some(strict) = f.strict {
                extra.insert("strict".to_owned(), Value::Bool(strict));
            }
            ir::Tool::Function(FunctionTool {
                name: f.name,
                description: f.description,
                input_schema: f
                    .parameters
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}).into()),
                cache_control: None,
                extra: Extras::new(Dialect::OpenAi, extra),
            })
        }
        (_, function) => {
            let tool = wire::Tool {
                kind: t.kind,
                function,
                extra: t.extra,
            };
            ir::Tool::Other {
                origin: Dialect::OpenAi,
                value: serde_json::to_value(&tool).unwrap_or(Value::Null),
            }
        }
    }
}

fn decode_tool_choice(c: wire::ToolChoice) -> Result<ToolChoice, CodecError> {
    match c {
        wire::ToolChoice::Mode(m) => match m.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Any),
            other => Err(CodecError::Invalid(format!(
                "tool_choice: unknown value `{other}` (expected auto, none, required or an object)"
            ))),
        },
        wire::ToolChoice::Named(n) => match (n.kind.as_str(), n.function) {
            ("function", Some(f)) => Ok(ToolChoice::Tool(f.name)),
            (kind, _) => Err(CodecError::Unsupported(format!(
                "tool_choice of type `{kind}`"
            ))),
        },
    }
}

fn decode_response_format(f: wire::ResponseFormat) -> ir::ResponseFormat {
    match f {
        wire::ResponseFormat::Text => ir::ResponseFormat::Text,
        wire::ResponseFormat::JsonObject => ir::ResponseFormat::JsonObject,
        wire::ResponseFormat::JsonSchema { json_schema } => ir::ResponseFormat::JsonSchema {
            name: json_schema.name,
            schema: json_schema.schema.unwrap_or_else(|| json!({})),
            strict: json_schema.strict,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Encodes for a generic OpenAI-compatible upstream (default [`EncodeOptions`]).
pub fn encode_request(req: &ir::Request) -> Result<wire::ChatCompletionRequest, CodecError> {
    encode_request_with(req, &EncodeOptions::default())
}

/// Encodes for an OpenAI-compatible upstream with the provider's switches.
pub fn encode_request_with(
    req: &ir::Request,
    opts: &EncodeOptions,
) -> Result<wire::ChatCompletionRequest, CodecError> {
    let from_openai = req.extra.origin == Some(Dialect::OpenAi);
    let names = ToolNames::for_request(req);

    let mut messages = Vec::new();
    let system = Text::join(
        req.system
            .iter()
            .filter(|b| !b.is_attribution())
            .map(|b| &b.text),
        "\n",
    );
    if !system.is_empty() {
        messages.push(wire::Message::new(
            Role::System,
            Some(MessageContent::Text(system)),
        ));
    }
    for m in &req.messages {
        match m.role {
            ir::Role::System => messages.extend(encode_mid_system(m, opts)),
            ir::Role::Assistant => {
                messages.extend(encode_assistant(m, opts, from_openai, &names));
            }
            ir::Role::User => encode_user(m, from_openai, &mut messages),
        }
    }

    let tools: Vec<wire::Tool> = req
        .tools
        .iter()
        .filter_map(|t| encode_tool(t, from_openai, &names))
        .collect();
    let has_tools = !tools.is_empty();
    let max_tokens = req
        .max_tokens
        .map(|m| opts.max_tokens_cap.map_or(m, |cap| m.min(cap)));
    let mut extra = req
        .extra
        .for_dialect(Dialect::OpenAi)
        .cloned()
        .unwrap_or_default();
    let completion_field =
        extra.remove(MAX_COMPLETION_TOKENS).is_some() || opts.max_completion_tokens;

    let mut w = wire::ChatCompletionRequest {
        model: req.model.clone(),
        messages,
        tool_choice: req
            .tool_choice
            .as_ref()
            .filter(|_| has_tools)
            .map(|c| encode_tool_choice(c, &names)),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        tools: has_tools.then_some(tools),
        max_tokens: max_tokens.filter(|_| !completion_field),
        max_completion_tokens: max_tokens.filter(|_| completion_field),
        temperature: req.temperature.map(|t| t.clamp(0.0, 2.0)),
        top_p: req.top_p,
        stop: (!req.stop.is_empty()).then(|| wire::Stop::Many(req.stop.clone())),
        seed: req.seed,
        n: req.n,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        // C17: without usage in the stream there is nothing to report at the end.
        stream: req.stream.then_some(true),
        stream_options: req.stream.then(|| wire::StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        response_format: req.response_format.as_ref().map(encode_response_format),
        reasoning_effort: None,
        user: req.user.clone(),
        extra,
    };
    if opts.send_top_k
        && let Some(k) = req.top_k
    {
        w.extra.insert("top_k".to_owned(), json!(k));
    }
    if let Some(thinking) = &req.thinking {
        apply_thinking(&mut w, thinking, opts.thinking_style, from_openai);
    }
    Ok(w)
}

/// The text blocks' texts joined by newlines.
fn block_text(blocks: &[Block]) -> Text {
    Text::join(
        blocks.iter().filter_map(|b| match b {
            Block::Text { text, .. } => Some(text),
            _ => None,
        }),
        "\n",
    )
}

/// A system message mid-conversation; none when it has no text, as for the leading one.
fn encode_mid_system(m: &ir::Message, opts: &EncodeOptions) -> Option<wire::Message> {
    let text = block_text(&m.content);
    if text.is_empty() {
        return None;
    }
    Some(if opts.mid_system_as_user {
        let text = text.wrap("<system-reminder>\n", "\n</system-reminder>");
        wire::Message::new(Role::User, Some(MessageContent::Text(text)))
    } else {
        wire::Message::new(Role::System, Some(MessageContent::Text(text)))
    })
}

fn encode_assistant(
    m: &ir::Message,
    opts: &EncodeOptions,
    from_openai: bool,
    names: &ToolNames,
) -> Option<wire::Message> {
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for b in &m.content {
        match b {
            Block::Thinking { text, .. } => {
                reasoning.get_or_insert_with(String::new).push_str(text)
            }
            Block::ToolUse {
                id, name, input, ..
            } => calls.push(wire::ToolCall {
                id: id.clone(),
                kind: "function".to_owned(),
                function: wire::FunctionCall {
                    name: names.wire(name).to_owned(),
                    arguments: input.to_compact_string(),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }),
            _ => {}
        }
    }
    let text = block_text(&m.content);
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    let content = if text.is_empty() {
        None
    } else {
        Some(MessageContent::Text(text))
    };
    let mut msg = wire::Message::new(Role::Assistant, content);
    msg.reasoning_content = if opts.reasoning_history {
        // DeepSeek rejects later requests whose tool-call turns lack it, even when empty (C10).
        match reasoning {
            None if !calls.is_empty() => Some(String::new()),
            r => r,
        }
    } else if from_openai {
        reasoning
    } else {
        None
    };
    msg.tool_calls = (!calls.is_empty()).then_some(calls);
    Some(msg)
}

fn image_part(image: &Image) -> ContentPart {
    let url = match &image.source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url, .. } => url.clone(),
    };
    ContentPart::ImageUrl {
        image_url: wire::ImageUrl {
            url,
            detail: None,
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

/// Another dialect's document as text: a text document under its title; a file (PDF) only
/// named, since OpenAI-compatible upstreams differ on file parts and one they reject would
/// fail the whole request. The model learns the document was there rather than nothing.
fn document_text(doc: &ir::Document) -> Text {
    doc.as_text()
        .unwrap_or_else(|| doc.not_included("this upstream does not take documents"))
        .into()
}

/// Tool results first, as `tool` messages (C2); then one user message with the images the tool
/// results carried (tool messages cannot hold images, C5) and the message's own content.
fn encode_user(m: &ir::Message, from_openai: bool, out: &mut Vec<wire::Message>) {
    let mut moved_images = Vec::new();
    let mut own = Vec::new();
    for b in &m.content {
        match b {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                let images_before = moved_images.len();
                moved_images.extend(content.iter().filter_map(|c| match c {
                    Block::Image(img) => Some(image_part(img)),
                    _ => None,
                }));
                let mut text = block_text(content);
                let docs: Vec<Text> = content
                    .iter()
                    .filter_map(|b| match b {
                        Block::Document(d) => Some(document_text(d)),
                        _ => None,
                    })
                    .collect();
                if !docs.is_empty() {
                    text = Text::join(
                        std::iter::once(&text)
                            .chain(&docs)
                            .filter(|t| !t.is_empty()),
                        "\n",
                    );
                }
                if text.is_empty() && moved_images.len() > images_before {
                    text = "(the tool returned an image; it follows in the next message)".into();
                }
                if *is_error {
                    text = if text.is_empty() {
                        "Error".into()
                    } else {
                        text.wrap("Error: ", "")
                    };
                }
                let mut msg = wire::Message::new(Role::Tool, Some(MessageContent::Text(text)));
                msg.tool_call_id = Some(tool_use_id.clone());
                out.push(msg);
            }
            Block::Text { text, .. } => own.push(ContentPart::text(text.clone())),
            Block::Image(img) => own.push(image_part(img)),
            Block::Unknown {
                origin: Dialect::OpenAi,
                value,
            } if from_openai => {
                if let Ok(part) = serde_json::from_value::<ContentPart>(value.clone()) {
                    own.push(part);
                }
            }
            // A Chat client's file goes back as it came; another dialect's is text (see
            // `document_text`).
            Block::Document(d) if d.extra.origin == Some(Dialect::OpenAi) => {
                own.push(file_part(d));
            }
            Block::Document(d) => own.push(ContentPart::text(document_text(d))),
            _ => {}
        }
    }
    moved_images.extend(own);
    let parts = moved_images;
    if parts.is_empty() {
        return;
    }
    let content = match parts.as_slice() {
        [ContentPart::Text { text, .. }] => MessageContent::Text(text.clone()),
        _ => MessageContent::Parts(parts),
    };
    out.push(wire::Message::new(Role::User, Some(content)));
}

fn encode_tool(t: &ir::Tool, from_openai: bool, names: &ToolNames) -> Option<wire::Tool> {
    match t {
        ir::Tool::Function(f) => {
            let mut extra = f
                .extra
                .for_dialect(Dialect::OpenAi)
                .cloned()
                .unwrap_or_default();
            let strict = extra.remove("strict").and_then(|v| v.as_bool());
            Some(wire::Tool {
                kind: "function".to_owned(),
                function: Some(wire::FunctionDef {
                    name: names.wire(&f.name).to_owned(),
                    description: f.description.clone(),
                    parameters: Some(f.input_schema.clone()),
                    strict,
                    extra,
                }),
                extra: Map::new(),
            })
        }
        ir::Tool::Other {
            origin: Dialect::OpenAi,
            value,
        } if from_openai => serde_json::from_value(value.clone()).ok(),
        ir::Tool::Other { .. } => None,
    }
}

fn encode_tool_choice(c: &ToolChoice, names: &ToolNames) -> wire::ToolChoice {
    let mode = |m: &str| wire::ToolChoice::Mode(m.to_owned());
    match c {
        ToolChoice::Auto => mode("auto"),
        ToolChoice::Any => mode("required"),
        ToolChoice::None => mode("none"),
        ToolChoice::Tool(name) => wire::ToolChoice::Named(wire::NamedToolChoice {
            kind: "function".to_owned(),
            function: Some(wire::NamedFunction {
                name: names.wire(name).to_owned(),
            }),
            extra: Map::new(),
        }),
    }
}

fn encode_response_format(f: &ir::ResponseFormat) -> wire::ResponseFormat {
    match f {
        ir::ResponseFormat::Text => wire::ResponseFormat::Text,
        ir::ResponseFormat::JsonObject => wire::ResponseFormat::JsonObject,
        ir::ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => wire::ResponseFormat::JsonSchema {
            json_schema: wire::JsonSchemaFormat {
                // OpenAI requires a name.
                name: Some(name.clone().unwrap_or_else(|| "response".to_owned())),
                schema: Some(schema.clone()),
                strict: *strict,
                extra: Map::new(),
            },
        },
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
