//! The same-protocol fast path: bodies forwarded with only the model edited, replies passed
//! through byte for byte, streams chunk by chunk, cancellation, usage.

use std::time::{Duration, Instant};

use crate::support::fake_openai::{CHAT_REPLY, FakeOpenAi, Reply};
use crate::support::{Gateway, test_config, upstream, view};

const BODY: &str = "{\"model\": \"oai/gpt-test\",\n  \"messages\": [{\"role\":\"user\",\"content\":\"h\\u00e9llo\"}],\n  \"temperature\": 0.70, \"custom_field\": {\"b\": 1, \"a\": 2}}";

#[tokio::test]
async fn non_stream_passes_through_byte_for_byte() {
    let fake = FakeOpenAi::start().await;
    let length = CHAT_REPLY.len().to_string();
    fake.set_default(
        Reply::json(200, CHAT_REPLY)
            .header("x-request-id", "req-123")
            .header("content-length", &length),
    );
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["gpt-test"], 100)]),
    )
    .await;

    let resp = gw.post("/v1/chat/completions", BODY).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["x-request-id"], "req-123");
    assert_eq!(resp.bytes().await.unwrap(), CHAT_REPLY.as_bytes());

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].headers["authorization"], "Bearer sk-fake-oai");
    // Only the model changed; every other byte (spacing, key order, escapes) is the client's.
    assert_eq!(
        std::str::from_utf8(&reqs[0].body).unwrap(),
        BODY.replace("\"oai/gpt-test\"", "\"gpt-test\"")
    );

    // Usage from the reply's `usage`.
    let rows = gw.state.ledger().take();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].upstream.as_str(), rows[0].model.as_str()),
        ("oai", "gpt-test")
    );
    assert_eq!(rows[0].counters.requests, 1);
    // A whole reply is a success, though the server drops a body with a length unpolled.
    assert_eq!(rows[0].counters.errors, 0);
    assert_eq!(rows[0].counters.input_tokens, 11);
    assert_eq!(rows[0].counters.output_tokens, 2);
    gw.stop().await;
}

#[tokio::test]
async fn chunked_upload_arrives_whole_with_host_and_key() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::json(200, CHAT_REPLY));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["gpt-test"], 100)]),
    )
    .await;
    // No content-length, three frames apart in time: the body is joined before it is read.
    let pieces: Vec<Result<String, std::io::Error>> = vec![
        Ok(BODY[..20].to_string()),
        Ok(BODY[20..60].to_string()),
        Ok(BODY[60..].to_string()),
    ];
    let slow = futures_util::StreamExt::then(futures_util::stream::iter(pieces), |p| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        p
    });
    let resp = Gateway::client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(crate::support::KEY)
        .body(reqwest::Body::wrap_stream(slow))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), CHAT_REPLY.as_bytes());
    let reqs = fake.requests();
    assert_eq!(
        std::str::from_utf8(&reqs[0].body).unwrap(),
        BODY.replace("\"oai/gpt-test\"", "\"gpt-test\"")
    );
    // The request made ahead per upstream carries what a per-request one would.
    let root = fake.root_url();
    assert_eq!(
        reqs[0].headers["host"],
        root.trim_start_matches("http://").trim_end_matches('/')
    );
    assert_eq!(reqs[0].headers["authorization"], "Bearer sk-fake-oai");
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    gw.stop().await;
}

#[tokio::test]
async fn one_upstream_connection_carries_the_requests_in_turn() {
    let fake = FakeOpenAi::start().await;
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["gpt-test"], 100)]),
    )
    .await;
    let events = stream_events();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.push(Reply::json(200, CHAT_REPLY));
    fake.push(Reply::sse(&refs).chunk_delay(Duration::from_millis(5)));
    fake.push(Reply::json(
        400,
        r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
    ));
    fake.push(Reply::json(200, CHAT_REPLY));
    let stream_body = BODY.replace("{\"model\"", "{\"stream\": true, \"model\"");
    for (body, want) in [(BODY, 200), (&*stream_body, 200), (BODY, 400), (BODY, 200)] {
        let resp = gw.post("/v1/chat/completions", body).await;
        assert_eq!(resp.status(), want);
        resp.bytes().await.unwrap();
    }
    // Each reply read to its end gives the connection back for the next request.
    let peers: Vec<_> = fake.requests().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 4);
    assert!(peers[0].is_some());
    assert!(peers.iter().all(|p| *p == peers[0]), "{peers:?}");
    gw.stop().await;
}

