//! Logging: the tracing subscriber per `[log]` (level, `text` or `json` lines, stderr or a
//! file; `LLM_GATEWAY_LOG` overrides the level) and the one access-log line per request.
//! Secrets never reach a log line: paths are logged without their query (`?key=`), and keys
//! only by name.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use super::ServerError;
use crate::config::env;
use crate::config::file::{LogFormat, LogSection};
use crate::config::paths::Home;
use crate::usage::TokenCounts;

/// Installs the global subscriber. A second call (tests, an embedding program) keeps the first.
pub fn init(log: &LogSection, home: &Home) -> Result<(), ServerError> {
    let directive = std::env::var(env::LOG)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| log.level.clone());
    let filter = EnvFilter::try_new(&directive).map_err(|e| {
        ServerError::Other(format!(
            "invalid log level `{directive}` ([log] level): {e}"
        ))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let file = log.file.trim();
    let result = if file.is_empty() {
        match log.format {
            LogFormat::Json => builder.json().with_writer(std::io::stderr).try_init(),
            LogFormat::Text => builder.with_writer(std::io::stderr).try_init(),
        }
    } else {
        let path = {
            let p = PathBuf::from(file);
            if p.is_relative() {
                home.root().join(p)
            } else {
                p
            }
        };
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                ServerError::Other(format!("cannot open log file {}: {e}", path.display()))
            })?;
        let writer = Mutex::new(f);
        match log.format {
            LogFormat::Json => builder
                .json()
                .with_ansi(false)
                .with_writer(writer)
                .try_init(),
            LogFormat::Text => builder.with_ansi(false).with_writer(writer).try_init(),
        }
    };
    if result.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
    Ok(())
}

/// One request, as the access log shows it.
pub struct Access<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub model: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub upstream_model: Option<&'a str>,
    pub status: u16,
    pub latency_ms: u64,
    pub tokens: Option<TokenCounts>,
    /// `ok`, `client_closed`, `stream_error`, ...
    pub outcome: &'a str,
}

pub fn access(a: &Access<'_>) {
    tracing::info!(
        target: "llm_gateway::access",
        method = a.method,
        path = a.path,
        model = a.model.unwrap_or("-"),
        upstream = a.upstream.unwrap_or("-"),
        upstream_model = a.upstream_model.unwrap_or("-"),
        status = a.status,
        latency_ms = a.latency_ms,
        input_tokens = a.tokens.map(|t| t.input + t.cache_read + t.cache_write),
        output_tokens = a.tokens.map(|t| t.output),
        outcome = a.outcome,
        "request"
    );
}
