//! IR requests -> Converse request bodies, with Bedrock's rules enforced here rather than
//! learned from a 400 (reference `bedrock-azure-ws.md` §1.3, §1.12):
//! * no blank text block, no empty message; adjacent turns of one role merged; a conversation
//!   that opens with the assistant gets a short user turn first; mid-conversation system
//!   messages become `<system-reminder>` user text;
//! * tool names and ids rewritten to 64 `[a-zA-Z0-9_-]` ([`ToolMap`] maps them back);
//! * tool inputs always objects; tool results never empty, `status: error` for failures;
//! * `toolConfig` present whenever the history holds tool blocks (a stub tool when the client
//!   declared none, or asked for `tool_choice: none`, which Converse cannot say);
//! * at most 4 stop sequences; document names from the allowed characters, unique;
//! * images only as bytes or S3 (a web URL is refused with a clear error); documents and
//!   images only in user turns, and a turn with a document also carries text;
//! * Anthropic `cache_control` marks become `cachePoint` blocks after the marked block (Claude
//!   and Nova only); thinking budgets and `top_k` go through `additionalModelRequestFields` in
//!   the model family's own form; reasoning is replayed (with its signature) to Claude only;
//! * a JSON-schema response format is `outputConfig.textFormat` (structured output).

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::ids::{ToolMap, wire_id};
use super::wire::{self, ContentBlock, Role};
use crate::protocol::anthropic;
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{
    self, Block, Dialect, Effort, Image, ImageSource, Json, Text, ThinkingMode, ToolChoice,
};

/// Older Bedrock models accept at most 4 stop sequences (the model allows 2500; the lower cap
/// is the one that never fails).
pub const MAX_STOP_SEQUENCES: usize = 4;

/// The name of the tool declared when the history holds tool blocks but the request has no
/// tool to declare.
pub const STUB_TOOL: &str = "no_tool_available";

/// The text that opens a conversation whose first turn is the assistant's.
const OPENING_USER_TEXT: &str = "(conversation continues)";

/// The model family behind a model id: what `additionalModelRequestFields` may hold and
/// whether cache points and reasoning replay are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `anthropic.claude-*` (with or without a `us.`/`eu.`/... profile prefix).
    Claude,
    /// `amazon.nova-*`.
    Nova,
    /// Any other named model (Llama, Mistral, DeepSeek, gpt-oss, ...).
    Other,
    /// An application inference profile or other ARN that hides the model: treated like
    /// Claude for thinking and `top_k` (what such profiles usually front), without cache points.
    Unknown,
}

impl Family {
    pub fn of(model_id: &str) -> Family {
        let id = if model_id.starts_with("arn:") {
            match model_id.split_once('/') {
                Some((head, rest))
                    if head.ends_with(":foundation-model")
                        || head.ends_with(":inference-profile") =>
                {
                    rest
                }
                _ => return Family::Unknown,
            }
        } else {
            model_id
        };
        // Strip a cross-Region profile prefix (`us.`, `eu.`, `apac.`, `global.`, `us-gov.`).
        let base = match id.split_once('.') {
            Some((geo, rest)) if GEO_PREFIXES.contains(&geo) => rest,
            _ => id,
        };
        if base.starts_with("anthropic.") {
            Family::Claude
        } else if base.starts_with("amazon.nova") {
            Family::Nova
        } else {
            Family::Other
        }
    }

    fn claude_like(self) -> bool {
        matches!(self, Family::Claude | Family::Unknown)
    }

    fn caches(self) -> bool {
        matches!(self, Family::Claude | Family::Nova)
    }
}

/// The geography prefixes of cross-Region (system) inference profiles.
pub const GEO_PREFIXES: &[&str] = &["us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"];

/// Switches `upstream/` may set; the defaults follow the model id.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// The family when the model id does not tell (an application inference profile whose
    /// model the control plane named).
    pub family: Option<Family>,
}

/// Encodes for Bedrock with the family read from `req.model`.
pub fn encode_request(req: &ir::Request) -> Result<wire::Request, CodecError> {
    encode_request_with(req, &EncodeOptions::default())
}

