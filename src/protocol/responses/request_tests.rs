use super::*;
use crate::protocol::codec::RequestHints;
use crate::protocol::responses::envelope::Carried;
use crate::protocol::{anthropic, gemini};
use serde_json::json;

const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";

/// The shape Codex 0.171.0 sends on its third request of a tool loop (reference §6.3, §6.4).
fn codex_request() -> Value {
    let sig = envelope::seal(&Carried::AnthropicThinking("EqQBsig".into()));
    json!({
        "model": "gpt-5.5-claude",
        "stream": true,
        "store": false,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a-thread",
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "high", "summary": "auto"},
        "client_metadata": {"x-codex-installation-id": "i"},
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Run a command.",
             "strict": false, "parameters": {"type": "object",
                "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
            {"type": "custom", "name": "apply_patch", "description": "Edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.", "tools": [
                {"type": "function", "name": "spawn_agent", "strict": false,
                 "parameters": {"type": "object", "properties": {}}}]},
            {"type": "web_search", "external_web_access": false},
            {"type": "tool_search", "execution": "client"}
        ],
        "input": [
            {"type": "message", "role": "developer", "id": "msg_a",
             "content": [{"type": "input_text", "text": "You are Codex."}]},
            {"type": "message", "role": "developer", "id": "msg_b",
             "content": [{"type": "input_text", "text": "Permissions: workspace-write."}]},
            {"type": "message", "role": "user", "id": "msg_c",
             "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Create hello.txt"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Plan it."}],
             "content": null, "encrypted_content": sig},
            {"type": "function_call", "status": "completed", "id": "fc_1", "name": "exec_command",
             "arguments": "{\"cmd\":\"ls\"}", "call_id": "toolu_01"},
            {"type": "function_call", "status": "completed", "id": "fc_2", "name": "spawn_agent",
             "namespace": "multi_agent_v1", "arguments": "{}", "call_id": "toolu_02"},
            {"type": "function_call_output", "id": "fco_1", "call_id": "toolu_01", "output": "a.txt"},
            {"type": "function_call_output", "id": "fco_2", "call_id": "toolu_02", "output": "spawned"},
            {"type": "custom_tool_call", "id": "ctc_1", "status": "completed", "call_id": "toolu_03",
             "name": "apply_patch", "input": PATCH},
            {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": "toolu_03",
             "output": "Exit code: 0\nDone!"},
            {"type": "function_call_output", "call_id": "call_orphan", "output": "nobody asked"},
            {"type": "tool_search_call", "arguments": {"q": "x"}, "execution": "client"},
            {"type": "message", "role": "developer", "content": "Later reminder."}
        ]
    })
}

fn decode(v: &Value) -> ir::Request {
    decode_request(v.to_string().as_bytes(), &RequestHints::default()).unwrap()
}

