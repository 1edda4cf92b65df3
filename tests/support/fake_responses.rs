//! Replies of a Responses-API upstream (`upstream add --wire responses`), served by the
//! scriptable `fake_openai` server at `{base}/responses`: whole `Response` objects, event
//! streams in the grammar of `shared/reference/responses.md` §4 (`response.created` first,
//! `sequence_number` from 0, `type` in every data object, items opened and closed in order, one
//! terminal event, no `[DONE]`), and error bodies. Built with the gateway's own Responses
//! encoder (whose grammar its unit tests pin), plus [`native_reasoning_stream`], written out by
//! hand the way OpenAI sends an encrypted reasoning item.

use llm_gateway::protocol::codec::ResponseCtx;
use llm_gateway::protocol::ir::{ApiError, Response};
use llm_gateway::protocol::responses;
use llm_gateway::protocol::stream::StreamEvent;

use super::fake_openai::{Reply, sse_frames};

fn ctx(model: &str) -> ResponseCtx {
    ResponseCtx {
        model: model.into(),
        ..ResponseCtx::default()
    }
}

/// A whole `Response` object for an IR response.
pub fn response(resp: &Response) -> Reply {
    let body = responses::encode_response(resp, &ctx(&resp.model));
    Reply::json(200, std::str::from_utf8(&body).unwrap())
}

/// A Responses event stream for IR stream events.
pub fn stream(events: &[StreamEvent]) -> Reply {
    let mut enc = responses::StreamEncoder::new(&ctx("upstream-model"));
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    sse_frames(&out)
}

/// An error reply with the status of `err`.
pub fn error(err: &ApiError) -> Reply {
    let body = responses::encode_error(err);
    Reply::json(err.status, std::str::from_utf8(&body).unwrap())
}

/// The encrypted reasoning value [`native_reasoning_stream`] sends.
pub const ENCRYPTED: &str = "gAAAAABfake-encrypted-reasoning==";
/// Its reasoning item's id.
pub const REASONING_ID: &str = "rs_fake_1";

/// OpenAI's own stream of a reasoning item (summary and `encrypted_content`) then a function
/// call (`fc_` item id, `call_` call id), ending `response.completed`.
pub fn native_reasoning_stream(tool: &str) -> Reply {
    let r = REASONING_ID;
    let enc = ENCRYPTED;
    let resp = |status: &str, output: &str| {
        format!(
            r#"{{"id":"resp_n1","object":"response","created_at":1,"status":"{status}","model":"gpt-5-codex","output":[{output}],"usage":{{"input_tokens":12,"output_tokens":7,"total_tokens":19,"output_tokens_details":{{"reasoning_tokens":5}}}}}}"#
        )
    };
    let reasoning_done = format!(
        r#"{{"type":"reasoning","id":"{r}","summary":[{{"type":"summary_text","text":"Think."}}],"encrypted_content":"{enc}"}}"#
    );
    let call_done = format!(
        r#"{{"type":"function_call","id":"fc_n1","call_id":"call_n1","name":"{tool}","arguments":"{{\"city\":\"Paris\"}}","status":"completed"}}"#
    );
    let events = [
        format!(
            r#"{{"type":"response.created","sequence_number":0,"response":{}}}"#,
            resp("in_progress", "")
        ),
        format!(
            r#"{{"type":"response.in_progress","sequence_number":1,"response":{}}}"#,
            resp("in_progress", "")
        ),
        format!(
            r#"{{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{{"type":"reasoning","id":"{r}","summary":[]}}}}"#
        ),
        format!(
            r#"{{"type":"response.reasoning_summary_part.added","sequence_number":3,"item_id":"{r}","output_index":0,"summary_index":0,"part":{{"type":"summary_text","text":""}}}}"#
        ),
        format!(
            r#"{{"type":"response.reasoning_summary_text.delta","sequence_number":4,"item_id":"{r}","output_index":0,"summary_index":0,"delta":"Think."}}"#
        ),
        format!(
            r#"{{"type":"response.reasoning_summary_text.done","sequence_number":5,"item_id":"{r}","output_index":0,"summary_index":0,"text":"Think."}}"#
        ),
        format!(
            r#"{{"type":"response.reasoning_summary_part.done","sequence_number":6,"item_id":"{r}","output_index":0,"summary_index":0,"part":{{"type":"summary_text","text":"Think."}}}}"#
        ),
        format!(
            r#"{{"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{reasoning_done}}}"#
        ),
        format!(
            r#"{{"type":"response.output_item.added","sequence_number":8,"output_index":1,"item":{{"type":"function_call","id":"fc_n1","call_id":"call_n1","name":"{tool}","arguments":"","status":"in_progress"}}}}"#
        ),
        r#"{"type":"response.function_call_arguments.delta","sequence_number":9,"item_id":"fc_n1","output_index":1,"delta":"{\"city\":\"Paris\"}"}"#.to_string(),
        format!(
            r#"{{"type":"response.function_call_arguments.done","sequence_number":10,"item_id":"fc_n1","output_index":1,"name":"{tool}","arguments":"{{\"city\":\"Paris\"}}"}}"#
        ),
        format!(
            r#"{{"type":"response.output_item.done","sequence_number":11,"output_index":1,"item":{call_done}}}"#
        ),
        format!(
            r#"{{"type":"response.completed","sequence_number":12,"response":{}}}"#,
            resp("completed", &format!("{reasoning_done},{call_done}"))
        ),
    ];
    let frames: Vec<String> = events
        .iter()
        .map(|data| {
            let kind: serde_json::Value = serde_json::from_str(data).unwrap();
            format!(
                "event: {}\ndata: {data}\n\n",
                kind["type"].as_str().unwrap()
            )
        })
        .collect();
    let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
    Reply::sse(&refs)
}

/// The events of [`cut_mid_event`]: `response.created`, a message item and its text part
/// opened, and two text deltas (`Hel`, `lo, wor`), numbered 0 to 4.
pub fn cut_events() -> [String; 5] {
    let frame = |ty: &str, seq: u64, rest: &str| {
        format!("event: {ty}\ndata: {{\"type\":\"{ty}\",\"sequence_number\":{seq}{rest}}}\n\n")
    };
    let delta = |seq: u64, text: &str| {
        frame(
            "response.output_text.delta",
            seq,
            &format!(
                r#","item_id":"msg_1","output_index":0,"content_index":0,"delta":"{text}","logprobs":[]"#
            ),
        )
    };
    [
        frame(
            "response.created",
            0,
            r#","response":{"id":"resp_cut","object":"response","created_at":1,"status":"in_progress","model":"m-rsp","output":[]}"#,
        ),
        frame(
            "response.output_item.added",
            1,
            r#","output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","status":"in_progress","content":[]}"#,
        ),
        frame(
            "response.content_part.added",
            2,
            r#","item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}"#,
        ),
        delta(3, "Hel"),
        delta(4, "lo, wor"),
    ]
}

/// A stream the upstream cuts in the middle of its last event ([`cut_events`]' fifth): that
/// event begins in the chunk that ends the fourth and goes on in the next one, then the
/// connection drops. Paced, so that the whole events leave before the cut.
pub fn cut_mid_event() -> Reply {
    let [created, added, part, d3, d4] = cut_events();
    let (d4a, d4b) = d4.split_at(d4.len() / 2);
    let chunks = [
        format!("{created}{added}"),
        format!("{part}{d3}{d4a}"),
        d4b[..10].to_string(),
    ];
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    Reply::sse(&refs)
        .cut_after(3)
        .chunk_delay(std::time::Duration::from_millis(20))
}
