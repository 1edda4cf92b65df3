//! AWS Bedrock's Converse wire (`POST /model/{id}/converse` and `/converse-stream`) as a pure
//! codec, upstream side only: IR requests out ([`encode_request`]), replies, stream events and
//! errors in ([`decode_response`], [`StreamDecoder`], [`decode_error`]). Same file and
//! function names as the client dialects (`codec.rs` has the contract), without the client
//! half: no client speaks Converse to the gateway.
//!
//! * `wire` — the serde types; `request` — IR -> Converse with Bedrock's rules enforced and
//!   the [`Family`] switches; `response` — whole replies, stop reasons, usage; `stream` —
//!   ConverseStream events (already unframed) -> block-model events; `error` — error bodies
//!   and stream exceptions; `ids` — tool names and ids Bedrock accepts, and the way back.
//!
//! The binary event-stream framing, SigV4 and credentials live in `upstream/bedrock/`.
//!
//! Converse has no [`Dialect`](crate::protocol::ir::Dialect) of its own: nothing from a
//! Converse reply needs to travel back to Converse through a client (its reasoning signatures
//! are Claude's and tagged `Anthropic`; its other members are dropped, `Extras` left empty).

mod error;
mod ids;
mod request;
mod response;
mod stream;
pub mod wire;

pub use error::{
    ErrorContext, THROTTLE_RETRY_SECS, decode_error, decode_error_with, decode_exception,
    is_clock_skew,
};
pub use ids::{ToolMap, wire_id};
pub use request::{
    EncodeOptions, Family, GEO_PREFIXES, MAX_STOP_SEQUENCES, STUB_TOOL, encode_request,
    encode_request_with, sanitize_doc_name, tool_map,
};
pub use response::decode_response;
pub use stream::StreamDecoder;
