//! Whether an upstream's reply is what the client asked for, judged before its first byte goes
//! to the client from the head and the first body chunk only (the fast path relays the rest
//! untouched, with no cost per chunk): a JSON body for a whole reply (and for Gemini's
//! `:streamGenerateContent` without `alt=sse`, a JSON array), an event stream labelled
//! `text/event-stream` for a stream. A reply that is not is the upstream's failure, like a 5xx:
//! the next candidate's turn, or a 502 in the client's shape.

use http::{HeaderMap, HeaderValue, header};

use crate::upstream::adapter::plain_text;

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// One JSON value: a whole reply, or Gemini's JSON-array stream.
    Json,
    /// Server-sent events.
    Sse,
}

/// What the first chunk says about the body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// What was asked for, or too little to tell: relayed.
    Fits,
    /// One JSON object where a stream was asked for (servers that ignore `stream`, or an error
    /// sent with a 200): read whole, then replayed as a stream or answered as an error.
    WholeJson,
    /// Something else; says what, for the error message.
    Wrong(String),
}

/// The shape of a body whose first chunk is `first` (`None`: the body is empty).
pub(crate) fn body(expect: Expect, first: Option<&[u8]>) -> Shape {
    let Some(first) = first else {
        return Shape::Wrong("an empty body".into());
    };
    // JSON may open with a byte-order mark (RFC 8259 lets a parser ignore it), as may SSE
    // (`begins_like_sse` skips it).
    let body = match expect {
        Expect::Json => without_bom(first),
        Expect::Sse => first,
    };
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        // Blank so far: the next chunk would tell, and it is not waited for.
        return Shape::Fits;
    };
    match expect {
        Expect::Json if matches!(body[start], b'{' | b'[') => Shape::Fits,
        Expect::Json => Shape::Wrong(format!("a body that is not JSON{}", quoted(first))),
        Expect::Sse if body[start] == b'{' => Shape::WholeJson,
        Expect::Sse if begins_like_sse(first) => Shape::Fits,
        Expect::Sse => Shape::Wrong(format!(
            "a body that is not an event stream{}",
            quoted(first)
        )),
    }
}

/// Whether the body is compressed (`content-encoding` other than `identity`): its bytes say
/// nothing about its shape. The gateway asks for none, but a server may compress anyway; the
/// client, which gets the header too, decodes it.
pub(crate) fn encoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

/// For a stream: whether the reply is labelled as one (`Err`: what it is labelled instead).
pub(crate) fn stream_label(content_type: Option<&HeaderValue>) -> Result<(), String> {
    let label = content_type.map(|v| String::from_utf8_lossy(v.as_bytes()));
    match &label {
        Some(l) if is_event_stream(l) => Ok(()),
        Some(l) => Err(format!(
            "`{}` where an event stream (`text/event-stream`) was asked for",
            plain_text::gist(l.as_bytes())
        )),
        None => Err("no content type where an event stream was asked for".into()),
    }
}

/// Whether an error body is JSON (then it is relayed as it is): its first chunk opens an
/// object or an array, or is blank so far.
pub(crate) fn is_json(first: Option<&[u8]>) -> bool {
    first.is_some_and(|f| {
        without_bom(f)
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_none_or(|b| matches!(b, b'{' | b'['))
    })
}

fn without_bom(chunk: &[u8]) -> &[u8] {
    chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk)
}

/// Whether a `content-type` names an event stream (media types are case-insensitive).
pub(crate) fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// Whether `chunk` can open an event stream: after a byte-order mark and blank lines, a comment
/// or a field the SSE grammar defines (`data`, `event`, `id`, `retry`), possibly cut short by
/// the chunk's end.
fn begins_like_sse(chunk: &[u8]) -> bool {
    const FIELDS: [&[u8]; 4] = [b"data", b"event", b"id", b"retry"];
    let chunk = without_bom(chunk);
    let start = chunk
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(chunk.len());
    let line = &chunk[start..];
    if line.is_empty() || line[0] == b':' {
        return true;
    }
    FIELDS.iter().any(|field| match line.get(field.len()) {
        // The chunk ends inside the field name.
        None => field.starts_with(line),
        Some(after) => line.starts_with(field) && matches!(after, b':' | b'\r' | b'\n'),
    })
}