pub fn encode_request_with(
    req: &ir::Request,
    opts: &EncodeOptions,
) -> Result<wire::Request, CodecError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(CodecError::Unsupported(
            "Bedrock returns one choice per request (n must be 1)".into(),
        ));
    }
    let family = opts.family.unwrap_or_else(|| Family::of(&req.model));
    let mut enc = Encoder {
        family,
        docs: DocNames::default(),
    };

    let mut system = Vec::new();
    for b in &req.system {
        if b.text.is_blank() || b.is_attribution() {
            continue;
        }
        system.push(wire::SystemBlock::Text(b.text.clone()));
        if let Some(cp) = enc.cache_point(b.cache_control.as_ref()) {
            system.push(wire::SystemBlock::CachePoint(cp));
        }
    }

    let mut messages: Vec<wire::Message> = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let (role, content) = match m.role {
            ir::Role::User => (Role::User, enc.user_blocks(&m.content)?),
            ir::Role::Assistant => (Role::Assistant, enc.assistant_blocks(&m.content)),
            ir::Role::System => (Role::User, enc.mid_system(&m.content)),
        };
        if content.iter().all(is_cache_point) {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(content),
            _ => messages.push(wire::Message {
                role,
                content,
                extra: Map::new(),
            }),
        }
    }
    if messages.first().is_some_and(|m| m.role == Role::Assistant) {
        messages.insert(0, text_message(Role::User, OPENING_USER_TEXT));
    }
    for m in &mut messages {
        let has_doc = m
            .content
            .iter()
            .any(|b| matches!(b, ContentBlock::Document(_)));
        if has_doc && !m.content.iter().any(|b| matches!(b, ContentBlock::Text(_))) {
            m.content
                .push(ContentBlock::Text("(see the attached document)".into()));
        }
    }

    let history_has_tools = messages.iter().any(|m| {
        m.content
            .iter()
            .any(|b| matches!(b, ContentBlock::ToolUse(_) | ContentBlock::ToolResult(_)))
    });
    // Claude's rule on thinking and tool use (see `anthropic::request::tool_loop_is_signed`):
    // reasoning that Claude did not sign was dropped above, so a tool loop that began on
    // another provider or came from a client without signatures goes without thinking.
    let thinking = match &req.thinking {
        Some(t)
            if t.mode != ThinkingMode::Disabled
                && family.claude_like()
                && !tool_loop_is_signed(&messages) =>
        {
            tracing::debug!(
                "bedrock: thinking left off: the last tool-calling assistant turn has no \
                 reasoning Claude signed (another provider's, or a client that drops signatures)"
            );
            None
        }
        t => t.as_ref(),
    };
    let tool_config = enc.tool_config(req, history_has_tools, thinking);

    let mut additional = Map::new();
    let mut inference = wire::InferenceConfig {
        max_tokens: req.max_tokens,
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.map(|p| p.clamp(0.0, 1.0)),
        stop_sequences: req
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .take(MAX_STOP_SEQUENCES)
            .cloned()
            .collect(),
        extra: Map::new(),
    };
    if let Some(t) = thinking {
        enc.thinking(t, &mut inference, &mut additional);
    }
    if let Some(k) = req.top_k {
        match family {
            Family::Claude | Family::Unknown => {
                additional.insert("top_k".into(), json!(k));
            }
            Family::Nova => {
                additional.insert("inferenceConfig".into(), json!({"topK": k}));
            }
            Family::Other => {}
        }
    }
    let response_paths = if family.claude_like() && !inference.stop_sequences.is_empty() {
        vec!["/delta/stop_sequence".to_owned()]
    } else {
        Vec::new()
    };

    Ok(wire::Request {
        messages,
        system,
        inference_config: (!inference.is_empty()).then_some(inference),
        tool_config,
        additional_model_request_fields: (!additional.is_empty()).then_some(additional),
        additional_model_response_field_paths: response_paths,
        output_config: output_config(req.response_format.as_ref()),
        extra: Map::new(),
    })
}

