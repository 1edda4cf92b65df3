//! Anthropic SSE streams: [`StreamDecoder`] reads an Anthropic upstream's events into IR
//! stream events; [`StreamEncoder`] writes IR stream events as the SSE stream Claude Code and
//! the SDKs accept (section B of docs/translation-rules.md).
//!
//! The encoder owns the client's block indices. It enforces the grammar whatever its input:
//! one `message_start` first (synthesised if the producer skipped it), blocks strictly
//! sequential and contiguous, deltas only of the open block's type, at least one delta per
//! block, exactly one `message_delta` with full usage, nothing after `message_stop` or `error`.
//! Empty text and thinking blocks are never opened (B14). Gemini signatures become carrier
//! thinking blocks exactly as in non-streamed replies (see `mod.rs`): to do so without
//! buffering text, the stop of an unsigned thinking block is held back one event, and a
//! `tool_use` start waits for its first argument fragment. OpenAI's reasoning needs no such
//! care: its `gw.openai.` signature is the `signature_delta` of its own thinking block.

use super::error::{kind_for_type, status_for_kind};
use super::response::{carrier, parse_stop_reason, stop_reason_str};
use super::wire::{
    DeltaOut, EmptyObject, ErrorOut, MessageDeltaOut, Out, StartBlock, StartMessage, UsageOut,
};
use super::{client_tool_id, message_id, wire};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{ApiError, Dialect, ErrorKind, Signature, StopReason, Usage};
use crate::protocol::responses::envelope;
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

// ------------------------------------------------------------------------------------------
// Decoder: Anthropic upstream -> IR
// ------------------------------------------------------------------------------------------

