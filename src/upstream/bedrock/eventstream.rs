//! Incremental decoding of `application/vnd.amazon.eventstream` bodies (ConverseStream) into
//! [`Frame`]s, with `aws-smithy-eventstream`'s frame decoder (both CRCs checked).
//!
//! One [`EventStreamDecoder`] per response body: it keeps one growing buffer and one
//! `MessageFrameDecoder` for the whole body (the crate's decoder remembers a prelude it has
//! read, so rebuilding either per chunk corrupts the stream, reference §1.6). Frames split
//! across chunks wait for their rest; a CRC mismatch or malformed frame is an error that ends
//! the stream; bytes left over at the end of the body are a truncated frame. Exception and
//! error frames (which AWS sends after an HTTP 200) are frames too, so the caller turns them
//! into the client's stream error instead of losing them.

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// One decoded message of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `:message-type event`: the `:event-type` and the JSON payload.
    Event { event_type: String, payload: Bytes },
    /// `:message-type exception`: the `:exception-type` (`throttlingException`, ...) and the
    /// JSON payload (`{"message": ...}`).
    Exception {
        exception_type: String,
        payload: Bytes,
    },
    /// `:message-type error`: an unmodelled error, named by `:error-code` and
    /// `:error-message` headers.
    Error { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A CRC mismatch, an impossible length, a bad header: the stream cannot be trusted.
    #[error("malformed Bedrock event stream: {0}")]
    Malformed(String),
    /// The body ended inside a frame.
    #[error("Bedrock event stream ended inside a frame ({0} bytes left)")]
    Truncated(usize),
}

#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    frames: MessageFrameDecoder,
    /// Bytes of a frame whose prelude the frame decoder has already taken out of `buf`.
    prelude_taken: bool,
    failed: bool,
}

impl EventStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one body chunk; appends every frame it completes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        self.push_with(chunk, |f| {
            out.push(f.to_owned());
            Ok::<(), FrameError>(())
        })
    }

    /// Feeds one body chunk and hands each frame it completes to `f`, borrowed (no copy of
    /// the frame's names: the hot path of a stream). An error from `f` stops the decoding.
    pub fn push_with<E: From<FrameError>>(
        &mut self,
        chunk: &[u8],
        mut f: impl FnMut(FrameRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.failed {
            return Err(FrameError::Malformed("the stream already failed".into()).into());
        }
        self.buf.extend_from_slice(chunk);
        loop {
            let before = self.buf.len();
            match self.frames.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(message)) => {
                    self.prelude_taken = false;
                    let frame = match frame_ref(&message) {
                        Ok(fr) => fr,
                        Err(e) => {
                            self.failed = true;
                            return Err(e.into());
                        }
                    };
                    f(frame)?;
                }
                Ok(DecodedFrame::Incomplete) => {
                    if self.buf.len() < before {
                        self.prelude_taken = true;
                    }
                    return Ok(());
                }
                Err(e) => {
                    self.failed = true;
                    return Err(FrameError::Malformed(e.to_string()).into());
                }
            }
        }
    }

    /// The body ended: an error when it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.failed || (self.buf.is_empty() && !self.prelude_taken) {
            return Ok(());
        }
        Err(FrameError::Truncated(
            self.buf.len() + if self.prelude_taken { 12 } else { 0 },
        ))
    }
}

/// A decoded frame borrowed from its message: [`Frame`] without copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRef<'m> {
    Event {
        event_type: &'m str,
        payload: &'m Bytes,
    },
    Exception {
        exception_type: &'m str,
        payload: &'m Bytes,
    },
    Error {
        code: &'m str,
        message: &'m str,
    },
}

impl FrameRef<'_> {
    pub fn to_owned(self) -> Frame {
        match self {
            FrameRef::Event {
                event_type,
                payload,
            } => Frame::Event {
                event_type: event_type.to_owned(),
                payload: payload.clone(),
            },
            FrameRef::Exception {
                exception_type,
                payload,
            } => Frame::Exception {
                exception_type: exception_type.to_owned(),
                payload: payload.clone(),
            },
            FrameRef::Error { code, message } => Frame::Error {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}

fn frame_ref(message: &Message) -> Result<FrameRef<'_>, FrameError> {
    let (mut kind, mut event, mut exception, mut code, mut text) = (None, None, None, None, None);
    for h in message.headers() {
        let HeaderValue::String(v) = h.value() else {
            continue;
        };
        let slot = match h.name().as_str() {
            ":message-type" => &mut kind,
            ":event-type" => &mut event,
            ":exception-type" => &mut exception,
            ":error-code" => &mut code,
            ":error-message" => &mut text,
            _ => continue,
        };
        *slot = Some(v.as_str());
    }
    let kind =
        kind.ok_or_else(|| FrameError::Malformed("a frame has no :message-type header".into()))?;
    let missing = |h: &str| FrameError::Malformed(format!("a {kind} frame has no {h} header"));
    match kind {
        "event" => Ok(FrameRef::Event {
            event_type: event.ok_or_else(|| missing(":event-type"))?,
            payload: message.payload(),
        }),
        "exception" => Ok(FrameRef::Exception {
            exception_type: exception.ok_or_else(|| missing(":exception-type"))?,
            payload: message.payload(),
        }),
        "error" => Ok(FrameRef::Error {
            code: code.unwrap_or("error"),
            message: text.unwrap_or_default(),
        }),
        other => Err(FrameError::Malformed(format!(
            "unknown :message-type `{other}`"
        ))),
    }
}

/// Encodes one frame (for tests and fakes of Bedrock): string headers, then the payload.
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::Header;
    let mut message = Message::new(Bytes::copy_from_slice(payload));
    for (name, value) in headers {
        message = message.add_header(Header::new(
            (*name).to_owned(),
            HeaderValue::String((*value).to_owned().into()),
        ));
    }
    let mut out = Vec::with_capacity(payload.len() + 128);
    // Only over-long headers (> 32 KiB values, > 255-byte names) fail; callers pass small ones.
    let _ = aws_smithy_eventstream::frame::write_message_to(&message, &mut out);
    out
}

