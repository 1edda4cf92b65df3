//! `gemini-cli`: Google Code Assist through a Gemini CLI login. An OAuth bearer token,
//! `{api}/v1internal:{method}` (`?alt=sse` for streams), Gemini CLI's User-Agent, and every
//! body inside the Code Assist envelope (`crate::upstream::code_assist`), so a Gemini client is
//! never relayed byte for byte. It counts tokens itself and has no model list.

use http::HeaderMap;

use super::{AddRules, Kind, Refusal};
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::{AdapterError, Call, Target, header};
use crate::upstream::code_assist;

#[derive(Debug)]
pub struct GeminiCli;

impl Kind for GeminiCli {
    fn provider(&self) -> ProviderKind {
        ProviderKind::GeminiCli
    }

    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::Gemini
    }

    fn relays_same_dialect(&self) -> bool {
        false
    }

    fn code_assist(&self) -> bool {
        true
    }

    fn counts_tokens(&self) -> bool {
        true
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        let (method, stream) = super::gemini::method(call);
        Ok(code_assist::method_url(&self.api_base(t)?, method, stream))
    }

    fn extra_headers(&self, h: &mut HeaderMap, t: &Target<'_>) -> Result<(), AdapterError> {
        let ua = code_assist::user_agent(&code_assist::map_model(t.model));
        header(h, "user-agent", &ua)
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(65_536)
    }

    fn models_url(&self, _base: &str) -> Result<String, String> {
        Err("gemini-cli upstreams have no model list; pass --models".into())
    }

    /// Code Assist is reached with a Google login, never an API key.
    fn add_rules(&self) -> AddRules {
        AddRules {
            refused: Some(Refusal {
                message: "gemini-cli upstreams come from a Google login, not an API key",
                hint: "run `llm-gateway oauth login gemini-cli`, or `llm-gateway oauth import \
                       gemini-cli` to reuse ~/.gemini",
            }),
            ..AddRules::DEFAULT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;
    use crate::store::records::{OAuthMeta, OAuthState};
    use crate::upstream::adapter::{Credential, probe_headers};

    #[test]
    fn bearer_and_gemini_clis_user_agent() {
        let config = Config::default();
        let record = UpstreamRecord::sample("g", ProviderKind::GeminiCli);
        let token = Secret::new("ya29.fake");
        let meta = OAuthMeta {
            account: None,
            project: Some("p1".into()),
            tier: None,
            expires_at: None,
            last_refresh: None,
            state: OAuthState::Active,
            last_error: None,
            resource_url: None,
        };
        let none = HeaderMap::new();
        let t = Target {
            config: &config,
            record: &record,
            model: "models/gemini-2.5-pro",
            credential: Credential::OAuth {
                token: &token,
                meta: &meta,
            },
            client_dialect: Dialect::Gemini,
            client_headers: &none,
        };
        let h = probe_headers(&t).unwrap();
        assert_eq!(h["authorization"], "Bearer ya29.fake");
        assert_eq!(h["accept"], "application/json");
        let ua = h["user-agent"].to_str().unwrap();
        assert!(ua.contains("/gemini-2.5-pro "), "{ua}");
        let stream = Call::Generate {
            stream: true,
            alt_sse: true,
        };
        assert!(
            GeminiCli
                .call_url(&t, stream)
                .unwrap()
                .ends_with("/v1internal:streamGenerateContent?alt=sse")
        );
    }
}
