//! The Gemini `generateContent` dialect: wire types, the codec to and from the IR, and the
//! schema reducer Gemini's function declarations need.
//!
//! Same file and function names as `anthropic/` and `openai/` (see `codec.rs`). Gemini-only
//! pieces: [`schema`] (JSON Schema -> Gemini's subset) and [`names`] (function-name
//! sanitizing and minted tool-call ids). The Code Assist envelope types live in [`wire`]; the
//! `gemini-cli` upstream wraps and unwraps them.

pub mod names;
mod parts;
pub mod request;
pub mod schema;
pub mod wire;

pub use names::ToolNames;
pub use request::{
    EncodeOptions, SKIP_SIGNATURE_SENTINEL, decode_request, encode_request, encode_request_with,
};
pub use schema::{SchemaTarget, reduce_schema, reduce_schema_for};
pub mod response;
pub use response::{decode_response, encode_response};
pub mod error;
pub mod stream;
pub use error::{decode_error, encode_error};
pub use stream::{StreamDecoder, StreamEncoder};

#[cfg(test)]
mod fixtures_tests;
