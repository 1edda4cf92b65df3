//! Gemini replies: an upstream's `GenerateContentResponse` -> IR ([`decode_response`]) and an IR
//! reply -> the body a Gemini client reads ([`encode_response`]). Also the finishReason and usage
//! arithmetic the stream codec shares (D19, D20).
//!
//! Only `candidates[0]` is read (the IR reply has one choice). What the IR does not model
//! (safetyRatings, promptFeedback, usage details, the raw finishReason) is kept in
//! `Response::extra` so a Gemini client behind a Gemini upstream gets it back.

use serde_json::{Map, Value};

use super::names::{is_minted_id, minted_response_id, response_call_id};
use super::parts::{BlockList, PartKind, args_object, classify, image_part, own_signature};
use super::request::{document_part, parse};
use super::wire::{
    Candidate, Content, FunctionCall, GenerateContentResponse, Part, PromptFeedback, UsageMetadata,
};
use crate::protocol::codec::{CodecError, ResponseCtx};
use crate::protocol::ir::{
    ApiError, Block, Dialect, ErrorKind, Extras, Json, Response, Signature, StopReason, Usage,
};
use crate::protocol::responses::envelope;

/// D19. `STOP` becomes `tool_use` when the reply made calls (Gemini says `STOP` for those).
pub(super) fn stop_reason(finish: Option<&str>, saw_tool_use: bool) -> StopReason {
    if saw_tool_use {
        return StopReason::ToolUse;
    }
    match finish {
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "LANGUAGE",
        ) => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// The reverse of [`stop_reason`] for Gemini clients.
pub(super) fn finish_reason(stop: Option<&StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "MAX_TOKENS",
        Some(StopReason::Refusal) => "SAFETY",
        _ => "STOP",
    }
}

/// A reply with nothing in it is not an answer (E10): an empty `STOP`, or a
/// `MALFORMED_FUNCTION_CALL` with no calls, is reported as a retryable upstream failure.
pub(super) fn empty_reply_error(finish: Option<&str>, message: Option<&str>) -> ApiError {
    let mut text = format!(
        "Gemini returned an empty response (finishReason {})",
        finish.unwrap_or("missing")
    );
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        text.push_str(": ");
        text.push_str(m);
    }
    ApiError::new(502, ErrorKind::BadGateway, text)
}

/// D20: `promptTokenCount` includes the cached tokens, `candidatesTokenCount` excludes thoughts.
pub(super) fn usage_from_wire(u: &UsageMetadata) -> Usage {
    // The counts are the upstream's: a nonsense one saturates rather than overflows.
    let prompt = u
        .prompt_token_count
        .unwrap_or(0)
        .saturating_add(u.tool_use_prompt_token_count.unwrap_or(0));
    let cached = u.cached_content_token_count.unwrap_or(0);
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        input_tokens: prompt.saturating_sub(cached),
        output_tokens: u
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: u.thoughts_token_count,
    }
}

pub(super) fn usage_to_wire(u: &Usage, extra: Map<String, Value>) -> UsageMetadata {
    let prompt = u.prompt_total();
    let thoughts = u.reasoning_tokens.filter(|t| *t > 0);
    UsageMetadata {
        prompt_token_count: Some(prompt),
        // Gemini leaves the count out when nothing was generated (a blocked prompt).
        candidates_token_count: (u.output_tokens > 0)
            .then(|| u.output_tokens.saturating_sub(thoughts.unwrap_or(0))),
        total_token_count: Some(prompt.saturating_add(u.output_tokens)),
        cached_content_token_count: (u.cache_read_tokens > 0).then_some(u.cache_read_tokens),
        thoughts_token_count: thoughts,
        tool_use_prompt_token_count: None,
        extra,
    }
}

/// An upstream's whole reply.
pub fn decode_response(body: &[u8]) -> Result<Response, CodecError> {
    let wire: GenerateContentResponse = parse(body)?;
    from_wire(wire)
}

