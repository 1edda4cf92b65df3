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
//!
//! The files: this one holds the store in front of the database, [`save`] and [`history`];
//! `saving.rs` the request's side ([`prepare`], [`Saving`], [`keep_relayed`]); `routes.rs` the
//! stored-response routes ([`endpoint`], [`serve`]).

mod routes;
mod saving;

pub(crate) use routes::{CREATE_PATH, endpoint, serve};
pub(crate) use saving::{Saving, keep_relayed, prepare};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::value::RawValue;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::GatewayError;
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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, GatewayError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(GatewayError::internal("reading stored responses", &e)),
        Err(e) => Err(GatewayError::internal("reading stored responses", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::file::SecretsBackend;
    use crate::server::ctx::Ctx;
    use crate::server::state::View;
    use crate::store::keys;
    use crate::store::records::ApiKeyRecord;
    use http::Method;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    pub(super) struct Fixture {
        pub _dir: tempfile::TempDir,
        pub path: std::path::PathBuf,
        pub state: Arc<State>,
        pub responses: Arc<StoredResponses>,
        pub keys: Vec<String>,
    }

    pub(super) fn key(name: &str) -> (String, ApiKeyRecord) {
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

    pub(super) fn state_with(
        store: Store,
        config: Config,
    ) -> (Arc<State>, Arc<StoredResponses>, Vec<String>) {
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

    pub(super) fn fixture() -> Fixture {
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
    pub(super) async fn call(
        state: &Arc<State>,
        method: Method,
        uri: &str,
        key: &str,
    ) -> (u16, Value) {
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
            // As the router renders them: in the dialect of the path that creates responses.
            Err(e) => e.render(crate::server::inbound::dialect_of("POST", CREATE_PATH).unwrap()),
        };
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    pub(super) fn response_json(id: &str, text: &str, prev: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": id, "object": "response", "created_at": 1_800_000_000u64, "status": "completed",
            "previous_response_id": prev,
            "output": [{"type": "message", "id": format!("msg_{text}"), "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}]
        }))
        .unwrap()
    }

    pub(super) fn save_one(
        state: &State,
        owner: &str,
        id: &str,
        input: &str,
        prev: Option<&str>,
        text: &str,
    ) {
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
}
