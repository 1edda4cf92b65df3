//! IR -> Gemini request body (docs/translation-rules.md D4-D17). Part of `request.rs`.
//!
//! Signatures (D16/D17): only `Signature{origin: Gemini}` is ever sent, and on the part it came
//! from. A Gemini-signed thinking block directly followed by an unsigned tool call hands its
//! signature to that call (that is how a signature that sat on a `functionCall` comes back from
//! a client that can only carry signatures on thinking blocks); other thinking blocks are sent
//! as thought parts when Gemini-signed and dropped otherwise. In the current turn (after the
//! last user content with normal content), the first call of each model step without a Gemini
//! signature gets [`SKIP_SIGNATURE_SENTINEL`] when `EncodeOptions::signature_sentinel` is on.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::*;

/// IR -> Gemini body with the default [`EncodeOptions`].
pub fn encode_request(req: &Request) -> Result<GenerateContentRequest, CodecError> {
    encode_request_with(req, &EncodeOptions::default())
}

pub fn encode_request_with(
    req: &Request,
    opts: &EncodeOptions,
) -> Result<GenerateContentRequest, CodecError> {
    let extras = req.extra.for_dialect(Dialect::Gemini);
    let extra_obj = |key: &str| req.extra.object(Dialect::Gemini, key);

    let system_parts: Vec<Part> = req
        .system
        .iter()
        .filter(|b| !b.text.is_blank() && !b.is_attribution())
        .map(|b| Part::text(b.text.clone()))
        .collect();
    let system_instruction = (!system_parts.is_empty()).then(|| Content {
        role: None,
        parts: system_parts,
        extra: Map::new(),
    });

    let contents = encode_messages(&req.messages, opts);

    let mut tools = Vec::new();
    let declarations: Vec<FunctionDeclaration> = req
        .tools
        .iter()
        .filter_map(|t| match t {
            Tool::Function(f) => Some(declaration(f, opts.schema_target)),
            Tool::Other { .. } => None,
        })
        .collect();
    if !declarations.is_empty() {
        tools.push(wire::Tool {
            function_declarations: declarations,
            extra: Map::new(),
        });
    }
    for tool in &req.tools {
        if let Tool::Other {
            origin: Dialect::Gemini,
            value,
        } = tool
            && let Ok(t) = serde_json::from_value::<wire::Tool>(value.clone())
        {
            tools.push(t);
        }
    }

    let tool_config = encode_tool_choice(req.tool_choice.as_ref(), extra_obj("toolConfig"));

    let mut g = wire::GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        candidate_count: req.n,
        max_output_tokens: req.max_tokens,
        stop_sequences: req.stop.clone(),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        thinking_config: req.thinking.as_ref().map(encode_thinking),
        extra: extra_obj("generationConfig"),
        ..wire::GenerationConfig::default()
    };
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => g.response_mime_type = Some("application/json".into()),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            g.response_mime_type = Some("application/json".into());
            g.response_json_schema = Some(reduce_schema_for(schema, SchemaTarget::JsonSchema));
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(Value::String(mime)) = g.extra.remove("responseMimeType")
        && g.response_mime_type.is_none()
    {
        g.response_mime_type = Some(mime);
    }
    let generation_config = (g != wire::GenerationConfig::default()).then_some(g);

    let mut extra = extras.cloned().unwrap_or_default();
    for key in ["generationConfig", "toolConfig"] {
        extra.remove(key);
    }
    let safety_settings = match extra.remove("safetySettings") {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => Vec::new(),
    };
    let cached_content = match extra.remove("cachedContent") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };

    Ok(GenerateContentRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config,
        safety_settings,
        cached_content,
        extra,
    })
}

fn declaration(f: &FunctionTool, target: SchemaTarget) -> FunctionDeclaration {
    let schema = crate::protocol::gemini::schema_memo::reduce_memoized(&f.input_schema, target);
    let (parameters, parameters_json_schema) = match target {
        SchemaTarget::Parameters => (Some(schema), None),
        SchemaTarget::JsonSchema => (None, Some(schema)),
    };
    FunctionDeclaration {
        name: gemini_function_name(&f.name),
        description: f.description.clone().filter(|d| !d.is_empty()),
        parameters,
        parameters_json_schema,
        extra: f
            .extra
            .for_dialect(Dialect::Gemini)
            .cloned()
            .unwrap_or_default(),
    }
}

