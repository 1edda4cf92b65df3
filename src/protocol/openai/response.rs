//! Whole `chat.completion` replies <-> IR (C18, C19, C26), and the pieces the stream codecs
//! share with it: finish-reason and usage arithmetic, tool-call id hygiene and the repair of
//! broken tool arguments.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::request::parse;
use super::wire::{self, MessageContent};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{self, Block, Dialect, Extras, StopReason, Text, Usage};

/// Decodes an upstream's `chat.completion`. Only the first choice is kept (the IR has one).
/// A reply without choices is an error (E10), never an empty turn.
pub fn decode_response(body: &[u8]) -> Result<ir::Response, CodecError> {
    let w: wire::ChatCompletion = parse(body)?;
    if let Some(err) = w.extra.get("error") {
        return Err(CodecError::Invalid(format!(
            "upstream replied with an error: {}",
            super::error::error_message(err)
        )));
    }
    let Some(choice) = w.choices.into_iter().next() else {
        return Err(CodecError::Invalid(
            "upstream returned no choices".to_owned(),
        ));
    };
    let msg = choice.message;
    let mut content = Vec::new();
    if let Some(r) = msg
        .reasoning_content
        .or(msg.reasoning)
        .filter(|r| !r.is_empty())
    {
        content.push(Block::Thinking {
            text: r,
            signature: None,
        });
    }
    let text = match msg.content {
        None => Text::new(),
        Some(MessageContent::Text(s)) => s,
        Some(MessageContent::Parts(parts)) => Text::join(
            parts.iter().filter_map(|p| match p {
                wire::ContentPart::Text { text, .. } => Some(text),
                _ => None,
            }),
            "",
        ),
    };
    if !text.is_empty() {
        content.push(text_block(text));
    }
    let refused = msg.refusal.as_ref().is_some_and(|r| !r.is_empty());
    if let Some(refusal) = msg.refusal.filter(|r| !r.is_empty()) {
        content.push(text_block(refusal.into()));
    }
    let mut names = CallNames::default();
    for call in msg.tool_calls.unwrap_or_default() {
        let id = names.id(Some(&call.id));
        let name = names.name(Some(&call.function.name));
        content.push(Block::ToolUse {
            id,
            name,
            input: repair_arguments(&call.function.arguments).into(),
            signature: None,
        });
    }
    let saw_tool = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    Ok(ir::Response {
        id: w.id,
        model: w.model,
        stop_reason: Some(refusal_stop(
            stop_reason(choice.finish_reason.as_deref(), saw_tool),
            refused,
        )),
        stop_sequence: None,
        usage: w.usage.as_ref().map(decode_usage).unwrap_or_default(),
        content,
        extra: Extras::new(Dialect::OpenAi, w.extra),
    })
}

fn text_block(text: Text) -> Block {
    Block::Text {
        text,
        signature: None,
        cache_control: None,
    }
}

/// C18, with the override Claude Code depends on (A5.6): tool blocks mean `tool_use`, and a
/// `tool_calls` finish without any tool block means `end_turn`.
pub(crate) fn stop_reason(finish: Option<&str>, saw_tool: bool) -> StopReason {
    if saw_tool {
        return StopReason::ToolUse;
    }
    match finish {
        Some("length") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// A `refusal` message from the model is a refusal whatever `finish_reason` says (OpenAI sends
/// `stop`); other dialects' clients can only tell it from an answer by the stop reason.
pub(crate) fn refusal_stop(stop: StopReason, refused: bool) -> StopReason {
    match stop {
        StopReason::EndTurn if refused => StopReason::Refusal,
        other => other,
    }
}

pub(crate) fn finish_reason(stop: Option<&StopReason>, saw_tool: bool) -> &'static str {
    match stop {
        _ if saw_tool => "tool_calls",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "length",
        Some(StopReason::Refusal) => "content_filter",
        Some(StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn) | None => {
            "stop"
        }
    }
}

/// C19: OpenAI's `prompt_tokens` includes cached tokens; the IR's `input_tokens` does not.
pub(crate) fn decode_usage(u: &wire::Usage) -> Usage {
    let details = u.prompt_tokens_details.as_ref();
    let cache_read = details
        .and_then(|d| d.cached_tokens)
        // DeepSeek reports its cache hits beside the standard fields.
        .or_else(|| {
            u.extra
                .get("prompt_cache_hit_tokens")
                .and_then(Value::as_u64)
        })
        .unwrap_or(0);
    let cache_write = details.and_then(|d| d.cache_write_tokens).unwrap_or(0);
    Usage {
        input_tokens: u
            .prompt_tokens
            .saturating_sub(cache_read.saturating_add(cache_write)),
        output_tokens: u.completion_tokens,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens),
    }
}

