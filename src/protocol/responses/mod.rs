//! The OpenAI Responses API dialect (`POST /v1/responses`): Codex CLI and the openai SDKs'
//! `client.responses.create` as clients, Responses-only models as upstreams. Same file and
//! function names as the other dialects (`codec.rs` has the contract); pure data in, data out.
//! Wire facts: `docs/responses-rules.md` (cited below as "reference §N").
//!
//! * `wire` — the serde types; `request` — requests both ways; `response` — whole replies and
//!   the item shapes the stream encoder shares; `stream` — the event state machines
//!   (`stream/encode.rs` for clients, `stream/decode.rs` for upstreams); `error` — error bodies
//!   and the `response.failed` codes Codex acts on; `tools` — function / custom / namespace /
//!   hosted tools and the map back; `envelope` — the `lgw1.` reasoning envelope and the
//!   `gw.openai.` tag; `relay` — the `response.failed` that ends a relayed (same-dialect)
//!   stream cut short.
//!
//! ## Reasoning across providers
//! A reasoning item's `encrypted_content` is the only thing a stateless client (Codex,
//! `store: false`) replays, so signatures ride there:
//! * OpenAI's own value is a `Signature{origin: Responses}` whose value is
//!   `<item id>:<encrypted_content>` (`envelope::pack_native`): sent back untouched, and only to a
//!   Responses upstream (every encoder sends only its own origin's signatures). Clients of the
//!   other dialects keep it too, so a Responses upstream keeps its chain of thought across their
//!   turns: an Anthropic client in the thinking block's `signature`, a Gemini client in the
//!   `thoughtSignature` of the part the reasoning preceded, both tagged
//!   `gw.openai.` (`envelope::OPENAI_TAG`; the `anthropic` and `gemini` module docs). A Chat
//!   client has no field that could hold it (its reasoning text has no signature, and a
//!   multi-kilobyte blob in a tool-call id would not survive every client): it gets the
//!   summary as reasoning text only, and the upstream gets no reasoning item back.
//! * An Anthropic or Gemini signature goes out in a versioned gateway envelope
//!   (`envelope.rs`) and comes back as the same IR signature, so Anthropic gets its signed
//!   thinking block and Gemini its `thoughtSignature` on the right part, and neither ever sees
//!   the other's.
//!
//! ## What a reply needs from its request
//! Custom tools answer as `custom_tool_call` with raw text, namespaced tools with their
//! `namespace`, encrypted content only when asked for, and request fields are echoed: the
//! server puts [`reply_context`] of the decoded request in `ResponseCtx::responses`. Without it
//! (another dialect's request) every call is a `function_call` and envelopes are included.

pub mod envelope;
pub mod error;
mod relay;
pub mod request;
pub mod response;
pub mod stream;
pub mod tools;
pub mod wire;

use serde_json::{Map, Value, json};

pub use error::{client_status, decode_error, encode_error};
pub use request::{decode_request, encode_request};
pub use response::{decode_response, encode_response};
pub use stream::{StreamDecoder, StreamEncoder};
pub use tools::ToolMap;

use crate::protocol::codec::{
    Call, CountForm, Endpoint, ModelFrom, PathSpec, RelayTrail, Serve, StreamFrom,
};
use crate::protocol::ir::{self, Dialect};

/// The Responses dialect's registry entry: `POST /v1/responses` (streaming by the body's
/// `stream`; a query such as `?beta=true` is not part of the path the router matches) and its
/// token count `POST /v1/responses/input_tokens`. The stored-reply routes (`GET`/`DELETE
/// /v1/responses/{id}`, `.../input_items`) are the server's (`server::stored_responses`).
pub struct Codec;

