//! The fuzz targets: one per decoder that raw client or upstream bytes reach, each behind
//! [`fuzz_one`], which must not panic and checks the target's property:
//!
//! * `<dialect>-request`: `decode_request`; what it accepts must encode into every dialect as
//!   valid JSON, and in its own dialect `encode(decode(encode(decode(x)))) == encode(decode(x))`
//!   (the first round may normalise: defaults filled in, string forms made blocks). The
//!   count-tokens and legacy-completions decoders see the same bytes.
//! * `<dialect>-response`: `decode_response`; the same two checks with `encode_response` (and
//!   OpenAI's legacy completion reply).
//! * `<dialect>-stream`: an SSE transcript, framed whole and in random chunks (the same events
//!   either way), decoded as the server does (an unreadable event ends the stream with an
//!   error); every stream encoder's output must be SSE whose data is JSON (or a JSON array for
//!   Gemini's array form), and encoding into the same dialect, decoding and encoding again
//!   must give the same events.
//! * `<dialect>-error`: `decode_error` (never fails) under a status drawn from the input; every
//!   `encode_error` is JSON, and its own dialect's round trip is stable.
//! * `bedrock-response`, `bedrock-stream`, `bedrock-error` (module [`bedrock`]): Bedrock's
//!   Converse decoders, whose output must encode into every client dialect as above. The stream
//!   target reads an SSE transcript of `(:event-type, payload)` pairs (`exception:<type>` and
//!   `error:<code>` name the other message types), writes them as binary event-stream frames
//!   (valid CRCs; sometimes one byte flipped or the body cut short), and decodes them as the
//!   server does, whole and in random chunks, which must give the same events.
//! * `anthropic-fast-parse`: the hand-written fast parser never accepts what the exact one
//!   refuses, and reads the same request when both accept.
//! * `sse`: any chunking gives the same events, and writing them back parses to the same.
//! * `json-text`: `json::minify`, [`Json`] and [`Text`] keep a JSON value's meaning.
//! * `json-body`: the fast path's body splicer (`server::fast_body::JsonBody`): its model edit
//!   yields JSON whose `model` is the new one and whose other entries are untouched.
//! * `usage-scan`: the usage scanner of every relayed reply gives the same counts in any
//!   chunking.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::IgnoredAny;
use serde_json::Value;

use super::mutate::Shape;
use crate::protocol::codec::{self, CodecError, ModelFrom, RequestHints, ResponseCtx};
use crate::protocol::dialect::{self, AnyStreamDecoder, AnyStreamEncoder};
use crate::protocol::ir::{ApiError, Dialect, ErrorKind, Json, Request, Response, Text};
use crate::protocol::sse::{SseEvent, SseParser, write_event};
use crate::protocol::stream::StreamEvent;
use crate::protocol::{anthropic, gemini, openai};
use crate::routing::rules::Edits;
use crate::server::fast_body::JsonBody;
use crate::usage::scan::Scanner;

mod bedrock;

const DIALECTS: &[Dialect] = Dialect::ALL;

/// How many targets there are: four per dialect, three for Bedrock's Converse (an upstream
/// wire, not a client dialect) and five more.
const TARGETS: usize = Dialect::ALL.len() * 4 + 3 + 5;

/// [`Target::ALL`], made from the registry's dialects.
const fn all_targets() -> [Target; TARGETS] {
    let mut out = [Target::Sse; TARGETS];
    let (mut i, mut n) = (0, 0);
    while i < Dialect::ALL.len() {
        let d = Dialect::ALL[i];
        out[n] = Target::Request(d);
        out[n + 1] = Target::Response(d);
        out[n + 2] = Target::Stream(d);
        out[n + 3] = Target::Error(d);
        n += 4;
        // Anthropic's hand-written fast parser shares its dialect's budget.
        if matches!(d, Dialect::Anthropic) {
            out[n] = Target::AnthropicFastParse;
            n += 1;
        }
        i += 1;
    }
    let rest = [
        Target::BedrockResponse,
        Target::BedrockStream,
        Target::BedrockError,
        Target::Sse,
        Target::JsonText,
        Target::JsonBody,
        Target::UsageScan,
    ];
    let mut j = 0;
    while j < rest.len() && n < TARGETS {
        out[n] = rest[j];
        n += 1;
        j += 1;
    }
    out
}

