//! A scriptable fake LLM upstream for the end-to-end tests: hyper on 127.0.0.1:0, speaking the
//! OpenAI Chat Completions, the Anthropic Messages, the Gemini generateContent or the OpenAI
//! Responses dialect (optionally with Azure's content-filter chunks in Chat streams). A responder closure looks at
//! each request (already parsed) and returns an [`Answer`]; the fake renders it in its dialect,
//! as JSON or as SSE (split over several chunks) depending on what the request asked for. Every
//! request is recorded. Self-contained on purpose: `tests/support` belongs to other helpers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
    /// The OpenAI Responses API (`POST {base}/responses`).
    Responses,
}

/// What the fake model says.
#[derive(Clone, Debug)]
pub enum Answer {
    Text(String),
    /// One function call with these JSON arguments.
    ToolCall {
        name: String,
        args: Value,
    },
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: http::HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Req {
    /// Whether this request asks for a stream.
    pub fn streaming(&self, dialect: Dialect) -> bool {
        match dialect {
            Dialect::OpenAi | Dialect::Anthropic | Dialect::Responses => {
                self.body["stream"] == true
            }
            Dialect::Gemini => self.path.contains(":streamGenerateContent"),
        }
    }

    /// The model named by the request (body for OpenAI, path for Gemini).
    pub fn model(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::OpenAi | Dialect::Anthropic | Dialect::Responses => {
                self.body["model"].as_str().unwrap_or_default().to_string()
            }
            Dialect::Gemini => {
                let rest = self.path.split("/models/").nth(1).unwrap_or_default();
                rest.split(':').next().unwrap_or_default().to_string()
            }
        }
    }

    /// Names of the tools offered to the model.
    pub fn tool_names(&self, dialect: Dialect) -> Vec<String> {
        match dialect {
            Dialect::OpenAi => self.body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["function"]["name"].as_str())
                .map(str::to_string)
                .collect(),
            // Responses tools are flat: `{"type": "function", "name": ...}`.
            Dialect::Anthropic | Dialect::Responses => self.body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str())
                .map(str::to_string)
                .collect(),
            Dialect::Gemini => self.body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
                .filter_map(|f| f["name"].as_str())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The tool results in the conversation, as `(tool name or call id, text of the result)`.
    /// OpenAI `tool` messages and Anthropic `tool_result` blocks carry only the call id; Gemini
    /// `functionResponse` parts the name.
    pub fn tool_results(&self, dialect: Dialect) -> Vec<(String, String)> {
        match dialect {
            Dialect::OpenAi => self.body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["role"] == "tool")
                .map(|m| {
                    let id = m["tool_call_id"].as_str().unwrap_or_default().to_string();
                    (id, content_text(&m["content"]))
                })
                .collect(),
            Dialect::Anthropic => self.body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|m| m["content"].as_array().into_iter().flatten())
                .filter(|b| b["type"] == "tool_result")
                .map(|b| {
                    let id = b["tool_use_id"].as_str().unwrap_or_default().to_string();
                    (id, content_text(&b["content"]))
                })
                .collect(),
            Dialect::Gemini => self.body["contents"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parts"].as_array().into_iter().flatten())
                .filter_map(|p| p.get("functionResponse"))
                .map(|r| {
                    let name = r["name"].as_str().unwrap_or_default().to_string();
                    (name, r["response"].to_string())
                })
                .collect(),
            Dialect::Responses => self.body["input"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["type"] == "function_call_output")
                .map(|i| {
                    let id = i["call_id"].as_str().unwrap_or_default().to_string();
                    (id, content_text(&i["output"]))
                })
                .collect(),
        }
    }

    /// Whether the request asks for JSON output (OpenAI `response_format`, Anthropic
    /// `output_config.format`, Gemini `responseMimeType`/`responseSchema`/`responseJsonSchema`).
    pub fn wants_json(&self, dialect: Dialect) -> bool {
        match dialect {
            Dialect::OpenAi => {
                let t = self.body["response_format"]["type"].as_str();
                matches!(t, Some("json_schema" | "json_object"))
            }
            Dialect::Anthropic => self.body["output_config"]["format"]["type"] == "json_schema",
            Dialect::Responses => self.body["text"]["format"]["type"] == "json_schema",
            Dialect::Gemini => {
                let g = &self.body["generationConfig"];
                g["responseMimeType"] == "application/json"
                    || !g["responseSchema"].is_null()
                    || !g["responseJsonSchema"].is_null()
            }
        }
    }

    /// All text the request carries in its messages, for loose "did it arrive" checks.
    pub fn all_text(&self) -> String {
        self.body.to_string()
    }
}

