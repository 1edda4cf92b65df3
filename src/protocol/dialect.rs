//! The registry of dialects: one line per dialect in [`dialects!`] makes [`Dialect`] (with
//! `as_str`, `FromStr` and `ALL`), the dispatch functions the server and the upstream adapters
//! call, and the stream decoder/encoder wrappers. Everything else the server needs of a dialect
//! (its endpoints, how its clients are recognised, its error specials) is read here from the
//! folder's `Codec` ([`codec::Codec`]), so `server/` never names a dialect.
//!
//! The stream wrappers are enums, not `Box<dyn>`: the match is as cheap as a vtable call and
//! keeps the encoder inline (measured with `cargo bench --bench codecs` when this was written).
//!
//! Adding a dialect: its folder (with the functions named in `codec.rs` and a `Codec`), a `pub
//! mod` in `protocol/mod.rs`, and one line below.

use std::str::FromStr;

use super::codec::{
    self, Call, Codec as _, CodecError, CountForm, Endpoint, ListForm, RelayTrail, RequestHints,
    ResponseCtx,
};
use super::ir::{ApiError, Request, Response};
use super::sse::SseEvent;
use super::stream::StreamEvent;
use super::{anthropic, gemini, openai, responses};

macro_rules! dialects {
    ($( $(#[$doc:meta])* $variant:ident => $module:ident, $name:literal; )+) => {
        /// The wire formats the gateway speaks on either side.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Dialect {
            $( $(#[$doc])* $variant, )+
        }

        impl Dialect {
            /// Every dialect, in registry order (the order [`guess`] tries their markers in).
            pub const ALL: &'static [Dialect] = &[$(Dialect::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Dialect::$variant => $name,)+
                }
            }

            /// The endpoints the dialect serves (its `Codec::ENDPOINTS`).
            pub fn endpoints(self) -> &'static [Endpoint] {
                match self {
                    $(Dialect::$variant => $module::Codec::ENDPOINTS,)+
                }
            }

            /// The header only this dialect's clients send, if any.
            pub fn marker_header(self) -> Option<&'static str> {
                match self {
                    $(Dialect::$variant => $module::Codec::MARKER_HEADER,)+
                }
            }

            /// How its token-count endpoint reads and answers.
            pub fn count_form(self) -> Option<CountForm> {
                match self {
                    $(Dialect::$variant => $module::Codec::COUNT,)+
                }
            }

            /// The shape of its model list.
            pub fn list_form(self) -> Option<ListForm> {
                match self {
                    $(Dialect::$variant => $module::Codec::LIST,)+
                }
            }

            /// The prefix of other providers' signatures as this dialect's clients hold them.
            pub fn foreign_signature_mark(self) -> Option<&'static str> {
                match self {
                    $(Dialect::$variant => $module::Codec::FOREIGN_SIGNATURE_MARK,)+
                }
            }

            /// Error replies carry a `request-id` header mirroring the body's `request_id`.
            pub fn error_request_id_header(self) -> bool {
                match self {
                    $(Dialect::$variant => $module::Codec::ERROR_REQUEST_ID_HEADER,)+
                }
            }

            /// The relay notes what its error event needs of this dialect's streams.
            pub fn watches_relay(self) -> bool {
                match self {
                    $(Dialect::$variant => $module::Codec::WATCHES_RELAY,)+
                }
            }

            /// The top-level fields its fast path sends as `null` (`Codec::FAST_PATH_CLEARS`).
            pub fn fast_path_clears(self) -> &'static [&'static str] {
                match self {
                    $(Dialect::$variant => $module::Codec::FAST_PATH_CLEARS,)+
                }
            }

            pub fn stores_replies(self) -> bool {
                match self {
                    $(Dialect::$variant => $module::Codec::STORES_REPLIES,)+
                }
            }
        }

        impl FromStr for Dialect {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Dialect::$variant),)+
                    other => Err(format!("unknown dialect `{other}`")),
                }
            }
        }

        /// A client's request body in `d`.
        pub fn decode_request(
            d: Dialect,
            body: &[u8],
            hints: &RequestHints,
        ) -> Result<Request, CodecError> {
            match d {
                $(Dialect::$variant => $module::decode_request(body, hints),)+
            }
        }

        /// An upstream's whole reply in `d`.
        pub fn decode_response(d: Dialect, body: &[u8]) -> Result<Response, CodecError> {
            match d {
                $(Dialect::$variant => $module::decode_response(body),)+
            }
        }

        /// A whole reply for a client speaking `d`.
        pub fn encode_response(d: Dialect, resp: &Response, ctx: &ResponseCtx) -> Vec<u8> {
            match d {
                $(Dialect::$variant => $module::encode_response(resp, ctx),)+
            }
        }

        /// `req` as `d`'s request body, without any upstream's quirks (tests and fuzzing; the
        /// upstream adapters encode through the typed wire value themselves).
        pub fn encode_request_body(d: Dialect, req: &Request) -> Result<Vec<u8>, CodecError> {
            match d {
                $(Dialect::$variant => {
                    $module::encode_request(req).and_then(|w| codec::to_body(&w, req))
                })+
            }
        }

        /// An upstream's error body in `d`; never fails.
        pub fn decode_error(d: Dialect, status: u16, body: &[u8]) -> ApiError {
            match d {
                $(Dialect::$variant => $module::decode_error(status, body),)+
            }
        }

        /// The error body for a client speaking `d`.
        pub fn encode_error(d: Dialect, err: &ApiError) -> Vec<u8> {
            match d {
                $(Dialect::$variant => $module::encode_error(err),)+
            }
        }

        /// The error body naming the gateway's request id `id`, where `d`'s errors carry one.
        pub fn encode_error_with_id(d: Dialect, err: &ApiError, id: &str) -> Option<Vec<u8>> {
            match d {
                $(Dialect::$variant => $module::Codec::encode_error_with_id(err, id),)+
            }
        }

        /// The HTTP status to answer a client speaking `d` with (Anthropic: 529 for capacity
        /// failures, E4).
        pub fn client_status(d: Dialect, err: &ApiError) -> u16 {
            match d {
                $(Dialect::$variant => $module::Codec::client_status(err),)+
            }
        }

        /// An upstream's error as `d`'s clients should read it (Anthropic: context-length
        /// wording, E6).
        pub fn from_upstream(d: Dialect, err: &mut ApiError) {
            match d {
                $(Dialect::$variant => $module::Codec::from_upstream(err),)+
            }
        }

        /// What encoding a reply for `d`'s clients needs from the decoded request.
        pub fn reply_context(
            d: Dialect,
            req: &Request,
        ) -> Option<std::sync::Arc<responses::ReplyContext>> {
            match d {
                $(Dialect::$variant => $module::Codec::reply_context(req),)+
            }
        }

        /// The stream event that ends `d`'s stream with `err` (whose body in `d` is `body`).
        pub fn stream_error(
            d: Dialect,
            err: &ApiError,
            body: &[u8],
            trail: &RelayTrail,
            out: &mut Vec<u8>,
        ) {
            match d {
                $(Dialect::$variant => $module::Codec::stream_error(err, body, trail, out),)+
            }
        }

        /// Notes what `d`'s relay error event needs of a relayed chunk (see
        /// [`codec::Codec::watch_relay`]).
        pub fn watch_relay(d: Dialect, chunk: &[u8], trail: &mut RelayTrail) {
            match d {
                $(Dialect::$variant => $module::Codec::watch_relay(chunk, trail),)+
            }
        }

        /// The stream decoder of an upstream's dialect.
        pub enum AnyStreamDecoder {
            $($variant($module::StreamDecoder),)+
        }

        impl AnyStreamDecoder {
            pub fn new(d: Dialect) -> Self {
                match d {
                    $(Dialect::$variant => AnyStreamDecoder::$variant($module::StreamDecoder::new()),)+
                }
            }

            pub fn dialect(&self) -> Dialect {
                match self {
                    $(AnyStreamDecoder::$variant(_) => Dialect::$variant,)+
                }
            }

            pub fn feed(
                &mut self,
                ev: &SseEvent,
                out: &mut Vec<StreamEvent>,
            ) -> Result<(), CodecError> {
                match self {
                    $(AnyStreamDecoder::$variant(d) => d.feed(ev, out),)+
                }
            }

            /// The upstream body ended: a stream cut before its end becomes an `Error` event.
            pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
                match self {
                    $(AnyStreamDecoder::$variant(d) => d.finish(out),)+
                }
            }
        }

        /// The stream encoder of a client's dialect (plus OpenAI's legacy completions).
        pub enum AnyStreamEncoder {
            $($variant($module::StreamEncoder),)+
            OpenAiCompletions(openai::CompletionStreamEncoder),
        }

        impl AnyStreamEncoder {
            pub fn new(d: Dialect, ctx: &ResponseCtx) -> Self {
                match d {
                    $(Dialect::$variant => AnyStreamEncoder::$variant($module::StreamEncoder::new(ctx)),)+
                }
            }

            fn name(&self) -> &'static str {
                match self {
                    $(AnyStreamEncoder::$variant(_) => $name,)+
                    AnyStreamEncoder::OpenAiCompletions(_) => "openai-completions",
                }
            }

            pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
                match self {
                    $(AnyStreamEncoder::$variant(e) => e.encode(ev, out),)+
                    AnyStreamEncoder::OpenAiCompletions(e) => e.encode(ev, out),
                }
            }

            /// One keep-alive for a quiet stream, in the dialect's own form.
            pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
                match self {
                    $(AnyStreamEncoder::$variant(e) => e.keep_alive(out),)+
                    AnyStreamEncoder::OpenAiCompletions(e) => e.keep_alive(out),
                }
            }
        }
    };
}

