use super::*;
use crate::protocol::ir::{Effort, ThinkingConfig, ThinkingMode};
use crate::protocol::ir::{Message, Request, Role as IrRole, Tool};
use serde_json::json;

fn decode(v: Value) -> Result<ir::Request, CodecError> {
    decode_request(v.to_string().as_bytes(), &RequestHints::default())
}

fn encode_value(req: &ir::Request, opts: &EncodeOptions) -> Value {
    serde_json::to_value(encode_request_with(req, opts).unwrap()).unwrap()
}

fn text(t: &str) -> Block {
    text_block(t)
}

#[test]
fn mistyped_fields_are_named() {
    let err = decode(json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": 5}
    ]}))
    .unwrap_err();
    assert!(
        matches!(&err, CodecError::InvalidJson { field, .. } if field == "messages[1].content"),
        "{err:?}"
    );
    let err = decode(json!({"model": "m", "messages": [], "max_tokens": "x"})).unwrap_err();
    assert!(matches!(&err, CodecError::InvalidJson { field, .. } if field == "max_tokens"));
    let err =
        decode(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})).unwrap_err();
    assert!(matches!(&err, CodecError::InvalidJson { field, .. } if field == "messages[0].role"));
    let err = decode_request(b"{\"model\": ", &RequestHints::default()).unwrap_err();
    assert!(matches!(err, CodecError::InvalidJson { .. }));
}

#[test]
fn system_developer_and_mid_conversation_system() {
    let r = decode(json!({"model": "m", "messages": [
        {"role": "system", "content": "one"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}]},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "later"}
    ]}))
    .unwrap();
    let sys: Vec<&str> = r.system.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(sys, ["one", "two"]);
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.messages[1].role, IrRole::System);
    assert_eq!(r.messages[1].content, vec![text("later")]);
}

#[test]
fn tool_turns_decode() {
    let r = decode(json!({"model": "m", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "reasoning_content": "think",
         "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "a", "content": "ra"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "rb"}]},
        {"role": "user", "content": "thanks"}
    ]}))
    .unwrap();
    assert_eq!(r.messages.len(), 4);
    let a = &r.messages[1].content;
    assert!(matches!(&a[0], Block::Thinking { text, signature: None } if text == "think"));
    assert!(matches!(&a[1], Block::ToolUse { id, input, .. } if id == "a" && input["x"] == 1));
    assert!(matches!(&a[2], Block::ToolUse { input, .. } if *input == json!({})));
    let results = &r.messages[2];
    assert_eq!(results.role, IrRole::User);
    assert_eq!(results.content.len(), 2);
    assert!(
        matches!(&results.content[1], Block::ToolResult { tool_use_id, content, .. }
        if tool_use_id == "b" && *content == vec![text("rb")])
    );
    assert_eq!(r.messages[3].content, vec![text("thanks")]);
}

#[test]
fn invalid_arguments_name_the_field() {
    let err = decode(json!({"model": "m", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}
    ]}))
    .unwrap_err();
    assert!(
        matches!(&err, CodecError::InvalidJson { field, .. }
        if field == "messages[1].tool_calls[0].function.arguments"),
        "{err:?}"
    );
    let err =
        decode(json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]})).unwrap_err();
    assert!(matches!(err, CodecError::Invalid(m) if m.contains("tool_call_id")));
}

#[test]
fn images_and_unknown_parts() {
    let r = decode(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.jpg", "detail": "high"}},
            {"type": "input_audio", "input_audio": {"data": "QQ==", "format": "wav"}}
        ]}]}),
    )
    .unwrap();
    let c = &r.messages[0].content;
    assert!(
        matches!(&c[0], Block::Image(Image { source: ImageSource::Base64 { media_type, data }, .. })
        if media_type == "image/png" && data == "AAAA")
    );
    assert!(
        matches!(&c[1], Block::Image(Image { source: ImageSource::Url { url, .. }, .. })
        if url == "https://x/y.jpg")
    );
    assert!(
        matches!(&c[2], Block::Unknown { origin: Dialect::OpenAi, value } if value["type"] == "input_audio")
    );
    // Same dialect: the unknown part goes back out; elsewhere it would be dropped.
    let out = encode_value(&r, &EncodeOptions::default());
    assert_eq!(out["messages"][0]["content"][2]["type"], "input_audio");
    assert_eq!(
        out["messages"][0]["content"][0]["image_url"]["url"],
        "data:image/png;base64,AAAA"
    );
}

