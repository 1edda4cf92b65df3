//! Gemini streams: `:streamGenerateContent?alt=sse` chunks from an upstream -> IR stream events
//! ([`StreamDecoder`]), and IR stream events -> chunks for a Gemini client ([`StreamEncoder`]).
//!
//! Decoding (D3, D18): every SSE `data:` is a whole `GenerateContentResponse`. Text parts append
//! to an open text block, thought parts to an open thinking block; a `functionCall` part is a
//! whole tool_use block (start, one `ToolInputJson` with the full arguments, stop). A block's
//! Gemini signature is held and sent as `Delta::Signature` right before the block stops (where
//! Anthropic clients need it); a call's signature rides on its `BlockStart`. A signature-only part
//! signs the open block, or else the next one. `finishReason` and the last `usageMetadata` become
//! `MessageDelta` + `MessageStop` at [`StreamDecoder::finish`]; a stream that ends without a
//! finishReason, or with nothing in it, ends in `Error` instead (never a silent empty turn).
//!
//! Encoding (D21): text and thinking deltas go out as they come, one chunk each; tool arguments
//! are buffered until the block stops and sent as one `functionCall` part; the last chunk carries
//! `finishReason` and `usageMetadata`. OpenAI's reasoning signature waits for the next text or
//! call part, as in whole replies (`parts.rs`). SSE framing (`data: {...}\n\n`) unless the client asked
//! for the JSON-array stream (`[{...}\n,{...}\n]`). An `Error` becomes a final
//! `{"error": {...}}` chunk.

use serde_json::{Map, Value};

use super::error::{decode_error_value, error_body};
use super::names::minted_response_id;
use super::parts::{PartKind, args_object, classify_owned};
use super::response::{
    CallIds, call_part, carry_openai, empty_reply_error, finish_reason, openai_signature,
    signature_part, stop_reason, usage_from_wire, usage_to_wire,
};
use super::wire::{Candidate, Content, GenerateContentResponse, Part, UsageMetadata};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{
    ApiError, Block, Dialect, ErrorKind, Json, Signature, StopReason, Usage,
};
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

struct OpenBlock {
    index: usize,
    thinking: bool,
    signature: Option<Signature>,
}

