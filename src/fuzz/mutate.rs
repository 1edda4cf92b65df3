//! The mutation engine: byte-level edits every parser must survive (bit flips, cuts, splices,
//! stray quotes and escapes, broken UTF-8, brackets ten thousand deep), and structure-aware ones
//! that get past the JSON parser into the codecs' own logic (a node of a JSON body retyped,
//! replaced by a value seen elsewhere in the corpus, nested past the parser's limit, given
//! huge numbers or odd Unicode; an SSE transcript's events dropped, repeated, reordered,
//! renamed, cut).
//!
//! Stable Rust has no coverage-guided fuzzer, so the engine leans on its seeds: the golden
//! fixtures are well-formed traffic of every kind, and the [`Dict`] of keys, strings and small
//! values gathered from them lets a mutation put a `"tool_use"` block where a `"text"` one was,
//! which random bytes would take years to find. Everything is drawn from one seeded RNG, so a
//! run is reproducible from its seed.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};

use crate::protocol::sse::{SseEvent, SseParser, write_event};

/// How a target's inputs are shaped, so mutations can keep (or deliberately break) the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON body.
    Json,
    /// An SSE transcript whose events carry JSON.
    Sse,
}

/// The largest input the engine makes; bigger mutants are cut (the codecs' size limits live in
/// the server, and a big input only makes the run slower). Claude Code's request, the largest
/// seed, is 67 KB.
pub const MAX_INPUT: usize = 128 * 1024;

/// The longest string a mutation makes by repetition.
const LONG_STRING: usize = 16 * 1024;

/// Keys, strings, event names and small values seen in the seed corpus.
#[derive(Debug, Default)]
pub struct Dict {
    keys: Vec<String>,
    strings: Vec<String>,
    values: Vec<Value>,
    events: Vec<String>,
}

/// A [`Dict`] being gathered: sets, so each entry is drawn as often as any other.
#[derive(Default)]
pub struct DictBuilder {
    keys: BTreeSet<String>,
    strings: BTreeSet<String>,
    values: BTreeSet<String>,
    events: BTreeSet<String>,
}

/// Values up to this size (as JSON text) go into the dictionary.
const DICT_VALUE_MAX: usize = 512;

impl DictBuilder {
    pub fn add(&mut self, shape: Shape, input: &[u8]) {
        match shape {
            Shape::Json => {
                if let Ok(v) = serde_json::from_slice::<Value>(input) {
                    self.add_json(&v);
                }
            }
            Shape::Sse => {
                for ev in parse_sse(input) {
                    if let Some(name) = ev.event {
                        self.events.insert(name);
                    }
                    if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                        self.add_json(&v);
                    }
                }
            }
        }
    }

    fn add_json(&mut self, v: &Value) {
        let text = v.to_string();
        if text.len() <= DICT_VALUE_MAX {
            self.values.insert(text);
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    self.keys.insert(k.clone());
                    self.add_json(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.add_json(x)),
            Value::String(s) if s.len() <= DICT_VALUE_MAX => {
                self.strings.insert(s.clone());
            }
            _ => {}
        }
    }

    pub fn build(self) -> Dict {
        Dict {
            keys: self.keys.into_iter().collect(),
            strings: self.strings.into_iter().collect(),
            values: self
                .values
                .iter()
                .filter_map(|t| serde_json::from_str(t).ok())
                .collect(),
            events: self.events.into_iter().collect(),
        }
    }
}

/// Events of a transcript, whole (a transcript the parser refuses has none).
pub fn parse_sse(input: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let _ = p.push(input, &mut out);
    let _ = p.finish(&mut out);
    out
}

/// Short byte strings that mean something to a JSON or SSE parser, or to UTF-8.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\u",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"0.0000000000000000000001",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"data: ",
    b"data:",
    b"event: ",
    b": comment\n",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\xED\xA0\x80",
    b"\xF0\x9F",
    b"\xE2\x80\xA8",
    b"\"usage\":{",
    b"\"usageMetadata\":{",
    b"\"usage\" : {\"input_tokens\":18446744073709551615,\"output_tokens\":18446744073709551615}",
    b"\"type\":",
    b"\"model\":",
    b"\"stream\":true",
    b"\"content\":",
    b"[DONE]",
];

/// Bytes that end or start something.
const BYTES: &[u8] = b"\0\"\\{}[],:\n\r\t -+.eE0123456789\x7F\x80\xBF\xC0\xC3\xED\xF0\xF4\xFF";

