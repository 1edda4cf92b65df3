//! The gemini dialect (to be written).
