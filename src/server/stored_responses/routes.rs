//! The stored-response routes: `GET`/`DELETE /v1/responses/{id}`,
//! `GET /v1/responses/{id}/input_items` (paged by item id) and `POST /v1/responses/{id}/cancel`,
//! recognised by [`endpoint`] and answered by [`serve`]. Each answers only the gateway key that
//! created the reply; every other key gets the same 404 as an unknown id.

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;

use super::blocking;
use crate::server::Body;
use crate::server::admit;
use crate::server::ctx::Ctx;
use crate::server::error::{ErrorKind, GatewayError};
use crate::server::router::json_response;
use crate::store::responses::StoredResponse;

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
    use super::super::input_items;
    use super::super::tests::{call, fixture, save_one};
    use super::*;
    use crate::config::file::ResponsesSection;
    use serde_json::{Value, json};

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
}