#[test]
fn decodes_a_codex_request() {
    let req = decode(&codex_request());
    assert!(req.stream);
    let system: Vec<&str> = req.system.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(system, ["You are Codex.", "Permissions: workspace-write."]);
    // user (two messages merged), assistant (thinking, two calls), results, assistant
    // (custom call), result, mid-conversation system.
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::System
        ]
    );
    let turn = &req.messages[1].content;
    assert!(
        matches!(&turn[0], Block::Thinking { text, signature: Some(Signature {
        origin: Dialect::Anthropic, value }) } if text == "Plan it." && value == "EqQBsig")
    );
    assert!(matches!(&turn[1], Block::ToolUse { id, name, input, .. }
        if id == "toolu_01" && name == "exec_command" && input["cmd"] == "ls"));
    assert!(
        matches!(&turn[2], Block::ToolUse { name, .. } if name == "multi_agent_v1__spawn_agent")
    );
    let results = &req.messages[2].content;
    assert_eq!(results.len(), 2, "the orphan output is dropped");
    assert!(
        matches!(&req.messages[3].content[0], Block::ToolUse { input, .. }
        if input["input"] == PATCH)
    );
    // Tools: three functions, the hosted ones kept for Responses upstreams only.
    let names: Vec<&str> = req
        .tools
        .iter()
        .filter_map(|t| match t {
            ir::Tool::Function(f) => Some(f.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        ["exec_command", "apply_patch", "multi_agent_v1__spawn_agent"]
    );
    let t = req.thinking.as_ref().unwrap();
    assert_eq!(
        (t.mode, t.effort),
        (ThinkingMode::Enabled, Some(Effort::High))
    );
    let extra = req.extra.for_dialect(Dialect::Responses).unwrap();
    assert_eq!(extra["prompt_cache_key"], "019a-thread");
    assert_eq!(extra["store"], false);
}

#[test]
fn codex_request_reaches_anthropic_signed_and_with_a_string_tool() {
    let req = decode(&codex_request());
    let w = serde_json::to_value(anthropic::encode_request(&req).unwrap()).unwrap();
    let system = w["system"].to_string();
    assert!(system.contains("You are Codex.") && system.contains("workspace-write"));
    let turn = &w["messages"][1]["content"];
    assert_eq!(turn[0]["type"], "thinking");
    assert_eq!(turn[0]["signature"], "EqQBsig");
    assert_eq!(turn[0]["thinking"], "Plan it.");
    assert_eq!(turn[1]["type"], "tool_use");
    let tools = w["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3, "hosted tools dropped: {tools:?}");
    assert_eq!(tools[1]["name"], "apply_patch");
    assert_eq!(tools[1]["input_schema"]["required"], json!(["input"]));
    assert_eq!(w["messages"][3]["content"][0]["input"]["input"], PATCH);
}

#[test]
fn anthropic_envelope_never_reaches_gemini() {
    let req = decode(&codex_request());
    let w = serde_json::to_value(gemini::encode_request(&req).unwrap()).unwrap();
    let text = w.to_string();
    assert!(!text.contains("EqQBsig"), "{text}");
    assert!(!text.contains("lgw1."), "{text}");
}

#[test]
fn gemini_envelopes_sign_the_call_and_the_text_again() {
    let call = envelope::seal(&Carried::GeminiCall("GSIG_CALL".into()));
    let text = envelope::seal(&Carried::GeminiText("GSIG_TEXT".into()));
    let body = json!({"model": "g", "input": [
        {"role": "user", "content": "hi"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
        {"type": "reasoning", "id": "rs_t", "summary": [], "encrypted_content": text},
        {"type": "reasoning", "id": "rs_c", "summary": [], "encrypted_content": call},
        {"type": "function_call", "name": "ls", "arguments": "{}", "call_id": "gcall_1"},
        {"type": "function_call_output", "call_id": "gcall_1", "output": "ok"},
        {"type": "reasoning", "id": "rs_x", "summary": [{"type": "summary_text", "text": "t"}],
         "encrypted_content": "lgw1.anthropic.thinking.***garbled"}
    ]});
    let req = decode(&body);
    let turn = &req.messages[1].content;
    assert!(matches!(&turn[0], Block::Text { signature: Some(s), .. } if s.value == "GSIG_TEXT"));
    assert!(
        matches!(&turn[1], Block::ToolUse { signature: Some(s), .. } if s.value == "GSIG_CALL")
    );
    // A garbled envelope is dropped, the thought kept unsigned.
    assert!(matches!(
        &req.messages[3].content[0],
        Block::Thinking {
            signature: None,
            ..
        }
    ));
    let w = serde_json::to_value(gemini::encode_request(&req).unwrap()).unwrap();
    let parts = &w["contents"][1]["parts"];
    assert_eq!(parts[0]["thoughtSignature"], "GSIG_TEXT");
    assert_eq!(parts[1]["thoughtSignature"], "GSIG_CALL");
}

#[test]
fn string_input_instructions_and_format() {
    let body = json!({"model": "m", "input": "Hello", "instructions": "Be brief.",
        "max_output_tokens": 100, "temperature": 0.5,
        "text": {"format": {"type": "json_schema", "name": "out", "strict": true,
            "schema": {"type": "object"}}, "verbosity": "low"},
        "tool_choice": {"type": "function", "name": "f"}, "unknown_future_field": 1});
    let req = decode(&body);
    assert_eq!(req.system[0].text, "Be brief.");
    assert!(matches!(&req.messages[0].content[0], Block::Text { text, .. } if text == "Hello"));
    assert_eq!(req.max_tokens, Some(100));
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("f".into())));
    assert!(
        matches!(&req.response_format, Some(ResponseFormat::JsonSchema { name: Some(n),
        strict: Some(true), .. }) if n == "out")
    );
}

#[test]
fn conversation_and_bad_roles_are_clear_errors() {
    let err = decode_request(
        br#"{"model":"m","input":"x","conversation":"conv_1"}"#,
        &RequestHints::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("conversation"), "{err}");
    let err = decode_request(
        br#"{"model":"m","input":[{"role":"robot","content":"x"}]}"#,
        &RequestHints::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("input[0].role"), "{err}");
}

#[test]
fn additional_tools_are_merged() {
    let body = json!({"model": "gpt-6.2-sol", "input": [
        {"type": "additional_tools", "role": "developer", "tools": [
            {"type": "namespace", "name": "functions", "tools": [
                {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                {"type": "custom", "name": "exec"}]}]},
        {"role": "user", "content": "go"}]});
    let req = decode(&body);
    assert_eq!(req.tools.len(), 2);
    let map = ToolMap::for_request(&req);
    let exec = map.get("functions__exec").unwrap();
    assert!(exec.custom);
    assert_eq!(exec.namespace.as_deref(), Some("functions"));
}

#[test]
fn encodes_for_a_responses_upstream() {
    // An Anthropic client's tool loop: ids `call_` stay call ids; no `fc` item ids are invented.
    let body = json!({"model": "claude", "max_tokens": 8, "system": "Sys.",
        "thinking": {"type": "enabled", "budget_tokens": 12000},
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "ls"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "t", "signature": "anthropic-sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a", "is_error": true}]}]});
    let req =
        anthropic::decode_request(body.to_string().as_bytes(), &RequestHints::default()).unwrap();
    let w = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert_eq!(w["store"], false);
    assert_eq!(w["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(w["instructions"], "Sys.");
    assert_eq!(w["max_output_tokens"], 16);
    assert_eq!(w["reasoning"], json!({"effort": "high", "summary": "auto"}));
    let input = w["input"].as_array().unwrap();
    // The Anthropic thought is not OpenAI's: not replayed.
    assert_eq!(input.len(), 3, "{input:?}");
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "toolu_1", "name": "Bash",
        "arguments": "{\"command\":\"ls\"}"})
    );
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "toolu_1",
        "output": "Error: a"})
    );
    assert_eq!(
        w["tools"][0],
        json!({"type": "function", "name": "Bash", "description": null,
        "parameters": {"type": "object"}, "strict": false})
    );
}

