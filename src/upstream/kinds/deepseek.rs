//! `deepseek`: a preset of `openai` at `https://api.deepseek.com/v1` whose replies carry
//! `reasoning_content`, which must go back in the history (and thinking is asked for DeepSeek's
//! way).

use super::{Kind, openai_call_url};
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::protocol::openai::{EncodeOptions, ThinkingStyle};
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::limits::max_output_tokens;
use crate::upstream::adapter::{AdapterError, Call, Target};

#[derive(Debug)]
pub struct Deepseek;

impl Kind for Deepseek {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Deepseek
    }

    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::OpenAi
    }

    fn templated(&self) -> bool {
        true
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        Ok(openai_call_url(&self.api_base(t)?, call))
    }

    fn openai_options(&self, model: &str) -> EncodeOptions {
        EncodeOptions {
            reasoning_history: true,
            thinking_style: ThinkingStyle::DeepSeek,
            max_tokens_cap: max_output_tokens(ProviderKind::Deepseek, model),
            ..EncodeOptions::default()
        }
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(8_192)
    }

    fn models_url(&self, base: &str) -> Result<String, String> {
        Ok(format!("{base}/models"))
    }
}
