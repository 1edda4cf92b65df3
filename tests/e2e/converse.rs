//! A scriptable fake AWS Bedrock runtime for the real-client tests: hyper on 127.0.0.1:0,
//! `POST /model/{id}/converse` (a whole Converse reply) and `/converse-stream` (the binary event
//! stream, framed by the gateway's own `eventstream::encode_event`, so its CRCs are real, as in
//! `tests/support/fake_bedrock.rs`). A responder looks at each request and returns a [`Turn`];
//! every request is recorded. The stream is written the way Bedrock writes it for Claude: text
//! and reasoning blocks without a `contentBlockStart`, the reasoning signature as its own delta
//! after the text, a tool call opened by `contentBlockStart` with its input in pieces, the usage
//! in a `metadata` event after `messageStop`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use llm_gateway::upstream::bedrock::eventstream::encode_event;
use serde_json::{Value, json};

/// What the fake model does in one turn.
#[derive(Clone, Debug)]
pub enum Turn {
    Text(String),
    /// A signed reasoning block, then one tool call with this JSON input.
    ThinkThenCall {
        thinking: String,
        signature: String,
        name: String,
        input: Value,
    },
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The path, percent-decoded (the model id goes escaped on the wire).
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Seen {
    /// The model id of the path.
    pub fn model(&self) -> &str {
        let rest = self.path.strip_prefix("/model/").unwrap_or_default();
        rest.rsplit_once('/').map_or(rest, |(m, _)| m)
    }

    /// The names in `toolConfig.tools[].toolSpec`.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["toolConfig"]["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["toolSpec"]["name"].as_str())
            .map(str::to_string)
            .collect()
    }

    /// Every content block of every message, in order, with its message's role.
    pub fn blocks(&self) -> Vec<(String, Value)> {
        self.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| {
                let role = m["role"].as_str().unwrap_or_default().to_string();
                m["content"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |b| (role.clone(), b))
            })
            .collect()
    }

    /// The `toolResult` blocks of the conversation.
    pub fn tool_results(&self) -> Vec<Value> {
        self.blocks()
            .into_iter()
            .filter_map(|(_, b)| b.get("toolResult").cloned())
            .collect()
    }
}

type Responder = dyn Fn(&Seen) -> Turn + Send + Sync;

struct Inner {
    responder: Box<Responder>,
    seen: Mutex<Vec<Seen>>,
}

pub struct FakeConverse {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeConverse {
    pub async fn start(responder: impl Fn(&Seen) -> Turn + Send + Sync + 'static) -> FakeConverse {
        let inner = Arc::new(Inner {
            responder: Box::new(responder),
            seen: Mutex::new(Vec::new()),
        });
        let (addr, task) = crate::support::serve({
            let inner = Arc::clone(&inner);
            move |req| {
                let inner = Arc::clone(&inner);
                async move { answer(&inner, req).await }
            }
        })
        .await;
        FakeConverse { addr, inner, task }
    }

    /// The `--base-url` override of a `bedrock` upstream (the runtime host's origin).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// The recorded requests as one readable dump, for failure messages.
    pub fn dump(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let body = r.body.to_string();
                let cut: String = body.chars().take(1500).collect();
                format!("POST {}\n  {cut}\n", r.path)
            })
            .collect()
    }
}

impl Drop for FakeConverse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `%XX` escapes decoded (a model id's `:` arrives as `%3A`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn answer(
    inner: &Inner,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        path: percent_decode(parts.uri.path()),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    inner.seen.lock().unwrap().push(seen.clone());
    let turn = (inner.responder)(&seen);
    let (content_type, body) = if seen.path.ends_with("/converse-stream") {
        ("application/vnd.amazon.eventstream", frames(&turn))
    } else {
        ("application/json", whole(&turn).to_string().into_bytes())
    };
    let mut resp = http::Response::new(Full::new(Bytes::from(body)));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    h.insert(
        "x-amzn-requestid",
        http::HeaderValue::from_static("req-e2e-1"),
    );
    resp
}

