//! The end of a relayed Responses stream that the upstream cut short. The same-dialect fast
//! path passes the upstream's events through untouched, so the event that ends it must follow
//! on from them (reference §4.1): `response.failed`, numbered one after the last
//! `sequence_number` relayed, repeating the `Response` of the stream's `response.created`. The
//! relay sends whole events only (`server::whole_events`), so the chunks seen here end on an
//! event boundary and an event cut by the upstream is never counted or shown to the client.
//!
//! [`watch`] runs on every relayed chunk, so it only looks: a reverse substring search for the
//! last `"sequence_number":` (a JSON string cannot hold that byte sequence unescaped, so text
//! never matches), a few dozen bytes kept to find one split across chunks, and the first event
//! kept until it ends (then no more). Parsing happens only in [`failed`], once, on the error
//! path.

use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};
use serde_json::{Value, json};

use super::ReplyContext;
use super::error::failed_error;
use super::response::{now_secs, response_id, snapshot};
use crate::protocol::codec::RelayTrail;
use crate::protocol::ir::ApiError;

const SEQ_KEY: &[u8] = b"\"sequence_number\":";
/// The key, a few spaces and the longest `u64`: a split key and number fit in this.
const TAIL: usize = SEQ_KEY.len() + 4 + 20;
/// A first event longer than this is not kept (`response.created` is a few hundred bytes plus
/// the echoed `instructions`).
const MAX_HEAD: usize = 256 * 1024;

static SEQ: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(SEQ_KEY));
static LF2: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
static CRLF2: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\r\n\r\n"));

/// Notes `chunk` of a relayed stream in `trail`.
pub(super) fn watch(chunk: &[u8], trail: &mut RelayTrail) {
    if !trail.head_done {
        let from = trail.head.len().saturating_sub(3);
        trail.head.extend_from_slice(chunk);
        let rest = &trail.head[from..];
        let end = LF2
            .find(rest)
            .map(|i| i + 2)
            .into_iter()
            .chain(CRLF2.find(rest).map(|i| i + 4))
            .min();
        if let Some(end) = end {
            trail.head.truncate(from + end);
            trail.head_done = true;
        } else if trail.head.len() > MAX_HEAD {
            trail.head = Vec::new();
            trail.head_done = true;
        }
    }
    // A key or number split at the last boundary: the old tail and this chunk's start.
    let mut seen = trail.last_seq;
    let head = chunk.len().min(TAIL);
    trail.tail.extend_from_slice(&chunk[..head]);
    seen = seen.max(last_seq(&trail.tail));
    seen = seen.max(last_seq(chunk));
    trail.last_seq = seen;
    if chunk.len() >= TAIL {
        trail.tail.clear();
        trail.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
    } else {
        // The tail now holds the old tail and the whole chunk.
        let excess = trail.tail.len().saturating_sub(TAIL);
        trail.tail.drain(..excess);
    }
}

/// The number after the last `"sequence_number":` in `buf` that is whole (followed by
/// something other than a digit); an earlier one if the last runs to the end of `buf`.
fn last_seq(buf: &[u8]) -> Option<u64> {
    let mut end = buf.len();
    while let Some(at) = SEQ.rfind(&buf[..end]) {
        let rest = &buf[at + SEQ_KEY.len()..];
        let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && digits < rest.len() {
            return std::str::from_utf8(&rest[..digits]).ok()?.parse().ok();
        }
        end = at;
    }
    None
}

