//! Token counts read from replies as they pass through, without holding the reply back: SSE
//! streams are scanned line by line for a `usage` object (OpenAI's last chunk, Anthropic's
//! `message_start`/`message_delta`, Gemini's `usageMetadata`); whole JSON replies are kept by
//! reference (cheap `Bytes` clones, capped) and parsed once at the end.

use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;
use serde::Deserialize;

use super::TokenCounts;

/// Longest SSE line looked at; longer lines (big content deltas) cannot carry usage worth it.
const MAX_LINE: usize = 1 << 20;
/// Largest whole JSON reply parsed for usage.
const MAX_JSON: usize = 16 << 20;

#[derive(Debug)]
enum Mode {
    Sse {
        line: Vec<u8>,
        skipping: bool,
    },
    /// The first chunk apart: a small reply is usually one, and then nothing is allocated.
    Json {
        first: Bytes,
        more: Vec<Bytes>,
        size: usize,
    },
}

/// Feed it every chunk of a reply, then [`Scanner::finish`].
#[derive(Debug)]
pub struct Scanner {
    mode: Mode,
    found: Option<TokenCounts>,
}

impl Scanner {
    pub fn sse() -> Self {
        Scanner {
            mode: Mode::Sse {
                line: Vec::new(),
                skipping: false,
            },
            found: None,
        }
    }

    pub fn json() -> Self {
        Scanner {
            mode: Mode::Json {
                first: Bytes::new(),
                more: Vec::new(),
                size: 0,
            },
            found: None,
        }
    }

    pub fn feed(&mut self, chunk: &Bytes) {
        match &mut self.mode {
            Mode::Json { first, more, size } => {
                if *size == 0 {
                    *first = chunk.clone();
                } else if *size <= MAX_JSON {
                    more.push(chunk.clone());
                }
                *size = size.saturating_add(chunk.len());
            }
            Mode::Sse { line, skipping } => {
                let mut rest: &[u8] = chunk;
                // The end of a line an earlier chunk began.
                if *skipping || !line.is_empty() {
                    let Some(nl) = memchr::memchr(b'\n', rest) else {
                        carry(line, skipping, rest);
                        return;
                    };
                    let (seg, after) = rest.split_at(nl);
                    rest = after.get(1..).unwrap_or_default();
                    if !*skipping {
                        line.extend_from_slice(seg);
                        merge(&mut self.found, sse_line(line));
                    }
                    *skipping = false;
                    line.clear();
                }
                // The chunk's whole lines: one search for a usage key over all of them, and
                // only a line holding one is looked at. Per chunk of a stream this was the
                // gateway's largest single cost when every line was split out and searched.
                let whole = memchr::memrchr(b'\n', rest).map_or(0, |nl| nl + 1);
                let (lines, tail) = rest.split_at(whole);
                let mut done = 0;
                for at in usage_finder().find_iter(lines) {
                    if at < done {
                        continue; // the line was looked at for an earlier key
                    }
                    let start = memchr::memrchr(b'\n', &lines[..at]).map_or(0, |nl| nl + 1);
                    let end = memchr::memchr(b'\n', &lines[at..]).map_or(lines.len(), |nl| at + nl);
                    merge(&mut self.found, sse_line(&lines[start..end]));
                    done = end;
                }
                carry(line, skipping, tail);
            }
        }
    }

    /// The tokens reported, if any.
    pub fn finish(&mut self) -> Option<TokenCounts> {
        match &mut self.mode {
            Mode::Json { first, more, size } => {
                if *size <= MAX_JSON {
                    if more.is_empty() {
                        merge(&mut self.found, json_usage(first));
                    } else {
                        let mut all = BytesMut::with_capacity(*size);
                        all.extend_from_slice(first);
                        for p in more.drain(..) {
                            all.extend_from_slice(&p);
                        }
                        merge(&mut self.found, json_usage(&all));
                    }
                }
                *first = Bytes::new();
                more.clear();
            }
            Mode::Sse { line, skipping } => {
                if !*skipping && !line.is_empty() {
                    let last = std::mem::take(line);
                    merge(&mut self.found, sse_line(&last));
                }
            }
        }
        self.found
    }
}

