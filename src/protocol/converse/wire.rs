//! The Bedrock Converse / ConverseStream JSON shapes (botocore `bedrock-runtime` 2023-09-30),
//! as serde types with a flattened `extra` map where AWS may add members.
//!
//! A Converse content block is a *union*: an object with exactly one member (`{"text": ...}`,
//! `{"toolUse": {...}}`), which is serde's externally tagged enum. Members this codec does not
//! model decode into `Unknown` (an untagged last variant) instead of failing the reply.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::ir::{Json, Text};

/// A text member read keeping its JSON literal (see [`crate::protocol::text::raw`]).
struct RawText(Text);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::protocol::text::raw(d).map(RawText)
    }
}

impl From<RawText> for Text {
    fn from(r: RawText) -> Text {
        r.0
    }
}

/// `Deserialize` for a Converse union: the member named by the object's key, read straight
/// from the JSON (serde's untagged fallback would buffer it, and the raw `Text` / `Json`
/// readers cannot read buffered content); an object with no known member is `Unknown`.
macro_rules! union_deserialize {
    ($ty:ident { $($key:literal => $variant:ident : $read:ty),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty), " object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        let mut found = None;
                        let mut unknown = Map::new();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $($key if found.is_none() => {
                                    found = Some($ty::$variant(map.next_value::<$read>()?.into()));
                                })*
                                _ => {
                                    let v: Value = map.next_value()?;
                                    unknown.insert(key, v);
                                }
                            }
                        }
                        Ok(found.unwrap_or($ty::Unknown(unknown)))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

union_deserialize!(ContentBlock {
    "text" => Text: RawText,
    "image" => Image: ImageBlock,
    "document" => Document: DocumentBlock,
    "toolUse" => ToolUse: ToolUseBlock,
    "toolResult" => ToolResult: ToolResultBlock,
    "reasoningContent" => ReasoningContent: ReasoningContent,
    "cachePoint" => CachePoint: CachePoint,
    "citationsContent" => CitationsContent: CitationsContent,
});

union_deserialize!(ToolResultContent {
    "json" => Json: Json,
    "text" => Text: RawText,
    "image" => Image: ImageBlock,
    "document" => Document: DocumentBlock,
});

union_deserialize!(SystemBlock {
    "text" => Text: RawText,
    "cachePoint" => CachePoint: CachePoint,
});

union_deserialize!(Tool {
    "toolSpec" => ToolSpec: ToolSpec,
    "cachePoint" => CachePoint: CachePoint,
});

union_deserialize!(ReasoningContent {
    "reasoningText" => ReasoningText: ReasoningText,
    "redactedContent" => RedactedContent: String,
});

// ---- requests ----

/// `POST /model/{modelId}/converse` and `/converse-stream` (same body; the model is in the path).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<InferenceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// Model-native knobs: Claude `thinking`, `top_k`, Nova `inferenceConfig.topK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Map<String, Value>>,
    /// JSON pointers into the model's native reply, returned in
    /// `additionalModelResponseFields` (`/delta/stop_sequence`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_model_response_field_paths: Vec<String>,
    /// Structured output: the JSON schema the reply's text must follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema", "name"?}}}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<OutputFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputFormat {
    /// `json_schema`, the only value.
    #[serde(rename = "type")]
    pub kind: String,
    pub structure: OutputFormatStructure,
}

/// A union with one member, `jsonSchema`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFormatStructure {
    pub json_schema: JsonSchemaDefinition,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonSchemaDefinition {
    /// The schema as a JSON *string* (AWS's `JsonSchemaDefinition.schema` is a String).
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentBlock {
    Text(Text),
    Image(ImageBlock),
    Document(DocumentBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    ReasoningContent(ReasoningContent),
    CachePoint(CachePoint),
    CitationsContent(CitationsContent),
    /// A member this codec does not model (`video`, `guardContent`, `searchResult`, ...).
    #[serde(untagged)]
    Unknown(Map<String, Value>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageBlock {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: String,
    pub source: Source,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image or document source: inline base64 `bytes`, an S3 location, or (documents only)
/// plain `text`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_location: Option<S3Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_owner: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentBlock {
    /// `pdf`, `csv`, `doc`, `docx`, `xls`, `xlsx`, `html`, `txt` or `md`.
    pub format: String,
    /// 1-200 characters: alphanumerics, single spaces, `-`, `(`, `)`, `[`, `]`.
    pub name: String,
    pub source: Source,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    pub tool_use_id: String,
    pub name: String,
    /// Always an object on the way out.
    #[serde(default)]
    pub input: Json,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    pub content: Vec<ToolResultContent>,
    /// `success` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultContent {
    /// Must be an object.
    Json(Json),
    Text(Text),
    Image(ImageBlock),
    Document(DocumentBlock),
    #[serde(untagged)]
    Unknown(Map<String, Value>),
}

/// `{"reasoningText": {"text", "signature"?}}` or `{"redactedContent": "<base64>"}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningContent {
    ReasoningText(ReasoningText),
    RedactedContent(String),
    #[serde(untagged)]
    Unknown(Map<String, Value>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"type": "default", "ttl"?: "5m" | "1h"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachePoint {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// Generated text with its citations (replies only): the text is what the IR keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CitationsContent {
    #[serde(default)]
    pub content: Vec<CitationText>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CitationText {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock {
    Text(Text),
    CachePoint(CachePoint),
    #[serde(untagged)]
    Unknown(Map<String, Value>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InferenceConfig {
    pub fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
            && self.extra.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    ToolSpec(ToolSpec),
    CachePoint(CachePoint),
    #[serde(untagged)]
    Unknown(Map<String, Value>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    pub input_schema: InputSchema,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSchema {
    pub json: Json,
}

/// `{"auto": {}}`, `{"any": {}}` or `{"tool": {"name"}}`; Converse has no `none`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice {
    Auto(Empty),
    Any(Empty),
    Tool(NamedTool),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedTool {
    pub name: String,
}

// ---- replies ----

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    #[serde(default)]
    pub output: Option<Output>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    #[serde(default)]
    pub additional_model_response_fields: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Output {
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inputTokens` excludes cache reads and writes, as Anthropic's `input_tokens` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

// ---- stream events (ConverseStream: one JSON payload per `:event-type`) ----

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    #[serde(default)]
    pub content_block_index: usize,
    #[serde(default)]
    pub start: Option<BlockStartMember>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStartMember {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    #[serde(default)]
    pub content_block_index: usize,
    #[serde(default)]
    pub delta: DeltaMember,
}

/// One of `text`, `toolUse.input`, `reasoningContent.{text|signature|redactedContent}`; a
/// delta of another kind (`citation`, `image`, `toolResult`) leaves these empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaMember {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningDelta>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToolUseDelta {
    #[serde(default)]
    pub input: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStop {
    #[serde(default)]
    pub content_block_index: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub additional_model_response_fields: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

/// An exception's payload (`{"message": ...}`, sometimes `Message`, plus members such as
/// `originalStatusCode`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
    #[serde(default, rename = "__type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
