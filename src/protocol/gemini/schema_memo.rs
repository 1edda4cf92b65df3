//! A process-wide memo of reduced tool schemas, so the Gemini encoder reduces each distinct
//! schema once rather than on every request.
//!
//! Claude Code and the other agents send the same ~25 tool schemas on every turn of a session,
//! and reducing them ([`reduce_schema_for`]) was most of the cost of encoding for Gemini. The
//! memo is keyed by the schema's text exactly as the client sent it (a hash to find the entry,
//! then a full comparison, so a collision is only a miss) and the target, and holds the reduced
//! schema as compact JSON text that every request shares. Only schemas that arrived as text
//! ([`Json::raw`]) are memoized; ones built in memory are reduced each time.
//!
//! Memory is bounded: at most [`MAX_ENTRIES`] schemas and [`MAX_BYTES`] of schema text (inputs
//! plus outputs). When an insert would pass either bound the memo is emptied and starts over;
//! a schema larger than the byte bound on its own is never kept. The lock is held only for a
//! lookup or an insert, never while reducing.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use serde_json::Value;

use super::schema::{SchemaTarget, reduce_schema_for};
use crate::protocol::json::Json;

/// The most schemas kept (a few sessions' worth of tool sets).
pub const MAX_ENTRIES: usize = 1024;
/// The most schema text kept, inputs and reduced outputs together.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

struct Entry {
    /// The schema as received (shares its text).
    input: Json,
    output: Json,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.input.raw().map_or(0, |r| r.get().len())
            + self.output.raw().map_or(0, |r| r.get().len())
    }
}

#[derive(Default)]
struct Memo {
    map: HashMap<(u64, SchemaTarget), Entry>,
    bytes: usize,
}

static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();

fn memo() -> MutexGuard<'static, Memo> {
    // A panic elsewhere while holding the lock leaves a consistent map: keep using it.
    MEMO.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// [`reduce_schema_for`], memoized for schemas that arrived as text.
pub fn reduce_memoized(schema: &Json, target: SchemaTarget) -> Json {
    let Some(raw) = schema.raw() else {
        return reduced(schema.value(), target);
    };
    let key = (hash(raw.get().as_bytes()), target);
    if let Some(e) = memo().map.get(&key)
        && e.input.raw().is_some_and(|i| i.get() == raw.get())
    {
        return e.output.clone();
    }
    let output = reduced(schema.value(), target);
    let entry = Entry {
        input: schema.clone(),
        output: output.clone(),
    };
    let size = entry.bytes();
    if size <= MAX_BYTES {
        let mut m = memo();
        if m.map.len() >= MAX_ENTRIES || m.bytes + size > MAX_BYTES {
            m.map.clear();
            m.bytes = 0;
        }
        if let Some(old) = m.map.insert(key, entry) {
            m.bytes -= old.bytes();
        }
        m.bytes += size;
    }
    output
}

/// The reduced schema as compact text, so later clones and writes are copies of bytes.
fn reduced(schema: &Value, target: SchemaTarget) -> Json {
    let v = reduce_schema_for(schema, target);
    match serde_json::value::to_raw_value(&v) {
        Ok(raw) => Json::from_raw(raw),
        Err(_) => Json::from(v),
    }
}

/// A fast non-cryptographic hash (FxHash-style) of the text's length and its first and last
/// [`SAMPLE`] bytes: enough to tell tool schemas apart, at a fixed cost however long they are.
/// Entries are confirmed by comparing the whole text, so texts that share a sample only replace
/// each other in the memo.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    // Four independent lanes, so the multiplications overlap.
    let mut lanes = [bytes.len() as u64, 1, 2, 3];
    let head = &bytes[..bytes.len().min(SAMPLE)];
    let tail = &bytes[bytes.len().saturating_sub(SAMPLE).max(head.len())..];
    for part in [head, tail] {
        let mut blocks = part.chunks_exact(32);
        for b in &mut blocks {
            for (lane, c) in lanes.iter_mut().zip(b.chunks_exact(8)) {
                *lane = step(*lane, word(c));
            }
        }
        for &b in blocks.remainder() {
            lanes[0] = step(lanes[0], u64::from(b));
        }
    }
    lanes.iter().fold(0, |h, &l| step(h, l))
}

/// How many bytes at each end of a schema's text [`hash`] reads.
const SAMPLE: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memoized_equals_direct_and_is_shared() {
        let text = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"memo_test_only":{"type":["string","null"],"const":"x"}},"additionalProperties":false}"#;
        for target in [SchemaTarget::Parameters, SchemaTarget::JsonSchema] {
            let schema = Json::parse(text).unwrap();
            let direct = reduce_schema_for(&schema, target);
            let first = reduce_memoized(&schema, target);
            let again = reduce_memoized(&Json::parse(text).unwrap(), target);
            assert_eq!(first, direct);
            assert!(std::ptr::eq(first.raw().unwrap(), again.raw().unwrap()));
        }
        // Built in memory: reduced, not memoized.
        let v = json!({"type": "object", "properties": {"a": {"const": 1}}});
        let j = Json::from(v.clone());
        assert_eq!(
            reduce_memoized(&j, SchemaTarget::Parameters),
            reduce_schema_for(&v, SchemaTarget::Parameters)
        );
    }

    /// Schemas that differ only in the middle share a hash; each still gets its own reduction.
    #[test]
    fn same_sample_different_schema_is_not_confused() {
        let pad = "p".repeat(2 * SAMPLE);
        let a = format!(
            r#"{{"type":"object","description":"{pad}","properties":{{"memo_mid":{{"type":"string"}}}},"x":"{pad}"}}"#
        );
        let b = a.replace(r#""type":"string""#, r#""type":"number""#);
        assert_eq!(a.len(), b.len());
        assert_eq!(hash(a.as_bytes()), hash(b.as_bytes()));
        let t = SchemaTarget::Parameters;
        for text in [&a, &b, &a] {
            let schema = Json::parse(text).unwrap();
            assert_eq!(reduce_memoized(&schema, t), reduce_schema_for(&schema, t));
        }
    }

    #[test]
    fn hash_tells_texts_apart() {
        assert_ne!(hash(b"{\"a\":1}"), hash(b"{\"a\":2}"));
        assert_ne!(hash(b""), hash(b"\0"));
        assert_eq!(hash(b"0123456789abcdef!"), hash(b"0123456789abcdef!"));
        // Long texts: the ends and the length count.
        let long = |mid: u8, end: u8| {
            let mut v = vec![b'a'; 1000];
            v[500] = mid;
            v[999] = end;
            v
        };
        assert_eq!(hash(&long(b'x', b'z')), hash(&long(b'y', b'z')));
        assert_ne!(hash(&long(b'x', b'z')), hash(&long(b'x', b'y')));
    }
}