const TOOL_USE_ID: &str = "tooluse_e2e_1";

fn usage() -> Value {
    json!({"inputTokens": 21, "outputTokens": 9, "totalTokens": 30})
}

fn stop_reason(turn: &Turn) -> &'static str {
    match turn {
        Turn::Text(_) => "end_turn",
        Turn::ThinkThenCall { .. } => "tool_use",
    }
}

/// A whole Converse reply.
fn whole(turn: &Turn) -> Value {
    let content = match turn {
        Turn::Text(t) => json!([{"text": t}]),
        Turn::ThinkThenCall {
            thinking,
            signature,
            name,
            input,
        } => json!([
            {"reasoningContent": {"reasoningText": {"text": thinking, "signature": signature}}},
            {"toolUse": {"toolUseId": TOOL_USE_ID, "name": name, "input": input}},
        ]),
    };
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(turn),
        "usage": usage(),
        "metrics": {"latencyMs": 5},
    })
}

/// Splits text in two, so a block arrives in more than one delta.
fn halves(s: &str) -> [String; 2] {
    let mid = s
        .char_indices()
        .nth(s.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    [s[..mid].to_string(), s[mid..].to_string()]
}

/// A ConverseStream reply as event-stream frames.
fn frames(turn: &Turn) -> Vec<u8> {
    let mut events: Vec<(&str, Value)> = vec![("messageStart", json!({"role": "assistant"}))];
    let delta = |i: u32, d: Value| {
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": i, "delta": d}),
        )
    };
    let stop = |i: u32| ("contentBlockStop", json!({"contentBlockIndex": i}));
    match turn {
        Turn::Text(t) => {
            for piece in halves(t) {
                events.push(delta(0, json!({"text": piece})));
            }
            events.push(stop(0));
        }
        Turn::ThinkThenCall {
            thinking,
            signature,
            name,
            input,
        } => {
            for piece in halves(thinking) {
                events.push(delta(0, json!({"reasoningContent": {"text": piece}})));
            }
            events.push(delta(
                0,
                json!({"reasoningContent": {"signature": signature}}),
            ));
            events.push(stop(0));
            events.push((
                "contentBlockStart",
                json!({"contentBlockIndex": 1,
                       "start": {"toolUse": {"toolUseId": TOOL_USE_ID, "name": name}}}),
            ));
            for piece in halves(&input.to_string()) {
                events.push(delta(1, json!({"toolUse": {"input": piece}})));
            }
            events.push(stop(1));
        }
    }
    events.push(("messageStop", json!({"stopReason": stop_reason(turn)})));
    events.push((
        "metadata",
        json!({"usage": usage(), "metrics": {"latencyMs": 5}}),
    ));
    events
        .iter()
        .flat_map(|(kind, payload)| encode_event(kind, payload.to_string().as_bytes()))
        .collect()
}

/// The fake's own plumbing, which the client test only reaches when the clients are installed:
/// it records, decodes the escaped model id, and frames a stream the gateway's decoder reads.
#[tokio::test]
async fn the_converse_fake_answers_and_records() {
    use llm_gateway::upstream::bedrock::eventstream::EventStreamDecoder;
    let fake = FakeConverse::start(|_| Turn::ThinkThenCall {
        thinking: "hmm".into(),
        signature: "sig".into(),
        name: "Write".into(),
        input: json!({"a": 1}),
    })
    .await;
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!(
            "{}/model/us.anthropic.claude-x-v1%3A0/converse-stream",
            fake.base_url()
        ))
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.bytes().await.unwrap();
    let mut frames = Vec::new();
    EventStreamDecoder::new().push(&body, &mut frames).unwrap();
    assert_eq!(frames.len(), 11);
    assert_eq!(fake.requests()[0].model(), "us.anthropic.claude-x-v1:0");
}
