//! A client's Responses request read straight into typed values: `input` items and tools from
//! the body text, with no `serde_json::Value` tree in between (`request/decode.rs` uses it).
//!
//! Texts keep their JSON literal ([`text::raw`]: the 20 KB developer prompt and the tool outputs
//! are written back as they came), tool `parameters` their text ([`Json`]), keys are borrowed.
//! Fields come in any order (a client whose JSON library sorts keys writes `type` last), so an
//! item is read as the union of every item kind's fields and sorted out at its end; a part or a
//! tool the same way.
//!
//! This reading is the fast path. Whatever it is not sure of (a field of an unexpected JSON
//! type, a `null` one item kind takes and another refuses, a non-object item or tool) fails the
//! parse, and the decoder reads the body again the exact way (`super::Request`, items as
//! `Value`s), which decides: the same result, or the error naming the field. So this file only
//! has to agree with the exact reading on what it accepts (`request/decode_tests.rs` checks).
//! The exact reading arrives in the same types, through [`Input::Values`] and [`Tool::Value`].

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Extra, Reasoning, SummaryPart, TextConfig};
use crate::protocol::ir::Json;
use crate::protocol::text::{self, Text};

/// A `POST /v1/responses` body: the fields of [`super::Request`], with typed items and tools.
#[derive(Debug, Default, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub input: Option<Input>,
    #[serde(default, deserialize_with = "text::raw_opt")]
    pub instructions: Option<Text>,
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
    #[serde(default)]
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub include: Option<Vec<String>>,
    #[serde(default)]
    pub user: Option<String>,
    /// `metadata`, `prompt_cache_key`, `previous_response_id`, `client_metadata`, ...
    #[serde(flatten)]
    pub extra: Extra,
}

impl Request {
    /// The exact reading, in these types: items and tools stay values for the decoder to read
    /// one by one (and name the one at fault).
    pub fn from_exact(w: super::Request) -> Self {
        Request {
            model: w.model,
            input: w.input.map(|i| match i {
                super::Input::Text(t) => Input::Text(t),
                super::Input::Items(v) => Input::Values(v),
            }),
            instructions: w.instructions,
            tools: w.tools.map(|ts| ts.into_iter().map(Tool::Value).collect()),
            tool_choice: w.tool_choice,
            parallel_tool_calls: w.parallel_tool_calls,
            reasoning: w.reasoning,
            text: w.text,
            max_output_tokens: w.max_output_tokens,
            temperature: w.temperature,
            top_p: w.top_p,
            stream: w.stream,
            store: w.store,
            include: w.include,
            user: w.user,
            extra: w.extra,
        }
    }
}

/// `input`: one string (a user message) or a list of items.
#[derive(Debug)]
pub enum Input {
    Text(Text),
    Items(Vec<Item>),
    /// Items as the exact reading leaves them (never made by deserializing).
    Values(Vec<Value>),
}

/// One `input` item, as the decoder needs it. Fields the IR has no place for (an item's `id`,
/// `status`, an assistant message's `phase`) are read past: the decoder never used them.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `type: "message"`, or the easy form without `type`. `role` is checked by the decoder.
    Message {
        role: String,
        content: Content,
    },
    FunctionCall(Call),
    /// `custom_tool_call`: `arguments` holds the raw `input` text (an `apply_patch`).
    CustomToolCall(Call),
    /// `function_call_output` or `custom_tool_call_output`.
    CallOutput {
        call_id: String,
        output: Content,
    },
    Reasoning(ReasoningItem),
    /// Tools declared in the input (Codex's lite models, pitfall 5).
    AdditionalTools(Vec<Tool>),
    /// An item type the decoder drops (`item_reference`, `web_search_call`, newer kinds): its
    /// `type`.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub call_id: String,
    pub name: String,
    pub namespace: Option<String>,
    /// `function_call`: the arguments' JSON text; `custom_tool_call`: the raw input.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReasoningItem {
    pub id: String,
    pub summary: Vec<SummaryPart>,
    pub content: Option<Vec<SummaryPart>>,
    pub encrypted_content: Option<String>,
}

