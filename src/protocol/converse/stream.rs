//! ConverseStream events -> block-model [`StreamEvent`]s, as one state machine (reference §1.7).
//!
//! The input is what the event-stream framing (`upstream/bedrock/eventstream.rs`) yields: the
//! `:event-type` and the JSON payload of each `event` frame, and the `:exception-type` and
//! payload of an `exception` frame ([`StreamDecoder::exception`]). What AWS's stream does that
//! the block model does not:
//! * text and reasoning blocks come without `contentBlockStart`: a block opens on the first
//!   delta of a `contentBlockIndex` not open yet; everything is keyed by that index, never by
//!   "the last block started";
//! * a reasoning signature is its own delta, usually after the text; a signature-only
//!   reasoning block is kept; `redactedContent` is a redacted-thinking block;
//! * the stop reason (`messageStop`) comes before the only usage (`metadata`): it is held, and
//!   one `MessageDelta` with both is emitted on `metadata` or at the end of the body;
//! * a tool call without any input delta is finished by the client encoders as `{}`;
//! * unknown events and payload members (the padding `p`) are ignored.

use super::ids::ToolMap;
use super::response::{claude_signature, is_malformed, stop_reason, stop_sequence, usage};
use super::wire;
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{ApiError, ErrorKind, Usage};
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Redacted,
    ToolUse,
}

#[derive(Debug)]
struct Open {
    /// Converse's `contentBlockIndex`.
    wire: usize,
    /// The IR's block index.
    ir: usize,
    kind: Kind,
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    map: ToolMap,
    id: String,
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<Open>,
    /// `messageStop`'s reason and `additionalModelResponseFields`, held for `metadata`.
    stop: Option<(Option<String>, Option<serde_json::Value>)>,
    saw_tool: bool,
    emitted_block: bool,
    events: usize,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the wire names and ids of rewritten tools back to the client's.
    pub fn with_tool_map(mut self, map: ToolMap) -> Self {
        self.map = map;
        self
    }

