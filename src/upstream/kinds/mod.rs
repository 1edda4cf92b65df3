//! Upstream kinds: one file per provider kind, each a unit struct implementing [`Kind`], and
//! [`spec`], the one place that maps a [`ProviderKind`] to its implementation. A kind says
//! everything that differs between providers: the wire dialect it speaks, whether a client of
//! that dialect is relayed byte for byte, its API base and the URL of each call, how its
//! credential is sent (the one injector, used by the server's calls and by the CLI's probes
//! alike), its extra headers, the OpenAI encoder's switches, its output cap, its model list and
//! test call, the quirks of its error replies, the hooks a signed or non-SSE kind needs, and
//! the rules of `upstream add` for it ([`AddRules`]).
//!
//! What a kind does NOT hold: the encoding of a dialect (that is `crate::protocol`, driven by
//! [`crate::upstream::adapter`]), and its fixed endpoints' public defaults, which stay in
//! `crate::config::endpoints` because the config layer resolves overrides without knowing the
//! upstream layer.
//!
//! `docs/arch-upstreams.md` has the "add an upstream kind" checklist.

mod add;
mod anthropic;
pub(crate) mod azure;
pub mod bedrock;
mod deepseek;
mod gemini;
mod gemini_cli;
mod openai;
pub mod qwen;

use http::HeaderMap;

pub use add::{AddRules, KeyRule, Refusal, RegionRule};

use super::adapter::{AdapterError, Call, Credential, Target, UpstreamCall, secret_header};
use crate::config::ProviderKind;
use crate::protocol::ir::Dialect;
use crate::protocol::openai::EncodeOptions;
use crate::store::records::{UpstreamRecord, Wire};

/// How a streamed reply is framed on the wire. Every kind today streams SSE; AWS Bedrock's
/// ConverseStream sends `application/vnd.amazon.eventstream` binary frames, which the server's
/// stream reader will have to split before the dialect's stream decoder sees them. Declared here
/// so that a kind says it; the server's translated stream reads it (`server::translate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream`.
    Sse,
    /// AWS event stream frames (prelude, headers, payload, CRCs).
    EventStream,
}

/// How an upstream's error replies differ from its dialect's plain reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorQuirks {
    #[default]
    None,
    /// Azure OpenAI: a prompt refused by its content filter (400 `content_filter`) is said to
    /// be Azure's; a 429 that asks to wait longer than a retry is worth becomes a cooldown.
    Azure,
}

/// What one provider kind is. Methods with a default are the common case; a kind overrides
/// what differs. Everything here is cheap and pure: no I/O, no allocation on the templated
/// fast path (which calls none of it per request, see `FastTemplate`).
pub trait Kind: Sync + std::fmt::Debug {
    /// The enum value this implementation is for.
    fn provider(&self) -> ProviderKind;

    /// The dialect the upstream speaks for this record. Takes the record so that a kind with a
    /// choice of wire (OpenAI or Azure with `--wire responses`) can answer per record.
    fn dialect(&self, record: &UpstreamRecord) -> Dialect;

    /// Whether a client speaking [`Self::dialect`] is forwarded byte for byte (the fast path:
    /// only the model edited). `false` when the upstream wraps or alters what it relays (Code
    /// Assist's envelope, Azure's filter chunks), so replies always go through the codecs.
    fn relays_same_dialect(&self) -> bool {
        true
    }

    /// Whether an API-key record of this kind gets a [`crate::upstream::adapter::FastTemplate`]:
    /// its fast-path URL and headers depend on nothing but the record and its key.
    fn templated(&self) -> bool {
        false
    }

    /// The API base, without a trailing `/`: by default the record's own URL, else the kind's
    /// default endpoint as overridden by config and environment.
    fn api_base(&self, t: &Target<'_>) -> Result<String, AdapterError> {
        Ok(crate::upstream::api_base(t.config, t.record)?)
    }

    /// The URL of one call (`call` says which; a translated request asks for the call its
    /// dialect would make, e.g. `Generate { stream: true, alt_sse: true }`).
    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError>;

    /// Puts the credential where the provider expects it. The ONE credential injector: the
    /// server's calls and the CLI's probes both go through it. Default: `Authorization: Bearer`.
    /// A kind whose credential has several parts (AWS keys, session token, region) reads them
    /// from its own [`Credential`] variant, or leaves this empty and signs in [`Self::sign`].
    fn authorize(&self, h: &mut HeaderMap, cred: &Credential<'_>) -> Result<(), AdapterError> {
        bearer(h, cred)
    }

    /// Headers besides the credential and the JSON content type: Qwen's DashScope headers, Code
    /// Assist's User-Agent, Anthropic's version and (from Anthropic clients) beta list.
    fn extra_headers(&self, _h: &mut HeaderMap, _t: &Target<'_>) -> Result<(), AdapterError> {
        Ok(())
    }

    /// The OpenAI Chat encoder's switches for `model` (used by kinds that speak OpenAI).
    fn openai_options(&self, model: &str) -> EncodeOptions {
        openai::options(self.provider(), model)
    }

    /// The output cap of a model not in `adapter::limits`' table; `None` means never clamp
    /// (the API knows its models and says so in its own words).
    fn default_output_cap(&self) -> Option<u32>;

