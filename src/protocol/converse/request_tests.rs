use serde_json::{Value, json};

use super::*;
use crate::protocol::codec::RequestHints;

/// An Anthropic client's body through the Anthropic decoder, then out as Converse JSON.
fn encode(body: Value) -> Value {
    let req =
        anthropic::decode_request(body.to_string().as_bytes(), &RequestHints::default()).unwrap();
    serde_json::to_value(encode_request(&req).unwrap()).unwrap()
}

#[test]
fn families_from_model_ids() {
    assert_eq!(
        Family::of("anthropic.claude-3-5-haiku-20241022-v1:0"),
        Family::Claude
    );
    assert_eq!(
        Family::of("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        Family::Claude
    );
    assert_eq!(
        Family::of("global.anthropic.claude-opus-4-1"),
        Family::Claude
    );
    assert_eq!(
        Family::of("us-gov.anthropic.claude-3-haiku"),
        Family::Claude
    );
    assert_eq!(Family::of("eu.amazon.nova-pro-v1:0"), Family::Nova);
    assert_eq!(Family::of("meta.llama3-70b-instruct-v1:0"), Family::Other);
    assert_eq!(
        Family::of("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"),
        Family::Claude
    );
    assert_eq!(
        Family::of(
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
        ),
        Family::Nova
    );
    assert_eq!(
        Family::of("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"),
        Family::Unknown
    );
}

#[test]
fn document_names_are_sanitized_and_unique() {
    assert_eq!(
        sanitize_doc_name("report.v2 (final)  – draft#1.pdf"),
        "report-v2 (final) - draft-1-pdf"
    );
    let mut names = DocNames::default();
    assert_eq!(names.name(Some("a.pdf")), "a-pdf");
    assert_eq!(names.name(Some("a.pdf")), "a-pdf (2)");
    assert_eq!(names.name(Some("…")), "-");
    assert_eq!(names.name(None), "document 4");
    assert_eq!(names.name(Some("   ")), "document 5");
}

#[test]
fn blank_text_dropped_turns_merged_and_opening_user_added() {
    let w = encode(json!({
        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "  "}, {"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": [{"type": "text", "text": " \n"}]},
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]}
        ]
    }));
    assert_eq!(w["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        w["messages"],
        json!([
            {"role": "user", "content": [{"text": "(conversation continues)"}]},
            {"role": "assistant", "content": [{"text": "Earlier answer"}]},
            {"role": "user", "content": [{"text": "one"}, {"text": "two"}]}
        ])
    );
    assert_eq!(w["inferenceConfig"], json!({"maxTokens": 100}));
}

