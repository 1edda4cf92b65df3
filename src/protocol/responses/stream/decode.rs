//! The Responses stream decoder: a Responses upstream's events -> block-model
//! [`StreamEvent`]s (reference §7.3). Message text and refusals become text blocks, reasoning
//! summaries (or raw reasoning when there is no summary) thinking blocks whose signature is
//! OpenAI's `encrypted_content` from `output_item.done`, calls `tool_use` blocks (a custom
//! tool's free text as `{"input": ...}`); the terminal event becomes the stop reason and usage.

use serde_json::{Value, json};

use crate::protocol::codec::CodecError;
use crate::protocol::ir::{ApiError, Dialect, ErrorKind, Signature, Usage};
use crate::protocol::openai::ToolNames;
use crate::protocol::openai::response::CallNames;
use crate::protocol::responses::envelope;
use crate::protocol::responses::error::from_failed;
use crate::protocol::responses::response::{
    decode_item, decode_usage, flat, reasoning_text, stop_reason,
};
use crate::protocol::responses::tools::CUSTOM_INPUT;
use crate::protocol::responses::wire;
use crate::protocol::sse::SseEvent;
use crate::protocol::stream::{BlockStart, Delta, StreamEvent};

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
                    decode_item(item, &mut blocks, &mut self.refused);
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