/// Message content or a call's output: a string or a list of parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(Text),
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Parts(Vec::new())
    }
}

/// A content part the decoder reads. A text part without a string `text` is left out (as it
/// always was), so it has no variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `input_text`, `output_text`, `text`, `summary_text` (their `text`) or `refusal`.
    Text(Text),
    /// `input_image` with an `image_url` (a URL or a data URL).
    Image(String),
    /// `input_file`, an image without a URL, or a kind the IR does not model: whole.
    Other(Value),
}

const TEXT_KINDS: [&str; 4] = ["input_text", "output_text", "text", "summary_text"];

impl Part {
    /// A part of the exact reading.
    pub fn from_value(mut v: Value) -> Option<Part> {
        fn take(v: &mut Value, k: &str) -> Option<String> {
            match v.get_mut(k) {
                Some(Value::String(s)) => Some(std::mem::take(s)),
                _ => None,
            }
        }
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        Some(if TEXT_KINDS.contains(&kind) {
            Part::Text(take(&mut v, "text")?.into())
        } else if kind == "refusal" {
            Part::Text(take(&mut v, "refusal")?.into())
        } else if kind == "input_image" && v.get("image_url").is_some_and(Value::is_string) {
            Part::Image(take(&mut v, "image_url").unwrap_or_default())
        } else {
            Part::Other(v)
        })
    }
}

/// A tool of `tools` or of an `additional_tools` item (`tools.rs` turns it into IR tools).
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// `function` or `custom`: every field but these two in `fields` (`type`, `name`,
    /// `strict`, `format`, and whatever else the client sent).
    Function {
        description: Option<Text>,
        parameters: Option<Json>,
        fields: Extra,
    },
    /// `namespace`: its own fields (name, description, ...) and its tools.
    Namespace { fields: Extra, tools: Vec<Tool> },
    /// A hosted tool (`web_search`, `local_shell`, `tool_search`, ...), or one without a
    /// `type`: whole.
    Hosted(Value),
    /// A tool as the exact reading leaves it (never made by deserializing).
    Value(Value),
}

// ---------------------------------------------------------------------------------------------
// Deserializing

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string kept as its JSON literal; anything else fails.
struct RawText(Text);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text::raw(d).map(RawText)
    }
}

