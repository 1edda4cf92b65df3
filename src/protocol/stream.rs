//! Streaming in the block model: the richest of the three dialects' stream shapes. OpenAI and
//! Gemini streams are folded into it and unfolded from it by per-dialect state machines.
//!
//! The grammar every producer follows and every consumer may rely on:
//! `MessageStart`, then for each block `BlockStart`, one or more `BlockDelta`, `BlockStop`
//! (blocks are sequential: block k stops before k+1 starts; indices are 0-based and contiguous),
//! then one `MessageDelta` with the stop reason and cumulative usage, then `MessageStop`.
//! `Ping` may appear anywhere after `MessageStart`. `Error` ends the stream instead of
//! `MessageDelta`/`MessageStop`.

use super::ir::{ApiError, Signature, StopReason, Usage};

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart {
        id: String,
        model: String,
        /// Best estimate at start; the final figures come with `MessageDelta`.
        usage: Usage,
    },
    BlockStart {
        index: usize,
        block: BlockStart,
    },
    BlockDelta {
        index: usize,
        delta: Delta,
    },
    BlockStop {
        index: usize,
    },
    MessageDelta {
        stop_reason: Option<StopReason>,
        stop_sequence: Option<String>,
        /// Cumulative.
        usage: Usage,
    },
    MessageStop,
    Ping,
    Error(ApiError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    Text,
    Thinking,
    RedactedThinking {
        data: String,
    },
    /// Id and name are known and non-empty when the block starts.
    ToolUse {
        id: String,
        name: String,
        signature: Option<Signature>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    Thinking(String),
    /// A signature for the open block (Anthropic sends exactly one, right before a thinking
    /// block stops; Gemini may sign any part).
    Signature(Signature),
    /// A fragment of the tool call's arguments; the fragments of one block concatenate to one
    /// JSON object.
    ToolInputJson(String),
}