#[test]
fn parameters_decode() {
    let r = decode(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tool_choice": "required", "reasoning_effort": "low", "max_tokens": 10,
        "max_completion_tokens": 20, "stream": true, "stream_options": {"include_usage": true},
        "n": 2, "stop": "END", "top_k": 40, "logprobs": true, "user": "u1",
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": true}},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}}]
    }))
    .unwrap();
    assert_eq!(r.tool_choice, Some(ToolChoice::Any));
    let t = r.thinking.as_ref().unwrap();
    assert_eq!(
        (t.mode, t.effort),
        (ThinkingMode::Enabled, Some(Effort::Low))
    );
    assert_eq!(r.max_tokens, Some(20));
    assert!(r.stream && r.stream_include_usage);
    assert_eq!((r.n, r.top_k), (Some(2), Some(40)));
    assert_eq!(r.stop, ["END"]);
    assert_eq!(r.user.as_deref(), Some("u1"));
    assert!(matches!(
        &r.response_format,
        Some(ir::ResponseFormat::JsonSchema {
            strict: Some(true),
            ..
        })
    ));
    assert_eq!(r.extra.origin, Some(Dialect::OpenAi));
    assert_eq!(r.extra.fields["logprobs"], json!(true));
    let Tool::Function(f) = &r.tools[0] else {
        panic!("not a function")
    };
    assert_eq!(f.extra.fields["strict"], json!(true));
    let r = decode(json!({"model": "m", "messages": [], "reasoning_effort": "none"})).unwrap();
    assert_eq!(r.thinking.unwrap().mode, ThinkingMode::Disabled);
    assert!(decode(json!({"model": "m", "messages": [], "reasoning_effort": "huge"})).is_err());
    let r = decode(
        json!({"model": "m", "messages": [], "enable_thinking": true, "thinking_budget": 500}),
    )
    .unwrap();
    assert_eq!(r.thinking.unwrap().budget_tokens, Some(500));
}

/// What Claude Code sends, as the Anthropic codec decodes it.
fn claude_code_request() -> Request {
    let cache = Some(json!({"type": "ephemeral"}));
    Request {
        model: "claude-sonnet-4-5".into(),
        system: vec![
            SystemBlock {
                text: "x-anthropic-billing-header: cc_version=2.1".into(),
                cache_control: None,
            },
            SystemBlock {
                text: "You are Claude Code.".into(),
                cache_control: cache.clone(),
            },
            SystemBlock {
                text: "Be brief.".into(),
                cache_control: cache.clone(),
            },
        ],
        messages: vec![
            Message {
                role: IrRole::User,
                content: vec![text("list files")],
            },
            Message {
                role: IrRole::System,
                content: vec![text("reminder")],
            },
            Message {
                role: IrRole::Assistant,
                content: vec![
                    Block::Thinking {
                        text: "I should run ls".into(),
                        signature: Some(ir::Signature {
                            origin: Dialect::Anthropic,
                            value: "sig".into(),
                        }),
                    },
                    Block::ToolUse {
                        id: "toolu_1".into(),
                        name: "Bash".into(),
                        input: json!({"command": "ls"}).into(),
                        signature: None,
                    },
                    Block::ToolUse {
                        id: "toolu_2".into(),
                        name: "Read".into(),
                        input: json!({"file_path": "/a.png"}).into(),
                        signature: None,
                    },
                ],
            },
            Message {
                role: IrRole::User,
                content: vec![
                    Block::ToolResult {
                        tool_use_id: "toolu_1".into(),
                        content: vec![text("a.png")],
                        is_error: true,
                        cache_control: cache.clone(),
                    },
                    Block::ToolResult {
                        tool_use_id: "toolu_2".into(),
                        content: vec![Block::Image(Image {
                            source: ImageSource::Base64 {
                                media_type: "image/png".into(),
                                data: "iVBOR".into(),
                            },
                            cache_control: None,
                        })],
                        is_error: false,
                        cache_control: None,
                    },
                    text("what is it?"),
                ],
            },
        ],
        tools: vec![
            Tool::Function(FunctionTool {
                name: "Bash".into(),
                description: Some("Run a command".into()),
                input_schema:
                    json!({"type": "object", "properties": {"command": {"type": "string"}}}).into(),
                cache_control: cache,
                extra: Extras::new(
                    Dialect::Anthropic,
                    Map::from_iter([("defer_loading".to_owned(), json!(false))]),
                ),
            }),
            Tool::Other {
                origin: Dialect::Anthropic,
                value: json!({"type": "web_search_20250305", "name": "web_search"}),
            },
        ],
        tool_choice: Some(ToolChoice::Auto),
        parallel_tool_calls: Some(false),
        max_tokens: Some(32000),
        temperature: Some(1.0),
        top_k: Some(5),
        stream: true,
        thinking: Some(ThinkingConfig {
            mode: ThinkingMode::Adaptive,
            budget_tokens: None,
            effort: Some(Effort::High),
            include_thoughts: None,
        }),
        user: Some("user_abc".into()),
        extra: Extras::new(
            Dialect::Anthropic,
            Map::from_iter([("context_management".to_owned(), json!({"edits": []}))]),
        ),
        ..Request::default()
    }
}

