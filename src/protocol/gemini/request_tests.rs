use super::*;
use crate::protocol::ir::{Image, ImageSource, Signature};
use serde_json::json;

fn hints() -> RequestHints {
    RequestHints {
        model: Some("gemini-2.5-pro".into()),
        stream: Some(true),
    }
}

fn decode(v: Value) -> Request {
    decode_request(v.to_string().as_bytes(), &hints()).unwrap()
}

fn text(t: &str) -> Block {
    Block::Text {
        text: t.into(),
        signature: None,
        cache_control: None,
    }
}

fn sig(origin: Dialect, v: &str) -> Option<Signature> {
    Some(Signature {
        origin,
        value: v.into(),
    })
}

fn tool_use(id: &str, name: &str, signature: Option<Signature>) -> Block {
    Block::ToolUse {
        id: id.into(),
        name: name.into(),
        input: json!({"command": "ls"}).into(),
        signature,
    }
}

fn result(id: &str, t: &str) -> Block {
    Block::ToolResult {
        tool_use_id: id.into(),
        content: vec![text(t)],
        is_error: false,
        cache_control: None,
    }
}

fn msg(role: Role, content: Vec<Block>) -> Message {
    Message { role, content }
}

#[test]
fn decodes_a_gemini_cli_request() {
    let req = decode(json!({
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a CLI."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "list files twice"}]},
            {"role": "model", "parts": [
                {"text": "planning", "thought": true},
                {"functionCall": {"name": "run", "args": {"cmd": "ls"}}, "thoughtSignature": "U0lH"},
                {"functionCall": {"name": "run", "args": {"cmd": "ls -a"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "run", "response": {"output": "a"}}},
                {"functionResponse": {"name": "run", "response": {"error": "denied"}}}
            ]}
        ],
        "tools": [{"functionDeclarations": [{"name": "run", "description": "Run",
            "parameters": {"type": "OBJECT", "properties": {"cmd": {"type": "STRING"}}, "required": ["cmd"]}}],
            "googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["run"]}},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 100, "stopSequences": ["END"],
            "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}, "responseModalities": ["TEXT"]},
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}],
        "labels": {"k": "v"}
    }));
    assert_eq!(req.model, "gemini-2.5-pro");
    assert!(req.stream);
    assert_eq!(req.system[0].text, "You are a CLI.");
    assert_eq!(req.messages.len(), 3);
    let model = &req.messages[1];
    assert_eq!(model.role, Role::Assistant);
    assert!(
        matches!(&model.content[0], Block::Thinking { text, signature: None } if text == "planning")
    );
    let Block::ToolUse {
        id: id1,
        signature: s1,
        input,
        ..
    } = &model.content[1]
    else {
        panic!()
    };
    assert_eq!(id1, "gcall_1_1_run");
    assert_eq!(input, &json!({"cmd": "ls"}));
    assert_eq!(s1.as_ref().unwrap().origin, Dialect::Gemini);
    let Block::ToolUse {
        id: id2,
        signature: None,
        ..
    } = &model.content[2]
    else {
        panic!()
    };
    assert_eq!(id2, "gcall_1_2_run");
    let results = &req.messages[2].content;
    assert!(
        matches!(&results[0], Block::ToolResult { tool_use_id, is_error: false, content, .. }
        if tool_use_id == id1 && content == &vec![text("a")])
    );
    assert!(
        matches!(&results[1], Block::ToolResult { tool_use_id, is_error: true, .. } if tool_use_id == id2)
    );
    let Tool::Function(f) = &req.tools[0] else {
        panic!()
    };
    assert_eq!(f.input_schema["properties"]["cmd"]["type"], "string");
    assert!(matches!(
        &req.tools[1],
        Tool::Other {
            origin: Dialect::Gemini,
            ..
        }
    ));
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("run".into())));
    assert_eq!(req.max_tokens, Some(100));
    assert_eq!(req.stop, vec!["END".to_string()]);
    let thinking = req.thinking.as_ref().unwrap();
    assert_eq!(
        (thinking.mode, thinking.effort),
        (ThinkingMode::Adaptive, Some(Effort::High))
    );
    assert!(matches!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
    let extra = req.extra.for_dialect(Dialect::Gemini).unwrap();
    assert!(extra.contains_key("labels") && extra.contains_key("safetySettings"));
    assert_eq!(
        extra["generationConfig"]["responseModalities"],
        json!(["TEXT"])
    );
}