/// An `event` frame as ConverseStream sends it.
pub fn encode_event(event_type: &str, payload: &[u8]) -> Vec<u8> {
    encode_frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// An `exception` frame as ConverseStream sends it after an HTTP 200.
pub fn encode_exception(exception_type: &str, payload: &[u8]) -> Vec<u8> {
    encode_frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/aws/eventstream/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    fn decode_all(bytes: &[u8], step: usize) -> Result<Vec<Frame>, FrameError> {
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(step.max(1)) {
            d.push(chunk, &mut out)?;
        }
        d.finish()?;
        Ok(out)
    }

    /// The reference's 30-byte vector: `{"foo": "bar"}`, no headers.
    #[test]
    fn known_answer_vector() {
        let bytes = encode_frame(&[], br#"{"foo": "bar"}"#);
        assert_eq!(bytes.len(), 30);
        assert_eq!(
            &bytes[..12],
            &[0, 0, 0, 0x1e, 0, 0, 0, 0, 0xba, 0xf2, 0xf6, 0x8a]
        );
        assert_eq!(&bytes[26..], &[0xae, 0x72, 0x58, 0xe4]);
        // No :message-type: decodes as a frame, then is refused as one.
        let err = decode_all(&bytes, 30).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(m) if m.contains(":message-type")));
    }

    #[test]
    fn crate_vectors_decode_and_bad_crcs_abort() {
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        // A valid frame without :message-type is refused (Converse always sends one).
        assert!(d.push(&data("valid_no_headers"), &mut out).is_err());
        for bad in ["invalid_prelude_checksum", "invalid_message_checksum"] {
            let err = decode_all(&data(bad), 7).unwrap_err();
            assert!(
                matches!(err, FrameError::Malformed(m) if m.contains("checksum") || m.contains("CRC") || m.contains("crc")),
                "{bad}"
            );
        }
        // The all-headers vector decodes as a frame (it carries :message-type? no: refused
        // as unknown or missing, but only after its CRCs passed).
        let err = decode_all(&data("valid_with_all_headers_and_payload"), 3).unwrap_err();
        assert!(!err.to_string().contains("checksum"), "{err}");
    }

    #[test]
    fn frames_split_at_every_byte_decode_identically() {
        let mut body = Vec::new();
        body.extend(encode_event("messageStart", br#"{"role":"assistant"}"#));
        body.extend(encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hi"},"p":"abcdefgh"}"#,
        ));
        body.extend(encode_exception(
            "throttlingException",
            br#"{"message":"slow down"}"#,
        ));
        let whole = decode_all(&body, body.len()).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(
            whole[0],
            Frame::Event {
                event_type: "messageStart".into(),
                payload: Bytes::from_static(br#"{"role":"assistant"}"#)
            }
        );
        assert!(
            matches!(&whole[2], Frame::Exception { exception_type, .. } if exception_type == "throttlingException")
        );
        for step in 1..body.len() {
            assert_eq!(decode_all(&body, step).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn truncation_error_frames_and_corruption() {
        let frame = encode_event("messageStop", br#"{"stopReason":"end_turn"}"#);
        for cut in [1, 11, 12, 13, frame.len() - 1] {
            let mut d = EventStreamDecoder::new();
            let mut out = Vec::new();
            d.push(&frame[..cut], &mut out).unwrap();
            assert!(out.is_empty());
            assert!(
                matches!(d.finish(), Err(FrameError::Truncated(_))),
                "cut {cut}"
            );
        }
        let err = encode_frame(
            &[
                (":message-type", "error"),
                (":error-code", "InternalFailure"),
                (":error-message", "oops"),
            ],
            b"",
        );
        assert_eq!(
            decode_all(&err, 5).unwrap(),
            vec![Frame::Error {
                code: "InternalFailure".into(),
                message: "oops".into()
            }]
        );
        let mut bad = frame.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        assert!(matches!(decode_all(&bad, 4), Err(FrameError::Malformed(_))));
        // After a failure the decoder refuses more input.
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        assert!(d.push(&bad, &mut out).is_err());
        assert!(d.push(&frame, &mut out).is_err());
    }
}