/// A JSON schema for the reply's text as `outputConfig.textFormat` (the schema sent as a
/// string, as AWS's `JsonSchemaDefinition` wants). `json_object` has no Converse form and
/// `text` is the default: neither sends anything.
fn output_config(format: Option<&ir::ResponseFormat>) -> Option<wire::OutputConfig> {
    let Some(ir::ResponseFormat::JsonSchema { name, schema, .. }) = format else {
        return None;
    };
    Some(wire::OutputConfig {
        text_format: Some(wire::OutputFormat {
            kind: "json_schema".into(),
            structure: wire::OutputFormatStructure {
                json_schema: wire::JsonSchemaDefinition {
                    schema: schema.to_string(),
                    name: name.clone().filter(|n| !n.is_empty()),
                    description: None,
                },
            },
        }),
        extra: Map::new(),
    })
}

/// Whether Claude accepts thinking with `messages`: the assistant turn in progress (after the
/// last user message that is not only tool results), when it calls tools, opens with its
/// reasoning ("Expected `thinking` or `redacted_thinking`, but found `tool_use`" from Bedrock
/// otherwise; see `anthropic::request::tool_loop_is_signed`).
fn tool_loop_is_signed(messages: &[wire::Message]) -> bool {
    let opened = messages
        .iter()
        .rposition(|m| {
            m.role == Role::User
                && m.content.iter().any(|b| {
                    !matches!(b, ContentBlock::ToolResult(_) | ContentBlock::CachePoint(_))
                })
        })
        .map_or(0, |i| i + 1);
    let turn = &messages[opened..];
    let calls = turn.iter().any(|m| {
        m.role == Role::Assistant
            && m.content
                .iter()
                .any(|b| matches!(b, ContentBlock::ToolUse(_)))
    });
    let first = turn
        .iter()
        .find(|m| m.role == Role::Assistant)
        .and_then(|m| m.content.first());
    !calls || matches!(first, Some(ContentBlock::ReasoningContent(_)))
}

fn is_cache_point(b: &ContentBlock) -> bool {
    matches!(b, ContentBlock::CachePoint(_))
}

fn text_message(role: Role, text: &str) -> wire::Message {
    wire::Message {
        role,
        content: vec![ContentBlock::Text(text.into())],
        extra: Map::new(),
    }
}

struct Encoder {
    family: Family,
    docs: DocNames,
}

impl Encoder {
    /// `{"type": "default"}` (with `ttl: "1h"` when asked) for a `cache_control` mark, when
    /// the model family takes cache points.
    fn cache_point(&self, mark: Option<&Value>) -> Option<wire::CachePoint> {
        let mark = mark?;
        if !self.family.caches() {
            return None;
        }
        let ttl = mark
            .get("ttl")
            .and_then(Value::as_str)
            .filter(|t| *t == "1h")
            .map(str::to_owned);
        Some(wire::CachePoint {
            kind: "default".into(),
            ttl,
        })
    }

    fn push_cache_point(&self, out: &mut Vec<ContentBlock>, mark: Option<&Value>) {
        if let Some(cp) = self.cache_point(mark) {
            out.push(ContentBlock::CachePoint(cp));
        }
    }

