//! Gemini upstreams: the Gemini API (`gemini`: `x-goog-api-key`,
//! `{base}/v1beta/models/{m}:generateContent | :streamGenerateContent?alt=sse | :countTokens`,
//! `{m}` escaped as one path segment) and Google Code Assist (`gemini-cli`: OAuth bearer, `{api}/v1internal:{method}`, the body in
//! `{model, project, request}` and every reply in `{response, traceId}`).
//!
//! Tool schemas go through the codec's reducer into `parametersJsonSchema` (D6); call ids are
//! not sent (the API pairs by order, Code Assist reportedly rejects them); unsigned current-turn
//! calls get the signature sentinel (D17c). `max_tokens` is clamped per model ([`limits`]).
//!
//! [`limits`]: super::limits

use http::HeaderMap;

use super::limits::max_output_tokens;
use super::reply::{ReplyFormat, ReplyNames};
use super::{AdapterError, Call, Credential, Target, UpstreamCall, json_headers, secret_header};
use crate::config::ProviderKind;
use crate::oauth::code_assist;
use crate::protocol::gemini::{self, EncodeOptions, wire};
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;

fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

fn api_headers(t: &Target<'_>, stream: bool) -> Result<HeaderMap, AdapterError> {
    let mut h = json_headers(stream);
    if let Some(s) = t.credential.secret().filter(|s| !s.is_empty()) {
        secret_header(&mut h, "x-goog-api-key", s.expose())?;
    }
    Ok(h)
}

fn api_url(t: &Target<'_>, method: &str, alt_sse: bool) -> Result<String, AdapterError> {
    let base = crate::upstream::api_base(t.config, t.record)?;
    let model = crate::upstream::path_segment(model_id(t.model));
    let mut url = format!("{base}/v1beta/models/{model}:{method}");
    if alt_sse {
        url.push_str("?alt=sse");
    }
    Ok(url)
}

/// The Code Assist API base, the bearer token and the project.
fn code_assist_parts<'a>(
    t: &Target<'a>,
) -> Result<(String, &'a crate::secret::Secret, Option<&'a str>), AdapterError> {
    let Credential::OAuth { token, meta } = t.credential else {
        return Err(AdapterError::NoCredential(t.record.name.clone()));
    };
    let api = crate::upstream::api_base(t.config, t.record)?;
    Ok((api, token, meta.project.as_deref()))
}

fn code_assist_headers(
    token: &crate::secret::Secret,
    model: &str,
    stream: bool,
) -> Result<HeaderMap, AdapterError> {
    code_assist::headers(token, model, stream).map_err(|_| AdapterError::Header("authorization"))
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
    let kind = t.record.provider;
    let req = clamped(kind, req);
    let body = gemini::encode_request_with(&req, &EncodeOptions::default())?;
    let reply = ReplyFormat {
        dialect: Dialect::Gemini,
        code_assist: kind == ProviderKind::GeminiCli,
        names: ReplyNames::Gemini(gemini::ToolNames::from_request(&req)),
    };
    let stream = req.stream;
    if kind == ProviderKind::GeminiCli {
        let (api, token, project) = code_assist_parts(t)?;
        let method = if stream {
            "streamGenerateContent"
        } else {
            "generateContent"
        };
        // Rules edit the Gemini request, not the envelope around it.
        let inner: serde_json::Value = serde_json::from_slice(&super::to_body(&body, edits)?)
            .map_err(|e| {
                AdapterError::Codec(crate::protocol::codec::CodecError::Invalid(e.to_string()))
            })?;
        let envelope = code_assist::Envelope::new(t.model, project, inner);
        return Ok(UpstreamCall {
            url: code_assist::method_url(&api, method, stream),
            headers: code_assist_headers(token, t.model, stream)?,
            body: super::to_body(&envelope, &Edits::default())?,
            reply,
        });
    }
    let (method, alt) = if stream {
        ("streamGenerateContent", true)
    } else {
        ("generateContent", false)
    };
    Ok(UpstreamCall {
        url: api_url(t, method, alt)?,
        headers: api_headers(t, stream)?,
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
    let reply = ReplyFormat {
        dialect: Dialect::Gemini,
        code_assist: false,
        names: ReplyNames::None,
    };
    let model = format!("models/{}", model_id(t.model));
    if t.record.provider == ProviderKind::GeminiCli {
        let (api, token, _) = code_assist_parts(t)?;
        let envelope = wire::CodeAssistCountTokensRequest {
            request: wire::CodeAssistCountTokensInner {
                model,
                contents: body.contents,
            },
        };
        return Ok(UpstreamCall {
            url: code_assist::method_url(&api, "countTokens", false),
            headers: code_assist_headers(token, t.model, false)?,
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
        url: api_url(t, "countTokens", false)?,
        headers: api_headers(t, false)?,
        body: super::to_body(&count, &Edits::default())?,
        reply,
    })
}

pub(super) fn fast_path(t: &Target<'_>, call: Call) -> Result<(String, HeaderMap), AdapterError> {
    let (method, alt_sse) = match call {
        Call::Generate {
            stream: true,
            alt_sse,
        } => ("streamGenerateContent", alt_sse),
        Call::CountTokens => ("countTokens", false),
        _ => ("generateContent", false),
    };
    let mut h = api_headers(t, false)?;
    h.remove(http::header::ACCEPT);
    if let Some(a) = t.client_headers.get(http::header::ACCEPT) {
        h.insert(http::header::ACCEPT, a.clone());
    }
    Ok((api_url(t, method, alt_sse)?, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::ir::Dialect;
    use crate::secret::Secret;

    #[test]
    fn the_model_cannot_leave_its_path_segment() {
        let config = Config::default();
        let record = super::super::test_record(ProviderKind::Gemini, Some("http://127.0.0.1:9/"));
        let key = Secret::new("fake-gemini-key");
        let headers = HeaderMap::new();
        let target = |model| Target {
            config: &config,
            record: &record,
            model,
            credential: Credential::ApiKey(&key),
            client_dialect: Dialect::Gemini,
            client_headers: &headers,
        };
        let url = |model| api_url(&target(model), "generateContent", false).unwrap();
        assert_eq!(
            url("models/gemini-2.5-flash"),
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            url("gemini-2.5-flash:generateContent?alt=json&key=x#"),
            "http://127.0.0.1:9/v1beta/models/\
             gemini-2.5-flash%3AgenerateContent%3Falt%3Djson%26key%3Dx%23:generateContent"
        );
        assert_eq!(
            url("tuned/x y"),
            "http://127.0.0.1:9/v1beta/models/tuned%2Fx%20y:generateContent"
        );
        assert_eq!(
            api_url(&target("g"), "streamGenerateContent", true).unwrap(),
            "http://127.0.0.1:9/v1beta/models/g:streamGenerateContent?alt=sse"
        );
    }
}
