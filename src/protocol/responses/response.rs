//! Whole `Response` objects <-> IR (reference §3), and the output items and snapshots the
//! stream encoder shares with it.
//!
//! Encoding (for a Responses client): one output item per IR block, in order; thinking becomes
//! a `reasoning` item (summary = the thought, `encrypted_content` = the signature per
//! `envelope.rs`), a Gemini signature on a call or a text becomes a summary-less reasoning item
//! before the call or after the text, calls become `function_call` or (custom tools)
//! `custom_tool_call` with the raw text. Item ids (`msg_`, `rs_`, `fc_`, `ctc_`) are minted from
//! the response id and never confused with call ids (`call_id` = the IR tool id).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::ReplyContext;
use super::envelope::{self, Carried};
use super::tools::{CUSTOM_INPUT, ToolMap, custom_input};
use super::wire;
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{self, Block, Dialect, Extras, Signature, StopReason, Usage};
use crate::protocol::openai;

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The reply context of `ctx`, or the one for a request of unknown dialect.
pub(crate) fn reply_ctx(ctx: &ResponseCtx) -> std::sync::Arc<ReplyContext> {
    ctx.responses.clone().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Decoding (Responses upstream -> IR)

/// Decodes an upstream's whole `Response`. A `failed` one is an error.
pub fn decode_response(body: &[u8]) -> Result<ir::Response, CodecError> {
    let w: wire::Response = openai::request::parse(body)?;
    if w.status == "failed" || w.extra.get("error").is_some_and(|e| !e.is_null()) {
        let message = w
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "the response failed".to_owned());
        return Err(CodecError::Invalid(format!(
            "upstream replied with an error: {message}"
        )));
    }
    let mut content = Vec::new();
    let mut refused = false;
    for item in &w.output {
        decode_item(item, &mut content, &mut refused);
    }
    // The IR wants every call with an id and a name.
    let mut calls = openai::response::CallNames::with_salt(&w.id);
    for b in &mut content {
        if let Block::ToolUse { id, name, .. } = b {
            *id = calls.id(Some(id));
            *name = calls.name(Some(name));
        }
    }
    let saw_tool = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    Ok(ir::Response {
        id: w.id,
        model: w.model,
        stop_reason: Some(stop_reason(
            &w.status,
            w.incomplete_details
                .as_ref()
                .and_then(|d| d.reason.as_deref()),
            saw_tool,
            refused,
        )),
        stop_sequence: None,
        usage: w.usage.as_ref().map(decode_usage).unwrap_or_default(),
        content,
        extra: Extras::new(Dialect::Responses, Map::new()),
    })
}

/// One output item as IR blocks.
pub(crate) fn decode_item(item: &Value, out: &mut Vec<Block>, refused: &mut bool) {
    match item.get("type").and_then(Value::as_str).unwrap_or_default() {
        "message" => {
            for part in item["content"].as_array().into_iter().flatten() {
                let text = match part["type"].as_str() {
                    Some("output_text") => part["text"].as_str(),
                    Some("refusal") => {
                        *refused = true;
                        part["refusal"].as_str()
                    }
                    _ => None,
                };
                if let Some(t) = text.filter(|t| !t.is_empty()) {
                    out.push(Block::Text {
                        text: t.into(),
                        signature: None,
                        cache_control: None,
                    });
                }
            }
        }
        "function_call" => {
            if let Ok(c) = serde_json::from_value::<wire::FunctionCall>(item.clone()) {
                out.push(Block::ToolUse {
                    id: c.call_id,
                    name: flat(&c.name, c.namespace.as_deref()),
                    input: openai::response::repair_arguments(&c.arguments).into(),
                    signature: None,
                });
            }
        }
        "custom_tool_call" => {
            if let Ok(c) = serde_json::from_value::<wire::CustomToolCall>(item.clone()) {
                out.push(Block::ToolUse {
                    id: c.call_id,
                    name: flat(&c.name, c.namespace.as_deref()),
                    input: json!({ CUSTOM_INPUT: c.input }).into(),
                    signature: None,
                });
            }
        }
        "reasoning" => {
            if let Ok(r) = serde_json::from_value::<wire::ReasoningItem>(item.clone()) {
                let text = reasoning_text(&r);
                let signature = r
                    .encrypted_content
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .map(|e| Signature {
                        origin: Dialect::Responses,
                        value: envelope::pack_native(&r.id, e),
                    });
                if !text.is_empty() || signature.is_some() {
                    out.push(Block::Thinking { text, signature });
                }
            }
        }
        other => tracing::debug!(item = other, "responses: ignoring an output item"),
    }
}

pub(crate) fn reasoning_text(r: &wire::ReasoningItem) -> String {
    let parts = if r.summary.iter().any(|p| !p.text.is_empty()) {
        &r.summary
    } else {
        r.content.as_ref().unwrap_or(&r.summary)
    };
    parts
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A namespaced call from an upstream as one flat IR name.
pub(crate) fn flat(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}__{name}"),
        _ => name.to_owned(),
    }
}