/// The text of an OpenAI message or Anthropic tool result `content` (a string or an array of
/// parts).
fn content_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

type Responder = dyn Fn(&Req) -> Answer + Send + Sync;

struct Inner {
    dialect: Dialect,
    /// Chat streams carry Azure's content-filter chunks.
    azure: bool,
    responder: Box<Responder>,
    requests: Mutex<Vec<Req>>,
}

pub struct Fake {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub async fn start(
        dialect: Dialect,
        responder: impl Fn(&Req) -> Answer + Send + Sync + 'static,
    ) -> Fake {
        Fake::start_as(dialect, false, responder).await
    }

    /// An Azure OpenAI resource: [`Fake::start`] whose Chat streams open with the prompt-filter
    /// chunk (empty `choices`) and carry an annotation chunk without `delta`, as Azure's do.
    pub async fn start_azure(
        dialect: Dialect,
        responder: impl Fn(&Req) -> Answer + Send + Sync + 'static,
    ) -> Fake {
        Fake::start_as(dialect, true, responder).await
    }

    async fn start_as(
        dialect: Dialect,
        azure: bool,
        responder: impl Fn(&Req) -> Answer + Send + Sync + 'static,
    ) -> Fake {
        let inner = Arc::new(Inner {
            dialect,
            azure,
            responder: Box::new(responder),
            requests: Mutex::new(Vec::new()),
        });
        let (addr, task) = crate::support::serve({
            let inner = Arc::clone(&inner);
            move |req| {
                let inner = Arc::clone(&inner);
                async move { answer(&inner, req).await }
            }
        })
        .await;
        Fake { addr, inner, task }
    }

    /// The base URL in the form `upstream add --base-url` takes for this dialect's provider kind.
    pub fn base_url(&self) -> String {
        match self.inner.dialect {
            Dialect::OpenAi | Dialect::Responses => format!("http://{}/v1", self.addr),
            Dialect::Anthropic | Dialect::Gemini => format!("http://{}", self.addr),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    pub fn requests(&self) -> Vec<Req> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// The recorded requests as one readable dump, for failure messages.
    pub fn dump(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let body = r.body.to_string();
                let cut: String = body.chars().take(1500).collect();
                format!("{} {}\n  {cut}\n", r.method, r.path)
            })
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
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
    let req = Req {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    inner.requests.lock().unwrap().push(req.clone());

    if req.method == "GET" {
        let list = match inner.dialect {
            Dialect::OpenAi | Dialect::Responses => {
                json!({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            }
            Dialect::Anthropic => json!({"data": [{"id": "fake-claude", "type": "model"}]}),
            Dialect::Gemini => json!({"models": [{"name": "models/fake-model"}]}),
        };
        return respond("application/json", list.to_string());
    }
    let ans = (inner.responder)(&req);
    let model = req.model(inner.dialect);
    match (inner.dialect, req.streaming(inner.dialect)) {
        (Dialect::OpenAi, false) => respond("application/json", openai_json(&ans, &model)),
        (Dialect::OpenAi, true) => {
            let usage = req.body["stream_options"]["include_usage"] == true;
            let sse = openai_sse(&ans, &model, usage);
            let sse = if inner.azure { azure_sse(&sse) } else { sse };
            respond("text/event-stream", sse)
        }
        (Dialect::Anthropic, false) => respond("application/json", anthropic_json(&ans, &model)),
        (Dialect::Anthropic, true) => respond("text/event-stream", anthropic_sse(&ans, &model)),
        (Dialect::Gemini, false) => respond("application/json", gemini_json(&ans, &model)),
        (Dialect::Gemini, true) => respond("text/event-stream", gemini_sse(&ans, &model)),
        (Dialect::Responses, false) => respond("application/json", responses_json(&ans, &model)),
        (Dialect::Responses, true) => respond("text/event-stream", responses_sse(&ans, &model)),
    }
}

fn respond(content_type: &str, body: String) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_str(content_type).unwrap(),
    );
    resp
}

const CALL_ID: &str = "call_e2e_1";

/// Splits text in two so streams have more than one content chunk.
fn halves(s: &str) -> (String, String) {
    let mid = s
        .char_indices()
        .nth(s.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    (s[..mid].to_string(), s[mid..].to_string())
}

fn openai_usage() -> Value {
    json!({"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30})
}

fn openai_json(ans: &Answer, model: &str) -> String {
    let (message, finish) = match ans {
        Answer::Text(t) => (json!({"role": "assistant", "content": t}), "stop"),
        Answer::ToolCall { name, args } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": CALL_ID, "type": "function",
                "function": {"name": name, "arguments": args.to_string()}
            }]}),
            "tool_calls",
        ),
    };
    json!({
        "id": "chatcmpl-e2e", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": openai_usage(),
    })
    .to_string()
}