    fn user_blocks(&mut self, blocks: &[Block]) -> Result<Vec<ContentBlock>, CodecError> {
        let mut out = Vec::with_capacity(blocks.len());
        for b in blocks {
            match b {
                Block::Text {
                    text,
                    cache_control,
                    ..
                } if !text.is_blank() => {
                    out.push(ContentBlock::Text(text.clone()));
                    self.push_cache_point(&mut out, cache_control.as_ref());
                }
                Block::Image(img) => {
                    out.push(ContentBlock::Image(image_block(img)?));
                    self.push_cache_point(&mut out, img.cache_control.as_ref());
                }
                Block::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    cache_control,
                } => {
                    out.push(ContentBlock::ToolResult(self.tool_result(
                        tool_use_id,
                        content,
                        *is_error,
                    )?));
                    self.push_cache_point(&mut out, cache_control.as_ref());
                }
                Block::Document(doc) => match self.document(doc) {
                    Doc::Block(d) => {
                        // A cache point right after a text document is refused (§1.12.8).
                        let textual = matches!(d.format.as_str(), "txt" | "md" | "csv" | "html");
                        out.push(ContentBlock::Document(d));
                        if !textual {
                            self.push_cache_point(&mut out, doc.cache_control.as_ref());
                        }
                    }
                    Doc::Text(t) => out.push(ContentBlock::Text(t.into())),
                },
                // Thinking, tool calls and other dialects' blocks have no place in a user turn.
                _ => {}
            }
        }
        Ok(out)
    }

    fn tool_result(
        &mut self,
        id: &str,
        content: &[Block],
        is_error: bool,
    ) -> Result<wire::ToolResultBlock, CodecError> {
        let mut parts = Vec::with_capacity(content.len());
        for b in content {
            match b {
                Block::Text { text, .. } if !text.is_blank() => {
                    parts.push(wire::ToolResultContent::Text(text.clone()));
                }
                Block::Image(img) => {
                    parts.push(wire::ToolResultContent::Image(image_block(img)?));
                }
                Block::Document(doc) => match self.document(doc) {
                    Doc::Block(d) => parts.push(wire::ToolResultContent::Document(d)),
                    Doc::Text(t) => parts.push(wire::ToolResultContent::Text(t.into())),
                },
                _ => {}
            }
        }
        if parts.is_empty() {
            let text = if is_error { "Error" } else { "(no output)" };
            parts.push(wire::ToolResultContent::Text(text.into()));
        }
        Ok(wire::ToolResultBlock {
            tool_use_id: wire_id(id).into_owned(),
            content: parts,
            status: is_error.then(|| "error".to_owned()),
            extra: Map::new(),
        })
    }

    fn assistant_blocks(&self, blocks: &[Block]) -> Vec<ContentBlock> {
        let mut out = Vec::with_capacity(blocks.len());
        for b in blocks {
            match b {
                Block::Text {
                    text,
                    cache_control,
                    ..
                } if !text.is_blank() => {
                    out.push(ContentBlock::Text(text.clone()));
                    self.push_cache_point(&mut out, cache_control.as_ref());
                }
                // Claude needs its own signed reasoning back unmodified; unsigned reasoning
                // (another provider's) and any reasoning to other families is refused by AWS.
                Block::Thinking {
                    text,
                    signature: Some(sig),
                } if self.family.claude_like() && sig.origin == Dialect::Anthropic => {
                    out.push(ContentBlock::ReasoningContent(
                        wire::ReasoningContent::ReasoningText(wire::ReasoningText {
                            text: text.clone(),
                            signature: Some(sig.value.clone()),
                            extra: Map::new(),
                        }),
                    ));
                }
                Block::RedactedThinking { data } if self.family.claude_like() => {
                    out.push(ContentBlock::ReasoningContent(
                        wire::ReasoningContent::RedactedContent(data.clone()),
                    ));
                }
                Block::ToolUse {
                    id, name, input, ..
                } => out.push(ContentBlock::ToolUse(wire::ToolUseBlock {
                    tool_use_id: wire_id(id).into_owned(),
                    name: wire_id(name).into_owned(),
                    input: object_input(input),
                    extra: Map::new(),
                })),
                _ => {}
            }
        }
        out
    }

    fn mid_system(&self, blocks: &[Block]) -> Vec<ContentBlock> {
        let text = Text::join(
            blocks.iter().filter_map(|b| match b {
                Block::Text { text, .. } if !text.is_blank() => Some(text),
                _ => None,
            }),
            "\n",
        );
        if text.is_empty() {
            return Vec::new();
        }
        vec![ContentBlock::Text(
            text.wrap("<system-reminder>\n", "\n</system-reminder>"),
        )]
    }

    fn document(&mut self, doc: &ir::Document) -> Doc {
        let title = doc.title.as_deref();
        let (format, bytes) = match &doc.source {
            ir::DocumentSource::Base64 { media_type, data } => match document_format(media_type) {
                Some(f) => (f, data.clone()),
                None => {
                    return Doc::Text(doc.not_included(
                        "Bedrock takes pdf, csv, doc, docx, xls, xlsx, html, txt and md documents",
                    ));
                }
            },
            ir::DocumentSource::Text { text } => (
                "txt",
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            ),
            ir::DocumentSource::Reference { .. } => {
                return Doc::Text(doc.as_text().unwrap_or_default());
            }
        };
        Doc::Block(wire::DocumentBlock {
            format: format.to_owned(),
            name: self.docs.name(title),
            source: wire::Source {
                bytes: Some(bytes),
                ..wire::Source::default()
            },
            extra: Map::new(),
        })
    }

    fn tool_config(
        &self,
        req: &ir::Request,
        history_has_tools: bool,
        thinking: Option<&ir::ThinkingConfig>,
    ) -> Option<wire::ToolConfig> {
        let none = matches!(req.tool_choice, Some(ToolChoice::None));
        let mut tools = Vec::new();
        if !none {
            for t in &req.tools {
                let ir::Tool::Function(f) = t else { continue };
                tools.push(wire::Tool::ToolSpec(wire::ToolSpec {
                    name: wire_id(&f.name).into_owned(),
                    description: f.description.clone().filter(|d| !d.is_blank()),
                    input_schema: wire::InputSchema {
                        json: schema_object(&f.input_schema),
                    },
                    extra: Map::new(),
                }));
                if let Some(cp) = self.cache_point(f.cache_control.as_ref()) {
                    tools.push(wire::Tool::CachePoint(cp));
                }
            }
        }
        let declared = tools.iter().any(|t| matches!(t, wire::Tool::ToolSpec(_)));
        if !declared {
            if !history_has_tools {
                return None;
            }
            // Bedrock refuses tool blocks in the history without a toolConfig.
            tools = vec![wire::Tool::ToolSpec(wire::ToolSpec {
                name: STUB_TOOL.to_owned(),
                description: Some(
                    "No tool is available in this turn; do not call this tool.".into(),
                ),
                input_schema: wire::InputSchema {
                    json: Json::from(json!({"type": "object", "properties": {}})),
                },
                extra: Map::new(),
            })];
        }
        let thinking_on =
            self.family.claude_like() && thinking.is_some_and(|t| t.mode != ThinkingMode::Disabled);
        let tool_choice = match (&req.tool_choice, declared) {
            (_, false) | (None | Some(ToolChoice::None), _) => None,
            (Some(ToolChoice::Auto), _) => Some(wire::ToolChoice::Auto(wire::Empty {})),
            // With thinking on, Claude only allows `auto` (C8).
            (Some(ToolChoice::Any | ToolChoice::Tool(_)), _) if thinking_on => {
                Some(wire::ToolChoice::Auto(wire::Empty {}))
            }
            (Some(ToolChoice::Any), _) => Some(wire::ToolChoice::Any(wire::Empty {})),
            (Some(ToolChoice::Tool(name)), _) => Some(wire::ToolChoice::Tool(wire::NamedTool {
                name: wire_id(name).into_owned(),
            })),
        };
        Some(wire::ToolConfig {
            tools,
            tool_choice,
            extra: Map::new(),
        })
    }

    fn thinking(
        &self,
        t: &ir::ThinkingConfig,
        inference: &mut wire::InferenceConfig,
        additional: &mut Map<String, Value>,
    ) {
        match (self.family, t.mode) {
            (_, ThinkingMode::Disabled) | (Family::Other, _) => {}
            (Family::Claude | Family::Unknown, ThinkingMode::Enabled) => {
                let max = inference
                    .max_tokens
                    .unwrap_or(anthropic::DEFAULT_MAX_TOKENS)
                    .max(1);
                // No budget satisfies 1024 <= budget < max_tokens: no thinking at all.
                if max <= anthropic::MIN_THINKING_BUDGET {
                    return;
                }
                let budget = t
                    .budget_tokens
                    .unwrap_or_else(|| budget_for(t.effort))
                    .clamp(anthropic::MIN_THINKING_BUDGET, max - 1);
                inference.max_tokens = Some(max);
                additional.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": budget}),
                );
            }
            (Family::Claude | Family::Unknown, ThinkingMode::Adaptive) => {
                additional.insert("thinking".into(), json!({"type": "adaptive"}));
            }
            (Family::Nova, _) => {
                let effort = match t.effort {
                    Some(Effort::Minimal | Effort::Low) => "low",
                    Some(Effort::High | Effort::XHigh | Effort::Max) => "high",
                    _ => "medium",
                };
                additional.insert(
                    "reasoningConfig".into(),
                    json!({"type": "enabled", "maxReasoningEffort": effort}),
                );
            }
        }
    }
}