pub(crate) fn encode_usage(u: &Usage) -> wire::Usage {
    let prompt = u.prompt_total();
    wire::Usage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: prompt.saturating_add(u.output_tokens),
        prompt_tokens_details: Some(wire::PromptTokensDetails {
            cached_tokens: Some(u.cache_read_tokens),
            cache_write_tokens: (u.cache_write_tokens > 0).then_some(u.cache_write_tokens),
            extra: Map::new(),
        }),
        completion_tokens_details: u.reasoning_tokens.map(|r| wire::CompletionTokensDetails {
            reasoning_tokens: Some(r),
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}

/// Ids and names for upstream tool calls: ids are kept when they fit Anthropic's charset
/// (`^[a-zA-Z0-9_-]+$`), otherwise rewritten (`functions.Bash:0` -> `functions_Bash_0`) the
/// same way every time, so the client's later `tool_result` matches; missing ones are made up.
#[derive(Debug, Default)]
pub(crate) struct CallNames {
    count: usize,
    salt: String,
    /// The ids given out so far: an upstream that repeats an id for another call must not make
    /// two blocks alike (clients match results by id; Anthropic refuses the next turn).
    issued: Vec<String>,
}

impl CallNames {
    /// `salt` (the upstream reply's id) keeps made-up ids apart across turns.
    pub(crate) fn with_salt(salt: &str) -> Self {
        let bare = salt.strip_prefix("chatcmpl-").unwrap_or(salt);
        let alnum: Vec<char> = bare.chars().filter(char::is_ascii_alphanumeric).collect();
        CallNames {
            count: 0,
            salt: alnum[alnum.len().saturating_sub(8)..].iter().collect(),
            issued: Vec::new(),
        }
    }

    /// The id of the next call, unique within the reply.
    pub(crate) fn id(&mut self, id: Option<&str>) -> String {
        self.count += 1;
        let mut id = self.candidate(id);
        while self.issued.contains(&id) {
            id = format!("{id}_{}", self.count);
        }
        self.issued.push(id.clone());
        id
    }

    fn candidate(&self, id: Option<&str>) -> String {
        match id.filter(|s| !s.is_empty()) {
            Some(id) => id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
            None if self.salt.is_empty() => format!("call_{}", self.count),
            None => format!("call_{}_{}", self.salt, self.count),
        }
    }

    /// Call [`CallNames::id`] first: the synthesized name uses the same counter.
    pub(crate) fn name(&self, name: Option<&str>) -> String {
        match name.filter(|s| !s.is_empty()) {
            Some(n) => n.to_owned(),
            None => format!("tool_{}", self.count),
        }
    }
}

/// The final tool input is always a JSON object (C21). Arguments that are empty become `{}`;
/// arguments cut off mid-way (a `length` finish) are closed when that yields an object; anything
/// else is kept as text under `_invalid_arguments`, so the model sees what went wrong when the
/// client's tool rejects the input, instead of the call silently running with `{}`.
pub(crate) fn repair_arguments(args: &str) -> Value {
    let args = args.trim();
    if args.is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => return Value::Object(m),
        Ok(Value::Null) => return Value::Object(Map::new()),
        Ok(_) => {}
        Err(_) => {
            if let Some(Value::Object(m)) = close_json(args) {
                return Value::Object(m);
            }
        }
    }
    let mut m = Map::new();
    m.insert(
        "_invalid_arguments".to_owned(),
        Value::String(args.to_owned()),
    );
    Value::Object(m)
}

/// Closes an unterminated string and open brackets of a truncated JSON text, dropping a
/// dangling `,` or `:`-less key. Returns `None` when that does not parse either.
fn close_json(text: &str) -> Option<Value> {
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            '}' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    let mut fixed = text.to_owned();
    if escaped {
        fixed.pop();
    }
    if in_string {
        fixed.push('"');
    }
    let trimmed = fixed.trim_end().trim_end_matches([',', ':']);
    let mut fixed = trimmed.to_owned();
    for close in stack.iter().rev() {
        fixed.push(*close);
    }
    serde_json::from_str(&fixed).ok()
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `chatcmpl-...` from whatever id the reply has (`msg_01X` -> `chatcmpl-01X`).
pub(crate) fn completion_id(prefix: &str, id: &str) -> String {
    if id.starts_with(prefix) {
        return id.to_owned();
    }
    let bare = id
        .strip_prefix("msg_")
        .or_else(|| id.strip_prefix("chatcmpl-"))
        .unwrap_or(id);
    if bare.is_empty() {
        format!("{prefix}{}", now_secs())
    } else {
        format!("{prefix}{bare}")
    }
}

/// Encodes a reply for an OpenAI client (C26). Thinking text goes out as `reasoning_content`
/// (the DeepSeek convention); signatures and redacted thinking cannot be expressed and are
/// dropped.
pub fn encode_response(resp: &ir::Response, ctx: &ResponseCtx) -> Vec<u8> {
    let mut text = String::new();
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for b in &resp.content {
        match b {
            Block::Text { text: t, .. } => text.push_str(t),
            Block::Thinking { text: t, .. } => {
                reasoning.get_or_insert_with(String::new).push_str(t);
            }
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => calls.push(wire::ToolCall {
                id: super::carrier::wrap(id, signature.as_ref()),
                kind: "function".to_owned(),
                function: wire::FunctionCall {
                    name: name.clone(),
                    arguments: input.to_compact_string(),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }),
            _ => {}
        }
    }
    let saw_tool = !calls.is_empty();
    let body = wire::ChatCompletion {
        id: completion_id("chatcmpl-", &resp.id),
        object: "chat.completion".to_owned(),
        created: now_secs(),
        model: ctx.model.clone(),
        choices: vec![wire::Choice {
            index: 0,
            message: wire::ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || !saw_tool)
                    .then_some(MessageContent::Text(text.into())),
                reasoning_content: reasoning,
                reasoning: None,
                tool_calls: saw_tool.then_some(calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: Some(finish_reason(resp.stop_reason.as_ref(), saw_tool).to_owned()),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: Some(encode_usage(&resp.usage)),
        extra: Map::new(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ResponseCtx {
        ResponseCtx {
            model: "client-model".into(),
            ..ResponseCtx::default()
        }
    }

    /// Fuzz crash: `total_tokens` (prompt + completion) overflowed on an upstream's nonsense
    /// count, whatever dialect the reply came from.
    #[test]
    fn huge_counts_saturate_total_tokens() {
        let anthropic = crate::protocol::anthropic::decode_response(
            br#"{"usage":{"input_tokens":18446744073709551615,"output_tokens":1024}}"#,
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&encode_response(&anthropic, &ctx())).unwrap();
        assert_eq!(body["usage"]["total_tokens"], json!(u64::MAX));
        assert_eq!(body["usage"]["completion_tokens"], json!(1024));
        let gemini = crate::protocol::gemini::decode_response(
            br#"{"candidates":[{"finishReason":"MAX_TOKENS"}],"usageMetadata":{"candidatesTokenCount":18446744073709551615,"promptTokenCount":20}}"#,
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&encode_response(&gemini, &ctx())).unwrap();
        assert_eq!(body["usage"]["total_tokens"], json!(u64::MAX));
    }

    /// Found reading the code the fuzzer flagged: DeepSeek-style cache hits plus cache writes
    /// overflowed before being taken off the prompt.
    #[test]
    fn huge_cache_counts_saturate() {
        let u: wire::Usage = serde_json::from_value(json!({
            "prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11,
            "prompt_tokens_details": {"cached_tokens": u64::MAX, "cache_write_tokens": 5}
        }))
        .unwrap();
        let ir = decode_usage(&u);
        assert_eq!((ir.input_tokens, ir.cache_read_tokens), (0, u64::MAX));
    }

    #[test]
    fn decodes_text_reasoning_tools_and_usage() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "hi", "reasoning_content": "hmm",
                "tool_calls": [{"id": "functions.Bash:0", "type": "function",
                    "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                "prompt_tokens_details": {"cached_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 5}}
        });
        let r = decode_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.usage.input_tokens, 40);
        assert_eq!(r.usage.cache_read_tokens, 60);
        assert_eq!(r.usage.reasoning_tokens, Some(5));
        assert!(matches!(&r.content[0], Block::Thinking { text, .. } if text == "hmm"));
        assert!(matches!(&r.content[2], Block::ToolUse { id, input, .. }
            if id == "functions_Bash_0" && input["command"] == "ls"));
    }

    #[test]
    fn empty_choices_is_an_error() {
        let body = json!({"id": "x", "choices": []});
        assert!(decode_response(body.to_string().as_bytes()).is_err());
    }

    #[test]
    fn content_filter_maps_to_refusal_and_back() {
        let body = json!({"choices": [{"finish_reason": "content_filter",
            "message": {"role": "assistant", "content": null}}]});
        let r = decode_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::Refusal));
        let out: Value = serde_json::from_slice(&encode_response(&r, &ctx())).unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(out["model"], "client-model");
    }

    #[test]
    fn tool_calls_finish_without_calls_is_end_turn() {
        assert_eq!(stop_reason(Some("tool_calls"), false), StopReason::EndTurn);
        assert_eq!(stop_reason(Some("stop"), true), StopReason::ToolUse);
    }

    #[test]
    fn refusal_message_is_a_refusal_stop() {
        let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                "content": null, "refusal": "I can't help with that."}}]});
        let r = decode_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.stop_reason, Some(StopReason::Refusal));
        assert!(
            matches!(&r.content[..], [Block::Text { text, .. }] if text == "I can't help with that.")
        );
    }

    #[test]
    fn encodes_usage_with_cache_arithmetic() {
        let r = ir::Response {
            id: "msg_01".into(),
            content: vec![
                Block::Thinking {
                    text: "t".into(),
                    signature: None,
                },
                text_block("answer".into()),
            ],
            stop_reason: Some(StopReason::EndTurn),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: 30,
                cache_write_tokens: 0,
                reasoning_tokens: None,
            },
            ..ir::Response::default()
        };
        let out: Value = serde_json::from_slice(&encode_response(&r, &ctx())).unwrap();
        assert_eq!(out["id"], "chatcmpl-01");
        assert_eq!(out["usage"]["prompt_tokens"], 40);
        assert_eq!(out["usage"]["total_tokens"], 45);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 30);
        let msg = &out["choices"][0]["message"];
        assert_eq!(msg["content"], "answer");
        assert_eq!(msg["reasoning_content"], "t");
        assert_eq!(msg["refusal"], Value::Null);
    }

    #[test]
    fn repairs_arguments() {
        assert_eq!(repair_arguments(""), json!({}));
        assert_eq!(repair_arguments("{\"a\": \"b"), json!({"a": "b"}));
        assert_eq!(repair_arguments("{\"a\": [1, 2"), json!({"a": [1, 2]}));
        assert_eq!(repair_arguments("{\"a\": 1,"), json!({"a": 1}));
        assert_eq!(
            repair_arguments("[1]"),
            json!({"_invalid_arguments": "[1]"})
        );
        assert_eq!(
            repair_arguments("not json"),
            json!({"_invalid_arguments": "not json"})
        );
    }
}
