//! The Gemini dialect as an upstream: the Gemini API (kind `gemini`) and Google Code Assist
//! (kind `gemini-cli`, whose kind says [`code_assist`](crate::upstream::kinds::Kind::code_assist):
//! the body in `{model, project, request}` and every reply in `{response, traceId}`). URLs
//! and headers come from the kind.
//!
//! Tool schemas go through the codec's reducer into `parametersJsonSchema` (D6); call ids are
//! not sent (the API pairs by order, Code Assist reportedly rejects them); unsigned current-turn
//! calls get the signature sentinel (D17c). `max_tokens` is clamped per model ([`limits`]).
//!
//! [`limits`]: super::limits

use super::limits::max_output_tokens;
use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Credential, Target, UpstreamCall};
use crate::config::ProviderKind;
use crate::protocol::gemini::{self, EncodeOptions, wire};
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;
use crate::upstream::code_assist;

fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// The project of a Code Assist call, whose credential must be the login's token.
fn code_assist_project<'a>(t: &Target<'a>) -> Result<Option<&'a str>, AdapterError> {
    let Credential::OAuth { meta, .. } = t.credential else {
        return Err(AdapterError::NoCredential(t.record.name.clone()));
    };
    Ok(meta.project.as_deref())
}

/// The IR with the output limit clamped to the model's maximum (copied only when it changes).
fn clamped(kind: ProviderKind, req: &ir::Request) -> std::borrow::Cow<'_, ir::Request> {
    match (req.max_tokens, max_output_tokens(kind, &req.model)) {
        (Some(m), Some(cap)) if m > cap => {
            let mut req = req.clone();
            req.max_tokens = Some(cap);
            std::borrow::Cow::Owned(req)
        }
        _ => std::borrow::Cow::Borrowed(req),
    }
}

pub(super) fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let kind = t.kind();
    let req = clamped(kind.provider(), req);
    let body = gemini::encode_request_with(&req, &EncodeOptions::default())?;
    let reply = ReplyFormat {
        dialect: Dialect::Gemini,
        code_assist: kind.code_assist(),
        errors: kind.error_quirks(),
        names: ReplyNames::Gemini(gemini::ToolNames::from_request(&req)),
    };
    let stream = req.stream;
    let call = Call::Generate {
        stream,
        alt_sse: stream,
    };
    if kind.code_assist() {
        let project = code_assist_project(t)?;
        // Rules edit the Gemini request, not the envelope around it.
        let inner: serde_json::Value = serde_json::from_slice(&super::to_body(&body, edits)?)
            .map_err(|e| {
                AdapterError::Codec(crate::protocol::codec::CodecError::Invalid(e.to_string()))
            })?;
        let envelope = code_assist::Envelope::new(t.model, project, inner);
        return Ok(UpstreamCall {
            url: kind.call_url(t, call)?,
            headers: super::headers(t, stream)?,
            body: super::to_body(&envelope, &Edits::default())?,
            reply,
        });
    }
    Ok(UpstreamCall {
        url: kind.call_url(t, call)?,
        headers: super::headers(t, stream)?,
        body: super::to_body_for(&body, &req, edits)?,
        reply,
    })
}

/// A token count by the upstream itself: Gemini `:countTokens` with the whole request, or
/// Code Assist's `{request: {model: "models/<m>", contents}}`. Both answer `{totalTokens}`.
pub(super) fn count_tokens(
    t: &Target<'_>,
    req: &ir::Request,
) -> Result<UpstreamCall, AdapterError> {
    let mut req = req.clone();
    req.stream = false;
    let body = gemini::encode_request_with(&req, &EncodeOptions::default())?;
    let kind = t.kind();
    let reply = ReplyFormat {
        dialect: Dialect::Gemini,
        code_assist: false,
        errors: kind.error_quirks(),
        names: ReplyNames::None,
    };
    let model = format!("models/{}", model_id(t.model));
    let url = kind.call_url(t, Call::CountTokens)?;
    let headers = super::headers(t, false)?;
    if kind.code_assist() {
        code_assist_project(t)?;
        let envelope = wire::CodeAssistCountTokensRequest {
            request: wire::CodeAssistCountTokensInner {
                model,
                contents: body.contents,
            },
        };
        return Ok(UpstreamCall {
            url,
            headers,
            body: super::to_body(&envelope, &Edits::default())?,
            reply,
        });
    }
    let mut inner = serde_json::to_value(&body).map_err(|e| {
        AdapterError::Codec(crate::protocol::codec::CodecError::Invalid(e.to_string()))
    })?;
    if let Some(m) = inner.as_object_mut() {
        m.insert("model".into(), serde_json::Value::String(model));
    }
    let count = serde_json::json!({ "generateContentRequest": inner });
    Ok(UpstreamCall {
        url,
        headers,
        body: super::to_body(&count, &Edits::default())?,
        reply,
    })
}
