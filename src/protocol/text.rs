//! [`Text`]: a string that can keep the JSON string literal it arrived as.
//!
//! Most of a Claude Code request is prose (a 6 KB system prompt, ~14 KB of tool descriptions,
//! tool results) that the gateway moves from one JSON body into another without reading it.
//! Unescaping it into a `String` and escaping it again on the way out was over a third of a
//! translation's cost, serde_json's escaper going byte by byte. A [`Text`] read with
//! [`raw`] keeps the literal (quotes and escapes included); serializing writes it back
//! verbatim, and the unescaped value is made only when something reads it, once. Joining
//! and wrapping texts, as encoders do, stays in the escaped form.
//!
//! Equality, `Display` and `Debug` are those of the string value: two texts that
//! escape the same string differently are equal.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::de::{self, Deserialize, Deserializer, Unexpected};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A string, possibly held as the JSON literal it arrived as. Derefs to `str`.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Plain(String),
    /// Shared: encoders copy texts into upstream bodies, and a copy should not copy the prose.
    Literal(Arc<Literal>),
}

struct Literal {
    /// A JSON string literal, quotes included, known to be valid.
    json: Box<RawValue>,
    /// The unescaped value, made on first read when the literal has escapes (without any,
    /// the value is the literal's inside; decoding does not look, as most texts are never read).
    plain: OnceLock<String>,
}

impl Literal {
    fn new(json: Box<RawValue>) -> Self {
        Literal {
            json,
            plain: OnceLock::new(),
        }
    }

    fn escaped(&self) -> bool {
        self.json.get().as_bytes().contains(&b'\\')
    }

    /// The literal without its quotes: escaped JSON string content.
    fn inside(&self) -> &str {
        let s = self.json.get();
        s.get(1..s.len().saturating_sub(1)).unwrap_or_default()
    }

    fn value(&self) -> &str {
        if let Some(plain) = self.plain.get() {
            return plain;
        }
        if !self.escaped() {
            return self.inside();
        }
        // Valid JSON by construction; only an escape serde_json will not decode (a lone
        // surrogate, which passes validation) fails here, and the escaped text stands in.
        self.plain.get_or_init(|| {
            serde_json::from_str(self.json.get()).unwrap_or_else(|_| self.inside().to_owned())
        })
    }
}

impl Text {
    pub const fn new() -> Self {
        Text(Repr::Plain(String::new()))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Plain(s) => s,
            Repr::Literal(l) => l.value(),
        }
    }

    /// Whether the string is empty (without unescaping anything).
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Plain(s) => s.is_empty(),
            Repr::Literal(l) => l.inside().is_empty(),
        }
    }

    /// Whether the string is empty or only whitespace, unescaping only a text that starts with
    /// an escape (`\n` ...) after its leading spaces.
    pub fn is_blank(&self) -> bool {
        match &self.0 {
            Repr::Plain(s) => s.trim().is_empty(),
            Repr::Literal(l) => match l.inside().trim_start().as_bytes().first() {
                None => true,
                Some(b'\\') => l.value().trim().is_empty(),
                Some(_) => false,
            },
        }
    }

    /// Whether the string starts with `prefix`, unescaping only when an escape sits within
    /// the prefix's length (encoders test prose for markers; prose should stay escaped).
    pub fn starts_with(&self, prefix: &str) -> bool {
        match &self.0 {
            Repr::Plain(s) => s.starts_with(prefix),
            Repr::Literal(l) if !l.escaped() => l.inside().starts_with(prefix),
            Repr::Literal(l) => {
                let inside = l.inside().as_bytes();
                let head = &inside[..prefix.len().min(inside.len())];
                match head.iter().position(|&b| b == b'\\') {
                    None => head == prefix.as_bytes(),
                    // Differs before the first escape: no need to decode.
                    Some(i) if head[..i] != prefix.as_bytes()[..i] => false,
                    Some(_) => l.value().starts_with(prefix),
                }
            }
        }
    }

    /// Whether a JSON string reader (serde's `String`) reads this text: not a literal with a
    /// lone surrogate escape (`\ud800` without its partner), which only [`raw`] keeps. Writers
    /// that choose between a string and a form read with [`raw`] ask this.
    pub fn reads_as_string(&self) -> bool {
        match &self.0 {
            Repr::Plain(_) => true,
            Repr::Literal(l) => !l.escaped() || !has_lone_surrogate(l.inside().as_bytes()),
        }
    }

    /// The length of the text as JSON (escaped, quotes included): for sizing buffers.
    pub fn json_len(&self) -> usize {
        match &self.0 {
            Repr::Plain(s) => s.len() + 2,
            Repr::Literal(l) => l.json.get().len(),
        }
    }

    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Plain(s) => s,
            Repr::Literal(l) => match Arc::try_unwrap(l) {
                Ok(mut l) => match l.plain.take() {
                    Some(s) => s,
                    None => l.value().to_owned(),
                },
                Err(l) => l.value().to_owned(),
            },
        }
    }

    /// Appends `s`, leaving the escaped form (only stream assembly appends, before encoding).
    pub fn push_str(&mut self, s: &str) {
        if let Repr::Plain(p) = &mut self.0 {
            p.push_str(s);
            return;
        }
        let mut p = std::mem::take(self).into_string();
        p.push_str(s);
        *self = Text(Repr::Plain(p));
    }

    /// `parts` joined with `sep`, built from the escaped forms when the parts have them.
    pub fn join<'a>(parts: impl IntoIterator<Item = &'a Text>, sep: &str) -> Text {
        let mut it = parts.into_iter();
        let Some(first) = it.next() else {
            return Text::new();
        };
        let Some(second) = it.next() else {
            return first.clone();
        };
        let mut b = Builder::default();
        b.text(first);
        for t in std::iter::once(second).chain(it) {
            b.str(sep);
            b.text(t);
        }
        b.finish()
    }

    /// `prefix` + this text + `suffix`, escaped forms kept.
    pub fn wrap(&self, prefix: &str, suffix: &str) -> Text {
        let mut b = Builder::default();
        b.str(prefix);
        b.text(self);
        b.str(suffix);
        b.finish()
    }
}