    /// Whether the upstream counts tokens itself (`adapter::count_tokens`).
    fn counts_tokens(&self) -> bool {
        false
    }

    /// Whether requests go inside Google Code Assist's envelope.
    fn code_assist(&self) -> bool {
        false
    }

    /// The model list URL for `upstream add` discovery; `Err` says why there is none.
    fn models_url(&self, base: &str) -> Result<String, String>;

    /// How error replies differ from the dialect's plain reading.
    fn error_quirks(&self) -> ErrorQuirks {
        ErrorQuirks::None
    }

    /// Whether the upstream speaks AWS Bedrock's Converse, which is no client dialect: requests
    /// are encoded by `adapter::bedrock` rather than by [`Self::dialect`]'s codec.
    fn converse(&self) -> bool {
        false
    }

    /// Whether calls take AWS credentials (the stored Bedrock API key, a profile, the
    /// environment, `credential_process`) resolved at use time, rather than the record's auth.
    fn aws_credentials(&self) -> bool {
        false
    }

    /// How streamed replies are framed.
    fn framing(&self) -> Framing {
        Framing::Sse
    }

    /// A last step over the finished call, URL, headers and body: where a kind that signs its
    /// requests (AWS SigV4 over the URL and the body hash) adds its signature. Called by
    /// `adapter::translated` and `adapter::count_tokens` after the call is built; the
    /// byte-relaying fast path has no body yet, so a signing kind must answer `false` to
    /// [`Self::relays_same_dialect`].
    fn sign(&self, _call: &mut UpstreamCall, _t: &Target<'_>) -> Result<(), AdapterError> {
        Ok(())
    }

    /// What `upstream add` accepts for this kind (region, kind-only flags, key rules).
    fn add_rules(&self) -> AddRules {
        AddRules::DEFAULT
    }
}

static OPENAI: openai::Openai = openai::Openai;
static ANTHROPIC: anthropic::Anthropic = anthropic::Anthropic;
static GEMINI: gemini::Gemini = gemini::Gemini;
static GEMINI_CLI: gemini_cli::GeminiCli = gemini_cli::GeminiCli;
static QWEN: qwen::Qwen = qwen::Qwen;
static DEEPSEEK: deepseek::Deepseek = deepseek::Deepseek;
static AZURE: azure::Azure = azure::Azure;
static BEDROCK: bedrock::Bedrock = bedrock::Bedrock;

/// The implementation of `kind`: the one `match` over provider kinds that dispatch needs.
pub fn spec(kind: ProviderKind) -> &'static dyn Kind {
    match kind {
        ProviderKind::Openai => &OPENAI,
        ProviderKind::Anthropic => &ANTHROPIC,
        ProviderKind::Gemini => &GEMINI,
        ProviderKind::GeminiCli => &GEMINI_CLI,
        ProviderKind::Qwen => &QWEN,
        ProviderKind::Deepseek => &DEEPSEEK,
        ProviderKind::Azure => &AZURE,
        ProviderKind::Bedrock => &BEDROCK,
    }
}

/// `Authorization: Bearer <secret>` when there is a secret.
pub(crate) fn bearer(h: &mut HeaderMap, cred: &Credential<'_>) -> Result<(), AdapterError> {
    if let Some(s) = cred.secret().filter(|s| !s.is_empty()) {
        secret_header(h, "authorization", &format!("Bearer {}", s.expose()))?;
    }
    Ok(())
}

/// The dialect of an OpenAI-family record (openai, azure): Chat Completions unless the record
/// says `--wire responses`.
fn openai_wire(record: &UpstreamRecord) -> Dialect {
    match record.wire {
        Some(Wire::Responses) => Dialect::Responses,
        Some(Wire::Chat) | None => Dialect::OpenAi,
    }
}

/// The OpenAI URLs under `base`: `chat/completions`, the legacy `completions`, or `responses`.
fn openai_call_url(base: &str, call: Call) -> String {
    match call {
        Call::Completions => format!("{base}/completions"),
        Call::Responses => format!("{base}/responses"),
        _ => format!("{base}/chat/completions"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_implementation() {
        for kind in ProviderKind::ALL {
            assert_eq!(spec(kind).provider(), kind);
        }
    }

    #[test]
    fn dialects_and_relaying() {
        let rec = |k| UpstreamRecord::sample("u", k);
        let d = |k| spec(k).dialect(&rec(k));
        assert_eq!(d(ProviderKind::Deepseek), Dialect::OpenAi);
        assert_eq!(d(ProviderKind::Azure), Dialect::OpenAi);
        assert_eq!(d(ProviderKind::Anthropic), Dialect::Anthropic);
        assert_eq!(d(ProviderKind::GeminiCli), Dialect::Gemini);
        assert!(!spec(ProviderKind::GeminiCli).relays_same_dialect());
        assert!(!spec(ProviderKind::Azure).relays_same_dialect());
        assert!(spec(ProviderKind::Qwen).templated());
        assert!(!spec(ProviderKind::Azure).templated());
        for k in [ProviderKind::Openai, ProviderKind::Azure] {
            let r = UpstreamRecord {
                wire: Some(Wire::Responses),
                ..rec(k)
            };
            assert_eq!(spec(k).dialect(&r), Dialect::Responses);
        }
    }
}