/// The per-dialect targets' names (`anthropic-request`), made once.
static DIALECT_TARGET_NAMES: std::sync::OnceLock<Vec<(Target, String)>> =
    std::sync::OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Request(Dialect),
    Response(Dialect),
    Stream(Dialect),
    Error(Dialect),
    AnthropicFastParse,
    /// Bedrock's upstream-only wire: Converse replies, ConverseStream's binary frames, errors.
    BedrockResponse,
    BedrockStream,
    BedrockError,
    Sse,
    JsonText,
    JsonBody,
    UsageScan,
}

impl Target {
    /// Every target: each registered dialect's four (Anthropic's fast parser right after
    /// them), then the dialect-free ones. Corpus files and reports follow this order.
    pub const ALL: &'static [Target] = &all_targets();

    pub fn name(self) -> &'static str {
        match self {
            Target::Request(_) | Target::Response(_) | Target::Stream(_) | Target::Error(_) => {
                let names = DIALECT_TARGET_NAMES.get_or_init(|| {
                    Target::ALL
                        .iter()
                        .filter_map(|&t| {
                            Some((t, format!("{}-{}", t.dialect()?.as_str(), t.role())))
                        })
                        .collect()
                });
                names
                    .iter()
                    .find(|(t, _)| *t == self)
                    .map_or("unknown", |(_, n)| n.as_str())
            }
            Target::AnthropicFastParse => "anthropic-fast-parse",
            Target::BedrockResponse => "bedrock-response",
            Target::BedrockStream => "bedrock-stream",
            Target::BedrockError => "bedrock-error",
            Target::Sse => "sse",
            Target::JsonText => "json-text",
            Target::JsonBody => "json-body",
            Target::UsageScan => "usage-scan",
        }
    }

    fn dialect(self) -> Option<Dialect> {
        match self {
            Target::Request(d) | Target::Response(d) | Target::Stream(d) | Target::Error(d) => {
                Some(d)
            }
            _ => None,
        }
    }

    fn role(self) -> &'static str {
        match self {
            Target::Request(_) => "request",
            Target::Response(_) => "response",
            Target::Stream(_) => "stream",
            Target::Error(_) => "error",
            _ => "",
        }
    }

    /// The dialect whose budget the target shares, or `wire` for the dialect-free ones.
    pub fn group(self) -> &'static str {
        match self {
            Target::Request(d) | Target::Response(d) | Target::Stream(d) | Target::Error(d) => {
                d.as_str()
            }
            Target::AnthropicFastParse => "anthropic",
            Target::BedrockResponse | Target::BedrockStream | Target::BedrockError => "bedrock",
            Target::Sse | Target::JsonText | Target::JsonBody | Target::UsageScan => "wire",
        }
    }

    pub fn shape(self) -> Shape {
        match self {
            Target::Stream(_) | Target::BedrockStream | Target::Sse | Target::UsageScan => {
                Shape::Sse
            }
            _ => Shape::Json,
        }
    }
}

/// A broken property (a panic is caught by the driver instead).
#[derive(Debug, Clone)]
pub struct Failure {
    /// What broke, stable across inputs (crashes are grouped by it).
    pub kind: &'static str,
    pub detail: String,
}