fn openai_sse(ans: &Answer, model: &str, usage: bool) -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let finish = match ans {
        Answer::Text(t) => {
            let (a, b) = halves(t);
            events.push(chunk(json!({"content": a}), Value::Null));
            events.push(chunk(json!({"content": b}), Value::Null));
            "stop"
        }
        Answer::ToolCall { name, args } => {
            let (a, b) = halves(&args.to_string());
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": CALL_ID, "type": "function",
                    "function": {"name": name, "arguments": a}}]}),
                Value::Null,
            ));
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
                Value::Null,
            ));
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    if usage {
        events.push(json!({
            "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [], "usage": openai_usage(),
        }));
    }
    let mut out: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    out.push_str("data: [DONE]\n\n");
    out
}

/// A Chat stream as Azure sends it: the prompt-filter chunk first, an annotation chunk after
/// the first real chunk.
fn azure_sse(sse: &str) -> String {
    use crate::support::fake_azure::{ANNOTATION_CHUNK, PROMPT_FILTER_CHUNK};
    let mut frames: Vec<&str> = sse.split_inclusive("\n\n").collect();
    frames.insert(0, PROMPT_FILTER_CHUNK);
    frames.insert(frames.len().min(2), ANNOTATION_CHUNK);
    frames.concat()
}

const TOOL_USE_ID: &str = "toolu_e2e_1";

fn anthropic_block(ans: &Answer) -> (Value, &'static str) {
    match ans {
        Answer::Text(t) => (json!({"type": "text", "text": t}), "end_turn"),
        Answer::ToolCall { name, args } => (
            json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": args}),
            "tool_use",
        ),
    }
}

fn anthropic_json(ans: &Answer, model: &str) -> String {
    let (block, stop) = anthropic_block(ans);
    json!({
        "id": "msg_e2e", "type": "message", "role": "assistant", "model": model,
        "content": [block], "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 21, "output_tokens": 9},
    })
    .to_string()
}

fn anthropic_sse(ans: &Answer, model: &str) -> String {
    let (block, stop) = anthropic_block(ans);
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_e2e", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 21, "output_tokens": 1},
    }})];
    let (start, pieces, kind, field) = match ans {
        Answer::Text(t) => {
            let (a, b) = halves(t);
            (
                json!({"type": "text", "text": ""}),
                [a, b],
                "text_delta",
                "text",
            )
        }
        Answer::ToolCall { .. } => {
            let mut start = block.clone();
            start["input"] = json!({});
            let (a, b) = halves(&block["input"].to_string());
            (start, [a, b], "input_json_delta", "partial_json")
        }
    };
    events.push(json!({"type": "content_block_start", "index": 0, "content_block": start}));
    for p in pieces {
        events.push(json!({"type": "content_block_delta", "index": 0,
                           "delta": {"type": kind, field: p}}));
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta",
                       "delta": {"stop_reason": stop, "stop_sequence": null},
                       "usage": {"output_tokens": 9}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .map(|e| {
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn gemini_usage() -> Value {
    json!({"promptTokenCount": 21, "candidatesTokenCount": 9, "totalTokenCount": 30})
}

fn gemini_parts(ans: &Answer) -> Vec<Value> {
    match ans {
        Answer::Text(t) => {
            let (a, b) = halves(t);
            vec![json!({"text": a}), json!({"text": b})]
        }
        Answer::ToolCall { name, args } => {
            vec![json!({"functionCall": {"name": name, "args": args}})]
        }
    }
}

fn gemini_candidate(parts: Vec<Value>, finish: bool, model: &str) -> Value {
    let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let mut v = json!({"candidates": [], "modelVersion": model});
    if finish {
        c["finishReason"] = json!("STOP");
        v["usageMetadata"] = gemini_usage();
    }
    v["candidates"] = json!([c]);
    v
}

fn gemini_json(ans: &Answer, model: &str) -> String {
    let parts = match ans {
        // One text part, as the real API answers a non-streamed call.
        Answer::Text(t) => vec![json!({"text": t})],
        Answer::ToolCall { .. } => gemini_parts(ans),
    };
    gemini_candidate(parts, true, model).to_string()
}

fn gemini_sse(ans: &Answer, model: &str) -> String {
    let parts = gemini_parts(ans);
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let ev = gemini_candidate(vec![p], i + 1 == n, model);
            format!("data: {ev}\r\n\r\n")
        })
        .collect()
}

/// The fake's own plumbing, which the client tests above only reach when the clients are
/// installed: it answers over HTTP and records what it got.
#[tokio::test]
async fn the_fake_answers_and_records() {
    let fake = Fake::start(Dialect::OpenAi, |_| Answer::Text("hi there".into())).await;
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.text().await.unwrap().contains("hi there"));
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].model(Dialect::OpenAi), "m");
}

