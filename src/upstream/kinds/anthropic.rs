//! `anthropic`: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`. An Anthropic
//! client's own `anthropic-version` and `anthropic-beta` list go through verbatim (never
//! allow-listed, A2.3); other clients send none. Output is never clamped here: the API knows
//! its models and says so in its own words.

use http::HeaderMap;

use super::Kind;
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::store::records::UpstreamRecord;
use crate::upstream::ANTHROPIC_VERSION;
use crate::upstream::adapter::{AdapterError, Call, Credential, Target, header, secret_header};

#[derive(Debug)]
pub struct Anthropic;

impl Kind for Anthropic {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::Anthropic
    }

    fn call_url(&self, t: &Target<'_>, _call: Call) -> Result<String, AdapterError> {
        Ok(format!("{}/v1/messages", self.api_base(t)?))
    }

    fn authorize(&self, h: &mut HeaderMap, cred: &Credential<'_>) -> Result<(), AdapterError> {
        if let Some(s) = cred.secret().filter(|s| !s.is_empty()) {
            secret_header(h, "x-api-key", s.expose())?;
        }
        Ok(())
    }

    fn extra_headers(&self, h: &mut HeaderMap, t: &Target<'_>) -> Result<(), AdapterError> {
        let anthropic_client = t.client_dialect == Dialect::Anthropic;
        match t
            .client_headers
            .get("anthropic-version")
            .filter(|_| anthropic_client)
        {
            Some(v) => {
                h.insert("anthropic-version", v.clone());
            }
            None => header(h, "anthropic-version", ANTHROPIC_VERSION)?,
        }
        if anthropic_client {
            for v in t.client_headers.get_all("anthropic-beta") {
                h.append("anthropic-beta", v.clone());
            }
        }
        Ok(())
    }

    fn default_output_cap(&self) -> Option<u32> {
        None
    }

    fn models_url(&self, base: &str) -> Result<String, String> {
        Ok(format!("{base}/v1/models?limit=1000"))
    }
}