/// Reads an Anthropic upstream's SSE events. Unknown events and blocks the IR cannot stream
/// (`server_tool_use`, `web_search_tool_result`, ...) are skipped, with indices renumbered.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Anthropic block index -> IR index (`None`: a skipped block).
    indices: Vec<Option<usize>>,
    next_index: usize,
    start_usage: Usage,
    started: bool,
    ended: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if self.ended || ev.data.trim().is_empty() {
            return Ok(());
        }
        let parsed: wire::StreamEvent = serde_json::from_str(&ev.data).map_err(|e| {
            CodecError::from_json(
                &e,
                format!("{} event", ev.event.as_deref().unwrap_or("SSE")),
            )
        })?;
        match parsed {
            wire::StreamEvent::MessageStart { message } => {
                if self.started {
                    return Ok(());
                }
                self.started = true;
                self.start_usage = usage_from_wire(&message.usage);
                out.push(StreamEvent::MessageStart {
                    id: message.id,
                    model: message.model,
                    usage: self.start_usage,
                });
            }
            wire::StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.block_start(index, content_block, out),
            wire::StreamEvent::ContentBlockDelta { index, delta } => {
                let Some(index) = self.ir_index(index) else {
                    return Ok(());
                };
                let delta = match delta {
                    wire::Delta::TextDelta { text } => Delta::Text(text),
                    wire::Delta::InputJsonDelta { partial_json } => {
                        Delta::ToolInputJson(partial_json)
                    }
                    wire::Delta::ThinkingDelta { thinking } => Delta::Thinking(thinking),
                    wire::Delta::SignatureDelta { signature } => Delta::Signature(Signature {
                        origin: Dialect::Anthropic,
                        value: signature,
                    }),
                    wire::Delta::CitationsDelta { .. } | wire::Delta::Unknown => return Ok(()),
                };
                out.push(StreamEvent::BlockDelta { index, delta });
            }
            wire::StreamEvent::ContentBlockStop { index } => {
                if let Some(index) = self.ir_index(index) {
                    out.push(StreamEvent::BlockStop { index });
                }
            }
            wire::StreamEvent::MessageDelta { delta, usage } => {
                let s = self.start_usage;
                out.push(StreamEvent::MessageDelta {
                    stop_reason: delta.stop_reason.as_deref().map(parse_stop_reason),
                    stop_sequence: delta.stop_sequence,
                    usage: Usage {
                        input_tokens: usage.input_tokens.unwrap_or(s.input_tokens),
                        output_tokens: usage.output_tokens.unwrap_or(s.output_tokens),
                        cache_read_tokens: usage
                            .cache_read_input_tokens
                            .unwrap_or(s.cache_read_tokens),
                        cache_write_tokens: usage
                            .cache_creation_input_tokens
                            .unwrap_or(s.cache_write_tokens),
                        reasoning_tokens: None,
                    },
                });
            }
            wire::StreamEvent::MessageStop => {
                self.ended = true;
                out.push(StreamEvent::MessageStop);
            }
            wire::StreamEvent::Ping => out.push(StreamEvent::Ping),
            wire::StreamEvent::Error { error } => {
                self.ended = true;
                let kind = kind_for_type(&error.kind).unwrap_or(ErrorKind::Api);
                out.push(StreamEvent::Error(ApiError::new(
                    status_for_kind(kind),
                    kind,
                    error.message,
                )));
            }
            wire::StreamEvent::Unknown => {}
        }
        Ok(())
    }

    /// The upstream closed the stream: without `message_stop` (or `error`) that is a failure.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if !self.ended {
            self.ended = true;
            let status = 502;
            out.push(StreamEvent::Error(ApiError::new(
                status,
                ErrorKind::for_status(status),
                "upstream stream ended before message_stop",
            )));
        }
        Ok(())
    }

    fn ir_index(&self, index: usize) -> Option<usize> {
        self.indices.get(index).copied().flatten()
    }

    fn block_start(&mut self, index: usize, block: wire::ContentBlock, out: &mut Vec<StreamEvent>) {
        let (start, first) = match block {
            wire::ContentBlock::Text(t) => (
                BlockStart::Text,
                some_text(t.text.into_string(), Delta::Text),
            ),
            wire::ContentBlock::Thinking(t) => {
                // Non-empty fields at start are unusual but legal: replay them as deltas.
                let mut first = some_text(t.thinking, Delta::Thinking);
                if let Some(s) = t.signature.filter(|s| !s.is_empty()) {
                    push_signature(&mut first, s);
                }
                (BlockStart::Thinking, first)
            }
            wire::ContentBlock::RedactedThinking(r) => {
                (BlockStart::RedactedThinking { data: r.data }, Vec::new())
            }
            wire::ContentBlock::ToolUse(t) => {
                let first = if t.input.is_object() && !t.input.is_empty_object() {
                    vec![Delta::ToolInputJson(t.input.to_compact_string())]
                } else {
                    Vec::new()
                };
                (
                    BlockStart::ToolUse {
                        id: t.id,
                        name: t.name,
                        signature: None,
                    },
                    first,
                )
            }
            _ => {
                self.map_index(index, None);
                return;
            }
        };
        let ir = self.next_index;
        self.next_index += 1;
        self.map_index(index, Some(ir));
        out.push(StreamEvent::BlockStart {
            index: ir,
            block: start,
        });
        for delta in first {
            out.push(StreamEvent::BlockDelta { index: ir, delta });
        }
    }

    fn map_index(&mut self, index: usize, ir: Option<usize>) {
        // Indices are small and contiguous; a wild one must not allocate a huge table.
        if index > self.indices.len() + 1024 {
            return;
        }
        if self.indices.len() <= index {
            self.indices.resize(index + 1, None);
        }
        self.indices[index] = ir;
    }
}

fn some_text(s: String, f: fn(String) -> Delta) -> Vec<Delta> {
    if s.is_empty() { Vec::new() } else { vec![f(s)] }
}

fn push_signature(v: &mut Vec<Delta>, signature: String) {
    v.push(Delta::Signature(Signature {
        origin: Dialect::Anthropic,
        value: signature,
    }));
}

fn usage_from_wire(u: &wire::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens,
        cache_write_tokens: u.cache_creation_input_tokens,
        reasoning_tokens: None,
    }
}

// ------------------------------------------------------------------------------------------
// Encoder: IR -> Anthropic client
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Open,
    Done,
}

#[derive(Debug)]
enum Kind {
    Text,
    Thinking,
    Redacted,
    ToolUse {
        id: String,
        name: String,
        /// A Gemini signature known before the block started on the wire.
        signature: Option<String>,
    },
}

/// The IR block currently open.
#[derive(Debug)]
struct Open {
    ir_index: usize,
    kind: Kind,
    /// The client index, once the block has been started on the wire.
    client: Option<usize>,
    /// Thinking: the signature for the `signature_delta`, sent right before the stop. Text:
    /// a Gemini signature, sent as a carrier block after the stop.
    signature: Option<String>,
    /// Tool use: whether any non-empty argument fragment was sent.
    had_input: bool,
}