dialects! {
    Anthropic => anthropic, "anthropic";
    OpenAi => openai, "openai";
    Gemini => gemini, "gemini";
    Responses => responses, "responses";
}

/// Every registered dialect, in registry order: what the server walks (endpoint lookup), so
/// that it never names one.
pub fn registered() -> impl Iterator<Item = Dialect> {
    Dialect::ALL.iter().copied()
}

impl AnyStreamEncoder {
    /// For `POST /v1/completions` clients.
    pub fn completions(ctx: &ResponseCtx) -> Self {
        AnyStreamEncoder::OpenAiCompletions(openai::CompletionStreamEncoder::new(ctx))
    }

    /// The encoder for a client of `d` that called `call`: the dialect's, but OpenAI's legacy
    /// completions, whose chunks are their own.
    pub fn for_call(d: Dialect, call: Call, ctx: &ResponseCtx) -> Self {
        match call {
            Call::Completions => AnyStreamEncoder::completions(ctx),
            _ => AnyStreamEncoder::new(d, ctx),
        }
    }
}

// The legacy completions endpoint is the one call whose bodies are not its dialect's usual
// request and reply; these keep that fact here rather than in every caller.

/// A client's request body in `d`, sent to `call`.
pub fn decode_call_request(
    d: Dialect,
    call: Call,
    body: &[u8],
    hints: &RequestHints,
) -> Result<Request, CodecError> {
    match call {
        Call::Completions => openai::decode_completion_request(body),
        _ => decode_request(d, body, hints),
    }
}