/// Keeps the unfinished last line of a chunk for the next one, unless it is too long to be
/// worth it (then the rest of that line is skipped).
fn carry(line: &mut Vec<u8>, skipping: &mut bool, rest: &[u8]) {
    if rest.is_empty() || *skipping {
        return;
    }
    if line.len() + rest.len() > MAX_LINE {
        *skipping = true;
        line.clear();
    } else {
        line.extend_from_slice(rest);
    }
}

fn merge(found: &mut Option<TokenCounts>, new: Option<TokenCounts>) {
    let Some(n) = new else { return };
    let f = found.get_or_insert_with(TokenCounts::default);
    // Streams repeat usage cumulatively (Anthropic's message_delta), so the largest value wins.
    f.input = f.input.max(n.input);
    f.output = f.output.max(n.output);
    f.cache_read = f.cache_read.max(n.cache_read);
    f.cache_write = f.cache_write.max(n.cache_write);
}

fn sse_line(line: &[u8]) -> Option<TokenCounts> {
    let payload = line.strip_prefix(b"data:")?;
    if !has_usage_object(payload) {
        return None;
    }
    json_usage(payload)
}

/// A usage key, `"usage"` or `"usageMetadata"`, up to its closing quote.
const USAGE_KEY: &[u8] = b"\"usage";

/// When the [`USAGE_KEY`] match at `at` is followed by `": {` (whitespace allowed): whether it
/// is Gemini's `usageMetadata`, and the text from the object's `{` on.
fn usage_object_at(s: &[u8], at: usize) -> Option<(bool, &[u8])> {
    let mut rest = s.get(at + USAGE_KEY.len()..)?;
    let gemini = match rest.strip_prefix(b"Metadata") {
        Some(r) => {
            rest = r;
            true
        }
        None => false,
    };
    rest = rest.strip_prefix(b"\"")?.trim_ascii_start();
    rest = rest.strip_prefix(b":")?.trim_ascii_start();
    rest.starts_with(b"{").then_some((gemini, rest))
}

/// Cheap test for `"usage": {` (or `"usageMetadata": {`), so that the common `"usage":null`
/// chunks and the chunks without usage are not parsed.
fn has_usage_object(s: &[u8]) -> bool {
    usage_finder()
        .find_iter(s)
        .any(|at| usage_object_at(s, at).is_some())
}

fn usage_finder() -> &'static Finder<'static> {
    static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(USAGE_KEY));
    &FINDER
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Anthropic `message_start` nests the message.
    #[serde(default)]
    message: Option<Nested>,
    #[serde(default, rename = "usageMetadata")]
    usage_metadata: Option<GeminiUsage>,
    /// Code Assist wraps Gemini replies.
    #[serde(default)]
    response: Option<NestedGemini>,
}

#[derive(Deserialize)]
struct Nested {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct NestedGemini {
    #[serde(default, rename = "usageMetadata")]
    usage_metadata: Option<GeminiUsage>,
}

/// OpenAI and Anthropic usage fields side by side; each reply fills one set.
#[derive(Deserialize, Default)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<PromptDetails>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
}

fn json_usage(s: &[u8]) -> Option<TokenCounts> {
    if let Some(t) = last_usage_object(s) {
        return Some(t);
    }
    let env: Envelope = serde_json::from_slice(s).ok()?;
    let wire = env.usage.or_else(|| env.message.and_then(|m| m.usage));
    if let Some(t) = wire.and_then(wire_counts) {
        return Some(t);
    }
    env.usage_metadata
        .or_else(|| env.response.and_then(|r| r.usage_metadata))
        .map(gemini_counts)
}

