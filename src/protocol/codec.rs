//! The contract every dialect module (`anthropic`, `openai`, `gemini`) fulfils, with the same
//! names in each:
//!
//! ```text
//! decode_request(body: &[u8], hints: &RequestHints) -> Result<ir::Request, CodecError>
//! encode_request(req: &ir::Request) -> Result<wire::Request, CodecError>   // typed, so upstream/
//!                                                                         // can apply quirks
//! decode_response(body: &[u8]) -> Result<ir::Response, CodecError>
//! encode_response(resp: &ir::Response, ctx: &ResponseCtx) -> Vec<u8>
//! decode_error(status: u16, body: &[u8]) -> ir::ApiError     // never fails: falls back to text
//! encode_error(err: &ir::ApiError) -> Vec<u8>                 // the body; the status is err.status
//! StreamDecoder::new() / .feed(&SseEvent, &mut Vec<StreamEvent>) -> Result<(), CodecError>
//!                      / .finish(&mut Vec<StreamEvent>) -> Result<(), CodecError>
//! StreamEncoder::new(&ResponseCtx) / .encode(&StreamEvent, &mut Vec<u8>)   // SSE bytes
//!                                  / .keep_alive(&mut Vec<u8>)   // the dialect's own ping
//! ```
//!
//! Besides those functions each dialect declares, as data and through [`Codec`], what the server
//! must know of it without naming it: its endpoints ([`Endpoint`], [`Call`]), how its clients
//! are told apart, its error specials. `protocol/dialect.rs` is the registry that dispatches
//! over the dialects; this file names none of them.

use super::ir::{ApiError, Request};

/// What the HTTP layer knows about a request that is not in its body.
#[derive(Debug, Clone, Default)]
pub struct RequestHints {
    /// Gemini carries the model in the path, not the body.
    pub model: Option<String>,
    /// Gemini streams by path (`:streamGenerateContent`), the others by a body field.
    pub stream: Option<bool>,
}

/// What an encoder of replies needs to know about the request being answered.
#[derive(Debug, Clone, Default)]
pub struct ResponseCtx {
    /// The model name the client asked for, echoed back in replies.
    pub model: String,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// A local estimate of the prompt's tokens, for Anthropic's `message_start` before the
    /// upstream reports usage.
    pub estimated_input_tokens: u64,
    /// Gemini's `:streamGenerateContent` without `alt=sse` streams one JSON array instead of SSE.
    pub json_array_stream: bool,
    /// For Responses clients: what the reply needs from the request (custom and namespaced
    /// tools, `include`, the fields echoed); `responses::reply_context` of the decoded request.
    pub responses: Option<std::sync::Arc<super::responses::ReplyContext>>,
}

/// A request, reply or stream that cannot be decoded or encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// Malformed or mistyped JSON; `field` names where (e.g. `messages[2].content`).
    #[error("invalid JSON at {field}: {message}")]
    InvalidJson { field: String, message: String },
    /// Well-formed but meaningless for this dialect (e.g. an unknown role).
    #[error("{0}")]
    Invalid(String),
    /// Something the target dialect cannot express at all (e.g. `n > 1` to Anthropic).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl CodecError {
    /// Maps a serde_json error to one that names the field at fault.
    pub fn from_json(err: &serde_json::Error, path: impl Into<String>) -> Self {
        CodecError::InvalidJson {
            field: path.into(),
            message: err.to_string(),
        }
    }
}

/// An encoded wire value as body bytes, written straight into a buffer sized for `req` (see
/// [`body_size_hint`]) rather than through a `Value` or a growing buffer.
pub fn to_body<T: serde::Serialize>(wire: &T, req: &Request) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(body_size_hint(req));
    serde_json::to_writer(&mut out, wire)
        .map_err(|e| CodecError::Invalid(format!("cannot serialize: {e}")))?;
    Ok(out)
}