#[test]
fn responses_round_trip_keeps_native_reasoning_and_custom_tools() {
    let mut body = codex_request();
    body["input"].as_array_mut().unwrap().push(
        json!({"type": "reasoning", "id": "rs_native", "summary": [],
            "encrypted_content": "gAAAAABnative=="}),
    );
    body["input"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "user", "content": "next"}));
    let req = decode(&body);
    let w = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert_eq!(w.get("client_metadata"), None);
    assert_eq!(w["store"], false);
    let input = w["input"].as_array().unwrap();
    let native: Vec<&Value> = input.iter().filter(|i| i["type"] == "reasoning").collect();
    assert_eq!(
        native.len(),
        1,
        "only OpenAI's own reasoning goes back: {native:?}"
    );
    assert_eq!(native[0]["encrypted_content"], "gAAAAABnative==");
    assert_eq!(native[0]["id"], "rs_native");
    let custom = input
        .iter()
        .find(|i| i["type"] == "custom_tool_call")
        .unwrap();
    assert_eq!(custom["input"], PATCH);
    assert!(input.iter().any(|i| i["type"] == "custom_tool_call_output"));
    let ns = input.iter().find(|i| i["name"] == "spawn_agent").unwrap();
    assert_eq!(ns["namespace"], "multi_agent_v1");
    assert!(
        input
            .iter()
            .all(|i| i.get("id").is_none() || i["type"] == "reasoning")
    );
    let tools = w["tools"].as_array().unwrap();
    assert_eq!(tools[1]["type"], "custom");
    assert_eq!(tools[2]["type"], "namespace");
    assert_eq!(tools[3]["type"], "web_search");
}

