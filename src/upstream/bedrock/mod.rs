//! AWS Bedrock's building blocks, for the `bedrock` upstream kind: the binary event-stream
//! framing ([`eventstream`]), SigV4 signing and paths ([`sign`]), the credential chain
//! ([`credentials`], reading [`profile`] files) and the model-list replies and ARNs
//! ([`models`]), and the CLI's discovery and test calls ([`probe`]). [`StreamBody`] joins the framing to the Converse stream codec
//! (`protocol::converse`) for one ConverseStream response body. The kind that wires these
//! into the HTTP pipeline lives with the other kinds.

pub mod credentials;
pub mod eventstream;
pub mod models;
pub mod probe;
pub mod profile;
pub mod sign;

use crate::protocol::codec::CodecError;
use crate::protocol::converse;
use crate::protocol::stream::StreamEvent;
use eventstream::{EventStreamDecoder, FrameError, FrameRef};

impl From<FrameError> for CodecError {
    fn from(e: FrameError) -> Self {
        CodecError::Invalid(e.to_string())
    }
}

/// One ConverseStream body: binary chunks in, block-model events out. Exception and error
/// frames end the stream with an `Error` event; a corrupt or truncated stream is an error.
#[derive(Debug, Default)]
pub struct StreamBody {
    frames: EventStreamDecoder,
    codec: converse::StreamDecoder,
}

impl StreamBody {
    /// `codec` carries the request's tool map and the message id to report.
    pub fn new(codec: converse::StreamDecoder) -> Self {
        StreamBody {
            codec,
            ..Self::default()
        }
    }

    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let codec = &mut self.codec;
        self.frames.push_with(chunk, |frame| {
            match frame {
                FrameRef::Event {
                    event_type,
                    payload,
                } => codec.feed(event_type, payload, out)?,
                FrameRef::Exception {
                    exception_type,
                    payload,
                } => codec.exception(exception_type, payload, out),
                FrameRef::Error { code, message } => {
                    let payload = serde_json::json!({ "message": message }).to_string();
                    codec.exception(code, payload.as_bytes(), out);
                }
            }
            Ok::<(), CodecError>(())
        })
    }

    /// The body ended.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        self.frames
            .finish()
            .map_err(|e| CodecError::Invalid(e.to_string()))?;
        self.codec.finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::StopReason;

    #[test]
    fn frames_to_events_and_errors() {
        let mut body = Vec::new();
        body.extend(eventstream::encode_event(
            "messageStart",
            br#"{"role":"assistant"}"#,
        ));
        body.extend(eventstream::encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
        ));
        body.extend(eventstream::encode_event(
            "messageStop",
            br#"{"stopReason":"end_turn"}"#,
        ));
        body.extend(eventstream::encode_event(
            "metadata",
            br#"{"usage":{"inputTokens":1,"outputTokens":1}}"#,
        ));
        let mut s = StreamBody::new(converse::StreamDecoder::new());
        let mut out = Vec::new();
        for c in body.chunks(5) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        assert!(matches!(
            &out[out.len() - 2],
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::EndTurn),
                ..
            }
        ));
        assert_eq!(out.last(), Some(&StreamEvent::MessageStop));

        let mut s = StreamBody::new(converse::StreamDecoder::new());
        let mut out = Vec::new();
        s.push(
            &eventstream::encode_frame(
                &[
                    (":message-type", "error"),
                    (":error-code", "InternalFailure"),
                    (":error-message", "oops"),
                ],
                b"",
            ),
            &mut out,
        )
        .unwrap();
        assert!(matches!(&out[..], [StreamEvent::Error(e)] if e.message == "oops"));

        let mut s = StreamBody::new(converse::StreamDecoder::new());
        s.push(&body[..10], &mut Vec::new()).unwrap();
        assert!(s.finish(&mut Vec::new()).is_err());
    }
}
