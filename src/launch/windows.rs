//! Context windows of upstream models, for `launch claude`: Claude Code assumes a window of
//! 200K tokens for a model it does not know and compacts the conversation as it nears that, so
//! a model with a smaller window needs `CLAUDE_CODE_AUTO_COMPACT_WINDOW` (Claude Code cannot
//! be told of a larger one).
//!
//! The figures are the providers' published context lengths (DeepSeek API docs "Models &
//! Pricing"; OpenAI's model pages; Alibaba Cloud Model Studio's model list; the Gemini API model
//! pages), the same ones the README's context-window table quotes. A model not listed gets
//! nothing set: Claude Code's own assumption then stands.

use crate::routing::glob;

/// What Claude Code assumes for a model it does not know.
pub const CLAUDE_CODE_WINDOW: u64 = 200_000;

/// `(model glob, context window in tokens)`, most specific first.
const WINDOWS: &[(&str, u64)] = &[
    // DeepSeek
    ("deepseek-chat*", 128_000),
    ("deepseek-reasoner*", 128_000),
    // OpenAI
    ("gpt-4o*", 128_000),
    ("gpt-4-turbo*", 128_000),
    ("gpt-4.1*", 1_047_576),
    ("gpt-3.5-turbo*", 16_385),
    ("gpt-5*", 400_000),
    ("o1-mini*", 128_000),
    ("o1*", 200_000),
    ("o3*", 200_000),
    ("o4-mini*", 200_000),
    // Qwen (DashScope)
    ("qwen3-coder*", 1_000_000),
    // Gemini
    ("gemini-2.5*", 1_048_576),
    ("gemini-2.0*", 1_048_576),
];

/// The context window of `model` (an upstream's model name, `models/` accepted), if known.
pub fn context_window(model: &str) -> Option<u64> {
    let m = model.strip_prefix("models/").unwrap_or(model);
    WINDOWS
        .iter()
        .find(|(pattern, _)| glob::matches(pattern, m))
        .map(|(_, w)| *w)
}

/// What to set `CLAUDE_CODE_AUTO_COMPACT_WINDOW` to for `model`: its window when it is known and
/// smaller than Claude Code's assumption.
pub fn compact_window(model: &str) -> Option<u64> {
    context_window(model).filter(|&w| w < CLAUDE_CODE_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_smaller_windows_are_set() {
        assert_eq!(compact_window("deepseek-chat"), Some(128_000));
        assert_eq!(compact_window("gpt-4o-mini"), Some(128_000));
        assert_eq!(compact_window("o1-mini"), Some(128_000));
        assert_eq!(compact_window("o1"), None);
        assert_eq!(compact_window("models/gemini-2.5-pro"), None);
        assert_eq!(context_window("gemini-2.5-pro"), Some(1_048_576));
        assert_eq!(compact_window("qwen3-coder-plus"), None);
        assert_eq!(compact_window("some-local-model"), None);
    }
}
