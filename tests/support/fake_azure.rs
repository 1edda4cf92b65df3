//! Azure OpenAI on loopback: the fake OpenAI-compatible server ([`FakeOpenAi`], which records
//! every request's path, query and headers, so tests check the `api-key` header and the URL
//! form) with Azure's replies: streams with its content-filter chunks (a first chunk with empty
//! `choices` and `prompt_filter_results`, annotation chunks with `content_filter_results` and
//! no `delta`), a completion its filter cut (`finish_reason: content_filter`), a prompt its
//! filter refused (400 `content_filter` with `innererror`), and the 429 of a spent daily quota
//! ("Please retry after 86400 seconds").

use bytes::Bytes;
use llm_gateway::config::ProviderKind;
use llm_gateway::store::records::UpstreamRecord;

use super::fake_openai::{FakeOpenAi, Reply};

/// The v1 base of the fake resource (`http://127.0.0.1:PORT/openai/v1`).
pub fn base_url(fake: &FakeOpenAi) -> String {
    format!("{}/openai/v1", fake.root_url())
}

/// An `azure` upstream at the fake serving `deployments` (v1 endpoint; its key is
/// `sk-fake-NAME` in [`super::view`]).
pub fn upstream(name: &str, fake: &FakeOpenAi, deployments: &[&str]) -> UpstreamRecord {
    UpstreamRecord {
        provider: ProviderKind::Azure,
        ..super::upstream(name, &base_url(fake), deployments, 100)
    }
}

/// Azure's first stream chunk: nothing but the prompt's filter results.
pub const PROMPT_FILTER_CHUNK: &str = "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"jailbreak\":{\"filtered\":false,\"detected\":false},\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}}]}\n\n";

/// An asynchronous-filter annotation: `content_filter_results` and offsets, no `delta`.
pub const ANNOTATION_CHUNK: &str = "data: {\"choices\":[{\"content_filter_offsets\":{\"check_offset\":0,\"start_offset\":0,\"end_offset\":12},\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"violence\":{\"filtered\":false,\"severity\":\"safe\"}},\"finish_reason\":null,\"index\":0}],\"created\":1,\"id\":\"chatcmpl-az\",\"model\":\"o4-mini\",\"object\":\"chat.completion.chunk\"}\n\n";

/// An OpenAI chunk stream as Azure sends it: the prompt-filter chunk first, an annotation
/// chunk after the first real chunk.
pub fn with_filter_chunks(mut reply: Reply) -> Reply {
    reply
        .chunks
        .insert(0, Bytes::from_static(PROMPT_FILTER_CHUNK.as_bytes()));
    let at = reply.chunks.len().min(2);
    reply
        .chunks
        .insert(at, Bytes::from_static(ANNOTATION_CHUNK.as_bytes()));
    reply
}

/// A stream whose completion the filter cut after "Once upon": the last chunk has
/// `finish_reason: content_filter` and no `delta`.
pub fn filtered_stream() -> Reply {
    let chunk = |choice: &str| {
        format!(
            "data: {{\"choices\":[{choice}],\"created\":1,\"id\":\"chatcmpl-az\",\"model\":\"o4-mini\",\"object\":\"chat.completion.chunk\"}}\n\n"
        )
    };
    let frames = [
        PROMPT_FILTER_CHUNK.to_string(),
        chunk(r#"{"delta":{"role":"assistant","content":""},"finish_reason":null,"index":0}"#),
        chunk(r#"{"delta":{"content":"Once upon"},"finish_reason":null,"index":0}"#),
        ANNOTATION_CHUNK.to_string(),
        chunk(
            r#"{"content_filter_results":{"violence":{"filtered":true,"severity":"high"}},"finish_reason":"content_filter","index":0}"#,
        ),
        "data: [DONE]\n\n".to_string(),
    ];
    let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
    Reply::sse(&refs)
}

/// A whole completion the filter cut: `finish_reason: content_filter`, partial content.
pub fn filtered_completion() -> Reply {
    Reply::json(
        200,
        r#"{"id":"chatcmpl-az","object":"chat.completion","created":1,"model":"o4-mini","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"choices":[{"index":0,"finish_reason":"content_filter","message":{"role":"assistant","content":"Once upon"},"content_filter_results":{"violence":{"filtered":true,"severity":"high"}}}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#,
    )
}

/// A prompt the content filter refused.
pub fn prompt_filtered() -> Reply {
    Reply::json(
        400,
        r#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{},"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self-harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}"#,
    )
}

/// A spent daily quota: the wait is in the message only.
pub fn daily_quota() -> Reply {
    Reply::json(
        429,
        r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version v1 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 86400 seconds. Please contact Azure support service if you would like to further increase the default rate limit."}}"#,
    )
}

/// A short 429 in Azure's shape (`code` is the status as a string, the delay in the wording
/// and in `retry-after`): what a deployment over its per-minute rate limit answers.
pub fn rate_limited(message: &str, secs: u64) -> Reply {
    let body = serde_json::json!({"error": {"code": "429",
        "message": format!("{message} Please retry after {secs} seconds.")}});
    Reply::json(429, &body.to_string()).header("retry-after", &secs.to_string())
}