/// [`decode_response`] for an already parsed body (e.g. unwrapped from Code Assist's envelope).
pub fn from_wire(wire: GenerateContentResponse) -> Result<Response, CodecError> {
    let id = wire
        .response_id
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(minted_response_id);
    let mut extra = wire.extra;
    let usage_extra = wire
        .usage_metadata
        .as_ref()
        .map(|u| u.extra.clone())
        .unwrap_or_default();
    let usage = wire
        .usage_metadata
        .as_ref()
        .map(usage_from_wire)
        .unwrap_or_default();
    if !usage_extra.is_empty() {
        extra.insert("usageMetadata".into(), Value::Object(usage_extra));
    }
    let blocked = wire
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.clone());
    if let Some(feedback) = &wire.prompt_feedback
        && let Ok(v) = serde_json::to_value(feedback)
    {
        extra.insert("promptFeedback".into(), v);
    }

    let mut resp = Response {
        id,
        model: wire.model_version.clone().unwrap_or_default(),
        usage,
        ..Response::default()
    };
    let Some(candidate) = wire.candidates.into_iter().next() else {
        if blocked.is_some() {
            resp.stop_reason = Some(StopReason::Refusal);
            resp.extra = Extras::new(Dialect::Gemini, extra);
            return Ok(resp);
        }
        return Err(CodecError::Invalid(
            "Gemini returned no candidates and no blockReason".into(),
        ));
    };

    let mut list = BlockList::default();
    let mut calls = CallIds::default();
    for part in candidate.content.iter().flat_map(|c| c.parts.iter()) {
        match classify(part) {
            PartKind::Block(block) => list.push(block),
            PartKind::SignatureOnly(sig) => list.signature_only(sig),
            PartKind::Call(call, signature) => {
                let id = calls.next(&call, wire.response_id.as_deref());
                list.push(Block::ToolUse {
                    id,
                    name: call.name.clone(),
                    input: args_object(&call.args),
                    signature,
                });
            }
            PartKind::Response(_) | PartKind::Skip => {}
        }
    }
    resp.content = list.finish();
    let finish = candidate.finish_reason.as_deref();
    let stop = stop_reason(finish, calls.any());
    if resp.content.is_empty() && !matches!(stop, StopReason::MaxTokens | StopReason::Refusal) {
        let message = candidate.extra.get("finishMessage").and_then(Value::as_str);
        return Err(CodecError::Invalid(
            empty_reply_error(finish, message).message,
        ));
    }
    resp.stop_reason = Some(stop);

    let mut cand_extra = candidate.extra;
    if let Some(f) = candidate.finish_reason {
        cand_extra.insert("finishReason".into(), Value::String(f));
    }
    if let Some(r) = candidate.safety_ratings {
        cand_extra.insert("safetyRatings".into(), Value::Array(r));
    }
    if !cand_extra.is_empty() {
        extra.insert("candidate".into(), Value::Object(cand_extra));
    }
    resp.extra = Extras::new(Dialect::Gemini, extra);
    Ok(resp)
}

/// The ids of one reply's calls. Gemini's own id is kept unless an earlier call of the reply
/// has it already: two calls under one id would leave the client unable to answer both (Claude
/// Code's next request is refused), so the later one gets a minted id. A set, not a list: a
/// reply of many small calls must not cost their square.
#[derive(Default)]
pub(super) struct CallIds {
    given: std::collections::HashSet<String>,
}

impl CallIds {
    pub(super) fn next(&mut self, call: &FunctionCall, response_id: Option<&str>) -> String {
        let n = self.given.len();
        let id = match call.id.as_deref().filter(|i| !i.is_empty()) {
            Some(id) => super::names::sanitize_id_part(id, 128),
            None => response_call_id(response_id, n, &call.name),
        };
        let id = if self.given.contains(&id) {
            response_call_id(response_id, n, &call.name)
        } else {
            id
        };
        self.given.insert(id.clone());
        id
    }

    pub(super) fn any(&self) -> bool {
        !self.given.is_empty()
    }
}

