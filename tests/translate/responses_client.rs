//! What a Responses client (Codex CLI, the openai SDKs' `responses.create` / `.stream()`) needs
//! of the gateway's replies, checked on every cell of the matrix's Responses column, on top of
//! the decoded checks every column gets (`shared/reference/responses.md` §3-§5):
//! * streams: every frame named, `type` inside each data object equal to the name, no
//!   `[DONE]`, `response.created` first, `sequence_number` from 0 strictly increasing, items
//!   opened with `output_item.added` at dense indices and closed before the next opens, deltas
//!   only for the open item (text deltas after `content_part.added`), exactly one terminal
//!   event and nothing after it; the terminal `Response` lists the items the `.done` events
//!   carried; a cut stream ends `response.failed` with an error code and message;
//! * items: `function_call` with a `call_id` and JSON-string `arguments`, unique call ids,
//!   `reasoning` with a `summary` array (the thinking text) and, for a Claude upstream, the
//!   signature sealed in a gateway envelope in `encrypted_content`;
//! * whole replies: the fields the OpenAPI schema requires, `usage` with `input_tokens`,
//!   `output_tokens`, `total_tokens`; errors: the envelope with all four keys.

use serde_json::Value;

use super::rig::{Case, ClientReply, Kind};

const TERMINAL: &[&str] = &[
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
];

/// The events of a Responses stream as `(name, data)`, checked against the grammar.
pub fn lint_stream(body: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut events: Vec<(String, Value)> = Vec::new();
    let mut next_seq = 0u64;
    let mut next_index = 0u64;
    let mut open: Option<(u64, String)> = None;
    let mut part_open = false;
    let mut done_items: Vec<Value> = Vec::new();
    let mut ended = false;
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let mut event = None;
        let mut data = None;
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(d.to_string());
            }
        }
        let Some(data) = data else {
            // A keep-alive comment.
            if frame.lines().all(|l| l.starts_with(':')) {
                continue;
            }
            return Err(format!("frame without data: {frame:?}"));
        };
        if data.trim() == "[DONE]" {
            return Err("a Responses stream has no [DONE]".into());
        }
        if ended {
            return Err(format!("event after the terminal one: {frame}"));
        }
        let v: Value = serde_json::from_str(&data).map_err(|e| format!("{e}: {data}"))?;
        let ty = v["type"]
            .as_str()
            .ok_or_else(|| format!("no type in data: {data}"))?
            .to_string();
        if event.as_deref() != Some(ty.as_str()) {
            return Err(format!("event {event:?} carries type {ty}"));
        }
        if events.is_empty() && ty != "response.created" {
            return Err(format!("first event is {ty}, not response.created"));
        }
        let seq = v["sequence_number"]
            .as_u64()
            .ok_or_else(|| format!("no sequence_number: {data}"))?;
        if seq != next_seq {
            return Err(format!("sequence_number {seq}, expected {next_seq}"));
        }
        next_seq += 1;
        let index = v["output_index"].as_u64();
        match ty.as_str() {
            "response.output_item.added" => {
                if open.is_some() {
                    return Err(format!("item opened while another is open: {data}"));
                }
                if index != Some(next_index) {
                    return Err(format!("output_index {index:?}, expected {next_index}"));
                }
                let kind = v["item"]["type"].as_str().unwrap_or_default().to_string();
                open = Some((next_index, kind));
                next_index += 1;
                part_open = false;
            }
            "response.output_item.done" => {
                let Some((i, kind)) = open.take() else {
                    return Err(format!("item done without one open: {data}"));
                };
                if index != Some(i) || v["item"]["type"] != kind.as_str() {
                    return Err(format!("done for another item than the open {i}: {data}"));
                }
                check_item(&v["item"])?;
                done_items.push(v["item"].clone());
            }
            "response.content_part.added" => part_open = true,
            "response.output_text.delta" | "response.output_text.done" => {
                if !part_open || open.as_ref().map(|o| o.1.as_str()) != Some("message") {
                    return Err(format!("text outside an open message part: {data}"));
                }
                if index != open.as_ref().map(|o| o.0) {
                    return Err(format!("text for another item: {data}"));
                }
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done"
                if open.as_ref().map(|o| o.1.as_str()) != Some("function_call")
                    || index != open.as_ref().map(|o| o.0) =>
            {
                return Err(format!("arguments outside the open call: {data}"));
            }
            t if t.starts_with("response.reasoning_summary")
                && open.as_ref().map(|o| o.1.as_str()) != Some("reasoning") =>
            {
                return Err(format!("summary outside a reasoning item: {data}"));
            }
            t if TERMINAL.contains(&t) => {
                ended = true;
                if open.is_some() && t != "response.failed" && t != "error" {
                    return Err(format!("{t} with an item open"));
                }
                if t != "error" {
                    let r = &v["response"];
                    if !r["id"].is_string() {
                        return Err(format!("terminal response without id: {data}"));
                    }
                    let output = r["output"].as_array().cloned().unwrap_or_default();
                    // A failed response may list fewer items than were done: the relay of a
                    // same-dialect stream repeats `response.created`'s (it keeps no items).
                    let listed = if t == "response.failed" {
                        done_items.starts_with(&output)
                    } else {
                        output == done_items
                    };
                    if !listed {
                        return Err(format!(
                            "the terminal output differs from the done items: {output:?}"
                        ));
                    }
                    if t == "response.completed" {
                        check_usage(&r["usage"])?;
                    }
                    if t == "response.failed" {
                        let e = &r["error"];
                        if !e["code"].is_string() || !e["message"].is_string() {
                            return Err(format!("response.failed without code/message: {data}"));
                        }
                    }
                }
            }
            _ => {}
        }
        events.push((ty, v));
    }
    if !ended {
        let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        return Err(format!("no terminal event: {names:?}"));
    }
    Ok(events)
}