impl crate::protocol::codec::Codec for Codec {
    const ENDPOINTS: &'static [Endpoint] = &[
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/responses"),
            serve: Serve::Generate,
            call: Call::Responses,
            route: "responses",
            requires: Some(("input", &["a string", "an array"])),
            model: ModelFrom::Body,
            stream: StreamFrom::BodyField,
            shared: false,
        },
        Endpoint {
            method: "POST",
            path: PathSpec::Exact("/v1/responses/input_tokens"),
            serve: Serve::CountTokens,
            call: Call::ResponsesCount,
            route: "responses_input_tokens",
            requires: None,
            model: ModelFrom::Body,
            stream: StreamFrom::Path {
                stream: false,
                sse_query: None,
            },
            shared: false,
        },
    ];
    const COUNT: Option<CountForm> = Some(CountForm {
        decode: decode_request,
        encode: encode_input_tokens,
        fields: &["instructions", "input", "tools"],
        wrapper: None,
        forward_native: false,
    });
    const STORES_REPLIES: bool = true;
    const FAST_PATH_CLEARS: &'static [&'static str] = &["previous_response_id"];
    const FOREIGN_SIGNATURE_MARK: Option<&'static str> = Some(envelope::PREFIX);

    fn client_status(err: &ir::ApiError) -> u16 {
        client_status(err)
    }
    const WATCHES_RELAY: bool = true;
    /// The relayed stream's first event and last `sequence_number` (`relay.rs` in this folder).
    fn watch_relay(chunk: &[u8], trail: &mut RelayTrail) {
        relay::watch(chunk, trail);
    }
    /// `response.failed`, numbered after the last relayed event, with the code Codex acts on
    /// (reference §4, §5): a bare `error` event would lose the message and the retry delay.
    fn stream_error(err: &ir::ApiError, _body: &[u8], trail: &RelayTrail, out: &mut Vec<u8>) {
        relay::failed(err, trail, out);
    }
    fn reply_context(req: &ir::Request) -> Option<std::sync::Arc<ReplyContext>> {
        Some(std::sync::Arc::new(reply_context(req)))
    }
}

/// The answer of `POST /v1/responses/input_tokens`.
pub fn encode_input_tokens(n: u64) -> Vec<u8> {
    format!(r#"{{"object":"response.input_tokens","input_tokens":{n}}}"#).into_bytes()
}

/// What encoding a reply for a Responses client needs to know about its request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyContext {
    pub tools: ToolMap,
    /// The client asked for `reasoning.encrypted_content` (or nobody said: then yes).
    pub include_encrypted: bool,
    /// Request fields echoed in every `Response` object (reference §3).
    pub echo: Map<String, Value>,
    /// The reply's id when the gateway keeps it (`store`): minted here, unique, rather than
    /// made from the upstream's id, which some servers repeat (a kept reply would replace
    /// another). `None`: made from the upstream's id.
    pub response_id: Option<String>,
}

impl Default for ReplyContext {
    fn default() -> Self {
        ReplyContext {
            tools: ToolMap::default(),
            include_encrypted: true,
            echo: Map::new(),
            response_id: None,
        }
    }
}

/// The [`ReplyContext`] of a decoded request.
pub fn reply_context(req: &ir::Request) -> ReplyContext {
    let extra = req.extra.for_dialect(Dialect::Responses);
    let get = |k: &str| extra.and_then(|e| e.get(k)).cloned();
    let include_encrypted = match get("include") {
        Some(Value::Array(v)) => v.iter().any(|i| i == request::INCLUDE_ENCRYPTED),
        _ => req.extra.origin != Some(Dialect::Responses),
    };
    let mut echo = Map::new();
    let mut put = |k: &str, v: Value| {
        echo.insert(k.to_owned(), v);
    };
    put("instructions", get("instructions").unwrap_or(Value::Null));
    put("metadata", get("metadata").unwrap_or_else(|| json!({})));
    put(
        "tool_choice",
        get("tool_choice").unwrap_or_else(|| json!("auto")),
    );
    put(
        "parallel_tool_calls",
        json!(req.parallel_tool_calls.unwrap_or(true)),
    );
    put("temperature", json!(req.temperature));
    put("top_p", json!(req.top_p));
    put("max_output_tokens", json!(req.max_tokens));
    put("reasoning", get("reasoning").unwrap_or(Value::Null));
    put(
        "text",
        get("text").unwrap_or_else(|| json!({"format": {"type": "text"}})),
    );
    let store = get("store").unwrap_or(Value::Bool(true));
    let response_id = (req.extra.origin == Some(Dialect::Responses) && store != Value::Bool(false))
        .then(|| response::response_id(""));
    put("store", store);
    for k in [
        "previous_response_id",
        "prompt_cache_key",
        "service_tier",
        "truncation",
        "user",
        "safety_identifier",
    ] {
        if let Some(v) = get(k) {
            put(k, v);
        }
    }
    ReplyContext {
        tools: ToolMap::for_request(req),
        include_encrypted,
        echo,
        response_id,
    }
}
