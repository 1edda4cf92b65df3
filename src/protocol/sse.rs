//! Incremental SSE framing (to be written).
