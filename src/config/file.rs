//! The schema of `config.toml`: hand-edited settings, parsed strictly (an unknown key is an error
//! naming it), every key optional with a default so that a file holding one table is valid.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use super::size::ByteSize;

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerSection,
    pub timeouts: TimeoutsSection,
    pub limits: LimitsSection,
    pub log: LogSection,
    pub proxy: ProxySection,
    pub secrets: SecretsSection,
    /// Stored Responses API replies (`store: true`).
    pub responses: ResponsesSection,
    /// Model name or `*` glob -> model (which may carry an `upstream/` prefix).
    pub aliases: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
    /// Endpoint overrides per provider kind (`[providers.gemini-cli]`).
    pub providers: BTreeMap<String, ProviderEndpoints>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    pub listen: String,
    /// How long shutdown waits for in-flight requests and streams before closing them.
    pub shutdown_grace_secs: u64,
    /// `Host` names (port optional; `"*"`: any) answered besides loopback ones and the bind
    /// address: the DNS-rebinding guard. On a non-loopback `listen`, setting it turns the
    /// check on (off by default there).
    pub allowed_hosts: Vec<String>,
    /// On a non-loopback `listen`, `/metrics` without a gateway key.
    pub public_metrics: bool,
    /// Web page origins (`http://localhost:5173`, `http://localhost:*` for any port, `"*"`
    /// for any) whose code may call the gateway (CORS) and open `/v1/ws`. Empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Threads that serve requests: 0 picks for the machine (see `server::runtime`), 1 serves
    /// everything on one thread, N > 1 runs N worker threads.
    pub workers: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:3847".into(),
            shutdown_grace_secs: 30,
            allowed_hosts: Vec::new(),
            public_metrics: false,
            cors_origins: Vec::new(),
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsSection {
    pub connect_secs: u64,
    pub first_byte_secs: u64,
    pub idle_secs: u64,
    pub total_secs: u64,
    /// A client connection must send a whole request head within this long of connecting, or
    /// of its first byte after a pause between requests; it is closed otherwise.
    pub client_header_secs: u64,
    /// A client connection with no request in flight is closed after this long (never while a
    /// reply, however quiet, is still being sent).
    pub client_idle_secs: u64,
    /// A request body must arrive whole within this long of its head (408 otherwise).
    pub client_body_secs: u64,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection {
            connect_secs: 10,
            first_byte_secs: 120,
            idle_secs: 300,
            total_secs: 1800,
            client_header_secs: 10,
            client_idle_secs: 60,
            client_body_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    pub max_body_bytes: u64,
    /// Client connections open at once. A new one past it closes the connection that has been
    /// idle longest, or is closed itself when every connection has a request in flight. Lowered
    /// at start to what the process's file descriptor limit leaves room for.
    pub max_connections: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_body_bytes: 32 * 1024 * 1024,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: LogFormat,
    /// Log file path (relative to the home); when empty, stderr in the foreground and
    /// `gateway.log` for `server start --detach`.
    pub file: String,
    /// A log file is rotated before a line would take it past this size; 0 never rotates.
    pub max_size: ByteSize,
    /// Rotated files kept (`gateway.log.1` newest .. `gateway.log.<keep>`), the oldest dropped.
    #[serde(deserialize_with = "keep_count")]
    pub keep: u32,
}

/// The most rotated log files `[log] keep` may ask for.
pub const MAX_LOG_KEEP: u32 = 100;

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
            format: LogFormat::Text,
            file: String::new(),
            max_size: ByteSize(10_000_000),
            keep: 5,
        }
    }
}

