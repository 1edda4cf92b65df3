//! A Responses-API upstream (`upstream add --provider openai --wire responses`) for every
//! client dialect, stream and not: the conformance matrix's cases on a `Kind::Responses`
//! upstream (kept here, as `azure.rs` does, rather than in `matrix.rs`), then what only this
//! wire does: call ids (`fc_` item ids never reach the client, `call_` ids round-trip), OpenAI's
//! own encrypted reasoning replayed to it on the next turn, and long tool names restored. The
//! replies are `support::fake_responses`.

use serde_json::{Value, json};

use super::rig::*;
use crate::support::fake_responses::{self, ENCRYPTED};

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
/// client gets the reasoning summary as thinking and a `tool_use` whose id is the `call_` id,
/// never the `fc_` item id. Turn two: the client replays the call with the tool's result; the
/// upstream gets the call and its output under the same `call_` id. (OpenAI's encrypted
/// reasoning has no carrier in the Anthropic dialect yet, so the thinking block comes without
/// a signature and the upstream gets no reasoning item back; a Responses client replays it,
/// see the unit tests of `protocol::responses::request`.)
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
    assert!(
        !body.contains(ENCRYPTED),
        "a bare OpenAI blob reached the client: {body}"
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
    assert!(
        input.iter().all(|i| i["type"] != "reasoning"),
        "unsigned reasoning must not be sent: {up}"
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