    /// The message id to report (Converse has none; e.g. the `x-amzn-RequestId` header).
    pub fn with_message_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// One `event` frame: its `:event-type` and JSON payload.
    pub fn feed(
        &mut self,
        event_type: &str,
        payload: &[u8],
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), CodecError> {
        if self.done {
            return Ok(());
        }
        self.events += 1;
        match event_type {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                let ev: wire::ContentBlockStart = parse(payload, event_type)?;
                self.start(out);
                if let Some(t) = ev.start.and_then(|s| s.tool_use) {
                    self.close(out);
                    let index = self.next_index;
                    self.next_index += 1;
                    self.saw_tool = true;
                    self.emitted_block = true;
                    out.push(StreamEvent::BlockStart {
                        index,
                        block: BlockStart::ToolUse {
                            id: self.map.client_id(&t.tool_use_id),
                            name: self.map.client_name(&t.name),
                            signature: None,
                        },
                    });
                    self.open = Some(Open {
                        wire: ev.content_block_index,
                        ir: index,
                        kind: Kind::ToolUse,
                    });
                }
            }
            "contentBlockDelta" => {
                let ev: wire::ContentBlockDelta = parse(payload, event_type)?;
                self.start(out);
                self.delta(ev, out);
            }
            "contentBlockStop" => {
                let ev: wire::ContentBlockStop = parse(payload, event_type)?;
                if self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.wire == ev.content_block_index)
                {
                    self.close(out);
                }
            }
            "messageStop" => {
                let ev: wire::MessageStop = parse(payload, event_type)?;
                self.start(out);
                self.close(out);
                self.stop = Some((ev.stop_reason, ev.additional_model_response_fields));
            }
            "metadata" => {
                let ev: wire::Metadata = parse(payload, event_type)?;
                if self.stop.is_some() {
                    let u = ev.usage.as_ref().map(usage).unwrap_or_default();
                    self.complete(u, out);
                }
            }
            // A newer event this codec does not know.
            _ => {}
        }
        Ok(())
    }

    /// An `exception` frame (after HTTP 200): the stream ends with the client's stream error.
    pub fn exception(&mut self, exception_type: &str, payload: &[u8], out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        out.push(StreamEvent::Error(super::error::decode_exception(
            exception_type,
            payload,
        )));
        self.done = true;
    }

    /// The body ended. A stream without `messageStop` was cut (or empty): an `Error` event.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if self.done {
            return Ok(());
        }
        if self.stop.is_some() {
            self.complete(Usage::default(), out);
            return Ok(());
        }
        let message = if self.events == 0 {
            "Bedrock answered the stream with HTTP 200 but sent no events"
        } else {
            "Bedrock's stream ended before the reply was finished"
        };
        out.push(StreamEvent::Error(ApiError::new(
            502,
            ErrorKind::BadGateway,
            message,
        )));
        self.done = true;
        Ok(())
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                id: self.id.clone(),
                model: String::new(),
                usage: Usage::default(),
            });
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(o) = self.open.take() {
            out.push(StreamEvent::BlockStop { index: o.ir });
        }
    }

    /// The IR index of the open block for `wire` of `kind`, opening one (and closing another)
    /// when needed.
    fn ensure(&mut self, wire: usize, kind: Kind, out: &mut Vec<StreamEvent>) -> usize {
        if let Some(o) = &self.open
            && o.wire == wire
            && o.kind == kind
        {
            return o.ir;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.emitted_block = true;
        let block = match kind {
            Kind::Thinking => BlockStart::Thinking,
            _ => BlockStart::Text,
        };
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some(Open {
            wire,
            ir: index,
            kind,
        });
        index
    }

    fn delta(&mut self, ev: wire::ContentBlockDelta, out: &mut Vec<StreamEvent>) {
        let wire = ev.content_block_index;
        let d = ev.delta;
        if let Some(text) = d.text {
            if !text.is_empty() {
                let index = self.ensure(wire, Kind::Text, out);
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text(text),
                });
            }
        } else if let Some(tool) = d.tool_use {
            // Input for a call whose start was seen; without it there is no id or name.
            if let Some(o) = &self.open
                && o.wire == wire
                && o.kind == Kind::ToolUse
                && !tool.input.is_empty()
            {
                out.push(StreamEvent::BlockDelta {
                    index: o.ir,
                    delta: Delta::ToolInputJson(tool.input),
                });
            }
        } else if let Some(r) = d.reasoning_content {
            if let Some(data) = r.redacted_content {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                self.emitted_block = true;
                out.push(StreamEvent::BlockStart {
                    index,
                    block: BlockStart::RedactedThinking { data },
                });
                self.open = Some(Open {
                    wire,
                    ir: index,
                    kind: Kind::Redacted,
                });
                return;
            }
            if let Some(text) = r.text.filter(|t| !t.is_empty()) {
                let index = self.ensure(wire, Kind::Thinking, out);
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Thinking(text),
                });
            }
            if let Some(sig) = r.signature.filter(|s| !s.is_empty()) {
                let index = self.ensure(wire, Kind::Thinking, out);
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Signature(claude_signature(sig)),
                });
            }
        }
    }

    fn complete(&mut self, usage: Usage, out: &mut Vec<StreamEvent>) {
        self.close(out);
        let (reason, fields) = self.stop.take().unwrap_or_default();
        if is_malformed(reason.as_deref()) && !self.emitted_block {
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                format!(
                    "Bedrock could not produce a usable reply (stopReason {})",
                    reason.as_deref().unwrap_or_default()
                ),
            )));
            self.done = true;
            return;
        }
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop_reason(reason.as_deref(), self.saw_tool)),
            stop_sequence: stop_sequence(fields.as_ref()),
            usage,
        });
        out.push(StreamEvent::MessageStop);
        self.done = true;
    }
}

fn parse<'a, T: serde::Deserialize<'a>>(payload: &'a [u8], event: &str) -> Result<T, CodecError> {
    serde_json::from_slice(payload).map_err(|e| CodecError::from_json(&e, event))
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
