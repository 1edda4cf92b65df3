//! Serde types for the Anthropic Messages wire format: requests, replies, stream events, error
//! bodies, `count_tokens` and the models list.
//!
//! Every object that the API may grow has a flattened `extra` map so unknown fields survive a
//! decode/encode round trip (the codec files decide whether they may reach another dialect).
//! Content blocks whose `type` we do not model (`document`, `server_tool_use`, `search_result`,
//! ...) are kept whole as [`ContentBlock::Unknown`]. Bodies are parsed twice only when they are
//! bad: first on the fast path ([`parse_fast`]: blocks straight into their structs), and on
//! failure again through `serde_path_to_error` in the codec, where the hand-written
//! `Deserialize` impls below keep the path intact (`messages[0].content[1]: ...`). Tool schemas
//! and tool-call inputs stay JSON text ([`ir::Json`]).

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::protocol::ir;
use crate::protocol::text::{self, Text};

pub type Extra = Map<String, Value>;

/// `POST /v1/messages` and `POST /v1/messages/count_tokens` bodies (the latter has no
/// `max_tokens`, so it is optional here; the encoder always sets it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Context editing (`{"edits": [...]}`), passed through to Anthropic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_management: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum System {
    Text(Text),
    Blocks(Vec<SystemBlock>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    #[serde(rename = "type", default = "text_type")]
    pub kind: String,
    #[serde(deserialize_with = "text::raw")]
    pub text: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn text_type() -> String {
    "text".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// A mid-conversation system message.
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Content,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Message and `tool_result` content: a string or an array of blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    Text(Text),
    Blocks(Vec<ContentBlock>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinkingBlock),
    /// Any other block, verbatim (its `type` field included).
    #[serde(untagged)]
    Unknown(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    #[serde(deserialize_with = "text::raw")]
    pub text: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub source: ImageSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type":"base64","media_type","data"}`, `{"type":"url","url"}` or another source kind
/// (e.g. `file`), which the codec keeps as an unknown block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub input: ir::Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    pub thinking: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    pub data: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A client tool (`input_schema` present, `type` absent or `custom`) or a server tool
/// (`type: "web_search_20250305"`, ...). Anthropic-only fields (`strict`, `defer_loading`,
/// `eager_input_streaming`, `input_examples`, ...) land in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(
        default,
        deserialize_with = "text::raw_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<ir::Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceType {
    Auto,
    Any,
    None,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoice {
    #[serde(rename = "type")]
    pub kind: ToolChoiceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingType {
    Enabled,
    Adaptive,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: ThinkingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
    /// `summarized` or `omitted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutputConfig {
    /// `low`, `medium`, `high`, `xhigh`, `max` (kept as a string: new levels appear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Structured output: `{"type":"json_schema","schema":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A non-streamed reply, and the `message` of a `message_start` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(flatten)]
    pub extra: Extra,
}

fn message_type() -> String {
    "message".to_owned()
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// Always serialised with all four counters (B3, B13); `null` reads as 0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "null_as_zero")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_read_input_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

fn null_as_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// One streamed event; `data.type` equals the SSE event name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: Response,
    },
    ContentBlockStart {
        index: usize,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: DeltaUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorDetail,
    },
    /// Event types added after this was written (the SDK ignores them too, B12).
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    CitationsDelta {
        citation: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `message_delta.usage`: cumulative; older servers send only `output_tokens`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeltaUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type":"error","error":{"type","message"},"request_id"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn error_type() -> String {
    "error".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `count_tokens` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountTokensResponse {
    pub input_tokens: u64,
}

/// `GET /v1/models` in Anthropic's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub data: Vec<ModelInfo>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub first_id: Option<String>,
    #[serde(default)]
    pub last_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    #[serde(rename = "type", default = "model_type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn model_type() -> String {
    "model".to_owned()
}

// ---- borrowed views the stream encoder serialises straight into its output ----

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Out<'a> {
    MessageStart {
        message: StartMessage<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: &'a StartBlock<'a>,
    },
    ContentBlockDelta {
        index: usize,
        delta: DeltaOut<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaOut<'a>,
        usage: UsageOut,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorOut<'a>,
    },
}

#[derive(Serialize)]
pub(crate) struct StartMessage<'a> {
    pub(crate) id: &'a str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) role: &'static str,
    pub(crate) content: [(); 0],
    pub(crate) model: &'a str,
    pub(crate) stop_reason: Option<&'a str>,
    pub(crate) stop_sequence: Option<&'a str>,
    pub(crate) usage: UsageOut,
}

#[derive(Serialize)]
pub(crate) struct UsageOut {
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cache_creation_input_tokens: u64,
    pub(crate) cache_read_input_tokens: u64,
}

impl From<&ir::Usage> for UsageOut {
    fn from(u: &ir::Usage) -> Self {
        UsageOut {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_write_tokens,
            cache_read_input_tokens: u.cache_read_tokens,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StartBlock<'a> {
    Text {
        text: &'a str,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

pub(crate) struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

#[derive(Serialize)]
#[serde(tag = "type")]
pub(crate) enum DeltaOut<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
}

#[derive(Serialize)]
pub(crate) struct MessageDeltaOut<'a> {
    pub(crate) stop_reason: &'a str,
    pub(crate) stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct ErrorOut<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    pub(crate) message: &'a str,
}

// ---- hand-written Deserialize impls: string-or-array unions and the open block enum ----

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Content;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Content, E> {
                Ok(Content::Text(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Content, E> {
                Ok(Content::Text(v.into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<ContentBlock>()? {
                    blocks.push(b);
                }
                Ok(Content::Blocks(blocks))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for System {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = System;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of text blocks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<System, E> {
                Ok(System::Text(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<System, E> {
                Ok(System::Text(v.into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<System, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<SystemBlock>()? {
                    blocks.push(b);
                }
                Ok(System::Blocks(blocks))
            }
        }
        d.deserialize_any(V)
    }
}

thread_local! {
    /// Set while [`parse_fast`] runs: blocks are then read straight from the input.
    static FAST_BLOCKS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set while [`parse_exact`] runs: blocks are then read from their text (see
    /// [`block_from_raw`]). Elsewhere (inside stream events, which serde buffers) a block is
    /// read through a `Value`.
    static RAW_BLOCKS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Parses `body` on the fast path: content blocks whose `type` comes first are read straight
/// into their typed structs, with no intermediate `Value` and no path tracking. Any error
/// (including input the fast path merely declines, such as a repeated `type`) returns `None`;
/// the caller then parses again the exact way, which names the field at fault.
pub(crate) fn parse_fast<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    FAST_BLOCKS.with(|f| f.set(true));
    // Validated once here, so the parser need not check each string it reads.
    let parsed = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok());
    FAST_BLOCKS.with(|f| f.set(false));
    parsed
}

/// Parses `body` the exact way, naming the field at fault (`messages[0].content[1]`): what the
/// caller does when [`parse_fast`] declines.
pub(crate) fn parse_exact<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, crate::protocol::codec::CodecError> {
    use crate::protocol::codec::CodecError;
    RAW_BLOCKS.with(|f| f.set(true));
    let de = &mut serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize(&mut *de);
    RAW_BLOCKS.with(|f| f.set(false));
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        CodecError::InvalidJson {
            field: if path == "." { "body".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| CodecError::from_json(&e, "body"))?;
    Ok(value)
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The fast path of a block: `{"type": "<known>", ...}` goes straight into its struct; any
/// other shape is gathered into a `Value` and handled as the exact path does.
struct FastBlock;

impl<'de> Visitor<'de> for FastBlock {
    type Value = ContentBlock;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content block")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ContentBlock, A::Error> {
        use serde::de::value::MapAccessDeserializer as Rest;
        let Some(first) = map.next_key::<Key<'de>>()? else {
            return block_from_value(Value::Object(Map::new()));
        };
        if first.0 != "type" {
            let mut m = Map::new();
            m.insert(first.0.into_owned(), map.next_value()?);
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                m.insert(k, v);
            }
            return block_from_value(Value::Object(m));
        }
        let kind = map.next_value::<Key<'de>>()?.0;
        // A second `type` would land in `extra`: leave such blocks to the exact path.
        let dup = |extra: &Extra| {
            if extra.contains_key("type") {
                Err(de::Error::custom("repeated `type`"))
            } else {
                Ok(())
            }
        };
        let block = match &*kind {
            "text" => {
                let b = TextBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::Text(b)
            }
            "image" => {
                let b = ImageBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::Image(b)
            }
            "tool_use" => {
                let b = ToolUseBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::ToolUse(b)
            }
            "tool_result" => {
                let b = ToolResultBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::ToolResult(b)
            }
            "thinking" => {
                let b = ThinkingBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::Thinking(b)
            }
            "redacted_thinking" => {
                let b = RedactedThinkingBlock::deserialize(Rest::new(map))?;
                dup(&b.extra)?;
                ContentBlock::RedactedThinking(b)
            }
            _ => {
                let mut m = Map::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    m.insert(k, v);
                }
                if m.contains_key("type") {
                    return Err(de::Error::custom("repeated `type`"));
                }
                m.insert("type".into(), Value::String(kind.into_owned()));
                ContentBlock::Unknown(Value::Object(m))
            }
        };
        Ok(block)
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if FAST_BLOCKS.with(std::cell::Cell::get) {
            return d.deserialize_map(FastBlock);
        }
        if RAW_BLOCKS.with(std::cell::Cell::get) {
            let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
            // A repeated field is refused by the typed struct but read (the last copy) through
            // a `Value`, as the fast path reads a block whose `type` is not first.
            return block_from_raw(&raw).or_else(|e: D::Error| {
                serde_json::from_str::<Value>(raw.get())
                    .map_err(|_| e)
                    .and_then(block_from_value)
            });
        }
        block_from_value(Value::deserialize(d)?)
    }
}

/// The exact path: the block's `type` read first (the rest skipped, not decoded), then its
/// typed struct from the same text with the inner path named. Read from the text rather than
/// a `Value`, a text only a literal can hold (a lone surrogate escape, as a JavaScript client
/// that cut a string mid-pair writes) passes here as it does on the fast path.
fn block_from_raw<E: de::Error>(raw: &serde_json::value::RawValue) -> Result<ContentBlock, E> {
    let kind = match serde_json::from_str::<TypeOf>(raw.get())
        .map_err(E::custom)?
        .0
    {
        Some(Value::String(s)) => s,
        Some(_) => return Err(de::Error::custom("`type` must be a string")),
        None => return Err(de::Error::missing_field("type")),
    };
    Ok(match kind.as_str() {
        "text" => ContentBlock::Text(typed_raw(raw, |b: &mut TextBlock| &mut b.extra)?),
        "image" => ContentBlock::Image(typed_raw(raw, |b: &mut ImageBlock| &mut b.extra)?),
        "tool_use" => ContentBlock::ToolUse(typed_raw(raw, |b: &mut ToolUseBlock| &mut b.extra)?),
        "tool_result" => {
            ContentBlock::ToolResult(typed_raw(raw, |b: &mut ToolResultBlock| &mut b.extra)?)
        }
        "thinking" => ContentBlock::Thinking(typed_raw(raw, |b: &mut ThinkingBlock| &mut b.extra)?),
        "redacted_thinking" => {
            ContentBlock::RedactedThinking(typed_raw(raw, |b: &mut RedactedThinkingBlock| {
                &mut b.extra
            })?)
        }
        _ => ContentBlock::Unknown(serde_json::from_str(raw.get()).map_err(E::custom)?),
    })
}

/// A block's `type` (the last one, as a `Value` would keep), every other value skipped; `None`
/// for a block without one, or one that is not an object.
struct TypeOf(Option<Value>);

impl<'de> Deserialize<'de> for TypeOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypeOf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content block")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<TypeOf, A::Error> {
                let mut kind = None;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if key.0 == "type" {
                        kind = Some(map.next_value::<Value>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(TypeOf(kind))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TypeOf, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(TypeOf(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TypeOf, E> {
                Ok(TypeOf(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// [`typed`] from the block's text; its `type`, read into the flattened `extra`, taken out.
fn typed_raw<T: serde::de::DeserializeOwned, E: de::Error>(
    raw: &serde_json::value::RawValue,
    extra: impl FnOnce(&mut T) -> &mut Extra,
) -> Result<T, E> {
    let de = &mut serde_json::Deserializer::from_str(raw.get());
    let mut block: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            E::custom(e.into_inner())
        } else {
            E::custom(format!("{path}: {}", e.into_inner()))
        }
    })?;
    extra(&mut block).remove("type");
    Ok(block)
}

/// The exact path: the block as a `Value`, then its typed struct with the inner path named.
fn block_from_value<E: de::Error>(value: Value) -> Result<ContentBlock, E> {
    let kind = match value.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(de::Error::custom("`type` must be a string")),
        None => return Err(de::Error::missing_field("type")),
    };
    Ok(match kind {
        "text" => ContentBlock::Text(typed(value)?),
        "image" => ContentBlock::Image(typed(value)?),
        "tool_use" => ContentBlock::ToolUse(typed(value)?),
        "tool_result" => ContentBlock::ToolResult(typed(value)?),
        "thinking" => ContentBlock::Thinking(typed(value)?),
        "redacted_thinking" => ContentBlock::RedactedThinking(typed(value)?),
        _ => ContentBlock::Unknown(value),
    })
}

/// Reads one known block from its JSON, naming the inner field at fault. The `type` key is
/// removed first so it does not land in the block's `extra`.
fn typed<T: serde::de::DeserializeOwned, E: de::Error>(mut value: Value) -> Result<T, E> {
    if let Value::Object(map) = &mut value {
        map.remove("type");
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            E::custom(e.into_inner())
        } else {
            E::custom(format!("{path}: {}", e.into_inner()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_round_trip_with_unknown_fields_and_types() {
        let v = json!([
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}, "citations": []},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok", "is_error": true},
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}
        ]);
        let c: Content = serde_json::from_value(v.clone()).unwrap();
        let Content::Blocks(blocks) = &c else {
            panic!("blocks expected")
        };
        assert!(matches!(blocks[6], ContentBlock::Unknown(_)));
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
    }

    #[test]
    fn bad_block_names_the_path() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"x","name":"n","input":{},"bad":1},{"type":"tool_use","id":5}]}]}"#;
        let de = &mut serde_json::Deserializer::from_slice(body);
        let err = serde_path_to_error::deserialize::<_, Request>(de).unwrap_err();
        assert_eq!(err.path().to_string(), "messages[0].content[2]");
        assert!(err.inner().to_string().contains("id"), "{}", err.inner());
    }

    /// The fast path reads the same request as the exact one, whatever the key order.
    #[test]
    fn fast_and_exact_parses_agree() {
        let bodies = [
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","citations":[]},{"text":"b","type":"text"},{"type":"tool_use","id":"t","name":"n","input":{"b":1,"a":[true]}},{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}],"is_error":true},{"type":"document","source":{"type":"text","data":"d"}},{"source":{},"type":"document"},{"type":"thinking","thinking":"h","signature":"s"},{"type":"redacted_thinking","data":"x"}]}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"plain"}],"system":"s"}"#,
        ];
        for body in bodies {
            let fast: Request = parse_fast(body.as_bytes()).unwrap();
            let exact: Request = serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(fast, exact, "{body}");
        }
        // Declined by the fast path, so the exact path decides (and keeps the last `type`).
        let dup = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","type":"text"}]}]}"#;
        assert!(parse_fast::<Request>(dup.as_bytes()).is_none());
        let bad =
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"tool_use","id":5}]}]}"#;
        assert!(parse_fast::<Request>(bad.as_bytes()).is_none());
    }

    /// Fuzz finding: a text with a lone surrogate escape (as a JavaScript client that cuts a
    /// string mid-pair writes) passed the fast path but failed the exact one, so the same block
    /// was accepted or refused depending on whether `type` came first. Minimised input.
    #[test]
    fn a_lone_surrogate_reads_the_same_on_both_paths() {
        let type_first = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"l\udc00de"}]}]}"#;
        let type_last = r#"{"model":"m","messages":[{"role":"user","content":[{"text":"l\udc00de","type":"text"}]}]}"#;
        let fast: Request = parse_fast(type_first.as_bytes()).unwrap();
        assert!(parse_fast::<Request>(type_last.as_bytes()).is_none());
        let exact: Request = parse_exact(type_last.as_bytes()).unwrap();
        assert_eq!(fast, exact);
        assert_eq!(
            exact,
            parse_exact::<Request>(type_first.as_bytes()).unwrap()
        );
    }

    /// Fuzz finding (after the exact parser read blocks from their text): a repeated field in
    /// a block whose `type` is not first was read (the last copy) on the fast path but refused
    /// on the exact one. Minimised input.
    #[test]
    fn a_repeated_field_reads_the_same_on_both_paths() {
        let body = r#"{"model":"m","messages":[{"role":"assistant","content":[{"name":"a","id":"t","input":{},"name":"b","type":"tool_use"}]}]}"#;
        let fast: Request = parse_fast(body.as_bytes()).unwrap();
        let exact: Request = parse_exact(body.as_bytes()).unwrap();
        assert_eq!(fast, exact);
    }

    /// Claude Code's real traffic takes the fast path (the slow one costs twice as much).
    #[test]
    fn claude_code_request_takes_the_fast_path() {
        let body = include_str!("../../../tests/fixtures/claude-code/request.json");
        let compact = crate::protocol::json::minify(body);
        if let Err(e) = serde_json::from_str::<Request>(&compact) {
            panic!("{e}");
        }
        FAST_BLOCKS.with(|f| f.set(true));
        let r = serde_json::from_str::<Request>(&compact);
        FAST_BLOCKS.with(|f| f.set(false));
        if let Err(e) = r {
            panic!("{e}");
        }
        assert!(parse_fast::<Request>(compact.as_bytes()).is_some());
    }

    #[test]
    fn stream_events_parse_including_unknown() {
        let e: StreamEvent = serde_json::from_str(r#"{"type":"brand_new","x":1}"#).unwrap();
        assert_eq!(e, StreamEvent::Unknown);
        let e: StreamEvent = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}"#,
        )
        .unwrap();
        assert_eq!(
            e,
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: Delta::TextDelta { text: "a".into() }
            }
        );
    }
}
