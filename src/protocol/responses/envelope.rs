//! The gateway's reasoning envelope: how an Anthropic or Gemini signature travels through a
//! Responses client's `reasoning.encrypted_content` and comes back (reference §8).
//!
//! Codex stores each reasoning item it receives and replays `encrypted_content` byte for byte
//! without reading it, so the gateway puts its own self-describing value there:
//! `lgw1.<provider>.<kind>.<base64url(payload)>` ([`PREFIX`]), `payload` being the provider's
//! signature. Kinds: `anthropic.thinking` (a signed thinking block, its text in the item's
//! summary), `anthropic.redacted` (a `redacted_thinking` block's data), `gemini.thinking` (a
//! signed Gemini thought), `gemini.call` (the signature of the function call right after the
//! item), `gemini.text` (the signature of the assistant text right before it). The same idea as
//! the Anthropic dialect's `gw.gemini.` carrier, with a version so a later format can change.
//!
//! Anything else in `encrypted_content` is OpenAI's own and is carried as a
//! `Signature{origin: Responses}` (see `mod.rs`); a value with the prefix that does not parse
//! is dropped, never forwarded.
//!
//! The other way round, OpenAI's own reasoning reaches Anthropic and Gemini clients under the
//! [`OPENAI_TAG`] (`gw.openai.<item id>:<encrypted_content>`) in their signature fields, read
//! back by [`untag`]; [`TAG_MARK`] is what their dialects' fast paths scan for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::protocol::ir::{Dialect, Signature};

/// Version 1 of the envelope.
pub const PREFIX: &str = "lgw1.";

/// A provider signature as the envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried {
    AnthropicThinking(String),
    AnthropicRedacted(String),
    GeminiThinking(String),
    GeminiCall(String),
    GeminiText(String),
}

impl Carried {
    fn parts(&self) -> (&'static str, &'static str, &str) {
        match self {
            Carried::AnthropicThinking(s) => ("anthropic", "thinking", s),
            Carried::AnthropicRedacted(s) => ("anthropic", "redacted", s),
            Carried::GeminiThinking(s) => ("gemini", "thinking", s),
            Carried::GeminiCall(s) => ("gemini", "call", s),
            Carried::GeminiText(s) => ("gemini", "text", s),
        }
    }

    /// The IR signature this envelope stands for (redacted data has none: it is a block).
    pub fn signature(&self) -> Option<Signature> {
        let (origin, value) = match self {
            Carried::AnthropicThinking(s) => (Dialect::Anthropic, s),
            Carried::GeminiThinking(s) | Carried::GeminiCall(s) | Carried::GeminiText(s) => {
                (Dialect::Gemini, s)
            }
            Carried::AnthropicRedacted(_) => return None,
        };
        Some(Signature {
            origin,
            value: value.clone(),
        })
    }
}

/// The envelope for `c`.
pub fn seal(c: &Carried) -> String {
    let (provider, kind, payload) = c.parts();
    let mut s = String::with_capacity(PREFIX.len() + 24 + payload.len() * 4 / 3);
    s.push_str(PREFIX);
    s.push_str(provider);
    s.push('.');
    s.push_str(kind);
    s.push('.');
    URL_SAFE_NO_PAD.encode_string(payload.as_bytes(), &mut s);
    s
}

/// `None` when `value` is not a gateway envelope (OpenAI's own); `Some(None)` when it claims to
/// be one but does not parse (garbled, or a later version): the caller drops it.
pub fn open(value: &str) -> Option<Option<Carried>> {
    let rest = value.strip_prefix(PREFIX)?;
    Some(parse(rest))
}

