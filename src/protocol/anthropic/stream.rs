//! Anthropic SSE streams. (in progress)
pub struct StreamDecoder;
pub struct StreamEncoder;
