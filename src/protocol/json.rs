//! [`Json`]: a JSON value the gateway mostly carries and seldom looks into (tool `input_schema`s,
//! tool-call inputs), kept as the text it arrived in and parsed only when something reads it.
//!
//! A Claude Code request carries ~25 tool schemas and every earlier tool call's input. Building
//! `serde_json::Value` trees for them, cloning those trees into the upstream body and writing
//! them back out was most of a translation's cost, while OpenAI `parameters` and Anthropic
//! `input_schema` / `input` pass them on unchanged. So the wire types and the IR hold a `Json`:
//! decoding keeps the text (shared, so clones are cheap), encoding writes it back verbatim, and
//! the first reader that needs structure (Gemini's schema reduction, a test) parses it once.
//! Its meaning is that of the JSON value: equality and `Debug` are those of the parsed value.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value kept as text until read. Derefs to the parsed [`Value`].
#[derive(Default)]
pub struct Json {
    /// The text as received (whitespace included), or `None` for a value built in memory.
    /// Boxed as the deserializer made it, then shared: no copy of the text.
    raw: Option<Arc<Box<RawValue>>>,
    /// The parsed value: set at construction from a `Value`, else on first read.
    parsed: OnceLock<Value>,
}

impl Json {
    /// From JSON text that was already validated (by a deserializer or the serializer).
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Json {
            raw: Some(Arc::new(raw)),
            parsed: OnceLock::new(),
        }
    }

    /// JSON text, validated here.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        if too_deep(text, MAX_DEPTH) {
            return Err(serde::de::Error::custom(TOO_DEEP));
        }
        let raw = RawValue::from_string(text.to_owned())?;
        Ok(Json::from_raw(raw))
    }

    /// An empty JSON object.
    pub fn empty_object() -> Self {
        Json::from(Value::Object(serde_json::Map::new()))
    }

    /// The text this value arrived as, when it was not built in memory.
    pub fn raw(&self) -> Option<&RawValue> {
        self.raw.as_deref().map(|b| &**b)
    }

    /// The parsed value.
    pub fn value(&self) -> &Value {
        self.parsed.get_or_init(|| match &self.raw {
            // The text was validated when it was stored, depth included (`too_deep`), so this
            // parse cannot fail short of memory; `Null` stands in rather than a panic.
            Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// Whether the value, put inside one more array or object, could still be read back.
    /// A wrapper the gateway adds (Gemini's `{"value": ...}` around arguments that are not an
    /// object) must not make a value at the limit unreadable in the client's next request.
    pub fn fits_one_level_deeper(&self) -> bool {
        match &self.raw {
            Some(raw) => !too_deep(raw.get(), MAX_DEPTH - 1),
            None => !too_deep(&self.value().to_string(), MAX_DEPTH - 1),
        }
    }

    /// The parsed value, owned.
    pub fn into_value(mut self) -> Value {
        match self.parsed.take() {
            Some(v) => v,
            None => self.value().clone(),
        }
    }

    /// The value as compact JSON text (a tool call's `arguments`). Stored text keeps its key
    /// order and loses only insignificant whitespace.
    pub fn to_compact_string(&self) -> String {
        match &self.raw {
            Some(raw) => minify(raw.get()).into_owned(),
            None => self.value().to_string(),
        }
    }

    pub fn is_object(&self) -> bool {
        match &self.raw {
            Some(raw) => raw.get().trim_start().starts_with('{'),
            None => self.value().is_object(),
        }
    }

    pub fn is_null(&self) -> bool {
        match &self.raw {
            Some(raw) => raw.get().trim() == "null",
            None => self.value().is_null(),
        }
    }

    /// Whether this is `{}` (possibly with whitespace inside).
    pub fn is_empty_object(&self) -> bool {
        match &self.raw {
            Some(raw) => {
                let t = raw.get().trim();
                t.starts_with('{') && t[1..].trim_start() == "}"
            }
            None => self.value().as_object().is_some_and(|m| m.is_empty()),
        }
    }
}

/// `text` without whitespace outside strings; borrowed when there is none.
pub fn minify(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    let mut first = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            first = Some(i);
            break;
        }
    }
    let Some(start) = first else {
        return std::borrow::Cow::Borrowed(text);
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..start]);
    for &b in &bytes[start..] {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(b);
    }
    // Only ASCII bytes outside strings were dropped, so the text is still UTF-8.
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(text),
    }
}