fn fail(kind: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

/// Whether the target's decoder accepted the input (accepted inputs breed further mutants),
/// or the property it broke.
pub type Outcome = Result<bool, Failure>;

/// Runs one input through `t`. Must not panic.
pub fn fuzz_one(t: Target, input: &[u8]) -> Outcome {
    match t {
        Target::Request(d) => request(d, input),
        Target::Response(d) => response(d, input),
        Target::Stream(d) => stream(d, input),
        Target::Error(d) => error(d, input),
        Target::AnthropicFastParse => fast_parse(input),
        Target::BedrockResponse => bedrock::response(input),
        Target::BedrockStream => bedrock::stream(input),
        Target::BedrockError => bedrock::error(input),
        Target::Sse => sse(input),
        Target::JsonText => json_text(input),
        Target::JsonBody => json_body(input),
        Target::UsageScan => usage_scan(input),
    }
}

// ---- helpers ----

fn lossy(b: &[u8]) -> String {
    const MAX: usize = 2000;
    let s = String::from_utf8_lossy(b);
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], b.len())
    } else {
        s.into_owned()
    }
}

/// An RNG for choices that must be the same each time the same input runs.
fn rng_for(input: &[u8]) -> StdRng {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut h);
    StdRng::seed_from_u64(h.finish())
}

/// `input` cut at up to `max_cuts` random places.
fn chunks<'a>(input: &'a [u8], rng: &mut StdRng, max_cuts: usize) -> Vec<&'a [u8]> {
    if rng.random_ratio(1, 16) && input.len() < 8192 {
        return input.chunks(1).collect();
    }
    let mut cuts: Vec<usize> = (0..rng.random_range(1..=max_cuts))
        .map(|_| rng.random_range(0..=input.len()))
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut at = 0;
    for c in cuts {
        out.push(&input[at..c]);
        at = c;
    }
    out.push(&input[at..]);
    out
}

fn valid_json(kind: &'static str, bytes: &[u8]) -> Result<(), Failure> {
    serde_json::from_slice::<IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| fail(kind, format!("{e}: {}", lossy(bytes))))
}

/// A body as a `Value` to compare by meaning, not bytes (`\u2192` and `→` are one text). What
/// the codecs pass through but a `Value` cannot hold is made something it can: a lone surrogate
/// escape reads as U+FFFD, and a number beyond `f64` (`1e400` in a client's schema) as a string
/// of its digits. Without the latter such a body was compared byte for byte, and equal JSON
/// written with different escapes (a text kept as it came vs. one re-escaped) was a failure.
fn parse_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .or_else(|_| serde_json::from_slice(&without_lone_surrogates(bytes)))
        .or_else(|_| {
            serde_json::from_slice(&big_numbers_as_strings(&without_lone_surrogates(bytes)))
        })
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Number tokens that overflow `f64` written as strings of themselves (the rest unchanged).
fn big_numbers_as_strings(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            if b == b'\\' {
                out.extend(bytes.get(i + 1));
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            let token = &bytes[i..i + len];
            let overflows = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|f| f.is_infinite());
            if overflows {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
            } else {
                out.extend_from_slice(token);
            }
            i += len;
            continue;
        }
        in_string = b == b'"';
        out.push(b);
        i += 1;
    }
    out
}