fn encode_tool_choice(
    choice: Option<&ToolChoice>,
    extra: Map<String, Value>,
) -> Option<ToolConfig> {
    let (mode, allowed) = match choice {
        None => (None, Vec::new()),
        Some(ToolChoice::Auto) => (Some("AUTO"), Vec::new()),
        Some(ToolChoice::Any) => (Some("ANY"), Vec::new()),
        Some(ToolChoice::None) => (Some("NONE"), Vec::new()),
        Some(ToolChoice::Tool(name)) => (Some("ANY"), vec![gemini_function_name(name)]),
    };
    if mode.is_none() && extra.is_empty() {
        return None;
    }
    Some(ToolConfig {
        function_calling_config: mode.map(|m| FunctionCallingConfig {
            mode: Some(m.to_string()),
            allowed_function_names: allowed,
            extra: Map::new(),
        }),
        extra,
    })
}

fn encode_thinking(t: &ThinkingConfig) -> wire::ThinkingConfig {
    let mut out = wire::ThinkingConfig::default();
    match t.mode {
        ThinkingMode::Disabled => out.thinking_budget = Some(0),
        ThinkingMode::Enabled => {
            // No budget but an effort (an OpenAI client's `reasoning_effort`): the budgets
            // Gemini's own OpenAI layer uses, which 2.5 and 3 models both accept.
            let from_effort = t.effort.map(|e| match e {
                Effort::Minimal => 512,
                Effort::Low => 1024,
                Effort::Medium => 8192,
                Effort::High | Effort::XHigh | Effort::Max => 24576,
            });
            out.thinking_budget =
                Some(t.budget_tokens.map(i64::from).or(from_effort).unwrap_or(-1));
            out.include_thoughts = Some(t.include_thoughts.unwrap_or(true));
        }
        ThinkingMode::Adaptive => {
            match t.effort {
                Some(effort) => out.thinking_level = Some(level_from_effort(effort).into()),
                None => out.thinking_budget = Some(-1),
            }
            out.include_thoughts = Some(t.include_thoughts.unwrap_or(true));
        }
    }
    out
}

fn text_part(text: impl Into<Text>, signature: Option<String>) -> Part {
    Part {
        text: Some(text.into()),
        thought_signature: signature,
        ..Part::default()
    }
}

/// Gives the first call of each model step in the current turn (after the last user content
/// with normal content: text or images and no function responses) the sentinel when it has no
/// signature. Judged on the contents as sent, after pairing and merging, so that a history gets
/// the same signatures however it arrived (a request read back from this body included).
fn sign_current_turn(contents: &mut [Content]) {
    let start = contents.iter().rposition(|c| {
        c.role.as_deref() == Some("user")
            && !c.parts.iter().any(|p| p.function_response.is_some())
            && c.parts.iter().any(|p| {
                p.inline_data.is_some()
                    || p.file_data.is_some()
                    || p.text.as_ref().is_some_and(|t| !t.is_blank())
            })
    });
    let current = contents.iter_mut().skip(start.map_or(0, |s| s + 1));
    for content in current.filter(|c| c.role.as_deref() == Some("model")) {
        if let Some(call) = content.parts.iter_mut().find(|p| p.function_call.is_some())
            && call.thought_signature.is_none()
        {
            call.thought_signature = Some(SKIP_SIGNATURE_SENTINEL.to_string());
        }
    }
}

fn encode_messages(messages: &[Message], opts: &EncodeOptions) -> Vec<Content> {
    let call_names: HashMap<&str, String> = messages
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|b| match b {
            Block::ToolUse { id, name, .. } => Some((id.as_str(), gemini_function_name(name))),
            _ => None,
        })
        .collect();
    let mut contents: Vec<Content> = Vec::new();
    for message in messages {
        let (role, parts) = match message.role {
            Role::Assistant => ("model", model_parts(&message.content)),
            Role::User => ("user", user_parts(&message.content, &call_names)),
            Role::System => (
                "user",
                message
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        Block::Text { text, .. } if !text.is_empty() => Some(Part::text(text)),
                        _ => None,
                    })
                    .collect(),
            ),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(Content {
                role: Some(role.to_string()),
                parts,
                extra: Map::new(),
            }),
        }
    }
    fix_pairing(&mut contents);
    if opts.signature_sentinel {
        sign_current_turn(&mut contents);
    }
    for content in &mut contents {
        for part in &mut content.parts {
            if let Some(call) = &mut part.function_call {
                call.id = call
                    .id
                    .take()
                    .filter(|id| opts.send_call_ids && !is_minted_id(id));
            }
            if let Some(resp) = &mut part.function_response {
                resp.id = resp
                    .id
                    .take()
                    .filter(|id| opts.send_call_ids && !is_minted_id(id));
            }
        }
    }
    contents
}