/// A whole reply for a client of `d` that called `call`.
pub fn encode_call_response(d: Dialect, call: Call, resp: &Response, ctx: &ResponseCtx) -> Vec<u8> {
    match call {
        Call::Completions => openai::encode_completion_response(resp, ctx),
        _ => encode_response(d, resp, ctx),
    }
}

impl std::fmt::Debug for AnyStreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyStreamDecoder({})", self.dialect().as_str())
    }
}

impl std::fmt::Debug for AnyStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyStreamEncoder({})", self.name())
    }
}

/// The dialect of a client on routes every client may call (model list, unknown paths): the
/// first whose marker header the request has (`has` answers for a header name), else the first
/// dialect without a marker (OpenAI).
pub fn guess(has: impl Fn(&str) -> bool) -> Dialect {
    let marked = Dialect::ALL
        .iter()
        .copied()
        .find(|d| d.marker_header().is_some_and(&has));
    marked
        .or_else(|| {
            Dialect::ALL
                .iter()
                .copied()
                .find(|d| d.marker_header().is_none())
        })
        .unwrap_or(Dialect::ALL[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for d in Dialect::ALL {
            assert_eq!(d.as_str().parse::<Dialect>(), Ok(*d));
        }
        assert!("klingon".parse::<Dialect>().is_err());
        let mut names: Vec<_> = Dialect::ALL.iter().map(|d| d.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Dialect::ALL.len());
    }

    #[test]
    fn guess_reads_the_marker_headers() {
        assert_eq!(guess(|h| h == "anthropic-version").as_str(), "anthropic");
        assert_eq!(guess(|h| h == "x-goog-api-key").as_str(), "gemini");
        assert_eq!(guess(|_| false).as_str(), "openai");
        // Both markers: the registry's order decides, as the header checks did.
        assert_eq!(guess(|_| true).as_str(), "anthropic");
    }

    #[test]
    fn every_endpoint_is_claimed_once() {
        let mut seen = Vec::new();
        for d in Dialect::ALL {
            for e in d.endpoints() {
                assert!(!seen.contains(&(e.method, e.path)), "{e:?} twice");
                seen.push((e.method, e.path));
            }
        }
    }
}