/// `\uXXXX` escapes of unpaired surrogates replaced by `\ufffd`.
fn without_lone_surrogates(bytes: &[u8]) -> Vec<u8> {
    let unit = |at: usize| {
        let esc = bytes.get(at..at + 6)?;
        if esc[0] != b'\\' || esc[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&esc[2..]).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) != Some(&b'u') {
            out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
            i += 2;
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => {
                out.extend_from_slice(&bytes[i..i + 12]);
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                i += 6;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Values that differ between two encodings of the same thing: OpenAI's `created` timestamps
/// and Anthropic's random error `request_id`.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let clock = matches!(k.as_str(), "created" | "created_at" | "completed_at");
                if (clock && x.is_u64()) || k == "request_id" {
                    *x = Value::Null;
                } else {
                    scrub(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn scrubbed(bytes: &[u8]) -> Value {
    let mut v = parse_value(bytes);
    scrub(&mut v);
    v
}

fn differ(kind: &'static str, first: &Value, second: &Value, input: &[u8]) -> Failure {
    fail(
        kind,
        format!(
            "first:  {first}\nsecond: {second}\ninput:  {}",
            lossy(input)
        ),
    )
}

// ---- requests ----

/// What the route would know besides the body: the model, for dialects that put it in the path.
fn hints(d: Dialect) -> RequestHints {
    let in_path = d.endpoints().iter().any(|e| e.model == ModelFrom::Path);
    if in_path {
        RequestHints {
            model: Some(format!("{}-fuzz", d.as_str())),
            stream: Some(false),
        }
    } else {
        RequestHints::default()
    }
}

/// What `d`'s upstream encoder sends for `req` (default provider options).
fn encode_request(d: Dialect, req: &Request) -> Result<Vec<u8>, CodecError> {
    dialect::encode_request_body(d, req)
}

/// Every encoder copes with whatever a decoder made, and writes JSON.
fn encode_everywhere(req: &Request) -> Result<(), Failure> {
    let _ = codec::body_size_hint(req);
    for &to in DIALECTS {
        if let Ok(body) = encode_request(to, req) {
            valid_json("request-encoded-not-json", &body)?;
        }
    }
    // Bedrock's Converse body, which no client dialect decodes back.
    if let Ok(wire) = crate::protocol::converse::encode_request(req) {
        let body = serde_json::to_vec(&wire)
            .map_err(|e| fail("converse-request-not-serializable", e.to_string()))?;
        valid_json("request-encoded-not-json", &body)?;
    }
    Ok(())
}

fn request(d: Dialect, input: &[u8]) -> Outcome {
    let hints = hints(d);
    // The same routes' other decoders.
    let sibling = match d {
        Dialect::Anthropic => anthropic::decode_count_tokens(input),
        Dialect::OpenAi => openai::decode_completion_request(input),
        Dialect::Gemini => gemini::decode_count_tokens_request(input, &hints),
        // The Responses `input_tokens` route takes the request body itself.
        Dialect::Responses => crate::protocol::responses::decode_request(input, &hints),
    };
    if let Ok(req) = sibling {
        encode_everywhere(&req)?;
    }
    let Ok(ir) = dialect::decode_request(d, input, &hints) else {
        return Ok(false);
    };
    encode_everywhere(&ir)?;
    let Ok(first) = encode_request(d, &ir) else {
        return Ok(true);
    };
    let ir2 = dialect::decode_request(d, &first, &hints).map_err(|e| {
        fail(
            "request-own-encoding-refused",
            format!("{e}\nencoded: {}\ninput: {}", lossy(&first), lossy(input)),
        )
    })?;
    let second = encode_request(d, &ir2).map_err(|e| {
        fail(
            "request-second-encoding-refused",
            format!("{e}\ninput: {}", lossy(input)),
        )
    })?;
    let (a, b) = (parse_value(&first), parse_value(&second));
    if a != b {
        return Err(differ("request-round-trip", &a, &b, input));
    }
    Ok(true)
}

// ---- whole replies ----

fn ctx(json_array_stream: bool) -> ResponseCtx {
    ResponseCtx {
        model: "client-model".into(),
        include_usage: true,
        estimated_input_tokens: 7,
        json_array_stream,
        responses: None,
    }
}

/// Every client encoder (and OpenAI's legacy completion reply) writes `resp` as JSON.
fn response_encodes_everywhere(resp: &Response, ctx: &ResponseCtx) -> Result<(), Failure> {
    for &to in DIALECTS {
        valid_json(
            "response-encoded-not-json",
            &dialect::encode_response(to, resp, ctx),
        )?;
    }
    valid_json(
        "response-encoded-not-json",
        &openai::encode_completion_response(resp, ctx),
    )
}

fn response(d: Dialect, input: &[u8]) -> Outcome {
    let Ok(resp) = dialect::decode_response(d, input) else {
        return Ok(false);
    };
    let ctx = ctx(false);
    response_encodes_everywhere(&resp, &ctx)?;
    let first = dialect::encode_response(d, &resp, &ctx);
    let resp2 = dialect::decode_response(d, &first).map_err(|e| {
        fail(
            "response-own-encoding-refused",
            format!("{e}\nencoded: {}\ninput: {}", lossy(&first), lossy(input)),
        )
    })?;
    let second = dialect::encode_response(d, &resp2, &ctx);
    let (a, b) = (scrubbed(&first), scrubbed(&second));
    if a != b {
        return Err(differ("response-round-trip", &a, &b, input));
    }
    Ok(true)
}

// ---- errors ----

/// Every client dialect gives `err` a status and writes it as JSON.
fn error_encodes_everywhere(err: &ApiError) -> Result<(), Failure> {
    for &to in DIALECTS {
        let _ = dialect::client_status(to, err);
        valid_json("error-encoded-not-json", &dialect::encode_error(to, err))?;
    }
    Ok(())
}

fn error(d: Dialect, input: &[u8]) -> Outcome {
    // Every status a decoder treats apart (not one drawn from the input, so that the
    // minimiser can shrink the body alone).
    const STATUSES: [u16; 7] = [0, 400, 402, 429, 503, 529, 65535];
    for status in STATUSES {
        let err = dialect::decode_error(d, status, input);
        error_encodes_everywhere(&err)?;
        let mut reworded = err.clone();
        anthropic::reword_context_error(&mut reworded);
        let first = dialect::encode_error(d, &err);
        let status = dialect::client_status(d, &err);
        let err2 = dialect::decode_error(d, status, &first);
        let second = dialect::encode_error(d, &err2);
        let (a, b) = (scrubbed(&first), scrubbed(&second));
        if a != b || dialect::client_status(d, &err2) != status {
            return Err(differ("error-round-trip", &a, &b, input));
        }
    }
    // Any body decodes; JSON ones are worth mutating further.
    Ok(serde_json::from_slice::<IgnoredAny>(input).is_ok())
}

// ---- streams ----

fn parse_sse_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut ok = true;
    for c in chunks {
        ok &= p.push(c, &mut out).is_ok();
    }
    ok &= p.finish(&mut out).is_ok();
    (out, ok)
}

/// SSE framing of `input` whole, checked against a random chunking of it.
fn framed(input: &[u8]) -> Result<Vec<SseEvent>, Failure> {
    let whole = parse_sse_chunks(&[input]);
    let cut = chunks(input, &mut rng_for(input), 12);
    let chunked = parse_sse_chunks(&cut);
    if whole != chunked {
        let sizes: Vec<usize> = cut.iter().map(|c| c.len()).collect();
        return Err(fail(
            "sse-chunking",
            format!(
                "whole:   {whole:?}\nchunked: {chunked:?}\nchunks: {sizes:?}\ninput: {}",
                lossy(input)
            ),
        ));
    }
    Ok(whole.0)
}

/// What the server makes of an upstream's events: an unreadable one ends the stream with an
/// error, an end without a proper close becomes one in `finish`.
fn decode_stream(d: Dialect, events: &[SseEvent]) -> (Vec<StreamEvent>, bool) {
    let mut dec = AnyStreamDecoder::new(d);
    let mut out = Vec::new();
    for ev in events {
        if let Err(e) = dec.feed(ev, &mut out) {
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                e.to_string(),
            )));
            return (out, false);
        }
    }
    if let Err(e) = dec.finish(&mut out) {
        out.push(StreamEvent::Error(ApiError::new(
            502,
            ErrorKind::BadGateway,
            e.to_string(),
        )));
    }
    (out, true)
}

fn encode_stream(mut enc: AnyStreamEncoder, events: &[StreamEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    out
}

/// A client must be able to read every frame: SSE whose data is JSON or `[DONE]`.
fn check_sse_output(kind: &'static str, bytes: &[u8], input: &[u8]) -> Result<Vec<Value>, Failure> {
    let (events, ok) = parse_sse_chunks(&[bytes]);
    if !ok {
        return Err(fail(
            kind,
            format!("unframed output\ninput: {}", lossy(input)),
        ));
    }
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        if e.data == "[DONE]" {
            out.push(Value::String(e.data));
            continue;
        }
        let parsed = serde_json::from_str::<Value>(&e.data)
            .or_else(|_| serde_json::from_slice(&without_lone_surrogates(e.data.as_bytes())));
        let data = match parsed {
            Ok(mut v) => {
                scrub(&mut v);
                v
            }
            // Nested deeper than a `Value` parse allows: the gateway relays such tool arguments
            // as the upstream sent them (its parser keeps them as text), so JSON is all to ask.
            Err(_) if serde_json::from_str::<IgnoredAny>(&e.data).is_ok() => Value::String(e.data),
            Err(err) => {
                return Err(fail(
                    kind,
                    format!(
                        "{err}: {}\ninput: {}",
                        lossy(e.data.as_bytes()),
                        lossy(input)
                    ),
                ));
            }
        };
        out.push(serde_json::json!({"event": e.event, "data": data}));
    }
    Ok(out)
}

/// Every client stream encoder (and the legacy completions one) writes `decoded` as SSE a
/// client can read.
fn stream_encodes_everywhere(
    decoded: &[StreamEvent],
    plain: &ResponseCtx,
    input: &[u8],
) -> Result<(), Failure> {
    for &to in DIALECTS {
        let out = encode_stream(AnyStreamEncoder::new(to, plain), decoded);
        check_sse_output("stream-encoded-unreadable", &out, input)?;
    }
    let out = encode_stream(AnyStreamEncoder::completions(plain), decoded);
    check_sse_output("stream-encoded-unreadable", &out, input)?;
    Ok(())
}

fn stream(d: Dialect, input: &[u8]) -> Outcome {
    let events = framed(input)?;
    let (decoded, accepted) = decode_stream(d, &events);
    let plain = ctx(false);
    stream_encodes_everywhere(&decoded, &plain, input)?;
    let array = encode_stream(AnyStreamEncoder::new(Dialect::Gemini, &ctx(true)), &decoded);
    let ended = matches!(
        decoded.last(),
        Some(StreamEvent::MessageStop | StreamEvent::Error(_))
    );
    if ended {
        valid_json("stream-json-array-not-json", &array)?;
    }

    // A stream that ends in an error may lose what was still being assembled (OpenAI tool
    // calls before their finish) on the way through: compare from the second round on then.
    let round = |events: &[StreamEvent]| {
        let bytes = encode_stream(AnyStreamEncoder::new(d, &plain), events);
        let (again, _) = decode_stream(d, &parse_sse_chunks(&[&bytes]).0);
        (bytes, again)
    };
    let (mut first, mut again) = round(&decoded);
    if !matches!(decoded.last(), Some(StreamEvent::MessageStop)) {
        (first, again) = round(&again);
    }
    let second = round(&again).0;
    let a = check_sse_output("stream-encoded-unreadable", &first, input)?;
    let b = check_sse_output("stream-encoded-unreadable", &second, input)?;
    if a != b {
        return Err(differ(
            "stream-round-trip",
            &Value::Array(a),
            &Value::Array(b),
            input,
        ));
    }
    Ok(accepted)
}

// ---- the rest ----

fn fast_parse(input: &[u8]) -> Outcome {
    use anthropic::wire::{
        Request as WireRequest, Response as WireResponse, parse_exact, parse_fast,
    };
    let fast = parse_fast::<WireRequest>(input);
    let exact = parse_exact::<WireRequest>(input);
    match (&fast, exact) {
        (Some(f), Ok(e)) if *f != e => {
            return Err(fail(
                "fast-parse-differs",
                format!("fast:  {f:?}\nexact: {e:?}\ninput: {}", lossy(input)),
            ));
        }
        (Some(_), Err(e)) => {
            return Err(fail(
                "fast-parse-accepts-what-exact-refuses",
                format!("{e}\ninput: {}", lossy(input)),
            ));
        }
        _ => {}
    }
    // Whole replies take the same parser.
    let fast_reply = parse_fast::<WireResponse>(input);
    if let Some(f) = &fast_reply {
        match parse_exact::<WireResponse>(input) {
            Ok(e) if *f == e => {}
            Ok(e) => {
                return Err(fail(
                    "fast-parse-differs",
                    format!("fast:  {f:?}\nexact: {e:?}\ninput: {}", lossy(input)),
                ));
            }
            Err(e) => {
                return Err(fail(
                    "fast-parse-accepts-what-exact-refuses",
                    format!("{e}\ninput: {}", lossy(input)),
                ));
            }
        }
    }
    Ok(fast.is_some() || fast_reply.is_some())
}

fn sse(input: &[u8]) -> Outcome {
    let events = framed(input)?;
    let mut written = Vec::new();
    for e in &events {
        write_event(&mut written, e.event.as_deref(), &e.data);
    }
    let (again, _) = parse_sse_chunks(&[&written]);
    if again != events {
        return Err(fail(
            "sse-write-parse",
            format!(
                "parsed:  {events:?}\nwritten: {}\nreparsed: {again:?}",
                lossy(&written)
            ),
        ));
    }
    Ok(!events.is_empty())
}

fn json_text(input: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(input) else {
        return Ok(false);
    };
    // Valid JSON text whose strings serde_json may still refuse to decode (lone surrogates).
    let Ok(json) = Json::parse(text) else {
        return Ok(false);
    };
    let head = text.trim_start().as_bytes().first().copied();
    if json.is_object() != (head == Some(b'{')) {
        return Err(fail("json-is-object", lossy(input)));
    }
    let _ = (json.is_null(), json.is_empty_object());
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        let _ = json.value();
        let _ = json.to_compact_string();
        return Ok(false);
    };
    let check = |kind: &'static str, out: &str| -> Result<(), Failure> {
        match serde_json::from_str::<Value>(out) {
            Ok(v) if v == value => Ok(()),
            Ok(v) => Err(fail(kind, format!("{v}\ninput: {}", lossy(input)))),
            Err(e) => Err(fail(kind, format!("{e}: {out}\ninput: {}", lossy(input)))),
        }
    };
    check("json-minify", &crate::protocol::json::minify(text))?;
    check("json-compact", &json.to_compact_string())?;
    if *json.value() != value {
        return Err(fail("json-value", lossy(input)));
    }
    if json.is_null() != value.is_null()
        || json.is_empty_object() != value.as_object().is_some_and(|m| m.is_empty())
    {
        return Err(fail("json-predicates", lossy(input)));
    }
    // A string literal kept as it came.
    if let Value::String(s) = &value {
        let t: Text = crate::protocol::text::raw(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| fail("text-raw-refused", format!("{e}\ninput: {}", lossy(input))))?;
        if t.as_str() != s || t.is_empty() != s.is_empty() {
            return Err(fail("text-value", lossy(input)));
        }
        let out = serde_json::to_string(&t)
            .map_err(|e| fail("text-serialize", format!("{e}\ninput: {}", lossy(input))))?;
        check("text-serialize", &out)?;
    }
    Ok(true)
}