impl Deref for Json {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Self {
        Json {
            raw: None,
            parsed: OnceLock::from(v),
        }
    }
}

impl From<Json> for Value {
    fn from(j: Json) -> Self {
        j.into_value()
    }
}

impl Clone for Json {
    /// Stored text is shared, not copied (a parse done on the original is not carried over).
    fn clone(&self) -> Self {
        match &self.raw {
            Some(raw) => Json {
                raw: Some(Arc::clone(raw)),
                parsed: OnceLock::new(),
            },
            None => Json::from(self.value().clone()),
        }
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        if let (Some(a), Some(b)) = (&self.raw, &other.raw)
            && a.get() == b.get()
        {
            return true;
        }
        self.value() == other.value()
    }
}

impl PartialEq<Value> for Json {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value(), f)
    }
}

impl fmt::Display for Json {
    /// Compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.raw {
            Some(raw) => f.write_str(&minify(raw.get())),
            None => fmt::Display::fmt(self.value(), f),
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => raw.serialize(s),
            None => self.value().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    /// Keeps the text. Works from `serde_json`'s own deserializers (bytes, text, `Value`); not
    /// from serde's buffered content (untagged or internally tagged enums, flattened fields).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        if too_deep(raw.get(), MAX_DEPTH) {
            return Err(serde::de::Error::custom(TOO_DEEP));
        }
        Ok(Json::from_raw(raw))
    }
}

/// serde_json builds no `Value` nested deeper than this (its recursion limit), while it reads
/// `RawValue` text of any depth. Text past it could be carried but never read: a Gemini schema
/// reduction or any other reader would see `null`, and the upstream would get a tool without
/// its parameters. So it is refused where it arrives.
const MAX_DEPTH: usize = 127;
const TOO_DEEP: &str = "JSON nested more than 127 levels deep";

