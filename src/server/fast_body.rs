//! The request body on the same-protocol fast path: validated just enough to route it (the
//! `model`, the fields the route requires, `stream`), then edited in place: the `model` value is
//! spliced into the original bytes, so everything else reaches the upstream exactly as the
//! client wrote it. Only when `[[rules]]` apply is the top level rebuilt, still keeping every
//! other value's bytes and the key order; what the edits do is `routing::rules`' to say
//! ([`Edits::apply`] over this body's entries).

use std::borrow::Cow;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::error::{ErrorKind, GatewayError};
use crate::routing::rules::{EditError, Edits, Fields};
use crate::upstream::adapter::limits::OUTPUT_LIMIT_FIELDS;

/// A JSON object body, its top-level entries in order, values unparsed.
pub struct JsonBody<'a> {
    raw: &'a Bytes,
    entries: Vec<(Key<'a>, &'a RawValue)>,
}

struct Entries<'a>(Vec<(Key<'a>, &'a RawValue)>);

/// What [`JsonBody::rewrite`] changes besides the `[[rules]]` edits.
struct Change<'a> {
    /// The new model, as JSON.
    model_json: &'a str,
    /// The upstream model's output-token maximum.
    cap: Option<u32>,
    /// Fields sent as `null` (the client dialect's `fast_path_clears`).
    clears: &'a [&'a str],
}