/// The events that end a relayed stream with `err`: `response.failed` after the last event
/// seen, preceded by `response.created` when the stream had none yet (the SDKs need it first).
pub(super) fn failed(err: &ApiError, trail: &RelayTrail, out: &mut Vec<u8>) {
    let created = trail
        .head_done
        .then(|| head_response(&trail.head))
        .flatten();
    let mut seq = trail.last_seq.map_or(0, |s| s + 1);
    let mut response = match created {
        Some(r) => r,
        None => {
            let r = snapshot(
                &response_id(""),
                now_secs(),
                "",
                "in_progress",
                &[],
                None,
                Value::Null,
                Value::Null,
                &ReplyContext::default(),
            );
            if trail.last_seq.is_none() {
                frame(out, "response.created", seq, json!({ "response": r }));
                seq += 1;
            }
            r
        }
    };
    response["status"] = json!("failed");
    response["error"] = failed_error(err);
    frame(out, "response.failed", seq, json!({ "response": response }));
}

/// The `Response` object of a `response.created` event.
fn head_response(head: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(head).ok()?;
    let data: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect::<Vec<_>>()
        .join("\n");
    let mut v: Value = serde_json::from_str(&data).ok()?;
    if v["type"] != "response.created" {
        return None;
    }
    let r = v.get_mut("response")?.take();
    r.is_object().then_some(r)
}

fn frame(out: &mut Vec<u8>, kind: &str, seq: u64, fields: Value) {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("sequence_number".into(), json!(seq));
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, &m).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::ErrorKind;

    fn watched(chunks: &[&[u8]]) -> RelayTrail {
        let mut t = RelayTrail::default();
        for c in chunks {
            watch(c, &mut t);
        }
        t
    }

    const CREATED: &[u8] = b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_up\",\"object\":\"response\",\"created_at\":5,\"status\":\"in_progress\",\"model\":\"gpt-x\",\"output\":[]}}\n\n";
    const DELTA: &[u8] = b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":17,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"\\\"sequence_number\\\":99\",\"logprobs\":[]}\n\n";

    #[test]
    fn the_last_sequence_number_is_found_in_any_chunking() {
        let whole: Vec<u8> = [CREATED, DELTA].concat();
        for size in [1, 2, 3, 7, 19, 64, whole.len()] {
            let chunks: Vec<&[u8]> = whole.chunks(size).collect();
            let t = watched(&chunks);
            assert_eq!(t.last_seq, Some(17), "chunks of {size}");
            assert!(t.head_done);
            assert_eq!(t.head, CREATED, "chunks of {size}");
            assert!(t.tail.len() <= TAIL);
        }
        assert_eq!(last_seq(b"\"sequence_number\": 12,"), Some(12));
        assert_eq!(last_seq(b"\"sequence_number\":12"), None, "may go on");
    }

    #[test]
    fn failed_follows_on_from_the_relayed_events() {
        let t = watched(&[CREATED, DELTA]);
        let mut err = ApiError::new(429, ErrorKind::RateLimit, "Slow down.");
        err.retry_after_secs = Some(3);
        let mut out = Vec::new();
        failed(&err, &t, &mut out);
        let text = String::from_utf8(out).unwrap();
        let data = text
            .strip_prefix("event: response.failed\ndata: ")
            .and_then(|d| d.strip_suffix("\n\n"))
            .expect(&text);
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], "response.failed");
        assert_eq!(v["sequence_number"], 18);
        assert_eq!(v["response"]["id"], "resp_up");
        assert_eq!(v["response"]["model"], "gpt-x");
        assert_eq!(v["response"]["status"], "failed");
        assert_eq!(v["response"]["error"]["code"], "rate_limit_exceeded");
        assert_eq!(
            v["response"]["error"]["message"],
            "Slow down. Please try again in 3s."
        );
    }

    #[test]
    fn a_stream_cut_before_its_first_event_still_opens_with_created() {
        let err = ApiError::new(502, ErrorKind::BadGateway, "cut");
        let mut out = Vec::new();
        failed(&err, &RelayTrail::default(), &mut out);
        let text = String::from_utf8(out).unwrap();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(names, ["response.created", "response.failed"], "{text}");
        assert!(text.contains("\"sequence_number\":1"), "{text}");
        assert!(text.contains("\"code\":\"server_error\""), "{text}");
    }
}