/// Builds a text from pieces: a literal when any piece is one, else a plain string.
#[derive(Default)]
struct Builder {
    /// Escaped content so far (no quotes), when building a literal.
    escaped: Option<String>,
    plain: String,
}

impl Builder {
    fn str(&mut self, s: &str) {
        match &mut self.escaped {
            Some(e) => escape_into(e, s),
            None => self.plain.push_str(s),
        }
    }

    fn text(&mut self, t: &Text) {
        match (&t.0, &mut self.escaped) {
            (Repr::Plain(s), _) => self.str(s),
            (Repr::Literal(l), Some(e)) => e.push_str(l.inside()),
            (Repr::Literal(l), None) => {
                let mut e = String::with_capacity(self.plain.len() + l.json.get().len() + 64);
                escape_into(&mut e, &self.plain);
                e.push_str(l.inside());
                self.escaped = Some(e);
            }
        }
    }

    fn finish(self) -> Text {
        let Some(mut e) = self.escaped else {
            return Text(Repr::Plain(self.plain));
        };
        e.insert(0, '"');
        e.push('"');
        // Only ever escaped content between the quotes, so this is a valid literal; should it
        // somehow not be, the value is unescaped right here instead.
        match RawValue::from_string(e) {
            Ok(json) => Text(Repr::Literal(Arc::new(Literal::new(json)))),
            Err(_) => Text::new(),
        }
    }
}

/// Whether escaped JSON string content holds a `\uXXXX` surrogate that is not half of a pair.
fn has_lone_surrogate(inside: &[u8]) -> bool {
    let hex = |at: usize| {
        inside
            .get(at..at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    let mut high = false;
    let mut i = 0;
    while i < inside.len() {
        if inside[i] != b'\\' {
            if high {
                return true;
            }
            i += inside[i..]
                .iter()
                .position(|&b| b == b'\\')
                .unwrap_or(inside.len() - i);
            continue;
        }
        let unit = match inside.get(i + 1) {
            Some(b'u') => hex(i + 2),
            _ => None,
        };
        match unit {
            Some(0xD800..=0xDBFF) if high => return true,
            Some(0xD800..=0xDBFF) => high = true,
            Some(0xDC00..=0xDFFF) if high => high = false,
            Some(0xDC00..=0xDFFF) => return true,
            _ if high => return true,
            _ => {}
        }
        i += if unit.is_some() { 6 } else { 2 };
    }
    high
}

/// Appends `s` escaped as JSON string content.
fn escape_into(out: &mut String, s: &str) {
    if s.is_empty() {
        return;
    }
    // serde_json's own escaping, so literals built here read back exactly.
    if let Ok(quoted) = serde_json::to_string(s) {
        out.push_str(&quoted[1..quoted.len() - 1]);
    }
}

/// Deserializes a string keeping its JSON literal. Works from `serde_json`'s own deserializers
/// (bytes, text, `Value`, and serde's map adapters over them), not from serde's buffered
/// content (untagged or internally tagged enums, flattened fields): use it only on fields
/// read straight from JSON. Other fields read a [`Text`] as a plain string.
pub fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
    literal(Box::<RawValue>::deserialize(d)?)
}

/// [`raw`] for an optional field (`null` reads as absent).
pub fn raw_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
    match Option::<Box<RawValue>>::deserialize(d)? {
        None => Ok(None),
        Some(json) if json.get() == "null" => Ok(None),
        Some(json) => literal(json).map(Some),
    }
}

