//! The OpenAI Chat Completions dialect (plus legacy `/v1/completions`): decoding what OpenAI
//! clients send and encoding what they get back, and the reverse for OpenAI-compatible upstreams
//! (OpenAI, DeepSeek, DashScope, vLLM, Ollama, ...). Same file and function names as the other
//! dialects (`codec.rs` has the contract); pure data in, data out.
//!
//! * `wire` — the serde types; `request` — requests and [`EncodeOptions`] (the provider
//!   switches `upstream/` sets); `response` — whole replies; `stream` — the chunk state machines;
//!   `error` — error bodies; `names` — tool names OpenAI accepts, and the way back; `thinking` —
//!   `reasoning_effort` and the provider thinking switches; `legacy` — `/v1/completions`;
//!   `carrier` — Gemini's call signatures inside tool-call ids.

pub mod carrier;
pub mod error;
pub mod legacy;
pub mod names;
pub mod request;
pub mod response;
pub mod stream;
pub mod thinking;
pub mod wire;

use crate::protocol::codec::{Call, Endpoint, ListForm, ModelFrom, PathSpec, Serve, StreamFrom};
pub use error::{decode_error, encode_error};
pub use legacy::{CompletionStreamEncoder, decode_completion_request, encode_completion_response};
pub use names::{ToolNames, wire_tool_name};
pub use request::{EncodeOptions, decode_request, encode_request, encode_request_with};
pub use response::{decode_response, encode_response};
pub use stream::{StreamDecoder, StreamEncoder};
pub use thinking::ThinkingStyle;

/// The tool names of `req` that [`encode_request`] rewrites, for mapping the reply back
/// ([`ToolNames::restore`], [`StreamDecoder::with_tool_names`]).
pub fn tool_name_map(req: &crate::protocol::ir::Request) -> ToolNames {
    ToolNames::for_request(req)
}

/// OpenAI Chat's facts for the registry (`protocol/dialect.rs`). `GET /v1/models` is declared
/// here and answered in whichever dialect the client's headers suggest.
pub struct Codec;

impl crate::protocol::codec::Codec for Codec {
    const FOREIGN_SIGNATURE_MARK: Option<&'static str> = Some(carrier::GEMINI_ID_MARK);
    const ENDPOINTS: &'static [Endpoint] = &[
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/chat/completions"),
            serve: Serve::Generate,
            call: Call::Chat,
            route: "chat",
            requires: Some(("messages", &["an array"])),
            model: ModelFrom::Body,
            stream: StreamFrom::BodyField,
            shared: false,
        },
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/completions"),
            serve: Serve::Generate,
            call: Call::Completions,
            route: "completions",
            requires: Some(("prompt", &["a string", "an array"])),
            model: ModelFrom::Body,
            stream: StreamFrom::BodyField,
            shared: false,
        },
        Endpoint {
            method: "GET",
            path: PathSpec::Exact("/v1/models"),
            serve: Serve::ModelList,
            call: Call::Models,
            route: "models",
            requires: None,
            model: ModelFrom::None,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: true,
        },
    ];
    const LIST: Option<ListForm> = Some(ListForm::OpenAiAnthropic);
}