#[test]
fn responses_pair_by_id_then_name() {
    let req = decode(json!({"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "read", "args": {}}},
            {"functionCall": {"name": "write", "args": {}, "id": "w1"}}
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "write", "id": "w1", "response": {"result": "ok"}}},
            {"functionResponse": {"name": "read", "response": {"content": "data"}}}
        ]}
    ]}));
    let results = &req.messages[2].content;
    assert!(matches!(&results[0], Block::ToolResult { tool_use_id, .. } if tool_use_id == "w1"));
    assert!(
        matches!(&results[1], Block::ToolResult { tool_use_id, .. } if tool_use_id == "gcall_1_0_read")
    );
}

#[test]
fn thinking_budgets_map_to_modes() {
    for (budget, mode) in [
        (0, ThinkingMode::Disabled),
        (-1, ThinkingMode::Adaptive),
        (2048, ThinkingMode::Enabled),
    ] {
        let req = decode(
            json!({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": budget}}}),
        );
        assert_eq!(req.thinking.unwrap().mode, mode);
    }
}

#[test]
fn errors_name_the_field() {
    let err = decode_request(
        br#"{"contents": [{"role": "user", "parts": "hi"}]}"#,
        &hints(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CodecError::InvalidJson { field, .. } if field.starts_with("contents[0].parts")),
        "{err:?}"
    );
    let err =
        decode_request(br#"{"contents": [{"role": "bot", "parts": []}]}"#, &hints()).unwrap_err();
    assert!(matches!(err, CodecError::Invalid(m) if m.contains("contents[0].role")));
}

fn claude_code_request() -> Request {
    Request {
        model: "gemini-3-pro-preview".into(),
        system: vec![
            SystemBlock {
                text: "x-anthropic-billing-header: cc_version=2.1".into(),
                cache_control: None,
            },
            SystemBlock {
                text: "You are Claude Code.".into(),
                cache_control: Some(json!({"type": "ephemeral"})),
            },
        ],
        messages: vec![
            msg(Role::User, vec![text("fix the bug")]),
            msg(
                Role::System,
                vec![text("<system-reminder>be brief</system-reminder>")],
            ),
            msg(
                Role::Assistant,
                vec![
                    Block::Thinking {
                        text: "old".into(),
                        signature: sig(Dialect::Anthropic, "anthropic-sig"),
                    },
                    text("looking"),
                    tool_use("toolu_1", "Bash", sig(Dialect::Gemini, "G1")),
                ],
            ),
            msg(Role::User, vec![result("toolu_1", "file.rs")]),
            msg(Role::User, vec![text("now run tests")]),
            msg(
                Role::Assistant,
                vec![
                    tool_use("toolu_2", "Bash", None),
                    tool_use("toolu_3", "mcp__srv__read file", None),
                ],
            ),
            msg(
                Role::User,
                vec![
                    result("toolu_3", "contents"),
                    Block::ToolResult {
                        tool_use_id: "toolu_2".into(),
                        content: vec![
                            text("boom"),
                            Block::Image(Image {
                                source: ImageSource::Base64 {
                                    media_type: "image/png".into(),
                                    data: "AAAA".into(),
                                },
                                cache_control: None,
                            }),
                        ],
                        is_error: true,
                        cache_control: None,
                    },
                ],
            ),
            msg(
                Role::Assistant,
                vec![
                    Block::Thinking {
                        text: String::new(),
                        signature: sig(Dialect::Gemini, "G4"),
                    },
                    tool_use("toolu_4", "Bash", None),
                ],
            ),
            msg(Role::User, vec![result("toolu_4", "ok")]),
            msg(
                Role::Assistant,
                vec![tool_use("toolu_5", "Bash", sig(Dialect::Anthropic, "A5"))],
            ),
        ],
        tools: vec![
            Tool::Function(FunctionTool {
                name: "Bash".into(),
                description: Some("Run a command".into()),
                input_schema: json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                    "properties": {"command": {"type": "string"}}, "required": ["command"], "additionalProperties": false}).into(),
                cache_control: None,
                extra: Extras::new(
                    Dialect::Anthropic,
                    Map::from_iter([("strict".to_string(), json!(true))]),
                ),
            }),
            Tool::Other {
                origin: Dialect::Anthropic,
                value: json!({"type": "web_search_20250305", "name": "web_search"}),
            },
        ],
        tool_choice: Some(ToolChoice::Tool("Bash".into())),
        max_tokens: Some(32000),
        temperature: Some(1.0),
        stop: vec!["STOP".into()],
        thinking: Some(ThinkingConfig {
            mode: ThinkingMode::Adaptive,
            budget_tokens: None,
            effort: Some(Effort::High),
            include_thoughts: None,
        }),
        ..Request::default()
    }
}

use serde_json::Map;

#[test]
fn encodes_a_claude_code_request_for_gemini() {
    let out = serde_json::to_value(encode_request(&claude_code_request()).unwrap()).unwrap();
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "You are Claude Code."}]})
    );
    let contents = out["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "model", "user", "model", "user", "model", "user"]
    );
    // Mid-conversation system became user text, merged with the first user turn.
    assert_eq!(
        contents[0]["parts"],
        json!([{"text": "fix the bug"}, {"text": "<system-reminder>be brief</system-reminder>"}])
    );
    // Anthropic thinking dropped; Gemini signature kept on its call; an earlier turn gets no sentinel.
    assert_eq!(
        contents[1]["parts"],
        json!([
            {"text": "looking"},
            {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": "G1"}
        ])
    );
    // Tool result and the next user text are merged; the response comes first.
    assert_eq!(
        contents[2]["parts"],
        json!([
            {"functionResponse": {"name": "Bash", "response": {"result": "file.rs"}}},
            {"text": "now run tests"}
        ])
    );
    // Current turn: sentinel on the first call only; sanitized name.
    assert_eq!(
        contents[3]["parts"],
        json!([
            {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": "skip_thought_signature_validator"},
            {"functionCall": {"name": "mcp__srv__read_file", "args": {"command": "ls"}}}
        ])
    );
    // Responses in call order, error wrapped, image after the responses.
    assert_eq!(
        contents[4]["parts"],
        json!([
            {"functionResponse": {"name": "Bash", "response": {"error": "boom"}}},
            {"functionResponse": {"name": "mcp__srv__read_file", "response": {"result": "contents"}}},
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
        ])
    );
    // An empty Gemini-signed thinking block hands its signature to the call after it.
    assert_eq!(
        contents[5]["parts"],
        json!([
            {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": "G4"}
        ])
    );
    // The trailing unanswered call (with an Anthropic signature) was stripped entirely.
    assert_eq!(
        contents[6]["parts"],
        json!([{"functionResponse": {"name": "Bash", "response": {"result": "ok"}}}])
    );
    assert!(!out.to_string().contains("A5") && !out.to_string().contains("anthropic-sig"));

    let decl = &out["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "Bash");
    assert!(decl["parametersJsonSchema"].get("$schema").is_none());
    assert!(decl.get("strict").is_none());
    assert_eq!(
        out["tools"].as_array().unwrap().len(),
        1,
        "web_search dropped"
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Bash"]}})
    );
    assert_eq!(
        out["generationConfig"],
        json!({
            "temperature": 1.0, "maxOutputTokens": 32000, "stopSequences": ["STOP"],
            "thinkingConfig": {"thinkingLevel": "HIGH", "includeThoughts": true}
        })
    );
    assert!(!out.to_string().contains("cache_control") && !out.to_string().contains("ephemeral"));
}

#[test]
fn thinking_config_variants() {
    let mut req = Request::default();
    let cases = [
        (
            ThinkingMode::Enabled,
            Some(4096),
            None,
            json!({"thinkingBudget": 4096, "includeThoughts": true}),
        ),
        (
            ThinkingMode::Adaptive,
            None,
            None,
            json!({"thinkingBudget": -1, "includeThoughts": true}),
        ),
        (
            ThinkingMode::Disabled,
            None,
            Some(Effort::High),
            json!({"thinkingBudget": 0}),
        ),
    ];
    for (mode, budget_tokens, effort, expected) in cases {
        req.thinking = Some(ThinkingConfig {
            mode,
            budget_tokens,
            effort,
            include_thoughts: None,
        });
        let out = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
        assert_eq!(out["generationConfig"]["thinkingConfig"], expected);
    }
}

#[test]
fn options_switch_sentinel_ids_and_schema_target() {
    let mut req = claude_code_request();
    req.messages.truncate(6);
    let opts = EncodeOptions {
        signature_sentinel: false,
        schema_target: SchemaTarget::Parameters,
        send_call_ids: true,
    };
    let out = serde_json::to_value(encode_request_with(&req, &opts).unwrap()).unwrap();
    assert!(!out.to_string().contains(SKIP_SIGNATURE_SENTINEL));
    assert_eq!(
        out["contents"][1]["parts"][1]["functionCall"]["id"],
        "toolu_1"
    );
    assert_eq!(
        out["contents"][2]["parts"][0]["functionResponse"]["id"],
        "toolu_1"
    );
    let decl = &out["tools"][0]["functionDeclarations"][0];
    assert!(decl.get("parametersJsonSchema").is_none());
    assert_eq!(decl["parameters"]["required"], json!(["command"]));
}

#[test]
fn gemini_history_round_trips() {
    let body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [
                {"text": "think", "thought": true, "thoughtSignature": "T"},
                {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "S"},
                {"functionCall": {"name": "g", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "f", "response": {"result": "1"}}},
                {"functionResponse": {"name": "g", "response": {"result": "2"}}}
            ]},
            {"role": "model", "parts": [{"text": "done", "thoughtSignature": "E"}]}
        ],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}],
        "generationConfig": {"responseModalities": ["TEXT"]},
        "labels": {"a": "b"}
    });
    let req = decode(body.clone());
    let out = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert_eq!(out, body);
}

