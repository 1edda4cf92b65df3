//! The OpenAI Responses API served inbound (`POST /v1/responses`) over OpenAI-Chat, Anthropic
//! and Gemini upstreams: whole replies and streams, `input_tokens`, `store` with
//! `previous_response_id` (echoed, and on the fast path of a `--wire responses` upstream too),
//! the stored-reply routes (cancel included), and errors in the Responses shape.

use llm_gateway::config::ProviderKind;
use llm_gateway::config::file::SecretsBackend;
use llm_gateway::server::stored_responses::StoredResponses;
use llm_gateway::store::Store;
use serde_json::{Value, json};

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{
    Gateway, KEY, fake_anthropic, fake_gemini, fake_responses, test_config, upstream, view,
};

/// `oai` (OpenAI Chat), `ant` (Anthropic) and `gem` (Gemini) fakes serving `m-oai`, `m-ant`,
/// `m-gem`, and a store for replies (kept alive by the returned directory).
async fn gateway() -> (Gateway, [FakeOpenAi; 3], tempfile::TempDir) {
    let oai = FakeOpenAi::start().await;
    let ant = fake_anthropic::start().await;
    let gem = fake_gemini::start().await;
    let mut a = upstream("ant", &ant.root_url(), &["m-ant"], 2);
    a.provider = ProviderKind::Anthropic;
    let mut g = upstream("gem", &gem.root_url(), &["m-gem"], 3);
    g.provider = ProviderKind::Gemini;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &oai.base_url(), &["m-oai"], 1), a, g]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(&dir.path().join("g.redb"), SecretsBackend::File).unwrap();
    gw.state.set_responses(StoredResponses::new(store));
    (gw, [oai, ant, gem], dir)
}

async fn get(gw: &Gateway, path: &str) -> reqwest::Response {
    Gateway::client()
        .get(gw.url(path))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
}

fn output_text(resp: &Value) -> String {
    resp["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().iter())
        .filter_map(|c| c["text"].as_str())
        .collect()
}

/// The `data` objects of an SSE body, in order.
fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn whole_replies_over_every_upstream_kind() {
    let (gw, _fakes, _dir) = gateway().await;
    for model in ["m-oai", "m-ant", "m-gem"] {
        let body = json!({"model": model, "input": "hi", "store": false}).to_string();
        let r = gw.post("/v1/responses?beta=true", &body).await;
        assert_eq!(r.status(), 200, "{model}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "response", "{v}");
        assert_eq!(v["status"], "completed", "{v}");
        assert_eq!(v["model"], model, "{v}");
        assert_eq!(output_text(&v), "hello", "{v}");
        assert_eq!(v["usage"]["input_tokens"], 11, "{v}");
        assert_eq!(v["usage"]["output_tokens"], 2, "{v}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn streams_follow_the_event_grammar_and_are_stored() {
    let (gw, [oai, ..], _dir) = gateway().await;
    oai.push(Reply::sse(&[
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hel\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    ]));
    let body = json!({"model": "m-oai", "input": "hi", "stream": true}).to_string();
    let r = gw.post("/v1/responses", &body).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = r.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let evs = events(&text);
    assert_eq!(evs[0]["type"], "response.created", "{text}");
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e["sequence_number"], i, "{text}");
    }
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "response.completed", "{text}");
    let deltas: String = evs
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "hello");
    // `store` defaults to true: the final response object is there to fetch.
    let id = last["response"]["id"].as_str().unwrap();
    let got = get(&gw, &format!("/v1/responses/{id}")).await;
    assert_eq!(got.status(), 200);
    let got: Value = got.json().await.unwrap();
    assert_eq!(got, last["response"]);
    gw.stop().await;
}