fn stream_events() -> Vec<String> {
    let mut ev: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}}}}]}}\n\n"
            )
        })
        .collect();
    ev.push("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":5,\"total_tokens\":12}}\n\n".into());
    ev.push("data: [DONE]\n\n".into());
    ev
}

#[tokio::test]
async fn stream_passes_through_chunk_by_chunk() {
    let fake = FakeOpenAi::start().await;
    let events = stream_events();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let reply = Reply::sse(&refs).chunk_delay(Duration::from_millis(150));
    let want = reply.body();
    fake.set_default(reply);
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["gpt-test"], 100)]),
    )
    .await;

    let body = r#"{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    let started = Instant::now();
    let mut resp = gw.post("/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut got = Vec::new();
    let mut first_at = None;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        first_at.get_or_insert_with(|| started.elapsed());
        got.extend_from_slice(&chunk);
    }
    let total = started.elapsed();
    assert_eq!(got, want, "byte for byte");
    // 7 chunks 150 ms apart: the first must arrive long before the last was even sent.
    let first_at = first_at.unwrap();
    assert!(
        first_at + Duration::from_millis(500) < total,
        "first chunk at {first_at:?}, end at {total:?}: the reply was buffered"
    );
    // The body went upstream untouched (the client asked for usage itself).
    assert_eq!(fake.requests()[0].body, body.as_bytes());

    let rows = gw.state.ledger().take();
    assert_eq!(rows[0].counters.input_tokens, 7);
    assert_eq!(rows[0].counters.output_tokens, 5);
    assert_eq!(rows[0].counters.errors, 0);
    gw.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream() {
    let fake = FakeOpenAi::start().await;
    let events: Vec<String> = (0..200)
        .map(|i| format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{i}\"}}}}]}}\n\n"))
        .collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.set_default(Reply::sse(&refs).chunk_delay(Duration::from_millis(50)));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 100)]),
    )
    .await;

    let mut resp = gw
        .post(
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"messages":[]}"#,
        )
        .await;
    assert!(resp.chunk().await.unwrap().is_some());
    drop(resp);
    assert!(
        fake.wait_cancelled(Duration::from_secs(5)).await,
        "the upstream stream was not cancelled"
    );
    gw.stop().await;
}

#[tokio::test]
async fn stream_cut_mid_way_ends_with_an_error_event() {
    let fake = FakeOpenAi::start().await;
    let events = stream_events();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    fake.set_default(
        Reply::sse(&refs)
            .chunk_delay(Duration::from_millis(50))
            .cut_after(2),
    );
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 100)]),
    )
    .await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"messages":[]}"#,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with(&format!("{}{}", events[0], events[1])),
        "{text}"
    );
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("data: {\"error\":"), "{text}");
    let err: serde_json::Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(err["error"]["type"], "server_error");
    let rows = gw.state.ledger().take();
    assert_eq!(rows[0].counters.errors, 1);
    gw.stop().await;
}