fn model_parts(blocks: &[Block]) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut carried: Option<String> = None;
    for (bi, block) in blocks.iter().enumerate() {
        match block {
            Block::Text {
                text, signature, ..
            } => {
                let sig = own_signature(signature);
                if !text.is_empty() || sig.is_some() {
                    parts.push(text_part(text, sig));
                }
            }
            Block::Thinking { text, signature } => {
                let Some(sig) = own_signature(signature) else {
                    continue;
                };
                let next_is_unsigned_call = matches!(
                    blocks.get(bi + 1),
                    Some(Block::ToolUse { signature, .. }) if own_signature(signature).is_none()
                );
                let sig = if next_is_unsigned_call {
                    carried = Some(sig);
                    None
                } else {
                    Some(sig)
                };
                if !text.is_empty() {
                    parts.push(Part {
                        thought: Some(true),
                        ..text_part(text.as_str(), sig)
                    });
                } else if sig.is_some() {
                    // Marked as a thought: unmarked, an empty part with a signature reads back
                    // as a signature for a neighbouring part (parts.rs), not as this block.
                    parts.push(Part {
                        thought: Some(true),
                        ..text_part("", sig)
                    });
                }
            }
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => {
                let sig = own_signature(signature).or_else(|| carried.take());
                parts.push(Part {
                    function_call: Some(Box::new(FunctionCall {
                        id: Some(id.clone()),
                        name: gemini_function_name(name),
                        args: Some(super::super::parts::args_value(input.clone())),
                        extra: Map::new(),
                    })),
                    thought_signature: sig,
                    ..Part::default()
                });
            }
            Block::Image(image) => parts.push(image_part(image)),
            // A model turn may hold a file (a Gemini client's history of a reply that had one).
            Block::Document(doc) => parts.push(document_part(doc)),
            Block::Unknown {
                origin: Dialect::Gemini,
                value,
            } => {
                if let Ok(part) = serde_json::from_value::<Part>(value.clone()) {
                    parts.push(part);
                }
            }
            Block::ToolResult { .. } | Block::RedactedThinking { .. } | Block::Unknown { .. } => {}
        }
    }
    parts
}

/// A document: a file (PDF) inline, as Gemini reads it natively (with what a Gemini client's
/// blob said besides); any other as its text ([`crate::protocol::ir::Document::as_text`]).
pub(in crate::protocol::gemini) fn document_part(doc: &crate::protocol::ir::Document) -> Part {
    match &doc.source {
        crate::protocol::ir::DocumentSource::Base64 { media_type, data } => Part {
            inline_data: Some(Box::new(wire::Blob {
                mime_type: media_type.clone(),
                data: data.clone(),
                extra: doc
                    .extra
                    .for_dialect(Dialect::Gemini)
                    .cloned()
                    .unwrap_or_default(),
            })),
            ..Part::default()
        },
        _ => Part::text(doc.as_text().unwrap_or_default()),
    }
}

/// `{"result": text}` or `{"error": text}`, the text written as it came (see [`Text`]).
fn tool_output(key: &str, text: &Text) -> crate::protocol::json::Json {
    use crate::protocol::json::Json;
    match serde_json::value::to_raw_value(&std::collections::BTreeMap::from([(key, text)])) {
        Ok(raw) => Json::from_raw(raw),
        Err(_) => Json::from(json!({ key: text.as_str() })),
    }
}