#[test]
fn count_tokens_bodies() {
    let bare =
        decode_count_tokens_request(br#"{"contents": [{"parts": [{"text": "hi"}]}]}"#, &hints())
            .unwrap();
    assert_eq!(bare.messages.len(), 1);
    let full = decode_count_tokens_request(
        br#"{"generateContentRequest": {"model": "models/x", "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "sys"}]}}}"#,
        &hints(),
    )
    .unwrap();
    assert_eq!(full.system.len(), 1);
    assert_eq!(
        encode_count_tokens_response(12),
        br#"{"totalTokens":12}"#.to_vec()
    );
}

/// Fuzz finding: a `responseJsonSchema` that is a bare property map was read into the IR
/// untouched (its upper-case types kept) but wrapped as properties by the reducer, so the
/// upstream body changed on a second pass (`OBJECT` -> `object`). Minimised input.
#[test]
fn a_bare_property_map_schema_is_read_as_the_reducer_reads_it() {
    let body = json!({"generationConfig": {"responseJsonSchema": {"$id": {"type": "OBJECT"}},
        "responseMimeType": "application/json"}});
    let req = decode(body);
    let Some(ResponseFormat::JsonSchema { schema, .. }) = &req.response_format else {
        panic!("{:?}", req.response_format)
    };
    assert_eq!(
        *schema,
        json!({"type": "object", "properties": {"$id": {"type": "object"}}})
    );
    let first = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    let again = decode_request(first.to_string().as_bytes(), &hints()).unwrap();
    assert_eq!(
        serde_json::to_value(encode_request(&again).unwrap()).unwrap(),
        first
    );
}

/// Fuzz finding: whether a call is in the current turn (and so gets the signature sentinel)
/// was judged on the IR, before an unanswered call got its synthesized response merged into
/// the user's next content; the body read back then judged otherwise and gained a sentinel.
/// Judged on the contents as sent now. Minimised input.
#[test]
fn the_sentinel_is_judged_on_the_contents_as_sent() {
    let body = json!({"contents": [{"parts": [{"functionCall": {}}], "role": "model"},
        {"parts": [{"text": "Thanks"}]}]});
    let req = decode(body);
    let first = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert_eq!(
        first["contents"][0]["parts"][0]["thoughtSignature"],
        json!(SKIP_SIGNATURE_SENTINEL),
        "{first}"
    );
    let again = decode_request(first.to_string().as_bytes(), &hints()).unwrap();
    assert_eq!(
        serde_json::to_value(encode_request(&again).unwrap()).unwrap(),
        first
    );
}

/// Fuzz finding: two calls of one model turn shared an id, so both IR tool uses had it and the
/// encoder paired the one response with the wrong call (the pairing changed between rounds).
/// The second call gets an id of its own; a response naming the shared id answers the first.
#[test]
fn calls_sharing_an_id_get_ids_of_their_own() {
    let body = json!({"contents": [
        {"role": "model", "parts": [
            {"functionCall": {"id": "fc_7f2a"}},
            {"functionCall": {"id": "fc_7f2a", "name": "run_shell_command"}}
        ]},
        {"parts": [{"functionResponse": {}}]}
    ]});
    let req = decode(body.clone());
    let ids: Vec<&str> = req.messages[0]
        .content
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "fc_7f2a");
    assert_ne!(ids[1], ids[0]);
    assert!(matches!(&req.messages[1].content[0],
        Block::ToolResult { tool_use_id, .. } if tool_use_id == "fc_7f2a"));

    let first = encode_request(&req).unwrap();
    let again = from_wire(first.clone(), &hints()).unwrap();
    let second = encode_request(&again).unwrap();
    assert_eq!(
        serde_json::to_value(&second).unwrap(),
        serde_json::to_value(&first).unwrap()
    );

    // A response naming the shared id answers the first unanswered call that has it.
    let req = decode(json!({"contents": [
        {"role": "model", "parts": [
            {"functionCall": {"id": "x", "name": "a"}},
            {"functionCall": {"id": "x", "name": "b"}}
        ]},
        {"parts": [
            {"functionResponse": {"id": "x", "name": "b", "response": {"result": "1"}}},
            {"functionResponse": {"id": "x", "name": "b", "response": {"result": "2"}}}
        ]}
    ]}));
    let answered: Vec<&str> = req.messages[1]
        .content
        .iter()
        .filter_map(|b| match b {
            Block::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(answered.len(), 2);
    assert_eq!(answered[0], "x");
    assert_ne!(answered[1], "x");
}
