//! An Anthropic SSE grammar linter: what Claude Code and the Anthropic SDKs rely on.

use serde_json::Value;

/// Anthropic's SSE grammar (docs/translation-rules.md B1-B11): every frame named,
/// `event` = `data.type`, one `message_start` first, blocks sequential with contiguous indices
/// and at least one delta, `message_delta` with usage, `message_stop` last, nothing after
/// `error`.
pub fn lint_anthropic(body: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    let mut next_index = 0u64;
    let mut open: Option<u64> = None;
    let mut deltas = 0;
    let mut started = false;
    let mut saw_delta_usage = false;
    let mut ended = false;
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        if ended {
            return Err(format!("frame after the end: {frame}"));
        }
        let mut event = None;
        let mut data = None;
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(d.to_string());
            }
        }
        let (Some(event), Some(data)) = (event, data) else {
            return Err(format!("frame without event or data: {frame:?}"));
        };
        let v: Value = serde_json::from_str(&data).map_err(|e| format!("{e}: {data}"))?;
        if v["type"] != event.as_str() {
            return Err(format!("event {event} carries type {}", v["type"]));
        }
        names.push(event.clone());
        match event.as_str() {
            "message_start" => {
                if started {
                    return Err("second message_start".into());
                }
                started = true;
                let u = &v["message"]["usage"];
                if !u["input_tokens"].is_u64() || !u["output_tokens"].is_u64() {
                    return Err(format!("message_start usage incomplete: {u}"));
                }
            }
            "ping" => {}
            _ if !started => return Err(format!("{event} before message_start")),
            "content_block_start" => {
                if open.is_some() {
                    return Err("block started while another is open".into());
                }
                let i = v["index"].as_u64().ok_or("no index")?;
                if i != next_index {
                    return Err(format!("index {i}, expected {next_index}"));
                }
                open = Some(i);
                deltas = 0;
                next_index += 1;
            }
            "content_block_delta" => {
                if open != v["index"].as_u64() {
                    return Err(format!("delta for a block that is not open: {data}"));
                }
                deltas += 1;
            }
            "content_block_stop" => {
                if open != v["index"].as_u64() {
                    return Err("stop of a block that is not open".into());
                }
                if deltas == 0 {
                    return Err(format!("block {open:?} had no delta"));
                }
                open = None;
            }
            "message_delta" => {
                if !v["usage"]["output_tokens"].is_u64() {
                    return Err(format!("message_delta without usage: {data}"));
                }
                saw_delta_usage = true;
            }
            "message_stop" => {
                if !saw_delta_usage {
                    return Err("message_stop without message_delta".into());
                }
                if open.is_some() {
                    return Err("message_stop with a block open".into());
                }
                ended = true;
            }
            "error" => ended = true,
            other => return Err(format!("unknown event {other}")),
        }
    }
    if !ended {
        return Err(format!("stream did not end: {names:?}"));
    }
    Ok(())
}
