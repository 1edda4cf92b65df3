//! The neutral request/response model that every dialect decodes into and encodes out of.
//!
//! It is a superset of Anthropic Messages, OpenAI Chat Completions and Gemini generateContent:
//! content blocks with ids and signatures, system blocks, tools with JSON Schema, thinking, usage
//! with cache and reasoning tokens, stop reasons. What one dialect has and the IR does not model is
//! kept in [`Extras`] tagged with the dialect it came from, so that encoding back into the same
//! dialect loses nothing and encoding into another dialect never leaks it.

use serde_json::{Map, Value};

pub use super::json::Json;
pub use super::text::Text;

/// The wire formats, made by the registry (`protocol/dialect.rs`); named here because
/// [`Extras`] remembers where fields came from.
pub use super::dialect::Dialect;

/// Fields a dialect sent that the IR does not model, remembered with their origin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extras {
    pub origin: Option<Dialect>,
    pub fields: Map<String, Value>,
}

impl Extras {
    pub fn new(origin: Dialect, fields: Map<String, Value>) -> Self {
        Extras {
            origin: Some(origin),
            fields,
        }
    }

    /// The fields, but only when they came from `dialect`: extras never cross dialects.
    pub fn for_dialect(&self, dialect: Dialect) -> Option<&Map<String, Value>> {
        (self.origin == Some(dialect) && !self.fields.is_empty()).then_some(&self.fields)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The object field `key`, when the fields came from `dialect` and it is an object; else an
    /// empty map.
    pub fn object(&self, dialect: Dialect, key: &str) -> Map<String, Value> {
        match self.for_dialect(dialect).and_then(|f| f.get(key)) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    }
}

/// A chat request, whatever dialect it arrived in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// The model name as the client sent it (routing rewrites it before encoding).
    pub model: String,
    /// The leading system prompt, as blocks (Anthropic `system`, OpenAI leading system/developer
    /// messages, Gemini `systemInstruction`).
    pub system: Vec<SystemBlock>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` when the client asked for at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    /// Number of choices (OpenAI `n`, Gemini `candidateCount`).
    pub n: Option<u32>,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`; other dialects always report usage.
    pub stream_include_usage: bool,
    pub thinking: Option<ThinkingConfig>,
    pub response_format: Option<ResponseFormat>,
    /// An opaque end-user id (Anthropic `metadata.user_id`, OpenAI `user`).
    pub user: Option<String>,
    pub extra: Extras,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SystemBlock {
    pub text: Text,
    /// Anthropic `cache_control`, kept for Anthropic upstreams and dropped elsewhere.
    pub cache_control: Option<Value>,
}

impl SystemBlock {
    /// Claude Code's attribution block (`x-anthropic-billing-header: ...`): kept as its own first
    /// block for Anthropic upstreams, dropped by encoders for other dialects (A4.1).
    pub fn is_attribution(&self) -> bool {
        self.text.starts_with("x-anthropic-billing-header:")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// A system message in the middle of the conversation (Claude Code sends these).
    System,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// An opaque reasoning signature and the provider that minted it. Signatures are only ever sent
/// back to a provider of the same origin (Gemini rejects Anthropic's and the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub origin: Dialect,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text {
        text: Text,
        /// Gemini may sign a text part.
        signature: Option<Signature>,
        cache_control: Option<Value>,
    },
    Image(Image),
    ToolUse {
        id: String,
        name: String,
        /// Always a JSON object (kept as the text it came in; see [`Json`]).
        input: Json,
        /// Gemini's `thoughtSignature` on a `functionCall` part.
        signature: Option<Signature>,
    },
    ToolResult {
        tool_use_id: String,
        /// Text and image blocks.
        content: Vec<Block>,
        is_error: bool,
        cache_control: Option<Value>,
    },
    Thinking {
        text: String,
        signature: Option<Signature>,
    },
    RedactedThinking {
        data: String,
    },
    /// A file the client attached (a PDF, a text document) or named.
    Document(Document),
    /// A block the IR does not model (e.g. an Anthropic `server_tool_use`): kept
    /// verbatim for its own dialect, dropped when encoding into another.
    Unknown {
        origin: Dialect,
        value: Value,
    },
}

/// A document: Anthropic `document`, OpenAI Chat `file` part, Responses `input_file`, Gemini
/// inline PDF or text data. Upstreams without documents get it as text, or only named.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub source: DocumentSource,
    pub title: Option<String>,
    /// Anthropic `cache_control` (Bedrock makes a cache point of it).
    pub cache_control: Option<Value>,
    /// What its own dialect said besides (Anthropic `context`/`citations`, a source the IR
    /// reads only as text, a provider's file id), for encoding back into that dialect.
    pub extra: Extras,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DocumentSource {
    /// A file in base64 (a PDF).
    Base64 { media_type: String, data: String },
    /// A plain-text document (or the text of an Anthropic `content` source).
    Text { text: String },
    /// A document the gateway does not fetch (a URL, a provider's stored file, a source it
    /// cannot read), described for a person: named to the upstream, so the model learns it was
    /// there.
    Reference { location: String },
}

/// Why a referenced document reaches no upstream: the gateway does not fetch for the client.
const REFERENCE_NOT_FETCHED: &str = "the gateway passes on only documents sent inline";

impl Document {
    /// The document as text, when text is all of it an upstream can get: a text document
    /// under its [`label`](Self::label) line, a reference named (not fetched). `None` for a file.
    pub fn as_text(&self) -> Option<String> {
        match &self.source {
            DocumentSource::Text { text } => Some(format!("{}\n{text}", self.label())),
            DocumentSource::Reference { .. } => Some(self.not_included(REFERENCE_NOT_FETCHED)),
            DocumentSource::Base64 { .. } => None,
        }
    }

