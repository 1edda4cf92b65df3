//! Legacy `/v1/completions` (C27): a prompt in, `text_completion` out. The prompt becomes one
//! user message, so any upstream can answer it; the reply keeps only text (thinking and tool
//! calls have no place in this format). `echo`, `suffix`, `best_of` > 1, `logprobs`, several
//! prompts at once and token-id prompts are refused as unsupported rather than half-honoured.

use serde_json::Map;

use super::request::parse;
use super::response::{completion_id, encode_usage, now_secs};
use super::wire::{self, Completion, CompletionChoice, Prompt};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{self, Block, Dialect, Extras, StopReason, Usage};
use crate::protocol::stream::{Delta, StreamEvent};

pub fn decode_completion_request(body: &[u8]) -> Result<ir::Request, CodecError> {
    let w: wire::CompletionRequest = parse(body)?;
    let unsupported = |what: &str| {
        Err(CodecError::Unsupported(format!(
            "{what} in /v1/completions"
        )))
    };
    if w.echo == Some(true) {
        return unsupported("`echo`");
    }
    if w.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return unsupported("`suffix`");
    }
    if w.best_of.is_some_and(|b| b > 1) {
        return unsupported("`best_of`");
    }
    if w.logprobs.is_some() {
        return unsupported("`logprobs`");
    }
    let prompt = match w.prompt {
        None => String::new(),
        Some(Prompt::Text(s)) => s,
        Some(Prompt::Texts(mut v)) if v.len() <= 1 => v.pop().unwrap_or_default(),
        Some(Prompt::Texts(_)) => return unsupported("several prompts"),
        Some(Prompt::Tokens(_)) => return unsupported("a token-id prompt"),
    };
    Ok(ir::Request {
        model: w.model,
        messages: vec![ir::Message {
            role: ir::Role::User,
            content: vec![Block::Text {
                text: prompt.into(),
                signature: None,
                cache_control: None,
            }],
        }],
        max_tokens: w.max_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        n: w.n,
        stream: w.stream.unwrap_or(false),
        stream_include_usage: w
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        stop: match w.stop {
            None => Vec::new(),
            Some(wire::Stop::One(s)) => vec![s],
            Some(wire::Stop::Many(v)) => v,
        },
        seed: w.seed,
        presence_penalty: w.presence_penalty,
        frequency_penalty: w.frequency_penalty,
        user: w.user,
        extra: Extras::new(Dialect::OpenAi, w.extra),
        ..ir::Request::default()
    })
}

/// `stop | length | content_filter`: the only values this format has.
fn finish(stop: Option<&StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "length",
        Some(StopReason::Refusal) => "content_filter",
        _ => "stop",
    }
}

fn legacy_usage(u: &Usage) -> wire::Usage {
    wire::Usage {
        prompt_tokens_details: None,
        completion_tokens_details: None,
        ..encode_usage(u)
    }
}

