//! How a request's reply is written to the socket: SSE framing (`data: {chunk}` text frames
//! and `data: [DONE]`, with an `id:` line when the message had an id) or JSON framing
//! (`{"type":"chunk"|"done"|"error",...}`, the `done` frame carrying the usage the reply
//! reported), the refusal of a bad message, and the cutting of an upstream SSE body into events.
//!
//! Where it touches the rest: `super::request` builds a [`Frames`] per message and feeds it the
//! router's reply; `super::serve_socket` only forwards the [`Message`]s made here.

use hyper_tungstenite::tungstenite::Message;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Sse,
    Json,
}

/// How one request's frames are written.
#[derive(Debug, Clone)]
pub(super) struct Frames {
    pub(super) framing: Framing,
    pub(super) id: Option<Value>,
}

impl Frames {
    fn id_line(&self) -> String {
        match &self.id {
            Some(Value::String(s)) => format!("id: {}\n", s.replace(['\n', '\r'], " ")),
            Some(v) => format!("id: {v}\n"),
            None => String::new(),
        }
    }

    /// One SSE event of the reply (`event:`/`data:` lines, without the blank line). With JSON
    /// framing, the usage the event reports is noted in `usage`.
    fn event(&self, event: &str, data: &str, usage: &mut Option<Value>) -> Message {
        match self.framing {
            Framing::Sse => Message::text(format!("{}{event}\n\n", self.id_line())),
            Framing::Json => {
                let data: Value =
                    serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
                note_usage(usage, &data);
                json_frame(serde_json::json!({"type": "chunk", "id": self.id, "data": data}))
            }
        }
    }

    pub(super) fn whole(&self, body: &[u8], usage: &mut Option<Value>) -> Message {
        let text = String::from_utf8_lossy(body);
        self.event(&format!("data: {}", text.trim()), &text, usage)
    }

    /// The end of a request; with JSON framing, `{"type":"done","id","usage"}` (`usage` only
    /// when the reply reported some).
    pub(super) fn done(&self, usage: Option<Value>) -> Message {
        match self.framing {
            Framing::Sse => Message::text(format!("{}data: [DONE]\n\n", self.id_line())),
            Framing::Json => {
                let mut done = serde_json::json!({"type": "done", "id": self.id});
                if let (Some(u), Some(o)) = (usage, done.as_object_mut()) {
                    o.insert("usage".to_owned(), u);
                }
                json_frame(done)
            }
        }
    }

    /// A failure once the request started; `error` is the `{"type","message",...}` object.
    pub(super) fn error(&self, status: u16, error: Value) -> Message {
        match self.framing {
            Framing::Sse => {
                let body = serde_json::json!({ "error": error });
                Message::text(format!("{}data: {body}\n\n", self.id_line()))
            }
            Framing::Json => json_frame(serde_json::json!({
                "type": "error", "id": self.id, "status": status, "error": error,
            })),
        }
    }

    /// A message refused before any request started: the seed's plain `{"error":{...}}`.
    pub(super) fn refused(&self, kind: &str, message: &str) -> Message {
        let error = serde_json::json!({
            "message": message,
            "type": kind,
            "timestamp": crate::oauth::now(),
        });
        match self.framing {
            Framing::Sse => json_frame(serde_json::json!({ "error": error })),
            Framing::Json => self.error(400, error),
        }
    }
}

pub(super) fn json_frame(v: Value) -> Message {
    Message::text(v.to_string())
}

/// Notes the usage an event (or a whole reply) reports, in its dialect's shape: Chat's and the
/// Responses API's `usage` (the latter inside `response` on its terminal event), Anthropic's
/// split between `message_start` (`message.usage`) and `message_delta` (`usage`), Gemini's
/// `usageMetadata`. Later figures overwrite earlier ones key by key.
fn note_usage(acc: &mut Option<Value>, data: &Value) {
    let found = [
        data.get("usage"),
        data.get("usageMetadata"),
        data.get("message").and_then(|m| m.get("usage")),
        data.get("response").and_then(|r| r.get("usage")),
    ];
    for u in found.into_iter().flatten() {
        let Value::Object(new) = u else { continue };
        match acc {
            Some(Value::Object(old)) => {
                for (k, v) in new {
                    old.insert(k.clone(), v.clone());
                }
            }
            _ => *acc = Some(u.clone()),
        }
    }
}

/// Where the first SSE event in `buf` ends: (its length, the separator's length).
pub(super) fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// One SSE event as a frame; comments (keep-alives) and the upstream's `[DONE]` give none.
pub(super) fn event_frame(
    frames: &Frames,
    event: &[u8],
    usage: &mut Option<Value>,
) -> Option<Message> {
    let text = String::from_utf8_lossy(event);
    let text = text.replace("\r\n", "\n");
    let mut data = Vec::new();
    let mut kept = Vec::new();
    for line in text.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
        kept.push(line);
    }
    let data = data.join("\n");
    if kept.is_empty() || data == "[DONE]" {
        return None;
    }
    Some(frames.event(&kept.join("\n"), &data, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_become_frames_without_done_or_comments() {
        let f = Frames {
            framing: Framing::Sse,
            id: None,
        };
        let mut u = None;
        assert!(event_frame(&f, b": keep-alive", &mut u).is_none());
        assert!(event_frame(&f, b"data: [DONE]", &mut u).is_none());
        let m = event_frame(&f, b"data: {\"a\":1}", &mut u);
        assert_eq!(m, Some(Message::text("data: {\"a\":1}\n\n")));
        let f = Frames {
            framing: Framing::Json,
            id: Some(Value::from("x")),
        };
        let Some(Message::Text(m)) =
            event_frame(&f, b"event: ping\ndata: {\"type\":\"ping\"}", &mut u)
        else {
            unreachable!("a text frame")
        };
        let v: Value = serde_json::from_str(m.as_str()).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"type": "chunk", "id": "x", "data": {"type": "ping"}})
        );
    }

    #[test]
    fn usage_is_gathered_in_the_dialects_shape() {
        let mut u = None;
        note_usage(&mut u, &serde_json::json!({"choices": [], "usage": null}));
        assert_eq!(u, None);
        // Anthropic: input tokens at the start, output tokens at the end.
        let start = serde_json::json!({"type": "message_start",
            "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}});
        note_usage(&mut u, &start);
        let delta = serde_json::json!({"type": "message_delta", "usage": {"output_tokens": 4}});
        note_usage(&mut u, &delta);
        assert_eq!(
            u,
            Some(serde_json::json!({"input_tokens": 7, "output_tokens": 4}))
        );
        let mut u = None;
        let done = serde_json::json!({"type": "response.completed",
            "response": {"usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}});
        note_usage(&mut u, &done);
        assert_eq!(u.unwrap()["total_tokens"], 5);
        let mut u = None;
        note_usage(
            &mut u,
            &serde_json::json!({"usageMetadata": {"totalTokenCount": 9}}),
        );
        assert_eq!(u.unwrap()["totalTokenCount"], 9);
    }

    #[test]
    fn event_end_finds_either_separator() {
        assert_eq!(event_end(b"data: a\n\ndata: b"), Some((7, 2)));
        assert_eq!(event_end(b"data: a\r\n\r\n"), Some((7, 4)));
        assert_eq!(event_end(b"data: a\n"), None);
    }
}
