//! `openai`: any OpenAI-compatible Chat Completions API (OpenAI, Ollama, vLLM, OpenRouter, ...),
//! `Authorization: Bearer`, `{base}/chat/completions` and the legacy `{base}/completions`.

use super::{AddRules, KeyRule, Kind, openai_call_url};
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::protocol::openai::{EncodeOptions, ThinkingStyle};
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::limits::{max_output_tokens, wants_max_completion_tokens};
use crate::upstream::adapter::{AdapterError, Call, Target};

#[derive(Debug)]
pub struct Openai;

impl Kind for Openai {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    /// Chat Completions, or the Responses API with `--wire responses`.
    fn dialect(&self, record: &UpstreamRecord) -> Dialect {
        super::openai_wire(record)
    }

    fn templated(&self) -> bool {
        true
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        Ok(openai_call_url(&self.api_base(t)?, call))
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(16_384)
    }

    fn models_url(&self, base: &str) -> Result<String, String> {
        Ok(format!("{base}/models"))
    }

    /// `--wire` picks Chat or Responses; a local server (Ollama, vLLM) usually takes no key.
    fn add_rules(&self) -> AddRules {
        AddRules {
            wire: true,
            key: KeyRule::NoneWhenLocal,
            ..AddRules::DEFAULT
        }
    }
}

/// OpenAI's own switches for `model` on an upstream of `kind`: o-series and gpt-5 models take
/// `max_completion_tokens` and `reasoning_effort`; other models reject `reasoning_effort`, so
/// they are told nothing about thinking.
pub(super) fn options(kind: ProviderKind, model: &str) -> EncodeOptions {
    let reasoning = wants_max_completion_tokens(model);
    EncodeOptions {
        max_completion_tokens: reasoning,
        max_tokens_cap: max_output_tokens(kind, model),
        thinking_style: if reasoning {
            ThinkingStyle::ReasoningEffort
        } else {
            ThinkingStyle::None
        },
        ..EncodeOptions::default()
    }
}
