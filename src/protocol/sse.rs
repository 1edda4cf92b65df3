//! Incremental Server-Sent Events framing: bytes in any chunking -> events, and events -> bytes.
//!
//! Every streaming codec sits on this: the upstream clients feed response body chunks into an
//! [`SseParser`] and hand the [`SseEvent`]s to a dialect's `StreamDecoder`; the dialects'
//! `StreamEncoder`s frame their output with [`write_event`]. It follows the WHATWG event-stream
//! rules the SDKs implement: `\n`, `\r\n` and `\r` line ends (a CR LF may be split across
//! chunks), `:` comment lines, `field:value` with one optional space after the colon, `data`
//! lines joined by `\n`, a leading byte-order mark ignored. `id` and `retry` are read and dropped.
//!
//! Lines are only decoded once complete, so a UTF-8 sequence split across chunks is never
//! mangled; a complete line is sliced straight out of the chunk when it can be, so the common
//! case copies each byte once.

/// One SSE event: the optional `event:` name and the joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The default cap on one event (its partial line plus its data so far).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event grew past the cap: the stream is malformed or hostile.
    #[error("SSE event larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// Turns a byte stream into events, whatever the chunk boundaries.
#[derive(Debug)]
pub struct SseParser {
    /// The incomplete line carried over from the previous chunk.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` opening the next one belongs to it.
    after_cr: bool,
    /// Whether the first bytes (a possible byte-order mark) have been looked at.
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    max_event_bytes: usize,
    /// After an oversized event: skip lines until the blank line that ends it.
    discarding: bool,
    /// The oversized line itself was dropped before its end: its end is not a blank line.
    in_dropped_line: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }

    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: None,
            data: String::new(),
            has_data: false,
            max_event_bytes,
            discarding: false,
            in_dropped_line: false,
        }
    }

    /// Feeds one chunk; complete events are appended to `out`. After an
    /// [`SseError::EventTooLarge`] the parser skips the rest of that event and carries on.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some((&b'\n', tail)) = rest.split_first() {
                rest = tail;
            }
        }
        if !self.started {
            // Wait for three bytes (or a mismatch) before deciding on a byte-order mark.
            self.line.extend_from_slice(rest);
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let n = self.line.len().min(3);
            if self.line[..n] != BOM[..n] {
                self.started = true;
            } else if n == 3 {
                self.started = true;
                self.line.drain(..3);
            } else {
                return Ok(());
            }
            let carried = std::mem::take(&mut self.line);
            return self.push_started(&carried, out);
        }
        self.push_started(rest, out)
    }

    fn push_started(&mut self, mut rest: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut result = Ok(());
        // memchr2 looks at a word at a time: a byte loop here cost more than the rest of
        // decoding a chunk.
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) {
            let (line, tail) = rest.split_at(pos);
            let terminator = tail[0];
            rest = &tail[1..];
            if terminator == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.in_dropped_line {
                self.in_dropped_line = false;
                continue;
            }
            let r = if self.line.is_empty() {
                self.take_line(line, out)
            } else {
                let mut carried = std::mem::take(&mut self.line);
                carried.extend_from_slice(line);
                let r = self.take_line(&carried, out);
                carried.clear();
                self.line = carried;
                r
            };
            if r.is_err() {
                result = r;
            }
        }
        if !rest.is_empty() && !self.in_dropped_line {
            self.line.extend_from_slice(rest);
            if self.line.len() + self.data.len() > self.max_event_bytes {
                self.line.clear();
                self.start_discarding();
                self.in_dropped_line = true;
                result = Err(self.too_large());
            }
        }
        result
    }

    /// Ends the stream: a last line without its terminator is taken, and an event that was not
    /// closed by a blank line is still delivered (servers that drop the final blank line exist).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut result = Ok(());
        if !self.started {
            self.started = true;
        }
        if !self.line.is_empty() {
            let carried = std::mem::take(&mut self.line);
            result = self.take_line(&carried, out);
        }
        self.dispatch(out);
        self.discarding = false;
        self.in_dropped_line = false;
        self.after_cr = false;
        result
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    fn start_discarding(&mut self) {
        self.discarding = true;
        self.event = None;
        self.data.clear();
        self.has_data = false;
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.discarding {
                self.discarding = false;
            } else {
                self.dispatch(out);
            }
            return Ok(());
        }
        if self.discarding || line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    self.start_discarding();
                    return Err(self.too_large());
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                push_utf8(&mut self.data, value);
            }
            b"event" => {
                let mut name = String::with_capacity(value.len());
                push_utf8(&mut name, value);
                self.event = Some(name);
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if !self.has_data && self.event.is_none() {
            return;
        }
        out.push(SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
        });
        self.has_data = false;
    }
}

