//! A Responses-API upstream (`upstream add --provider openai --wire responses`) for every
//! client dialect, stream and not: the conformance matrix's cases on a `Kind::Responses`
//! upstream (kept here, as `azure.rs` does, rather than in `matrix.rs`), then what only this
//! wire does: call ids (`fc_` item ids never reach the client, `call_` ids round-trip), OpenAI's
//! own encrypted reasoning replayed to it on the next turn, and long tool names restored. The
//! replies are `support::fake_responses`.

use serde_json::{Value, json};

use super::rig::*;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::fake_responses::{self, ENCRYPTED, REASONING_ID};

// The conformance cells for this kind are in `matrix.rs` (`to_responses`).

/// The `data` objects of an SSE body.
fn data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Turn one: OpenAI streams reasoning (with `encrypted_content`) and a call; the Anthropic
/// client gets the reasoning summary as thinking, signed `gw.openai.<item id>:<encrypted
/// content>`, and a `tool_use` whose id is the `call_` id, never the `fc_` item id. Turn two:
/// Claude Code replays the thinking block, the call and the tool's result; the upstream gets its
/// own reasoning item back (id, summary, `encrypted_content`, before the call) and the call and
/// its output under the same `call_` id.
#[tokio::test]
async fn openai_reasoning_and_call_ids_round_trip_for_an_anthropic_client() {
    let rig = Rig::start(Kind::Responses).await;
    rig.fake
        .push(fake_responses::native_reasoning_stream("get_weather"));
    let mut req = request(Case::Stream, Kind::Responses.model());
    req.tools = vec![weather_tool()];
    let reply = rig.call(Client::Anthropic, &req).await;
    let body = reply.text();
    assert_eq!(reply.status, 200, "{body}");
    lint_anthropic(&reply.body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert!(!body.contains("fc_n1"), "the item id leaked: {body}");
    let events = data(&body);
    let thinking = events
        .iter()
        .find(|e| e["delta"]["type"] == "thinking_delta")
        .unwrap_or_else(|| panic!("no thinking: {body}"));
    assert_eq!(thinking["delta"]["thinking"], "Think.", "{body}");
    let signature = events
        .iter()
        .find(|e| e["delta"]["type"] == "signature_delta")
        .unwrap_or_else(|| panic!("no signature: {body}"))["delta"]["signature"]
        .clone();
    assert_eq!(
        signature,
        format!("gw.openai.{REASONING_ID}:{ENCRYPTED}"),
        "{body}"
    );
    let tool = events
        .iter()
        .find(|e| e["content_block"]["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use: {body}"));
    assert_eq!(tool["content_block"]["id"], "call_n1", "{body}");
    assert_eq!(tool["content_block"]["name"], "get_weather", "{body}");
    let stop = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "tool_use", "{body}");

    // Turn two, as Claude Code sends it.
    rig.fake.push(upstream_reply(Case::Stream, Kind::Responses));
    let turn2 = json!({
        "model": Kind::Responses.model(),
        "max_tokens": 1024,
        "stream": true,
        "tools": [{"name": "get_weather", "description": "Weather.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Think.", "signature": signature},
                {"type": "tool_use", "id": "call_n1", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_n1", "content": "18C and sunny"}
            ]}
        ]
    });
    let reply = rig
        .send(
            Client::Anthropic,
            Kind::Responses.model(),
            true,
            turn2.to_string(),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let up = rig.upstream_request().json();
    let input = up["input"].as_array().unwrap();
    assert_eq!(up["store"], false, "{up}");
    assert_eq!(
        up["include"],
        json!(["reasoning.encrypted_content"]),
        "{up}"
    );
    let types: Vec<&str> = input.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ],
        "{up}"
    );
    assert_eq!(
        input[1],
        json!({"type": "reasoning", "id": REASONING_ID, "encrypted_content": ENCRYPTED,
            "summary": [{"type": "summary_text", "text": "Think."}]}),
        "{up}"
    );
    let call = input
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap_or_else(|| panic!("no call: {up}"));
    assert_eq!(call["call_id"], "call_n1", "{up}");
    assert!(
        call.get("id")
            .is_none_or(|id| id.as_str().is_some_and(|s| s.starts_with("fc_"))),
        "{up}"
    );
    let output = input
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .unwrap_or_else(|| panic!("no output: {up}"));
    assert_eq!(output["call_id"], "call_n1", "{up}");
    assert!(
        output["output"].to_string().contains("18C and sunny"),
        "{up}"
    );
    rig.stop().await;
}

