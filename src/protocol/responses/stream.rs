//! Responses streams <-> block-model [`StreamEvent`]s (reference §4, §7.2, §7.3).
//!
//! [`StreamEncoder`] writes the grammar the openai SDK and Codex enforce: `response.created`
//! then `response.in_progress` first; `sequence_number` from 0, strictly increasing; `type`
//! inside every data object; each item opened with `output_item.added` (and a
//! `content_part.added` / `reasoning_summary_part.added` before its deltas) and closed with
//! `output_item.done` carrying the whole item before the next opens; exactly one terminal event
//! (`response.completed`, `response.incomplete` with its reason, or `response.failed` with a
//! code Codex acts on); no `[DONE]`. `Ping` is an SSE comment (no sequence number used).
//! Text and thinking items open on their first delta, so an empty block makes no item; a
//! custom tool's JSON arguments are buffered and sent as raw text when the call ends.
//!
//! [`StreamDecoder`] reads a Responses upstream's events into blocks: message text and refusals
//! into text blocks, reasoning summaries into thinking (OpenAI's `encrypted_content`, from
//! `output_item.done` only, becomes the block's signature), calls into `tool_use` blocks.
//!
//! The encoder is `stream/encode.rs`, the decoder `stream/decode.rs`.

mod decode;
mod encode;

pub use decode::StreamDecoder;
pub use encode::StreamEncoder;

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