/// Texts for string values: Unicode that is wide, invisible, right-to-left, a lone surrogate's
/// neighbours, line separators, and things other layers care about.
const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "true",
    "null",
    "é",
    "𝄞",
    "\u{0}",
    "\u{7}",
    "\u{202e}",
    "\u{feff}",
    "\u{2028}",
    "\u{fffd}",
    "\u{10ffff}",
    "a\nb",
    "\r\n",
    "\"",
    "\\",
    "data: x\n\n",
    "event: error\n",
    "[DONE]",
    "{}",
    "[]",
    "gw.gemini.",
    "gw.gemini.sig",
    "msg_",
    "toolu_",
    "call_",
    "x-anthropic-billing-header: cc",
    "skip_thought_signature_validator",
    "data:image/png;base64,AAAA",
    "data:;base64,",
    "https://example.invalid/a.png",
    "application/json",
    "image/png",
];

/// Numbers at the edges of the integer types the codecs read them into.
fn interesting_number(rng: &mut StdRng) -> Value {
    const INTS: &[i64] = &[
        0,
        1,
        -1,
        2,
        127,
        128,
        255,
        256,
        1023,
        1024,
        65_535,
        65_536,
        2_147_483_647,
        2_147_483_648,
        4_294_967_295,
        4_294_967_296,
        9_007_199_254_740_993,
        i64::MAX,
        i64::MIN,
        -2_147_483_649,
    ];
    const FLOATS: &[f64] = &[0.5, -0.5, 1.0, -0.0, 1e308, -1e308, 5e-324, 3.5, 1e19, 2.0];
    match rng.random_range(0..4) {
        0 => Value::from(u64::MAX - rng.random_range(0..2)),
        1 => Number::from_f64(FLOATS[rng.random_range(0..FLOATS.len())])
            .map_or(Value::Null, Value::Number),
        _ => Value::from(INTS[rng.random_range(0..INTS.len())]),
    }
}

/// Makes mutants; one per target run, seeded.
pub struct Mutator<'d> {
    rng: StdRng,
    dict: &'d Dict,
    max_input: usize,
}

impl<'d> Mutator<'d> {
    /// Mutants are cut at `max_input` bytes (at most [`MAX_INPUT`]).
    pub fn new(seed: u64, dict: &'d Dict, max_input: usize) -> Self {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
            dict,
            max_input: max_input.min(MAX_INPUT),
        }
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// A mutant of `input`: one to eight stacked mutations, most of them shape-aware. `pool`
    /// is where splices take their other half from.
    pub fn mutate(&mut self, input: &[u8], shape: Shape, pool: &[Vec<u8>]) -> Vec<u8> {
        let mut data = input.to_vec();
        let mut rounds = 1;
        while rounds < 8 && self.rng.random_bool(0.5) {
            rounds += 1;
        }
        // A JSON body is parsed once for a run of value mutations, and written out before a
        // byte mutation or at the end.
        let mut parsed: Option<Value> = None;
        for _ in 0..rounds {
            if self.rng.random_ratio(3, 4) {
                match shape {
                    Shape::Json => {
                        if parsed.is_none() {
                            parsed = serde_json::from_slice(&data).ok();
                        }
                        if let Some(v) = &mut parsed {
                            self.mutate_value(v);
                            continue;
                        }
                    }
                    Shape::Sse => {
                        if self.mutate_sse(&mut data, pool) {
                            data.truncate(self.max_input);
                            continue;
                        }
                    }
                }
            }
            if let Some(v) = parsed.take() {
                data = self.write_json(&v);
            }
            self.mutate_bytes(&mut data, pool);
            data.truncate(self.max_input);
        }
        if let Some(v) = parsed {
            data = self.write_json(&v);
            data.truncate(self.max_input);
        }
        data
    }

