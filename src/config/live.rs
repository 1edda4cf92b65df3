//! What a running server makes of a changed `config.toml` (the watcher is
//! `server::config_watch`): the file parsed with its error worded on one line naming the key
//! and the line, the keys applied at once split from those read only at start, and
//! [`ConfigState`], what `status` and `alias` are told about the file on disk.
//!
//! Applied at once: `[aliases]`, `[[rules]]`, `[log] level` and `format`, `[limits]`,
//! `[timeouts]` except `connect_secs`, `[responses]`, and `[server] shutdown_grace_secs`. Every other key
//! (the listen address, the Host guard, the upstream HTTP client's connect timeout and proxy,
//! the secret backend, the log file, provider endpoints, and any key added later until it is
//! listed here) keeps the value the server started with and is reported as needing a restart.

use serde::{Deserialize, Serialize};

use super::Config;

/// The file on disk as the running server sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigState {
    /// Whether the file on disk is the one in force. `false`: it no longer parses (or is
    /// missing), and the settings it had before stay in force.
    pub in_force: bool,
    /// Why it is not in force, on one line.
    #[serde(default)]
    pub error: Option<String>,
    /// Keys whose value on disk differs from the one in force because only a restart reads
    /// them (`server.listen`, ...).
    #[serde(default)]
    pub needs_restart: Vec<String>,
}

/// Parses `text` strictly, as at start; the error is one line naming the key (when the line
/// holds one) and the line.
pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| describe(text, e.message(), e.span()))
}

fn describe(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let message = message.trim().replace('\n', "; ");
    let Some(span) = span else {
        return message;
    };
    let at = span.start.min(text.len());
    let line_no = text
        .get(..at)
        .map_or(1, |before| before.matches('\n').count() + 1);
    match key_on_line(text, line_no) {
        Some(key) => format!("`{key}` (line {line_no}): {message}"),
        None => format!("line {line_no}: {message}"),
    }
}

/// The dotted key a line is about: the table header it is under and the key it assigns (or the
/// header itself when the line is one).
fn key_on_line(text: &str, line_no: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no.checked_sub(1)?)?.trim();
    if let Some(header) = header_of(line) {
        return Some(header);
    }
    let (key, _) = line.split_once('=')?;
    let key = unquote(key.trim());
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let table = lines
        .get(..line_no - 1)?
        .iter()
        .rev()
        .find_map(|l| header_of(l.trim()));
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key,
    })
}

/// `[a.b]` or `[[a]]` -> `a.b` / `a`.
fn header_of(line: &str) -> Option<String> {
    let inner = line
        .strip_prefix("[[")
        .and_then(|l| l.split_once("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.split_once(']')))?
        .0;
    Some(unquote(inner.trim()))
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// The config to put in force for a file that parsed as `file` (environment overrides
/// applied, as at start): its keys that apply at once, over the values the server started with
/// for the rest.
pub fn in_force(started: &Config, file: &Config) -> Config {
    let mut c = started.clone();
    c.aliases = file.aliases.clone();
    c.rules = file.rules.clone();
    // The accept loop sizes its connection table and its header and idle deadlines once, at
    // start: those keys wait for a restart.
    c.limits = super::file::LimitsSection {
        max_connections: started.limits.max_connections,
        ..file.limits.clone()
    };
    c.timeouts = super::file::TimeoutsSection {
        connect_secs: started.timeouts.connect_secs,
        client_header_secs: started.timeouts.client_header_secs,
        client_idle_secs: started.timeouts.client_idle_secs,
        ..file.timeouts.clone()
    };
    c.server.shutdown_grace_secs = file.server.shutdown_grace_secs;
    c.server.cors_origins = file.server.cors_origins.clone();
    c.log.format = file.log.format;
    c.log.level = file.log.level.clone();
    // Read by the stored-responses writer at each write and prune.
    c.responses = file.responses.clone();
    c
}

/// The keys of `file` that [`in_force`] could not apply: they differ from the values the
/// server started with and only a restart reads them.
pub fn needs_restart(started: &Config, file: &Config) -> Vec<String> {
    differences(&in_force(started, file), file)
}

/// The dotted keys whose values differ between `a` and `b` (`timeouts.idle_secs`,
/// `aliases.claude-*`), sorted.
pub fn differences(a: &Config, b: &Config) -> Vec<String> {
    let (Ok(a), Ok(b)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else {
        return vec!["config".into()];
    };
    let mut out = Vec::new();
    diff("", &a, &b, &mut out);
    out.sort();
    out
}

fn diff(path: &str, a: &toml::Value, b: &toml::Value, out: &mut Vec<String>) {
    match (a, b) {
        (toml::Value::Table(ta), toml::Value::Table(tb)) => {
            let keys: std::collections::BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (ta.get(k), tb.get(k)) {
                    (Some(x), Some(y)) => diff(&sub, x, y, out),
                    _ => out.push(sub),
                }
            }
        }
        _ if a != b => out.push(path.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_its_table_and_line() {
        let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.starts_with("`server.listen_addr` (line 3): "), "{err}");
        assert!(err.contains("unknown field"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = parse("# c\n[timeouts]\nconnect_secs = \"ten\"\n").unwrap_err();
        assert!(
            err.starts_with("`timeouts.connect_secs` (line 3): "),
            "{err}"
        );
        let err = parse("[aliases]\n\"claude-*\" = 3\n").unwrap_err();
        assert!(err.starts_with("`aliases.claude-*` (line 2): "), "{err}");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let err = parse("[aliases]\n\"a\" = \"b\"\n\"c\" = \n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = parse("[srever]\n").unwrap_err();
        assert!(err.contains("srever") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn live_keys_apply_and_the_rest_wait_for_a_restart() {
        let started = Config::default();
        let mut file = Config::default();
        file.aliases.insert("claude-*".into(), "gem/x".into());
        file.timeouts.idle_secs = 7;
        file.timeouts.connect_secs = 3;
        file.server.listen = "127.0.0.1:1".into();
        file.log.level = "debug".into();
        file.server.cors_origins = vec!["http://localhost:5173".into()];
        file.limits.max_connections = 9;
        file.responses.max_stored = 5;
        let c = in_force(&started, &file);
        assert_eq!(c.responses.max_stored, 5);
        assert_eq!(c.server.cors_origins, ["http://localhost:5173"]);
        assert_eq!(c.aliases["claude-*"], "gem/x");
        assert_eq!(c.timeouts.idle_secs, 7);
        assert_eq!(c.timeouts.connect_secs, 10);
        assert_eq!(c.server.listen, "127.0.0.1:3847");
        assert_eq!(c.log.level, "debug");
        assert_eq!(
            needs_restart(&started, &file),
            [
                "limits.max_connections",
                "server.listen",
                "timeouts.connect_secs"
            ]
        );
        assert_eq!(
            differences(&started, &c),
            [
                "aliases.claude-*",
                "log.level",
                "responses.max_stored",
                "server.cors_origins",
                "timeouts.idle_secs"
            ]
        );
    }
}