fn literal<E: de::Error>(json: Box<RawValue>) -> Result<Text, E> {
    match json.get().as_bytes().first() {
        Some(b'"') => Ok(Text(Repr::Literal(Arc::new(Literal::new(json))))),
        other => {
            let kind = match other {
                Some(b'{') => Unexpected::Map,
                Some(b'[') => Unexpected::Seq,
                Some(b't' | b'f') => Unexpected::Other("a boolean"),
                Some(b'n') => Unexpected::Unit,
                _ => Unexpected::Other("a number"),
            };
            Err(E::invalid_type(kind, &"a string"))
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Repr::Plain(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Repr::Plain(s.to_owned()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(Repr::Plain(s.clone()))
    }
}

impl From<&Text> for Text {
    fn from(t: &Text) -> Self {
        t.clone()
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.into_string()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        if let (Repr::Literal(a), Repr::Literal(b)) = (&self.0, &other.0)
            && a.json.get() == b.json.get()
        {
            return true;
        }
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Plain(p) => s.serialize_str(p),
            Repr::Literal(l) => l.json.serialize(s),
        }
    }
}

/// For `json!` and other `Value` builders: serde_json's `Value` serializer refuses a literal
/// holding a lone surrogate escape (valid JSON text, but no string), and `json!` panics on
/// that. Such a literal becomes the text it reads as (the escaped stand-in of
/// `Literal::value`); writers that serialize a [`Text`] directly still keep it verbatim.
impl From<&Text> for serde_json::Value {
    fn from(t: &Text) -> serde_json::Value {
        serde_json::to_value(t).unwrap_or_else(|_| serde_json::Value::String(t.as_str().to_owned()))
    }
}

impl<'de> Deserialize<'de> for Text {
    /// A plain string: works from any deserializer. Fields read straight from JSON use [`raw`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the long fuzz run: an Anthropic text block holding `"\ud800"` reached a panic
    /// in the Responses encoder's `json!`.
    #[test]
    fn a_lone_surrogate_literal_becomes_a_value_without_panicking() {
        let t: Text = raw(&mut serde_json::Deserializer::from_str(r#""x \ud800 y""#)).unwrap();
        assert!(serde_json::to_value(&t).is_err(), "serde_json refuses it");
        assert_eq!(
            serde_json::Value::from(&t),
            serde_json::Value::String(t.as_str().to_owned())
        );
        let ok: Text = raw(&mut serde_json::Deserializer::from_str(r#""a\nb""#)).unwrap();
        assert_eq!(serde_json::Value::from(&ok), serde_json::json!("a\nb"));
    }

    /// Only a literal keeps a lone surrogate escape; writers ask before choosing a plain
    /// string (see `anthropic::blocks::tool_result_content`).
    #[test]
    fn lone_surrogates_are_found_in_literals() {
        let read =
            |json: &str| -> Text { raw(&mut serde_json::Deserializer::from_str(json)).unwrap() };
        for (json, ok) in [
            (r#""plain""#, true),
            (r#""a\nb \u00e9""#, true),
            (r#""pair \ud83d\ude00""#, true),
            (r#""\\ud800 is text""#, true),
            (r#""high \ud83d""#, false),
            (r#""high \ud83d then text""#, false),
            (r#""low \ude00""#, false),
            (r#""two highs \ud83d\ud83d\ude00""#, false),
        ] {
            assert_eq!(read(json).reads_as_string(), ok, "{json}");
            assert_eq!(serde_json::from_str::<String>(json).is_ok(), ok, "{json}");
        }
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize)]
    struct Holder {
        #[serde(deserialize_with = "raw")]
        t: Text,
        #[serde(default, deserialize_with = "raw_opt")]
        o: Option<Text>,
    }

    fn lit(json: &str) -> Text {
        let h: Holder = serde_json::from_str(&format!(r#"{{"t":{json}}}"#)).unwrap();
        h.t
    }

    #[test]
    fn keeps_the_literal_and_reads_the_value() {
        let t = lit(r#""a\nb \u00e9""#);
        assert_eq!(t.as_str(), "a\nb é");
        assert_eq!(t, Text::from("a\nb é"));
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""a\nb \u00e9""#);
        let plain = lit(r#""no escapes""#);
        assert_eq!(&*plain, "no escapes");
        assert_eq!(plain.clone().into_string(), "no escapes");
        assert_eq!(t.into_string(), "a\nb é");
        // Through a `Value` deserializer too.
        let v = serde_json::json!({"t": "x\ty", "o": null});
        let h: Holder = serde_json::from_value(v).unwrap();
        assert_eq!(h.t, "x\ty");
        assert!(h.o.is_none());
    }

    #[test]
    fn optional_fields() {
        let h: Holder = serde_json::from_str(r#"{"t":"a","o":"b\"c"}"#).unwrap();
        assert_eq!(h.o.as_deref(), Some("b\"c"));
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"t":"a","o":"b\"c"}"#
        );
        let h: Holder = serde_json::from_str(r#"{"t":"a"}"#).unwrap();
        assert!(h.o.is_none());
    }

    #[test]
    fn rejects_non_strings_naming_the_type() {
        let err = serde_json::from_str::<Holder>(r#"{"t":5}"#).unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
        let err = serde_json::from_str::<Holder>(r#"{"t":{"a":1}}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type: map"), "{err}");
    }

    #[test]
    fn join_and_wrap_keep_the_escaped_form() {
        let a = lit(r#""line\none""#);
        let b = Text::from("two \"quoted\"");
        let j = Text::join([&a, &b], "\n");
        assert_eq!(j.as_str(), "line\none\ntwo \"quoted\"");
        assert_eq!(
            serde_json::to_string(&j).unwrap(),
            r#""line\none\ntwo \"quoted\"""#
        );
        let w = a.wrap("Error: ", "");
        assert_eq!(w.as_str(), "Error: line\none");
        assert!(matches!(w.0, Repr::Literal(_)));
        // All plain: stays plain.
        let p = Text::join([&b, &b], ", ");
        assert!(matches!(p.0, Repr::Plain(_)));
        assert_eq!(p.as_str(), "two \"quoted\", two \"quoted\"");
        assert_eq!(Text::join([], "x"), Text::new());
        assert_eq!(Text::join([&a], "x"), a);
    }

    #[test]
    fn cheap_reads_leave_the_literal_escaped() {
        let t = lit(r#""x-anthropic-billing-header: a\nb""#);
        assert!(t.starts_with("x-anthropic-billing-header:"));
        assert!(!t.starts_with("y"));
        assert!(!t.is_empty());
        let Repr::Literal(l) = &t.0 else {
            panic!("a literal expected")
        };
        assert!(l.plain.get().is_none());
        // An escape within the prefix's length is decoded.
        assert!(lit(r#""\u0078-y""#).starts_with("x-"));
        assert!(lit(r#""""#).is_empty());
        assert_eq!(lit(r#""a\nb""#).json_len(), 6);
        assert!(lit(r#"" \n\t ""#).is_blank() && lit(r#""  ""#).is_blank());
        assert!(!lit(r#"" \nx""#).is_blank() && !t.is_blank());
    }

    /// A lone surrogate escape passes JSON validation but not decoding: the text stays, escaped.
    #[test]
    fn undecodable_escape_reads_as_its_escaped_form() {
        let t = lit(r#""a\ud800b""#);
        assert_eq!(t.as_str(), r"a\ud800b");
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""a\ud800b""#);
    }

    #[test]
    fn push_str_turns_plain() {
        let mut t = lit(r#""a\"""#);
        t.push_str("b");
        assert_eq!(t, "a\"b");
        assert!(matches!(t.0, Repr::Plain(_)));
    }

    #[test]
    fn plain_deserialize_works_from_buffered_content() {
        #[derive(Debug, Deserialize)]
        #[serde(untagged)]
        enum U {
            T { t: Text },
        }
        let U::T { t } = serde_json::from_str::<U>(r#"{"t":"x\ny"}"#).unwrap();
        assert_eq!(t, "x\ny");
    }
}