pub fn encode_completion_response(resp: &ir::Response, ctx: &ResponseCtx) -> Vec<u8> {
    let text: String = resp
        .content
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let body = Completion {
        id: completion_id("cmpl-", &resp.id),
        object: "text_completion".to_owned(),
        created: now_secs(),
        model: ctx.model.clone(),
        choices: vec![CompletionChoice {
            text,
            index: 0,
            logprobs: None,
            finish_reason: Some(finish(resp.stop_reason.as_ref()).to_owned()),
        }],
        usage: Some(Some(legacy_usage(&resp.usage))),
        extra: Map::new(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The streaming form: one `text_completion` chunk per text delta, a last chunk with the
/// finish reason, a usage chunk with `choices: []` when asked for, then `data: [DONE]`.
#[derive(Debug)]
pub struct CompletionStreamEncoder {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    stop: Option<StopReason>,
    usage: Usage,
    sent_finish: bool,
    done: bool,
}

impl CompletionStreamEncoder {
    /// One keep-alive for a quiet stream: a `: ping` comment.
    pub fn keep_alive(&mut self, out: &mut Vec<u8>) {
        self.encode(&StreamEvent::Ping, out);
    }

    pub fn new(ctx: &ResponseCtx) -> Self {
        CompletionStreamEncoder {
            id: format!("cmpl-{}", now_secs()),
            created: now_secs(),
            model: ctx.model.clone(),
            include_usage: ctx.include_usage,
            stop: None,
            usage: Usage::default(),
            sent_finish: false,
            done: false,
        }
    }

    fn write(&self, out: &mut Vec<u8>, choices: Vec<CompletionChoice>, usage: Option<Usage>) {
        let chunk = Completion {
            id: self.id.clone(),
            object: "text_completion".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: match usage {
                Some(u) => Some(Some(legacy_usage(&u))),
                None => self.include_usage.then_some(None),
            },
            extra: Map::new(),
        };
        out.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut *out, &chunk).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    fn choice(text: String, finish: Option<&str>) -> Vec<CompletionChoice> {
        vec![CompletionChoice {
            text,
            index: 0,
            logprobs: None,
            finish_reason: finish.map(str::to_owned),
        }]
    }

    fn send_finish(&mut self, out: &mut Vec<u8>) {
        self.sent_finish = true;
        let f = finish(self.stop.as_ref());
        self.write(out, Self::choice(String::new(), Some(f)), None);
    }

    pub fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { id, .. } if !id.is_empty() => {
                self.id = completion_id("cmpl-", id);
            }
            StreamEvent::BlockDelta {
                delta: Delta::Text(t),
                ..
            } if !t.is_empty() => self.write(out, Self::choice(t.clone(), None), None),
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
                    self.write(out, Vec::new(), Some(self.usage));
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.done = true;
            }
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error(err) => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&super::error::encode_error(err));
                out.extend_from_slice(b"\n\n");
                self.done = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ctx(include_usage: bool) -> ResponseCtx {
        ResponseCtx {
            model: "m".into(),
            include_usage,
            ..ResponseCtx::default()
        }
    }

    #[test]
    fn prompt_becomes_one_user_message() {
        let r =
            decode_completion_request(br#"{"model": "m", "prompt": ["Say hi"], "max_tokens": 5}"#)
                .unwrap();
        assert_eq!(r.messages.len(), 1);
        assert!(matches!(&r.messages[0].content[0], Block::Text { text, .. } if text == "Say hi"));
        assert_eq!(r.max_tokens, Some(5));
    }

    #[test]
    fn unsupported_options_are_refused() {
        for body in [
            r#"{"model": "m", "prompt": "x", "echo": true}"#,
            r#"{"model": "m", "prompt": "x", "suffix": "y"}"#,
            r#"{"model": "m", "prompt": "x", "best_of": 3}"#,
            r#"{"model": "m", "prompt": "x", "logprobs": 2}"#,
            r#"{"model": "m", "prompt": ["a", "b"]}"#,
            r#"{"model": "m", "prompt": [1, 2]}"#,
        ] {
            assert!(
                matches!(
                    decode_completion_request(body.as_bytes()),
                    Err(CodecError::Unsupported(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn encodes_text_completion() {
        let resp = ir::Response {
            id: "x1".into(),
            content: vec![
                Block::Thinking {
                    text: "hidden".into(),
                    signature: None,
                },
                Block::Text {
                    text: "hello".into(),
                    signature: None,
                    cache_control: None,
                },
            ],
            stop_reason: Some(StopReason::MaxTokens),
            ..ir::Response::default()
        };
        let v: Value =
            serde_json::from_slice(&encode_completion_response(&resp, &ctx(false))).unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["id"], "cmpl-x1");
        assert_eq!(v["choices"][0]["text"], "hello");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["choices"][0]["logprobs"], Value::Null);
    }

    #[test]
    fn streams_text_completion_chunks() {
        let mut enc = CompletionStreamEncoder::new(&ctx(true));
        let mut out = Vec::new();
        for ev in [
            StreamEvent::MessageStart {
                id: "u1".into(),
                model: "up".into(),
                usage: Usage::default(),
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Text("hi".into()),
            },
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::EndTurn),
                stop_sequence: None,
                usage: Usage {
                    input_tokens: 3,
                    output_tokens: 1,
                    ..Usage::default()
                },
            },
            StreamEvent::MessageStop,
        ] {
            enc.encode(&ev, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        let frames: Vec<&str> = text
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|f| f.trim_start_matches("data: "))
            .collect();
        assert_eq!(frames.len(), 4);
        let first: Value = serde_json::from_str(frames[0]).unwrap();
        assert_eq!(first["choices"][0]["text"], "hi");
        assert_eq!(first["usage"], Value::Null);
        let last: Value = serde_json::from_str(frames[1]).unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        let usage: Value = serde_json::from_str(frames[2]).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 4);
        assert_eq!(frames[3], "[DONE]");
    }
}
