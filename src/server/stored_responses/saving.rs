//! The request's side of stored replies: [`prepare`] expands a request's
//! `previous_response_id` into its `input` and says what saving its reply takes ([`Saving`]);
//! [`keep_relayed`] reads a fast-path reply on its way out ([`Tee`]) so that it is saved too,
//! naming the response it continued ([`echo_previous`]). Saving itself is `super::save`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Response, header};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, SizeHint};
use serde_json::value::RawValue;

use super::{NewResponse, history, input_items, save};
use crate::server::Body;
use crate::server::body::BoxError;
use crate::server::error::GatewayError;
use crate::server::fast_body::JsonBody;
use crate::server::state::State;
use crate::store::records::UnixTime;

/// What saving one request's reply takes (`store` not `false`): made by [`prepare`], fed the
/// whole reply ([`Saving::whole`]) or the stream's bytes as they go out ([`Saving::tap`]).
#[derive(Clone)]
pub(crate) struct Saving {
    state: Arc<State>,
    owner: String,
    previous: Option<String>,
    /// The request's own `input`, as JSON (what `input_items` lists).
    input_json: String,
    /// A stream's bytes since its last whole line.
    line: Vec<u8>,
    saved: bool,
}

/// For a request to `POST /v1/responses`: the body with the stored history of its
/// `previous_response_id` put before its own `input` (`None`: the body is unchanged), and what
/// saving its reply takes (`None`: `store: false`, Codex's way, which costs two field lookups
/// and nothing else). The field stays in the body, for the reply's echo; it never reaches an
/// upstream (the history is in `input` now): a Responses upstream's encoder drops it, and the
/// fast path sends it as `null` (the codec's `FAST_PATH_CLEARS`, applied by
/// `fast_body::JsonBody::rewrite`).
pub(crate) async fn prepare(
    state: &Arc<State>,
    owner: &str,
    json: &JsonBody<'_>,
) -> Result<(Option<Bytes>, Option<Saving>), GatewayError> {
    let store = json.get("store")?.is_none_or(|v| v.get() != "false");
    let previous = match json.get("previous_response_id")? {
        Some(v) => serde_json::from_str::<Option<String>>(v.get()).map_err(|_| {
            GatewayError::invalid(
                "previous_response_id",
                "`previous_response_id` must be a string",
            )
        })?,
        None => None,
    };
    if !store && previous.is_none() {
        return Ok((None, None));
    }
    let input_json = json.get("input")?.map_or("[]", |v| v.get()).to_owned();
    let saving = store.then(|| Saving {
        state: Arc::clone(state),
        owner: owner.to_owned(),
        previous: previous.clone(),
        input_json: input_json.clone(),
        line: Vec::new(),
        saved: false,
    });
    let Some(previous) = previous else {
        return Ok((None, saving));
    };
    let mut items = history(state, owner, &previous).await?;
    items.extend(
        input_items(&input_json).map_err(|e| GatewayError::invalid("input", e.to_string()))?,
    );
    let mut body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json.raw()).map_err(|e| GatewayError::invalid("", e.to_string()))?;
    let input = serde_json::to_value(&items)
        .map_err(|e| GatewayError::internal("expanding previous_response_id", &e))?;
    body.insert("input".to_owned(), input);
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| GatewayError::internal("expanding previous_response_id", &e))?;
    Ok((Some(Bytes::from(bytes)), saving))
}

#[derive(serde::Deserialize)]
struct Head {
    id: String,
    #[serde(default)]
    created_at: UnixTime,
}

#[derive(serde::Deserialize)]
struct Terminal<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    response: &'a RawValue,
}

/// `response` naming `previous` as the response it continued, when it does not already (a
/// Responses upstream's reply, relayed, says `null`: it was sent the whole history instead).
fn echo_previous(response: &[u8], previous: &str) -> Option<Vec<u8>> {
    let mut m: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(response).ok()?;
    if m.get("previous_response_id")
        .is_some_and(serde_json::Value::is_string)
    {
        return None;
    }
    m.insert(
        "previous_response_id".to_owned(),
        serde_json::Value::String(previous.to_owned()),
    );
    serde_json::to_vec(&m).ok()
}

impl Saving {
    /// Saves `response`, the response object the client got.
    pub(crate) fn whole(&self, response: &[u8]) {
        let echoed = self
            .previous
            .as_deref()
            .and_then(|p| echo_previous(response, p));
        let response = echoed.as_deref().unwrap_or(response);
        let Ok(head) = serde_json::from_slice::<Head>(response) else {
            tracing::warn!("not storing a response without an id");
            return;
        };
        save(
            &self.state,
            NewResponse {
                owner: &self.owner,
                id: &head.id,
                previous_response_id: self.previous.as_deref(),
                input_json: &self.input_json,
                response_json: response,
                created_at: head.created_at,
            },
        );
    }

