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
//! ```
//!
//! The functions below dispatch on [`Dialect`] so the server pipeline needs no per-pair code.

use super::ir::Dialect;

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

pub fn dialect_name(d: Dialect) -> &'static str {
    d.as_str()
}