/// Declines a shape the exact reading should decide.
fn decline<E: de::Error>(why: &str) -> E {
    E::custom(format_args!("fast path declines: {why}"))
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Input;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of items")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Input, E> {
                Ok(Input::Text(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Input, E> {
                Ok(Input::Text(v.into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<Item>()? {
                    items.push(item);
                }
                Ok(Input::Items(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// Content as read, before the item's kind says what it is.
enum RawContent {
    Text(Text),
    Parts(Vec<RawPart>),
    Null,
}

impl<'de> Deserialize<'de> for RawContent {
    /// Message content: mostly a list of parts, read in one pass.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawContent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawContent, E> {
                Ok(RawContent::Text(v.into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawContent, E> {
                Ok(RawContent::Text(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawContent, E> {
                Ok(RawContent::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawContent, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(p) = seq.next_element::<RawPart>()? {
                    parts.push(p);
                }
                Ok(RawContent::Parts(parts))
            }
        }
        d.deserialize_any(V)
    }
}

/// A call's `output`: mostly a long string (a command's output), kept as its literal, so the
/// value is first taken as borrowed raw text and then read by its first byte.
struct RawOutput(RawContent);

impl<'de> Deserialize<'de> for RawOutput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use de::Error;
        let raw = <&'de RawValue>::deserialize(d)?;
        let content = match raw.get().as_bytes().first() {
            Some(b'"') => RawContent::Text(text::raw(raw).map_err(D::Error::custom)?),
            Some(b'n') => RawContent::Null,
            _ => RawContent::deserialize(raw).map_err(D::Error::custom)?,
        };
        Ok(RawOutput(content))
    }
}

/// A content part as read: its kind, its `text` or `refusal` as literals, the rest as values.
struct RawPart {
    kind: Option<String>,
    text: Option<Text>,
    refusal: Option<Text>,
    rest: Extra,
}

impl<'de> Deserialize<'de> for RawPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPart;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPart, A::Error> {
                let mut p = RawPart {
                    kind: None,
                    text: None,
                    refusal: None,
                    rest: Extra::new(),
                };
                while let Some(Key(k)) = map.next_key()? {
                    match &*k {
                        "type" => p.kind = Some(map.next_value()?),
                        "text" => p.text = Some(map.next_value::<RawText>()?.0),
                        "refusal" => p.refusal = Some(map.next_value::<RawText>()?.0),
                        _ => {
                            p.rest.insert(k.into_owned(), map.next_value()?);
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V)
    }
}

impl RawPart {
    fn into_part(self) -> Option<Part> {
        match self.kind.as_deref() {
            Some(k) if TEXT_KINDS.contains(&k) => self.text.map(Part::Text),
            Some("refusal") => self.refusal.map(Part::Text),
            Some("input_image") if self.rest.get("image_url").is_some_and(Value::is_string) => {
                let mut rest = self.rest;
                match rest.remove("image_url") {
                    Some(Value::String(url)) => Some(Part::Image(url)),
                    _ => None,
                }
            }
            _ => Some(Part::Other(self.into_value())),
        }
    }

    /// The whole part, as the exact reading has it.
    fn into_value(self) -> Value {
        let mut m = self.rest;
        if let Some(k) = self.kind {
            m.insert("type".into(), Value::String(k));
        }
        if let Some(t) = self.text {
            m.insert("text".into(), Value::String(t.into_string()));
        }
        if let Some(r) = self.refusal {
            m.insert("refusal".into(), Value::String(r.into_string()));
        }
        Value::Object(m)
    }

    /// A reasoning `summary`/`content` part (`type` required, `text` defaulting to "").
    fn into_summary<E: de::Error>(self) -> Result<SummaryPart, E> {
        Ok(SummaryPart {
            kind: self
                .kind
                .ok_or_else(|| decline("a reasoning part without `type`"))?,
            text: self.text.map(Text::into_string).unwrap_or_default(),
        })
    }
}

fn content<E: de::Error>(c: Option<RawContent>) -> Result<Content, E> {
    Ok(match c {
        None => Content::default(),
        Some(RawContent::Null) => return Err(decline("null content")),
        Some(RawContent::Text(t)) => Content::Text(t),
        Some(RawContent::Parts(ps)) => {
            Content::Parts(ps.into_iter().filter_map(RawPart::into_part).collect())
        }
    })
}

/// The fields of every item kind; an item fills those it has.
#[derive(Default)]
struct ItemFields {
    kind: Option<String>,
    role: Option<String>,
    content: Option<RawContent>,
    output: Option<RawContent>,
    /// `Some(None)`: a `null` id (fine but for a reasoning item).
    id: Option<Option<String>>,
    call_id: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    arguments: Option<String>,
    input: Option<String>,
    summary: Option<Vec<SummaryPart>>,
    encrypted_content: Option<String>,
    tools: Option<Vec<Tool>>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an input item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut f = ItemFields::default();
                while let Some(Key(k)) = map.next_key()? {
                    match &*k {
                        "type" => f.kind = Some(map.next_value()?),
                        "role" => f.role = Some(map.next_value()?),
                        "content" => f.content = Some(map.next_value()?),
                        "output" => f.output = Some(map.next_value::<RawOutput>()?.0),
                        "id" => f.id = Some(map.next_value()?),
                        "call_id" => f.call_id = Some(map.next_value()?),
                        "name" => f.name = Some(map.next_value()?),
                        "namespace" => f.namespace = map.next_value()?,
                        "arguments" => {
                            f.arguments = Some(super::arguments_string(map.next_value::<Value>()?))
                        }
                        "input" => f.input = Some(map.next_value()?),
                        "summary" => f.summary = map.next_value()?,
                        "encrypted_content" => f.encrypted_content = map.next_value()?,
                        "tools" => f.tools = Some(map.next_value()?),
                        // `status` is typed on every item kind the decoder reads.
                        "status" => {
                            map.next_value::<Option<String>>()?;
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                f.into_item()
            }
        }
        d.deserialize_map(V)
    }
}

impl ItemFields {
    fn into_item<E: de::Error>(self) -> Result<Item, E> {
        let kind = match self.kind {
            Some(k) => k,
            None if self.role.is_some() => "message".to_owned(),
            None => return Err(decline("an item without `type` or `role`")),
        };
        let required = |v: Option<String>, field: &str| {
            v.ok_or_else(|| decline(&format!("`{kind}` without `{field}`")))
        };
        Ok(match kind.as_str() {
            "message" => Item::Message {
                role: required(self.role, "role")?,
                content: content(self.content)?,
            },
            "function_call" | "custom_tool_call" => {
                let call = Call {
                    call_id: required(self.call_id, "call_id")?,
                    name: required(self.name, "name")?,
                    namespace: self.namespace,
                    arguments: if kind == "function_call" {
                        self.arguments.unwrap_or_default()
                    } else {
                        self.input.unwrap_or_default()
                    },
                };
                if kind == "function_call" {
                    Item::FunctionCall(call)
                } else {
                    Item::CustomToolCall(call)
                }
            }
            "function_call_output" | "custom_tool_call_output" => Item::CallOutput {
                call_id: required(self.call_id, "call_id")?,
                output: content(self.output)?,
            },
            "reasoning" => Item::Reasoning(ReasoningItem {
                id: match self.id {
                    None => String::new(),
                    Some(Some(id)) => id,
                    Some(None) => return Err(decline("a reasoning item with a null id")),
                },
                summary: self.summary.unwrap_or_default(),
                content: match self.content {
                    None | Some(RawContent::Null) => None,
                    Some(RawContent::Text(_)) => return Err(decline("reasoning content text")),
                    Some(RawContent::Parts(ps)) => Some(
                        ps.into_iter()
                            .map(RawPart::into_summary)
                            .collect::<Result<_, E>>()?,
                    ),
                },
                encrypted_content: self.encrypted_content,
            }),
            "additional_tools" => Item::AdditionalTools(self.tools.unwrap_or_default()),
            _ => Item::Unknown(kind),
        })
    }
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tool")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tool, A::Error> {
                let mut description = None;
                let mut parameters = None;
                let mut tools = None;
                let mut fields = Extra::new();
                while let Some(Key(k)) = map.next_key()? {
                    match &*k {
                        "description" => description = Some(map.next_value::<RawText>()?.0),
                        "parameters" => parameters = Some(map.next_value::<Json>()?),
                        "tools" => tools = Some(map.next_value::<Vec<Tool>>()?),
                        _ => {
                            fields.insert(k.into_owned(), map.next_value()?);
                        }
                    }
                }
                let kind = fields
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Ok(match (kind, tools) {
                    ("function" | "custom", None) => Tool::Function {
                        description,
                        parameters,
                        fields,
                    },
                    ("function" | "custom", Some(_)) => {
                        return Err(decline("a function tool with `tools`"));
                    }
                    ("namespace", tools) => {
                        put_back(&mut fields, description, parameters);
                        Tool::Namespace {
                            fields,
                            tools: tools.unwrap_or_default(),
                        }
                    }
                    (_, Some(_)) => return Err(decline("a hosted tool with `tools`")),
                    (_, None) => {
                        put_back(&mut fields, description, parameters);
                        Tool::Hosted(Value::Object(fields))
                    }
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A tool's `description` and `parameters` back among its other fields.
fn put_back(fields: &mut Extra, description: Option<Text>, parameters: Option<Json>) {
    if let Some(d) = description {
        fields.insert("description".into(), Value::String(d.into_string()));
    }
    if let Some(p) = parameters {
        fields.insert("parameters".into(), p.into_value());
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
