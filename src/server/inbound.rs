//! What a client called: the route table read from the dialect registry
//! ([`crate::protocol::dialect`]), and for a matched request its dialect, its declared
//! [`Endpoint`], the [`Call`] and, for path-addressed endpoints (Gemini's
//! `/v1beta/models/{model}:{method}`, also under `/v1/models/`; `{model}` URL-decoded, may hold
//! `NAME/model`, a `models/` prefix is tolerated), the model from the path. Nothing here names
//! a dialect: the endpoints say where the model and the stream flag are.

use super::error::GatewayError;
use super::fast_body::JsonBody;
use crate::protocol::codec::{Call, Endpoint, ModelFrom, PathSpec, StreamFrom};
use crate::protocol::dialect;
use crate::protocol::ir::Dialect;

#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub dialect: Dialect,
    pub endpoint: &'static Endpoint,
    pub call: Call,
    /// The model from the path, for endpoints that carry it there.
    pub path_model: Option<String>,
}

/// Where a request's method and path lead.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A dialect's endpoint.
    Found(Inbound),
    /// A dialect's exact path with another method (405).
    WrongMethod,
    /// A dialect's model path whose method the dialect does not serve.
    UnknownMethod(Dialect, String),
    /// No dialect's path.
    NotFound,
}

impl Inbound {
    /// The model and the stream flag, after checking the fields the endpoint needs.
    pub fn model_and_stream(&self, json: &JsonBody<'_>) -> Result<(String, bool), GatewayError> {
        if let Some((field, kinds)) = self.endpoint.requires {
            json.require(field, kinds)?;
        }
        let model = match self.endpoint.model {
            ModelFrom::Body => json.model()?,
            ModelFrom::Path | ModelFrom::None => self.path_model()?,
        };
        let stream = match self.endpoint.stream {
            StreamFrom::BodyField => json.stream()?,
            StreamFrom::Path { stream, .. } => stream,
        };
        Ok((model, stream))
    }

    /// Whether the body carries the model (the fast path edits it there); else it is in the
    /// path and the body is forwarded as it is.
    pub fn model_in_body(&self) -> bool {
        self.endpoint.model == ModelFrom::Body
    }

    fn path_model(&self) -> Result<String, GatewayError> {
        self.path_model
            .clone()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| GatewayError::invalid("model", "the model is missing from the path"))
    }

    /// A streaming endpoint called without its SSE query (Gemini's `:streamGenerateContent`
    /// without `alt=sse`): one JSON array, written as it goes.
    pub fn json_array_stream(&self) -> bool {
        let streams_by_path = matches!(
            self.endpoint.stream,
            StreamFrom::Path {
                stream: true,
                sse_query: Some(_)
            }
        );
        streams_by_path && self.call == self.endpoint.call.with_sse_query(false)
    }
}

/// The endpoint `method path?query` names, over every dialect's declared endpoints.
pub(crate) fn lookup(method: &str, path: &str, query: Option<&str>) -> Lookup {
    let mut fallback = Lookup::NotFound;
    for dialect in dialect::registered() {
        for endpoint in dialect.endpoints() {
            match endpoint.path {
                PathSpec::Exact(p) if p == path => {
                    if endpoint.method != method {
                        fallback = Lookup::WrongMethod;
                        continue;
                    }
                    return Lookup::Found(Inbound {
                        dialect,
                        endpoint,
                        call: endpoint.call,
                        path_model: None,
                    });
                }
                PathSpec::Exact(_) => {}
                PathSpec::ModelMethod {
                    prefixes,
                    method: m,
                } => {
                    if endpoint.method != method {
                        continue;
                    }
                    let Some((model, called)) = model_path(path, prefixes) else {
                        continue;
                    };
                    if called != m {
                        if matches!(fallback, Lookup::NotFound) {
                            fallback = Lookup::UnknownMethod(dialect, called);
                        }
                        continue;
                    }
                    let sse = match endpoint.stream {
                        StreamFrom::Path {
                            sse_query: Some((k, v)),
                            ..
                        } => query_has(query, k, v),
                        _ => false,
                    };
                    return Lookup::Found(Inbound {
                        dialect,
                        endpoint,
                        call: endpoint.call.with_sse_query(sse),
                        path_model: Some(model),
                    });
                }
            }
        }
    }
    fallback
}

