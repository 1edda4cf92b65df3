//! Chat Completions streams <-> block-model [`StreamEvent`]s, as two state machines.
//!
//! [`StreamDecoder`] folds an upstream's `chat.completion.chunk`s into blocks (C17, C20-C24):
//! reasoning deltas become a thinking block, content deltas a text block, tool-call deltas are
//! keyed by `index` *and* `id` (providers reuse index 0 for parallel calls, omit ids or names,
//! interleave calls, or send everything in one chunk) and buffered per call. A call becomes a
//! complete `tool_use` block (start, one `ToolInputJson` fragment, stop) once the model moves on
//! (text, reasoning, `finish_reason`, end of stream), so blocks never interleave and every
//! input is a JSON object: arguments that do not parse are repaired (see
//! `response::repair_arguments`). The stop reason and usage are held until the trailing usage
//! chunk (`choices: []` or `null`), `[DONE]` or the end of the body.
//!
//! [`StreamEncoder`] unfolds events into chunks for an OpenAI client (C25) and ends with
//! `data: [DONE]`; a mid-stream error is one `data: {"error": {...}}` frame (E8).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::names::ToolNames;
use super::response::{
    CallNames, completion_id, decode_usage, encode_usage, finish_reason, now_secs, refusal_stop,
    repair_arguments, stop_reason,
};
use super::wire::{self, ChatCompletionChunk, ChunkChoice, ChunkDelta};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{ApiError, ErrorKind, StopReason, Usage};
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

/// Long tool arguments are buffered without producing events; a `Ping` every this many
/// fragments keeps clients that watch for silence (Claude Code, A5.7) from giving up.
const PING_EVERY_FRAGMENTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// One upstream tool call being assembled.
#[derive(Debug, Default)]
struct CallBuf {
    index: Option<u32>,
    id: Option<String>,
    name: Option<String>,
    args: String,
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<(usize, Open)>,
    calls: Vec<CallBuf>,
    call_names: CallNames,
    finish: Option<String>,
    usage: Option<Usage>,
    saw_tool: bool,
    /// The model sent a `refusal` delta.
    refused: bool,
    fragments: usize,
    names: ToolNames,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the wire names of rewritten tools back to the client's (see `names.rs`).
    pub fn with_tool_names(names: ToolNames) -> Self {
        StreamDecoder {
            names,
            ..Self::default()
        }
    }

