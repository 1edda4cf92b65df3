//! OpenAI Responses API wire types (`docs/responses-rules.md` §2-§5), as serde structs.
//!
//! Tolerant on the way in: every object keeps the fields we do not model in a
//! `#[serde(flatten)] extra` map, item and tool unions fall back to a raw `Value` for types we
//! only pass along or drop (Codex adds new ones every release, pitfall 20). Exact on the way
//! out. Used by `request.rs`, `response.rs`, `stream.rs` and `error.rs`. A client's request is
//! first read the typed way of [`input`] (items and tools without `Value`s); [`Request`] is
//! the exact reading the decoder falls back on, and what the encoder writes.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::protocol::text::Text;

pub mod input;

pub type Extra = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `metadata`, `prompt_cache_key`, `previous_response_id`, `service_tier`, `truncation`,
    /// `top_logprobs`, `safety_identifier`, `client_metadata` (Codex), ...
    #[serde(flatten)]
    pub extra: Extra,
}

/// `input`: one string (a user message) or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(Text),
    Items(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reasoning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `context`, `mode`, `generate_summary`.
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// `verbosity`.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A message item (`type: "message"`, or the easy form without `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub role: String,
    #[serde(default)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `phase` (assistant), ...
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(Text),
    Parts(Vec<Value>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Parts(Vec::new())
    }
}

/// `function_call` in input and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(rename = "type")]
    pub kind: String,
    /// The item id (`fc_...`); never the call id (OpenAI rejects ids not starting with `fc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    /// A JSON text; an object some producers send instead is re-serialized.
    #[serde(default, deserialize_with = "arguments_text")]
    pub arguments: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `custom_tool_call`: a free-text tool's call; `input` is the raw text (an `apply_patch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCall {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `function_call_output` and `custom_tool_call_output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallOutput {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    #[serde(default)]
    pub output: Content,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `reasoning`: `summary` is always written (Codex drops an item without it, pitfall 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub summary: Vec<SummaryPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<SummaryPart>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `summary_text` (summary) or `reasoning_text` (content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
}

/// An output message part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputPart {
    OutputText {
        text: String,
        #[serde(default)]
        annotations: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        logprobs: Option<Vec<Value>>,
    },
    Refusal {
        refusal: String,
    },
}

/// An output message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessage {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub role: String,
    pub status: String,
    pub content: Vec<OutputPart>,
}

/// One output item of a reply, for writing (items are read by their `type`, see `response.rs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OutputItem {
    Message(OutputMessage),
    FunctionCall(FunctionCall),
    CustomToolCall(CustomToolCall),
    Reasoning(ReasoningItem),
    Other(Value),
}

// ---------------------------------------------------------------------------------------------
// Whole responses

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: String,
    #[serde(default = "response_object")]
    pub object: String,
    #[serde(default)]
    pub created_at: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub error: Option<ResponseError>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub model: String,
    /// Kept as values and read item by item, so one odd item does not fail the reply.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// `instructions`, `tools`, `metadata`, `tool_choice`, ... echoed from the request.
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

// ---------------------------------------------------------------------------------------------
// Stream events (reference §4.2), as an upstream sends them: read tolerantly.

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct StreamEventIn {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub response: Option<Response>,
    #[serde(default)]
    pub item: Option<Value>,
    #[serde(default)]
    pub output_index: Option<u64>,
    #[serde(default)]
    pub delta: Option<String>,
    #[serde(default)]
    pub summary_index: Option<u64>,
    /// An `error` event's fields.
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors

/// All four keys are always written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub param: Option<String>,
    pub code: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// serde helpers

fn response_object() -> String {
    "response".to_owned()
}

fn null_as_default<'de, T, D>(de: D) -> Result<T, D::Error>
where
    T: Deserialize<'de> + Default,
    D: Deserializer<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

fn arguments_text<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(Option::<Value>::deserialize(de)?
        .map(arguments_string)
        .unwrap_or_default())
}

/// A call's `arguments` as text: `null` is empty, an object some producers send is written out.
pub(crate) fn arguments_string(v: Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_string_or_items() {
        let r: Request = serde_json::from_value(json!({"model": "m", "input": "hi"})).unwrap();
        assert!(matches!(r.input, Some(Input::Text(t)) if t == "hi"));
        let r: Request = serde_json::from_value(
            json!({"model": "m", "input": [{"role": "user", "content": "hi"}], "client_metadata": {}}),
        )
        .unwrap();
        assert!(matches!(r.input, Some(Input::Items(v)) if v.len() == 1));
        assert!(r.extra.contains_key("client_metadata"));
    }

    #[test]
    fn reasoning_item_always_writes_summary() {
        let item = ReasoningItem {
            kind: "reasoning".into(),
            id: "rs_1".into(),
            summary: Vec::new(),
            content: None,
            encrypted_content: Some("x".into()),
            status: None,
            extra: Extra::new(),
        };
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"})
        );
        let back: ReasoningItem = serde_json::from_value(
            json!({"type": "reasoning", "id": "rs_1", "summary": null, "content": null}),
        )
        .unwrap();
        assert!(back.summary.is_empty());
    }
}
