//! The Responses API's stored replies as the server serves them: [`save`] after a reply (no disk
//! on the request's path), [`history`] for `previous_response_id`, and the handlers of
//! `GET`/`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and
//! `POST /v1/responses/{id}/cancel` ([`endpoint`] and [`serve`] route them). The records live in
//! the store (`store::responses`).
//!
//! Replies are kept on both routes: a translated one as the gateway encodes it ([`Saving`], fed
//! by the pipeline's translation), a Responses upstream's relayed as it is (the fast path) by
//! [`keep_relayed`], which reads the body on its way out. Either way the kept object names the
//! `previous_response_id` it continued, as the reply to the client does on the translated route.
//!
//! [`StoredResponses`] holds what was saved and is not yet committed in memory, where lookups see
//! it at once (a client may chain the very next request on a reply); [`StoredResponses::run`]
//! commits it in batches on a blocking thread and prunes to `[responses]` in the same
//! transaction, and once an hour. A record leaves memory only after its commit, and deletes take
//! the same lock as commits, so a delete never races a commit into bringing a record back.
//!
//! Every stored reply belongs to the gateway key that created it: another key gets 404, as if it
//! did not exist. A server without a store ([`State`] built from a plain view, as tests do) keeps
//! nothing: saves are dropped and every id is not found.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, SizeHint};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Body;
use super::admit;
use super::body::BoxError;
use super::ctx::Ctx;
use super::error::{ErrorKind, GatewayError};
use super::fast_body::JsonBody;
use super::router::json_response;
use super::state::State;
use crate::config::file::ResponsesSection;
use crate::store::records::UnixTime;
use crate::store::responses::{self as stored, MAX_ID_LEN, StoredResponse};
use crate::store::{Store, StoreError};

/// How often stored replies are pruned when nothing is being written.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// After a failed commit, the wait before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Saved replies not yet committed, in front of the store.
pub struct StoredResponses {
    store: Store,
    pending: Mutex<FxHashMap<String, Arc<StoredResponse>>>,
    /// Held by a commit from taking its batch until the batch leaves `pending`, and by deletes.
    disk: tokio::sync::Mutex<()>,
    wake: Notify,
}

/// What [`save`] keeps of one reply.
pub struct NewResponse<'a> {
    /// The name of the gateway key the request came with (the admitted `ApiKeyRecord::name`).
    pub owner: &'a str,
    /// The response's `id`.
    pub id: &'a str,
    /// The request's `previous_response_id`.
    pub previous_response_id: Option<&'a str>,
    /// The request's `input` as JSON: a string, or the array of items.
    pub input_json: &'a str,
    /// The response object as the client got it (the final one of a stream).
    pub response_json: &'a [u8],
    /// The response's `created_at`.
    pub created_at: UnixTime,
}

impl StoredResponses {
    pub fn new(store: Store) -> Arc<StoredResponses> {
        Arc::new(StoredResponses {
            store,
            pending: Mutex::new(FxHashMap::default()),
            disk: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        })
    }