    pub fn feed(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let data = ev.data.trim();
        if self.done || data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.complete(out);
            return Ok(());
        }
        // One typed parse in the common case. An error object, an `error` event or a chunk
        // the typed parse rejects takes the general path below, so replies and error texts are
        // those of a `Value` parse.
        let chunk = match serde_json::from_str::<ChatCompletionChunk>(data) {
            Ok(c) if ev.event.as_deref() != Some("error") && !has_error(&c.extra) => c,
            _ => match self.general(ev, data, out)? {
                Some(c) => c,
                None => return Ok(()),
            },
        };
        let no_choices = chunk.choices.is_empty();
        // A chunk with nothing in it does not open the message: Azure's first chunk has empty
        // `choices`, `id: ""` and `prompt_filter_results` only (clients indexing `choices[0]`
        // crash on it, and its empty id and model must not become the message's).
        if no_choices && !self.started && !matches!(chunk.usage, Some(Some(_))) {
            return Ok(());
        }
        self.start(&chunk, out);
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            self.delta(choice.delta, out);
            if let Some(f) = choice.finish_reason {
                self.finish = Some(f);
                self.flush_calls(out);
                self.close_open(out);
            }
        }
        if let Some(Some(u)) = &chunk.usage {
            self.usage = Some(decode_usage(u));
        }
        // The trailing usage chunk after the finish chunk: the stream is complete.
        if no_choices && self.finish.is_some() && self.usage.is_some() {
            self.complete(out);
        }
        Ok(())
    }

    /// A chunk through a `Value`: an in-stream error becomes an `Error` event (`None`), a
    /// malformed chunk an error naming the field.
    fn general(
        &mut self,
        ev: &SseEvent,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<Option<ChatCompletionChunk>, CodecError> {
        let value: Value =
            serde_json::from_str(data).map_err(|e| CodecError::from_json(&e, "stream chunk"))?;
        let error = match value.get("error").filter(|e| !e.is_null()) {
            Some(err) => Some(err),
            None if ev.event.as_deref() == Some("error") => Some(&value),
            None => None,
        };
        if let Some(err) = error {
            let status = error_status(err);
            out.push(StreamEvent::Error(super::error::decode_error(
                status,
                data.as_bytes(),
            )));
            self.done = true;
            return Ok(None);
        }
        serde_path_to_error::deserialize(value)
            .map(Some)
            .map_err(|e| CodecError::from_json(e.inner(), format!("stream chunk {}", e.path())))
    }

    /// The body ended. Without `[DONE]`, a finish reason or usage chunk, the stream was cut:
    /// that is an error, and calls still being assembled are not emitted (E7).
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if self.done {
            return Ok(());
        }
        if self.started && self.finish.is_none() {
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                "upstream stream ended before the reply was finished",
            )));
            self.done = true;
            return Ok(());
        }
        self.complete(out);
        Ok(())
    }

    fn start(&mut self, chunk: &ChatCompletionChunk, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        self.call_names = CallNames::with_salt(&chunk.id);
        out.push(StreamEvent::MessageStart {
            id: chunk.id.clone(),
            model: chunk.model.clone(),
            usage: Usage::default(),
        });
    }

    fn delta(&mut self, d: ChunkDelta, out: &mut Vec<StreamEvent>) {
        let reasoning = match d.reasoning_content {
            Some(r) => Some(r),
            None => d.reasoning,
        };
        if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
            self.flush_calls(out);
            let index = self.ensure_open(Open::Thinking, out);
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::Thinking(r),
            });
        }
        self.refused |= d.refusal.as_ref().is_some_and(|r| !r.is_empty());
        for text in [d.content, d.refusal].into_iter().flatten() {
            if text.is_empty() {
                continue;
            }
            self.flush_calls(out);
            let index = self.ensure_open(Open::Text, out);
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::Text(text),
            });
        }
        // `tool_calls: []` beside content (vLLM) is no call at all.
        for call in d.tool_calls.iter().flatten() {
            self.absorb(call);
            self.fragments += 1;
            if self.fragments.is_multiple_of(PING_EVERY_FRAGMENTS) {
                out.push(StreamEvent::Ping);
            }
        }
    }

    fn ensure_open(&mut self, kind: Open, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((index, open)) = self.open
            && open == kind
        {
            return index;
        }
        self.close_open(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        let block = match kind {
            Open::Text => BlockStart::Text,
            Open::Thinking => BlockStart::Thinking,
        };
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn absorb(&mut self, c: &wire::ToolCallChunk) {
        let id = c.id.as_deref().filter(|s| !s.is_empty());
        let function = c.function.as_ref();
        let name = function
            .and_then(|f| f.name.as_deref())
            .filter(|s| !s.is_empty());
        let args = function.and_then(|f| f.arguments.as_deref()).unwrap_or("");
        let slot = match self.find_call(c.index, id, name, args) {
            Some(slot) => slot,
            None => {
                self.calls.push(CallBuf {
                    index: c.index,
                    ..CallBuf::default()
                });
                self.calls.len() - 1
            }
        };
        let Some(buf) = self.calls.get_mut(slot) else {
            return;
        };
        if buf.id.is_none() {
            buf.id = id.map(str::to_owned);
        }
        if buf.name.is_none() {
            buf.name = name.map(str::to_owned);
        }
        buf.args.push_str(args);
    }

    /// Which buffered call a fragment continues, or `None` for a new call.
    fn find_call(
        &self,
        index: Option<u32>,
        id: Option<&str>,
        name: Option<&str>,
        args: &str,
    ) -> Option<usize> {
        if let Some(id) = id {
            if let Some(i) = self.calls.iter().position(|b| b.id.as_deref() == Some(id)) {
                return Some(i);
            }
            // A call first seen without an id gets it late; otherwise a new id is a new call,
            // even on an index already used (index-0 reuse).
            return self
                .calls
                .iter()
                .rposition(|b| b.id.is_none() && b.index == index);
        }
        let i = match index {
            Some(_) => self.calls.iter().rposition(|b| b.index == index),
            None => self.calls.len().checked_sub(1),
        }?;
        let buf = &self.calls[i];
        // Without ids, a fragment naming a tool starts a new call when the previous call on that
        // index already has a different name, or complete arguments and the fragment opens new
        // ones. Providers that repeat the name on every fragment stay one call.
        let starts_new = match (name, buf.name.as_deref()) {
            (Some(n), Some(prev)) if n != prev => true,
            (Some(_), Some(_)) => {
                args.trim_start().starts_with('{')
                    && serde_json::from_str::<Map<String, Value>>(&buf.args).is_ok()
            }
            _ => false,
        };
        (!starts_new).then_some(i)
    }

    /// Emits every buffered call as a complete block, in the order the calls began.
    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) {
        if self.calls.is_empty() {
            return;
        }
        self.close_open(out);
        for buf in std::mem::take(&mut self.calls) {
            let id = self.call_names.id(buf.id.as_deref());
            let name = self.call_names.name(buf.name.as_deref());
            let name = self.names.client(&name).to_owned();
            let index = self.next_index;
            self.next_index += 1;
            out.push(StreamEvent::BlockStart {
                index,
                block: BlockStart::ToolUse {
                    id,
                    name,
                    signature: None,
                },
            });
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolInputJson(repair_arguments(&buf.args).to_string()),
            });
            out.push(StreamEvent::BlockStop { index });
            self.saw_tool = true;
        }
    }

    fn complete(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        if !self.started {
            // C24 / E10: nothing at all came back; retryable, never an empty 200.
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                "upstream returned an empty stream",
            )));
            return;
        }
        self.flush_calls(out);
        self.close_open(out);
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(refusal_stop(
                stop_reason(self.finish.as_deref(), self.saw_tool),
                self.refused,
            )),
            stop_sequence: None,
            usage: self.usage.unwrap_or_default(),
        });
        out.push(StreamEvent::MessageStop);
    }
}