/// IR blocks as the parts of a Gemini reply (D21): thought parts for thinking, signatures only
/// when Gemini minted them, minted call ids left out. OpenAI's reasoning signature goes, tagged,
/// on the next text or call part (see `parts.rs`), or on an empty part of its own when there is
/// none or that part is signed already.
pub(super) fn reply_parts(blocks: &[Block]) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut openai: Option<String> = None;
    for block in blocks {
        match block {
            Block::Text {
                text, signature, ..
            } => {
                let sig = own_signature(signature);
                if !text.is_empty() || sig.is_some() {
                    let sig = carry_openai(sig, &mut openai, &mut parts);
                    parts.push(Part {
                        text: Some(text.clone()),
                        thought_signature: sig,
                        ..Part::default()
                    });
                }
            }
            Block::Thinking { text, signature } => {
                if let Some(tagged) = openai.take() {
                    parts.push(signature_part(tagged));
                }
                openai = openai_signature(signature);
                let sig = own_signature(signature);
                if !text.is_empty() || sig.is_some() {
                    parts.push(Part {
                        text: Some(text.as_str().into()),
                        // Marked even when empty: an unmarked empty part with a signature
                        // reads back as a signature for a neighbouring part (parts.rs).
                        thought: Some(true),
                        thought_signature: sig,
                        ..Part::default()
                    });
                }
            }
            Block::ToolUse {
                id,
                name,
                input,
                signature,
            } => {
                let sig = carry_openai(own_signature(signature), &mut openai, &mut parts);
                parts.push(call_part(id, name, input.clone(), sig));
            }
            Block::Image(image) => parts.push(image_part(image)),
            Block::Document(doc) => parts.push(document_part(doc)),
            Block::Unknown {
                origin: Dialect::Gemini,
                value,
            } => {
                if let Ok(part) = serde_json::from_value::<Part>(value.clone()) {
                    parts.push(part);
                }
            }
            _ => {}
        }
    }
    if let Some(tagged) = openai {
        parts.push(signature_part(tagged));
    }
    parts
}

/// The signature of a text or call part: its own, else the OpenAI reasoning signature waiting
/// for a part (which goes out on a part of its own first when the part is signed already).
pub(super) fn carry_openai(
    own: Option<String>,
    openai: &mut Option<String>,
    parts: &mut Vec<Part>,
) -> Option<String> {
    if own.is_none() {
        return openai.take();
    }
    if let Some(tagged) = openai.take() {
        parts.push(signature_part(tagged));
    }
    own
}

/// OpenAI's reasoning signature, tagged for a Gemini client's `thoughtSignature`.
pub(super) fn openai_signature(sig: &Option<Signature>) -> Option<String> {
    sig.as_ref()
        .filter(|s| s.origin == Dialect::Responses)
        .map(|s| envelope::tag_native(&s.value))
}

/// A part holding only a signature (no text, not a thought).
pub(super) fn signature_part(signature: String) -> Part {
    Part {
        thought_signature: Some(signature),
        ..Part::text("")
    }
}

pub(super) fn call_part(id: &str, name: &str, args: Json, signature: Option<String>) -> Part {
    Part {
        function_call: Some(Box::new(FunctionCall {
            id: (!id.is_empty() && !is_minted_id(id)).then(|| id.to_string()),
            name: name.to_string(),
            args: Some(super::parts::args_value(args)),
            extra: Map::new(),
        })),
        thought_signature: signature,
        ..Part::default()
    }
}

/// The raw finishReason from a Gemini upstream, when it still says what `stop` says.
fn kept_finish_reason(resp: &Response) -> Option<String> {
    let raw = resp
        .extra
        .for_dialect(Dialect::Gemini)?
        .get("candidate")?
        .get("finishReason")?
        .as_str()?;
    let mapped = stop_reason(Some(raw), false);
    let same = match resp.stop_reason.as_ref() {
        Some(StopReason::ToolUse) => raw == "STOP",
        Some(s) => *s == mapped,
        None => false,
    };
    same.then(|| raw.to_string())
}