/// What a client's document becomes: a Converse document, or text naming it.
enum Doc {
    Block(wire::DocumentBlock),
    Text(String),
}

/// The thinking budget for an effort, as the Anthropic encoder picks it.
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

/// A tool call's input as an object: an object as is, a string holding an object parsed, any
/// other value wrapped as `{"input": value}` (a non-object 400s the whole conversation, §1.12.1).
fn object_input(input: &Json) -> Json {
    if input.is_object() {
        return input.clone();
    }
    if input.is_null() {
        return Json::empty_object();
    }
    if let Value::String(s) = input.value()
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(s)
    {
        return Json::from(v);
    }
    Json::from(json!({"input": input.value().clone()}))
}

/// Converse requires an object schema.
fn schema_object(schema: &Json) -> Json {
    if schema.is_object() && !schema.is_empty_object() {
        let v = schema.value();
        if v.get("type").is_none_or(|t| t == "object") {
            return schema.clone();
        }
    }
    Json::from(json!({"type": "object", "properties": {}}))
}

fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn image_block(img: &Image) -> Result<wire::ImageBlock, CodecError> {
    let unsupported = |m: &str| {
        CodecError::Unsupported(format!(
            "Bedrock takes png, jpeg, gif or webp images; this one is {m}"
        ))
    };
    let (format, source) = match &img.source {
        ImageSource::Base64 { media_type, data } => (
            image_format(media_type).ok_or_else(|| unsupported(media_type))?,
            wire::Source {
                bytes: Some(data.clone()),
                ..wire::Source::default()
            },
        ),
        ImageSource::Url { url, media_type } => {
            if let Some(rest) = url.strip_prefix("data:")
                && let Some((mt, data)) = rest.split_once(";base64,")
            {
                (
                    image_format(mt).ok_or_else(|| unsupported(mt))?,
                    wire::Source {
                        bytes: Some(data.to_owned()),
                        ..wire::Source::default()
                    },
                )
            } else if url.starts_with("s3://") {
                let ext = url.rsplit('.').next().unwrap_or_default();
                let mt = media_type.clone().unwrap_or_else(|| format!("image/{ext}"));
                (
                    image_format(&mt).ok_or_else(|| unsupported(&mt))?,
                    wire::Source {
                        s3_location: Some(wire::S3Location {
                            uri: url.clone(),
                            bucket_owner: None,
                        }),
                        ..wire::Source::default()
                    },
                )
            } else {
                return Err(CodecError::Unsupported(
                    "Bedrock takes images only inline (base64) or from S3, not by web URL; \
                     send the image's bytes instead"
                        .into(),
                ));
            }
        }
    };
    Ok(wire::ImageBlock {
        format: format.to_owned(),
        source,
        extra: Map::new(),
    })
}

fn document_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type.to_ascii_lowercase().as_str() {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        _ => return None,
    })
}

/// Document names Bedrock accepts (alphanumerics, single spaces, `-`, `(`, `)`, `[`, `]`;
/// 1-200 characters), unique within the request.
#[derive(Default)]
struct DocNames {
    used: HashSet<String>,
}

impl DocNames {
    fn name(&mut self, title: Option<&str>) -> String {
        let base = title.map(sanitize_doc_name).unwrap_or_default();
        let base = if base.is_empty() {
            format!("document {}", self.used.len() + 1)
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{base} ({n})");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }
}

/// `title` in the allowed characters: others become `-` (a file extension's `.` too), runs of
/// whitespace one space, at most 180 characters (room for a ` (n)` suffix).
pub fn sanitize_doc_name(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut space = false;
    for c in title.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        let ok = c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']');
        out.push(if ok { c } else { '-' });
        if out.len() >= 180 {
            break;
        }
    }
    out
}

/// The tool map a reply to `req` needs ([`ToolMap::restore`], `StreamDecoder::with_tool_map`).
pub fn tool_map(req: &ir::Request) -> ToolMap {
    ToolMap::for_request(req)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