/// Whether validated JSON text nests more than `limit` arrays and objects.
fn too_deep(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    // Text with fewer brackets than the limit cannot nest past it: one count settles nearly all.
    if memchr::memchr2_iter(b'{', b'[', bytes).count() <= limit {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => loop {
                // Brackets inside strings do not count: skip to the closing quote.
                let rest = bytes.get(i + 1..).unwrap_or_default();
                match memchr::memchr2(b'"', b'\\', rest) {
                    Some(j) if rest[j] == b'\\' => i += j + 2,
                    Some(j) => {
                        i += j + 1;
                        break;
                    }
                    None => return false,
                }
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Fuzz finding: tool `parameters` nested past serde_json's limit were stored as text, read
    /// as `null`, and sent upstream as `"parameters": null`. The limit is serde_json's exactly:
    /// what is kept can be read, what cannot be read is refused.
    #[test]
    fn nesting_past_what_can_be_read_is_refused() {
        let nest = |n: usize, open: &str, close: &str, inner: &str| {
            format!("{}{inner}{}", open.repeat(n), close.repeat(n))
        };
        for (open, close, inner) in [("[", "]", "1"), ("{\"a\":", "}", "\"x\"")] {
            let deepest = nest(MAX_DEPTH, open, close, inner);
            assert!(serde_json::from_str::<Value>(&deepest).is_ok());
            let kept: Json = serde_json::from_str(&deepest).unwrap();
            assert!(!kept.is_null());
            assert!(Json::parse(&deepest).is_ok());

            let deeper = nest(MAX_DEPTH + 1, open, close, inner);
            assert!(serde_json::from_str::<Value>(&deeper).is_err());
            let err = serde_json::from_str::<Json>(&deeper)
                .unwrap_err()
                .to_string();
            assert!(err.contains("127 levels"), "{err}");
            assert!(Json::parse(&deeper).is_err());
            // Inside a typed body, as a tool's parameters arrive: the body is refused.
            #[derive(Deserialize)]
            struct Tool {
                #[allow(dead_code)]
                parameters: Json,
            }
            let tool = format!(r#"{{"parameters":{deeper}}}"#);
            assert!(serde_json::from_str::<Tool>(&tool).is_err());
            let tool = format!(r#"{{"parameters":{deepest}}}"#);
            assert!(serde_json::from_str::<Tool>(&tool).is_ok());
        }
        // Brackets in strings, escaped quotes included, are not nesting.
        let text = format!(
            r#"{{"d":"{}\"{}","e":[[1]]}}"#,
            "[".repeat(300),
            "{".repeat(300)
        );
        let kept: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(kept["e"][0][0], 1);
    }

    #[test]
    fn keeps_text_and_reads_as_value() {
        let j: Json = serde_json::from_str(r#"{"b": 1, "a": [true, "x y"]}"#).unwrap();
        assert_eq!(j.raw().unwrap().get(), r#"{"b": 1, "a": [true, "x y"]}"#);
        assert_eq!(j["a"][1], "x y");
        assert_eq!(j, json!({"a": [true, "x y"], "b": 1}));
        assert_eq!(j.to_compact_string(), r#"{"b":1,"a":[true,"x y"]}"#);
        assert_eq!(
            serde_json::to_string(&j).unwrap(),
            r#"{"b": 1, "a": [true, "x y"]}"#
        );
        assert!(j.is_object() && !j.is_null() && !j.is_empty_object());
        let c = j.clone();
        assert!(std::ptr::eq(c.raw().unwrap(), j.raw().unwrap()));
        assert_eq!(
            format!("{j:?}"),
            format!("{:?}", json!({"a": [true, "x y"], "b": 1}))
        );
    }

    #[test]
    fn from_value_and_from_a_value_tree() {
        let j = Json::from(json!({"k": "v"}));
        assert!(j.raw().is_none());
        assert_eq!(serde_json::to_string(&j).unwrap(), r#"{"k":"v"}"#);
        let from_tree: Json = serde_json::from_value(json!({"k": "v"})).unwrap();
        assert_eq!(from_tree, j);
        assert_eq!(
            serde_json::to_value(&from_tree).unwrap(),
            json!({"k": "v"}),
            "a Value serializer reads the text"
        );
        assert!(Json::parse(" { } ").unwrap().is_empty_object());
        assert!(Json::parse("null").unwrap().is_null());
        assert!(Json::parse("{").is_err());
    }

    /// Schemas and inputs cross the codecs as the client's text: key order and number spelling
    /// kept, only insignificant whitespace dropped where a text is needed (`arguments`).
    #[test]
    fn codecs_pass_schemas_and_inputs_through() {
        use crate::protocol::codec::RequestHints;
        use crate::protocol::ir::{Block, Tool};
        use crate::protocol::{anthropic, openai};
        let schema = r#"{"type":"object","properties":{"z":{"type":"number","maximum":1.50},"a":{"type":"string"}}}"#;
        let body = format!(
            r#"{{"model":"m","max_tokens":9,"tools":[{{"name":"t","input_schema":{schema}}}],
            "messages":[{{"role":"assistant","content":[{{"type":"tool_use","id":"c","name":"t",
            "input":{{"z": 1.50, "a": "x y"}}}}]}}]}}"#
        );
        let ir = anthropic::decode_request(body.as_bytes(), &RequestHints::default()).unwrap();
        let Tool::Function(f) = &ir.tools[0] else {
            panic!("function tool expected")
        };
        assert_eq!(f.input_schema.raw().unwrap().get(), schema);
        let Block::ToolUse { input, .. } = &ir.messages[0].content[0] else {
            panic!("tool_use expected")
        };
        assert_eq!(input.to_compact_string(), r#"{"z":1.50,"a":"x y"}"#);

        let oa = serde_json::to_string(&openai::encode_request(&ir).unwrap()).unwrap();
        assert!(oa.contains(&format!(r#""parameters":{schema}"#)), "{oa}");
        assert!(
            oa.contains(r#""arguments":"{\"z\":1.50,\"a\":\"x y\"}""#),
            "{oa}"
        );
        let an = serde_json::to_string(&anthropic::encode_request(&ir).unwrap()).unwrap();
        assert!(an.contains(&format!(r#""input_schema":{schema}"#)), "{an}");

        // And back from an OpenAI client: parameters and arguments stay text too.
        let ir2 = openai::decode_request(oa.as_bytes(), &RequestHints::default()).unwrap();
        let Tool::Function(f2) = &ir2.tools[0] else {
            panic!("function tool expected")
        };
        assert_eq!(f2.input_schema.raw().unwrap().get(), schema);
        assert_eq!(ir2.messages[0].content, ir.messages[0].content);
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(
            minify("{\"a\" : \"x \\\" y\" ,\n \"b\":[1, 2]}"),
            "{\"a\":\"x \\\" y\",\"b\":[1,2]}"
        );
        assert!(matches!(minify("{\"a\":1}"), std::borrow::Cow::Borrowed(_)));
    }
}
