//! The Anthropic Messages dialect: `POST /v1/messages` (streamed and not), `count_tokens`, the
//! models list and the error body, decoded into and encoded from the IR.
//!
//! Clients: Claude Code and the Anthropic SDKs ([`decode_request`], [`encode_response`],
//! [`StreamEncoder`], [`encode_error`]). Upstreams: the Anthropic API ([`encode_request`],
//! [`decode_response`], [`StreamDecoder`], [`decode_error`]).
//!
//! ## Gemini signature carrier (design D17a)
//!
//! Gemini 3 wants its `thoughtSignature`s back on the parts that carried them, but an Anthropic
//! client only stores what Anthropic's format can hold. So when a reply is encoded for an
//! Anthropic client, a Gemini signature rides in a `thinking` block whose `signature` is
//! `gw.gemini.<value>` ([`GEMINI_CARRIER_PREFIX`]):
//! * a `tool_use` signed by Gemini is preceded by a carrier (its text is the Gemini thought
//!   right before the call, if any, else `""`);
//! * a `text` signed by Gemini is followed by a carrier with text `""` (text signatures arrive
//!   at the end of the part in streams, and only the last part is signed);
//! * a thinking block signed by Gemini carries the prefixed signature itself.
//!
//! Decoding a client request reverses it: a carrier right before a `tool_use` signs that call;
//! an empty carrier right after an unsigned text (and not before a call) signs that text; any
//! other stays a Gemini-signed thinking block. Carriers never reach Anthropic
//! upstreams (only Anthropic-signed thinking does), and Anthropic signatures never reach Gemini.
//!
//! ## OpenAI reasoning carrier
//!
//! A Responses upstream's reasoning item (its summary, its id and its `encrypted_content`,
//! which OpenAI needs back to keep its chain of thought across turns with `store: false`)
//! becomes a `thinking` block whose text is the summary and whose `signature` is
//! `gw.openai.<item id>:<encrypted_content>` (`responses::envelope::OPENAI_TAG`; streamed as
//! that block's `signature_delta`). A replayed one is `Signature{origin: Responses}` again, so a
//! Responses upstream gets its `reasoning` item back; every other upstream drops it. A thinking
//! block under any other `gw.` tag is read as unsigned.
//!
//! ## The fast-path mark
//!
//! Every carrier starts `gw.` (`gw.gemini.`, `gw.openai.`), a prefix no Anthropic signature
//! (base64) has, so a client body holding `"gw.` (`Codec::FOREIGN_SIGNATURE_MARK`) is
//! translated rather than forwarded to an Anthropic upstream, which would refuse it (400
//! "Invalid `signature` in `thinking` block"); the translation drops the foreign thinking.

mod blocks;
mod error;
mod request;
mod response;
mod stream;
pub mod wire;

pub(crate) use error::encode_error_with_id;
pub use error::{
    client_status, decode_error, encode_error, error_type, kind_for_type, reword_context_error,
};
pub use request::{
    DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, decode_count_tokens, decode_request,
    encode_count_tokens, encode_request,
};
pub use response::{decode_response, encode_response};
pub use stream::{StreamDecoder, StreamEncoder};

use crate::protocol::codec::{
    Call, CodecError, CountForm, Endpoint, ModelFrom, PathSpec, Serve, StreamFrom,
};
use crate::protocol::ir::ApiError;

/// Prefix of a gateway-minted thinking signature that carries a Gemini `thoughtSignature`.
pub const GEMINI_CARRIER_PREFIX: &str = "gw.gemini.";

/// Parses a body, naming the field at fault on error (`messages[0].content`). Well-formed
/// bodies take [`wire::parse_fast`]; only a failure pays for path tracking.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    if let Some(value) = wire::parse_fast(body) {
        return Ok(value);
    }
    wire::parse_exact(body)
}

/// A fresh id such as `msg_01Ab...` (24 random alphanumerics after the prefix).
fn random_id(prefix: &str) -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let mut s = String::with_capacity(prefix.len() + 24);
    s.push_str(prefix);
    s.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from),
    );
    s
}

/// Message ids keep an upstream id (prefixed `msg_` when it lacks it) so logs correlate.
fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        random_id("msg_")
    } else {
        format!("msg_{id}")
    }
}

/// Tool-use ids must match `^[a-zA-Z0-9_-]+$` for Anthropic clients (C6).
fn client_tool_id(id: &str) -> String {
    if id.is_empty() {
        return random_id("toolu_");
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Anthropic's facts for the registry (`protocol/dialect.rs`).
pub struct Codec;

impl crate::protocol::codec::Codec for Codec {
    const ENDPOINTS: &'static [Endpoint] = &[
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/messages"),
            serve: Serve::Generate,
            call: Call::Messages,
            route: "messages",
            requires: Some(("messages", &["an array"])),
            model: ModelFrom::Body,
            stream: StreamFrom::BodyField,
            shared: false,
        },
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/messages/count_tokens"),
            serve: Serve::CountTokens,
            call: Call::MessagesCount,
            route: "count_tokens",
            requires: None,
            model: ModelFrom::Body,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: false,
        },
    ];
    const MARKER_HEADER: Option<&'static str> = Some("anthropic-version");
    const COUNT: Option<CountForm> = Some(CountForm {
        decode: |body, _| decode_count_tokens(body),
        encode: encode_count_tokens,
        fields: &["system", "messages", "tools"],
        wrapper: None,
        forward_native: false,
    });
    const ERROR_REQUEST_ID_HEADER: bool = true;
    const FOREIGN_SIGNATURE_MARK: Option<&'static str> =
        Some(crate::protocol::responses::envelope::TAG_MARK);

    /// 529 for capacity failures (E4).
    fn client_status(err: &ApiError) -> u16 {
        client_status(err)
    }
    /// Other providers' context-length wording as Anthropic's (E6).
    fn from_upstream(err: &mut ApiError) {
        reword_context_error(err);
    }
    fn encode_error_with_id(err: &ApiError, id: &str) -> Option<Vec<u8>> {
        Some(encode_error_with_id(err, id))
    }
    /// `event: error` before the data, as Anthropic frames every event.
    fn stream_error(
        _err: &ApiError,
        body: &[u8],
        _trail: &crate::protocol::codec::RelayTrail,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"event: error\ndata: ");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\n\n");
    }
}
