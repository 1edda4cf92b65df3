//! The contract every dialect module (`anthropic`, `openai`, `gemini`, `responses`) fulfils, with the same
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
//! ```
//!
//! The functions below dispatch on [`Dialect`] so the server pipeline needs no per-pair code.

use super::ir::{ApiError, Dialect, Request, Response};
use super::sse::SseEvent;
use super::stream::StreamEvent;
use super::{anthropic, gemini, openai, responses};

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
    pub responses: Option<std::sync::Arc<responses::ReplyContext>>,
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

pub fn dialect_name(d: Dialect) -> &'static str {
    d.as_str()
}

// ---- dispatch over the dialects ----

/// A client's request body in `d`.
pub fn decode_request(
    d: Dialect,
    body: &[u8],
    hints: &RequestHints,
) -> Result<Request, CodecError> {
    match d {
        Dialect::Anthropic => anthropic::decode_request(body, hints),
        Dialect::OpenAi => openai::decode_request(body, hints),
        Dialect::Gemini => gemini::decode_request(body, hints),
        Dialect::Responses => responses::decode_request(body, hints),
    }
}

/// An upstream's whole reply in `d`.
pub fn decode_response(d: Dialect, body: &[u8]) -> Result<Response, CodecError> {
    match d {
        Dialect::Anthropic => anthropic::decode_response(body),
        Dialect::OpenAi => openai::decode_response(body),
        Dialect::Gemini => gemini::decode_response(body),
        Dialect::Responses => responses::decode_response(body),
    }
}

/// A whole reply for a client speaking `d`.
pub fn encode_response(d: Dialect, resp: &Response, ctx: &ResponseCtx) -> Vec<u8> {
    match d {
        Dialect::Anthropic => anthropic::encode_response(resp, ctx),
        Dialect::OpenAi => openai::encode_response(resp, ctx),
        Dialect::Gemini => gemini::encode_response(resp, ctx),
        Dialect::Responses => responses::encode_response(resp, ctx),
    }
}

/// An upstream's error body in `d`; never fails.
pub fn decode_error(d: Dialect, status: u16, body: &[u8]) -> ApiError {
    match d {
        Dialect::Anthropic => anthropic::decode_error(status, body),
        Dialect::OpenAi => openai::decode_error(status, body),
        Dialect::Gemini => gemini::decode_error(status, body),
        Dialect::Responses => responses::decode_error(status, body),
    }
}

/// The error body for a client speaking `d`.
pub fn encode_error(d: Dialect, err: &ApiError) -> Vec<u8> {
    match d {
        Dialect::Anthropic => anthropic::encode_error(err),
        Dialect::OpenAi => openai::encode_error(err),
        Dialect::Gemini => gemini::encode_error(err),
        Dialect::Responses => responses::encode_error(err),
    }
}

/// The HTTP status to answer a client speaking `d` with: Anthropic clients get 529 for
/// capacity failures (E4); the others the error's own status.
pub fn client_status(d: Dialect, err: &ApiError) -> u16 {
    match d {
        Dialect::Anthropic => anthropic::client_status(err),
        Dialect::Gemini => gemini::client_status(err),
        Dialect::OpenAi => err.status,
        Dialect::Responses => responses::client_status(err),
    }
}

impl std::fmt::Debug for AnyStreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self {
            AnyStreamDecoder::Anthropic(_) => Dialect::Anthropic,
            AnyStreamDecoder::OpenAi(_) => Dialect::OpenAi,
            AnyStreamDecoder::Gemini(_) => Dialect::Gemini,
            AnyStreamDecoder::Responses(_) => Dialect::Responses,
        };
        write!(f, "AnyStreamDecoder({})", d.as_str())
    }
}

impl std::fmt::Debug for AnyStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self {
            AnyStreamEncoder::Anthropic(_) => "anthropic",
            AnyStreamEncoder::OpenAi(_) => "openai",
            AnyStreamEncoder::OpenAiCompletions(_) => "openai-completions",
            AnyStreamEncoder::Gemini(_) => "gemini",
            AnyStreamEncoder::Responses(_) => "responses",
        };
        write!(f, "AnyStreamEncoder({d})")
    }
}

/// The stream decoder of an upstream's dialect.
pub enum AnyStreamDecoder {
    Anthropic(anthropic::StreamDecoder),
    OpenAi(openai::StreamDecoder),
    Gemini(gemini::StreamDecoder),
    Responses(responses::StreamDecoder),
}

impl AnyStreamDecoder {
    pub fn new(d: Dialect) -> Self {
        match d {
            Dialect::Anthropic => AnyStreamDecoder::Anthropic(anthropic::StreamDecoder::new()),
            Dialect::OpenAi => AnyStreamDecoder::OpenAi(openai::StreamDecoder::new()),
            Dialect::Gemini => AnyStreamDecoder::Gemini(gemini::StreamDecoder::new()),
            Dialect::Responses => AnyStreamDecoder::Responses(responses::StreamDecoder::new()),
        }
    }

    pub fn feed(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        match self {
            AnyStreamDecoder::Anthropic(d) => d.feed(ev, out),
            AnyStreamDecoder::OpenAi(d) => d.feed(ev, out),
            AnyStreamDecoder::Gemini(d) => d.feed(ev, out),
            AnyStreamDecoder::Responses(d) => d.feed(ev, out),
        }
    }

    /// The upstream body ended: a stream cut before its end becomes an `Error` event.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        match self {
            AnyStreamDecoder::Anthropic(d) => d.finish(out),
            AnyStreamDecoder::OpenAi(d) => d.finish(out),
            AnyStreamDecoder::Gemini(d) => d.finish(out),
            AnyStreamDecoder::Responses(d) => d.finish(out),
        }
    }
}

/// The stream encoder of a client's dialect (plus OpenAI's legacy completions).
pub enum AnyStreamEncoder {
    Anthropic(anthropic::StreamEncoder),
    OpenAi(openai::StreamEncoder),
    OpenAiCompletions(openai::CompletionStreamEncoder),
    Gemini(gemini::StreamEncoder),
    Responses(responses::StreamEncoder),
}

impl AnyStreamEncoder {
    pub fn new(d: Dialect, ctx: &ResponseCtx) -> Self {
        match d {
            Dialect::Anthropic => AnyStreamEncoder::Anthropic(anthropic::StreamEncoder::new(ctx)),
            Dialect::OpenAi => AnyStreamEncoder::OpenAi(openai::StreamEncoder::new(ctx)),
            Dialect::Gemini => AnyStreamEncoder::Gemini(gemini::StreamEncoder::new(ctx)),
            Dialect::Responses => AnyStreamEncoder::Responses(responses::StreamEncoder::new(ctx)),
        }
    }

    /// For `POST /v1/completions` clients.
    pub fn completions(ctx: &ResponseCtx) -> Self {
        AnyStreamEncoder::OpenAiCompletions(openai::CompletionStreamEncoder::new(ctx))
    }

    pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        match self {
            AnyStreamEncoder::Anthropic(e) => e.encode(ev, out),
            AnyStreamEncoder::OpenAi(e) => e.encode(ev, out),
            AnyStreamEncoder::OpenAiCompletions(e) => e.encode(ev, out),
            AnyStreamEncoder::Gemini(e) => e.encode(ev, out),
            AnyStreamEncoder::Responses(e) => e.encode(ev, out),
        }
    }
}