#[tokio::test]
async fn streams_from_anthropic_and_gemini_upstreams() {
    let (gw, [_, ant, gem], _dir) = gateway().await;
    ant.push(Reply::sse(&[
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":4,\"output_tokens\":0}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ]));
    gem.push(Reply::sse(&[
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hel\"}]}}]}\n\n",
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1}}\n\n",
    ]));
    for model in ["m-ant", "m-gem"] {
        let body =
            json!({"model": model, "input": "hi", "stream": true, "store": false}).to_string();
        let r = gw.post("/v1/responses", &body).await;
        assert_eq!(r.status(), 200, "{model}");
        let text = r.text().await.unwrap();
        let evs = events(&text);
        assert_eq!(evs[0]["type"], "response.created", "{model}: {text}");
        let last = evs.last().unwrap();
        assert_eq!(last["type"], "response.completed", "{model}: {text}");
        assert_eq!(output_text(&last["response"]), "hello", "{model}: {text}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn input_tokens_counts_locally() {
    let (gw, _fakes, _dir) = gateway().await;
    let short = json!({"model": "m-oai", "input": "hi"}).to_string();
    let long = json!({"model": "m-oai", "input": "hello there ".repeat(200),
        "instructions": "be brief"})
    .to_string();
    let mut counts = Vec::new();
    for body in [short, long] {
        let r = gw.post("/v1/responses/input_tokens", &body).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "response.input_tokens", "{v}");
        counts.push(v["input_tokens"].as_u64().unwrap());
    }
    assert!(counts[0] > 0 && counts[1] > counts[0] + 100, "{counts:?}");
    gw.stop().await;
}

#[tokio::test]
async fn previous_response_id_chains_and_the_stored_routes() {
    let (gw, [oai, ..], _dir) = gateway().await;
    let first = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-oai", "input": "hi"}).to_string(),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    // The fake answers `chatcmpl-1` every time: a kept reply's id is the gateway's own, unique.

    let second = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-oai", "input": "again", "previous_response_id": id}).to_string(),
        )
        .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_ne!(second["id"], first["id"]);
    // The reply names the response it continued, and so does the kept copy.
    assert_eq!(second["previous_response_id"], id.as_str(), "{second}");
    let kept: Value = get(
        &gw,
        &format!("/v1/responses/{}", second["id"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(kept["previous_response_id"], id.as_str());
    let sent = oai.requests()[1].json();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{sent}");
    assert_eq!(sent["messages"][1]["content"], "hello", "{sent}");
    assert_eq!(sent["messages"][2]["content"], "again", "{sent}");

    let got: Value = get(&gw, &format!("/v1/responses/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, first);
    let items = get(&gw, &format!("/v1/responses/{id}/input_items")).await;
    assert_eq!(items.status(), 200);
    let items: Value = items.json().await.unwrap();
    assert_eq!(items["object"], "list", "{items}");
    assert_eq!(items["data"][0]["content"][0]["text"], "hi", "{items}");

    let deleted = Gateway::client()
        .delete(gw.url(&format!("/v1/responses/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!(deleted["deleted"], true);
    let gone = get(&gw, &format!("/v1/responses/{id}")).await;
    assert_eq!(gone.status(), 404);
    let gone: Value = gone.json().await.unwrap();
    assert!(gone["error"]["message"].as_str().unwrap().contains(&id));

    // A chain on what is gone: 400 in the Responses shape, nothing sent upstream.
    let before = oai.requests().len();
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-oai", "input": "x", "previous_response_id": id}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "previous_response_not_found", "{v}");
    assert_eq!(v["error"]["param"], "previous_response_id", "{v}");
    assert_eq!(oai.requests().len(), before);

    // `store: false` keeps nothing.
    let r: Value = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-oai", "input": "hi", "store": false}).to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    let unkept = get(&gw, &format!("/v1/responses/{}", r["id"].as_str().unwrap())).await;
    assert_eq!(unkept.status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn errors_come_in_the_responses_shape() {
    let (gw, _fakes, _dir) = gateway().await;
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "nope", "input": "hi"}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"].get("type").is_some(), "{v}");

    for bad in [
        json!({"model": "m-oai"}).to_string(),
        json!({"model": "m-oai", "input": 3}).to_string(),
        "{not json".to_owned(),
    ] {
        let r = gw.post("/v1/responses", &bad).await;
        assert_eq!(r.status(), 400, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].is_string(), "{bad}: {v}");
    }
    gw.stop().await;
}

/// A Responses upstream's whole reply, as OpenAI sends one.
fn upstream_reply(id: &str, text: &str) -> String {
    json!({
        "id": id, "object": "response", "created_at": 1, "status": "completed",
        "model": "m-rsp", "previous_response_id": null, "store": true,
        "output": [{"type": "message", "id": format!("msg_{id}"), "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    })
    .to_string()
}

/// `store` on the fast path (a `--wire responses` upstream; the body relayed with the model
/// edited): whole replies and streams are kept, so `GET` and `previous_response_id` work; the
/// chained request reaches the upstream with the whole history and `previous_response_id:
/// null`; the kept reply names the response it continued. Cancel answers what OpenAI answers
/// for a response that did not run in the background.
#[tokio::test]
async fn fast_path_replies_are_stored_and_chain() {
    let up = FakeOpenAi::start().await;
    let mut u = upstream("rsp", &up.base_url(), &["m-rsp"], 1);
    u.wire = Some(llm_gateway::store::records::Wire::Responses);
    let gw = Gateway::start(test_config(), view(vec![u])).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(&dir.path().join("g.redb"), SecretsBackend::File).unwrap();
    gw.state.set_responses(StoredResponses::new(store));

    up.push(Reply::json(200, &upstream_reply("resp_up1", "hello")));
    let first = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-rsp", "input": "hi"}).to_string(),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["id"], "resp_up1", "relayed as it is: {first}");
    assert_eq!(up.requests()[0].path, "/v1/responses");
    let kept = get(&gw, "/v1/responses/resp_up1").await;
    assert_eq!(kept.status(), 200);
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(output_text(&kept), "hello");

    up.push(Reply::json(
        200,
        &upstream_reply("resp_up2", "again to you"),
    ));
    let second = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-rsp", "input": "again", "previous_response_id": "resp_up1"})
                .to_string(),
        )
        .await;
    assert_eq!(second.status(), 200);
    let sent = up.requests()[1].json();
    assert_eq!(sent["previous_response_id"], Value::Null, "{sent}");
    assert_eq!(sent["model"], "m-rsp");
    let input = sent["input"].as_array().unwrap();
    assert_eq!(input.len(), 3, "{sent}");
    assert_eq!(input[0]["content"][0]["text"], "hi");
    assert_eq!(input[1]["role"], "assistant");
    assert_eq!(input[1]["content"][0]["text"], "hello");
    assert_eq!(input[2]["content"][0]["text"], "again");
    let kept: Value = get(&gw, "/v1/responses/resp_up2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["previous_response_id"], "resp_up1", "{kept}");
    let items: Value = get(&gw, "/v1/responses/resp_up2/input_items")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 3, "{items}");

    // A stream: kept from its terminal event.
    up.push(fake_responses::native_reasoning_stream("get_weather"));
    let streamed = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-rsp", "input": "x", "stream": true}).to_string(),
        )
        .await;
    assert_eq!(streamed.status(), 200);
    let body = streamed.text().await.unwrap();
    assert!(body.contains("response.completed"), "{body}");
    let kept = get(&gw, "/v1/responses/resp_n1").await;
    assert_eq!(kept.status(), 200);
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(kept["status"], "completed");

    // `store: false` on the fast path keeps nothing.
    up.push(Reply::json(200, &upstream_reply("resp_up3", "unkept")));
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "m-rsp", "input": "hi", "store": false}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(get(&gw, "/v1/responses/resp_up3").await.status(), 404);

    // Cancel: nothing runs in the background, so OpenAI's 400; an unknown id is a 404.
    let cancel = |id: &str| {
        Gateway::client()
            .post(gw.url(&format!("/v1/responses/{id}/cancel")))
            .bearer_auth(KEY)
            .send()
    };
    let r = cancel("resp_up1").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"], "Cannot cancel a synchronous response.",
        "{v}"
    );
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["param"].is_null() && v["error"]["code"].is_null(),
        "{v}"
    );
    let r = cancel("resp_nope").await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resp_nope")
    );
    // Without a key: refused before anything is looked up.
    let r = Gateway::client()
        .post(gw.url("/v1/responses/resp_up1/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    gw.stop().await;
}

/// A Responses upstream cut in the middle of an event, on the fast path: the client gets only
/// whole events (the partial one is never relayed, whichever chunk it started in) and then
/// `response.failed`, numbered after the last whole event, so every frame parses. The same
/// stream cut between events, and one that ends cleanly, are relayed byte for byte.
#[tokio::test]
async fn a_fast_path_stream_cut_mid_event_ends_with_whole_events() {
    let up = FakeOpenAi::start().await;
    let mut u = upstream("rsp", &up.base_url(), &["m-rsp"], 1);
    u.wire = Some(llm_gateway::store::records::Wire::Responses);
    let gw = Gateway::start(test_config(), view(vec![u])).await;

    let [created, added, part, d3, d4] = fake_responses::cut_events();
    let (d4a, _) = d4.split_at(d4.len() / 2);
    let body = |b: &str| {
        json!({"model": "m-rsp", "input": "hi", "stream": true, "store": false, "x": b}).to_string()
    };

    // The partial event begins in the chunk that ends the last whole one, and goes on in the
    // next chunk; then the connection drops.
    up.push(fake_responses::cut_mid_event());
    let r = gw.post("/v1/responses", &body("cut")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let whole = format!("{created}{added}{part}{d3}");
    assert!(text.starts_with(&whole), "{text}");
    let tail = &text[whole.len()..];
    assert!(
        tail.starts_with("event: response.failed\ndata: ") && tail.ends_with("}\n\n"),
        "only response.failed after the whole events: {tail:?}"
    );
    assert!(
        !text.contains("lo, w"),
        "the partial delta was relayed: {text}"
    );
    let frames: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(frames.len(), 5, "{text}");
    let mut seqs = Vec::new();
    for f in frames {
        let (name, data) = f
            .strip_prefix("event: ")
            .and_then(|f| f.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("not a whole event: {f:?}"));
        let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        assert_eq!(v["type"], name, "{v}");
        seqs.push(v["sequence_number"].as_u64().unwrap());
    }
    assert_eq!(seqs, [0, 1, 2, 3, 4], "numbered on from the whole events");
    let failed = events(&text).pop().unwrap();
    assert_eq!(failed["response"]["id"], "resp_cut", "{failed}");
    assert_eq!(failed["response"]["status"], "failed", "{failed}");
    assert!(failed["response"]["error"]["code"].is_string(), "{failed}");

    // Whole events in odd chunks (an event split in three, one chunk with two and a half),
    // ending cleanly: the client gets the upstream's bytes exactly.
    let all = format!("{created}{added}{part}{d3}{d4}");
    let cuts = [7, 40, 300, all.len() - 3];
    let mut chunks = Vec::new();
    let mut at = 0;
    for c in cuts.iter().copied().chain([all.len()]) {
        chunks.push(all[at..c].to_string());
        at = c;
    }
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    up.push(Reply::sse(&refs));
    let text = gw
        .post("/v1/responses", &body("odd"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, all);

    // An upstream that ends (cleanly) in the middle of an event: its bytes as it sent them.
    let unfinished = format!("{created}{d4a}");
    up.push(Reply::sse(&[&created, d4a]));
    let text = gw
        .post("/v1/responses", &body("end"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, unfinished);
    gw.stop().await;
}