    /// Commits saves as they come and prunes hourly until `cancel` fires, then commits what is
    /// left. `limits` gives the `[responses]` bounds in force (they apply without a restart).
    pub async fn run(
        self: Arc<Self>,
        limits: impl Fn() -> ResponsesSection + Send + 'static,
        cancel: CancellationToken,
    ) {
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                // The first tick is at once: what aged out while the server was stopped goes.
                _ = prune.tick() => {}
                () = cancel.cancelled() => {
                    self.commit(&limits()).await;
                    return;
                }
            }
            if !self.commit(&limits()).await {
                tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER) => {}
                    () = cancel.cancelled() => {}
                }
                self.wake.notify_one();
            }
        }
    }

    /// Writes what is pending and prunes; whether the store took it.
    async fn commit(&self, limits: &ResponsesSection) -> bool {
        let _disk = self.disk.lock().await;
        let batch: Vec<(String, Arc<StoredResponse>)> = self
            .lock_pending()
            .iter()
            .map(|(id, r)| (id.clone(), Arc::clone(r)))
            .collect();
        let store = self.store.clone();
        let limits = limits.clone();
        let written = tokio::task::spawn_blocking(move || {
            let result = store.responses_put(&batch, &limits, now());
            (batch, result)
        })
        .await;
        match written {
            Ok((batch, Ok(removed))) => {
                let mut pending = self.lock_pending();
                for (id, _) in &batch {
                    pending.remove(id);
                }
                if removed > 0 {
                    tracing::debug!(removed, "pruned stored responses");
                }
                true
            }
            Ok((_, Err(e))) => {
                tracing::warn!("cannot write stored responses: {e}; will retry");
                false
            }
            Err(e) => {
                tracing::warn!("writing stored responses failed: {e}; will retry");
                false
            }
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, FxHashMap<String, Arc<StoredResponse>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `id` as `owner` may see it, pending or stored. Blocking (reads the database).
    fn lookup(&self, id: &str, owner: &str) -> Result<Option<Arc<StoredResponse>>, StoreError> {
        if let Some(r) = self.lock_pending().get(id) {
            return Ok((r.owner == owner).then(|| Arc::clone(r)));
        }
        // A record leaves `pending` only once committed: missing from both, it does not exist.
        Ok(self
            .store
            .responses_get(id)?
            .filter(|r| r.owner == owner)
            .map(Arc::new))
    }

    /// The chain of replies that ends at `id`, oldest first. Stops at the first link that is
    /// no longer stored, which [`Chain::missing`] names.
    fn chain(&self, id: &str, owner: &str) -> Result<Chain, StoreError> {
        let mut links = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(id.to_owned());
        let mut missing = None;
        while let Some(id) = next.take() {
            if !seen.insert(id.clone()) {
                break;
            }
            match self.lookup(&id, owner)? {
                Some(r) => {
                    next = r.previous_response_id.clone();
                    links.push((id, r));
                }
                None => missing = Some(id),
            }
        }
        links.reverse();
        Ok(Chain { links, missing })
    }
}

struct Chain {
    /// (id, record), oldest first.
    links: Vec<(String, Arc<StoredResponse>)>,
    missing: Option<String>,
}

fn now() -> UnixTime {
    crate::oauth::now()
}

/// Keeps a reply for later `previous_response_id`, `GET` and `input_items`. Returns at once:
/// the record is visible to lookups now and committed to disk shortly after, off the request's
/// path. Does nothing when `[responses]` keeps none, the server has no store, or the JSON is not
/// what a reply holds (logged).
pub fn save(state: &State, new: NewResponse<'_>) {
    let Some(responses) = state.responses() else {
        return;
    };
    let limits = state.config().responses.clone();
    if !stored::enabled(&limits) || new.id.is_empty() || new.id.len() > MAX_ID_LEN {
        return;
    }
    let input = match input_items(new.input_json) {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!(
                id = new.id,
                "not storing a response: its input is not JSON items: {e}"
            );
            return;
        }
    };
    let response = match serde_json::from_slice::<Box<RawValue>>(new.response_json) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(id = new.id, "not storing a response that is not JSON: {e}");
            return;
        }
    };
    let record = Arc::new(StoredResponse {
        owner: new.owner.to_owned(),
        created_at: new.created_at,
        previous_response_id: new.previous_response_id.map(str::to_owned),
        input,
        response,
    });
    {
        let mut pending = responses.lock_pending();
        pending.insert(new.id.to_owned(), record);
        // A store that keeps failing must not grow memory without bound: past the count the
        // store would keep, the oldest pending ones go (what pruning would drop anyway).
        let cap = usize::try_from(limits.max_stored).unwrap_or(usize::MAX);
        while pending.len() > cap {
            let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, r)| r.created_at)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            pending.remove(&oldest);
        }
    }
    responses.wake.notify_one();
}

/// The request's `input` as items: a string is one user message, as the Responses API reads it.
pub fn input_items(input_json: &str) -> Result<Vec<Box<RawValue>>, serde_json::Error> {
    match serde_json::from_str::<Vec<Box<RawValue>>>(input_json) {
        Ok(items) => Ok(items),
        Err(not_array) => {
            let Ok(text) = serde_json::from_str::<String>(input_json) else {
                return Err(not_array);
            };
            let message = serde_json::json!({
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            });
            Ok(vec![serde_json::value::to_raw_value(&message)?])
        }
    }
}