fn push_utf8(into: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => into.push_str(s),
        Err(_) => into.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Appends one event: an `event:` line when named, one `data:` line per line of `data`, and the
/// blank line that ends it.
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        let (line, tail) = match rest.find(['\n', '\r']) {
            Some(i) => {
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..i], Some(&rest[i + skip..]))
            }
            None => (rest, None),
        };
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        match tail {
            Some(t) => rest = t,
            None => break,
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    const SAMPLE: &[u8] = "\u{FEFF}: comment line\r\n\
event: message_start\r\n\
data: {\"type\":\"message_start\",\"t\":\"héllo ✓ 𝄞\"}\r\n\
\r\n\
event:ping\n\
data:{\"type\":\"ping\"}\n\
id: 7\n\
retry: 10\n\
\n\
data: line one\r\
data: line two\r\
data:\r\
\r\
event: content_block_delta\n\
data:  two spaces\n\
unknownfield\n\
\n\
\n\
data: last without blank line"
        .as_bytes();

    fn expected_sample() -> Vec<SseEvent> {
        vec![
            ev(
                Some("message_start"),
                "{\"type\":\"message_start\",\"t\":\"héllo ✓ 𝄞\"}",
            ),
            ev(Some("ping"), "{\"type\":\"ping\"}"),
            ev(None, "line one\nline two\n"),
            ev(Some("content_block_delta"), " two spaces"),
            ev(None, "last without blank line"),
        ]
    }

    #[test]
    fn whole_sample() {
        assert_eq!(parse_all(&[SAMPLE]), expected_sample());
    }

    #[test]
    fn every_single_split_gives_the_same_events() {
        for i in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(i);
            assert_eq!(parse_all(&[a, b]), expected_sample(), "split at {i}");
        }
    }

    #[test]
    fn every_double_split_gives_the_same_events() {
        for i in 0..=SAMPLE.len() {
            for j in i..=SAMPLE.len() {
                let chunks = [&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]];
                assert_eq!(parse_all(&chunks), expected_sample(), "split at {i},{j}");
            }
        }
    }

    #[test]
    fn byte_at_a_time() {
        let chunks: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(parse_all(&chunks), expected_sample());
    }

    #[test]
    fn crlf_split_does_not_make_an_extra_blank_line() {
        // "data: a\r" | "\ndata: b\r\n\r\n" must be one event with two lines.
        let out = parse_all(&[b"data: a\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(out, vec![ev(None, "a\nb")]);
    }

    #[test]
    fn event_without_data_is_delivered_with_empty_data() {
        assert_eq!(parse_all(&[b"event: ping\n\n"]), vec![ev(Some("ping"), "")]);
        assert_eq!(parse_all(&[b"\n\n\n: only comments\n\n"]), vec![]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let out = parse_all(&[b"data: a\xFFb\n\n"]);
        assert_eq!(out, vec![ev(None, "a\u{FFFD}b")]);
    }

    #[test]
    fn oversized_event_is_an_error_and_parsing_resumes() {
        let mut p = SseParser::with_limit(16);
        let mut out = Vec::new();
        let err = p.push(b"data: 0123456789abcdefghij\n\n", &mut out);
        assert_eq!(err, Err(SseError::EventTooLarge { limit: 16 }));
        p.push(b"data: ok\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev(None, "ok")]);

        // An unterminated line that grows too large is caught before its end arrives.
        let mut p = SseParser::with_limit(16);
        let mut out = Vec::new();
        p.push(b"data: 0123456789", &mut out).unwrap();
        assert!(p.push(b"abcdef", &mut out).is_err());
        p.push(b"ghij\n", &mut out).unwrap();
        p.push(b"data: same event\n\ndata: ok\n\n", &mut out)
            .unwrap();
        assert_eq!(out, vec![ev(None, "ok")]);

        // Many data lines add up.
        let mut p = SseParser::with_limit(16);
        let mut out = Vec::new();
        assert!(
            p.push(b"data: 12345\ndata: 12345\ndata: 12345\n", &mut out)
                .is_err()
        );
    }

    #[test]
    fn write_then_parse_round_trips() {
        let mut buf = Vec::new();
        write_event(&mut buf, Some("message_delta"), "{\"a\":1}");
        write_event(&mut buf, None, "multi\nline\r\ndata\rhere");
        write_event(&mut buf, Some("ping"), "");
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            "event: message_delta\ndata: {\"a\":1}\n\ndata: multi\ndata: line\ndata: data\ndata: here\n\nevent: ping\ndata: \n\n"
        );
        assert_eq!(
            parse_all(&[&buf]),
            vec![
                ev(Some("message_delta"), "{\"a\":1}"),
                ev(None, "multi\nline\ndata\nhere"),
                ev(Some("ping"), ""),
            ]
        );
    }
}