pub(crate) fn stop_reason(
    status: &str,
    reason: Option<&str>,
    saw_tool: bool,
    refused: bool,
) -> StopReason {
    if status == "incomplete" {
        return match reason {
            Some("content_filter") => StopReason::Refusal,
            _ => StopReason::MaxTokens,
        };
    }
    if saw_tool {
        StopReason::ToolUse
    } else if refused {
        StopReason::Refusal
    } else {
        StopReason::EndTurn
    }
}

/// `input_tokens` includes cached tokens; the IR's does not.
pub(crate) fn decode_usage(u: &wire::Usage) -> Usage {
    let details = u.input_tokens_details.as_ref();
    let cache_read = details.map_or(0, |d| d.cached_tokens);
    let cache_write = details.and_then(|d| d.cache_write_tokens).unwrap_or(0);
    Usage {
        input_tokens: u
            .input_tokens
            .saturating_sub(cache_read.saturating_add(cache_write)),
        output_tokens: u.output_tokens,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: u.output_tokens_details.as_ref().map(|d| d.reasoning_tokens),
    }
}

pub(crate) fn encode_usage(u: &Usage) -> wire::Usage {
    let input = u.prompt_total();
    wire::Usage {
        input_tokens: input,
        input_tokens_details: Some(wire::InputTokensDetails {
            cached_tokens: u.cache_read_tokens,
            cache_write_tokens: (u.cache_write_tokens > 0).then_some(u.cache_write_tokens),
        }),
        output_tokens: u.output_tokens,
        output_tokens_details: Some(wire::OutputTokensDetails {
            reasoning_tokens: u.reasoning_tokens.unwrap_or(0),
        }),
        total_tokens: input.saturating_add(u.output_tokens),
    }
}

// ---------------------------------------------------------------------------------------------
// Items for a Responses client (shared with the stream encoder)

/// Mints item ids unique within one response.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    base: String,
    n: usize,
}

impl Ids {
    pub(crate) fn new(response_id: &str) -> Self {
        let base: String = response_id
            .strip_prefix("resp_")
            .unwrap_or(response_id)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        Ids { base, n: 0 }
    }

    pub(crate) fn next(&mut self, prefix: &str) -> String {
        let n = self.n;
        self.n += 1;
        format!("{prefix}_{}{n}", self.base)
    }
}

/// `resp_...` from whatever id the upstream gave (`msg_01X` -> `resp_01X`).
pub(crate) fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        return id.to_owned();
    }
    let bare: String = id
        .strip_prefix("msg_")
        .unwrap_or(id)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if bare.is_empty() {
        let mut s = String::from("resp_");
        use rand::Rng;
        s.extend(
            rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(24)
                .map(char::from),
        );
        s
    } else {
        format!("resp_{bare}")
    }
}

/// What goes in `encrypted_content` for a thought signed by `sig`.
pub(crate) fn thinking_encrypted(sig: Option<&Signature>) -> Option<String> {
    let sig = sig?;
    Some(match sig.origin {
        Dialect::Responses => envelope::unpack_native(&sig.value).1.to_owned(),
        Dialect::Anthropic => envelope::seal(&Carried::AnthropicThinking(sig.value.clone())),
        Dialect::Gemini => envelope::seal(&Carried::GeminiThinking(sig.value.clone())),
        Dialect::OpenAi => return None,
    })
}

/// The id of a reasoning item: OpenAI's own when the signature came from it.
pub(crate) fn reasoning_id(sig: Option<&Signature>, ids: &mut Ids) -> String {
    match sig {
        Some(Signature {
            origin: Dialect::Responses,
            value,
        }) => {
            let (id, _) = envelope::unpack_native(value);
            // The number is spent either way, so the ids minted after it do not depend on
            // whether the upstream named its item (a reply then reads back the same).
            let minted = ids.next("rs");
            if id.is_empty() { minted } else { id.to_owned() }
        }
        _ => ids.next("rs"),
    }
}

pub(crate) fn gemini_value(sig: Option<&Signature>) -> Option<&str> {
    sig.filter(|s| s.origin == Dialect::Gemini)
        .map(|s| s.value.as_str())
}

pub(crate) fn reasoning_item(id: &str, text: &str, encrypted: Option<String>) -> Value {
    let summary: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": text})]
    };
    let mut v = json!({"type": "reasoning", "id": id, "summary": summary, "status": "completed"});
    if let Some(e) = encrypted {
        v["encrypted_content"] = json!(e);
    }
    v
}

pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content: Vec<Value> = if status == "in_progress" {
        Vec::new()
    } else {
        vec![output_text_part(text)]
    };
    json!({"type": "message", "id": id, "role": "assistant", "status": status,
        "content": content})
}

