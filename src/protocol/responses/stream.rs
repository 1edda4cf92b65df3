//! Responses streams <-> block-model [`StreamEvent`]s (reference §4, §7.2, §7.3).
//!
//! [`StreamEncoder`] writes the grammar the openai SDK and Codex enforce: `response.created`
//! then `response.in_progress` first; `sequence_number` from 0, strictly increasing; `type`
//! inside every data object; each item opened with `output_item.added` (and a
//! `content_part.added` / `reasoning_summary_part.added` before its deltas) and closed with
//! `output_item.done` carrying the whole item before the next opens; exactly one terminal event
//! (`response.completed`, `response.incomplete` with its reason, or `response.failed` with a
//! code Codex acts on); no `[DONE]`. `Ping` is an SSE comment (no sequence number used).
//! Text and thinking items open on their first delta, so an empty block makes no item; a
//! custom tool's JSON arguments are buffered and sent as raw text when the call ends.
//!
//! [`StreamDecoder`] reads a Responses upstream's events into blocks: message text and refusals
//! into text blocks, reasoning summaries into thinking (OpenAI's `encrypted_content`, from
//! `output_item.done` only, becomes the block's signature), calls into `tool_use` blocks.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::ReplyContext;
use super::envelope::{self, Carried};
use super::error::{failed_error, from_failed};
use super::response::{
    Ids, call_item, carrier_item, decode_usage, flat, gemini_value, message_item, output_text_part,
    reasoning_item, reasoning_text, reply_ctx, response_id, snapshot, stop_reason, terminal,
    thinking_encrypted,
};
use super::tools::{CUSTOM_INPUT, custom_input};
use super::wire;
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{ApiError, Dialect, ErrorKind, Signature, StopReason, Usage};
use crate::protocol::openai::response::CallNames;
use crate::protocol::openai::{self, ToolNames};
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

// ---------------------------------------------------------------------------------------------
// Encoder: IR -> Responses events

#[derive(Debug)]
enum Item {
    /// Opens on the first text delta.
    Message {
        opened: bool,
        id: String,
        text: String,
        gemini_sig: Option<String>,
    },
    /// Opens on the first thought delta (or at the end, for a signature alone).
    Reasoning {
        opened: bool,
        id: String,
        text: String,
        signature: Option<Signature>,
    },
    Call {
        id: String,
        item: Value,
        args: String,
        custom: bool,
    },
}

#[derive(Debug)]
struct OpenItem {
    ir_index: usize,
    output_index: usize,
    item: Item,
}

/// A text delta, the hot path: written without building a `Value`.
#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary_index: Option<usize>,
    delta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<[(); 0]>,
}

/// Writes block-model events as Responses SSE for a Responses client.
#[derive(Debug)]
pub struct StreamEncoder {
    rc: Arc<ReplyContext>,
    model: String,
    id: String,
    created_at: u64,
    ids: Ids,
    seq: u64,
    started: bool,
    done: bool,
    output: Vec<Value>,
    open: Option<OpenItem>,
    stop: Option<StopReason>,
    usage: Usage,
}