/// The dialect whose path this is, whatever the method (for rendering a panic's error).
pub(crate) fn dialect_of(method: &str, path: &str) -> Option<Dialect> {
    dialect::registered().find(|d| {
        d.endpoints().iter().any(|e| match e.path {
            PathSpec::Exact(p) => p == path && !e.shared,
            PathSpec::ModelMethod { prefixes, .. } => {
                e.method == method && prefixes.iter().any(|p| path.starts_with(p))
            }
        })
    })
}

/// Whether the query has `key=value`.
fn query_has(query: Option<&str>, key: &str, value: &str) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == key && v == value)
    })
}

/// A model method path: `(model, method)` for `{prefix}{model}:{method}`.
fn model_path(path: &str, prefixes: &[&str]) -> Option<(String, String)> {
    let rest = prefixes.iter().find_map(|p| path.strip_prefix(p))?;
    let (model, method) = rest.rsplit_once(':')?;
    let model = percent_decode(model)?;
    let model = model.strip_prefix("models/").unwrap_or(&model).to_owned();
    Some((model, method.to_owned()))
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

    fn found(method: &str, path: &str, query: Option<&str>) -> Option<(Call, Option<String>)> {
        match lookup(method, path, query) {
            Lookup::Found(i) => Some((i.call, i.path_model)),
            _ => None,
        }
    }

    #[test]
    fn model_paths() {
        let gen_ = Call::Generate {
            stream: false,
            alt_sse: false,
        };
        assert_eq!(
            found(
                "POST",
                "/v1beta/models/gemini-2.5-pro:generateContent",
                None
            ),
            Some((gen_, Some("gemini-2.5-pro".into())))
        );
        assert_eq!(
            found(
                "POST",
                "/v1/models/oai%2Fgpt-4o-mini:streamGenerateContent",
                None
            ),
            Some((
                Call::Generate {
                    stream: true,
                    alt_sse: false
                },
                Some("oai/gpt-4o-mini".into())
            ))
        );
        assert_eq!(
            found("POST", "/v1beta/models/oai/gpt-4o-mini:countTokens", None),
            Some((Call::CountTokens, Some("oai/gpt-4o-mini".into())))
        );
        assert_eq!(
            found("POST", "/v1beta/models/models/g:generateContent", None),
            Some((gen_, Some("g".into())))
        );
        assert_eq!(found("POST", "/v1/models", None), None);
        assert!(matches!(
            lookup("POST", "/v1beta/models/x%zz:generateContent", None),
            Lookup::NotFound
        ));
        assert_eq!(
            found(
                "POST",
                "/v1beta/models/g:streamGenerateContent",
                Some("alt=sse&key=k")
            ),
            Some((
                Call::Generate {
                    stream: true,
                    alt_sse: true
                },
                Some("g".into())
            ))
        );
        assert!(matches!(
            lookup("POST", "/v1beta/models/g:embedContent", None),
            Lookup::UnknownMethod(_, m) if m == "embedContent"
        ));
    }

    #[test]
    fn exact_paths() {
        assert_eq!(
            found("POST", "/v1/messages", None),
            Some((Call::Messages, None))
        );
        assert_eq!(
            found("POST", "/v1/chat/completions", None),
            Some((Call::Chat, None))
        );
        assert_eq!(
            found("POST", "/v1/completions", None),
            Some((Call::Completions, None))
        );
        assert_eq!(found("GET", "/v1/models", None), Some((Call::Models, None)));
        assert!(matches!(
            lookup("GET", "/v1/messages", None),
            Lookup::WrongMethod
        ));
        assert!(matches!(lookup("POST", "/v1/nope", None), Lookup::NotFound));
        assert!(matches!(
            lookup("GET", "/v1beta/models/g:generateContent", None),
            Lookup::NotFound
        ));
    }
}