fn keep_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n > MAX_LOG_KEEP {
        return Err(serde::de::Error::custom(format!(
            "keep {n} is more than {MAX_LOG_KEEP} files"
        )));
    }
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySection {
    /// Proxy for upstream HTTP(S) traffic; `HTTPS_PROXY` is used when empty.
    pub url: String,
    /// Comma-separated hosts that bypass the proxy; `NO_PROXY` is used when empty.
    pub no_proxy: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsBackend {
    /// The OS keyring where one answers, else the owner-only table in the store.
    #[default]
    Auto,
    Keyring,
    File,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSection {
    pub backend: SecretsBackend,
}

/// Bounds on the Responses API replies the gateway keeps for `previous_response_id` and
/// `GET /v1/responses/{id}`: the oldest go first. Either at 0 keeps none.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponsesSection {
    pub max_age_days: u64,
    pub max_stored: u64,
}

impl Default for ResponsesSection {
    fn default() -> Self {
        ResponsesSection {
            max_age_days: 30,
            max_stored: 10_000,
        }
    }
}

/// A request rewrite for the models it matches: `unset`, then `set`, then `extra` (merged into
/// the upstream request body). `match = "default"` applies when no other rule matched.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub unset: Vec<String>,
    pub set: toml::Table,
    pub extra: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderEndpoints {
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub device_url: Option<String>,
    pub api_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub revoke_url: Option<String>,
    /// Bedrock's control plane (model lists).
    pub control_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// toml's message names the unknown or mistyped key and its line.
    #[error("invalid {path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads the file, or the defaults when it does not exist.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// Written on first run when no config.toml exists; never overwritten.
pub const TEMPLATE: &str = r#"# llm-gateway configuration. Every key is optional: a missing key takes the default shown.
# Managed state (upstreams, API keys, OAuth logins, usage) lives in gateway.redb and is changed
# with the CLI (`llm-gateway upstream add ...`), not here.
# A running server applies a saved change within a second, except [server] listen,
# allowed_hosts and public_metrics, [timeouts] connect_secs, [proxy], [secrets], [log] file and
# [providers.*], which wait for a restart. A file that does not parse changes nothing.

[server]
# listen = "127.0.0.1:3847"
# shutdown_grace_secs = 30      # how long `server stop` waits for in-flight streams
# allowed_hosts = []            # Host names answered besides localhost, 127.0.0.1 and [::1]
#                               # (a guard against DNS rebinding), e.g. ["gateway.lan:3847"];
#                               # "*" answers any. On a non-loopback listen every Host is
#                               # answered unless this is set.
# public_metrics = false        # on a non-loopback listen, /metrics needs a gateway key unless true
# cors_origins = []             # web pages allowed to call the gateway from a browser (CORS), e.g.
#                               # ["http://localhost:5173", "http://127.0.0.1:*"]; "*" allows any
#                               # page (then any site you visit can spend your upstreams). Empty:
#                               # no Access-Control-* header is ever sent.
# workers = 0                   # threads serving requests; 0 = one (enough for one user)

[timeouts]
# connect_secs = 10
# first_byte_secs = 120         # upstream silence before the first byte -> 504
# idle_secs = 300               # upstream silence mid-stream -> stream error
# total_secs = 1800
# client_header_secs = 10       # a client's request head must arrive within this (else closed)
# client_idle_secs = 60         # a client connection between requests is closed after this
# client_body_secs = 60         # a request body must arrive within this (else 408)

[limits]
# max_body_bytes = 33554432     # 32 MiB; larger request bodies get 413
# max_connections = 1024        # client connections at once; past it the longest idle is closed

[log]
# level = "info"                # error | warn | info | debug | trace
# format = "text"               # text | json (one JSON object per line)
# file = ""                     # when empty: stderr, or gateway.log with `server start --detach`
# max_size = "10MB"             # rotate the log file before it passes this (0: never); bytes,
#                               # or a number with KB, MB, GB (1000s) or KiB, MiB, GiB (1024s)
# keep = 5                      # rotated files kept: gateway.log.1 (newest) .. gateway.log.5

[proxy]
# url = ""                      # upstream proxy; HTTPS_PROXY is honoured when empty
# no_proxy = ""                 # NO_PROXY is honoured when empty

[secrets]
# backend = "auto"              # auto | keyring | file

[responses]                     # Responses API replies kept for previous_response_id and
#                               # GET /v1/responses/{id} (store: true, the SDKs' default)
# max_age_days = 30             # older ones are deleted
# max_stored = 10000            # past this many, the oldest are deleted; 0 here or above: keep none

# Model name or glob -> model, optionally with an upstream prefix; the most specific pattern
# wins. `llm-gateway alias set PATTERN TARGET` edits this table. For Claude Code on Qwen/Gemini:
[aliases]
# "claude-*haiku*" = "qw/qwen3-coder-flash"
# "claude-*" = "gem/gemini-2.5-pro"

# [[rules]]                     # request rewrites for matching models: unset, then set, then extra
# match = "gpt-4*"
# unset = ["frequency_penalty"]
# set = { temperature = 0.2 }
# extra = { reasoning_effort = "low" }

# [providers.gemini]            # endpoint overrides (also LLM_GATEWAY_<KIND>_<ENDPOINT>_URL)
# api_url = "https://generativelanguage.googleapis.com"
# Keys of any [providers.KIND]: api_url, and for the OAuth logins auth_url, token_url,
# userinfo_url, revoke_url (gemini-cli), device_url, token_url (qwen) and control_url
# (bedrock, the model lists). For example:
# [providers.gemini-cli]
# auth_url = "https://accounts.google.com/o/oauth2/v2/auth"
# token_url = "https://oauth2.googleapis.com/token"
# userinfo_url = "https://www.googleapis.com/oauth2/v2/userinfo"
# revoke_url = "https://oauth2.googleapis.com/revoke"
# api_url = "https://cloudcode-pa.googleapis.com"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c = Config::parse(TEMPLATE, Path::new("config.toml")).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn one_table_is_enough() {
        let c = Config::parse("[timeouts]\nconnect_secs = 3\n", Path::new("c")).unwrap();
        assert_eq!(c.timeouts.connect_secs, 3);
        assert_eq!(c.timeouts.first_byte_secs, 120);
        assert_eq!(c.server.listen, "127.0.0.1:3847");
        assert_eq!(c.server.workers, 0);
        let c = Config::parse("[server]\nworkers = 2\n", Path::new("c")).unwrap();
        assert_eq!(c.server.workers, 2);
    }

    #[test]
    fn server_guard_keys() {
        let text = "[server]\nallowed_hosts = [\"gw.lan:3847\", \"*\"]\npublic_metrics = true\n";
        let c = Config::parse(text, Path::new("c")).unwrap();
        assert_eq!(c.server.allowed_hosts, ["gw.lan:3847", "*"]);
        assert!(c.server.public_metrics);
        assert!(Config::default().server.allowed_hosts.is_empty());
        assert!(!Config::default().server.public_metrics);
        let c = Config::parse(
            "[server]\ncors_origins = [\"http://localhost:5173\", \"*\"]\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.server.cors_origins, ["http://localhost:5173", "*"]);
        assert!(Config::default().server.cors_origins.is_empty());
    }

    #[test]
    fn responses_bounds() {
        let c = Config::parse("[responses]\nmax_stored = 5\n", Path::new("c")).unwrap();
        assert_eq!((c.responses.max_age_days, c.responses.max_stored), (30, 5));
        let err = Config::parse("[responses]\nmax_days = 5\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("max_days"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[server]\nlisten_addr = \"x\"\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn log_rotation_keys() {
        let c = Config::parse("[log]\nmax_size = \"2 MiB\"\nkeep = 3\n", Path::new("c")).unwrap();
        assert_eq!(c.log.max_size, ByteSize(2 * 1024 * 1024));
        assert_eq!(c.log.keep, 3);
        let c = Config::parse("[log]\nmax_size = 4096\n", Path::new("c")).unwrap();
        assert_eq!(c.log.max_size, ByteSize(4096));
        assert_eq!(c.log.keep, 5);
        assert_eq!(Config::default().log.max_size, ByteSize(10_000_000));

        for (text, says) in [
            ("[log]\nmax_size = \"10 M\"\n", "invalid size \"10 M\""),
            ("[log]\nmax_size = -1\n", "cannot be negative"),
            ("[log]\nmax_size = 1.5\n", "KiB"),
            ("[log]\nkeep = 101\n", "more than 100"),
            ("[log]\nkeep = -1\n", "keep"),
        ] {
            let err = Config::parse(text, Path::new("c")).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.contains("line 2"), "{text}: {err}");
        }
    }

    #[test]
    fn aliases_rules_and_providers() {
        let text = r#"
[aliases]
"claude-*haiku*" = "qw/qwen3-coder-flash"
[[rules]]
match = "gpt-4*"
unset = ["top_p"]
set = { temperature = 0.2 }
[providers.gemini-cli]
token_url = "http://127.0.0.1:1/token"
"#;
        let c = Config::parse(text, Path::new("c")).unwrap();
        assert_eq!(c.aliases["claude-*haiku*"], "qw/qwen3-coder-flash");
        assert_eq!(c.rules[0].pattern, "gpt-4*");
        assert_eq!(
            c.providers["gemini-cli"].token_url.as_deref(),
            Some("http://127.0.0.1:1/token")
        );
    }
}