/// Writes the SSE stream for an Anthropic client.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    estimated_input_tokens: u64,
    phase: Phase,
    next_client: usize,
    open: Option<Open>,
    /// An unsigned thinking block finished in the IR whose `content_block_stop` waits one
    /// event, in case a Gemini-signed `tool_use` follows and its signature can ride on it.
    held: Option<usize>,
    start_usage: Usage,
    last_usage: Usage,
    saw_tool_use: bool,
    sent_message_delta: bool,
}

impl StreamEncoder {
    /// One keep-alive for a quiet stream: Anthropic's `ping` event.
    pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
        self.encode(&StreamEvent::Ping, out);
    }

    pub fn new(ctx: &ResponseCtx) -> Self {
        StreamEncoder {
            model: ctx.model.clone(),
            estimated_input_tokens: ctx.estimated_input_tokens,
            phase: Phase::Idle,
            next_client: 0,
            open: None,
            held: None,
            start_usage: Usage::default(),
            last_usage: Usage::default(),
            saw_tool_use: false,
            sent_message_delta: false,
        }
    }

    pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { id, model, usage } => {
                if self.phase == Phase::Idle {
                    self.message_start(id, model, usage, out);
                }
            }
            StreamEvent::Ping => {
                self.ensure_started(out);
                frame(out, "ping", &Out::Ping);
            }
            StreamEvent::BlockStart { index, block } => {
                self.ensure_started(out);
                self.close_open(out);
                self.block_start(*index, block, out);
            }
            StreamEvent::BlockDelta { index, delta } => self.delta(*index, delta, out),
            StreamEvent::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|o| o.ir_index == *index) {
                    self.close_open(out);
                }
            }
            StreamEvent::MessageDelta {
                stop_reason,
                stop_sequence,
                usage,
            } => {
                self.ensure_started(out);
                self.close_open(out);
                self.release_held(out);
                self.last_usage = *usage;
                if !self.sent_message_delta {
                    self.message_delta(stop_reason.as_ref(), stop_sequence.as_deref(), out);
                }
            }
            StreamEvent::MessageStop => {
                self.ensure_started(out);
                self.close_open(out);
                self.release_held(out);
                if !self.sent_message_delta {
                    self.message_delta(None, None, out);
                }
                frame(out, "message_stop", &Out::MessageStop);
                self.phase = Phase::Done;
            }
            StreamEvent::Error(err) => {
                // Completed blocks stay complete; an open one is left open (E7).
                self.release_held(out);
                let t = super::error::error_type(err.kind);
                frame(
                    out,
                    "error",
                    &Out::Error {
                        error: ErrorOut {
                            kind: t,
                            message: &err.message,
                        },
                    },
                );
                self.phase = Phase::Done;
            }
        }
    }

    fn message_start(&mut self, id: &str, model: &str, usage: &Usage, out: &mut Vec<u8>) {
        let mut usage = *usage;
        if usage.prompt_total() == 0 {
            usage.input_tokens = self.estimated_input_tokens;
        }
        self.start_usage = usage;
        self.last_usage = usage;
        let model = if self.model.is_empty() {
            model
        } else {
            &self.model
        };
        let message = StartMessage {
            id: &message_id(id),
            kind: "message",
            role: "assistant",
            content: [],
            model,
            stop_reason: None,
            stop_sequence: None,
            usage: UsageOut::from(&usage),
        };
        frame(out, "message_start", &Out::MessageStart { message });
        self.phase = Phase::Open;
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Idle {
            self.message_start("", "", &Usage::default(), out);
        }
    }

    fn block_start(&mut self, index: usize, block: &BlockStart, out: &mut Vec<u8>) {
        let kind = match block {
            BlockStart::Text => Kind::Text,
            BlockStart::Thinking => Kind::Thinking,
            BlockStart::RedactedThinking { data } => {
                self.release_held(out);
                let client = self.start_client_block(out, &StartBlock::RedactedThinking { data });
                self.open = Some(Open::new(index, Kind::Redacted, Some(client)));
                return;
            }
            BlockStart::ToolUse {
                id,
                name,
                signature,
            } => Kind::ToolUse {
                id: client_tool_id(id),
                name: name.clone(),
                signature: gemini_value(signature.as_ref()),
            },
        };
        if !matches!(kind, Kind::ToolUse { .. }) {
            self.release_held(out);
        }
        self.open = Some(Open::new(index, kind, None));
    }

    fn delta(&mut self, index: usize, delta: &Delta, out: &mut Vec<u8>) {
        enum Act<'d> {
            Text(&'d str),
            Thinking(&'d str),
            Json(&'d str),
            Nothing,
        }
        let Some(open) = self.open.as_mut().filter(|o| o.ir_index == index) else {
            return;
        };
        let unstarted = open.client.is_none();
        let act = match (&mut open.kind, delta) {
            (Kind::Text, Delta::Text(t)) if !t.is_empty() => Act::Text(t),
            (Kind::Thinking, Delta::Thinking(t)) if !t.is_empty() => Act::Thinking(t),
            (Kind::Thinking, Delta::Signature(s)) => {
                match s.origin {
                    Dialect::Anthropic => open.signature = Some(s.value.clone()),
                    Dialect::Gemini => open.signature = Some(carrier(&s.value)),
                    Dialect::Responses => open.signature = Some(envelope::tag_native(&s.value)),
                    Dialect::OpenAi => {}
                }
                Act::Nothing
            }
            (Kind::Text, Delta::Signature(s)) if s.origin == Dialect::Gemini => {
                open.signature = Some(s.value.clone());
                Act::Nothing
            }
            (Kind::ToolUse { signature, .. }, Delta::Signature(s))
                if s.origin == Dialect::Gemini && unstarted =>
            {
                *signature = Some(s.value.clone());
                Act::Nothing
            }
            (Kind::ToolUse { .. }, Delta::ToolInputJson(j)) if !j.is_empty() => {
                open.had_input = true;
                Act::Json(j)
            }
            // A delta of another block's type, an empty fragment, or a signature that can no
            // longer be placed: dropped (A5.4).
            _ => Act::Nothing,
        };
        match act {
            Act::Text(text) => {
                let c = self.started_client(StartBlock::Text { text: "" }, out);
                delta_frame(out, c, DeltaOut::Text { text });
            }
            Act::Thinking(thinking) => {
                let start = StartBlock::Thinking {
                    thinking: "",
                    signature: "",
                };
                let c = self.started_client(start, out);
                delta_frame(out, c, DeltaOut::Thinking { thinking });
            }
            Act::Json(partial_json) => {
                let c = self.started_tool(out);
                delta_frame(out, c, DeltaOut::InputJson { partial_json });
            }
            Act::Nothing => {}
        }
    }

    /// Starts the open text/thinking block on the wire if not yet started; its client index.
    fn started_client(&mut self, start: StartBlock<'_>, out: &mut Vec<u8>) -> usize {
        if let Some(c) = self.open.as_ref().and_then(|o| o.client) {
            return c;
        }
        let client = self.start_client_block(out, &start);
        if let Some(o) = self.open.as_mut() {
            o.client = Some(client);
        }
        client
    }

    /// Starts the open tool_use block, preceded by its Gemini carrier.
    fn started_tool(&mut self, out: &mut Vec<u8>) -> usize {
        let Some(open) = self.open.as_mut() else {
            return self.next_client;
        };
        if let Some(c) = open.client {
            return c;
        }
        let Kind::ToolUse {
            id,
            name,
            signature,
        } = &open.kind
        else {
            return self.next_client;
        };
        let (id, name, signature) = (id.clone(), name.clone(), signature.clone());
        match (signature, self.held.take()) {
            (Some(sig), Some(held)) => {
                sig_delta(out, held, &carrier(&sig));
                stop_frame(out, held);
            }
            (Some(sig), None) => self.carrier_block(&sig, out),
            (None, Some(held)) => unsigned_stop(out, held),
            (None, None) => {}
        }
        let client = self.start_client_block(
            out,
            &StartBlock::ToolUse {
                id: &id,
                name: &name,
                input: EmptyObject,
            },
        );
        self.saw_tool_use = true;
        if let Some(o) = self.open.as_mut() {
            o.client = Some(client);
        }
        client
    }

    fn start_client_block(&mut self, out: &mut Vec<u8>, block: &StartBlock<'_>) -> usize {
        let index = self.next_client;
        self.next_client += 1;
        frame(
            out,
            "content_block_start",
            &Out::ContentBlockStart {
                index,
                content_block: block,
            },
        );
        index
    }

    /// A complete empty thinking block whose signature carries a Gemini signature.
    fn carrier_block(&mut self, gemini_sig: &str, out: &mut Vec<u8>) {
        let c = self.start_client_block(
            out,
            &StartBlock::Thinking {
                thinking: "",
                signature: "",
            },
        );
        sig_delta(out, c, &carrier(gemini_sig));
        stop_frame(out, c);
    }

    fn release_held(&mut self, out: &mut Vec<u8>) {
        if let Some(held) = self.held.take() {
            unsigned_stop(out, held);
        }
    }

    /// Finishes the open block properly (its IR stop arrived, or the producer moved on).
    fn close_open(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        match open.kind {
            Kind::Text => {
                if let Some(c) = open.client {
                    stop_frame(out, c);
                }
                if let Some(sig) = open.signature {
                    self.release_held(out);
                    self.carrier_block(&sig, out);
                }
            }
            Kind::Thinking => match (open.client, open.signature) {
                (Some(c), Some(sig)) => {
                    sig_delta(out, c, &sig);
                    stop_frame(out, c);
                }
                (Some(c), None) => {
                    // Unsigned: hold the stop, a Gemini-signed call may follow.
                    self.release_held(out);
                    self.held = Some(c);
                }
                (None, Some(sig)) => {
                    // Signature only (e.g. `display: "omitted"`).
                    self.release_held(out);
                    let c = self.start_client_block(
                        out,
                        &StartBlock::Thinking {
                            thinking: "",
                            signature: "",
                        },
                    );
                    sig_delta(out, c, &sig);
                    stop_frame(out, c);
                }
                (None, None) => {}
            },
            Kind::Redacted => {
                if let Some(c) = open.client {
                    stop_frame(out, c);
                }
            }
            Kind::ToolUse { .. } => {
                self.open = Some(open);
                let c = self.started_tool(out);
                let had_input = self.open.take().is_some_and(|o| o.had_input);
                if !had_input {
                    delta_frame(out, c, DeltaOut::InputJson { partial_json: "{}" });
                }
                stop_frame(out, c);
            }
        }
    }

    fn message_delta(
        &mut self,
        stop_reason: Option<&StopReason>,
        stop_sequence: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let mut usage = self.last_usage;
        if usage.prompt_total() == 0 {
            usage.input_tokens = self.start_usage.input_tokens;
            usage.cache_read_tokens = self.start_usage.cache_read_tokens;
            usage.cache_write_tokens = self.start_usage.cache_write_tokens;
        }
        let reason = stop_reason_str(stop_reason, self.saw_tool_use);
        frame(
            out,
            "message_delta",
            &Out::MessageDelta {
                delta: MessageDeltaOut {
                    stop_reason: reason,
                    stop_sequence: stop_sequence.filter(|_| reason == "stop_sequence"),
                },
                usage: UsageOut::from(&usage),
            },
        );
        self.sent_message_delta = true;
    }
}

impl Open {
    fn new(ir_index: usize, kind: Kind, client: Option<usize>) -> Self {
        Open {
            ir_index,
            kind,
            client,
            signature: None,
            had_input: false,
        }
    }
}

fn gemini_value(sig: Option<&Signature>) -> Option<String> {
    sig.filter(|s| s.origin == Dialect::Gemini)
        .map(|s| s.value.clone())
}

/// `event: <name>` + `data: <json>` + blank line. serde_json never writes a raw newline, so
/// the JSON is one data line and can be written in place.
fn frame(out: &mut Vec<u8>, name: &str, body: &Out<'_>) {
    let mark = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, body).is_err() {
        out.truncate(mark);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

fn delta_frame(out: &mut Vec<u8>, index: usize, delta: DeltaOut<'_>) {
    frame(
        out,
        "content_block_delta",
        &Out::ContentBlockDelta { index, delta },
    );
}

/// The stop of a thinking block no provider signed (OpenAI-compatible `reasoning_content`):
/// still one `signature_delta` before it (B5), empty, which reads back as unsigned (such
/// blocks are never sent to Anthropic).
fn unsigned_stop(out: &mut Vec<u8>, index: usize) {
    sig_delta(out, index, "");
    stop_frame(out, index);
}

fn sig_delta(out: &mut Vec<u8>, index: usize, signature: &str) {
    delta_frame(out, index, DeltaOut::Signature { signature });
}

fn stop_frame(out: &mut Vec<u8>, index: usize) {
    frame(out, "content_block_stop", &Out::ContentBlockStop { index });
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
