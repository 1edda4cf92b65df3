//! Thinking switches, both ways (C9, A3.6): OpenAI `reasoning_effort` and the provider variants
//! (DeepSeek `thinking.type`, Qwen `enable_thinking` + `thinking_budget`) <-> the IR's
//! [`ThinkingConfig`]. Which variant an upstream gets is `upstream/`'s choice ([`ThinkingStyle`]).

use serde_json::{Map, Value, json};

use super::wire;
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{Effort, ThinkingConfig, ThinkingMode};

/// How a provider wants thinking switched on and off (C9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThinkingStyle {
    /// Say nothing about thinking (models without a switch).
    None,
    /// `reasoning_effort: minimal|low|medium|high|xhigh` (OpenAI reasoning models and most
    /// OpenAI-compatible servers). Disabled thinking sends nothing (A3.6).
    #[default]
    ReasoningEffort,
    /// DeepSeek: `thinking: {"type": "enabled"|"disabled"}` plus `reasoning_effort: low|high|max`.
    DeepSeek,
    /// Qwen (DashScope): `enable_thinking: bool` plus `thinking_budget`.
    Qwen,
}

fn parse_effort(s: &str) -> Option<Effort> {
    Some(match s {
        "minimal" => Effort::Minimal,
        "low" => Effort::Low,
        "medium" => Effort::Medium,
        "high" => Effort::High,
        "xhigh" => Effort::XHigh,
        "max" => Effort::Max,
        _ => return None,
    })
}

/// `reasoning_effort`, or the provider switches an OpenAI client may send to its own provider
/// (Qwen `enable_thinking` + `thinking_budget`, DeepSeek `thinking.type`). The switches also stay
/// in the extras, so an OpenAI-compatible upstream still receives them verbatim.
pub(crate) fn decode_thinking(
    effort: Option<&str>,
    extra: &Map<String, Value>,
) -> Result<Option<ThinkingConfig>, CodecError> {
    let config = |mode, effort, budget_tokens| ThinkingConfig {
        mode,
        budget_tokens,
        effort,
        include_thoughts: None,
    };
    if let Some(e) = effort {
        if e == "none" {
            return Ok(Some(config(ThinkingMode::Disabled, None, None)));
        }
        let Some(effort) = parse_effort(e) else {
            return Err(CodecError::Invalid(format!(
                "reasoning_effort: unknown value `{e}` (expected none, minimal, low, medium, high or xhigh)"
            )));
        };
        return Ok(Some(config(ThinkingMode::Enabled, Some(effort), None)));
    }
    let budget = extra
        .get("thinking_budget")
        .and_then(Value::as_u64)
        .and_then(|b| u32::try_from(b).ok());
    if let Some(on) = extra.get("enable_thinking").and_then(Value::as_bool) {
        let mode = if on {
            ThinkingMode::Enabled
        } else {
            ThinkingMode::Disabled
        };
        return Ok(Some(config(mode, None, budget.filter(|_| on))));
    }
    match extra
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
    {
        Some("enabled") => Ok(Some(config(ThinkingMode::Enabled, None, None))),
        Some("disabled") => Ok(Some(config(ThinkingMode::Disabled, None, None))),
        _ => Ok(None),
    }
}

/// A thinking budget as an effort bucket (the thresholds litellm uses).
fn budget_effort(budget: u32) -> Effort {
    match budget {
        b if b >= 10_000 => Effort::High,
        b if b >= 5_000 => Effort::Medium,
        _ => Effort::Low,
    }
}

pub(crate) fn apply_thinking(
    w: &mut wire::ChatCompletionRequest,
    t: &ThinkingConfig,
    style: ThinkingStyle,
    from_openai: bool,
) {
    let effort = t.effort.or(t.budget_tokens.map(budget_effort));
    let on = t.mode != ThinkingMode::Disabled;
    match style {
        ThinkingStyle::None => {}
        ThinkingStyle::ReasoningEffort => {
            // Disabled sends nothing: "none" is not understood by older models (A3.6).
            // Adaptive without an effort leaves the provider's default.
            let effort = match t.mode {
                ThinkingMode::Disabled => None,
                ThinkingMode::Enabled => Some(effort.unwrap_or(Effort::Medium)),
                ThinkingMode::Adaptive => effort,
            };
            w.reasoning_effort = effort.map(|e| {
                match e {
                    Effort::Minimal => "minimal",
                    Effort::Low => "low",
                    Effort::Medium => "medium",
                    Effort::High => "high",
                    // Only an OpenAI client that asked for `xhigh` itself gets it: few models
                    // accept it, and Anthropic's `max` is no reason to risk a 400.
                    Effort::XHigh if from_openai => "xhigh",
                    Effort::XHigh | Effort::Max => "high",
                }
                .to_owned()
            });
        }
        ThinkingStyle::DeepSeek => {
            let kind = if on { "enabled" } else { "disabled" };
            w.extra
                .insert("thinking".to_owned(), json!({ "type": kind }));
            w.reasoning_effort = effort.filter(|_| on).map(|e| {
                match e {
                    Effort::Minimal | Effort::Low => "low",
                    Effort::Medium | Effort::High | Effort::XHigh => "high",
                    Effort::Max => "max",
                }
                .to_owned()
            });
        }
        ThinkingStyle::Qwen => {
            w.extra.insert("enable_thinking".to_owned(), json!(on));
            match t.budget_tokens.filter(|_| on) {
                Some(b) => {
                    w.extra.insert("thinking_budget".to_owned(), json!(b));
                }
                None => {
                    w.extra.remove("thinking_budget");
                }
            }
        }
    }
}
