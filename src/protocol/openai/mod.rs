//! The openai dialect (to be written).
