use super::*;

fn items(body: &str) -> Vec<Item> {
    match serde_json::from_str::<Request>(body).unwrap().input {
        Some(Input::Items(items)) => items,
        other => panic!("items expected: {other:?}"),
    }
}

#[test]
fn string_or_list_content_in_any_key_order() {
    let got = items(
        r#"{"input":[{"content":"hi","role":"user"},
        {"content":[{"text":"a\nb","type":"input_text"},{"type":"refusal","refusal":"no"},
          {"image_url":"https://x/y.png","type":"input_image","detail":"low"},
          {"type":"input_text"},{"type":"input_file","file_id":"f1"}],"role":"assistant","type":"message","phase":"final"}]}"#,
    );
    assert_eq!(
        got[0],
        Item::Message {
            role: "user".into(),
            content: Content::Text("hi".into())
        }
    );
    let Item::Message {
        content: Content::Parts(parts),
        ..
    } = &got[1]
    else {
        panic!("parts expected: {:?}", got[1])
    };
    assert_eq!(parts.len(), 4, "the text part without text is left out");
    assert_eq!(parts[0], Part::Text("a\nb".into()));
    assert_eq!(parts[1], Part::Text("no".into()));
    assert_eq!(parts[2], Part::Image("https://x/y.png".into()));
    assert_eq!(
        parts[3],
        Part::Other(serde_json::json!({"type": "input_file", "file_id": "f1"}))
    );
}

#[test]
fn output_as_string_keeps_its_literal_or_as_parts() {
    let got = items(
        r#"{"input":[{"type":"function_call_output","call_id":"c","output":"l1\nl\u00e9"},
        {"output":[{"type":"input_text","text":"t"}],"call_id":"d","type":"custom_tool_call_output"}]}"#,
    );
    let Item::CallOutput {
        output: Content::Text(t),
        ..
    } = &got[0]
    else {
        panic!("text output expected: {:?}", got[0])
    };
    assert_eq!(t, "l1\nlé");
    assert_eq!(
        serde_json::to_string(t).unwrap(),
        r#""l1\nl\u00e9""#,
        "written back as it came"
    );
    assert_eq!(
        got[1],
        Item::CallOutput {
            call_id: "d".into(),
            output: Content::Parts(vec![Part::Text("t".into())])
        }
    );
}

#[test]
fn calls_reasoning_and_unknown_items() {
    let got = items(
        r#"{"input":[
        {"arguments":"{\"a\":1}","call_id":"c1","name":"f","namespace":"ns","status":"completed","type":"function_call","id":"fc_1"},
        {"type":"custom_tool_call","call_id":"c2","name":"apply_patch","input":"*** Begin Patch"},
        {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"s"}],"content":null,"encrypted_content":"enc"},
        {"type":"item_reference","id":"msg_1"},
        {"type":"tool_search_call","arguments":{"q":"x"},"execution":"client"}]}"#,
    );
    assert_eq!(
        got[0],
        Item::FunctionCall(Call {
            call_id: "c1".into(),
            name: "f".into(),
            namespace: Some("ns".into()),
            arguments: r#"{"a":1}"#.into()
        })
    );
    assert!(matches!(&got[1], Item::CustomToolCall(c) if c.arguments == "*** Begin Patch"));
    assert!(
        matches!(&got[2], Item::Reasoning(r) if r.id == "rs_1" && r.summary[0].text == "s"
        && r.content.is_none() && r.encrypted_content.as_deref() == Some("enc"))
    );
    assert_eq!(got[3], Item::Unknown("item_reference".into()));
    assert_eq!(got[4], Item::Unknown("tool_search_call".into()));
}

#[test]
fn tools_keep_their_fields_and_schema_text() {
    let r: Request = serde_json::from_str(
        r#"{"tools":[{"parameters":{"type":"object","properties":{"z":{"maximum":1.50}}},"name":"f","description":"d\n","type":"function","strict":false,"defer_loading":true},
        {"type":"namespace","name":"ns","description":"agents","tools":[{"type":"custom","name":"p","format":{"type":"grammar"}}]},
        {"type":"web_search","external_web_access":false}]}"#,
    )
    .unwrap();
    let tools = r.tools.unwrap();
    let Tool::Function {
        description,
        parameters,
        fields,
    } = &tools[0]
    else {
        panic!("function expected: {:?}", tools[0])
    };
    assert_eq!(description.as_ref().unwrap(), "d\n");
    assert_eq!(
        parameters.as_ref().unwrap().raw().unwrap().get(),
        r#"{"type":"object","properties":{"z":{"maximum":1.50}}}"#
    );
    assert_eq!(fields["defer_loading"], true);
    assert_eq!(fields["strict"], false);
    let Tool::Namespace {
        fields,
        tools: inner,
    } = &tools[1]
    else {
        panic!("namespace expected: {:?}", tools[1])
    };
    assert_eq!(fields["description"], "agents");
    assert!(matches!(&inner[0], Tool::Function { fields, .. } if fields["type"] == "custom"));
    assert_eq!(
        tools[2],
        Tool::Hosted(serde_json::json!({"type": "web_search", "external_web_access": false}))
    );
}

/// What the exact reading should decide is declined, not guessed.
#[test]
fn odd_shapes_are_declined() {
    for body in [
        r#"{"input":[{"content":"x"}]}"#,
        r#"{"input":["x"]}"#,
        r#"{"input":[{"role":"user","content":null}]}"#,
        r#"{"input":[{"type":"function_call","name":"f"}]}"#,
        r#"{"input":[{"type":"reasoning","id":null}]}"#,
        r#"{"input":[{"role":"user","content":[{"type":"input_text","text":5}]}]}"#,
        r#"{"tools":[{"type":"function","name":"f","description":5}]}"#,
        r#"{"tools":["x"]}"#,
    ] {
        assert!(serde_json::from_str::<Request>(body).is_err(), "{body}");
    }
}