#[test]
fn encodes_claude_code_request() {
    let out = encode_value(&claude_code_request(), &EncodeOptions::default());
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "system", "content": "You are Claude Code.\nBe brief."},
                {"role": "user", "content": "list files"},
                {"role": "system", "content": "reminder"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"/a.png\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: a.png"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "(the tool returned an image; it follows in the next message)"},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "text", "text": "what is it?"}
                ]}
            ],
            "tools": [{"type": "function", "function": {"name": "Bash", "description": "Run a command",
                "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "max_tokens": 32000,
            "temperature": 1.0,
            "stream": true,
            "stream_options": {"include_usage": true},
            "reasoning_effort": "high",
            "user": "user_abc"
        })
    );
}

#[test]
fn provider_switches() {
    let req = claude_code_request();
    let deepseek = EncodeOptions {
        reasoning_history: true,
        max_tokens_cap: Some(8192),
        thinking_style: ThinkingStyle::DeepSeek,
        send_top_k: true,
        mid_system_as_user: true,
        ..EncodeOptions::default()
    };
    let out = encode_value(&req, &deepseek);
    assert_eq!(out["max_tokens"], 8192);
    assert_eq!(out["thinking"], json!({"type": "enabled"}));
    assert_eq!(out["reasoning_effort"], "high");
    assert_eq!(out["top_k"], 5);
    assert_eq!(out["messages"][2]["role"], "user");
    assert_eq!(
        out["messages"][2]["content"],
        "<system-reminder>\nreminder\n</system-reminder>"
    );
    assert_eq!(out["messages"][3]["reasoning_content"], "I should run ls");

    // A tool-call turn without thinking still carries "" (C10).
    let mut plain = req.clone();
    plain.messages[2].content.remove(0);
    let out = encode_value(&plain, &deepseek);
    assert_eq!(out["messages"][3]["reasoning_content"], "");

    let qwen = EncodeOptions {
        thinking_style: ThinkingStyle::Qwen,
        max_completion_tokens: true,
        ..EncodeOptions::default()
    };
    let mut budget = req.clone();
    budget.thinking = Some(ThinkingConfig {
        mode: ThinkingMode::Enabled,
        budget_tokens: Some(4096),
        effort: None,
        include_thoughts: None,
    });
    let out = encode_value(&budget, &qwen);
    assert_eq!(out["enable_thinking"], true);
    assert_eq!(out["thinking_budget"], 4096);
    assert_eq!(out["max_completion_tokens"], 32000);
    assert!(out.get("max_tokens").is_none());
    assert!(out.get("reasoning_content").is_none());

    // Disabled thinking with a leftover effort sends no reasoning_effort (A3.6).
    let mut off = req;
    off.thinking = Some(ThinkingConfig {
        mode: ThinkingMode::Disabled,
        budget_tokens: None,
        effort: Some(Effort::High),
        include_thoughts: None,
    });
    let out = encode_value(&off, &EncodeOptions::default());
    assert!(out.get("reasoning_effort").is_none());
    let out = encode_value(&off, &deepseek);
    assert_eq!(out["thinking"], json!({"type": "disabled"}));
    assert!(out.get("reasoning_effort").is_none());
}