pub(crate) fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// A call item: `custom_tool_call` for custom tools (raw text), else `function_call`.
/// `args` is the JSON text of the arguments; `done` fills them in.
pub(crate) fn call_item(
    tools: &ToolMap,
    ids: &mut Ids,
    call_id: &str,
    flat_name: &str,
    args: Option<&str>,
) -> (String, Value) {
    let client = tools.get(flat_name);
    let name = client.map_or(flat_name, |t| t.name.as_str());
    let custom = client.is_some_and(|t| t.custom);
    let status = if args.is_some() {
        "completed"
    } else {
        "in_progress"
    };
    let (id, mut v) = if custom {
        let id = ids.next("ctc");
        let input = args
            .map(|a| custom_input(&openai::response::repair_arguments(a)))
            .unwrap_or_default();
        let v = json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name,
            "input": input, "status": status});
        (id, v)
    } else {
        let id = ids.next("fc");
        let v = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
            "arguments": args.unwrap_or(""), "status": status});
        (id, v)
    };
    if let Some(ns) = client.and_then(|t| t.namespace.as_ref()) {
        v["namespace"] = json!(ns);
    }
    (id, v)
}

/// The carrier item for a Gemini signature on a call or a text (`kind` per `envelope.rs`).
pub(crate) fn carrier_item(ids: &mut Ids, carried: &Carried) -> Value {
    reasoning_item(&ids.next("rs"), "", Some(envelope::seal(carried)))
}

/// `status`, `incomplete_details` and `error` for a stop reason.
pub(crate) fn terminal(stop: Option<&StopReason>) -> (&'static str, Value, Value) {
    match stop {
        Some(StopReason::MaxTokens) => (
            "incomplete",
            json!({"reason": "max_output_tokens"}),
            Value::Null,
        ),
        Some(StopReason::Refusal) => (
            "incomplete",
            json!({"reason": "content_filter"}),
            Value::Null,
        ),
        Some(StopReason::ContextWindowExceeded) => (
            "failed",
            Value::Null,
            json!({"code": "context_length_exceeded",
                "message": "The conversation no longer fits the model's context window."}),
        ),
        _ => ("completed", Value::Null, Value::Null),
    }
}

/// A whole `Response` object with the request's fields echoed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn snapshot(
    id: &str,
    created_at: u64,
    model: &str,
    status: &str,
    output: &[Value],
    usage: Option<&Usage>,
    incomplete: Value,
    error: Value,
    rc: &ReplyContext,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("object".into(), json!("response"));
    m.insert("created_at".into(), json!(created_at));
    m.insert("status".into(), json!(status));
    if status == "completed" {
        m.insert("completed_at".into(), json!(now_secs()));
    }
    m.insert("error".into(), error);
    m.insert("incomplete_details".into(), incomplete);
    m.insert("model".into(), json!(model));
    m.insert("output".into(), Value::Array(output.to_vec()));
    m.insert("tools".into(), json!([]));
    for (k, v) in &rc.echo {
        m.insert(k.clone(), v.clone());
    }
    for (k, v) in [
        ("instructions", Value::Null),
        ("metadata", json!({})),
        ("tool_choice", json!("auto")),
        ("parallel_tool_calls", json!(true)),
        ("temperature", Value::Null),
        ("top_p", Value::Null),
    ] {
        m.entry(k).or_insert(v);
    }
    m.insert(
        "usage".into(),
        usage.map_or(Value::Null, |u| json!(encode_usage(u))),
    );
    Value::Object(m)
}

/// Encodes a reply for a Responses client.
pub fn encode_response(resp: &ir::Response, ctx: &ResponseCtx) -> Vec<u8> {
    let rc = reply_ctx(ctx);
    let id = rc
        .response_id
        .clone()
        .unwrap_or_else(|| response_id(&resp.id));
    let mut ids = Ids::new(&id);
    let include = rc.include_encrypted;
    let mut output = Vec::new();
    for b in &resp.content {
        match b {
            Block::Text {
                text, signature, ..
            } => {
                if !text.is_empty() {
                    output.push(message_item(&ids.next("msg"), text, "completed"));
                }
                if include && let Some(s) = gemini_value(signature.as_ref()) {
                    output.push(carrier_item(&mut ids, &Carried::GeminiText(s.to_owned())));
                }
            }
            Block::Thinking { text, signature } => {
                let enc = thinking_encrypted(signature.as_ref()).filter(|_| include);
                if text.is_empty() && enc.is_none() {
                    continue;
                }
                let rid = reasoning_id(signature.as_ref(), &mut ids);
                output.push(reasoning_item(&rid, text, enc));
            }
            Block::RedactedThinking { data } if include => {
                output.push(carrier_item(
                    &mut ids,
                    &Carried::AnthropicRedacted(data.clone()),
                ));
            }
            Block::ToolUse {
                id: call_id,
                name,
                input,
                signature,
            } => {
                if include && let Some(s) = gemini_value(signature.as_ref()) {
                    output.push(carrier_item(&mut ids, &Carried::GeminiCall(s.to_owned())));
                }
                let args = input.to_compact_string();
                output.push(call_item(&rc.tools, &mut ids, call_id, name, Some(&args)).1);
            }
            _ => {}
        }
    }
    let (status, incomplete, error) = terminal(resp.stop_reason.as_ref());
    let model = if ctx.model.is_empty() {
        &resp.model
    } else {
        &ctx.model
    };
    let body = snapshot(
        &id,
        now_secs(),
        model,
        status,
        &output,
        Some(&resp.usage),
        incomplete,
        error,
        &rc,
    );
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
