//! Output-token caps per upstream model (A3.4): Claude Code asks for 32000-64000 output tokens
//! whatever the model, and several providers reject a `max_tokens` above their model's maximum
//! (DeepSeek `deepseek-chat`: "the valid range of max_tokens is [1, 8192]").
//!
//! One table of model globs, first match wins, then a conservative default per provider kind.
//! The figures are the providers' documented maximum output lengths; a model not listed gets
//! its kind's default (the kind's `default_output_cap`), which is small enough to be accepted
//! everywhere we know of. Anthropic upstreams are not clamped: the API knows its models and
//! says so in its own words.

use crate::config::ProviderKind;
use crate::routing::glob;

/// The top-level body fields that limit output tokens, which the fast path lowers to the cap
/// (OpenAI's older and newer names; the legacy completions endpoint's is `max_tokens` too).
pub const OUTPUT_LIMIT_FIELDS: [&str; 2] = ["max_tokens", "max_completion_tokens"];

/// `(model glob, maximum output tokens)`, most specific first.
const CAPS: &[(&str, u32)] = &[
    // DeepSeek
    ("deepseek-chat*", 8_192),
    ("deepseek-reasoner*", 65_536),
    ("deepseek-v3*", 8_192),
    ("deepseek-r1*", 65_536),
    // OpenAI
    ("gpt-4o-mini*", 16_384),
    ("gpt-4o*", 16_384),
    ("gpt-4.1*", 32_768),
    ("gpt-4-turbo*", 4_096),
    ("gpt-3.5*", 4_096),
    ("gpt-5*", 128_000),
    ("o1-mini*", 65_536),
    ("o1*", 100_000),
    ("o3*", 100_000),
    ("o4*", 100_000),
    // Qwen (DashScope)
    ("qwen3-coder-plus*", 65_536),
    ("qwen3-coder-flash*", 65_536),
    ("qwen3-coder*", 65_536),
    ("qwen3-max*", 65_536),
    ("qwen-max*", 8_192),
    ("qwen-plus*", 32_768),
    ("qwen-flash*", 32_768),
    ("qwen-turbo*", 16_384),
    ("coder-model", 65_536),
    // Gemini
    ("gemini-2.0*", 8_192),
    ("gemini-1.5*", 8_192),
    ("gemini-2.5*", 65_536),
    ("gemini-3*", 65_536),
];

/// The largest `max_tokens` to send `model` on an upstream of `kind`, if any: the table, then
/// the kind's default ([`Kind::default_output_cap`]); a kind without a default is never clamped.
///
/// [`Kind::default_output_cap`]: crate::upstream::kinds::Kind::default_output_cap
pub fn max_output_tokens(kind: ProviderKind, model: &str) -> Option<u32> {
    let default = crate::upstream::kinds::spec(kind).default_output_cap()?;
    let m = model.strip_prefix("models/").unwrap_or(model);
    // Every pattern starts with a literal: most are ruled out by their first byte.
    CAPS.iter()
        .find(|(pattern, _)| {
            pattern.as_bytes().first() == m.as_bytes().first() && glob::matches(pattern, m)
        })
        .map_or(Some(default), |(_, cap)| Some(*cap))
}

/// Whether an OpenAI model wants `max_completion_tokens` (o-series and gpt-5 reasoning models
/// reject `max_tokens`).
pub fn wants_max_completion_tokens(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    let o_series =
        m.len() >= 2 && m.starts_with('o') && m.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
    o_series || m.starts_with("gpt-5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_starts_with_a_literal() {
        // `max_output_tokens` rules patterns out by their first byte.
        assert!(CAPS.iter().all(|(p, _)| !p.starts_with('*')));
    }

    #[test]
    fn table_then_kind_default() {
        assert_eq!(
            max_output_tokens(ProviderKind::Deepseek, "deepseek-chat"),
            Some(8192)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Deepseek, "deepseek-reasoner"),
            Some(65536)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Qwen, "qwen3-coder-plus"),
            Some(65536)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Qwen, "some-new-qwen"),
            Some(8192)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Gemini, "models/gemini-2.5-pro"),
            Some(65536)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Openai, "llama3"),
            Some(16384)
        );
        assert_eq!(
            max_output_tokens(ProviderKind::Anthropic, "claude-opus-4"),
            None
        );
    }

    #[test]
    fn completion_tokens_field() {
        for m in ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini"] {
            assert!(wants_max_completion_tokens(m), "{m}");
        }
        for m in ["gpt-4o", "omni", "llama3", "qwen-plus"] {
            assert!(!wants_max_completion_tokens(m), "{m}");
        }
    }
}
