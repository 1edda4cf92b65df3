//! Incremental Server-Sent Events framing: bytes in any chunking -> events, and events -> bytes.

/// One SSE event: the optional `event:` name and the joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}
