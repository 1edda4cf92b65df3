//! Upstream adapters: an `ir::Request` (model already the upstream's) -> the HTTP request an
//! upstream wants, plus the [`ReplyFormat`] that says how to read what comes back. One adapter
//! per wire dialect; what differs between provider kinds of one dialect (base URLs and region
//! presets, the credential header, Qwen's DashScope headers, DeepSeek's reasoning replay,
//! Azure's URL forms, the Code Assist envelope) is asked of the record's
//! [`Kind`], never matched here. `max_tokens` caps are in [`limits`].
//!
//! Two entry points, both pure (tokens are fetched by the caller, the server):
//! * [`translated`] encodes the IR for the upstream (`[[rules]]` edits applied to the wire JSON);
//! * [`fast_path`] gives the URL and headers for forwarding a client's body of the same
//!   protocol, whose bytes the server edits itself (only the model).
//!
//! Files: `openai` (the OpenAI Chat dialect), `responses` (the OpenAI Responses API),
//! `anthropic`, `gemini` (with the Code Assist envelope),
//! `limits` (output caps), `reply` (reading replies back: envelope, tool names, errors),
//! `plain_text` (the gist of a non-JSON error body).

mod anthropic;
mod bedrock;
mod gemini;
pub mod limits;
mod openai;
pub(crate) mod plain_text;
mod reply;
mod responses;

pub use reply::{ConverseReply, ReplyDecoder, ReplyFormat, ReplyNames, retry_after};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::kinds::{self, Kind};
use crate::config::Config;
use crate::protocol::codec::CodecError;
use crate::protocol::ir::{self, Dialect};
use crate::routing::rules::Edits;
use crate::secret::Secret;
use crate::store::records::{OAuthMeta, UpstreamRecord};

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error(transparent)]
    Upstream(#[from] super::UpstreamError),
    #[error("cannot encode the request for the upstream: {0}")]
    Codec(#[from] CodecError),
    #[error("upstream `{0}` has no credential the gateway can use")]
    NoCredential(String),
    #[error("invalid header value for `{0}`")]
    Header(&'static str),
}

/// What the upstream is called with.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    None,
    ApiKey(&'a Secret),
    /// An OAuth access token and the metadata the refresher holds (project, resource URL).
    OAuth {
        token: &'a Secret,
        meta: &'a OAuthMeta,
    },
    /// AWS Bedrock: a Bedrock API key or SigV4 keys, resolved at use time, and their source.
    Aws(&'a crate::upstream::bedrock::credentials::Resolved),
}

impl<'a> Credential<'a> {
    /// The secret sent to the upstream, whatever its source.
    pub(crate) fn secret(&self) -> Option<&'a Secret> {
        match *self {
            Credential::None => None,
            Credential::ApiKey(s) => Some(s),
            Credential::OAuth { token, .. } => Some(token),
            Credential::Aws(_) => None,
        }
    }

    /// The OAuth metadata of an OAuth credential.
    pub(crate) fn meta(&self) -> Option<&'a OAuthMeta> {
        match *self {
            Credential::OAuth { meta, .. } => Some(meta),
            _ => None,
        }
    }
}

/// One upstream call's destination.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub config: &'a Config,
    pub record: &'a UpstreamRecord,
    /// The model name the upstream knows.
    pub model: &'a str,
    pub credential: Credential<'a>,
    /// The client's dialect and headers (Anthropic clients' `anthropic-beta` is forwarded to
    /// Anthropic upstreams verbatim).
    pub client_dialect: Dialect,
    pub client_headers: &'a HeaderMap,
}

impl Target<'_> {
    /// What the record's provider kind is.
    pub fn kind(&self) -> &'static dyn Kind {
        kinds::spec(self.record.provider)
    }
}

/// What the client called, for the same-protocol fast path: declared by the dialects' endpoints.
pub use crate::protocol::Call;

/// An HTTP request ready to send.
#[derive(Debug)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub reply: ReplyFormat,
}

/// Whether a client of `client` dialect can be forwarded to `record` without translation: the
/// upstream speaks that dialect and its kind relays it as it is (Code Assist wraps every body
/// in its envelope, Azure adds filter chunks: both always translate).
pub fn same_protocol(record: &UpstreamRecord, client: Dialect) -> bool {
    let kind = kinds::spec(record.provider);
    kind.relays_same_dialect() && kind.dialect(record) == client
}

/// Encodes `req` for the target, applying `edits` (`[[rules]]`) to the wire JSON, then lets the
/// kind sign the finished call.
pub fn translated(
    t: &Target<'_>,
    req: &ir::Request,
    edits: &Edits,
) -> Result<UpstreamCall, AdapterError> {
    let kind = t.kind();
    if kind.converse() {
        let mut call = bedrock::translated(t, req, edits)?;
        kind.sign(&mut call, t)?;
        return Ok(call);
    }
    let mut call = match kind.dialect(t.record) {
        Dialect::OpenAi => openai::translated(t, req, edits)?,
        Dialect::Anthropic => anthropic::translated(t, req, edits)?,
        Dialect::Gemini => gemini::translated(t, req, edits)?,
        Dialect::Responses => responses::translated(t, req, edits)?,
    };
    kind.sign(&mut call, t)?;
    Ok(call)
}

