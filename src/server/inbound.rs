//! What a client called: its dialect, the endpoint (as the adapters' [`FastCall`]) and, for
//! Gemini, the model and method taken from the path (`/v1beta/models/{model}:{method}`, also
//! under `/v1/models/`; `{model}` URL-decoded, may hold `NAME/model`, a `models/` prefix is
//! tolerated).

use super::error::GatewayError;
use super::request::JsonBody;
use crate::protocol::ir::Dialect;
use crate::upstream::adapter::FastCall;

#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub dialect: Dialect,
    pub call: FastCall,
    /// Gemini: the model from the path.
    pub path_model: Option<String>,
}

impl Inbound {
    pub fn new(dialect: Dialect, call: FastCall) -> Inbound {
        Inbound {
            dialect,
            call,
            path_model: None,
        }
    }

    /// The model and the stream flag, after checking the fields the route needs.
    pub fn model_and_stream(&self, json: &JsonBody<'_>) -> Result<(String, bool), GatewayError> {
        match self.call {
            FastCall::Chat | FastCall::Messages => {
                json.require("messages", &["an array"])?;
                Ok((json.model()?, json.stream()?))
            }
            FastCall::Completions => {
                json.require("prompt", &["a string", "an array"])?;
                Ok((json.model()?, json.stream()?))
            }
            FastCall::Generate { stream, .. } => {
                json.require("contents", &["an array"])?;
                Ok((self.gemini_model()?, stream))
            }
            FastCall::CountTokens => Ok((self.gemini_model()?, false)),
        }
    }

    fn gemini_model(&self) -> Result<String, GatewayError> {
        self.path_model
            .clone()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| GatewayError::invalid("model", "the model is missing from the path"))
    }

    /// Gemini's `:streamGenerateContent` without `alt=sse`: one JSON array, written as it goes.
    pub fn json_array_stream(&self) -> bool {
        matches!(
            self.call,
            FastCall::Generate {
                stream: true,
                alt_sse: false
            }
        )
    }
}

/// A Gemini method path: `(model, method)` for `/v1beta/models/{model}:{method}` and
/// `/v1/models/{model}:{method}`.
pub(crate) fn gemini_path(path: &str) -> Option<(String, String)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    let model = percent_decode(model)?;
    let model = model.strip_prefix("models/").unwrap_or(&model).to_owned();
    Some((model, method.to_owned()))
}

/// The call for a Gemini method and query (`alt=sse`).
pub(crate) fn gemini_call(method: &str, query: Option<&str>) -> Option<FastCall> {
    let alt_sse = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "alt" && v == "sse")
    });
    match method {
        "generateContent" => Some(FastCall::Generate {
            stream: false,
            alt_sse: false,
        }),
        "streamGenerateContent" => Some(FastCall::Generate {
            stream: true,
            alt_sse,
        }),
        "countTokens" => Some(FastCall::CountTokens),
        _ => None,
    }
}

/// `%2F` and friends; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_paths() {
        assert_eq!(
            gemini_path("/v1beta/models/gemini-2.5-pro:generateContent"),
            Some(("gemini-2.5-pro".into(), "generateContent".into()))
        );
        assert_eq!(
            gemini_path("/v1/models/oai%2Fgpt-4o-mini:streamGenerateContent"),
            Some(("oai/gpt-4o-mini".into(), "streamGenerateContent".into()))
        );
        assert_eq!(
            gemini_path("/v1beta/models/oai/gpt-4o-mini:countTokens"),
            Some(("oai/gpt-4o-mini".into(), "countTokens".into()))
        );
        assert_eq!(
            gemini_path("/v1beta/models/models/g:generateContent"),
            Some(("g".into(), "generateContent".into()))
        );
        assert_eq!(gemini_path("/v1/models"), None);
        assert_eq!(gemini_path("/v1beta/models/x%zz:generateContent"), None);
        assert_eq!(
            gemini_call("streamGenerateContent", Some("alt=sse&key=k")),
            Some(FastCall::Generate {
                stream: true,
                alt_sse: true
            })
        );
        assert_eq!(gemini_call("embedContent", None), None);
    }
}
