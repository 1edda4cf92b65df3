//! PURE: no tokio, hyper, reqwest or store imports. The neutral IR ([`ir`], [`stream`]), SSE
//! framing ([`sse`]), the codec contract ([`codec`]), one codec per dialect, each with the
//! same file and function names, and the registry over them ([`dialect`]).

pub mod anthropic;
pub mod codec;
pub mod converse;
pub mod dialect;
#[cfg(test)]
mod fixtures;
pub mod gemini;
pub mod ir;
pub mod json;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod stream;
pub mod text;

pub use codec::Call;