/// `: "the gist"` of a body's start, or nothing when it holds no text.
fn quoted(first: &[u8]) -> String {
    let gist = plain_text::gist(first);
    if gist.is_empty() {
        String::new()
    } else {
        format!(": \"{gist}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replies() {
        assert_eq!(body(Expect::Json, Some(b"{\"id\":1}")), Shape::Fits);
        assert_eq!(body(Expect::Json, Some(b"\n [{\"c\":1}")), Shape::Fits);
        assert_eq!(body(Expect::Json, Some(b"  \n")), Shape::Fits);
        assert_eq!(
            body(Expect::Json, None),
            Shape::Wrong("an empty body".into())
        );
        assert_eq!(
            body(
                Expect::Json,
                Some(b"<html><h1>Welcome to nginx!</h1></html>")
            ),
            Shape::Wrong("a body that is not JSON: \"Welcome to nginx!\"".into())
        );
        assert_eq!(
            body(Expect::Json, Some(b"data: {}\n\n")),
            Shape::Wrong("a body that is not JSON: \"data: {}\"".into())
        );
    }

    #[test]
    fn json_may_open_with_a_byte_order_mark() {
        assert_eq!(
            body(Expect::Json, Some(b"\xEF\xBB\xBF{\"id\":1}")),
            Shape::Fits
        );
        assert_eq!(body(Expect::Json, Some(b"\xEF\xBB\xBF\n [1]")), Shape::Fits);
        assert!(is_json(Some(b"\xEF\xBB\xBF{\"error\":{}}")));
        assert!(matches!(
            body(Expect::Json, Some(b"\xEF\xBB\xBF<html>")),
            Shape::Wrong(_)
        ));
    }

    #[test]
    fn stream_replies() {
        for ok in [
            &b"data: {}\n\n"[..],
            b"event: message_start\ndata: {}\n\n",
            b"\xEF\xBB\xBFdata: x\n\n",
            b"\r\n: keep-alive\r\n\r\n",
            b"id: 1\n",
            b"retry: 10\n",
            b"dat",
            b"data",
            b"data\n\n",
            b"\n",
        ] {
            assert_eq!(
                body(Expect::Sse, Some(ok)),
                Shape::Fits,
                "{}",
                String::from_utf8_lossy(ok)
            );
        }
        assert_eq!(
            body(Expect::Sse, Some(b" {\"choices\":[]}")),
            Shape::WholeJson
        );
        for bad in [
            &b"<html>502</html>"[..],
            b"[{\"candidates\":[]}]",
            b"database error",
            b"identity",
            b"  data: x",
        ] {
            assert!(
                matches!(body(Expect::Sse, Some(bad)), Shape::Wrong(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            body(Expect::Sse, None),
            Shape::Wrong("an empty body".into())
        );
    }

    #[test]
    fn stream_labels() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(stream_label(Some(&v("text/event-stream"))).is_ok());
        assert!(stream_label(Some(&v("Text/Event-Stream; charset=utf-8"))).is_ok());
        assert_eq!(
            stream_label(Some(&v("text/html"))),
            Err("`text/html` where an event stream (`text/event-stream`) was asked for".into())
        );
        assert!(stream_label(None).is_err());
    }

    #[test]
    fn compressed_bodies() {
        let mut h = HeaderMap::new();
        assert!(!encoded(&h));
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!encoded(&h));
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(encoded(&h));
    }

    #[test]
    fn json_error_bodies() {
        assert!(is_json(Some(b"{\"error\":{}}")));
        assert!(is_json(Some(b"[{\"error\":{}}]")));
        assert!(is_json(Some(b"\n")));
        assert!(!is_json(Some(b"<html>")));
        assert!(!is_json(Some(b"upstream connect error")));
        assert!(!is_json(None));
    }
}