#[test]
fn long_call_ids_are_shortened_consistently() {
    let long = "x".repeat(80);
    let a = wire_call_id(&long);
    assert_eq!(a.len(), 64);
    assert_eq!(a, wire_call_id(&long));
    assert_eq!(wire_call_id("call_1"), "call_1");
}

#[test]
fn turns_around_a_dropped_orphan_call_become_one_and_stay_one() {
    // Found by the fuzzer: a call without an output between two user messages.
    let body = json!({"input": [
        {"role": "user", "content": [{"type": "input_text", "text": "a"}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"role": "user", "content": [{"type": "input_text", "text": "b"}]}
    ]});
    let hints = crate::protocol::codec::RequestHints::default();
    let first = decode_request(body.to_string().as_bytes(), &hints).unwrap();
    assert_eq!(first.messages.len(), 1, "{:?}", first.messages);
    assert_eq!(first.messages[0].content.len(), 2);
    let again = serde_json::to_vec(&encode_request(&first).unwrap()).unwrap();
    let second = decode_request(&again, &hints).unwrap();
    assert_eq!(second.messages, first.messages);
}

#[test]
fn the_gateways_previous_response_id_is_echoed_but_never_sent_upstream() {
    let body = json!({"model": "m", "input": "again", "previous_response_id": "resp_gw1",
                      "metadata": {"k": "v"}});
    let req = decode_request(body.to_string().as_bytes(), &RequestHints::default()).unwrap();
    assert_eq!(
        super::super::reply_context(&req).echo["previous_response_id"],
        "resp_gw1"
    );
    let w = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert!(w.get("previous_response_id").is_none(), "{w}");
    assert_eq!(w["metadata"], json!({"k": "v"}));
}

/// Every body both readings take decodes the same, whatever the key order (the typed reading
/// reads fields in any order; serde_json's `Value` writes keys sorted, `type` often last); the
/// Codex-shaped ones take the typed reading.
#[test]
fn typed_and_exact_readings_agree() {
    use decode::{decode_exact, typed_reading_takes};
    #[derive(serde::Deserialize)]
    struct Case {
        kind: String,
        input: Box<serde_json::value::RawValue>,
    }
    let hints = RequestHints::default();
    let mut bodies: Vec<(String, String)> = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/translate");
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("responses-to-") {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let case: Case = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            if case.kind == "request" {
                let label = format!("{name}/{}", file.file_name().unwrap().to_string_lossy());
                bodies.push((label, case.input.get().to_owned()));
            }
        }
    }
    assert!(bodies.len() >= 10, "{}", bodies.len());
    bodies.push(("codex_request".into(), codex_request().to_string()));
    let mut more = codex_request();
    more["input"].as_array_mut().unwrap().extend([
        json!({"type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "low"},
            {"type": "input_image", "file_id": "file_1"},
            {"type": "input_file", "file_url": "https://x/a.pdf", "filename": "a.pdf"},
            {"type": "input_text", "text": "t\u{e9}\n\"q\""}, {"type": "input_text"},
            {"type": "later_part", "x": 1}]}),
        json!({"type": "message", "role": "assistant", "phase": "final", "content": [
            {"type": "output_text", "text": "a", "annotations": []}, {"type": "refusal", "refusal": "no"}]}),
        json!({"type": "function_call_output", "call_id": "toolu_01", "output": [
            {"type": "input_text", "text": "x"}, {"type": "input_image", "image_url": "https://x/y.png"}]}),
        json!({"type": "reasoning", "summary": null, "content": [{"type": "reasoning_text", "text": "r"}]}),
        json!({"type": "additional_tools", "tools": [{"type": "function", "name": "late",
            "parameters": [1]}]}),
        json!({"type": "item_reference", "id": "msg_1"}),
        json!({"type": "function_call", "call_id": "c9", "name": "x", "arguments": {"a": 1}}),
        json!({"type": "function_call_output", "call_id": "c9", "output": "ok"}),
    ]);
    more["tools"].as_array_mut().unwrap().extend([
        json!({"type": "function", "name": 5}),
        json!({"type": "function", "name": "no_params", "description": "d", "defer_loading": true}),
        json!({"type": "namespace", "name": "", "tools": []}),
        json!({"type": "namespace", "name": "ns2", "tools": [{"type": "web_search"}, {"type": "custom", "name": "c"}]}),
        json!({"name": "typeless"}),
    ]);
    let mixed = more.to_string();
    assert!(typed_reading_takes(mixed.as_bytes()));
    bodies.push(("mixed".into(), mixed));
    // Declined by the typed reading: a description that is not a string.
    more["tools"][0]["description"] = json!(5);
    bodies.push(("odd".into(), more.to_string()));
    let mut typed = 0;
    for (label, body) in &bodies {
        let exact = decode_exact(body.as_bytes(), &hints);
        let either = decode_request(body.as_bytes(), &hints);
        match (&exact, &either) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{label}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{label}"),
            _ => panic!("{label}: {exact:?} vs {either:?}"),
        }
        typed += usize::from(typed_reading_takes(body.as_bytes()));
    }
    assert!(typed_reading_takes(codex_request().to_string().as_bytes()));
    assert_eq!(typed, bodies.len() - 1, "only the odd one is declined");
}