/// Gemini upstream SSE -> IR events.
#[derive(Default)]
pub struct StreamDecoder {
    started: bool,
    ended: bool,
    response_id: Option<String>,
    next_index: usize,
    open: Option<OpenBlock>,
    pending: Option<Signature>,
    calls: CallIds,
    finish: Option<String>,
    finish_message: Option<String>,
    usage: Option<UsageMetadata>,
    blocked: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        StreamDecoder::default()
    }

    pub fn feed(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let data = event.data.trim();
        if self.ended || data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        // One typed parse in the common case; an error object, a JSON array or a chunk the
        // typed parse rejects goes through a `Value` as before.
        if data.starts_with('{')
            && let Ok(chunk) = serde_json::from_str::<GenerateContentResponse>(data)
            && !chunk.extra.contains_key("error")
        {
            self.chunk(chunk, out);
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| CodecError::InvalidJson {
            field: "stream chunk".into(),
            message: e.to_string(),
        })?;
        if let Some(err) = error_in(&value) {
            self.close_all(out);
            self.ended = true;
            out.push(StreamEvent::Error(err));
            return Ok(());
        }
        let chunk: GenerateContentResponse =
            serde_json::from_value(value).map_err(|e| CodecError::InvalidJson {
                field: "stream chunk".into(),
                message: e.to_string(),
            })?;
        self.chunk(chunk, out);
        Ok(())
    }

    /// One already parsed chunk (e.g. the `response` of a Code Assist envelope).
    pub fn feed_response(&mut self, chunk: GenerateContentResponse, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.chunk(chunk, out);
        }
    }

    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        if !self.started {
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                "Gemini stream ended without any data",
            )));
            return Ok(());
        }
        self.close_all(out);
        let finish = self.finish.as_deref();
        let stop = if self.blocked && self.next_index == 0 {
            StopReason::Refusal
        } else if finish.is_none() {
            out.push(StreamEvent::Error(ApiError::new(
                502,
                ErrorKind::BadGateway,
                "Gemini stream ended before a finishReason",
            )));
            return Ok(());
        } else {
            stop_reason(finish, self.calls.any())
        };
        if self.next_index == 0 && !matches!(stop, StopReason::MaxTokens | StopReason::Refusal) {
            let err = empty_reply_error(finish, self.finish_message.as_deref());
            out.push(StreamEvent::Error(err));
            return Ok(());
        }
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: self.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
        });
        out.push(StreamEvent::MessageStop);
        Ok(())
    }

    fn chunk(&mut self, chunk: GenerateContentResponse, out: &mut Vec<StreamEvent>) {
        if self.response_id.is_none() {
            self.response_id = chunk.response_id.clone().filter(|i| !i.is_empty());
        }
        if !self.started {
            self.started = true;
            let mut usage = chunk
                .usage_metadata
                .as_ref()
                .map(usage_from_wire)
                .unwrap_or_default();
            usage.output_tokens = 0;
            usage.reasoning_tokens = None;
            out.push(StreamEvent::MessageStart {
                id: self.response_id.clone().unwrap_or_else(minted_response_id),
                model: chunk.model_version.clone().unwrap_or_default(),
                usage,
            });
        }
        if let Some(u) = chunk.usage_metadata {
            self.usage = Some(u);
        }
        if chunk
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some())
        {
            self.blocked = true;
        }
        let Some(candidate) = chunk.candidates.into_iter().next() else {
            return;
        };
        for part in candidate.content.into_iter().flat_map(|c| c.parts) {
            match classify_owned(part) {
                PartKind::Block(Block::Text {
                    text, signature, ..
                }) => self.text(false, text.into_string(), signature, out),
                PartKind::Block(Block::Thinking { text, signature }) => {
                    self.text(true, text, signature, out)
                }
                PartKind::SignatureOnly(sig) => self.signature(sig, out),
                PartKind::Call(call, signature) => {
                    self.close(out);
                    let signature = match (signature, self.pending.take()) {
                        (Some(own), Some(earlier)) => {
                            self.lone_signature(earlier, out);
                            Some(own)
                        }
                        (own, earlier) => own.or(earlier),
                    };
                    let id = self.calls.next(&call, self.response_id.as_deref());
                    let index = self.take_index();
                    out.push(StreamEvent::BlockStart {
                        index,
                        block: BlockStart::ToolUse {
                            id,
                            name: call.name.clone(),
                            signature,
                        },
                    });
                    out.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolInputJson(args_object(&call.args).to_string()),
                    });
                    out.push(StreamEvent::BlockStop { index });
                }
                // Images, code execution and other payloads have no stream block.
                PartKind::Block(_) | PartKind::Response(_) | PartKind::Skip => {}
            }
        }
        if let Some(f) = candidate.finish_reason {
            self.finish = Some(f);
        }
        if let Some(Value::String(m)) = candidate.extra.get("finishMessage") {
            self.finish_message = Some(m.clone());
        }
    }

    fn take_index(&mut self) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        index
    }

    fn text(
        &mut self,
        thinking: bool,
        text: String,
        signature: Option<Signature>,
        out: &mut Vec<StreamEvent>,
    ) {
        // A signed block is complete (the gateway writes a block's signature after its text):
        // text after it starts a new one.
        let reuse = self
            .open
            .as_ref()
            .is_some_and(|o| o.thinking == thinking && o.signature.is_none());
        if !reuse {
            self.close(out);
            let mut held = self.pending.take();
            if signature.is_some()
                && let Some(earlier) = held.take()
            {
                self.lone_signature(earlier, out);
            }
            let index = self.take_index();
            out.push(StreamEvent::BlockStart {
                index,
                block: if thinking {
                    BlockStart::Thinking
                } else {
                    BlockStart::Text
                },
            });
            self.open = Some(OpenBlock {
                index,
                thinking,
                signature: held,
            });
        }
        if let Some(open) = &mut self.open {
            out.push(StreamEvent::BlockDelta {
                index: open.index,
                delta: if thinking {
                    Delta::Thinking(text)
                } else {
                    Delta::Text(text)
                },
            });
            if signature.is_some() {
                open.signature = signature;
            }
        }
    }

    fn signature(&mut self, sig: Signature, out: &mut Vec<StreamEvent>) {
        if let Some(open) = &mut self.open
            && open.signature.is_none()
        {
            open.signature = Some(sig);
            return;
        }
        self.close(out);
        if let Some(earlier) = self.pending.replace(sig) {
            self.lone_signature(earlier, out);
        }
    }

    /// A thinking block that holds nothing but a signature, so the signature is not lost.
    fn lone_signature(&mut self, sig: Signature, out: &mut Vec<StreamEvent>) {
        let index = self.take_index();
        out.push(StreamEvent::BlockStart {
            index,
            block: BlockStart::Thinking,
        });
        out.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::Signature(sig),
        });
        out.push(StreamEvent::BlockStop { index });
    }

    /// The stream ends (its body, or an error chunk): the open block closes and a signature
    /// still held for the next part is kept in a block of its own.
    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        self.close(out);
        if let Some(sig) = self.pending.take() {
            self.lone_signature(sig, out);
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.take() {
            if let Some(sig) = open.signature {
                out.push(StreamEvent::BlockDelta {
                    index: open.index,
                    delta: Delta::Signature(sig),
                });
            }
            out.push(StreamEvent::BlockStop { index: open.index });
        }
    }
}