/// The whole conversation before a request that names `previous_response_id`, in order: the
/// earliest reply's input items, then its output items, then the next reply's, and so on up to
/// and including that reply's output. The request's own `input` goes after these. 400
/// `previous_response_not_found` when that reply, or one it continued, is not stored (or belongs
/// to another key).
pub async fn history(
    state: &State,
    owner: &str,
    previous_response_id: &str,
) -> Result<Vec<Box<RawValue>>, GatewayError> {
    let not_found = |id: &str| {
        let message = if id == previous_response_id {
            format!("Previous response with id '{id}' not found.")
        } else {
            format!(
                "Previous response with id '{previous_response_id}' continues response '{id}', \
                 which is no longer stored ([responses] max_age_days and max_stored in the \
                 gateway's config.toml bound what is kept)."
            )
        };
        GatewayError::invalid("previous_response_id", message)
            .with_code("previous_response_not_found")
    };
    let Some(responses) = state.responses().cloned() else {
        return Err(not_found(previous_response_id));
    };
    let (id, owner_name) = (previous_response_id.to_owned(), owner.to_owned());
    let chain = blocking(move || responses.chain(&id, &owner_name)).await?;
    if let Some(missing) = &chain.missing {
        return Err(not_found(missing));
    }
    let mut items = Vec::new();
    for (_, r) in &chain.links {
        items.extend(r.input.iter().cloned());
        items.extend(r.output_items());
    }
    Ok(items)
}

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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, GatewayError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(GatewayError::internal("reading stored responses", &e)),
        Err(e) => Err(GatewayError::internal("reading stored responses", &e)),
    }
}

/// The path that creates responses, whose dialect the stored-response routes answer in.
pub(crate) const CREATE_PATH: &str = "/v1/responses";

/// One of the stored-response routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    Get(&'a str),
    Delete(&'a str),
    InputItems(&'a str),
    Cancel(&'a str),
}

/// The stored-response route `method path` names, if any: `GET|DELETE /v1/responses/{id}`,
/// `GET /v1/responses/{id}/input_items`, `POST /v1/responses/{id}/cancel`. (`POST /v1/responses/input_tokens` and the like are
/// not these.)
pub(crate) fn endpoint<'a>(method: &Method, path: &'a str) -> Option<Endpoint<'a>> {
    let rest = path.strip_prefix("/v1/responses/")?;
    let (id, sub) = match rest.split_once('/') {
        Some((id, sub)) => (id, Some(sub)),
        None => (rest, None),
    };
    if id.is_empty() {
        return None;
    }
    match (method, sub) {
        (&Method::GET, None) => Some(Endpoint::Get(id)),
        (&Method::DELETE, None) => Some(Endpoint::Delete(id)),
        (&Method::GET, Some("input_items")) => Some(Endpoint::InputItems(id)),
        (&Method::POST, Some("cancel")) => Some(Endpoint::Cancel(id)),
        _ => None,
    }
}

/// Answers one of the stored-response routes (the key checked first, as everywhere).
pub(crate) async fn serve(
    ctx: &mut Ctx,
    parts: &http::request::Parts,
    endpoint: Endpoint<'_>,
) -> Result<Response<Body>, GatewayError> {
    match endpoint {
        Endpoint::Get(id) => {
            ctx.route = "responses_get";
            get(ctx, parts, id).await
        }
        Endpoint::Delete(id) => {
            ctx.route = "responses_delete";
            delete(ctx, parts, id).await
        }
        Endpoint::InputItems(id) => {
            ctx.route = "responses_input_items";
            input_items_list(ctx, parts, id).await
        }
        Endpoint::Cancel(id) => {
            ctx.route = "responses_cancel";
            cancel(ctx, parts, id).await
        }
    }
}

/// `POST /v1/responses/{id}/cancel`: what OpenAI answers for a response not created with
/// `background: true` (the gateway runs none in the background: the create refuses
/// `background`), 400 `invalid_request_error`; 404 for an id this key has not stored.
pub(crate) async fn cancel(
    ctx: &mut Ctx,
    parts: &http::request::Parts,
    id: &str,
) -> Result<Response<Body>, GatewayError> {
    let owner = owner_of(ctx, parts)?;
    find(ctx, &owner, id).await?;
    let mut e = GatewayError::invalid("", "Cannot cancel a synchronous response.");
    e.param = None;
    Err(e)
}

