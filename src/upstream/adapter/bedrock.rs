//! AWS Bedrock's Converse as an upstream (kind `bedrock`): the IR encoded with
//! `protocol::converse` (the family's rules from the model id), the tool-name map kept for the
//! reply, the URL and the signature from the kind. Replies are read by [`ReplyFormat`] with
//! [`ReplyNames::Converse`].

use super::reply::{ConverseReply, ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Target, UpstreamCall};
use crate::protocol::converse;
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;
use crate::upstream::kinds::bedrock::region;

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let wire = converse::encode_request_with(req, &converse::EncodeOptions::default())?;
    let kind = t.kind();
    let mut headers = super::json_headers(false);
    if req.stream {
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
    }
    let source = match t.credential {
        super::Credential::Aws(r) => r.source.clone(),
        _ => String::new(),
    };
    Ok(UpstreamCall {
        url: kind.call_url(
            t,
            Call::Generate {
                stream: req.stream,
                alt_sse: false,
            },
        )?,
        headers,
        body: super::to_body_for(&wire, req, edits)?,
        reply: ReplyFormat {
            // What the reply is read into is the IR; the dialect only names the nearest one
            // for messages that need a name.
            dialect: Dialect::Anthropic,
            code_assist: false,
            errors: kind.error_quirks(),
            names: ReplyNames::Converse(Box::new(ConverseReply {
                map: converse::tool_map(req),
                source,
                model: t.model.to_owned(),
                region: region(t.record, t.model).to_owned(),
            })),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use crate::secret::Secret;
    use crate::upstream::adapter::{Credential, test_record};
    use crate::upstream::bedrock::credentials::{Auth, Resolved};
    use http::HeaderMap;

    fn req(stream: bool) -> ir::Request {
        let raw = br#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
        let mut r = crate::protocol::anthropic::decode_request(
            raw,
            &crate::protocol::codec::RequestHints::default(),
        )
        .unwrap();
        r.stream = stream;
        r.model = "anthropic.claude-3-haiku-20240307-v1:0".into();
        r
    }

    #[test]
    fn converse_url_body_and_a_sigv4_signature() {
        let c = Config::default();
        let rec = crate::store::records::UpstreamRecord {
            region: Some("us-west-2".into()),
            ..test_record(ProviderKind::Bedrock, Some("http://127.0.0.1:9"))
        };
        let resolved = Resolved {
            auth: Auth::SigV4(aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "fake-secret",
                Some("fake-token".into()),
                None,
                "test",
            )),
            source: "the environment".into(),
        };
        let h = HeaderMap::new();
        let t = Target {
            config: &c,
            record: &rec,
            model: "anthropic.claude-3-haiku-20240307-v1:0",
            credential: Credential::Aws(&resolved),
            client_dialect: Dialect::Anthropic,
            client_headers: &h,
        };
        let call = crate::upstream::adapter::translated(&t, &req(true), &Edits::default()).unwrap();
        assert_eq!(
            call.url,
            "http://127.0.0.1:9/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        let auth = call.headers["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-west-2/bedrock/aws4_request"), "{auth}");
        assert!(call.headers.contains_key("x-amz-security-token"));
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["messages"][0]["content"][0]["text"], "hi");

        let key = Secret::new("fake-bedrock-key");
        let bearer = Resolved {
            auth: Auth::Bearer(key),
            source: "the upstream's Bedrock API key".into(),
        };
        let t = Target {
            credential: Credential::Aws(&bearer),
            ..t
        };
        let call =
            crate::upstream::adapter::translated(&t, &req(false), &Edits::default()).unwrap();
        assert!(call.url.ends_with("/converse"));
        assert_eq!(call.headers["authorization"], "Bearer fake-bedrock-key");
        let none = Target {
            credential: Credential::None,
            ..t
        };
        assert!(
            crate::upstream::adapter::translated(&none, &req(false), &Edits::default()).is_err()
        );
    }
}