impl StreamEncoder {
    /// The dialect's own keep-alive: an SSE comment, which takes no sequence number.
    pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b": keep-alive\n\n");
    }

    pub fn new(ctx: &ResponseCtx) -> Self {
        StreamEncoder {
            rc: reply_ctx(ctx),
            model: ctx.model.clone(),
            id: String::new(),
            created_at: super::response::now_secs(),
            ids: Ids::default(),
            seq: 0,
            started: false,
            done: false,
            output: Vec::new(),
            open: None,
            stop: None,
            usage: Usage {
                input_tokens: ctx.estimated_input_tokens,
                ..Usage::default()
            },
        }
    }

    fn frame(out: &mut Vec<u8>, kind: &str, data: &impl Serialize) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        if serde_json::to_writer(&mut *out, data).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    /// One event: `type` and `sequence_number` first, then `fields`.
    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("type".into(), json!(kind));
        m.insert("sequence_number".into(), json!(self.seq));
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        self.seq += 1;
        Self::frame(out, kind, &m);
    }

    fn delta(&mut self, out: &mut Vec<u8>, kind: &'static str, d: TextDeltaArgs<'_>) {
        let ev = TextDelta {
            kind,
            sequence_number: self.seq,
            item_id: d.item_id,
            output_index: d.output_index,
            content_index: d.content_index,
            summary_index: d.summary_index,
            delta: d.delta,
            logprobs: d.content_index.map(|_| []),
        };
        self.seq += 1;
        Self::frame(out, kind, &ev);
    }

    fn snapshot(&self, status: &str, incomplete: Value, error: Value, usage: bool) -> Value {
        snapshot(
            &self.id,
            self.created_at,
            &self.model,
            status,
            &self.output,
            usage.then_some(&self.usage),
            incomplete,
            error,
            &self.rc,
        )
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        if self.id.is_empty() {
            self.id = self
                .rc
                .response_id
                .clone()
                .unwrap_or_else(|| response_id(""));
        }
        self.ids = Ids::new(&self.id);
        let snap = self.snapshot("in_progress", Value::Null, Value::Null, false);
        self.emit(out, "response.created", json!({ "response": snap }));
        let snap = self.snapshot("in_progress", Value::Null, Value::Null, false);
        self.emit(out, "response.in_progress", json!({ "response": snap }));
    }

    /// An item that is whole at once (a signature carrier): added and done.
    fn whole_item(&mut self, out: &mut Vec<u8>, item: Value) {
        let output_index = self.output.len();
        let mut added = item.clone();
        if added.get("encrypted_content").is_some() {
            // The final value belongs in `.done` only (reference §8.5).
            added["status"] = json!("in_progress");
            if let Some(m) = added.as_object_mut() {
                m.remove("encrypted_content");
            }
        }
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": added}),
        );
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
        self.output.push(item);
    }

    pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { id, model, usage } => {
                if !self.started {
                    self.id = self
                        .rc
                        .response_id
                        .clone()
                        .unwrap_or_else(|| response_id(id));
                    if self.model.is_empty() {
                        self.model = model.clone();
                    }
                    if usage.prompt_total() > 0 {
                        self.usage = *usage;
                    }
                }
                self.ensure_started(out);
            }
            StreamEvent::BlockStart { index, block } => {
                self.ensure_started(out);
                self.close(out);
                self.start_block(*index, block, out);
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.ensure_started(out);
                self.block_delta(*index, delta, out);
            }
            StreamEvent::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|o| o.ir_index == *index) {
                    self.close(out);
                }
            }
            StreamEvent::MessageDelta {
                stop_reason, usage, ..
            } => {
                self.stop = stop_reason.clone();
                self.usage = *usage;
            }
            StreamEvent::MessageStop => {
                self.ensure_started(out);
                self.close(out);
                let (status, incomplete, error) = terminal(self.stop.as_ref());
                let kind = match status {
                    "incomplete" => "response.incomplete",
                    "failed" => "response.failed",
                    _ => "response.completed",
                };
                let snap = self.snapshot(status, incomplete, error, true);
                self.emit(out, kind, json!({ "response": snap }));
                self.done = true;
            }
            // A comment: SSE readers skip it, idle timers see bytes.
            StreamEvent::Ping => out.extend_from_slice(b": keep-alive\n\n"),
            StreamEvent::Error(err) => {
                self.ensure_started(out);
                let snap = self.snapshot("failed", Value::Null, failed_error(err), true);
                self.emit(out, "response.failed", json!({ "response": snap }));
                self.done = true;
            }
        }
    }

    fn start_block(&mut self, ir_index: usize, block: &BlockStart, out: &mut Vec<u8>) {
        let include = self.rc.include_encrypted;
        let item = match block {
            BlockStart::Text => Item::Message {
                opened: false,
                id: String::new(),
                text: String::new(),
                gemini_sig: None,
            },
            BlockStart::Thinking => Item::Reasoning {
                opened: false,
                id: String::new(),
                text: String::new(),
                signature: None,
            },
            BlockStart::RedactedThinking { data } => {
                if include {
                    let item =
                        carrier_item(&mut self.ids, &Carried::AnthropicRedacted(data.clone()));
                    self.whole_item(out, item);
                }
                return;
            }
            BlockStart::ToolUse {
                id,
                name,
                signature,
            } => {
                if include && let Some(s) = gemini_value(signature.as_ref()) {
                    let item = carrier_item(&mut self.ids, &Carried::GeminiCall(s.to_owned()));
                    self.whole_item(out, item);
                }
                let custom = self.rc.tools.is_custom(name);
                let (item_id, item) = call_item(&self.rc.tools, &mut self.ids, id, name, None);
                let output_index = self.output.len();
                self.emit(
                    out,
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                );
                Item::Call {
                    id: item_id,
                    item,
                    args: String::new(),
                    custom,
                }
            }
        };
        self.open = Some(OpenItem {
            ir_index,
            output_index: self.output.len(),
            item,
        });
    }

    fn block_delta(&mut self, index: usize, delta: &Delta, out: &mut Vec<u8>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if open.ir_index != index {
            self.open = Some(open);
            return;
        }
        let output_index = open.output_index;
        match (&mut open.item, delta) {
            (
                Item::Message {
                    opened, id, text, ..
                },
                Delta::Text(t),
            ) if !t.is_empty() => {
                if !*opened {
                    *opened = true;
                    *id = self.ids.next("msg");
                    let item = message_item(id, "", "in_progress");
                    self.emit(
                        out,
                        "response.output_item.added",
                        json!({"output_index": output_index, "item": item}),
                    );
                    self.emit(
                        out,
                        "response.content_part.added",
                        json!({"item_id": id, "output_index": output_index, "content_index": 0,
                            "part": output_text_part("")}),
                    );
                }
                text.push_str(t);
                let args = TextDeltaArgs {
                    item_id: id,
                    output_index,
                    content_index: Some(0),
                    summary_index: None,
                    delta: t,
                };
                self.delta(out, "response.output_text.delta", args);
            }
            (Item::Message { gemini_sig, .. }, Delta::Signature(s))
                if s.origin == Dialect::Gemini =>
            {
                *gemini_sig = Some(s.value.clone());
            }
            (
                Item::Reasoning {
                    opened, id, text, ..
                },
                Delta::Thinking(t),
            ) if !t.is_empty() => {
                if !*opened {
                    *opened = true;
                    *id = self.ids.next("rs");
                    let mut item = reasoning_item(id, "", None);
                    item["status"] = json!("in_progress");
                    self.emit(
                        out,
                        "response.output_item.added",
                        json!({"output_index": output_index, "item": item}),
                    );
                    self.emit(
                        out,
                        "response.reasoning_summary_part.added",
                        json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                            "part": {"type": "summary_text", "text": ""}}),
                    );
                }
                text.push_str(t);
                let args = TextDeltaArgs {
                    item_id: id,
                    output_index,
                    content_index: None,
                    summary_index: Some(0),
                    delta: t,
                };
                self.delta(out, "response.reasoning_summary_text.delta", args);
            }
            (Item::Reasoning { signature, .. }, Delta::Signature(s)) => {
                *signature = Some(s.clone());
            }
            (
                Item::Call {
                    id, args, custom, ..
                },
                Delta::ToolInputJson(j),
            ) if !j.is_empty() => {
                args.push_str(j);
                if !*custom {
                    let d = TextDeltaArgs {
                        item_id: id,
                        output_index,
                        content_index: None,
                        summary_index: None,
                        delta: j,
                    };
                    self.delta(out, "response.function_call_arguments.delta", d);
                }
            }
            _ => {}
        }
        self.open = Some(open);
    }

    /// Closes the open item: its `.done` events and `output_item.done` with the whole item.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let output_index = open.output_index;
        let include = self.rc.include_encrypted;
        match open.item {
            Item::Message {
                opened,
                id,
                text,
                gemini_sig,
            } => {
                if opened {
                    self.emit(
                        out,
                        "response.output_text.done",
                        json!({"item_id": id, "output_index": output_index, "content_index": 0,
                            "text": text, "logprobs": []}),
                    );
                    self.emit(
                        out,
                        "response.content_part.done",
                        json!({"item_id": id, "output_index": output_index, "content_index": 0,
                            "part": output_text_part(&text)}),
                    );
                    let item = message_item(&id, &text, "completed");
                    self.emit(
                        out,
                        "response.output_item.done",
                        json!({"output_index": output_index, "item": item}),
                    );
                    self.output.push(item);
                }
                if include && let Some(s) = gemini_sig {
                    let item = carrier_item(&mut self.ids, &Carried::GeminiText(s));
                    self.whole_item(out, item);
                }
            }
            Item::Reasoning {
                opened,
                id,
                text,
                signature,
            } => {
                let enc = thinking_encrypted(signature.as_ref()).filter(|_| include);
                if !opened {
                    if enc.is_some() {
                        let rid = super::response::reasoning_id(signature.as_ref(), &mut self.ids);
                        self.whole_item(out, reasoning_item(&rid, "", enc));
                    }
                    return;
                }
                self.emit(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                        "text": text}),
                );
                self.emit(
                    out,
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0,
                        "part": {"type": "summary_text", "text": text}}),
                );
                let item = reasoning_item(&id, &text, enc);
                self.emit(
                    out,
                    "response.output_item.done",
                    json!({"output_index": output_index, "item": item}),
                );
                self.output.push(item);
            }
            Item::Call {
                id,
                mut item,
                args,
                custom,
            } => {
                let args = if args.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    args
                };
                item["status"] = json!("completed");
                if custom {
                    let input = custom_input(&openai::response::repair_arguments(&args));
                    if !input.is_empty() {
                        let d = TextDeltaArgs {
                            item_id: &id,
                            output_index,
                            content_index: None,
                            summary_index: None,
                            delta: &input,
                        };
                        self.delta(out, "response.custom_tool_call_input.delta", d);
                    }
                    self.emit(
                        out,
                        "response.custom_tool_call_input.done",
                        json!({"item_id": id, "output_index": output_index, "input": input}),
                    );
                    item["input"] = json!(input);
                } else {
                    self.emit(
                        out,
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": output_index, "arguments": args,
                            "name": item["name"]}),
                    );
                    item["arguments"] = json!(args);
                }
                self.emit(
                    out,
                    "response.output_item.done",
                    json!({"output_index": output_index, "item": item}),
                );
                self.output.push(item);
            }
        }
    }
}