/// URL and headers for forwarding a client's own body (same protocol) to the target. The
/// client's `Accept` (or none) replaces ours.
pub fn fast_path(t: &Target<'_>, call: Call) -> Result<(String, HeaderMap), AdapterError> {
    let mut h = headers(t, false)?;
    h.remove(http::header::ACCEPT);
    if let Some(a) = t.client_headers.get(http::header::ACCEPT) {
        h.insert(http::header::ACCEPT, a.clone());
    }
    Ok((t.kind().call_url(t, call)?, h))
}

/// The same-protocol request of an OpenAI-compatible upstream with a fixed credential (an API
/// key or none), made once per view of the store: the URL parsed and the headers, credential
/// included, built and validated. A request then only copies them and adds the client's
/// `Accept`; building them per request (formatting, parsing and validating the URL and each
/// header) was a measurable share of the fast path's CPU under load. OAuth upstreams, whose
/// tokens change, and other kinds, whose headers depend on the client's, build per request.
#[derive(Debug, Clone)]
pub struct FastTemplate {
    chat: (http::Uri, HeaderMap),
    completions: (http::Uri, HeaderMap),
}

impl FastTemplate {
    /// The template for `record` with `secret` (its API key), when it can have one.
    pub fn new(config: &Config, record: &UpstreamRecord, secret: Option<&Secret>) -> Option<Self> {
        let kind = kinds::spec(record.provider);
        // The template holds the Chat URLs; a Responses-wire record builds per request.
        if !kind.templated()
            || kind.dialect(record) != Dialect::OpenAi
            || record.auth == crate::store::records::AuthKind::Oauth
        {
            return None;
        }
        let no_headers = HeaderMap::new();
        let t = Target {
            config,
            record,
            model: "",
            credential: secret.map_or(Credential::None, Credential::ApiKey),
            client_dialect: Dialect::OpenAi,
            client_headers: &no_headers,
        };
        let build = |call| {
            let (url, mut headers) = fast_path(&t, call).ok()?;
            // Only what the direct client sends; anything else takes the per-request path.
            let uri = http::Uri::try_from(url).ok()?;
            // Done here once rather than by the client per request.
            let uri = crate::upstream::base_url::userinfo_to_basic(uri, &mut headers);
            match uri.scheme_str() {
                // The `Host` the connection pool would otherwise format for every request.
                // Plain HTTP only: over TLS the connection may turn out HTTP/2, which has
                // `:authority` instead.
                Some("http") => {
                    let host = crate::upstream::pool::host_header(uri.authority()?)?;
                    headers.insert(http::header::HOST, host);
                }
                Some("https") => {}
                _ => return None,
            }
            crate::upstream::default_headers(&mut headers);
            Some((uri, headers))
        };
        Some(FastTemplate {
            chat: build(Call::Chat)?,
            completions: build(Call::Completions)?,
        })
    }

    /// The URL and headers of `call` (chat or completions) for a client that sent
    /// `client_headers`: what [`fast_path`] gives, without building it again.
    pub fn request(&self, call: Call, client_headers: &HeaderMap) -> (http::Uri, HeaderMap) {
        let (uri, headers) = match call {
            Call::Completions => &self.completions,
            _ => &self.chat,
        };
        let mut headers = headers.clone();
        // The client's `Accept` replaces the default.
        if let Some(accept) = client_headers.get(http::header::ACCEPT) {
            headers.insert(http::header::ACCEPT, accept.clone());
        }
        (uri.clone(), headers)
    }
}

/// A token count by the upstream itself, for the kinds that have one (Gemini, Code Assist):
/// the reply is `{"totalTokens": N}`. `None` for kinds the gateway estimates locally.
pub fn count_tokens(
    t: &Target<'_>,
    req: &ir::Request,
) -> Option<Result<UpstreamCall, AdapterError>> {
    let kind = t.kind();
    kind.counts_tokens().then(|| {
        let mut call = gemini::count_tokens(t, req)?;
        kind.sign(&mut call, t)?;
        Ok(call)
    })
}

// ---- helpers shared by the kinds ----

/// The body of a translated request: without `[[rules]]` edits it is written straight into a
/// buffer sized for `req`, with no `Value` tree in between.
fn to_body_for<T: serde::Serialize>(
    wire: &T,
    req: &ir::Request,
    edits: &Edits,
) -> Result<Vec<u8>, AdapterError> {
    if edits.is_empty() {
        return crate::protocol::codec::to_body(wire, req).map_err(AdapterError::Codec);
    }
    to_body(wire, edits)
}

fn to_body<T: serde::Serialize>(wire: &T, edits: &Edits) -> Result<Vec<u8>, AdapterError> {
    to_body_fixed(wire, edits, |_| {})
}