/// A top-level key, borrowed from the body unless it had escapes to undo.
#[derive(PartialEq)]
struct Key<'a>(Cow<'a, str>);

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Key<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Key<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Chat bodies have a handful of top-level keys.
                let mut out = Vec::with_capacity(8);
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// What a JSON value is, from its first byte (the value is already known to be valid JSON).
fn json_type(v: &RawValue) -> &'static str {
    match v.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl<'a> JsonBody<'a> {
    pub fn parse(raw: &'a Bytes) -> Result<Self, GatewayError> {
        let invalid = |message: String| {
            let mut e = GatewayError::invalid("", message);
            e.param = None;
            e
        };
        // UTF-8 checked once for the whole body: `from_slice` would check every string again.
        let text = std::str::from_utf8(raw)
            .map_err(|e| invalid(format!("the request body is not valid JSON: {e}")))?;
        match serde_json::from_str::<Entries<'a>>(text) {
            Ok(Entries(entries)) => Ok(JsonBody { raw, entries }),
            Err(e) if e.is_data() => Err(invalid("the request body must be a JSON object".into())),
            Err(e) => Err(invalid(format!("the request body is not valid JSON: {e}"))),
        }
    }

    /// The body as it came.
    pub fn raw(&self) -> &'a Bytes {
        self.raw
    }

    /// The value of `key`; an error when it appears more than once, since upstreams disagree on
    /// which copy wins.
    pub fn get(&self, key: &str) -> Result<Option<&'a RawValue>, GatewayError> {
        let mut found = self.entries.iter().filter(|(k, _)| k == key);
        let first = found.next().map(|(_, v)| *v);
        if found.next().is_some() {
            return Err(GatewayError::invalid(
                key,
                format!("`{key}` appears more than once in the request body"),
            ));
        }
        Ok(first)
    }

    /// The required `model` string.
    pub fn model(&self) -> Result<String, GatewayError> {
        let v = self
            .get("model")?
            .ok_or_else(|| GatewayError::invalid("model", "`model` is required"))?;
        // A valid JSON string without escapes is its text between the quotes: no parser needed.
        if let Some(plain) = v
            .get()
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.contains('\\'))
        {
            return Ok(plain.to_owned());
        }
        serde_json::from_str::<String>(v.get()).map_err(|_| {
            GatewayError::invalid(
                "model",
                format!("`model` must be a string, not {}", json_type(v)),
            )
        })
    }

    /// `stream`, false when absent or null.
    pub fn stream(&self) -> Result<bool, GatewayError> {
        match self.get("stream")? {
            None => Ok(false),
            Some(v) => match v.get() {
                "true" => Ok(true),
                "false" | "null" => Ok(false),
                _ => Err(GatewayError::invalid(
                    "stream",
                    format!("`stream` must be a boolean, not {}", json_type(v)),
                )),
            },
        }
    }

    /// Requires `key` to be present with one of `types` ("an array", "a string", ...).
    pub fn require(&self, key: &str, types: &[&str]) -> Result<(), GatewayError> {
        let v = self
            .get(key)?
            .ok_or_else(|| GatewayError::invalid(key, format!("`{key}` is required")))?;
        let t = json_type(v);
        if types.contains(&t) {
            Ok(())
        } else {
            Err(GatewayError::invalid(
                key,
                format!("`{key}` must be {}, not {t}", types.join(" or ")),
            ))
        }
    }

    /// The body to send upstream: `model` set to `model`, the `clears` fields (the client
    /// dialect's `fast_path_clears`) sent as `null`, an output-token limit above
    /// `max_tokens_cap` (the upstream model's maximum) lowered to it, then `edits` applied.
    pub fn rewrite(
        &self,
        model: &str,
        edits: &Edits,
        max_tokens_cap: Option<u32>,
        clears: &[&str],
    ) -> Result<Bytes, GatewayError> {
        let model_json = to_json(model)?;
        let change = Change {
            model_json: &model_json,
            cap: max_tokens_cap,
            clears,
        };
        if edits.is_empty()
            && let Some(spliced) = self.splice(&change)
        {
            return Ok(spliced);
        }
        self.rebuild(&change, edits)
    }

    /// The new value of a top-level entry, if it changes: the model, a field the dialect
    /// clears (to `null`), and the output-token limits when over the cap.
    fn replacement(&self, key: &str, value: &RawValue, change: &Change<'_>) -> Option<String> {
        if key == "model" {
            return (value.get() != change.model_json).then(|| change.model_json.to_owned());
        }
        // The list is empty for every dialect but one: no compare per key for the others.
        if !change.clears.is_empty() && change.clears.contains(&key) {
            return (value.get() != "null").then(|| "null".to_owned());
        }
        let cap = change.cap?;
        if !OUTPUT_LIMIT_FIELDS.contains(&key) {
            return None;
        }
        // Only a plain integer above the cap is lowered; anything else is the upstream's to judge.
        let asked: u64 = value.get().parse().ok()?;
        (asked > u64::from(cap)).then(|| cap.to_string())
    }

    /// Replaces the bytes of the changed values, leaving every other byte alone.
    fn splice(&self, change: &Change<'_>) -> Option<Bytes> {
        // `model` is required, so it is there; a body without one is rebuilt.
        self.entries.iter().find(|(k, _)| k == "model")?;
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        for (k, v) in &self.entries {
            let Some(new) = self.replacement(k, v, change) else {
                continue;
            };
            // `v` borrows from `raw`, so its position in `raw` is the pointer difference.
            let start = (v.get().as_ptr() as usize).checked_sub(self.raw.as_ptr() as usize)?;
            let end = start.checked_add(v.get().len())?;
            if self.raw.get(start..end)? != v.get().as_bytes() {
                return None;
            }
            edits.push((start, end, new));
        }
        if edits.is_empty() {
            return Some(self.raw.clone());
        }
        let mut out = Vec::with_capacity(self.raw.len() + change.model_json.len());
        let mut at = 0;
        for (start, end, new) in &edits {
            out.extend_from_slice(self.raw.get(at..*start)?);
            out.extend_from_slice(new.as_bytes());
            at = *end;
        }
        out.extend_from_slice(self.raw.get(at..)?);
        Some(Bytes::from(out))
    }

    /// The body rebuilt with `[[rules]]` edits: every entry in its place, the changed ones
    /// written anew, the others with their original bytes.
    fn rebuild(&self, change: &Change<'_>, edits: &Edits) -> Result<Bytes, GatewayError> {
        let model_json = change.model_json;
        let mut top = Rebuilt(Vec::with_capacity(self.entries.len() + 1));
        let mut saw_model = false;
        for (k, v) in &self.entries {
            let slot = if k == "model" {
                saw_model = true;
                Slot::New(model_json.to_owned())
            } else if let Some(new) = self.replacement(k, v, change) {
                Slot::New(new)
            } else {
                Slot::Kept(v)
            };
            top.0.push((k.to_string(), slot));
        }
        if !saw_model {
            top.0
                .push(("model".into(), Slot::New(model_json.to_owned())));
        }
        edits.apply(&mut top).map_err(|e| match e {
            EditError::Unreadable { key, message } => GatewayError::invalid(&key, message),
            e @ EditError::Encode(_) => GatewayError::new(ErrorKind::Internal, e.to_string()),
        })?;
        let mut body = Vec::with_capacity(self.raw.len() + 64);
        body.push(b'{');
        for (i, (k, slot)) in top.0.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(to_json(k)?.as_bytes());
            body.push(b':');
            body.extend_from_slice(slot.json().as_bytes());
        }
        body.push(b'}');
        Ok(Bytes::from(body))
    }
}