/// Whether a typed chunk carried an error object (`"error": null` is none).
fn has_error(extra: &Map<String, Value>) -> bool {
    extra.get("error").is_some_and(|e| !e.is_null())
}

/// The HTTP status an in-stream error object stands for.
fn error_status(err: &Value) -> u16 {
    if let Some(code) = err.get("code").and_then(Value::as_u64)
        && (400..600).contains(&code)
    {
        return code as u16;
    }
    let kind = err.get("type").and_then(Value::as_str).unwrap_or_default();
    let code = err.get("code").and_then(Value::as_str).unwrap_or_default();
    match (kind, code) {
        (_, "rate_limit_exceeded" | "insufficient_quota") => 429,
        ("rate_limit_exceeded" | "rate_limit_error", _) => 429,
        ("invalid_request_error", _) => 400,
        ("authentication_error", _) => 401,
        ("overloaded_error", _) => 529,
        _ => 500,
    }
}

// ---------------------------------------------------------------------------------------------

/// Writes block-model events as `chat.completion.chunk` SSE frames for an OpenAI client.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// IR block index -> `tool_calls[].index`.
    tool_slots: HashMap<usize, u32>,
    stop: Option<StopReason>,
    usage: Usage,
    sent_role: bool,
    sent_finish: bool,
    done: bool,
}