fn user_parts(blocks: &[Block], call_names: &HashMap<&str, String>) -> Vec<Part> {
    let mut responses = Vec::new();
    let mut result_images = Vec::new();
    let mut rest = Vec::new();
    for block in blocks {
        match block {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                // Documents as text join the output's text; files follow the response inline.
                let mut doc_texts = Vec::new();
                for b in content {
                    if let Block::Image(image) = b {
                        result_images.push(image_part(image));
                    } else if let Block::Document(doc) = b {
                        match doc.as_text() {
                            Some(text) => doc_texts.push(Text::from(text)),
                            None => result_images.push(document_part(doc)),
                        }
                    }
                }
                let text = Text::join(
                    content
                        .iter()
                        .filter_map(|b| match b {
                            Block::Text { text, .. } => Some(text),
                            _ => None,
                        })
                        .chain(&doc_texts),
                    "\n",
                );
                let Some(name) = call_names.get(tool_use_id.as_str()) else {
                    // No call to answer (history cut): keep the output as plain text.
                    rest.push(Part::text(
                        text.wrap(&format!("[tool result {tool_use_id}]\n"), ""),
                    ));
                    continue;
                };
                let key = if *is_error { "error" } else { "result" };
                responses.push(Part {
                    function_response: Some(Box::new(FunctionResponse {
                        id: Some(tool_use_id.clone()),
                        name: name.clone(),
                        response: tool_output(key, &text),
                        extra: Map::new(),
                    })),
                    ..Part::default()
                });
            }
            Block::Text { text, .. } if !text.is_empty() => rest.push(Part::text(text)),
            Block::Image(image) => rest.push(image_part(image)),
            Block::Unknown {
                origin: Dialect::Gemini,
                value,
            } => {
                if let Ok(part) = serde_json::from_value::<Part>(value.clone()) {
                    rest.push(part);
                }
            }
            Block::Document(doc) => rest.push(document_part(doc)),
            _ => {}
        }
    }
    responses.extend(result_images);
    responses.extend(rest);
    responses
}

/// Makes every model content with N calls be followed by a user content whose first N parts are
/// the N responses, in call order (D12/D15): responses are matched by id, then by name;
/// unanswered calls get an error response; responses with no call become text; calls at the
/// very end (never answered) are removed.
fn fix_pairing(contents: &mut Vec<Content>) {
    let mut i = 0;
    while i < contents.len() {
        // (id, name) of each call: all the pairing needs.
        let calls: Vec<(Option<String>, String)> = match contents.get(i) {
            Some(c) if c.role.as_deref() == Some("model") => c
                .parts
                .iter()
                .filter_map(|p| p.function_call.as_ref())
                .map(|f| (f.id.clone(), f.name.clone()))
                .collect(),
            Some(c) => {
                // A user content whose responses answer nothing.
                let orphaned = i == 0
                    || contents
                        .get(i - 1)
                        .is_none_or(|p| !p.parts.iter().any(|x| x.function_call.is_some()));
                if orphaned
                    && c.parts.iter().any(|p| p.function_response.is_some())
                    && let Some(c) = contents.get_mut(i)
                {
                    for part in &mut c.parts {
                        if let Some(resp) = part.function_response.take() {
                            *part = Part::text(format!(
                                "[tool result {}]\n{}",
                                resp.name, resp.response
                            ));
                        }
                    }
                }
                i += 1;
                continue;
            }
            None => break,
        };
        if calls.is_empty() {
            i += 1;
            continue;
        }
        let next_is_user = contents
            .get(i + 1)
            .is_some_and(|c| c.role.as_deref() != Some("model"));
        if !next_is_user {
            if i + 1 == contents.len() {
                // A trailing model turn whose calls were never answered.
                if let Some(c) = contents.get_mut(i) {
                    c.parts.retain(|p| p.function_call.is_none());
                    if c.parts.is_empty() {
                        contents.remove(i);
                    }
                }
                break;
            }
            i += 1;
            continue;
        }
        if let Some(user) = contents.get_mut(i + 1) {
            let mut responses: Vec<Option<Box<FunctionResponse>>> = Vec::new();
            let mut others = Vec::new();
            for part in user.parts.drain(..) {
                match part.function_response {
                    Some(r) => responses.push(Some(r)),
                    None => others.push(part),
                }
            }
            let mut ordered = Vec::new();
            for (call_id, call_name) in &calls {
                let by_id = responses.iter().position(|r| {
                    r.as_ref()
                        .is_some_and(|r| r.id.is_some() && r.id == *call_id)
                });
                let by_name = || {
                    responses.iter().position(|r| {
                        r.as_ref()
                            .is_some_and(|r| r.id.is_none() && r.name == *call_name)
                    })
                };
                let found = by_id
                    .or_else(by_name)
                    .and_then(|k| responses.get_mut(k)?.take());
                let resp = found.unwrap_or_else(|| {
                    Box::new(FunctionResponse {
                        id: call_id.clone(),
                        name: call_name.clone(),
                        response: json!({"error": "No result was provided for this call."}).into(),
                        extra: Map::new(),
                    })
                });
                ordered.push(Part {
                    function_response: Some(resp),
                    ..Part::default()
                });
            }
            for leftover in responses.into_iter().flatten() {
                others.push(Part::text(format!(
                    "[tool result {}]\n{}",
                    leftover.name, leftover.response
                )));
            }
            ordered.extend(others);
            user.parts = ordered;
        }
        i += 2;
    }
}
