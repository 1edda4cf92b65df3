//! The Anthropic Messages dialect as an upstream (kind `anthropic`): the request encoded as it
//! is; URL, credential and the forwarded `anthropic-version`/`anthropic-beta` come from the
//! kind.

use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Target, UpstreamCall};
use crate::protocol::anthropic;
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let wire = anthropic::encode_request(req)?;
    let kind = t.kind();
    Ok(UpstreamCall {
        url: kind.call_url(t, Call::Messages)?,
        headers: super::headers(t, req.stream)?,
        body: super::to_body_for(&wire, req, edits)?,
        reply: ReplyFormat {
            dialect: Dialect::Anthropic,
            code_assist: false,
            errors: kind.error_quirks(),
            names: ReplyNames::None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::secret::Secret;
    use crate::upstream::ANTHROPIC_VERSION;
    use crate::upstream::adapter::{Credential, fast_path, headers};
    use http::HeaderMap;

    #[test]
    fn beta_forwarded_only_from_anthropic_clients() {
        let r = super::super::test_record(ProviderKind::Anthropic, Some("http://127.0.0.1:9/"));
        let config = Config::default();
        let key = Secret::new("sk-ant-fake");
        let mut client = HeaderMap::new();
        client.insert("anthropic-beta", "a-1,b-2".parse().unwrap());
        client.insert("anthropic-version", "2023-06-01".parse().unwrap());
        let mut t = Target {
            config: &config,
            record: &r,
            model: "claude-x",
            credential: Credential::ApiKey(&key),
            client_dialect: Dialect::Anthropic,
            client_headers: &client,
        };
        let (u, h) = fast_path(&t, Call::Messages).unwrap();
        assert_eq!(u, "http://127.0.0.1:9/v1/messages");
        assert_eq!(h["anthropic-beta"], "a-1,b-2");
        assert_eq!(h["x-api-key"], "sk-ant-fake");
        t.client_dialect = Dialect::OpenAi;
        let h = headers(&t, true).unwrap();
        assert!(h.get("anthropic-beta").is_none());
        assert_eq!(h["anthropic-version"], ANTHROPIC_VERSION);
    }
}