    /// Reads a stream's outgoing bytes; saves the `response` of its terminal event
    /// (`response.completed`, `.incomplete` or `.failed`) when it passes.
    pub(crate) fn tap(&mut self, chunk: &[u8]) {
        if self.saved {
            return;
        }
        self.line.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(n) = self.line[start..].iter().position(|&b| b == b'\n') {
            let line = &self.line[start..start + n];
            start += n + 1;
            let Some(data) = line.strip_prefix(b"data: ") else {
                continue;
            };
            // Only the terminal events carry these words in their type; a text delta quoting
            // them fails the parse's type test below.
            let terminal = [
                &b"response.completed"[..],
                b"response.incomplete",
                b"response.failed",
            ]
            .iter()
            .any(|t| data.windows(t.len()).any(|w| w == *t));
            if !terminal {
                continue;
            }
            if let Ok(ev) = serde_json::from_slice::<Terminal<'_>>(data)
                && matches!(
                    ev.kind,
                    "response.completed" | "response.incomplete" | "response.failed"
                )
            {
                let response = ev.response.get().as_bytes().to_vec();
                self.saved = true;
                self.line = Vec::new();
                self.whole(&response);
                return;
            }
        }
        self.line.drain(..start);
    }
}

/// The most of a relayed whole reply read to keep it (the pipeline reads no more of a reply).
const MAX_KEPT_BYTES: usize = 64 * 1024 * 1024;

/// `resp`, a Responses upstream's reply relayed untouched (the fast path), with its body read
/// on the way out to keep it when `saving` (the request's `store`) says so: a stream's terminal
/// event, or the whole JSON object once all of it went out. Without `saving`, or for an error
/// status, `resp` as it is. Called from the pipeline's relay of untouched replies.
pub(crate) fn keep_relayed(saving: Option<&Saving>, resp: Response<Body>) -> Response<Body> {
    let Some(saving) = saving else {
        return resp;
    };
    if !resp.status().is_success() {
        return resp;
    }
    let sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let saving = saving.clone();
    resp.map(|inner| {
        Tee {
            inner,
            saving,
            sse,
            whole: Vec::new(),
            done: false,
        }
        .boxed_unsync()
    })
}

/// A relayed reply's body, read as it goes out by [`keep_relayed`].
struct Tee {
    inner: Body,
    saving: Saving,
    sse: bool,
    /// A whole reply's bytes so far.
    whole: Vec<u8>,
    /// The whole reply was kept, or is not to be (too large).
    done: bool,
}

impl Tee {
    /// Keeps a whole reply once it went out: at its end, or when the server drops the body
    /// after its `content-length` without polling for the end.
    fn finish(&mut self) {
        if self.sse || self.done {
            return;
        }
        self.done = true;
        let whole = std::mem::take(&mut self.whole);
        // A reply cut short (the client left) is no response to keep.
        if serde_json::from_slice::<serde::de::IgnoredAny>(&whole).is_ok() {
            self.saving.whole(&whole);
        }
    }
}

impl hyper::body::Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    if this.sse {
                        this.saving.tap(d);
                    } else if !this.done {
                        if this.whole.len() + d.len() > MAX_KEPT_BYTES {
                            this.done = true;
                            this.whole = Vec::new();
                        } else {
                            this.whole.extend_from_slice(d);
                        }
                    }
                }
            }
            Poll::Ready(None) => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_kept_reply_names_the_response_it_continued() {
        let echoed = echo_previous(br#"{"id":"r2","previous_response_id":null}"#, "r1").unwrap();
        let v: Value = serde_json::from_slice(&echoed).unwrap();
        assert_eq!(v["previous_response_id"], "r1");
        assert_eq!(v["id"], "r2");
        assert!(echo_previous(br#"{"id":"r2","previous_response_id":"r1"}"#, "r1").is_none());
        assert!(echo_previous(b"not json", "r1").is_none());
    }

    #[tokio::test]
    async fn a_stream_is_saved_from_its_terminal_event_split_across_chunks() {
        let f = fixture();
        let mut saving = Saving {
            state: Arc::clone(&f.state),
            owner: "alice".into(),
            previous: None,
            input_json: r#""hi""#.into(),
            line: Vec::new(),
            saved: false,
        };
        let delta = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"say response.completed\"}\n\n";
        saving.tap(delta.as_bytes());
        assert!(
            f.responses.lock_pending().is_empty(),
            "a delta naming the event"
        );
        let done = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":5,\"response\":{\"id\":\"resp_s1\",\"created_at\":7,\"output\":[]}}\n\n";
        let (a, b) = done.split_at(40);
        saving.tap(a.as_bytes());
        assert!(f.responses.lock_pending().is_empty());
        saving.tap(b.as_bytes());
        let record = f.responses.lookup("resp_s1", "alice").unwrap().unwrap();
        assert_eq!(record.created_at, 7);
        assert_eq!(
            record.response.get(),
            r#"{"id":"resp_s1","created_at":7,"output":[]}"#
        );
        assert!(f.responses.lookup("resp_s1", "bob").unwrap().is_none());
    }
}