const NEW_MODEL: &str = "up/model-\"2\"";

/// The rewritten body parses, with the new model.
fn rewritten<'a>(kind: &'static str, out: &'a Bytes) -> Result<JsonBody<'a>, Failure> {
    let again =
        JsonBody::parse(out).map_err(|e| fail(kind, format!("{e:?}\nout: {}", lossy(out))))?;
    match again.model() {
        Ok(m) if m == NEW_MODEL => Ok(again),
        other => Err(fail(kind, format!("model {other:?}\nout: {}", lossy(out)))),
    }
}

fn json_body(input: &[u8]) -> Outcome {
    let raw = Bytes::copy_from_slice(input);
    let Ok(body) = JsonBody::parse(&raw) else {
        return Ok(false);
    };
    let _ = body.stream();
    let _ = body.require("messages", &["an array"]);
    if body.model().is_err() {
        return Ok(false);
    }

    let out = body
        .rewrite(
            NEW_MODEL,
            &Edits::default(),
            Some(1000),
            Dialect::Responses.fast_path_clears(),
        )
        .map_err(|e| {
            fail(
                "json-body-rewrite-refused",
                format!("{e:?}\ninput: {}", lossy(input)),
            )
        })?;
    let again = rewritten("json-body-rewrite", &out)?;
    // Every other entry keeps its bytes (limits above the cap aside).
    for key in [
        "messages",
        "stream",
        "temperature",
        "tools",
        "system",
        "contents",
    ] {
        let same = match (body.get(key), again.get(key)) {
            (Ok(a), Ok(b)) => a.map(|v| v.get()) == b.map(|v| v.get()),
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !same {
            return Err(fail(
                "json-body-entries",
                format!("{key}\ninput: {}", lossy(input)),
            ));
        }
    }
    let edits = Edits {
        unset: vec!["temperature".into()],
        set: vec![("top_p".into(), serde_json::json!(0.5))],
        extra: vec![("metadata".into(), serde_json::json!({"fuzz": true}))],
    };
    if let Ok(out) = body.rewrite(NEW_MODEL, &edits, Some(1000), &[]) {
        rewritten("json-body-rebuild", &out)?;
    }
    Ok(true)
}

fn usage_scan(input: &[u8]) -> Outcome {
    let scan = |mut s: Scanner, parts: &[&[u8]]| {
        for p in parts {
            s.feed(&Bytes::copy_from_slice(p));
        }
        s.finish()
    };
    let cut = chunks(input, &mut rng_for(input), 8);
    for (name, make) in [
        ("sse", Scanner::sse as fn() -> Scanner),
        ("json", Scanner::json),
    ] {
        let whole = scan(make(), &[input]);
        let chunked = scan(make(), &cut);
        if whole != chunked {
            return Err(fail(
                "usage-scan-chunking",
                format!(
                    "{name}: whole {whole:?}, chunked {chunked:?}\ninput: {}",
                    lossy(input)
                ),
            ));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding (anthropic-request): a tool schema with `1e400` made the whole body
    /// unreadable as a `Value`, so the round trip compared bytes and failed on `\u2192` vs `→`
    /// in a tool result (one text kept as it came, the other re-escaped).
    #[test]
    fn bodies_with_numbers_beyond_f64_compare_by_meaning() {
        let a = parse_value(br#"{"s":{"minLength":1e400,"x":-2.5e-3},"t":"1\u2192 \"1e400\""}"#);
        let b = parse_value(
            "{\"s\":{\"minLength\":1e400,\"x\":-2.5e-3},\"t\":\"1→ \\\"1e400\\\"\"}".as_bytes(),
        );
        assert!(a.is_object());
        assert_eq!(a, b);
        assert_eq!(a["s"]["x"], serde_json::json!(-0.0025));
        assert_eq!(a["t"], serde_json::json!("1→ \"1e400\""));
        // A different big number is still a difference.
        assert_ne!(
            a,
            parse_value(br#"{"s":{"minLength":2e400,"x":-2.5e-3},"t":"1\u2192 \"1e400\""}"#)
        );
    }
}