/// Bad input gets the exact reading's error, naming the item, whatever the typed one saw.
#[test]
fn malformed_items_are_named_as_before() {
    use decode::decode_exact;
    let hints = RequestHints::default();
    for (body, want) in [
        (
            r#"{"input":[{"content":"x"}]}"#,
            "input[0]: an item needs a `type` or a `role`",
        ),
        (
            r#"{"input":[{"role":"user","content":"a"},{"type":"function_call","name":"f"}]}"#,
            "input[1]",
        ),
        (r#"{"input":[{"role":"user","content":null}]}"#, "input[0]"),
        (r#"{"input":[{"type":"reasoning","id":null}]}"#, "input[0]"),
        (r#"{"input":5}"#, "input"),
        (r#"{"tools":{},"input":"x"}"#, "tools"),
        (
            r#"{"conversation":"c","input":[{"content":"x"}]}"#,
            "conversation",
        ),
    ] {
        let err = decode_request(body.as_bytes(), &hints).unwrap_err();
        assert!(err.to_string().contains(want), "{body}: {err}");
        assert_eq!(
            err.to_string(),
            decode_exact(body.as_bytes(), &hints)
                .unwrap_err()
                .to_string()
        );
    }
}

/// Fuzz finding: an empty user turn before a developer message kept that message out of the
/// system prompt, while the encoder drops the empty turn, so the request read differently once
/// encoded. Empty texts are dropped when read, as the encoder drops them.
#[test]
fn an_empty_user_turn_does_not_hold_back_the_system_prompt() {
    let req = decode(&json!({"model": "m", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": ""}]},
        {"role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    ]}));
    assert_eq!(req.system.len(), 1);
    assert_eq!(req.messages.len(), 1);
    assert_eq!(req.messages[0].role, Role::User);
    let again = decode(&serde_json::to_value(encode_request(&req).unwrap()).unwrap());
    assert_eq!(again.system.len(), 1);
    assert_eq!(again.messages.len(), 1);
}

/// Fuzz finding: a user message then a call's output (a history no real client writes, but a
/// client may) read back in the other order once encoded, since encoders write a user turn's
/// results first. The output now joins the turn ahead of its content when read, and goes ahead
/// of a user message it ends up beside when written.
#[test]
fn an_output_after_a_user_message_reads_as_the_encoder_writes_it() {
    let body = json!({"model": "m", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Go on."}]},
        {"type": "function_call_output", "call_id": "c1", "output": "done"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    ]});
    let req = decode(&body);
    assert!(matches!(
        req.messages[0].content[0],
        Block::ToolResult { .. }
    ));
    // The same with a reasoning item between them that the encoder leaves out (no id, no
    // encrypted content), so the two stand side by side only once encoded.
    let with_reasoning = json!({"model": "m", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Go on."}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "List first."}]},
        {"type": "function_call_output", "call_id": "c1", "output": "done"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    ]});
    for body in [body, with_reasoning] {
        let first = serde_json::to_value(encode_request(&decode(&body)).unwrap()).unwrap();
        let second = serde_json::to_value(encode_request(&decode(&first)).unwrap()).unwrap();
        assert_eq!(first, second, "{body}");
        assert_eq!(first["input"][0]["type"], "function_call_output", "{first}");
    }
}