#[test]
fn long_tool_names_are_rewritten_everywhere() {
    let long = format!("mcp__{}__do_it", "server".repeat(12));
    let mut req = claude_code_request();
    if let Tool::Function(f) = &mut req.tools[0] {
        f.name = long.clone();
    }
    if let Block::ToolUse { name, .. } = &mut req.messages[2].content[1] {
        *name = long.clone();
    }
    req.tool_choice = Some(ToolChoice::Tool(long.clone()));
    let out = encode_value(&req, &EncodeOptions::default());
    let wire = out["tools"][0]["function"]["name"].as_str().unwrap();
    assert!(wire.len() <= 64 && wire != long);
    assert_eq!(
        out["messages"][3]["tool_calls"][0]["function"]["name"],
        wire
    );
    assert_eq!(out["tool_choice"]["function"]["name"], wire);
    assert_eq!(super::super::tool_name_map(&req).client(wire), long);
}

#[test]
fn openai_round_trip_keeps_extras_and_clamps() {
    let r = decode(json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "y", "reasoning_content": "r"}],
        "temperature": 3.5, "logprobs": true, "top_logprobs": 2, "reasoning_effort": "xhigh",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}},
                  {"type": "custom", "custom": {"name": "c"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}
    }))
    .unwrap();
    let out = encode_value(&r, &EncodeOptions::default());
    assert_eq!(out["temperature"], 2.0);
    assert_eq!(out["logprobs"], true);
    assert_eq!(out["top_logprobs"], 2);
    assert_eq!(out["reasoning_effort"], "xhigh");
    assert_eq!(out["messages"][1]["reasoning_content"], "r");
    assert_eq!(out["tools"][0]["function"]["strict"], true);
    assert_eq!(out["tools"][1]["type"], "custom");
    assert_eq!(
        out["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert!(out.get("stream_options").is_none());
}

/// Fuzz finding: a system message with no text mid-conversation went upstream as
/// `{"role": "system", "content": ""}` (a leading one goes nowhere), and read back as a leading
/// one it vanished: the same request encoded two ways. Minimised input.
#[test]
fn an_empty_mid_conversation_system_message_is_not_sent() {
    let req = decode_request(
        br#"{"messages":[{"role":"user"},{"role":"system"}],"model":"claude-sonnet-4-5"}"#,
        &RequestHints::default(),
    )
    .unwrap();
    for opts in [
        EncodeOptions::default(),
        EncodeOptions {
            mid_system_as_user: true,
            ..EncodeOptions::default()
        },
    ] {
        let body = encode_value(&req, &opts);
        assert_eq!(body["messages"], json!([]), "{body}");
    }
}

/// Fuzz finding: a user message with no content (which no encoder sends) still ended the
/// leading system prompt, so a system message after it went upstream as a second system
/// message, and as part of the first once read back. Minimised input.
#[test]
fn an_empty_message_does_not_end_the_system_prompt() {
    let req = decode_request(
        br#"{"messages":[{"content":"You are Claude Code.","role":"system"},{"role":"user"},{"content":"<system-reminder>Today is Monday.</system-reminder>","role":"system"}],"model":"m"}"#,
        &RequestHints::default(),
    )
    .unwrap();
    assert!(req.messages.is_empty(), "{:?}", req.messages);
    let body = encode_value(&req, &EncodeOptions::default());
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You are Claude Code.\n<system-reminder>Today is Monday.</system-reminder>"}])
    );
}
