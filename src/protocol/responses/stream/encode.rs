//! The Responses stream encoder: block-model [`StreamEvent`]s -> the SSE a Responses client
//! (Codex, the openai SDK's `responses.stream()`) reads, in the grammar `stream.rs` states
//! (reference §4, §7.2). Items, their ids and the `Response` snapshots come from `response.rs`;
//! signatures become `encrypted_content` per `envelope.rs`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::protocol::codec::ResponseCtx;
use crate::protocol::ir::{Dialect, Signature, StopReason, Usage};
use crate::protocol::openai;
use crate::protocol::responses::ReplyContext;
use crate::protocol::responses::envelope::Carried;
use crate::protocol::responses::error::failed_error;
use crate::protocol::responses::response::{
    Ids, call_item, carrier_item, gemini_value, message_item, now_secs, output_text_part,
    reasoning_id, reasoning_item, reply_ctx, response_id, snapshot, terminal, thinking_encrypted,
};
use crate::protocol::responses::tools::custom_input;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

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
            created_at: now_secs(),
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
                        let rid = reasoning_id(signature.as_ref(), &mut self.ids);
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