/// About how many bytes `req` takes as a request body in any dialect: its text, schemas and
/// tool inputs plus a little per block. An estimate for sizing buffers, not a bound.
pub fn body_size_hint(req: &Request) -> usize {
    use super::ir::{Block, Tool};
    fn block(b: &Block) -> usize {
        64 + match b {
            Block::Text { text, .. } => text.json_len() + 16,
            Block::Thinking { text, .. } => text.len() + 16,
            Block::Image(img) => match &img.source {
                super::ir::ImageSource::Base64 { data, .. } => data.len(),
                super::ir::ImageSource::Url { url, .. } => url.len(),
            },
            Block::ToolUse {
                id, name, input, ..
            } => id.len() + name.len() + input.raw().map_or(64, |r| r.get().len() + 16),
            Block::ToolResult { content, .. } => content.iter().map(block).sum(),
            Block::RedactedThinking { data } => data.len(),
            Block::Document(d) => d.size() + 64,
            Block::Unknown { .. } => 256,
        }
    }
    let system: usize = req.system.iter().map(|b| b.text.json_len() + 64).sum();
    let messages: usize = req
        .messages
        .iter()
        .map(|m| 32 + m.content.iter().map(block).sum::<usize>())
        .sum();
    let tools: usize = req
        .tools
        .iter()
        .map(|t| match t {
            Tool::Function(f) => {
                128 + f.name.len()
                    + f.description.as_ref().map_or(0, |d| d.json_len() + 16)
                    + f.input_schema.raw().map_or(1024, |r| r.get().len())
            }
            Tool::Other { .. } => 256,
        })
        .sum();
    // Escapes (`\n`, `\"`) make the text a little longer on the wire.
    (system + messages + tools) * 17 / 16 + 1024
}

/// What a client called, as the endpoints declare it and the upstream adapters read it (the
/// same-protocol fast path picks the upstream URL by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// OpenAI `chat/completions`.
    Chat,
    /// OpenAI legacy `completions`.
    Completions,
    /// Anthropic `v1/messages`.
    Messages,
    /// Anthropic `v1/messages/count_tokens`.
    MessagesCount,
    /// Gemini `:generateContent` / `:streamGenerateContent` (`alt_sse`: `?alt=sse`).
    Generate { stream: bool, alt_sse: bool },
    /// Gemini `:countTokens`.
    CountTokens,
    /// A model list (`GET /v1/models`, `GET /v1beta/models`).
    Models,
    /// OpenAI `v1/responses`.
    Responses,
    /// OpenAI `v1/responses/input_tokens`.
    ResponsesCount,
}

impl Call {
    /// A token count (Anthropic `count_tokens`, Gemini `:countTokens`), not a generation.
    pub fn counts_tokens(self) -> bool {
        matches!(self, Call::MessagesCount | Call::CountTokens)
    }

    /// The call as made with (`true`) or without the endpoint's SSE query (Gemini's `?alt=sse`).
    pub fn with_sse_query(self, sse: bool) -> Call {
        match self {
            Call::Generate { stream, .. } => Call::Generate {
                stream,
                alt_sse: stream && sse,
            },
            other => other,
        }
    }
}

/// Where an endpoint lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSpec {
    /// This path exactly (another method on it is a 405).
    Exact(&'static str),
    /// `{prefix}{model}:{method}` under any of `prefixes` (Gemini's `/v1beta/models/...`); the
    /// model is URL-decoded and a `models/` prefix on it tolerated.
    ModelMethod {
        prefixes: &'static [&'static str],
        method: &'static str,
    },
}

/// What the server does with an endpoint's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// A generation: decoded, routed, translated or forwarded (the pipeline).
    Generate,
    /// A token count, in the dialect's [`CountForm`].
    CountTokens,
    /// The model list, in the dialect's [`ListForm`].
    ModelList,
}

/// Where an endpoint's model name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFrom {
    /// The body's `model` field.
    Body,
    /// The path (a [`PathSpec::ModelMethod`]).
    Path,
    /// Nowhere (model lists).
    None,
}

/// How an endpoint says whether to stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrom {
    /// The body's `stream` field.
    BodyField,
    /// Fixed by the path; a streaming one is SSE when the query has `key=value`, one JSON
    /// array otherwise (Gemini's `?alt=sse`).
    Path {
        stream: bool,
        sse_query: Option<(&'static str, &'static str)>,
    },
}

/// One endpoint a dialect serves, declared as data: the router builds its table from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// `"POST"` or `"GET"`.
    pub method: &'static str,
    pub path: PathSpec,
    pub serve: Serve,
    pub call: Call,
    /// The label in metrics and the access log.
    pub route: &'static str,
    /// The body field the request must have, and the JSON kinds it may be (for the error).
    pub requires: Option<(&'static str, &'static [&'static str])>,
    pub model: ModelFrom,
    pub stream: StreamFrom,
    /// Answered in the dialect the client's headers suggest rather than this one (`GET
    /// /v1/models` is shared by OpenAI and Anthropic clients).
    pub shared: bool,
}

/// How a dialect's token-count endpoint reads and answers.
#[derive(Debug, Clone, Copy)]
pub struct CountForm {
    pub decode: fn(&[u8], &RequestHints) -> Result<Request, CodecError>,
    pub encode: fn(u64) -> Vec<u8>,
    /// The top-level fields the local estimate counts.
    pub fields: &'static [&'static str],
    /// A wrapper object the fields may sit in instead (Gemini's `generateContentRequest`).
    pub wrapper: Option<&'static str>,
    /// Forwarded as it is when the model's first upstream speaks this dialect natively.
    pub forward_native: bool,
}

