//! Logging: the tracing subscriber per `[log]` (level, `text` or `json` lines, stderr or a
//! file; `LLM_GATEWAY_LOG` overrides the level) and the one access-log line per request.
//! A log file (`[log] file`, which `server start --detach` sets to `gateway.log` when empty) is
//! rotated by size (see `log_file`). Secrets never reach a log line: paths are logged without
//! their query (`?key=`), and keys only by name. The level and the format sit behind reload
//! handles ([`LogControl`]), so a reloaded `config.toml` changes them in the running server.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use super::ServerError;
use super::log_file::LogFile;
use crate::config::env;
use crate::config::file::{LogFormat, LogSection};
use crate::config::paths::Home;
use crate::usage::TokenCounts;

type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type Formatter = Box<dyn Layer<Filtered> + Send + Sync>;

/// Where log lines go, fixed at start.
#[derive(Clone)]
enum Sink {
    Stderr,
    File(Arc<LogFile>),
}

/// The running subscriber's level and format, changeable while it runs.
pub struct LogControl {
    /// `None` when another subscriber was installed first (tests, an embedding program).
    handles: Option<(
        reload::Handle<EnvFilter, Registry>,
        reload::Handle<Formatter, Filtered>,
    )>,
    sink: Sink,
    /// `LLM_GATEWAY_LOG` set the level: the file's level does not apply.
    level_from_env: bool,
    /// The level directive and format in use.
    current: Mutex<(String, LogFormat)>,
}

impl LogControl {
    /// Whether `log`'s level would be accepted, worded for the config file.
    pub fn check(&self, log: &LogSection) -> Result<(), String> {
        if self.level_from_env {
            return Ok(());
        }
        filter(&log.level).map(drop)
    }

    /// Applies `log`'s level (unless `LLM_GATEWAY_LOG` set it) and format; `true` when
    /// something changed.
    pub fn apply(&self, log: &LogSection) -> bool {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut changed = false;
        if !self.level_from_env
            && current.0 != log.level
            && let Ok(f) = filter(&log.level)
        {
            if let Some((h, _)) = &self.handles
                && let Err(e) = h.reload(f)
            {
                tracing::debug!("cannot change the log level: {e}");
            }
            current.0 = log.level.clone();
            changed = true;
        }
        if current.1 != log.format {
            if let Some((_, h)) = &self.handles
                && let Err(e) = h.reload(formatter(log.format, &self.sink))
            {
                tracing::debug!("cannot change the log format: {e}");
            }
            current.1 = log.format;
            changed = true;
        }
        changed
    }
}

fn filter(directive: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(directive)
        .map_err(|e| format!("invalid log level `{directive}` ([log] level): {e}"))
}

fn formatter(format: LogFormat, sink: &Sink) -> Formatter {
    let layer = tracing_subscriber::fmt::layer().with_target(false);
    match (format, sink) {
        (LogFormat::Json, Sink::Stderr) => {
            Box::new(layer.json().with_ansi(false).with_writer(std::io::stderr))
        }
        (LogFormat::Text, Sink::Stderr) => {
            // Colour only on a terminal: stderr may be redirected to a file.
            let ansi = colour(
                std::io::stderr().is_terminal(),
                std::env::var_os(env::NO_COLOR),
            );
            Box::new(layer.with_ansi(ansi).with_writer(std::io::stderr))
        }
        (LogFormat::Json, Sink::File(f)) => {
            Box::new(layer.json().with_ansi(false).with_writer(Arc::clone(f)))
        }
        (LogFormat::Text, Sink::File(f)) => {
            Box::new(layer.with_ansi(false).with_writer(Arc::clone(f)))
        }
    }
}

/// The log file: `[log] file`, relative to the home; `None`: stderr.
pub fn log_path(log: &LogSection, home: &Home) -> Option<PathBuf> {
    let file = log.file.trim();
    if file.is_empty() {
        return None;
    }
    let p = Path::new(file);
    Some(if p.is_relative() {
        home.root().join(p)
    } else {
        p.to_path_buf()
    })
}

/// Installs the global subscriber. A second call (tests, an embedding program) keeps the first,
/// and its [`LogControl`] changes nothing.
pub fn init(log: &LogSection, home: &Home) -> Result<LogControl, ServerError> {
    let env_level = std::env::var(env::LOG)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let directive = env_level.clone().unwrap_or_else(|| log.level.clone());
    let level = filter(&directive).map_err(ServerError::Other)?;
    let sink = match log_path(log, home) {
        None => Sink::Stderr,
        Some(path) => {
            let writer = LogFile::open(&path, log.max_size.bytes(), log.keep).map_err(|e| {
                ServerError::Other(format!("cannot open log file {}: {e}", path.display()))
            })?;
            Sink::File(Arc::new(writer))
        }
    };
    let (level_layer, level_handle) = reload::Layer::new(level);
    let (format_layer, format_handle) = reload::Layer::new(formatter(log.format, &sink));
    let installed = tracing_subscriber::registry()
        .with(level_layer)
        .with(format_layer)
        .try_init()
        .is_ok();
    if !installed {
        tracing::debug!("a tracing subscriber was already installed");
    }
    Ok(LogControl {
        handles: installed.then_some((level_handle, format_handle)),
        sink,
        level_from_env: env_level.is_some(),
        current: Mutex::new((directive, log.format)),
    })
}

/// Whether log lines to stderr get colour codes: only on a terminal, and never with `NO_COLOR`
/// set to anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn access_line_is_one_json_object() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            access(&Access {
                method: "POST",
                path: "/v1/chat/completions",
                model: Some("oai/gpt-4o"),
                upstream: Some("oai"),
                upstream_model: Some("gpt-4o"),
                status: 200,
                latency_ms: 12,
                tokens: Some(TokenCounts {
                    input: 3,
                    output: 4,
                    cache_read: 1,
                    cache_write: 0,
                }),
                outcome: "ok",
            });
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let f = &v["fields"];
        assert_eq!(f["method"], "POST");
        assert_eq!(f["path"], "/v1/chat/completions");
        assert_eq!(f["model"], "oai/gpt-4o");
        assert_eq!(f["upstream"], "oai");
        assert_eq!(f["status"], 200);
        assert_eq!(f["latency_ms"], 12);
        assert_eq!(f["input_tokens"], 4);
        assert_eq!(f["output_tokens"], 4);
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
