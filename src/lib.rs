//! llm-gateway: one local binary that lets any LLM client use any LLM upstream.
//!
//! ```text
//! client ──HTTP──▶ server (auth · limits) ──▶ protocol codec: wire JSON ──▶ ir::Request
//!                         │
//!                         ▼
//!              routing: model ──▶ ordered candidates (upstream, model, rules); failover
//!                         │
//!                         ▼
//!              upstream: ir ──▶ provider wire format (+ provider quirks) ──HTTP──▶ provider
//!                         │
//!                         ▼
//!              provider reply / SSE ──▶ ir stream events ──▶ client's codec ──▶ client
//!                         └─▶ usage accounting ──▶ store
//! ```
//!
//! Same-protocol routes skip the codecs entirely: the body is forwarded with only the model
//! edited and the reply bytes stream back untouched.
//!
//! Modules: [`protocol`] is pure (no I/O) and holds the IR and one codec per dialect;
//! [`upstream`] holds one client per provider kind and every provider quirk; [`routing`] maps
//! model names to candidates; [`server`] is the hyper front; [`store`] is the redb state and
//! secrets; [`daemon`] is the pid file and the admin socket the CLI uses while the server runs;
//! [`oauth`] holds the login flows and the token refresher; [`usage`] the accounting; [`cli`]
//! the commands; [`config`] the settings and their precedence; [`launch`] wires Claude Code,
//! Codex and Gemini CLI to the gateway and runs them.

pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(test)]
mod fuzz;
pub mod launch;
pub mod oauth;
pub mod protocol;
pub mod routing;
pub mod secret;
pub mod server;
pub mod store;
pub mod upstream;
pub mod usage;