/// The shape of a dialect's model list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListForm {
    /// `{"object":"list","data":[...]}` with both OpenAI's and Anthropic's fields.
    OpenAiAnthropic,
    /// `{"models":[{"name":"models/...",...}]}`.
    Gemini,
}

/// What the same-dialect relay noted of the stream it passed on, for an error event of its own
/// that must follow on from it ([`Codec::watch_relay`] fills it; empty for most dialects).
#[derive(Debug, Default, Clone)]
pub struct RelayTrail {
    /// The stream's first event so far, whole once `head_done` (Responses: `response.created`,
    /// whose `Response` the failed event repeats).
    pub head: Vec<u8>,
    pub head_done: bool,
    /// The highest event number seen (Responses' `sequence_number`).
    pub last_seq: Option<u64>,
    /// The last bytes seen, so that a field split across two chunks is still found.
    pub tail: Vec<u8>,
}

/// The dialect-specific facts the server needs beyond the codec functions, with the common
/// answer as the default. Each dialect folder has one `pub struct Codec` implementing it.
pub trait Codec {
    /// The endpoints the dialect serves.
    const ENDPOINTS: &'static [Endpoint];
    /// A request header only this dialect's clients send, which names the dialect on routes
    /// every client may call (model list, unknown paths). `None`: the fallback dialect.
    const MARKER_HEADER: Option<&'static str> = None;
    /// The token-count form, for its [`Serve::CountTokens`] endpoint.
    const COUNT: Option<CountForm> = None;
    /// The model-list form, for its [`Serve::ModelList`] endpoint.
    const LIST: Option<ListForm> = None;
    /// Error replies carry a `request-id` header equal to the body's `request_id`.
    const ERROR_REQUEST_ID_HEADER: bool = false;
    /// The mark the gateway puts on another provider's signatures when it hands them to this
    /// dialect's clients (Anthropic's and Gemini's `"gw.` for `gw.<provider>.` signatures,
    /// OpenAI's `.gw.gemini.` call ids, Responses' `lgw1.` envelopes). A client body holding it
    /// is never forwarded as it is to an upstream of this dialect, which would reject the
    /// foreign signature: it is translated, and the encoder drops them.
    const FOREIGN_SIGNATURE_MARK: Option<&'static str> = None;
    /// The server keeps its replies (`store`) and expands `previous_response_id` from them
    /// (`server::stored_responses`): the Responses API's state.
    const STORES_REPLIES: bool = false;
    /// Top-level fields the same-dialect fast path sends upstream as `null`: state the gateway
    /// has already acted on (Responses' `previous_response_id`, expanded into `input` by
    /// `server::stored_responses`), which the upstream must not look for.
    const FAST_PATH_CLEARS: &'static [&'static str] = &[];

    /// The HTTP status to answer this dialect's client with.
    fn client_status(err: &ApiError) -> u16 {
        err.status
    }
    /// An upstream's error as this dialect's clients should read it (e.g. reworded).
    fn from_upstream(_err: &mut ApiError) {}
    /// The error body naming the gateway's request id, where the dialect's errors have one.
    fn encode_error_with_id(_err: &ApiError, _id: &str) -> Option<Vec<u8>> {
        None
    }
    /// The relay passes this dialect's streams through [`Codec::watch_relay`] (only dialects
    /// whose error event must follow on from what was relayed: Responses numbers its events),
    /// and relays them in whole events, so that an upstream cut mid-event leaves no partial
    /// one before that error event (`server::whole_events`).
    const WATCHES_RELAY: bool = false;
    /// Notes what an error event of the relay's own will need of a relayed stream chunk; cheap,
    /// as it runs on every chunk of a well-formed stream.
    fn watch_relay(_chunk: &[u8], _trail: &mut RelayTrail) {}
    /// The stream event that ends a reply with `err`, whose body in this dialect is `body` (the
    /// fast-path relay, which has no encoder, uses it; `trail` is what [`Codec::watch_relay`]
    /// noted): `data: {body}` unless the dialect names events.
    fn stream_error(_err: &ApiError, body: &[u8], _trail: &RelayTrail, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\n\n");
    }
    /// What encoding a reply needs from the decoded request, for dialects whose replies echo
    /// it (Responses); `None` for the rest.
    fn reply_context(_req: &Request) -> Option<std::sync::Arc<super::responses::ReplyContext>> {
        None
    }
}