const RESPONSE_ID: &str = "resp_e2e";
const MESSAGE_ID: &str = "msg_e2e_1";
const FUNCTION_ITEM_ID: &str = "fc_e2e_1";

/// The one output item of an answer, as `output_item.done` and `response.completed` carry it.
fn responses_item(ans: &Answer) -> Value {
    match ans {
        Answer::Text(t) => json!({
            "type": "message", "id": MESSAGE_ID, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []}],
        }),
        Answer::ToolCall { name, args } => json!({
            "type": "function_call", "id": FUNCTION_ITEM_ID, "status": "completed",
            "call_id": CALL_ID, "name": name, "arguments": args.to_string(),
        }),
    }
}

fn responses_object(status: &str, output: Vec<Value>, model: &str) -> Value {
    let mut r = json!({
        "id": RESPONSE_ID, "object": "response", "created_at": 1, "status": status,
        "model": model, "output": output, "parallel_tool_calls": true, "tool_choice": "auto",
        "tools": [], "usage": null,
    });
    if status == "completed" {
        r["usage"] = json!({
            "input_tokens": 21, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 30,
        });
    }
    r
}

fn responses_json(ans: &Answer, model: &str) -> String {
    responses_object("completed", vec![responses_item(ans)], model).to_string()
}

/// The event stream of `shared/reference/responses.md` §4, written out by hand (not by the
/// gateway's encoder, so a same-dialect relay is checked against an independent writer):
/// `response.created` first, `sequence_number` from 0, the item opened, its deltas, closed
/// whole, one `response.completed`, no `[DONE]`.
fn responses_sse(ans: &Answer, model: &str) -> String {
    let item = responses_item(ans);
    let mut events = vec![
        json!({"type": "response.created", "response": responses_object("in_progress", vec![], model)}),
        json!({"type": "response.in_progress", "response": responses_object("in_progress", vec![], model)}),
    ];
    match ans {
        Answer::Text(t) => {
            let mut open = item.clone();
            open["status"] = json!("in_progress");
            open["content"] = json!([]);
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": open}),
            );
            let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
            events.push(
                json!({"type": "response.content_part.added", "item_id": MESSAGE_ID,
                               "output_index": 0, "content_index": 0, "part": part("")}),
            );
            let (a, b) = halves(t);
            for d in [a, b] {
                events.push(
                    json!({"type": "response.output_text.delta", "item_id": MESSAGE_ID,
                                   "output_index": 0, "content_index": 0, "delta": d,
                                   "logprobs": []}),
                );
            }
            events.push(
                json!({"type": "response.output_text.done", "item_id": MESSAGE_ID,
                               "output_index": 0, "content_index": 0, "text": t, "logprobs": []}),
            );
            events.push(
                json!({"type": "response.content_part.done", "item_id": MESSAGE_ID,
                               "output_index": 0, "content_index": 0, "part": part(t)}),
            );
        }
        Answer::ToolCall { args, .. } => {
            let mut open = item.clone();
            open["status"] = json!("in_progress");
            open["arguments"] = json!("");
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": open}),
            );
            let args = args.to_string();
            let (a, b) = halves(&args);
            for d in [a, b] {
                events.push(json!({"type": "response.function_call_arguments.delta",
                                   "item_id": FUNCTION_ITEM_ID, "output_index": 0, "delta": d}));
            }
            events.push(json!({"type": "response.function_call_arguments.done",
                               "item_id": FUNCTION_ITEM_ID, "output_index": 0, "arguments": args}));
        }
    }
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed",
                       "response": responses_object("completed", vec![item], model)}));
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["sequence_number"] = json!(i);
            let kind = e["type"].as_str().unwrap_or_default().to_string();
            format!("event: {kind}\ndata: {e}\n\n")
        })
        .collect()
}