/// A stream relayed past a limit ends with an error event naming it, and the upstream request
/// is cancelled: silence longer than `idle_secs`, and an upstream that keeps sending (each
/// chunk within `idle_secs`) past `total_secs`. The two limits share one timer, which must move
/// on to the total deadline each time the idle one is pushed back.
#[tokio::test]
async fn a_relayed_stream_ends_at_the_idle_and_the_total_limit() {
    let events = stream_events();
    // (filler chunks, delay between chunks, total_secs, the limit named)
    for (fillers, delay_ms, total_secs, limit) in
        [(0, 1500, 30, "idle_secs"), (12, 300, 2, "total_secs")]
    {
        let fake = FakeOpenAi::start().await;
        let mut reply = Reply::sse(&[events[0].as_str()]);
        for _ in 0..fillers {
            reply
                .chunks
                .push(bytes::Bytes::from_static(b": still here\n\n"));
        }
        reply
            .chunks
            .push(bytes::Bytes::from_static(b"data: late\n\n"));
        fake.set_default(reply.chunk_delay(Duration::from_millis(delay_ms)));
        let mut config = test_config();
        config.timeouts.idle_secs = 1;
        config.timeouts.first_byte_secs = 3;
        config.timeouts.total_secs = total_secs;
        let gw = Gateway::start(
            config,
            view(vec![upstream("oai", &fake.base_url(), &["m"], 100)]),
        )
        .await;
        let resp = gw
            .post(
                "/v1/chat/completions",
                r#"{"model":"m","stream":true,"messages":[]}"#,
            )
            .await;
        let text = resp.text().await.unwrap();
        assert!(text.starts_with(&events[0]), "{text}");
        assert_eq!(text.contains(": still here"), fillers > 0, "{text}");
        assert!(!text.contains("late"), "{text}");
        assert!(text.contains(limit), "{text}");
        assert!(fake.wait_cancelled(Duration::from_secs(3)).await);
        gw.stop().await;
    }
}

#[tokio::test]
async fn legacy_completions_and_upstream_errors_pass_through() {
    let fake = FakeOpenAi::start().await;
    let upstream_err = r#"{"error":{"message":"This model's maximum context length is 10 tokens","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}"#;
    fake.push(Reply::json(
        200,
        r#"{"object":"text_completion","choices":[{"text":"hi"}]}"#,
    ));
    fake.push(Reply::json(400, upstream_err).header("x-upstream", "yes"));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 100)]),
    )
    .await;
    let resp = gw
        .post(
            "/v1/completions",
            r#"{"model":"m","prompt":"say hi","max_tokens":3}"#,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.requests()[0].path, "/v1/completions");
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"object":"text_completion","choices":[{"text":"hi"}]}"#
    );

    let resp = gw
        .post("/v1/chat/completions", r#"{"model":"m","messages":[]}"#)
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    assert_eq!(resp.text().await.unwrap(), upstream_err);
    gw.stop().await;
}

#[tokio::test]
async fn rules_edit_the_body_for_matching_models() {
    let fake = FakeOpenAi::start().await;
    let mut config = test_config();
    config.rules = toml::from_str::<toml::Table>(
        r#"
[[rules]]
match = "gpt-*"
unset = ["top_p"]
set = { temperature = 0.2 }
extra = { reasoning_effort = "low" }
[[rules]]
match = "default"
set = { seed = 1 }
"#,
    )
    .unwrap()
    .get("rules")
    .unwrap()
    .clone()
    .try_into()
    .unwrap();
    let gw = Gateway::start(
        config,
        view(vec![upstream(
            "oai",
            &fake.base_url(),
            &["gpt-x", "llama"],
            100,
        )]),
    )
    .await;
    gw.post(
        "/v1/chat/completions",
        r#"{"model":"gpt-x","top_p":0.9,"messages":[],"temperature":1}"#,
    )
    .await;
    gw.post("/v1/chat/completions", r#"{"model":"llama","messages":[]}"#)
        .await;
    let reqs = fake.requests();
    assert_eq!(
        std::str::from_utf8(&reqs[0].body).unwrap(),
        r#"{"model":"gpt-x","messages":[],"temperature":0.2,"reasoning_effort":"low"}"#
    );
    assert_eq!(reqs[1].json()["seed"], 1);
    gw.stop().await;
}

#[tokio::test]
async fn client_gone_before_the_first_byte_cancels_the_upstream() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::json(200, CHAT_REPLY).delay_first_byte(Duration::from_secs(4)));
    let gw = Gateway::start(
        test_config(),
        view(vec![upstream("oai", &fake.base_url(), &["m"], 100)]),
    )
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let sent = client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(crate::support::KEY)
        .body(r#"{"model":"m","messages":[]}"#)
        .send()
        .await;
    assert!(sent.is_err(), "the client timed out");
    assert!(
        fake.wait_cancelled(Duration::from_secs(2)).await,
        "the upstream request outlived its client"
    );
    gw.stop().await;
}