#[test]
fn tool_history_without_tools_gets_a_stub_and_tool_choice_none_declares_nothing_else() {
    let body = |choice: Value| {
        json!({
            "model": "anthropic.claude-3-haiku",
            "max_tokens": 100,
            "tools": [{"name": "read", "input_schema": {"type": "object", "properties": {"p": {"type": "string"}}}}],
            "tool_choice": choice,
            "messages": [
                {"role": "user", "content": "read a"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {"p": "a"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": ""}]}
            ]
        })
    };
    let w = encode(body(json!({"type": "none"})));
    assert_eq!(
        w["toolConfig"]["tools"][0]["toolSpec"]["name"],
        json!(STUB_TOOL)
    );
    assert_eq!(w["toolConfig"]["tools"].as_array().unwrap().len(), 1);
    assert!(w["toolConfig"].get("toolChoice").is_none());
    assert_eq!(
        w["messages"][2]["content"][0]["toolResult"],
        json!({"toolUseId": "t1", "content": [{"text": "(no output)"}]})
    );
    let w = encode(body(json!({"type": "tool", "name": "read"})));
    assert_eq!(
        w["toolConfig"]["tools"][0]["toolSpec"]["name"],
        json!("read")
    );
    assert_eq!(
        w["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "read"}})
    );
}

#[test]
fn non_object_tool_input_is_coerced_and_errors_carry_status() {
    let req = ir::Request {
        model: "anthropic.claude-3-haiku".into(),
        messages: vec![
            ir::Message {
                role: ir::Role::Assistant,
                content: vec![
                    Block::ToolUse {
                        id: "a".into(),
                        name: "f".into(),
                        input: json!("{\"x\":1}").into(),
                        signature: None,
                    },
                    Block::ToolUse {
                        id: "b".into(),
                        name: "f".into(),
                        input: json!([1, 2]).into(),
                        signature: None,
                    },
                ],
            },
            ir::Message {
                role: ir::Role::User,
                content: vec![Block::ToolResult {
                    tool_use_id: "a".into(),
                    content: vec![Block::Text {
                        text: "boom".into(),
                        signature: None,
                        cache_control: None,
                    }],
                    is_error: true,
                    cache_control: None,
                }],
            },
        ],
        ..ir::Request::default()
    };
    let w = serde_json::to_value(encode_request(&req).unwrap()).unwrap();
    assert_eq!(
        w["messages"][1]["content"][0]["toolUse"]["input"],
        json!({"x": 1})
    );
    assert_eq!(
        w["messages"][1]["content"][1]["toolUse"]["input"],
        json!({"input": [1, 2]})
    );
    assert_eq!(
        w["messages"][2]["content"][0]["toolResult"]["status"],
        json!("error")
    );
}

#[test]
fn stop_sequences_capped_thinking_and_top_k_per_family() {
    let body = |model: &str| {
        json!({
            "model": model,
            "max_tokens": 4000,
            "top_k": 40,
            "stop_sequences": ["a", "b", "c", "d", "e"],
            "thinking": {"type": "enabled", "budget_tokens": 500},
            "messages": [{"role": "user", "content": "hi"}]
        })
    };
    let w = encode(body("us.anthropic.claude-sonnet-4-5-20250929-v1:0"));
    assert_eq!(
        w["inferenceConfig"]["stopSequences"],
        json!(["a", "b", "c", "d"])
    );
    assert_eq!(
        w["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 40})
    );
    assert_eq!(
        w["additionalModelResponseFieldPaths"],
        json!(["/delta/stop_sequence"])
    );
    let w = encode(body("amazon.nova-pro-v1:0"));
    assert_eq!(
        w["additionalModelRequestFields"],
        json!({"inferenceConfig": {"topK": 40},
               "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}})
    );
    assert!(w.get("additionalModelResponseFieldPaths").is_none());
    let w = encode(body("meta.llama3-70b-instruct-v1:0"));
    assert!(w.get("additionalModelRequestFields").is_none());
}

#[test]
fn image_urls_are_refused_clearly_and_data_urls_inlined() {
    let img = |url: &str| ir::Request {
        model: "anthropic.claude-3-haiku".into(),
        messages: vec![ir::Message {
            role: ir::Role::User,
            content: vec![Block::Image(Image {
                source: ImageSource::Url {
                    url: url.into(),
                    media_type: None,
                },
                cache_control: None,
            })],
        }],
        ..ir::Request::default()
    };
    let err = encode_request(&img("https://example.com/cat.png")).unwrap_err();
    assert!(err.to_string().contains("inline"), "{err}");
    let w =
        serde_json::to_value(encode_request(&img("data:image/jpeg;base64,AAAA")).unwrap()).unwrap();
    assert_eq!(
        w["messages"][0]["content"][0],
        json!({"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}})
    );
}

#[test]
fn reasoning_replayed_to_claude_only_and_cache_points_placed() {
    let body = |model: &str| {
        json!({
            "model": model,
            "max_tokens": 100,
            "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "t", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "RD"},
                    {"type": "text", "text": "a"}
                ]},
                {"role": "user", "content": "next"}
            ]
        })
    };
    let w = encode(body("anthropic.claude-3-7-sonnet-20250219-v1:0"));
    assert_eq!(
        w["system"],
        json!([{"text": "sys"}, {"cachePoint": {"type": "default", "ttl": "1h"}}])
    );
    assert_eq!(
        w["messages"][0]["content"],
        json!([{"text": "q"}, {"cachePoint": {"type": "default"}}])
    );
    assert_eq!(
        w["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "t", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "RD"}},
            {"text": "a"}
        ])
    );
    let w = encode(body("meta.llama3-70b-instruct-v1:0"));
    assert_eq!(w["system"], json!([{"text": "sys"}]));
    assert_eq!(w["messages"][1]["content"], json!([{"text": "a"}]));
}

#[test]
fn a_json_schema_response_format_is_output_config_with_the_schema_as_a_string() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let body = encode(json!({
        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}}
    }));
    let tf = &body["outputConfig"]["textFormat"];
    assert_eq!(tf["type"], "json_schema", "{body}");
    let sent = tf["structure"]["jsonSchema"]["schema"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(sent).unwrap(), schema);
    let plain = encode(
        json!({"model": "anthropic.claude-3-haiku", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert!(plain.get("outputConfig").is_none(), "{plain}");
}

/// Claude's rule on Bedrock too: a tool loop whose reasoning Claude did not sign goes
/// without thinking; a signed one keeps it, as the first block of the turn.
#[test]
fn thinking_needs_the_last_tool_loop_signed() {
    let body = |thinking: Value| {
        json!({"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": 4096},
            "tools": [{"name": "w", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [thinking,
                    {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": "sunny"}]}]})
    };
    let out = encode(body(
        json!({"type": "thinking", "thinking": "hm", "signature": "EqSig"}),
    ));
    assert_eq!(
        out["additionalModelRequestFields"]["thinking"]["type"], "enabled",
        "{out}"
    );
    assert!(
        out["messages"][1]["content"][0]
            .get("reasoningContent")
            .is_some(),
        "{out}"
    );
    let gemini = format!("{}abc", anthropic::GEMINI_CARRIER_PREFIX);
    let out = encode(body(
        json!({"type": "thinking", "thinking": "hm", "signature": gemini}),
    ));
    assert!(
        out.get("additionalModelRequestFields")
            .is_none_or(|a| a.get("thinking").is_none()),
        "{out}"
    );
    assert!(
        out["messages"][1]["content"][0].get("toolUse").is_some(),
        "{out}"
    );
}
