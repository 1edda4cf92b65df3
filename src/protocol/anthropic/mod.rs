//! The anthropic dialect (to be written).