#[tokio::test]
async fn output_tokens_over_the_model_cap_are_clamped() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::json(200, CHAT_REPLY));
    let mut ds = upstream("ds", &fake.base_url(), &["deepseek-chat"], 100);
    ds.provider = llm_gateway::config::ProviderKind::Deepseek;
    let gw = Gateway::start(test_config(), view(vec![ds])).await;

    // DeepSeek refuses max_tokens above 8192 for deepseek-chat (400): the gateway lowers it.
    let body = r#"{"model":"deepseek-chat","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = gw.post("/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    let body = r#"{"model":"deepseek-chat","max_tokens":512,"messages":[]}"#;
    assert_eq!(gw.post("/v1/chat/completions", body).await.status(), 200);

    let reqs = fake.requests();
    assert_eq!(
        std::str::from_utf8(&reqs[0].body).unwrap(),
        r#"{"model":"deepseek-chat","max_tokens":8192,"messages":[{"role":"user","content":"hi"}]}"#
    );
    // Under the cap: the client's bytes.
    assert_eq!(std::str::from_utf8(&reqs[1].body).unwrap(), body);
    gw.stop().await;
}

/// A conversation begun on Gemini (its thinking handed to the Anthropic client under the
/// gateway's `gw.gemini.` wrapping) and continued on an Anthropic upstream: forwarded as it is,
/// Anthropic would answer 400 "Invalid `signature` in `thinking` block". Such a body leaves the
/// fast path; the foreign thinking is dropped, Anthropic's own signed thinking and the tool
/// turns stay. A body without the wrapping is still forwarded byte for byte.
#[tokio::test]
async fn foreign_signed_thinking_never_reaches_anthropic_on_the_fast_path() {
    use crate::support::{KEY, fake_anthropic};
    use llm_gateway::config::ProviderKind;

    let fake = fake_anthropic::start().await;
    let mut up = upstream("ant", &fake.root_url(), &["claude-x"], 1);
    up.provider = ProviderKind::Anthropic;
    let gw = Gateway::start(test_config(), view(vec![up])).await;
    let history = |gemini_sig: &str| {
        format!(
            r#"{{"model":"claude-x","max_tokens":64,"messages":[
            {{"role":"user","content":"list the files"}},
            {{"role":"assistant","content":[
              {{"type":"thinking","thinking":"I should run ls","signature":"{gemini_sig}"}},
              {{"type":"tool_use","id":"toolu_1","name":"bash","input":{{"command":"ls"}}}}]}},
            {{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"a.txt"}}]}},
            {{"role":"assistant","content":[
              {{"type":"thinking","thinking":"one file","signature":"sig-anthropic-native"}},
              {{"type":"text","text":"There is a.txt."}}]}},
            {{"role":"user","content":"thanks"}}],
            "tools":[{{"name":"bash","input_schema":{{"type":"object"}}}}]}}"#
        )
    };
    let send = |body: String| {
        Gateway::client()
            .post(gw.url("/v1/messages"))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let resp = send(history("gw.gemini.c2lnbmF0dXJl")).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let seen = String::from_utf8(fake.requests()[0].body.to_vec()).unwrap();
    assert!(!seen.contains("gw.gemini."), "{seen}");
    assert!(!seen.contains("I should run ls"), "{seen}");
    assert!(seen.contains("sig-anthropic-native"), "{seen}");
    assert!(seen.contains("toolu_1") && seen.contains("a.txt"), "{seen}");

    // Anthropic's own signatures only: the client's bytes as they are.
    let own = history("sig-anthropic-earlier");
    let resp = send(own.clone()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.requests()[1].body, own.as_bytes());
    gw.stop().await;
}
