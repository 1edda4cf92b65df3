//! Whole events only, for the relay of a dialect whose own error event must follow on from
//! what was relayed (`Dialect::watches_relay`: Responses). An upstream cut in the middle of
//! an event would otherwise leave the client a partial event, closed by the relay's line ends
//! and so dispatched, which a strict SDK fails to parse before it sees `response.failed`.
//! [`WholeEvents`] passes each chunk on up to its last event boundary (the chunk itself, not a
//! copy, when it ends on one, as upstreams' chunks usually do) and holds the unfinished tail
//! until the next chunk completes it. A stream that ends cleanly gets its tail as it was; a cut
//! one drops it, so the error event follows whole events.
//!
//! Used by `server::relay::Relay` only; what a boundary is follows the SSE spec: an empty
//! line, with `\r\n`, `\n` or `\r` as line ends.

use bytes::{Bytes, BytesMut};

/// The held tail is given up (passed on as it is) past this: the SSE parsers' own limit on one
/// event (`protocol::sse::DEFAULT_MAX_EVENT_BYTES`), so that an upstream that never ends an
/// event cannot make the relay buffer without bound.
const MAX_HELD: usize = crate::protocol::sse::DEFAULT_MAX_EVENT_BYTES;

/// The bytes after the last event boundary relayed so far. Kept in one growing buffer, so an
/// event that arrives in many small chunks is copied once, not once per chunk.
#[derive(Debug, Default)]
pub(crate) struct WholeEvents {
    held: BytesMut,
}

impl WholeEvents {
    /// What of `chunk` (after the held bytes) to relay now: everything up to its last event
    /// boundary. `None` when no event ends in it yet (all of it is held).
    pub fn feed(&mut self, chunk: Bytes) -> Option<Bytes> {
        if self.held.is_empty() {
            return match last_boundary(&chunk) {
                Some(end) if end == chunk.len() => Some(chunk),
                Some(end) => {
                    self.held.extend_from_slice(&chunk[end..]);
                    Some(chunk.slice(..end))
                }
                None => {
                    self.held.extend_from_slice(&chunk);
                    None
                }
            };
        }
        // An event split across chunks. A boundary ends past the held bytes (they hold none),
        // so the search starts just before them.
        let from = self.held.len().saturating_sub(3);
        self.held.extend_from_slice(&chunk);
        match self.held.get(from..).and_then(last_boundary) {
            Some(end) => Some(self.held.split_to(from + end).freeze()),
            None if self.held.len() > MAX_HELD => Some(self.held.split().freeze()),
            None => None,
        }
    }

    /// The held bytes at the end of a stream that ended without closing its last event: they
    /// are relayed as the upstream sent them.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.held.is_empty()).then(|| self.held.split().freeze())
    }
}

/// The end of the last empty line in `buf` (two line ends in a row), if any. Searched from the
/// end, so a chunk that ends on a boundary costs a couple of byte compares.
fn last_boundary(buf: &[u8]) -> Option<usize> {
    let mut end = buf.len();
    loop {
        let last = memchr::memrchr2(b'\n', b'\r', buf.get(..end)?)?;
        // The line end that finishes at `last`: `\r\n` counts as one.
        let start = if buf[last] == b'\n' && last > 0 && buf[last - 1] == b'\r' {
            last - 1
        } else {
            last
        };
        // Another line end right before it: the line it ends is empty.
        if start > 0 && matches!(buf[start - 1], b'\n' | b'\r') {
            return Some(last + 1);
        }
        end = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(last_boundary(b"data: a\n\n"), Some(9));
        assert_eq!(last_boundary(b"data: a\r\n\r\n"), Some(11));
        assert_eq!(last_boundary(b"data: a\r\r"), Some(9));
        assert_eq!(last_boundary(b"data: a\n\r\n"), Some(10));
        assert_eq!(last_boundary(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(last_boundary(b"data: a\n\ndata: b\n"), Some(9));
        assert_eq!(last_boundary(b"event: x\r\ndata: b\r\n"), None);
        assert_eq!(last_boundary(b"data: a\n"), None);
        assert_eq!(last_boundary(b"\n"), None);
        assert_eq!(last_boundary(b""), None);
    }

    fn fed(chunks: &[&[u8]]) -> (Vec<u8>, Vec<usize>, WholeEvents) {
        let mut w = WholeEvents::default();
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for c in chunks {
            if let Some(b) = w.feed(Bytes::copy_from_slice(c)) {
                sizes.push(b.len());
                out.extend_from_slice(&b);
            }
        }
        (out, sizes, w)
    }

    #[test]
    fn whole_chunks_pass_as_they_are() {
        let mut w = WholeEvents::default();
        let chunk = Bytes::from_static(b"event: a\ndata: {}\n\n");
        let out = w.feed(chunk.clone()).unwrap();
        assert_eq!(out.as_ptr(), chunk.as_ptr(), "the same bytes, not a copy");
        assert_eq!(w.finish(), None);
    }

    #[test]
    fn only_whole_events_go_out_in_any_chunking() {
        let stream: &[u8] =
            b"event: a\ndata: {\"n\":1}\n\nevent: b\r\ndata: {\"n\":2}\r\n\r\nevent: c\ndata: {\"n\":3}\n\n";
        for size in 1..stream.len() {
            let chunks: Vec<&[u8]> = stream.chunks(size).collect();
            let (out, sizes, mut w) = fed(&chunks);
            assert_eq!(out, stream, "chunks of {size}");
            assert_eq!(w.finish(), None);
            // Every piece that went out ended an event.
            let mut at = 0;
            for s in sizes {
                at += s;
                assert!(
                    last_boundary(&stream[..at]) == Some(at),
                    "size {size}, at {at}"
                );
            }
        }
    }

    /// An event in many one-byte chunks: each chunk is copied once (the buffer grows), and the
    /// event goes out whole when its boundary arrives.
    #[test]
    fn a_long_event_in_tiny_chunks_goes_out_once_whole() {
        let mut event = b"data: ".to_vec();
        event.extend(std::iter::repeat_n(b'x', 100_000));
        event.extend_from_slice(b"\n\n");
        let chunks: Vec<&[u8]> = event.chunks(1).collect();
        let (out, sizes, mut w) = fed(&chunks);
        assert_eq!(sizes, [event.len()]);
        assert_eq!(out, event);
        assert_eq!(w.finish(), None);
    }

    #[test]
    fn a_cut_keeps_the_partial_event_and_a_clean_end_passes_it_on() {
        let (out, _, mut w) = fed(&[b"event: a\ndata: {}\n\nevent: b\nda", b"ta: {\"x\":"]);
        assert_eq!(out, b"event: a\ndata: {}\n\n");
        assert_eq!(w.finish().as_deref(), Some(&b"event: b\ndata: {\"x\":"[..]));
        assert_eq!(w.finish(), None);
    }
}
