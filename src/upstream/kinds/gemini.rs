//! `gemini`: the Gemini API with an API key (`x-goog-api-key`):
//! `{base}/v1beta/models/{m}:generateContent | :streamGenerateContent?alt=sse | :countTokens`,
//! `{m}` escaped as one path segment so a model name cannot add a segment, a query or a
//! fragment. It counts tokens itself.

use http::HeaderMap;

use super::Kind;
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::{AdapterError, Call, Credential, Target, secret_header};

#[derive(Debug)]
pub struct Gemini;

impl Kind for Gemini {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::Gemini
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        let base = self.api_base(t)?;
        let model = t.model.strip_prefix("models/").unwrap_or(t.model);
        let model = crate::upstream::path_segment(model);
        let (method, alt_sse) = method(call);
        let mut url = format!("{base}/v1beta/models/{model}:{method}");
        if alt_sse {
            url.push_str("?alt=sse");
        }
        Ok(url)
    }

    fn authorize(&self, h: &mut HeaderMap, cred: &Credential<'_>) -> Result<(), AdapterError> {
        if let Some(s) = cred.secret().filter(|s| !s.is_empty()) {
            secret_header(h, "x-goog-api-key", s.expose())?;
        }
        Ok(())
    }

    fn default_output_cap(&self) -> Option<u32> {
        Some(65_536)
    }

    fn counts_tokens(&self) -> bool {
        true
    }

    fn models_url(&self, base: &str) -> Result<String, String> {
        Ok(format!("{base}/v1beta/models?pageSize=1000"))
    }
}

/// The Gemini method of a call and whether it streams as SSE (`?alt=sse`).
pub(super) fn method(call: Call) -> (&'static str, bool) {
    match call {
        Call::Generate {
            stream: true,
            alt_sse,
        } => ("streamGenerateContent", alt_sse),
        Call::CountTokens => ("countTokens", false),
        _ => ("generateContent", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;

    #[test]
    fn the_model_cannot_leave_its_path_segment() {
        let config = Config::default();
        let record = UpstreamRecord {
            base_url: Some("http://127.0.0.1:9/".into()),
            ..UpstreamRecord::sample("u", ProviderKind::Gemini)
        };
        let key = Secret::new("fake-gemini-key");
        let headers = HeaderMap::new();
        let url = |model, call| {
            let t = Target {
                config: &config,
                record: &record,
                model,
                credential: Credential::ApiKey(&key),
                client_dialect: Dialect::Gemini,
                client_headers: &headers,
            };
            Gemini.call_url(&t, call).unwrap()
        };
        let generate = Call::Generate {
            stream: false,
            alt_sse: false,
        };
        assert_eq!(
            url("models/gemini-2.5-flash", generate),
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            url("gemini-2.5-flash:generateContent?alt=json&key=x#", generate),
            "http://127.0.0.1:9/v1beta/models/\
             gemini-2.5-flash%3AgenerateContent%3Falt%3Djson%26key%3Dx%23:generateContent"
        );
        assert_eq!(
            url("tuned/x y", generate),
            "http://127.0.0.1:9/v1beta/models/tuned%2Fx%20y:generateContent"
        );
        let stream = Call::Generate {
            stream: true,
            alt_sse: true,
        };
        assert_eq!(
            url("g", stream),
            "http://127.0.0.1:9/v1beta/models/g:streamGenerateContent?alt=sse"
        );
    }
}