/// A tool name longer than OpenAI's 64 characters goes out shortened and comes back whole, in
/// a stream and in a whole reply, for an Anthropic client (a Chat client's own codec would
/// already have shortened it).
#[tokio::test]
async fn a_long_tool_name_comes_back_as_the_client_sent_it() {
    let long = format!("mcp__server__{}", "x".repeat(70));
    for stream in [true, false] {
        let rig = Rig::start(Kind::Responses).await;
        let case = if stream { Case::Stream } else { Case::Plain };
        let mut req = request(case, Kind::Responses.model());
        let llm_gateway::protocol::ir::Tool::Function(mut f) = weather_tool() else {
            unreachable!()
        };
        f.name = long.clone();
        req.tools = vec![llm_gateway::protocol::ir::Tool::Function(f)];
        // What the upstream will answer: a call to the name it was given.
        let probe = Rig::start(Kind::Responses).await;
        probe.fake.push(upstream_reply(case, Kind::Responses));
        probe.call(Client::Anthropic, &req).await;
        let sent = probe.upstream_request().json();
        probe.stop().await;
        let wire = sent["tools"][0]["name"].as_str().unwrap().to_owned();
        assert!(wire.len() <= 64 && wire != long, "{wire}");
        let call = llm_gateway::protocol::ir::Block::ToolUse {
            id: "call_9".into(),
            name: wire.clone(),
            input: json!({"city": "Paris"}).into(),
            signature: None,
        };
        let stop = llm_gateway::protocol::ir::StopReason::ToolUse;
        rig.fake.push(if stream {
            fake_responses::stream(&events_of(&[call], stop))
        } else {
            fake_responses::response(&llm_gateway::protocol::ir::Response {
                id: "resp_9".into(),
                model: Kind::Responses.model().into(),
                content: vec![call],
                stop_reason: Some(stop),
                stop_sequence: None,
                usage: usage(),
                extra: Default::default(),
            })
        });
        let reply = rig.call(Client::Anthropic, &req).await;
        let body = reply.text();
        assert_eq!(reply.status, 200, "{body}");
        let seen = if stream {
            seen_stream(Client::Anthropic, &reply.body)
        } else {
            seen_whole(Client::Anthropic, &reply.body)
        };
        assert_eq!(seen.tools.len(), 1, "{body}");
        assert_eq!(seen.tools[0].0, long, "stream={stream}: {body}");
        rig.stop().await;
    }
}

/// A gateway with a Responses upstream (`gpt-5-codex`), an Anthropic one (`claude-sonnet-4-5`,
/// enforcing Claude's thinking rule) and a Gemini one (`gemini-2.5-pro`), each on its own fake:
/// a client switches between them by the model it names.
struct Switchboard {
    gw: crate::support::Gateway,
    responses: FakeOpenAi,
    anthropic: FakeOpenAi,
    gemini: FakeOpenAi,
}

impl Switchboard {
    async fn start() -> Switchboard {
        let (responses, anthropic, gemini) = (
            FakeOpenAi::start().await,
            FakeOpenAi::start().await,
            FakeOpenAi::start().await,
        );
        anthropic.set_check(crate::support::fake_anthropic::check_request);
        let rec = |kind: Kind, fake: &FakeOpenAi, name: &str| {
            let mut r = record(kind, fake);
            r.name = name.into();
            r
        };
        let view = crate::support::view(vec![
            rec(Kind::Responses, &responses, "openai"),
            rec(Kind::Anthropic, &anthropic, "claude"),
            rec(Kind::Gemini, &gemini, "google"),
        ]);
        let gw = crate::support::Gateway::start(crate::support::test_config(), view).await;
        Switchboard {
            gw,
            responses,
            anthropic,
            gemini,
        }
    }