/// An `{"error": ...}` chunk (also wrapped in an array).
fn error_in(value: &Value) -> Option<ApiError> {
    let inner = match value {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let status = inner
        .get("error")?
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(500);
    Some(decode_error_value(status, value))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum OpenKind {
    Text,
    Thinking,
    Other,
}

struct ToolBuffer {
    id: String,
    name: String,
    signature: Option<String>,
    json: String,
}

/// What [`StreamEncoder::keep_alive`] writes.
pub const KEEP_ALIVE: &[u8] = b"\n";

/// IR events -> Gemini chunks for a Gemini client.
pub struct StreamEncoder {
    model: String,
    json_array: bool,
    response_id: Option<String>,
    wrote_chunk: bool,
    open: Option<OpenKind>,
    tool: Option<ToolBuffer>,
    stop: Option<StopReason>,
    usage: Usage,
    done: bool,
    /// OpenAI's reasoning signature, tagged, waiting for the text or call part the reasoning
    /// preceded (see `parts.rs`).
    openai: Option<String>,
}

impl StreamEncoder {
    /// One keep-alive for a quiet stream: a blank line. Not a `: comment` line: the google-genai
    /// SDKs do not parse SSE by the spec. Python's (2.x) hands every line that does not start
    /// with `data: ` to `json.loads`, and the JS SDK inside Gemini CLI 0.61 only matches
    /// `^\s*data: ` at the start of its buffer, so a comment stalls it for good. Both skip
    /// whitespace, and to a spec parser a blank line with no pending data dispatches nothing.
    /// (An upstream's `Ping` event, by contrast, writes nothing: see `encode`.)
    pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(KEEP_ALIVE);
    }

    pub fn new(ctx: &ResponseCtx) -> Self {
        StreamEncoder {
            model: ctx.model.clone(),
            json_array: ctx.json_array_stream,
            response_id: None,
            wrote_chunk: false,
            open: None,
            tool: None,
            stop: None,
            usage: Usage::default(),
            done: false,
            openai: None,
        }
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, usage, .. } => {
                self.response_id = (!id.is_empty()).then(|| id.clone());
                self.usage = *usage;
            }
            StreamEvent::BlockStart { block, .. } => match block {
                BlockStart::Text => self.open = Some(OpenKind::Text),
                BlockStart::Thinking => {
                    self.flush_openai(out);
                    self.open = Some(OpenKind::Thinking);
                }
                BlockStart::RedactedThinking { .. } => {
                    self.flush_openai(out);
                    self.open = Some(OpenKind::Other);
                }
                BlockStart::ToolUse {
                    id,
                    name,
                    signature,
                } => {
                    self.open = Some(OpenKind::Other);
                    let mut parts = Vec::new();
                    let signature = carry_openai(own(signature), &mut self.openai, &mut parts);
                    if !parts.is_empty() {
                        self.chunk(parts, out);
                    }
                    self.tool = Some(ToolBuffer {
                        id: id.clone(),
                        name: name.clone(),
                        signature,
                        json: String::new(),
                    });
                }
            },
            StreamEvent::BlockDelta { delta, .. } => self.delta(delta, out),
            StreamEvent::BlockStop { .. } => {
                self.open = None;
                if let Some(tool) = self.tool.take() {
                    let args = Json::parse(&tool.json).unwrap_or_else(|_| Json::empty_object());
                    let part = call_part(&tool.id, &tool.name, args, tool.signature);
                    self.chunk(vec![part], out);
                }
            }
            StreamEvent::MessageDelta {
                stop_reason, usage, ..
            } => {
                self.stop = stop_reason.clone();
                self.usage = *usage;
            }
            StreamEvent::MessageStop => {
                self.flush_openai(out);
                let last = Candidate {
                    content: Some(Content {
                        role: Some("model".into()),
                        parts: vec![Part::text("")],
                        extra: Map::new(),
                    }),
                    finish_reason: Some(finish_reason(self.stop.as_ref()).to_string()),
                    index: Some(0),
                    ..Candidate::default()
                };
                let usage = usage_to_wire(&self.usage, Map::new());
                self.write(&self.response(last, Some(usage)), out);
                self.end(out);
            }
            StreamEvent::Ping => {}
            StreamEvent::Error(err) => {
                self.flush_openai(out);
                let body = error_body(err);
                self.write_value(&body, out);
                self.end(out);
            }
        }
    }

    fn delta(&mut self, delta: &Delta, out: &mut Vec<u8>) {
        match delta {
            Delta::Text(t) if !t.is_empty() => {
                let part = Part {
                    thought_signature: self.openai.take(),
                    ..Part::text(t.clone())
                };
                self.chunk(vec![part], out);
            }
            Delta::Thinking(t) if !t.is_empty() => {
                let part = Part {
                    thought: Some(true),
                    ..Part::text(t.clone())
                };
                self.chunk(vec![part], out);
            }
            Delta::Signature(sig) if sig.origin == Dialect::Responses => {
                self.flush_openai(out);
                self.openai = openai_signature(&Some(sig.clone()));
            }
            Delta::Signature(sig) if sig.origin == Dialect::Gemini => {
                if let Some(tool) = &mut self.tool {
                    tool.signature = Some(sig.value.clone());
                } else {
                    let part = Part {
                        thought: (self.open == Some(OpenKind::Thinking)).then_some(true),
                        thought_signature: Some(sig.value.clone()),
                        ..Part::text("")
                    };
                    self.chunk(vec![part], out);
                }
            }
            Delta::ToolInputJson(s) => {
                if let Some(tool) = &mut self.tool {
                    tool.json.push_str(s);
                }
            }
            _ => {}
        }
    }

    /// OpenAI's reasoning signature that found no part to ride on, on a part of its own.
    fn flush_openai(&mut self, out: &mut Vec<u8>) {
        if let Some(tagged) = self.openai.take() {
            self.chunk(vec![signature_part(tagged)], out);
        }
    }

    fn response(
        &self,
        candidate: Candidate,
        usage: Option<UsageMetadata>,
    ) -> GenerateContentResponse {
        GenerateContentResponse {
            candidates: vec![candidate],
            usage_metadata: usage,
            model_version: Some(self.model.clone()),
            response_id: self.response_id.clone(),
            ..GenerateContentResponse::default()
        }
    }

    fn chunk(&mut self, parts: Vec<Part>, out: &mut Vec<u8>) {
        let candidate = Candidate {
            content: Some(Content {
                role: Some("model".into()),
                parts,
                extra: Map::new(),
            }),
            index: Some(0),
            ..Candidate::default()
        };
        let chunk = self.response(candidate, None);
        self.write(&chunk, out);
    }

    /// Straight to bytes, not through a `Value`: tool arguments stay the text they came as,
    /// which a `Value` cannot always hold (a lone surrogate escape), and a chunk that failed
    /// to convert was dropped whole.
    fn write(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<u8>) {
        if let Ok(json) = serde_json::to_vec(chunk) {
            self.write_json(&json, out);
        }
    }

    fn write_value(&mut self, value: &Value, out: &mut Vec<u8>) {
        self.write_json(value.to_string().as_bytes(), out);
    }

    fn write_json(&mut self, json: &[u8], out: &mut Vec<u8>) {
        if self.json_array {
            out.extend_from_slice(if self.wrote_chunk { b"\n," } else { b"[" });
            out.extend_from_slice(json);
        } else {
            out.extend_from_slice(b"data: ");
            // A data line ends at a line break, and tool arguments keep the text they came as,
            // line breaks between tokens included: those are taken out (none can be inside a
            // string, where JSON escapes them).
            match std::str::from_utf8(json) {
                Ok(text) if json.iter().any(|b| matches!(b, b'\n' | b'\r')) => {
                    out.extend_from_slice(crate::protocol::json::minify(text).as_bytes());
                }
                _ => out.extend_from_slice(json),
            }
            out.extend_from_slice(b"\n\n");
        }
        self.wrote_chunk = true;
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.json_array {
            if !self.wrote_chunk {
                out.push(b'[');
            }
            out.extend_from_slice(b"\n]");
        }
        self.done = true;
    }
}

fn own(sig: &Option<Signature>) -> Option<String> {
    super::parts::own_signature(sig)
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