fn response_not_found(id: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::NotFound,
        format!("Response with id '{id}' not found."),
    )
}

fn owner_of(ctx: &Ctx, parts: &http::request::Parts) -> Result<String, GatewayError> {
    let snap = ctx.state.snapshot();
    Ok(admit::admit(ctx, &snap, parts)?.name.clone())
}

async fn find(ctx: &Ctx, owner: &str, id: &str) -> Result<Arc<StoredResponse>, GatewayError> {
    let Some(responses) = ctx.state.responses().cloned() else {
        return Err(response_not_found(id));
    };
    let (key, owner) = (id.to_owned(), owner.to_owned());
    blocking(move || responses.lookup(&key, &owner))
        .await?
        .ok_or_else(|| response_not_found(id))
}

/// `GET /v1/responses/{id}`: the response object as the client got it.
pub(crate) async fn get(
    ctx: &mut Ctx,
    parts: &http::request::Parts,
    id: &str,
) -> Result<Response<Body>, GatewayError> {
    let owner = owner_of(ctx, parts)?;
    let record = find(ctx, &owner, id).await?;
    Ok(json_response(
        StatusCode::OK,
        record.response.get().as_bytes().to_vec(),
    ))
}

#[derive(Serialize)]
struct Deleted<'a> {
    id: &'a str,
    object: &'static str,
    deleted: bool,
}