    /// A value as JSON text, compact or (now and then) pretty.
    fn write_json(&mut self, v: &Value) -> Vec<u8> {
        let text = if self.rng.random_ratio(1, 5) {
            serde_json::to_vec_pretty(v)
        } else {
            serde_json::to_vec(v)
        };
        text.unwrap_or_default()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.rng.random_range(0..items.len()))
        }
    }

    fn pos(&mut self, len: usize) -> usize {
        self.rng.random_range(0..=len)
    }

    // ---- bytes ----

    fn mutate_bytes(&mut self, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
        let len = data.len();
        match self.rng.random_range(0..11) {
            0 if len > 0 => {
                let i = self.rng.random_range(0..len);
                data[i] ^= 1 << self.rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = self.rng.random_range(0..len);
                data[i] = BYTES[self.rng.random_range(0..BYTES.len())];
            }
            2 if len > 0 => {
                let at = self.rng.random_range(0..len);
                let n = self.rng.random_range(1..=(len - at).min(64));
                data.drain(at..at + n);
            }
            3 if len > 0 => {
                let at = self.rng.random_range(0..len);
                let n = self.rng.random_range(1..=(len - at).min(256));
                let copy = data[at..at + n].to_vec();
                let to = self.pos(len);
                data.splice(to..to, copy);
            }
            4 => {
                let tok = TOKENS[self.rng.random_range(0..TOKENS.len())];
                let at = self.pos(len);
                data.splice(at..at, tok.iter().copied());
            }
            5 => {
                let at = self.pos(len);
                data.truncate(at);
            }
            6 => {
                if let Some(other) = self.pick(pool) {
                    let a = self.pos(len);
                    let b = self.pos(other.len());
                    data.truncate(a);
                    data.extend_from_slice(&other[b..]);
                }
            }
            7 => {
                if let Some(other) = self.pick(pool)
                    && !other.is_empty()
                {
                    let from = self.rng.random_range(0..other.len());
                    let n = self.rng.random_range(1..=(other.len() - from).min(512));
                    let at = self.pos(len);
                    data.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            8 => self.replace_digits(data),
            9 => {
                // Deeper than any parser's recursion limit: it must refuse, not overflow.
                let depth = *self.pick(&[64, 127, 128, 129, 300, 10_000]).unwrap_or(&129);
                let open: &[u8] = if self.rng.random_bool(0.5) {
                    b"["
                } else {
                    b"{\"a\":"
                };
                let at = self.pos(len);
                let nest: Vec<u8> = open
                    .iter()
                    .copied()
                    .cycle()
                    .take(open.len() * depth)
                    .collect();
                data.splice(at..at, nest);
            }
            _ => {
                // Duplicate a whole `"key":value` pair's worth of text: repeated keys.
                if let Some(at) = find_key(data, self.rng.random_range(0..len.max(1))) {
                    let end = (at + self.rng.random_range(1..64)).min(len);
                    let mut copy = data[at..end].to_vec();
                    copy.push(b',');
                    data.splice(at..at, copy);
                }
            }
        }
    }

    /// Replaces a run of digits with an edge number (huge, negative, fractional, exponent).
    fn replace_digits(&mut self, data: &mut Vec<u8>) {
        let start = self.rng.random_range(0..=data.len());
        let Some(off) = data[start..].iter().position(u8::is_ascii_digit) else {
            return;
        };
        let a = start + off;
        let b = a + data[a..].iter().take_while(|c| c.is_ascii_digit()).count();
        const NUMS: &[&[u8]] = &[
            b"18446744073709551615",
            b"18446744073709551616",
            b"99999999999999999999999999",
            b"4294967296",
            b"2147483648",
            b"-1",
            b"-0",
            b"0.5",
            b"1e400",
            b"1e-400",
            b"1E2",
            b"00",
        ];
        let n = NUMS[self.rng.random_range(0..NUMS.len())];
        data.splice(a..b, n.iter().copied());
    }

    // ---- JSON ----

    fn mutate_value(&mut self, v: &mut Value) {
        let count = count_nodes(v);
        let k = self.rng.random_range(0..count);
        if let Some(node) = nth_node(v, k) {
            self.mutate_node(node);
        }
    }

    fn mutate_node(&mut self, node: &mut Value) {
        let dict = self.dict;
        match self.rng.random_range(0..10) {
            0 => *node = self.scalar(),
            1 => {
                if let Some(x) = self.pick(&dict.values) {
                    *node = x.clone();
                }
            }
            2 => {
                if let Some(s) = self.pick(&dict.strings) {
                    *node = Value::String(s.clone());
                }
            }
            3 => {
                let inner = node.take();
                *node = if self.rng.random_bool(0.5) {
                    Value::Array(vec![inner])
                } else {
                    let key = self.key();
                    Value::Object(Map::from_iter([(key, inner)]))
                };
            }
            4 => {
                // Around serde_json's recursion limit of 128.
                let depth = *self.pick(&[2, 16, 126, 127, 128, 129, 200]).unwrap_or(&2);
                let mut inner = node.take();
                for i in 0..depth {
                    inner = if i % 2 == 0 {
                        Value::Array(vec![inner])
                    } else {
                        Value::Object(Map::from_iter([("a".to_owned(), inner)]))
                    };
                }
                *node = inner;
            }
            _ => self.mutate_typed(node),
        }
    }

    /// A mutation that fits the node's type.
    fn mutate_typed(&mut self, node: &mut Value) {
        let dict = self.dict;
        match node {
            Value::Object(m) => match self.rng.random_range(0..5) {
                0 if !m.is_empty() => {
                    let i = self.rng.random_range(0..m.len());
                    if let Some(k) = m.keys().nth(i).cloned() {
                        m.remove(&k);
                    }
                }
                1 if !m.is_empty() => {
                    // Rename a key: the value lands where another field is expected.
                    let i = self.rng.random_range(0..m.len());
                    if let Some(k) = m.keys().nth(i).cloned()
                        && let Some(x) = m.remove(&k)
                    {
                        let key = self.key();
                        m.insert(key, x);
                    }
                }
                2 => m.clear(),
                _ => {
                    let key = self.key();
                    let value = match self.rng.random_range(0..3) {
                        0 => self.scalar(),
                        _ => self.pick(&dict.values).cloned().unwrap_or(Value::Null),
                    };
                    m.insert(key, value);
                }
            },
            Value::Array(a) => match self.rng.random_range(0..6) {
                0 if !a.is_empty() => {
                    let i = self.rng.random_range(0..a.len());
                    a.remove(i);
                }
                1 if !a.is_empty() => {
                    let i = self.rng.random_range(0..a.len());
                    let x = a[i].clone();
                    let at = self.pos(a.len());
                    a.insert(at, x);
                }
                2 if a.len() > 1 => {
                    let i = self.rng.random_range(0..a.len());
                    let j = self.rng.random_range(0..a.len());
                    a.swap(i, j);
                }
                3 if !a.is_empty() => {
                    let i = self.rng.random_range(0..a.len());
                    let x = a[i].clone();
                    let n = self.rng.random_range(2..64);
                    a.extend(std::iter::repeat_n(x, n));
                }
                4 => a.clear(),
                _ => {
                    let x = self.pick(&dict.values).cloned().unwrap_or(Value::Null);
                    let at = self.pos(a.len());
                    a.insert(at, x);
                }
            },
            Value::String(s) => self.mutate_string(s),
            Value::Number(n) => *node = self.mutate_number(n),
            Value::Bool(b) => *b = !*b,
            Value::Null => *node = self.scalar(),
        }
    }

    fn mutate_string(&mut self, s: &mut String) {
        let dict = self.dict;
        match self.rng.random_range(0..7) {
            0 => s.clear(),
            1 => {
                let extra = STRINGS[self.rng.random_range(0..STRINGS.len())];
                let at = self.char_boundary(s);
                s.insert_str(at, extra);
            }
            2 => {
                let at = self.char_boundary(s);
                s.truncate(at);
            }
            3 => {
                // Long, but not so long that every later parse of the mutant is slow.
                let times = self
                    .rng
                    .random_range(2..200)
                    .min(LONG_STRING / s.len().max(1));
                *s = s.repeat(times.max(1));
            }
            4 => {
                if let Some(d) = self.pick(&dict.strings) {
                    let d = d.clone();
                    if self.rng.random_bool(0.5) {
                        s.push_str(&d);
                    } else {
                        s.insert_str(0, &d);
                    }
                }
            }
            5 => *s = s.to_uppercase(),
            _ => *s = STRINGS[self.rng.random_range(0..STRINGS.len())].to_owned(),
        }
    }

    fn char_boundary(&mut self, s: &str) -> usize {
        let mut at = self.pos(s.len());
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn mutate_number(&mut self, n: &Number) -> Value {
        let f = n.as_f64().unwrap_or(0.0);
        match self.rng.random_range(0..6) {
            0 => n
                .as_i64()
                .map_or(Value::Null, |i| Value::from(i.wrapping_add(1))),
            1 => n
                .as_i64()
                .map_or(Value::from(-f), |i| Value::from(i.wrapping_neg())),
            2 => Number::from_f64(f * 1e10).map_or(Value::Null, Value::Number),
            3 => Number::from_f64(f + 0.5).map_or(Value::Null, Value::Number),
            4 => Value::String(n.to_string()),
            _ => interesting_number(&mut self.rng),
        }
    }

    fn scalar(&mut self) -> Value {
        match self.rng.random_range(0..6) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random_bool(0.5)),
            2 | 3 => interesting_number(&mut self.rng),
            4 => Value::String("x".repeat(*self.pick(&[1, 100, 10_000]).unwrap_or(&1))),
            _ => Value::String(STRINGS[self.rng.random_range(0..STRINGS.len())].to_owned()),
        }
    }

    fn key(&mut self) -> String {
        let dict = self.dict;
        self.pick(&dict.keys)
            .cloned()
            .unwrap_or_else(|| "type".to_owned())
    }

    // ---- SSE ----

    /// Mutates a transcript's events and frames them again; false when it has none.
    fn mutate_sse(&mut self, data: &mut Vec<u8>, pool: &[Vec<u8>]) -> bool {
        let dict = self.dict;
        let mut events = parse_sse(data);
        if events.is_empty() {
            return false;
        }
        let n = events.len();
        match self.rng.random_range(0..9) {
            0 => {
                events.remove(self.rng.random_range(0..n));
            }
            1 => {
                let x = events[self.rng.random_range(0..n)].clone();
                let at = self.pos(n);
                events.insert(at, x);
            }
            2 => {
                let i = self.rng.random_range(0..n);
                let j = self.rng.random_range(0..n);
                events.swap(i, j);
            }
            3 => {
                let i = self.rng.random_range(0..n);
                events[i].event = match self.rng.random_range(0..3) {
                    0 => None,
                    1 => self.pick(&dict.events).cloned(),
                    _ => self.pick(&dict.strings).cloned(),
                }
                .filter(|s| !s.contains(['\n', '\r']));
            }
            4 => {
                let i = self.rng.random_range(0..n);
                let text = self
                    .pick(&["[DONE]", "", "{}", "null", "[]", "{\"error\":{}}"])
                    .copied()
                    .unwrap_or_default();
                events[i].data = text.to_owned();
            }
            5 => {
                let at = self.rng.random_range(0..n);
                events.truncate(at);
            }
            6 => {
                if let Some(other) = self.pick(pool) {
                    let theirs = parse_sse(other);
                    if let Some(x) = self.pick(&theirs).cloned() {
                        let at = self.pos(n);
                        events.insert(at, x);
                    }
                }
            }
            _ => {
                let i = self.rng.random_range(0..n);
                match serde_json::from_str::<Value>(&events[i].data) {
                    Ok(mut v) => {
                        self.mutate_value(&mut v);
                        events[i].data = v.to_string();
                    }
                    Err(_) => return false,
                }
            }
        }
        let mut out = Vec::with_capacity(data.len() + 64);
        for ev in &events {
            write_event(&mut out, ev.event.as_deref(), &ev.data);
        }
        if self.rng.random_ratio(1, 10) {
            // Every line end a CRLF (data lines never hold a bare LF after framing).
            let mut crlf = Vec::with_capacity(out.len() * 2);
            for b in out {
                if b == b'\n' {
                    crlf.push(b'\r');
                }
                crlf.push(b);
            }
            out = crlf;
        }
        if self.rng.random_ratio(1, 10) {
            out.pop();
        }
        *data = out;
        true
    }
}

/// The position of a `"` that opens an object key at or after `from`, roughly: a quote right
/// after `{` or `,`.
fn find_key(data: &[u8], from: usize) -> Option<usize> {
    let from = from.min(data.len());
    data[from..]
        .windows(2)
        .position(|w| (w[0] == b'{' || w[0] == b',') && w[1] == b'"')
        .map(|i| from + i + 1)
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(count_nodes).sum(),
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `k`th node in pre-order.
fn nth_node(v: &mut Value, mut k: usize) -> Option<&mut Value> {
    fn go<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
        if *k == 0 {
            return Some(v);
        }
        *k -= 1;
        match v {
            Value::Object(m) => m.values_mut().find_map(|x| go_counted(x, k)),
            Value::Array(a) => a.iter_mut().find_map(|x| go_counted(x, k)),
            _ => None,
        }
    }
    fn go_counted<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
        let n = count_nodes(v);
        if *k >= n {
            *k -= n;
            None
        } else {
            go(v, k)
        }
    }
    go(v, &mut k)
}
