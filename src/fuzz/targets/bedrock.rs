//! The Bedrock targets (see the parent's list): Converse replies and errors, and ConverseStream
//! bodies made of real binary event-stream frames, decoded the way the server reads them
//! (`upstream::bedrock::StreamBody`: the frame decoder, then the Converse stream codec).

use rand::Rng;

use super::{
    Outcome, chunks, ctx, error_encodes_everywhere, fail, framed, response_encodes_everywhere,
    rng_for, stream_encodes_everywhere,
};
use crate::protocol::converse::{self, ErrorContext};
use crate::protocol::ir::{ApiError, ErrorKind};
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::StreamEvent;
use crate::upstream::bedrock::{StreamBody, eventstream};

pub(super) fn response(input: &[u8]) -> Outcome {
    let Ok(resp) = converse::decode_response(input) else {
        return Ok(false);
    };
    response_encodes_everywhere(&resp, &ctx(false))?;
    Ok(true)
}

pub(super) fn error(input: &[u8]) -> Outcome {
    // Fixed statuses and header values (not drawn from the input, so the minimiser shrinks the
    // body alone): none, AWS's long form with its URL, a bare name, and one the codec lacks.
    const STATUSES: [u16; 3] = [0, 429, 65535];
    const TYPES: [Option<&str>; 3] = [
        None,
        Some("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        Some("FuzzException"),
    ];
    let mut errors = Vec::with_capacity(STATUSES.len() * TYPES.len() + 2);
    for status in STATUSES {
        for error_type in TYPES {
            let ectx = ErrorContext {
                error_type,
                retry_after: Some("7"),
                model: Some("anthropic.claude-fuzz"),
                region: Some("us-east-1"),
            };
            errors.push(converse::decode_error_with(status, input, &ectx));
        }
    }
    // The same bytes as a stream exception's payload.
    for name in ["throttlingException", "fuzzException"] {
        errors.push(converse::decode_exception(name, input));
    }
    for err in &errors {
        error_encodes_everywhere(err)?;
    }
    Ok(serde_json::from_slice::<serde::de::IgnoredAny>(input).is_ok())
}

/// One transcript event as the binary frame it names.
fn frame_of(e: &SseEvent) -> Vec<u8> {
    let name = e.event.as_deref().unwrap_or_default();
    if let Some(kind) = name.strip_prefix("exception:") {
        eventstream::encode_exception(kind, e.data.as_bytes())
    } else if let Some(code) = name.strip_prefix("error:") {
        eventstream::encode_frame(
            &[
                (":message-type", "error"),
                (":error-code", code),
                (":error-message", &e.data),
            ],
            b"",
        )
    } else {
        eventstream::encode_event(name, e.data.as_bytes())
    }
}

/// What the server makes of a ConverseStream body in these parts: a broken frame or codec
/// error ends the stream with an error event, as the relay does.
fn decode(parts: &[&[u8]]) -> (Vec<StreamEvent>, bool) {
    let mut body = StreamBody::new(converse::StreamDecoder::new().with_message_id("fuzz"));
    let mut out = Vec::new();
    let broken = |e: &dyn std::fmt::Display| {
        StreamEvent::Error(ApiError::new(502, ErrorKind::BadGateway, e.to_string()))
    };
    for p in parts {
        if let Err(e) = body.push(p, &mut out) {
            out.push(broken(&e));
            return (out, false);
        }
    }
    if let Err(e) = body.finish(&mut out) {
        out.push(broken(&e));
        return (out, false);
    }
    (out, true)
}

pub(super) fn stream(input: &[u8]) -> Outcome {
    let events = framed(input)?;
    let mut rng = rng_for(input);
    let mut body: Vec<u8> = events.iter().flat_map(frame_of).collect();
    // Now and then a damaged body: one flipped bit (a CRC must catch it) or a cut.
    if !body.is_empty() && rng.random_ratio(1, 8) {
        let at = rng.random_range(0..body.len());
        body[at] ^= 1 << rng.random_range(0..8);
    }
    if !body.is_empty() && rng.random_ratio(1, 8) {
        body.truncate(rng.random_range(0..body.len()));
    }
    let (decoded, accepted) = decode(&[&body]);
    let cut = chunks(&body, &mut rng, 12);
    let (chunked, _) = decode(&cut);
    if decoded != chunked {
        let sizes: Vec<usize> = cut.iter().map(|c| c.len()).collect();
        return Err(fail(
            "bedrock-stream-chunking",
            format!(
                "whole:   {decoded:?}\nchunked: {chunked:?}\nchunks: {sizes:?}\ninput: {}",
                super::lossy(input)
            ),
        ));
    }
    stream_encodes_everywhere(&decoded, &ctx(false), input)?;
    Ok(accepted)
}