/// The counts of the reply's last `"usage": {...}` or `"usageMetadata": {...}` object, read
/// without parsing the rest. Every provider writes usage after the content, so the last such
/// key is the reply's own; anything unexpected (the last match sits inside a string, the
/// object does not parse) returns `None` and the caller parses the whole reply.
fn last_usage_object(s: &[u8]) -> Option<TokenCounts> {
    let at = rfind_usage_key(s)?;
    if at.checked_sub(1).and_then(|i| s.get(i)) == Some(&b'\\') {
        return None;
    }
    let (gemini, rest) = usage_object_at(s, at)?;
    // UTF-8 checked once here rather than key by key by the parser.
    let mut de = serde_json::Deserializer::from_str(std::str::from_utf8(rest).ok()?);
    if gemini {
        GeminiUsage::deserialize(&mut de).ok().map(gemini_counts)
    } else {
        WireUsage::deserialize(&mut de).ok().and_then(wire_counts)
    }
}

/// Where the last [`USAGE_KEY`] starts. The `u` is looked for from the end (`memrchr`, much
/// cheaper than a reverse substring search), and usage keys sit near the end of a reply.
fn rfind_usage_key(s: &[u8]) -> Option<usize> {
    let mut end = s.len();
    while let Some(u) = memchr::memrchr(b'u', s.get(..end)?) {
        let quote = u.checked_sub(1)?;
        if s.get(quote..)?.starts_with(USAGE_KEY) {
            return Some(quote);
        }
        end = u;
    }
    None
}

/// OpenAI's or Anthropic's usage object, whichever set of fields it has.
fn wire_counts(u: WireUsage) -> Option<TokenCounts> {
    if let Some(prompt) = u.prompt_tokens {
        let cached = u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0);
        return Some(TokenCounts {
            input: prompt.saturating_sub(cached),
            output: u.completion_tokens.unwrap_or(0),
            cache_read: cached,
            cache_write: 0,
        });
    }
    if u.input_tokens.is_some() || u.output_tokens.is_some() {
        return Some(TokenCounts {
            input: u.input_tokens.unwrap_or(0),
            output: u.output_tokens.unwrap_or(0),
            cache_read: u.cache_read_input_tokens.unwrap_or(0),
            cache_write: u.cache_creation_input_tokens.unwrap_or(0),
        });
    }
    u.completion_tokens.map(|output| TokenCounts {
        output,
        ..TokenCounts::default()
    })
}