    /// A line that names the document, for upstreams that get its text or only a mention.
    pub fn label(&self) -> String {
        let named = match &self.title {
            Some(t) => format!("document `{t}`"),
            None => "document".to_owned(),
        };
        match &self.source {
            DocumentSource::Base64 { media_type, .. } => format!("[{named} ({media_type})]"),
            DocumentSource::Text { .. } => format!("[{named}]"),
            DocumentSource::Reference { location } => format!("[{named} at {location}]"),
        }
    }

    /// The [`label`](Self::label) and why the upstream does not get the document itself.
    pub fn not_included(&self, why: &str) -> String {
        format!("{} (not included: {why})", self.label())
    }

    /// A rough size in bytes, for buffer estimates.
    pub fn size(&self) -> usize {
        let title = self.title.as_ref().map_or(0, String::len);
        title
            + match &self.source {
                DocumentSource::Base64 { data, .. } => data.len(),
                DocumentSource::Text { text } => text.len(),
                DocumentSource::Reference { location } => location.len(),
            }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub source: ImageSource,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
        media_type: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Function(FunctionTool),
    /// A provider-side tool (Anthropic `web_search_20250305`, Gemini `googleSearch`, ...):
    /// forwarded to its own dialect, dropped elsewhere.
    Other {
        origin: Dialect,
        value: Value,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionTool {
    pub name: String,
    pub description: Option<Text>,
    /// JSON Schema of the arguments, as the client sent it (upstreams reduce it as they must;
    /// kept as text until then, see [`Json`]).
    pub input_schema: Json,
    pub cache_control: Option<Value>,
    pub extra: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// The model must call some tool (OpenAI `required`, Gemini `ANY`).
    Any,
    None,
    Tool(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingMode {
    Disabled,
    Enabled,
    /// The model decides how much to think (Anthropic `adaptive`, Gemini budget -1).
    Adaptive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
    Max,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThinkingConfig {
    pub mode: ThinkingMode,
    pub budget_tokens: Option<u32>,
    pub effort: Option<Effort>,
    /// Whether thought text should be returned (Gemini `includeThoughts`, Anthropic `display`).
    pub include_thoughts: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: Option<String>,
        schema: Value,
        strict: Option<bool>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    PauseTurn,
    Refusal,
    ContextWindowExceeded,
}

/// Token counts. `input_tokens` excludes cache reads and writes (Anthropic's convention);
/// `output_tokens` includes reasoning tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// All prompt tokens, cached or not (OpenAI `prompt_tokens`, Gemini `promptTokenCount`).
    /// The counts are the upstream's: a nonsense one saturates rather than overflows.
    pub fn prompt_total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// A whole (non-streamed) reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that matched, when `stop_reason` is `StopSequence`.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    pub extra: Extras,
}

/// What kind of failure an error is; each dialect maps it to its own status and type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Billing,
    Permission,
    NotFound,
    Conflict,
    RequestTooLarge,
    RateLimit,
    Api,
    Timeout,
    Overloaded,
    BadGateway,
    Unavailable,
}

impl ErrorKind {
    /// What an HTTP status means when a provider's body does not say more.
    pub fn for_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimit,
            408 | 504 => ErrorKind::Timeout,
            502 => ErrorKind::BadGateway,
            503 => ErrorKind::Unavailable,
            529 => ErrorKind::Overloaded,
            s if s >= 500 => ErrorKind::Api,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

/// An error in neutral form: the gateway's own, or an upstream's decoded from its dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status to answer with.
    pub status: u16,
    pub kind: ErrorKind,
    /// The upstream's own wording where there is one: clients match on it.
    pub message: String,
    /// The request field at fault, when known.
    pub param: Option<String>,
    /// A machine-readable code (OpenAI `code`, Gemini ErrorInfo `reason`).
    pub code: Option<String>,
    pub retry_after_secs: Option<u64>,
    /// `Some(false)` for failures retrying cannot fix (a spent daily quota).
    pub should_retry: Option<bool>,
}

impl ApiError {
    pub fn new(status: u16, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after_secs: None,
            should_retry: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, ErrorKind::InvalidRequest, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(source: DocumentSource, title: Option<&str>) -> Document {
        Document {
            source,
            title: title.map(str::to_owned),
            cache_control: None,
            extra: Extras::default(),
        }
    }

    #[test]
    fn documents_are_labelled_and_read_as_text_unless_they_are_files() {
        let pdf = doc(
            DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBE".into(),
            },
            Some("a.pdf"),
        );
        assert_eq!(pdf.label(), "[document `a.pdf` (application/pdf)]");
        assert_eq!(pdf.as_text(), None);
        let text = doc(DocumentSource::Text { text: "hi".into() }, None);
        assert_eq!(text.as_text().as_deref(), Some("[document]\nhi"));
        let url = doc(
            DocumentSource::Reference {
                location: "u".into(),
            },
            None,
        );
        assert_eq!(url.label(), "[document at u]");
        assert!(url.as_text().unwrap().contains("not included"));
        assert_eq!(pdf.size(), 4 + 5);
    }

    #[test]
    fn extras_objects_only_for_their_own_dialect() {
        let mut fields = Map::new();
        fields.insert("generationConfig".into(), json!({"candidateCount": 2}));
        fields.insert("cachedContent".into(), json!("c"));
        let e = Extras::new(Dialect::Gemini, fields);
        assert_eq!(
            Value::Object(e.object(Dialect::Gemini, "generationConfig")),
            json!({"candidateCount": 2})
        );
        assert!(e.object(Dialect::Gemini, "cachedContent").is_empty());
        assert!(e.object(Dialect::OpenAi, "generationConfig").is_empty());
    }
}
