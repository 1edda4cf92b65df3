//! The Gemini `generateContent` dialect: wire types, the codec to and from the IR, and the
//! schema reducer Gemini's function declarations need.
//!
//! Same file and function names as `anthropic/` and `openai/` (see `codec.rs`): [`wire`],
//! [`request`] (decode a Gemini client's body, encode an upstream body; D4-D17), [`response`]
//! (D19-D22), [`stream`] (SSE chunk state machines), [`error`] (Google RPC errors, E3).
//! Gemini-only pieces: [`schema`] (JSON Schema -> Gemini's subset, D6) and [`names`]
//! (function-name sanitizing with the reverse map, minted tool-call ids), with [`schema_memo`]
//! (a bounded process-wide memo of reduced tool schemas). The Code Assist
//! envelope types live in [`wire`]; the `gemini-cli` upstream wraps and unwraps them, and picks
//! [`EncodeOptions`] per provider.

pub mod error;
pub mod names;
mod parts;
pub mod request;
pub mod response;
pub mod schema;
pub mod schema_memo;
pub mod stream;
pub mod wire;

use crate::protocol::codec::{
    Call, CountForm, Endpoint, ListForm, ModelFrom, PathSpec, Serve, StreamFrom,
};
use crate::protocol::ir::ApiError;
pub use error::{canonical_status, client_status, decode_error, encode_error};
pub use names::{ToolNames, gemini_function_name};
pub use request::{
    EncodeOptions, SKIP_SIGNATURE_SENTINEL, decode_count_tokens_request, decode_request,
    encode_count_tokens_response, encode_request, encode_request_with,
};
pub use response::{decode_response, encode_response};
pub use schema::{SchemaTarget, reduce_schema, reduce_schema_for, to_json_schema};
pub use stream::{StreamDecoder, StreamEncoder};

/// Gemini's facts for the registry (`protocol/dialect.rs`).
pub struct Codec;

/// Where Gemini's method paths live.
const MODEL_PREFIXES: &[&str] = &["/v1beta/models/", "/v1/models/"];

impl crate::protocol::codec::Codec for Codec {
    const ENDPOINTS: &'static [Endpoint] = &[
        Endpoint {
            method: "POST",
            path: PathSpec::ModelMethod {
                prefixes: MODEL_PREFIXES,
                method: "generateContent",
            },
            serve: Serve::Generate,
            call: Call::Generate {
                stream: false,
                alt_sse: false,
            },
            route: "generate",
            requires: Some(("contents", &["an array"])),
            model: ModelFrom::Path,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: false,
        },
        Endpoint {
            method: "POST",
            path: PathSpec::ModelMethod {
                prefixes: MODEL_PREFIXES,
                method: "streamGenerateContent",
            },
            serve: Serve::Generate,
            call: Call::Generate {
                stream: true,
                alt_sse: false,
            },
            route: "generate",
            requires: Some(("contents", &["an array"])),
            model: ModelFrom::Path,
            stream: StreamFrom::Path {
                stream: true,
                sse_query: Some(("alt", "sse")),
            },
            shared: false,
        },
        Endpoint {
            method: "POST",
            path: PathSpec::ModelMethod {
                prefixes: MODEL_PREFIXES,
                method: "countTokens",
            },
            serve: Serve::CountTokens,
            call: Call::CountTokens,
            route: "count_tokens",
            requires: None,
            model: ModelFrom::Path,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: false,
        },
        Endpoint {
            method: "GET",
            path: PathSpec::Exact("/v1beta/models"),
            serve: Serve::ModelList,
            call: Call::Models,
            route: "models",
            requires: None,
            model: ModelFrom::None,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: false,
        },
    ];
    const MARKER_HEADER: Option<&'static str> = Some("x-goog-api-key");
    const COUNT: Option<CountForm> = Some(CountForm {
        decode: decode_count_tokens_request,
        encode: encode_count_tokens_response,
        fields: &["systemInstruction", "contents", "tools"],
        // `{"generateContentRequest": {...}}` is the other documented form.
        wrapper: Some("generateContentRequest"),
        forward_native: true,
    });
    const LIST: Option<ListForm> = Some(ListForm::Gemini);
    /// OpenAI's reasoning in a `thoughtSignature` (`parts.rs`): Gemini would refuse it.
    const FOREIGN_SIGNATURE_MARK: Option<&'static str> =
        Some(crate::protocol::responses::envelope::TAG_MARK);

    fn client_status(err: &ApiError) -> u16 {
        client_status(err)
    }
}