fn gemini_counts(g: GeminiUsage) -> TokenCounts {
    let cached = g.cached_content_token_count.unwrap_or(0);
    TokenCounts {
        input: g.prompt_token_count.unwrap_or(0).saturating_sub(cached),
        output: g
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(g.thoughts_token_count.unwrap_or(0)),
        cache_read: cached,
        cache_write: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_usage_key_or_the_whole_reply() {
        let openai = br#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#;
        let want = TokenCounts {
            input: 10,
            output: 3,
            cache_read: 2,
            cache_write: 0,
        };
        assert_eq!(last_usage_object(openai), Some(want));
        let gemini = br#"{"response":{"candidates":[],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,"thoughtsTokenCount":1}}}"#;
        assert_eq!(
            json_usage(gemini).map(|t| (t.input, t.output)),
            Some((7, 3))
        );
        // The last match sits inside a string: the whole reply is parsed instead.
        let tricky = br#"{"usage":{"input_tokens":5,"output_tokens":2},"note":"say \"usage\": {\"input_tokens\": 99}"}"#;
        assert_eq!(last_usage_object(tricky), None);
        assert_eq!(
            json_usage(tricky).map(|t| (t.input, t.output)),
            Some((5, 2))
        );
        assert_eq!(json_usage(br#"{"usage":null}"#), None);
    }

    #[test]
    fn the_usage_key_is_found_from_the_end() {
        let reply = br#"{"usage":{"a":1},"content":"u usage \"usage","usageMetadata":{"b":2}}"#;
        let at = rfind_usage_key(reply).unwrap();
        assert!(reply[at..].starts_with(b"\"usageMetadata"));
        assert_eq!(rfind_usage_key(b"usage u \"usag"), None);
        assert_eq!(rfind_usage_key(b"\"usage"), Some(0));
        assert_eq!(rfind_usage_key(b"usage"), None);
        assert_eq!(rfind_usage_key(b""), None);
    }

    fn feed_in_pieces(mut s: Scanner, text: &str, piece: usize) -> Option<TokenCounts> {
        for c in text.as_bytes().chunks(piece) {
            s.feed(&Bytes::copy_from_slice(c));
        }
        s.finish()
    }

    const OPENAI_STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,",
        "\"total_tokens\":19,\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn openai_stream_in_any_chunking() {
        let want = Some(TokenCounts {
            input: 10,
            output: 7,
            cache_read: 2,
            cache_write: 0,
        });
        for piece in [1, 3, 7, 64, 10_000] {
            assert_eq!(
                feed_in_pieces(Scanner::sse(), OPENAI_STREAM, piece),
                want,
                "{piece}"
            );
        }
    }

    #[test]
    fn stream_without_usage() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\": {\"}}]}\n\ndata: [DONE]\n\n";
        assert_eq!(feed_in_pieces(Scanner::sse(), text, 5), None);
    }

    #[test]
    fn anthropic_stream_takes_the_largest() {
        let text = concat!(
            "event: message_start\r\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":30,\"output_tokens\":1,\"cache_read_input_tokens\":4}}}\r\n\r\n",
            "event: message_delta\r\n",
            "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\r\n\r\n",
        );
        assert_eq!(
            feed_in_pieces(Scanner::sse(), text, 9),
            Some(TokenCounts {
                input: 30,
                output: 15,
                cache_read: 4,
                cache_write: 0
            })
        );
    }

    #[test]
    fn gemini_usage_metadata() {
        let text = "data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":3,\"thoughtsTokenCount\":2,\"cachedContentTokenCount\":4}}\n\n";
        assert_eq!(
            feed_in_pieces(Scanner::sse(), text, 4),
            Some(TokenCounts {
                input: 5,
                output: 5,
                cache_read: 4,
                cache_write: 0
            })
        );
    }

    #[test]
    fn whole_json_reply() {
        let text = r#"{"id":"x","object":"chat.completion","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
        // In one chunk (kept as it is) and in many (joined at the end).
        for piece in [10, text.len()] {
            assert_eq!(
                feed_in_pieces(Scanner::json(), text, piece),
                Some(TokenCounts {
                    input: 3,
                    output: 2,
                    ..TokenCounts::default()
                }),
                "{piece}"
            );
        }
        assert_eq!(feed_in_pieces(Scanner::json(), "{\"error\":{}}", 3), None);
        assert_eq!(feed_in_pieces(Scanner::json(), "not json", 3), None);
    }

    #[test]
    fn last_line_without_newline() {
        let text = "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}";
        assert!(feed_in_pieces(Scanner::sse(), text, 6).is_some());
    }

    /// Found beside the fuzz crashes in the codecs' usage arithmetic: Gemini's candidates plus
    /// thoughts overflowed in the scanner of every relayed reply.
    #[test]
    fn huge_gemini_counts_saturate() {
        let text = "data: {\"usageMetadata\":{\"candidatesTokenCount\":18446744073709551615,\"thoughtsTokenCount\":2}}\n\n";
        assert_eq!(
            feed_in_pieces(Scanner::sse(), text, 7).map(|t| t.output),
            Some(u64::MAX)
        );
    }

    #[test]
    fn usage_prefilter() {
        assert!(has_usage_object(b"{\"usage\" :  {\"a\":1}}"));
        assert!(has_usage_object(b"{\"usageMetadata\":{}}"));
        assert!(!has_usage_object(b"{\"usage\":null}"));
        assert!(!has_usage_object(b"{\"usages\":{}}"));
        assert!(has_usage_object(b"{\"usage\":null,\"x\":{\"usage\":{}}}"));
    }
}