/// [`to_body`] with a provider fix-up of the wire JSON before the `[[rules]]` edits (so a rule
/// can still put back what the fix-up took out).
fn to_body_fixed<T: serde::Serialize>(
    wire: &T,
    edits: &Edits,
    fix: impl FnOnce(&mut Value),
) -> Result<Vec<u8>, AdapterError> {
    let mut value = serde_json::to_value(wire)
        .map_err(|e| AdapterError::Codec(CodecError::Invalid(format!("cannot serialize: {e}"))))?;
    fix(&mut value);
    if let Value::Object(map) = &mut value {
        edits
            .apply(map)
            .map_err(|e| AdapterError::Codec(CodecError::Invalid(e.to_string())))?;
    }
    serde_json::to_vec(&value)
        .map_err(|e| AdapterError::Codec(CodecError::Invalid(format!("cannot serialize: {e}"))))
}

pub(crate) fn header(
    h: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), AdapterError> {
    let v = HeaderValue::from_str(value).map_err(|_| AdapterError::Header(name))?;
    h.insert(HeaderName::from_static(name), v);
    Ok(())
}

pub(crate) fn secret_header(
    h: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), AdapterError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| AdapterError::Header(name))?;
    v.set_sensitive(true);
    h.insert(HeaderName::from_static(name), v);
    Ok(())
}

fn json_headers(stream: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    h
}

/// The headers of the CLI's probes (model list, test call): those of a non-streamed call.
pub fn probe_headers(t: &Target<'_>) -> Result<HeaderMap, AdapterError> {
    headers(t, false)
}

/// The headers of a call with a JSON body: content type, `Accept` for the stream mode, the
/// credential where the kind puts it, and the kind's own headers.
fn headers(t: &Target<'_>, stream: bool) -> Result<HeaderMap, AdapterError> {
    let mut h = json_headers(stream);
    let kind = t.kind();
    kind.authorize(&mut h, &t.credential)?;
    kind.extra_headers(&mut h, t)?;
    Ok(h)
}

/// An API-key upstream record of `kind` for the adapters' unit tests.
#[cfg(test)]
fn test_record(kind: crate::config::ProviderKind, base_url: Option<&str>) -> UpstreamRecord {
    UpstreamRecord {
        base_url: base_url.map(str::to_owned),
        ..UpstreamRecord::sample("u", kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;

    #[test]
    fn fast_template_is_the_fast_path_made_ahead() {
        let config = Config::default();
        let key = Secret::new("sk-fake");
        let mut client = HeaderMap::new();
        client.insert(http::header::ACCEPT, "text/event-stream".parse().unwrap());
        for (kind, base, host) in [
            (
                ProviderKind::Openai,
                "http://127.0.0.1:9/v1/",
                Some("127.0.0.1:9"),
            ),
            (
                ProviderKind::Deepseek,
                "http://localhost:80/v1",
                Some("localhost"),
            ),
            (ProviderKind::Qwen, "https://dashscope.example/v1", None),
        ] {
            let record = test_record(kind, Some(base));
            let template = FastTemplate::new(&config, &record, Some(&key)).unwrap();
            for call in [Call::Chat, Call::Completions] {
                let t = Target {
                    config: &config,
                    record: &record,
                    model: "m",
                    credential: Credential::ApiKey(&key),
                    client_dialect: Dialect::OpenAi,
                    client_headers: &client,
                };
                let (url, mut want) = fast_path(&t, call).unwrap();
                let (uri, got) = template.request(call, &client);
                assert_eq!(uri.to_string(), url);
                // Plain HTTP gets the `Host` the HTTP client would add; nothing else differs.
                assert_eq!(
                    got.get(http::header::HOST).map(|h| h.to_str().unwrap()),
                    host
                );
                if let Some(h) = got.get(http::header::HOST) {
                    want.insert(http::header::HOST, h.clone());
                }
                crate::upstream::default_headers(&mut want);
                assert_eq!(got, want, "{kind:?} {call:?}");
                assert!(got["authorization"].is_sensitive());
            }
            let (_, plain) = template.request(Call::Chat, &HeaderMap::new());
            assert_eq!(plain["accept"], "*/*");
        }
        // Tokens change and other kinds' headers depend on the client's: no template.
        let mut oauth = test_record(ProviderKind::Qwen, None);
        oauth.auth = crate::store::records::AuthKind::Oauth;
        assert!(FastTemplate::new(&config, &oauth, None).is_none());
        let anthropic = test_record(ProviderKind::Anthropic, Some("http://127.0.0.1:9"));
        assert!(FastTemplate::new(&config, &anthropic, Some(&key)).is_none());
    }

    #[test]
    fn same_protocol_pairs() {
        let same = |k, d| same_protocol(&test_record(k, None), d);
        assert!(same(ProviderKind::Deepseek, Dialect::OpenAi));
        assert!(same(ProviderKind::Anthropic, Dialect::Anthropic));
        assert!(same(ProviderKind::Gemini, Dialect::Gemini));
        assert!(!same(ProviderKind::GeminiCli, Dialect::Gemini));
        assert!(!same(ProviderKind::Azure, Dialect::OpenAi));
        assert!(!same(ProviderKind::Openai, Dialect::Anthropic));
    }
}
