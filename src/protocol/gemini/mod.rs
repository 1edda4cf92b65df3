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

pub use error::{canonical_status, client_status, decode_error, encode_error};
pub use names::{ToolNames, gemini_function_name};
pub use request::{
    EncodeOptions, SKIP_SIGNATURE_SENTINEL, decode_count_tokens_request, decode_request,
    encode_count_tokens_response, encode_request, encode_request_with,
};
pub use response::{decode_response, encode_response};
pub use schema::{SchemaTarget, reduce_schema, reduce_schema_for, to_json_schema};
pub use stream::{StreamDecoder, StreamEncoder};
