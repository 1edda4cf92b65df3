//! Translation conformance: every client dialect against every upstream kind, through the
//! in-process gateway and fake upstreams on port 0.
//!
//! A cell names (client dialect, upstream kind, case). The harness ([`rig`]) states each case
//! once, in IR: the client's request is encoded into the client's dialect by that dialect's
//! codec, the upstream's reply into the upstream's dialect (Code Assist: inside its envelope).
//! Each cell then checks what the client received (decoded with the client dialect's codec;
//! Anthropic streams also through an SSE grammar linter, Responses replies through
//! [`responses_client`]'s grammar and shape checks) and what the fake upstream received (the
//! translated request, decoded with the upstream's codec, plus path, auth and quirks; Bedrock's
//! Converse body read back through its wire types and checked against AWS's request rules).

mod azure;
mod bedrock;
mod bedrock_auth;
mod behaviour;
mod claude_code;
mod lint;
mod matrix;
mod responses_client;
mod responses_up;
pub mod rig;
mod rule_codes;
mod thinking_history;