impl StreamEncoder {
    /// One keep-alive for a quiet stream: a `: ping` comment.
    pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
        self.encode(&StreamEvent::Ping, out);
    }

    pub fn new(ctx: &ResponseCtx) -> Self {
        StreamEncoder {
            id: format!("chatcmpl-{}", now_secs()),
            created: now_secs(),
            model: ctx.model.clone(),
            include_usage: ctx.include_usage,
            tool_slots: HashMap::new(),
            stop: None,
            usage: Usage::default(),
            sent_role: false,
            sent_finish: false,
            done: false,
        }
    }

    fn chunk(&self, delta: ChunkDelta, finish: Option<&str>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(str::to_owned),
                logprobs: None,
                extra: Map::new(),
            }],
            // C25: with include_usage every chunk carries `usage`, null until the last.
            usage: self.include_usage.then_some(None),
            extra: Map::new(),
        }
    }

    fn write(out: &mut Vec<u8>, chunk: &impl serde::Serialize) {
        out.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut *out, chunk).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    fn send(&mut self, delta: ChunkDelta, out: &mut Vec<u8>) {
        if !self.sent_role {
            self.send_role(out);
        }
        Self::write(out, &self.chunk(delta, None));
    }

    fn send_role(&mut self, out: &mut Vec<u8>) {
        self.sent_role = true;
        let delta = ChunkDelta {
            role: Some("assistant".to_owned()),
            content: Some(String::new()),
            ..ChunkDelta::default()
        };
        Self::write(out, &self.chunk(delta, None));
    }

    fn send_finish(&mut self, out: &mut Vec<u8>) {
        if !self.sent_role {
            self.send_role(out);
        }
        self.sent_finish = true;
        let saw_tool = !self.tool_slots.is_empty();
        let finish = finish_reason(self.stop.as_ref(), saw_tool);
        Self::write(out, &self.chunk(ChunkDelta::default(), Some(finish)));
    }

    pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { id, .. } => {
                if !id.is_empty() {
                    self.id = completion_id("chatcmpl-", id);
                }
                if !self.sent_role {
                    self.send_role(out);
                }
            }
            StreamEvent::BlockStart {
                index,
                block:
                    BlockStart::ToolUse {
                        id,
                        name,
                        signature,
                    },
            } => {
                let slot = u32::try_from(self.tool_slots.len()).unwrap_or(u32::MAX);
                self.tool_slots.insert(*index, slot);
                let call = wire::ToolCallChunk {
                    index: Some(slot),
                    id: Some(super::carrier::wrap(id, signature.as_ref())),
                    kind: Some("function".to_owned()),
                    function: Some(wire::FunctionCallChunk {
                        name: Some(name.clone()),
                        arguments: Some(String::new()),
                        extra: Map::new(),
                    }),
                    extra: Map::new(),
                };
                self.send(tool_delta(call), out);
            }
            StreamEvent::BlockDelta { index, delta } => match delta {
                Delta::Text(t) if !t.is_empty() => {
                    let d = ChunkDelta {
                        content: Some(t.clone()),
                        ..ChunkDelta::default()
                    };
                    self.send(d, out);
                }
                Delta::Thinking(t) if !t.is_empty() => {
                    let d = ChunkDelta {
                        reasoning_content: Some(t.clone()),
                        ..ChunkDelta::default()
                    };
                    self.send(d, out);
                }
                Delta::ToolInputJson(json) if !json.is_empty() => {
                    if let Some(slot) = self.tool_slots.get(index).copied() {
                        let call = wire::ToolCallChunk {
                            index: Some(slot),
                            function: Some(wire::FunctionCallChunk {
                                name: None,
                                arguments: Some(json.clone()),
                                extra: Map::new(),
                            }),
                            ..wire::ToolCallChunk::default()
                        };
                        self.send(tool_delta(call), out);
                    }
                }
                _ => {}
            },
            StreamEvent::BlockStart { .. } | StreamEvent::BlockStop { .. } => {}
            StreamEvent::MessageDelta {
                stop_reason, usage, ..
            } => {
                self.stop = stop_reason.clone();
                self.usage = *usage;
                self.send_finish(out);
            }
            StreamEvent::MessageStop => {
                if !self.sent_finish {
                    self.send_finish(out);
                }
                if self.include_usage {
                    let usage_chunk = ChatCompletionChunk {
                        choices: Vec::new(),
                        usage: Some(Some(encode_usage(&self.usage))),
                        ..self.chunk(ChunkDelta::default(), None)
                    };
                    Self::write(out, &usage_chunk);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.done = true;
            }
            // An SSE comment: spec-following clients skip it, idle timers see bytes.
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error(err) => {
                Self::write(out, &super::error::error_body(err));
                self.done = true;
            }
        }
    }
}

fn tool_delta(call: wire::ToolCallChunk) -> ChunkDelta {
    ChunkDelta {
        tool_calls: Some(vec![call]),
        ..ChunkDelta::default()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
