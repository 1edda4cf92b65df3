//! Anthropic upstreams: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`. An
//! Anthropic client's `anthropic-beta` list goes through verbatim (never allow-listed, A2.3);
//! other clients send none.

use http::HeaderMap;

use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Target, UpstreamCall, header, json_headers, secret_header};
use crate::protocol::anthropic;
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;
use crate::upstream::ANTHROPIC_VERSION;

fn headers(t: &Target<'_>, stream: bool) -> Result<HeaderMap, AdapterError> {
    let mut h = json_headers(stream);
    if let Some(s) = t.credential.secret().filter(|s| !s.is_empty()) {
        secret_header(&mut h, "x-api-key", s.expose())?;
    }
    let from_client = |name: &str| {
        (t.client_dialect == Dialect::Anthropic)
            .then(|| t.client_headers.get(name))
            .flatten()
            .cloned()
    };
    match from_client("anthropic-version") {
        Some(v) => {
            h.insert("anthropic-version", v);
        }
        None => header(&mut h, "anthropic-version", ANTHROPIC_VERSION)?,
    }
    for v in t.client_headers.get_all("anthropic-beta") {
        if t.client_dialect == Dialect::Anthropic {
            h.append("anthropic-beta", v.clone());
        }
    }
    Ok(h)
}

fn url(t: &Target<'_>) -> Result<String, AdapterError> {
    Ok(format!(
        "{}/v1/messages",
        crate::upstream::api_base(t.config, t.record)?
    ))
}

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let wire = anthropic::encode_request(req)?;
    Ok(UpstreamCall {
        url: url(t)?,
        headers: headers(t, req.stream)?,
        body: super::to_body_for(&wire, req, edits)?,
        reply: ReplyFormat {
            dialect: Dialect::Anthropic,
            code_assist: false,
            names: ReplyNames::None,
        },
    })
}

pub(super) fn fast_path(t: &Target<'_>) -> Result<(String, HeaderMap), AdapterError> {
    let mut h = headers(t, false)?;
    h.remove(http::header::ACCEPT);
    if let Some(a) = t.client_headers.get(http::header::ACCEPT) {
        h.insert(http::header::ACCEPT, a.clone());
    }
    Ok((url(t)?, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::secret::Secret;
    use crate::upstream::adapter::Credential;

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
        let (u, h) = fast_path(&t).unwrap();
        assert_eq!(u, "http://127.0.0.1:9/v1/messages");
        assert_eq!(h["anthropic-beta"], "a-1,b-2");
        assert_eq!(h["x-api-key"], "sk-ant-fake");
        t.client_dialect = Dialect::OpenAi;
        let h = headers(&t, true).unwrap();
        assert!(h.get("anthropic-beta").is_none());
        assert_eq!(h["anthropic-version"], ANTHROPIC_VERSION);
    }
}