/// The body for a Gemini client.
pub fn encode_response(resp: &Response, ctx: &ResponseCtx) -> Vec<u8> {
    let extras = resp.extra.for_dialect(Dialect::Gemini);
    let extra_obj = |key: &str| resp.extra.object(Dialect::Gemini, key);
    let prompt_feedback: Option<PromptFeedback> = extras
        .and_then(|e| e.get("promptFeedback"))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let blocked_prompt = resp.content.is_empty()
        && resp.stop_reason == Some(StopReason::Refusal)
        && prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());

    let mut candidates = Vec::new();
    if !blocked_prompt {
        let mut cand_extra = extra_obj("candidate");
        cand_extra.remove("finishReason");
        let safety_ratings = match cand_extra.remove("safetyRatings") {
            Some(Value::Array(r)) => Some(r),
            _ => None,
        };
        candidates.push(Candidate {
            content: Some(Content {
                role: Some("model".into()),
                parts: reply_parts(&resp.content),
                extra: Map::new(),
            }),
            finish_reason: Some(
                kept_finish_reason(resp)
                    .unwrap_or_else(|| finish_reason(resp.stop_reason.as_ref()).to_string()),
            ),
            index: Some(0),
            safety_ratings,
            extra: cand_extra,
        });
    }
    let mut extra = extras.cloned().unwrap_or_default();
    for key in ["candidate", "promptFeedback", "usageMetadata"] {
        extra.remove(key);
    }
    let wire = GenerateContentResponse {
        candidates,
        prompt_feedback,
        usage_metadata: Some(usage_to_wire(&resp.usage, extra_obj("usageMetadata"))),
        model_version: Some(ctx.model.clone()),
        response_id: (!resp.id.is_empty()).then(|| resp.id.clone()),
        extra,
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Response {
        decode_response(v.to_string().as_bytes()).unwrap()
    }

    /// A call whose id an earlier call of the same reply has gets a minted id of its own, in a
    /// whole reply as in a stream: the client must be able to answer each call.
    #[test]
    fn a_repeated_call_id_is_replaced() {
        let reply = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"id": "c1", "name": "f", "args": {}}},
            {"functionCall": {"id": "c1", "name": "g", "args": {}}},
            {"functionCall": {"id": "c2", "name": "h", "args": {}}}
        ]}, "finishReason": "STOP"}], "responseId": "r1"});
        let ids = |blocks: &[Block]| -> Vec<String> {
            blocks
                .iter()
                .filter_map(|b| match b {
                    Block::ToolUse { id, .. } => Some(id.clone()),
                    _ => None,
                })
                .collect()
        };
        let whole = ids(&decode(reply.clone()).content);
        assert_eq!(whole.len(), 3);
        assert_eq!((whole[0].as_str(), whole[2].as_str()), ("c1", "c2"));
        assert!(is_minted_id(&whole[1]), "{whole:?}");

        let mut d = super::super::stream::StreamDecoder::new();
        let mut events = Vec::new();
        let event = crate::protocol::sse::SseEvent {
            event: None,
            data: reply.to_string(),
        };
        d.feed(&event, &mut events).unwrap();
        d.finish(&mut events).unwrap();
        let streamed: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                crate::protocol::stream::StreamEvent::BlockStart {
                    block: crate::protocol::stream::BlockStart::ToolUse { id, .. },
                    ..
                } => Some(id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(streamed, whole);
    }

    /// OpenAI's reasoning rides, tagged, on the part it preceded (else on a part of its own),
    /// and a client's history reads it back as the same thinking block, whether the client
    /// kept the thought parts or, as Gemini CLI does, dropped them (then the summary is gone,
    /// the signature is not).
    #[test]
    fn openai_reasoning_survives_a_client_history_with_or_without_thoughts() {
        let rs = |text: &str, v: &str| Block::Thinking {
            text: text.into(),
            signature: Some(Signature {
                origin: Dialect::Responses,
                value: v.into(),
            }),
        };
        let text = |t: &str| Block::Text {
            text: t.into(),
            signature: None,
            cache_control: None,
        };
        let call = |id: &str| Block::ToolUse {
            id: id.into(),
            name: "f".into(),
            input: json!({"a": 1}).into(),
            signature: None,
        };
        let cases = [
            vec![rs("plan", "rs_1:E1"), call("c1"), call("c2")],
            vec![text("a"), rs("", "rs_2:E2"), text("b")],
            vec![rs("only", "rs_3:E3")],
            vec![rs("one", "rs_4:E4"), rs("two", "rs_5:E5"), text("done")],
        ];
        for blocks in cases {
            let parts = reply_parts(&blocks);
            let tagged = parts
                .iter()
                .filter(|p| {
                    p.thought_signature
                        .as_deref()
                        .is_some_and(|s| s.starts_with("gw.openai."))
                })
                .count();
            let thoughts = blocks
                .iter()
                .filter(|b| matches!(b, Block::Thinking { .. }))
                .count();
            assert_eq!(tagged, thoughts, "one tagged part per reasoning item");
            for keep_thoughts in [true, false] {
                let kept: Vec<&Part> = parts
                    .iter()
                    .filter(|p| keep_thoughts || p.thought != Some(true))
                    .collect();
                let body = json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": kept}
                ]});
                let hints = crate::protocol::codec::RequestHints {
                    model: Some("m".into()),
                    ..Default::default()
                };
                let req =
                    super::super::decode_request(body.to_string().as_bytes(), &hints).unwrap();
                let expected: Vec<Block> = blocks
                    .iter()
                    .map(|b| match b {
                        Block::Thinking { signature, .. } if !keep_thoughts => Block::Thinking {
                            text: String::new(),
                            signature: signature.clone(),
                        },
                        other => other.clone(),
                    })
                    .collect();
                assert_eq!(req.messages[1].content, expected, "{body}");
            }
        }
    }

    /// Fuzz crash (the usage arithmetic): candidates plus thoughts, and prompt plus output for
    /// `totalTokenCount`, overflowed on an upstream's nonsense count.
    #[test]
    fn huge_counts_saturate() {
        let resp = decode(json!({
            "candidates": [{"finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"candidatesTokenCount": u64::MAX, "thoughtsTokenCount": 5,
                "promptTokenCount": 20, "toolUsePromptTokenCount": u64::MAX}
        }));
        assert_eq!(resp.usage.output_tokens, u64::MAX);
        assert_eq!(resp.usage.input_tokens, u64::MAX);
        let ctx = ResponseCtx::default();
        let body: Value = serde_json::from_slice(&encode_response(&resp, &ctx)).unwrap();
        assert_eq!(body["usageMetadata"]["totalTokenCount"], json!(u64::MAX));
    }

    fn round_trip(body: &[u8]) -> (Value, Value) {
        let ctx = ResponseCtx::default();
        let first = encode_response(&decode_response(body).unwrap(), &ctx);
        let second = encode_response(&decode_response(&first).unwrap(), &ctx);
        (
            serde_json::from_slice(&first).unwrap(),
            serde_json::from_slice(&second).unwrap(),
        )
    }

    /// Fuzz finding: a thought holding only a signature went out without `thought: true`, so it
    /// read back as the signature of the text before it. Minimised input.
    #[test]
    fn a_signature_only_thought_stays_a_thought() {
        let (first, second) = round_trip(
            br#"{"candidates":[{"content":{"parts":[{"text":"I can"},{"thought":true,"thoughtSignature":"Q2lRQjRfU0lHX0Q="}]}}]}"#,
        );
        assert_eq!(
            first["candidates"][0]["content"]["parts"],
            json!([{"text": "I can"}, {"text": "", "thought": true, "thoughtSignature": "Q2lRQjRfU0lHX0Q="}])
        );
        assert_eq!(second, first);
    }

    /// Fuzz finding: a reply holding a PDF decoded, but the encoder dropped the document, and
    /// the empty reply it wrote was refused on the way back. Minimised input.
    #[test]
    fn a_reply_with_a_pdf_keeps_it() {
        let (first, second) = round_trip(
            br#"{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}]}}]}"#,
        );
        assert_eq!(
            first["candidates"][0]["content"]["parts"],
            json!([{"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}])
        );
        assert_eq!(second, first);
        let (first, second) = round_trip(
            br#"{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"application/pdf"}}]}}]}"#,
        );
        assert_eq!(second, first);
    }

    #[test]
    fn usage_arithmetic() {
        let u = UsageMetadata {
            prompt_token_count: Some(1000),
            candidates_token_count: Some(50),
            total_token_count: Some(1250),
            cached_content_token_count: Some(600),
            thoughts_token_count: Some(200),
            ..UsageMetadata::default()
        };
        let ir = usage_from_wire(&u);
        assert_eq!(
            (
                ir.input_tokens,
                ir.cache_read_tokens,
                ir.output_tokens,
                ir.reasoning_tokens
            ),
            (400, 600, 250, Some(200))
        );
        assert_eq!(usage_to_wire(&ir, Map::new()), u);
    }

    #[test]
    fn parallel_calls_with_one_signature_end_in_tool_use() {
        let r = decode(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "plan", "thought": true},
                {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "SIG"},
                {"functionCall": {"name": "b"}}
            ]}, "finishReason": "STOP", "index": 0}],
            "responseId": "resp-1", "modelVersion": "gemini-3-pro-preview"
        }));
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(r.model, "gemini-3-pro-preview");
        let Block::ToolUse {
            id,
            signature: Some(s),
            input,
            ..
        } = &r.content[1]
        else {
            panic!()
        };
        assert!(is_minted_id(id));
        assert_eq!((s.value.as_str(), input.value()), ("SIG", &json!({"x": 1})));
        assert!(
            matches!(&r.content[2], Block::ToolUse { signature: None, input, .. } if input == &json!({}))
        );
    }

    #[test]
    fn finish_reasons_and_blocked_prompts() {
        let one = |finish: &str| {
            decode(json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]}))
                .stop_reason
        };
        assert_eq!(one("STOP"), Some(StopReason::EndTurn));
        assert_eq!(one("MAX_TOKENS"), Some(StopReason::MaxTokens));
        assert_eq!(one("SAFETY"), Some(StopReason::Refusal));
        assert_eq!(one("RECITATION"), Some(StopReason::Refusal));
        let blocked = decode(
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}),
        );
        assert_eq!(blocked.stop_reason, Some(StopReason::Refusal));
        assert!(blocked.content.is_empty());
        let out: Value =
            serde_json::from_slice(&encode_response(&blocked, &ResponseCtx::default())).unwrap();
        assert_eq!(out["promptFeedback"]["blockReason"], "PROHIBITED_CONTENT");
        assert!(out.get("candidates").is_none());
        // Empty answers are errors, not silent end_turns.
        assert!(
            decode_response(
                br#"{"candidates": [{"content": {"parts": []}, "finishReason": "STOP"}]}"#
            )
            .is_err()
        );
        assert!(decode_response(br#"{"candidates": []}"#).is_err());
        let max = decode(json!({"candidates": [{"finishReason": "MAX_TOKENS"}]}));
        assert_eq!(max.stop_reason, Some(StopReason::MaxTokens));
    }

    #[test]
    fn gemini_reply_round_trips() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "hmm", "thought": true, "thoughtSignature": "T"},
                {"text": "answer"},
                {"functionCall": {"id": "c1", "name": "f", "args": {"a": [1]}}, "thoughtSignature": "F"}
            ]}, "finishReason": "STOP", "index": 0,
               "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 18,
                "thoughtsTokenCount": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]},
            "modelVersion": "gemini-2.5-pro", "responseId": "abc"
        });
        let r = decode(body.clone());
        let ctx = ResponseCtx {
            model: "gemini-2.5-pro".into(),
            ..ResponseCtx::default()
        };
        let out: Value = serde_json::from_slice(&encode_response(&r, &ctx)).unwrap();
        assert_eq!(out, body);
    }
}