/// The top level of a body being rebuilt, in order, as the `[[rules]]` edits see it.
struct Rebuilt<'a>(Vec<(String, Slot<'a>)>);

/// One entry's value: written anew, or the client's bytes.
enum Slot<'a> {
    New(String),
    Kept(&'a RawValue),
}

impl Slot<'_> {
    fn json(&self) -> &str {
        match self {
            Slot::New(s) => s,
            Slot::Kept(raw) => raw.get(),
        }
    }
}

impl Fields for Rebuilt<'_> {
    fn remove(&mut self, key: &str) {
        // The model is the route's to set: a rule does not take it out of the body.
        if key != "model" {
            self.0.retain(|(k, _)| k != key);
        }
    }

    fn take(&mut self, key: &str) -> Result<Option<Value>, EditError> {
        let Some((_, slot)) = self.0.iter().find(|(k, _)| k == key) else {
            return Ok(None);
        };
        serde_json::from_str(slot.json())
            .map(Some)
            .map_err(|e| EditError::Unreadable {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }

    fn set(&mut self, key: &str, value: Value) -> Result<(), EditError> {
        let json = serde_json::to_string(&value).map_err(|e| EditError::Encode(e.to_string()))?;
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = Slot::New(json),
            None => self.0.push((key.to_owned(), Slot::New(json))),
        }
        Ok(())
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, GatewayError> {
    serde_json::to_string(v).map_err(|e| {
        GatewayError::new(
            ErrorKind::Internal,
            format!("cannot encode the request: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn splice_keeps_every_other_byte() {
        let raw = b(
            "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"h\\u00e9\"} ],\n  \"model\":  \"oai/gpt-4o\" , \"z\":1.0e3, \"a\":{} }",
        );
        let body = JsonBody::parse(&raw).unwrap();
        assert_eq!(body.model().unwrap(), "oai/gpt-4o");
        let out = body
            .rewrite("gpt-4o", &Edits::default(), None, &[])
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"h\\u00e9\"} ],\n  \"model\":  \"gpt-4o\" , \"z\":1.0e3, \"a\":{} }"
        );
        // Same model: the very same bytes.
        let same = body
            .rewrite("oai/gpt-4o", &Edits::default(), None, &[])
            .unwrap();
        assert_eq!(same, raw);
    }

    #[test]
    fn model_with_escapes() {
        let raw = b(r#"{"model":"a\/b","messages":[]}"#);
        let body = JsonBody::parse(&raw).unwrap();
        assert_eq!(body.model().unwrap(), "a/b");
        let out = body
            .rewrite("quote\"d", &Edits::default(), None, &[])
            .unwrap();
        assert_eq!(&out[..], br#"{"model":"quote\"d","messages":[]}"#);
    }

    #[test]
    fn model_without_escapes_is_read_as_written() {
        for (json, want) in [
            (r#"{"model":""}"#, ""),
            (r#"{"model" :"gpt-4o" }"#, "gpt-4o"),
            (r#"{"model":"modèle/ü"}"#, "modèle/ü"),
            (r#"{"model":"a\u0062"}"#, "ab"),
        ] {
            let raw = b(json);
            assert_eq!(
                JsonBody::parse(&raw).unwrap().model().unwrap(),
                want,
                "{json}"
            );
        }
    }

    #[test]
    fn validation_names_the_field() {
        let raw = b(r#"{"model":3,"messages":[]}"#);
        let e = JsonBody::parse(&raw).unwrap().model().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(
            e.message.contains("must be a string, not a number"),
            "{}",
            e.message
        );

        let raw = b(r#"{"model":"m","messages":"hi"}"#);
        let e = JsonBody::parse(&raw)
            .unwrap()
            .require("messages", &["an array"])
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert!(e.message.contains("must be an array, not a string"));

        let raw = b(r#"{"model":"m"}"#);
        let e = JsonBody::parse(&raw)
            .unwrap()
            .require("messages", &["an array"])
            .unwrap_err();
        assert!(e.message.contains("`messages` is required"));

        let raw = b(r#"{"messages":[]}"#);
        assert!(
            JsonBody::parse(&raw)
                .unwrap()
                .model()
                .unwrap_err()
                .message
                .contains("required")
        );

        let raw = b(r#"{"model":"a","model":"b"}"#);
        assert!(
            JsonBody::parse(&raw)
                .unwrap()
                .model()
                .unwrap_err()
                .message
                .contains("more than once")
        );

        let raw = b(r#"{"model":"a","stream":"yes"}"#);
        assert_eq!(
            JsonBody::parse(&raw)
                .unwrap()
                .stream()
                .unwrap_err()
                .param
                .as_deref(),
            Some("stream")
        );
        let raw = b(r#"{"model":"a","stream":true}"#);
        assert!(JsonBody::parse(&raw).unwrap().stream().unwrap());
    }

    #[test]
    fn malformed_and_non_objects() {
        let e = JsonBody::parse(&b("{\"model\": ")).err().unwrap();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        assert_eq!(e.status.as_u16(), 400);
        let e = JsonBody::parse(&b("[1,2]")).err().unwrap();
        assert!(e.message.contains("must be a JSON object"), "{}", e.message);
        assert!(JsonBody::parse(&b("{} x")).is_err());
    }

    #[test]
    fn output_limits_over_the_cap_are_lowered() {
        let raw =
            b(r#"{"model":"ds","max_tokens": 32000,"messages":[],"max_completion_tokens":9000}"#);
        let body = JsonBody::parse(&raw).unwrap();
        let out = body
            .rewrite("deepseek-chat", &Edits::default(), Some(8192), &[])
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"deepseek-chat","max_tokens": 8192,"messages":[],"max_completion_tokens":8192}"#
        );
        // At or under the cap, or not a plain integer: untouched, the very same bytes.
        for raw in [
            r#"{"model":"m","max_tokens":8192}"#,
            r#"{"model":"m","max_tokens":64}"#,
            r#"{"model":"m","max_tokens":null}"#,
            r#"{"model":"m","max_tokens":"many"}"#,
            r#"{"model":"m","max_tokens":1e9}"#,
        ] {
            let raw = b(raw);
            let out = JsonBody::parse(&raw)
                .unwrap()
                .rewrite("m", &Edits::default(), Some(8192), &[])
                .unwrap();
            assert_eq!(out, raw);
        }
        // No cap (Anthropic upstreams): untouched.
        let raw = b(r#"{"model":"m","max_tokens":64000}"#);
        let out = JsonBody::parse(&raw)
            .unwrap()
            .rewrite("m", &Edits::default(), None, &[])
            .unwrap();
        assert_eq!(out, raw);
        // With rules the body is rebuilt, still clamped; a rule's own value wins.
        let raw = b(r#"{"model":"m","max_tokens":64000,"temperature":1}"#);
        let body = JsonBody::parse(&raw).unwrap();
        let edits = Edits {
            set: vec![("temperature".into(), json!(0.5))],
            ..Edits::default()
        };
        let out = body.rewrite("m", &edits, Some(8192), &[]).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"m","max_tokens":8192,"temperature":0.5}"#
        );
        let edits = Edits {
            set: vec![("max_tokens".into(), json!(20000))],
            ..Edits::default()
        };
        let out = body.rewrite("m", &edits, Some(8192), &[]).unwrap();
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .contains(r#""max_tokens":20000"#)
        );
    }

    #[test]
    fn rules_edit_the_raw_body_as_they_edit_the_wire_json() {
        let raw = b(
            r#"{"model":"m","top_p":0.5,"temperature":1,"reasoning":{"a":1,"c":{"d":1}},"stop":null}"#,
        );
        let edits = Edits {
            unset: vec!["top_p".into(), "absent".into()],
            set: vec![("temperature".into(), json!(0.2))],
            extra: vec![
                ("reasoning".into(), json!({"b": 2, "c": {"e": 3}})),
                ("stop".into(), json!(["x"])),
                ("seed".into(), json!(7)),
            ],
        };
        let out = JsonBody::parse(&raw)
            .unwrap()
            .rewrite("m", &edits, None, &[])
            .unwrap();
        let mut wire: Value = serde_json::from_slice(&raw).unwrap();
        edits.apply(wire.as_object_mut().unwrap()).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), wire);
    }

    /// The Responses dialect's fast path sends `previous_response_id` (already expanded into
    /// `input` by the gateway) as `null`, spliced or rebuilt; other dialects leave it alone.
    #[test]
    fn only_the_dialect_that_clears_a_field_nulls_it() {
        use crate::protocol::ir::Dialect;
        // By name: `server/` names no dialect in code.
        let dialect = |name: &str| name.parse::<Dialect>().unwrap();
        let raw = b(r#"{"model":"m","previous_response_id":"resp_1","input":"x"}"#);
        let body = JsonBody::parse(&raw).unwrap();
        let clears = dialect("responses").fast_path_clears();
        assert_eq!(clears, ["previous_response_id"]);
        let out = body.rewrite("up", &Edits::default(), None, clears).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"up","previous_response_id":null,"input":"x"}"#
        );
        let edits = Edits {
            set: vec![("temperature".into(), json!(0))],
            ..Edits::default()
        };
        let out = body.rewrite("up", &edits, None, clears).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["previous_response_id"], Value::Null, "{v}");

        // An OpenAI Chat body that happens to carry the field keeps it byte for byte.
        let chat = b(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"previous_response_id":"resp_1"}"#,
        );
        let body = JsonBody::parse(&chat).unwrap();
        for d in crate::protocol::dialect::registered().filter(|&d| d != dialect("responses")) {
            assert!(d.fast_path_clears().is_empty(), "{d:?}");
        }
        let chat_clears = dialect("openai").fast_path_clears();
        let out = body
            .rewrite("m", &Edits::default(), None, chat_clears)
            .unwrap();
        assert_eq!(out, chat, "untouched: the same bytes");
        let out = body.rewrite("up", &edits, None, chat_clears).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["previous_response_id"], "resp_1", "{v}");
    }

    #[test]
    fn rules_rebuild_in_order() {
        let raw = b(
            r#"{"model":"m","top_p":0.5,"messages":[{"role":"user","content":"x"}],"temperature":1,"reasoning":{"a":1}}"#,
        );
        let body = JsonBody::parse(&raw).unwrap();
        let edits = Edits {
            unset: vec!["top_p".into(), "model".into()],
            set: vec![("temperature".into(), json!(0.2)), ("n".into(), json!(1))],
            extra: vec![
                ("reasoning".into(), json!({"b": 2})),
                ("seed".into(), json!(7)),
            ],
        };
        let out = body.rewrite("up-m", &edits, None, &[]).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"up-m","messages":[{"role":"user","content":"x"}],"temperature":0.2,"reasoning":{"a":1,"b":2},"n":1,"seed":7}"#
        );
    }
}