fn parse(rest: &str) -> Option<Carried> {
    let mut it = rest.splitn(3, '.');
    let (provider, kind, payload) = (it.next()?, it.next()?, it.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let payload = String::from_utf8(bytes).ok()?;
    if payload.is_empty() {
        return None;
    }
    Some(match (provider, kind) {
        ("anthropic", "thinking") => Carried::AnthropicThinking(payload),
        ("anthropic", "redacted") => Carried::AnthropicRedacted(payload),
        ("gemini", "thinking") => Carried::GeminiThinking(payload),
        ("gemini", "call") => Carried::GeminiCall(payload),
        ("gemini", "text") => Carried::GeminiText(payload),
        _ => return None,
    })
}

/// An OpenAI reasoning item as an IR signature value: its id and `encrypted_content`, which
/// OpenAI wants back together (`store: false` looks the item up by neither, but rejects a
/// mutated blob). `<id>:<encrypted_content>`; ids never hold `:`.
pub fn pack_native(id: &str, encrypted: &str) -> String {
    let id = if id.contains(':') { "" } else { id };
    let mut s = String::with_capacity(id.len() + 1 + encrypted.len());
    s.push_str(id);
    s.push(':');
    s.push_str(encrypted);
    s
}

/// The reverse of [`pack_native`]: `(id, encrypted_content)`; a value without `:` is all blob.
pub fn unpack_native(value: &str) -> (&str, &str) {
    value.split_once(':').unwrap_or(("", value))
}

/// The tag of OpenAI's own reasoning in another dialect's signature field: an Anthropic
/// client's thinking `signature`, a Gemini client's `thoughtSignature`. Such a client stores
/// and replays that field without reading it, so an OpenAI reasoning item travels as
/// `gw.openai.<item id>:<encrypted_content>` (the [`pack_native`] value behind the tag) and comes
/// back as the same `Signature{origin: Responses}`. The same `gw.<provider>.` scheme as the
/// Anthropic dialect's `gw.gemini.` carrier.
pub const OPENAI_TAG: &str = "gw.openai.";

/// How every `gw.<provider>.` tag starts in a client's JSON body (the string's opening quote
/// included, so that prose such as `api-gw.example` does not match): the mark of a body that
/// holds another provider's signature and must not be forwarded as it is
/// (`Codec::FOREIGN_SIGNATURE_MARK`). A provider's own signatures (base64) never hold a `.`.
pub const TAG_MARK: &str = "\"gw.";

/// The start of a gateway tag inside a signature value.
const TAG_START: &str = "gw.";

/// An OpenAI reasoning signature value (see [`pack_native`]) under [`OPENAI_TAG`].
pub fn tag_native(value: &str) -> String {
    let mut s = String::with_capacity(OPENAI_TAG.len() + value.len());
    s.push_str(OPENAI_TAG);
    s.push_str(value);
    s
}

/// What a client's signature field holds, as far as the gateway's tags go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged<'a> {
    /// No gateway tag: the provider's own value.
    Untagged,
    /// OpenAI's reasoning ([`OPENAI_TAG`]), as a `Signature{origin: Responses}` value.
    OpenAi(&'a str),
    /// Another `gw.` tag (or an empty one): not a signature any provider could verify, so it
    /// is dropped, never forwarded. (The Anthropic dialect reads its `gw.gemini.` before this.)
    Unknown,
}

/// Reads a client's signature field: see [`Tagged`].
pub fn untag(value: &str) -> Tagged<'_> {
    match value.strip_prefix(OPENAI_TAG) {
        Some(v) if !v.is_empty() => Tagged::OpenAi(v),
        Some(_) => Tagged::Unknown,
        None if value.starts_with(TAG_START) => Tagged::Unknown,
        None => Tagged::Untagged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_every_kind() {
        for c in [
            Carried::AnthropicThinking("EqQBCkYI+/sig==".into()),
            Carried::AnthropicRedacted("opaque".into()),
            Carried::GeminiThinking("CiQB".into()),
            Carried::GeminiCall("skip_thought_signature_validator".into()),
            Carried::GeminiText("Q2lR".into()),
        ] {
            let s = seal(&c);
            assert!(s.starts_with("lgw1."), "{s}");
            assert!(!s.contains('='), "url-safe without padding: {s}");
            assert_eq!(open(&s), Some(Some(c)));
        }
    }

    #[test]
    fn native_and_garbled_values() {
        assert_eq!(open("gAAAAABo-native"), None);
        assert_eq!(open("lgw1.anthropic.thinking.!!!"), Some(None));
        assert_eq!(open("lgw1.deepseek.thinking.YWJj"), Some(None));
        assert_eq!(open("lgw1.anthropic"), Some(None));
        let packed = pack_native("rs_1", "gAAAA:x");
        assert_eq!(unpack_native(&packed), ("rs_1", "gAAAA:x"));
        assert_eq!(unpack_native("blob"), ("", "blob"));
    }

    #[test]
    fn openai_tag_round_trips_and_other_tags_are_unknown() {
        let native = pack_native("rs_1", "gAAAA:x==");
        let tagged = tag_native(&native);
        assert_eq!(tagged, "gw.openai.rs_1:gAAAA:x==");
        assert_eq!(untag(&tagged), Tagged::OpenAi(native.as_str()));
        assert_eq!(untag("EqQBCkYI+/sig=="), Tagged::Untagged);
        assert_eq!(untag("gw.openai."), Tagged::Unknown);
        assert_eq!(untag("gw.deepseek.abc"), Tagged::Unknown);
        assert!(format!("{{\"signature\":\"{tagged}\"}}").contains(TAG_MARK));
    }
}