/// `DELETE /v1/responses/{id}`.
pub(crate) async fn delete(
    ctx: &mut Ctx,
    parts: &http::request::Parts,
    id: &str,
) -> Result<Response<Body>, GatewayError> {
    let owner = owner_of(ctx, parts)?;
    let Some(responses) = ctx.state.responses().cloned() else {
        return Err(response_not_found(id));
    };
    let deleted = {
        let _disk = responses.disk.lock().await;
        let was_pending = {
            let mut pending = responses.lock_pending();
            match pending.get(id) {
                Some(r) if r.owner == owner => pending.remove(id).is_some(),
                Some(_) => return Err(response_not_found(id)),
                None => false,
            }
        };
        let (key, who, store) = (id.to_owned(), owner.clone(), responses.store.clone());
        let on_disk = blocking(move || store.responses_delete(&key, &who)).await?;
        was_pending || on_disk
    };
    if !deleted {
        return Err(response_not_found(id));
    }
    let body = serde_json::to_vec(&Deleted {
        id,
        object: "response",
        deleted: true,
    })
    .unwrap_or_default();
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /v1/responses/{id}/input_items` query.
#[derive(Debug, PartialEq)]
struct ListQuery {
    after: Option<String>,
    before: Option<String>,
    limit: usize,
    descending: bool,
}

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

fn list_query(query: Option<&str>) -> Result<ListQuery, GatewayError> {
    let mut q = ListQuery {
        after: None,
        before: None,
        limit: DEFAULT_LIMIT,
        descending: false,
    };
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "after" => q.after = Some(v.into_owned()),
            "before" => q.before = Some(v.into_owned()),
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        GatewayError::invalid(
                            "limit",
                            format!(
                                "Invalid 'limit': {v:?}; expected an integer from 1 to {MAX_LIMIT}."
                            ),
                        )
                    })?;
            }
            "order" => {
                q.descending = match v.as_ref() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(GatewayError::invalid(
                            "order",
                            format!("Invalid 'order': {v:?}; expected 'asc' or 'desc'."),
                        ));
                    }
                };
            }
            // `include` and anything newer: nothing to add to items kept whole.
            _ => {}
        }
    }
    Ok(q)
}

#[derive(Serialize)]
struct ItemList {
    object: &'static str,
    data: Vec<Box<RawValue>>,
    first_id: Option<String>,
    last_id: Option<String>,
    has_more: bool,
}

/// `GET /v1/responses/{id}/input_items`: the items the response was generated from (the
/// conversation it continued, then its request's input), paged by item id. An item the client
/// sent without an `id` is listed with one made from the response's id and its place, the same
/// on every call.
pub(crate) async fn input_items_list(
    ctx: &mut Ctx,
    parts: &http::request::Parts,
    id: &str,
) -> Result<Response<Body>, GatewayError> {
    let owner = owner_of(ctx, parts)?;
    let query = list_query(parts.uri.query())?;
    let Some(responses) = ctx.state.responses().cloned() else {
        return Err(response_not_found(id));
    };
    let (key, who) = (id.to_owned(), owner.clone());
    let chain = blocking(move || responses.chain(&key, &who)).await?;
    // The last link is the response asked for; absent, it is not found. Links lost to pruning
    // before it only shorten the list.
    match chain.links.last() {
        Some((last, _)) if last == id => {}
        _ => return Err(response_not_found(id)),
    }
    let mut items: Vec<(String, Box<RawValue>)> = Vec::new();
    let n = chain.links.len();
    for (i, (rid, r)) in chain.links.iter().enumerate() {
        for (j, item) in r.input.iter().enumerate() {
            items.push((item_id(item, rid, "in", j), item.clone()));
        }
        // The asked-for response's own output is not one of its inputs.
        if i + 1 < n {
            for (j, item) in r.output_items().into_iter().enumerate() {
                items.push((item_id(&item, rid, "out", j), item));
            }
        }
    }
    let page = paginate(items, &query);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&page).unwrap_or_default(),
    ))
}

fn paginate(mut items: Vec<(String, Box<RawValue>)>, q: &ListQuery) -> ItemList {
    if q.descending {
        items.reverse();
    }
    let start = match &q.after {
        Some(after) => items
            .iter()
            .position(|(id, _)| id == after)
            .map_or(items.len(), |i| i + 1),
        None => 0,
    };
    let end = match &q.before {
        Some(before) => items.iter().position(|(id, _)| id == before).unwrap_or(0),
        None => items.len(),
    };
    let window: Vec<(String, Box<RawValue>)> = if start < end {
        items.drain(start..end).collect()
    } else {
        Vec::new()
    };
    // With only `before`, the page is the part just before it.
    let (skip, take) = if q.before.is_some() && q.after.is_none() {
        (window.len().saturating_sub(q.limit), q.limit)
    } else {
        (0, q.limit)
    };
    let has_more = window.len() > take;
    let page: Vec<(String, Box<RawValue>)> = window.into_iter().skip(skip).take(take).collect();
    ItemList {
        object: "list",
        first_id: page.first().map(|(id, _)| id.clone()),
        last_id: page.last().map(|(id, _)| id.clone()),
        has_more,
        data: page
            .into_iter()
            .map(|(id, item)| with_id(item, &id))
            .collect(),
    }
}

#[derive(serde::Deserialize)]
struct ItemHead {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// The item's own `id`, else one made from the response id, the side and the place.
fn item_id(item: &RawValue, response_id: &str, side: &str, place: usize) -> String {
    let head: Option<ItemHead> = serde_json::from_str(item.get()).ok();
    if let Some(id) = head.as_ref().and_then(|h| h.id.clone()) {
        return id;
    }
    let prefix = match head.and_then(|h| h.kind).as_deref() {
        Some("function_call_output") => "fco",
        Some("custom_tool_call_output") => "ctco",
        Some("function_call") => "fc",
        Some("reasoning") => "rs",
        _ => "msg",
    };
    let stem = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{stem}_{side}{place}")
}

/// `item` with `"id": id` when it has none (an object's first key), else as it is.
fn with_id(item: Box<RawValue>, id: &str) -> Box<RawValue> {
    let text = item.get();
    let has_id = serde_json::from_str::<ItemHead>(text)
        .map(|h| h.id.is_some())
        .unwrap_or(true);
    let Some(rest) = text.trim_start().strip_prefix('{') else {
        return item;
    };
    if has_id {
        return item;
    }
    let id_json = serde_json::to_string(id).unwrap_or_default();
    let sep = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    RawValue::from_string(format!("{{\"id\":{id_json}{sep}{rest}")).unwrap_or(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::file::SecretsBackend;
    use crate::server::state::View;
    use crate::store::keys;
    use crate::store::records::ApiKeyRecord;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        state: Arc<State>,
        responses: Arc<StoredResponses>,
        keys: Vec<String>,
    }

    fn key(name: &str) -> (String, ApiKeyRecord) {
        let (secret, prefix, hash) = keys::generate();
        let record = ApiKeyRecord {
            name: name.into(),
            prefix,
            hash,
            rpm: None,
            models: Vec::new(),
            enabled: true,
            revoked: false,
            created_at: 0,
            last_used_at: None,
        };
        (secret.expose().to_owned(), record)
    }

    fn state_with(store: Store, config: Config) -> (Arc<State>, Arc<StoredResponses>, Vec<String>) {
        let (a, ra) = key("alice");
        let (b, rb) = key("bob");
        let view = View {
            keys: vec![ra, rb],
            ..View::default()
        };
        let state = State::new(config, view).unwrap();
        let responses = StoredResponses::new(store);
        state.set_responses(Arc::clone(&responses));
        (state, responses, vec![a, b])
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let store = Store::open_at(&path, SecretsBackend::File).unwrap();
        let (state, responses, keys) = state_with(store, Config::default());
        Fixture {
            _dir: dir,
            path,
            state,
            responses,
            keys,
        }
    }

    /// Calls the route `method uri` with `key` straight through [`endpoint`] and [`serve`]:
    /// the status and the JSON body (errors rendered as a Responses client gets them).
    async fn call(state: &Arc<State>, method: Method, uri: &str, key: &str) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("authorization", format!("Bearer {key}"))
            .body(())
            .unwrap();
        let mut ctx = Ctx::new(Arc::clone(state), &req);
        let (parts, ()) = req.into_parts();
        let ep = endpoint(&method, parts.uri.path()).unwrap();
        let resp = match serve(&mut ctx, &parts, ep).await {
            Ok(r) => r,
            Err(e) => e.render(crate::server::Dialect::OpenAi),
        };
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn response_json(id: &str, text: &str, prev: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": id, "object": "response", "created_at": 1_800_000_000u64, "status": "completed",
            "previous_response_id": prev,
            "output": [{"type": "message", "id": format!("msg_{text}"), "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}]
        }))
        .unwrap()
    }

    fn save_one(state: &State, owner: &str, id: &str, input: &str, prev: Option<&str>, text: &str) {
        let body = response_json(id, text, prev);
        save(
            state,
            NewResponse {
                owner,
                id,
                previous_response_id: prev,
                input_json: input,
                response_json: &body,
                created_at: now(),
            },
        );
    }

    #[tokio::test]
    async fn a_chain_reads_back_whole_before_and_after_the_commit_and_after_reopen() {
        let f = fixture();
        let st = &f.state;
        save_one(st, "alice", "resp_1", r#""hello""#, None, "a1");
        save_one(
            st,
            "alice",
            "resp_2",
            r#"[{"type":"function_call_output","call_id":"c1","output":"ok"}]"#,
            Some("resp_1"),
            "a2",
        );
        // Not committed yet: lookups see it already.
        assert_eq!(f.responses.lock_pending().len(), 2);
        let texts = |items: &[Box<RawValue>]| -> Vec<String> {
            items.iter().map(|i| i.get().to_owned()).collect()
        };
        let before = history(st, "alice", "resp_2").await.unwrap();
        assert_eq!(before.len(), 4, "{:?}", texts(&before));
        let v: Vec<Value> = before
            .iter()
            .map(|i| serde_json::from_str(i.get()).unwrap())
            .collect();
        assert_eq!(v[0]["role"], "user");
        assert_eq!(v[0]["content"][0]["text"], "hello");
        assert_eq!(v[1]["content"][0]["text"], "a1");
        assert_eq!(v[2]["type"], "function_call_output");
        assert_eq!(v[3]["content"][0]["text"], "a2");

        assert!(f.responses.commit(&ResponsesSection::default()).await);
        assert!(f.responses.lock_pending().is_empty());
        let after = history(st, "alice", "resp_2").await.unwrap();
        assert_eq!(texts(&after), texts(&before));

        // Another key sees nothing; an unknown id is the OpenAI 400.
        let e = history(st, "bob", "resp_2").await.unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.code.as_deref(), Some("previous_response_not_found"));
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
        assert_eq!(e.message, "Previous response with id 'resp_2' not found.");

        // Across a restart: a new store handle on the same file.
        let Fixture {
            _dir: dir,
            path,
            state,
            responses,
            ..
        } = f;
        drop((state, responses));
        let store = Store::open_at(&path, SecretsBackend::File).unwrap();
        let (state, _, _) = state_with(store, Config::default());
        let reopened = history(&state, "alice", "resp_2").await.unwrap();
        assert_eq!(texts(&reopened), texts(&before));
        drop(dir);
    }

    #[tokio::test]
    async fn a_chain_with_a_lost_link_says_which() {
        let f = fixture();
        save_one(&f.state, "alice", "resp_1", r#""q1""#, None, "a1");
        save_one(&f.state, "alice", "resp_2", r#""q2""#, Some("resp_1"), "a2");
        assert!(f.responses.commit(&ResponsesSection::default()).await);
        assert!(
            f.responses
                .store
                .responses_delete("resp_1", "alice")
                .unwrap()
        );
        let e = history(&f.state, "alice", "resp_2").await.unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(
            e.message.contains("continues response 'resp_1'"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn get_and_delete_answer_the_owner_and_404_everyone_else() {
        let f = fixture();
        let (alice, bob) = (f.keys[0].clone(), f.keys[1].clone());
        save_one(&f.state, "alice", "resp_1", r#""q""#, None, "a1");

        let (status, body) = call(&f.state, Method::GET, "/v1/responses/resp_1", &alice).await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], "resp_1");
        assert_eq!(body["output"][0]["content"][0]["text"], "a1");

        let not_found = json!({"error": {
            "message": "Response with id 'resp_1' not found.",
            "type": "invalid_request_error", "param": null, "code": null}});
        let (status, body) = call(&f.state, Method::GET, "/v1/responses/resp_1", &bob).await;
        assert_eq!((status, &body), (404, &not_found));
        let (status, _) = call(&f.state, Method::DELETE, "/v1/responses/resp_1", &bob).await;
        assert_eq!(status, 404);
        let (status, body) = call(&f.state, Method::GET, "/v1/responses/resp_1", "lgw_wrong").await;
        assert_eq!(status, 401, "{body}");

        // Deleted while still pending, then again once committed: both paths.
        assert!(f.responses.commit(&ResponsesSection::default()).await);
        let (status, body) = call(&f.state, Method::DELETE, "/v1/responses/resp_1", &alice).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"id": "resp_1", "object": "response", "deleted": true})
        );
        let (status, body) = call(&f.state, Method::GET, "/v1/responses/resp_1", &alice).await;
        assert_eq!((status, &body), (404, &not_found));
        let (status, _) = call(&f.state, Method::DELETE, "/v1/responses/resp_1", &alice).await;
        assert_eq!(status, 404);

        save_one(&f.state, "alice", "resp_2", r#""q""#, None, "a2");
        let (status, _) = call(&f.state, Method::DELETE, "/v1/responses/resp_2", &alice).await;
        assert_eq!(status, 200);
        // The commit after the delete does not bring it back.
        assert!(f.responses.commit(&ResponsesSection::default()).await);
        assert_eq!(f.responses.store.responses_get("resp_2").unwrap(), None);
    }

    #[tokio::test]
    async fn input_items_list_the_conversation_and_page_by_id() {
        let f = fixture();
        let alice = f.keys[0].clone();
        save_one(&f.state, "alice", "resp_1", r#""q1""#, None, "a1");
        save_one(
            &f.state,
            "alice",
            "resp_2",
            r#"[{"type":"message","role":"user","content":"q2","id":"msg_q2"},{"role":"user","content":"q3"}]"#,
            Some("resp_1"),
            "a2",
        );
        let ids = |body: &Value| -> Vec<String> {
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let (status, body) = call(
            &f.state,
            Method::GET,
            "/v1/responses/resp_2/input_items",
            &alice,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "list");
        // resp_1's input and output, then resp_2's input; not resp_2's own output.
        assert_eq!(ids(&body), ["msg_1_in0", "msg_a1", "msg_q2", "msg_2_in1"]);
        assert_eq!(body["data"][0]["content"][0]["text"], "q1");
        assert_eq!(body["data"][3]["content"], "q3");
        assert_eq!(body["first_id"], "msg_1_in0");
        assert_eq!(body["last_id"], "msg_2_in1");
        assert_eq!(body["has_more"], false);

        let page = |q: &str| format!("/v1/responses/resp_2/input_items?{q}");
        let (_, body) = call(&f.state, Method::GET, &page("limit=2"), &alice).await;
        assert_eq!(ids(&body), ["msg_1_in0", "msg_a1"]);
        assert_eq!(body["has_more"], true);
        let (_, body) = call(&f.state, Method::GET, &page("limit=2&after=msg_a1"), &alice).await;
        assert_eq!(ids(&body), ["msg_q2", "msg_2_in1"]);
        assert_eq!(body["has_more"], false);
        let (_, body) = call(&f.state, Method::GET, &page("order=desc&limit=3"), &alice).await;
        assert_eq!(ids(&body), ["msg_2_in1", "msg_q2", "msg_a1"]);
        assert_eq!(body["has_more"], true);
        let (_, body) = call(
            &f.state,
            Method::GET,
            &page("before=msg_2_in1&limit=2"),
            &alice,
        )
        .await;
        assert_eq!(ids(&body), ["msg_a1", "msg_q2"]);
        assert_eq!(body["has_more"], true);

        for bad in ["limit=0", "limit=101", "limit=x", "order=up"] {
            let (status, body) = call(&f.state, Method::GET, &page(bad), &alice).await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert_eq!(body["error"]["type"], "invalid_request_error");
        }
        let (status, body) = call(
            &f.state,
            Method::GET,
            "/v1/responses/resp_9/input_items",
            &alice,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(
            body["error"]["message"],
            "Response with id 'resp_9' not found."
        );
    }

    #[tokio::test]
    async fn the_writer_commits_and_prunes_to_the_bounds_in_force() {
        let f = fixture();
        let config = |max| {
            let mut c = Config::default();
            c.responses.max_stored = max;
            c
        };
        f.state.set_config(config(2));
        let cancel = CancellationToken::new();
        let st = Arc::clone(&f.state);
        let task = tokio::spawn(
            Arc::clone(&f.responses).run(move || st.config().responses.clone(), cancel.clone()),
        );
        for n in 0..3u64 {
            let body = response_json(&format!("resp_{n}"), "x", None);
            save(
                &f.state,
                NewResponse {
                    owner: "alice",
                    id: &format!("resp_{n}"),
                    previous_response_id: None,
                    input_json: r#""q""#,
                    response_json: &body,
                    created_at: now() - 10 + n,
                },
            );
        }
        cancel.cancel();
        task.await.unwrap();
        assert!(f.responses.lock_pending().is_empty());
        // Three saved, two kept: the oldest went.
        assert_eq!(f.responses.store.responses_count().unwrap(), 2);
        assert_eq!(f.responses.store.responses_get("resp_0").unwrap(), None);

        // Storing off: nothing is kept.
        f.state.set_config(config(0));
        save_one(&f.state, "alice", "resp_9", r#""q""#, None, "x");
        assert!(f.responses.lock_pending().is_empty());
    }

    #[test]
    fn routes_and_input_shapes() {
        assert_eq!(
            endpoint(&Method::GET, "/v1/responses/resp_1"),
            Some(Endpoint::Get("resp_1"))
        );
        assert_eq!(
            endpoint(&Method::DELETE, "/v1/responses/resp_1"),
            Some(Endpoint::Delete("resp_1"))
        );
        assert_eq!(
            endpoint(&Method::GET, "/v1/responses/resp_1/input_items"),
            Some(Endpoint::InputItems("resp_1"))
        );
        assert_eq!(
            endpoint(&Method::POST, "/v1/responses/resp_1/cancel"),
            Some(Endpoint::Cancel("resp_1"))
        );
        for (m, p) in [
            (Method::POST, "/v1/responses"),
            (Method::GET, "/v1/responses"),
            (Method::GET, "/v1/responses/"),
            (Method::POST, "/v1/responses/input_tokens"),
            (Method::GET, "/v1/responses/resp_1/cancel"),
            (Method::GET, "/v1/responses/resp_1/other"),
        ] {
            assert_eq!(endpoint(&m, p), None, "{m} {p}");
        }
        let items = input_items(r#"[{"type":"message"},{"a":1}]"#).unwrap();
        assert_eq!(items.len(), 2);
        let items = input_items(r#""hi""#).unwrap();
        let v: Value = serde_json::from_str(items[0].get()).unwrap();
        assert_eq!(v["content"][0], json!({"type": "input_text", "text": "hi"}));
        assert!(input_items("{}").is_err());
        let with = with_id(RawValue::from_string("{}".into()).unwrap(), "x");
        assert_eq!(with.get(), r#"{"id":"x"}"#);
    }

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