    /// A whole (non-streamed) request from an Anthropic or Gemini client.
    async fn send(&self, client: Client, model: &str, body: &Value) -> (u16, String) {
        let http = crate::support::Gateway::client();
        let rb = match client {
            Client::Anthropic => http
                .post(self.gw.url("/v1/messages"))
                .header("x-api-key", crate::support::KEY)
                .header("anthropic-version", "2023-06-01"),
            _ => http
                .post(
                    self.gw
                        .url(&format!("/v1beta/models/{model}:generateContent")),
                )
                .header("x-goog-api-key", crate::support::KEY),
        };
        let resp = rb
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// OpenAI's whole reply (what it answers a request without `stream`) with the reasoning item
/// and the call of [`fake_responses::native_reasoning_stream`].
fn native_reasoning_reply() -> crate::support::fake_openai::Reply {
    let body = json!({
        "id": "resp_n1", "object": "response", "created_at": 1, "status": "completed",
        "model": "gpt-5-codex", "error": null, "incomplete_details": null,
        "output": [
            {"type": "reasoning", "id": REASONING_ID, "encrypted_content": ENCRYPTED,
                "summary": [{"type": "summary_text", "text": "Think."}]},
            {"type": "function_call", "id": "fc_n1", "call_id": "call_n1", "name": "get_weather",
                "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
        ],
        "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19,
            "output_tokens_details": {"reasoning_tokens": 5}}
    });
    crate::support::fake_openai::Reply::json(200, &body.to_string())
}

/// The reasoning item OpenAI gets back when its own reasoning was replayed.
fn replayed_reasoning(up: &Value) -> Vec<Value> {
    up["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .cloned()
        .collect()
}

/// Claude Code switching models mid-conversation (`/model`): OpenAI reasons and calls a tool
/// (its reasoning kept by the client as a `gw.openai.` thinking block), Claude answers the
/// tool's result with thinking on, then OpenAI gets the next turn. Claude never sees the tag
/// or the blob (it would answer 400 "Invalid `signature` in `thinking` block"; the fake
/// enforces Claude's rule that a tool turn with thinking on starts with thinking Claude
/// signed, which the gateway meets by sending that turn without thinking), and OpenAI still gets
/// its reasoning item back on the third turn.
#[tokio::test]
async fn an_anthropic_client_switching_to_claude_and_back_keeps_openai_reasoning_away_from_claude()
{
    let sb = Switchboard::start().await;
    let tools = json!([{"name": "get_weather", "description": "Weather.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    sb.responses.push(native_reasoning_reply());
    let turn1 = json!({"model": "gpt-5-codex", "max_tokens": 1024, "tools": tools,
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let (status, body) = sb.send(Client::Anthropic, "gpt-5-codex", &turn1).await;
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let assistant = reply["content"].clone();
    assert_eq!(
        assistant[0]["signature"],
        format!("gw.openai.{REASONING_ID}:{ENCRYPTED}"),
        "{body}"
    );

    // Turn two on Claude, thinking on.
    let claude_text = "It is 18C and sunny.";
    sb.anthropic.push(crate::support::fake_anthropic::message(
        &llm_gateway::protocol::ir::Response {
            id: "msg_c1".into(),
            model: "claude-sonnet-4-5".into(),
            content: vec![text(claude_text)],
            stop_reason: Some(llm_gateway::protocol::ir::StopReason::EndTurn),
            stop_sequence: None,
            usage: usage(),
            extra: Default::default(),
        },
    ));
    let mut messages = vec![
        json!({"role": "user", "content": "Weather in Paris?"}),
        json!({"role": "assistant", "content": assistant}),
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_n1", "content": "18C and sunny"}]}),
    ];
    let turn2 = json!({"model": "claude-sonnet-4-5", "max_tokens": 8000, "tools": tools,
        "thinking": {"type": "enabled", "budget_tokens": 4096}, "messages": messages});
    let (status, body) = sb
        .send(Client::Anthropic, "claude-sonnet-4-5", &turn2)
        .await;
    assert_eq!(status, 200, "{body}");
    let seen = String::from_utf8(sb.anthropic.requests()[0].body.to_vec()).unwrap();
    assert!(!seen.contains("gw.openai."), "{seen}");
    assert!(!seen.contains(ENCRYPTED), "{seen}");
    assert!(
        seen.contains("call_n1") && seen.contains("18C and sunny"),
        "{seen}"
    );

    // Turn three back on OpenAI: its reasoning item comes back.
    sb.responses
        .push(upstream_reply(Case::Plain, Kind::Responses));
    messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": claude_text}]}));
    messages.push(json!({"role": "user", "content": "And tomorrow?"}));
    let turn3 = json!({"model": "gpt-5-codex", "max_tokens": 1024, "tools": tools,
        "messages": messages});
    let (status, body) = sb.send(Client::Anthropic, "gpt-5-codex", &turn3).await;
    assert_eq!(status, 200, "{body}");
    let up = sb.responses.requests().pop().unwrap().json();
    assert_eq!(
        replayed_reasoning(&up),
        [
            json!({"type": "reasoning", "id": REASONING_ID, "encrypted_content": ENCRYPTED,
            "summary": [{"type": "summary_text", "text": "Think."}]})
        ],
        "{up}"
    );
    sb.gw.stop().await;
}

/// Gemini CLI on a Responses upstream, then on Gemini, then back: OpenAI's reasoning rides on
/// the `functionCall` part it preceded (Gemini CLI keeps no thought parts in its history, but
/// keeps a call's `thoughtSignature`), comes back to OpenAI as its reasoning item, and never
/// reaches Gemini, which would refuse a signature it did not mint.
#[tokio::test]
async fn a_gemini_client_keeps_openai_reasoning_and_never_hands_it_to_gemini() {
    let sb = Switchboard::start().await;
    let tools = json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather.",
        "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]);
    sb.responses.push(native_reasoning_reply());
    let user = json!({"role": "user", "parts": [{"text": "Weather in Paris?"}]});
    let turn1 = json!({"contents": [user], "tools": tools});
    let (status, body) = sb.send(Client::Gemini, "gpt-5-codex", &turn1).await;
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let parts = reply["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    // What Gemini CLI keeps of the reply: every part but the thoughts.
    let kept: Vec<Value> = parts
        .iter()
        .filter(|p| p["thought"] != true)
        .cloned()
        .collect();
    assert_eq!(kept.len(), 1, "{body}");
    assert_eq!(kept[0]["functionCall"]["name"], "get_weather", "{body}");
    assert_eq!(
        kept[0]["thoughtSignature"],
        format!("gw.openai.{REASONING_ID}:{ENCRYPTED}"),
        "{body}"
    );
    let contents = json!([
        user,
        {"role": "model", "parts": kept},
        {"role": "user", "parts": [{"functionResponse": {"id": "call_n1", "name": "get_weather",
            "response": {"output": "18C and sunny"}}}]}
    ]);

    // The tool's result to OpenAI: its reasoning item before the call.
    sb.responses
        .push(upstream_reply(Case::Plain, Kind::Responses));
    let turn2 = json!({"contents": contents, "tools": tools});
    let (status, body) = sb.send(Client::Gemini, "gpt-5-codex", &turn2).await;
    assert_eq!(status, 200, "{body}");
    let up = sb.responses.requests().pop().unwrap().json();
    assert_eq!(
        replayed_reasoning(&up),
        [
            json!({"type": "reasoning", "id": REASONING_ID, "encrypted_content": ENCRYPTED,
            "summary": []})
        ],
        "{up}"
    );
    let types: Vec<&str> = up["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ],
        "{up}"
    );

    // The same history to Gemini: no tag, no blob (the fast path is left for it).
    sb.gemini.push(upstream_reply(Case::Plain, Kind::Gemini));
    let (status, body) = sb.send(Client::Gemini, "gemini-2.5-pro", &turn2).await;
    assert_eq!(status, 200, "{body}");
    let seen = String::from_utf8(sb.gemini.requests()[0].body.to_vec()).unwrap();
    assert!(!seen.contains("gw.openai."), "{seen}");
    assert!(!seen.contains(ENCRYPTED), "{seen}");
    assert!(seen.contains("get_weather"), "{seen}");
    sb.gw.stop().await;
}