struct TextDeltaArgs<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: Option<usize>,
    summary_index: Option<usize>,
    delta: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Decoder: Responses events -> IR

/// Custom tool inputs are buffered; a `Ping` every this many fragments keeps idle timers fed.
const PING_EVERY_FRAGMENTS: usize = 64;

#[derive(Debug)]
enum Open {
    Text,
    Thinking {
        /// The summary part the last delta belonged to.
        part: Option<u64>,
        saw_summary: bool,
    },
    Call {
        custom: bool,
        args_len: usize,
        input: String,
    },
}

/// Reads a Responses upstream's SSE events into block-model events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<(usize, Open)>,
    /// A reasoning item has been announced but no block opened for it yet.
    reasoning_pending: bool,
    saw_tool: bool,
    refused: bool,
    fragments: usize,
    names: ToolNames,
    /// Ids and names for calls that lack them (the IR wants both non-empty).
    calls: CallNames,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the wire names of rewritten tools back to the client's (see `openai::names`).
    pub fn with_tool_names(names: ToolNames) -> Self {
        StreamDecoder {
            names,
            ..Self::default()
        }
    }

    pub fn feed(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        let data = ev.data.trim();
        if self.done || data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let e: wire::StreamEventIn =
            serde_json::from_str(data).map_err(|e| CodecError::from_json(&e, "stream event"))?;
        let kind = if e.kind.is_empty() {
            ev.event.as_deref().unwrap_or_default()
        } else {
            e.kind.as_str()
        };
        match kind {
            "response.created" | "response.in_progress" => self.start(e.response.as_ref(), out),
            "response.output_item.added" => {
                self.start(None, out);
                self.item_added(e.item.as_ref(), out);
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.start(None, out);
                if kind == "response.refusal.delta" {
                    self.refused = true;
                }
                if let Some(d) = e.delta.filter(|d| !d.is_empty()) {
                    let index = self.ensure_text(out);
                    out.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Text(d),
                    });
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.start(None, out);
                let summary = kind == "response.reasoning_summary_text.delta";
                if let Some(d) = e.delta.filter(|d| !d.is_empty()) {
                    self.thinking_delta(d, summary, e.summary_index, out);
                }
            }
            "response.function_call_arguments.delta" => {
                if let (
                    Some((
                        index,
                        Open::Call {
                            custom: false,
                            args_len,
                            ..
                        },
                    )),
                    Some(d),
                ) = (self.open.as_mut(), e.delta.filter(|d| !d.is_empty()))
                {
                    *args_len += d.len();
                    out.push(StreamEvent::BlockDelta {
                        index: *index,
                        delta: Delta::ToolInputJson(d),
                    });
                }
            }
            "response.custom_tool_call_input.delta" => {
                if let (
                    Some((
                        _,
                        Open::Call {
                            custom: true,
                            input,
                            ..
                        },
                    )),
                    Some(d),
                ) = (self.open.as_mut(), e.delta)
                {
                    input.push_str(&d);
                    self.fragments += 1;
                    if self.fragments.is_multiple_of(PING_EVERY_FRAGMENTS) {
                        out.push(StreamEvent::Ping);
                    }
                }
            }
            "response.output_item.done" => {
                self.start(None, out);
                if let Some(item) = &e.item {
                    self.item_done(item, out);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.start(e.response.as_ref(), out);
                self.close(out);
                let r = e.response.unwrap_or_default();
                let status = if kind == "response.incomplete" {
                    "incomplete"
                } else {
                    r.status.as_str()
                };
                let reason = r
                    .incomplete_details
                    .as_ref()
                    .and_then(|d| d.reason.as_deref());
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(stop_reason(status, reason, self.saw_tool, self.refused)),
                    stop_sequence: None,
                    usage: r.usage.as_ref().map(decode_usage).unwrap_or_default(),
                });
                out.push(StreamEvent::MessageStop);
                self.done = true;
            }
            "response.failed" => {
                let err = e.response.as_ref().and_then(|r| r.error.as_ref());
                out.push(StreamEvent::Error(from_failed(
                    err.and_then(|e| e.code.as_deref()),
                    err.map_or("the upstream response failed", |e| e.message.as_str()),
                )));
                self.done = true;
            }
            "error" => {
                let code = e.code.as_ref().and_then(Value::as_str);
                let message = e.message.as_deref().unwrap_or("upstream stream error");
                out.push(StreamEvent::Error(from_failed(code, message)));
                self.done = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// The body ended: without a terminal event the stream was cut, which is an error.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), CodecError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let message = if self.started {
            "upstream stream ended before the reply was finished"
        } else {
            "upstream returned an empty stream"
        };
        out.push(StreamEvent::Error(ApiError::new(
            502,
            ErrorKind::BadGateway,
            message,
        )));
        Ok(())
    }

    fn start(&mut self, r: Option<&wire::Response>, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        self.calls = CallNames::with_salt(r.map_or("", |r| r.id.as_str()));
        out.push(StreamEvent::MessageStart {
            id: r.map(|r| r.id.clone()).unwrap_or_default(),
            model: r.map(|r| r.model.clone()).unwrap_or_default(),
            usage: Usage::default(),
        });
    }

    fn open_block(&mut self, block: BlockStart, kind: Open, out: &mut Vec<StreamEvent>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some((index, kind));
        index
    }

    /// Closes the open block. A call's input is complete here: a custom call's buffered text
    /// as `{"input": ...}`, a call that streamed no arguments as `{}`.
    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        let Some((index, kind)) = self.open.take() else {
            return;
        };
        let json = match kind {
            Open::Call {
                custom: true,
                input,
                ..
            } => Some(json!({ CUSTOM_INPUT: input }).to_string()),
            Open::Call { args_len: 0, .. } => Some("{}".to_owned()),
            _ => None,
        };
        if let Some(j) = json {
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolInputJson(j),
            });
        }
        out.push(StreamEvent::BlockStop { index });
    }

    fn ensure_text(&mut self, out: &mut Vec<StreamEvent>) -> usize {
        match &self.open {
            Some((index, Open::Text)) => *index,
            _ => self.open_block(BlockStart::Text, Open::Text, out),
        }
    }

    fn thinking_delta(
        &mut self,
        mut d: String,
        summary: bool,
        part: Option<u64>,
        out: &mut Vec<StreamEvent>,
    ) {
        let index = match &mut self.open {
            Some((
                index,
                Open::Thinking {
                    part: last,
                    saw_summary,
                },
            )) => {
                if !summary && *saw_summary {
                    // Raw reasoning beside a summary would say everything twice.
                    return;
                }
                if summary && last.is_some() && part.is_some() && *last != part {
                    d.insert_str(0, "\n\n");
                }
                *saw_summary |= summary;
                if summary {
                    *last = part;
                }
                *index
            }
            _ => {
                self.reasoning_pending = false;
                self.open_block(
                    BlockStart::Thinking,
                    Open::Thinking {
                        part: part.filter(|_| summary),
                        saw_summary: summary,
                    },
                    out,
                )
            }
        };
        out.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::Thinking(d),
        });
    }

    fn call_name(&self, name: &str, namespace: Option<&str>) -> String {
        let flat = flat(name, namespace);
        self.names.client(&flat).to_owned()
    }

    /// The call's id (its `call_id`, else the item id) and name, made up when missing.
    fn call_ids(&mut self, item: &Value) -> (String, String) {
        let id = item["call_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .or_else(|| item["id"].as_str());
        let id = self.calls.id(id);
        let name = self.call_name(
            item["name"].as_str().unwrap_or_default(),
            item["namespace"].as_str(),
        );
        let name = self.calls.name(Some(&name));
        (id, name)
    }

    fn item_added(&mut self, item: Option<&Value>, out: &mut Vec<StreamEvent>) {
        let Some(item) = item else { return };
        match item["type"].as_str().unwrap_or_default() {
            "function_call" | "custom_tool_call" => {
                let custom = item["type"] == "custom_tool_call";
                let (id, name) = self.call_ids(item);
                self.open_block(
                    BlockStart::ToolUse {
                        id,
                        name,
                        signature: None,
                    },
                    Open::Call {
                        custom,
                        args_len: 0,
                        input: String::new(),
                    },
                    out,
                );
                self.saw_tool = true;
            }
            "message" => self.close(out),
            "reasoning" => {
                self.close(out);
                self.reasoning_pending = true;
            }
            _ => {}
        }
    }

    fn item_done(&mut self, item: &Value, out: &mut Vec<StreamEvent>) {
        match item["type"].as_str().unwrap_or_default() {
            "message" => {
                if !matches!(self.open, Some((_, Open::Text))) {
                    // No deltas came: the whole text is here.
                    let mut blocks = Vec::new();
                    super::response::decode_item(item, &mut blocks, &mut self.refused);
                    for b in blocks {
                        if let crate::protocol::ir::Block::Text { text, .. } = b {
                            let index = self.ensure_text(out);
                            out.push(StreamEvent::BlockDelta {
                                index,
                                delta: Delta::Text(text.into_string()),
                            });
                        }
                    }
                }
                self.close(out);
            }
            "function_call" | "custom_tool_call" => {
                let custom = item["type"] == "custom_tool_call";
                if !matches!(self.open, Some((_, Open::Call { .. }))) {
                    self.item_added(Some(item), out);
                }
                if let Some((
                    index,
                    Open::Call {
                        args_len, input, ..
                    },
                )) = &mut self.open
                {
                    if custom {
                        // The whole text is in the item when no deltas came.
                        if input.is_empty() {
                            input.push_str(item["input"].as_str().unwrap_or_default());
                        }
                    } else if *args_len == 0 {
                        let args = item["arguments"].as_str().unwrap_or_default();
                        if !args.trim().is_empty() {
                            *args_len = args.len();
                            out.push(StreamEvent::BlockDelta {
                                index: *index,
                                delta: Delta::ToolInputJson(args.to_owned()),
                            });
                        }
                    }
                }
                self.close(out);
            }
            "reasoning" => {
                let r: Option<wire::ReasoningItem> = serde_json::from_value(item.clone()).ok();
                let Some(r) = r else {
                    self.close(out);
                    return;
                };
                let opened = matches!(self.open, Some((_, Open::Thinking { .. })));
                if !opened {
                    let text = reasoning_text(&r);
                    let enc = r.encrypted_content.as_deref().filter(|e| !e.is_empty());
                    if text.is_empty() && enc.is_none() {
                        self.reasoning_pending = false;
                        return;
                    }
                    let index = self.open_block(
                        BlockStart::Thinking,
                        Open::Thinking {
                            part: None,
                            saw_summary: true,
                        },
                        out,
                    );
                    if !text.is_empty() {
                        out.push(StreamEvent::BlockDelta {
                            index,
                            delta: Delta::Thinking(text),
                        });
                    }
                }
                if let (Some((index, _)), Some(enc)) = (
                    &self.open,
                    r.encrypted_content.as_deref().filter(|e| !e.is_empty()),
                ) {
                    out.push(StreamEvent::BlockDelta {
                        index: *index,
                        delta: Delta::Signature(Signature {
                            origin: Dialect::Responses,
                            value: envelope::pack_native(&r.id, enc),
                        }),
                    });
                }
                self.reasoning_pending = false;
                self.close(out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