/// `{"error": {"message", "type", "param", "code"}}`, all four keys present.
fn check_error_body(v: &Value) -> Result<(), String> {
    let e = &v["error"];
    for k in ["message", "type", "param", "code"] {
        if e.get(k).is_none() {
            return Err(format!("error body without {k}: {v}"));
        }
    }
    if e["message"].as_str().is_none_or(str::is_empty) {
        return Err(format!("error body without a message: {v}"));
    }
    Ok(())
}

fn check_usage(u: &Value) -> Result<(), String> {
    for k in ["input_tokens", "output_tokens", "total_tokens"] {
        if !u[k].is_u64() {
            return Err(format!("usage without {k}: {u}"));
        }
    }
    if u["total_tokens"].as_u64()
        != Some(u["input_tokens"].as_u64().unwrap_or(0) + u["output_tokens"].as_u64().unwrap_or(0))
    {
        return Err(format!("total_tokens is not input + output: {u}"));
    }
    Ok(())
}

/// An output item's own shape.
fn check_item(item: &Value) -> Result<(), String> {
    match item["type"].as_str() {
        Some("function_call") => {
            let ok = item["call_id"].as_str().is_some_and(|c| !c.is_empty())
                && item["name"].is_string()
                && item["arguments"]
                    .as_str()
                    .is_some_and(|a| serde_json::from_str::<Value>(a).is_ok_and(|v| v.is_object()));
            if !ok {
                return Err(format!("function_call item malformed: {item}"));
            }
        }
        Some("reasoning") => {
            if !item["summary"].is_array() || !item["id"].is_string() {
                return Err(format!("reasoning item without summary or id: {item}"));
            }
        }
        Some("message") => {
            if item["role"] != "assistant" || !item["content"].is_array() {
                return Err(format!("message item malformed: {item}"));
            }
        }
        other => return Err(format!("unexpected item type {other:?}: {item}")),
    }
    Ok(())
}

/// The output items of the reply (from the terminal event of a stream).
fn output_of(case: Case, reply: &ClientReply) -> Result<Vec<Value>, String> {
    if case.streams() {
        let events = lint_stream(&reply.body)?;
        let last = &events.last().ok_or("empty stream")?.1;
        if case == Case::MidStreamCut {
            // Translated and relayed streams alike end `response.failed` (what Codex reports
            // and retries), numbered after the last event.
            if last["type"] != "response.failed" {
                return Err(format!("a cut stream must end response.failed: {last}"));
            }
            return Ok(Vec::new());
        }
        if last["type"] != "response.completed" {
            return Err(format!("ended {}, not response.completed", last["type"]));
        }
        Ok(last["response"]["output"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    } else {
        let v: Value = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        for k in [
            "id",
            "object",
            "created_at",
            "error",
            "incomplete_details",
            "instructions",
            "model",
            "tools",
            "output",
            "parallel_tool_calls",
            "metadata",
            "tool_choice",
            "temperature",
            "top_p",
        ] {
            if v.get(k).is_none() {
                return Err(format!("Response without {k}: {v}"));
            }
        }
        if v["object"] != "response" || v["status"] != "completed" {
            return Err(format!("not a completed response: {v}"));
        }
        check_usage(&v["usage"])?;
        let output = v["output"].as_array().cloned().unwrap_or_default();
        for item in &output {
            check_item(item)?;
        }
        Ok(output)
    }
}

/// The Responses-specific checks of one cell.
pub fn check(case: Case, kind: Kind, reply: &ClientReply) {
    let body = reply.text();
    if case == Case::UpstreamError {
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        check_error_body(&v).unwrap_or_else(|e| panic!("{e}\n{body}"));
        return;
    }
    let output = output_of(case, reply).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let of = |t: &str| -> Vec<&Value> { output.iter().filter(|i| i["type"] == t).collect() };
    match case {
        Case::ToolRoundTrip | Case::ParallelTools => {
            let calls = of("function_call");
            let want = if case == Case::ToolRoundTrip { 1 } else { 2 };
            assert_eq!(calls.len(), want, "{body}");
            let mut ids: Vec<&str> = calls.iter().filter_map(|c| c["call_id"].as_str()).collect();
            ids.dedup();
            assert_eq!(ids.len(), want, "call ids must be unique: {body}");
        }
        Case::Thinking => {
            let r = of("reasoning");
            assert_eq!(r.len(), 1, "{body}");
            let summary = r[0]["summary"].to_string();
            assert!(summary.contains("Let me think"), "{body}");
            if matches!(kind, Kind::Anthropic | Kind::Bedrock) {
                let enc = r[0]["encrypted_content"].as_str().unwrap_or_default();
                assert!(
                    enc.starts_with("lgw1.anthropic.thinking."),
                    "the Claude signature must ride in the envelope: {body}"
                );
            }
            assert_eq!(of("message").len(), 1, "{body}");
        }
        Case::MidStreamCut => {}
        _ => assert_eq!(of("message").len(), 1, "{body}"),
    }
}
