//! The schema of `config.toml`: hand-edited settings, parsed strictly (an unknown key is an error
//! naming it), every key optional with a default so that a file holding one table is valid.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerSection,
    pub timeouts: TimeoutsSection,
    pub limits: LimitsSection,
    pub log: LogSection,
    pub proxy: ProxySection,
    pub secrets: SecretsSection,
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
    /// Threads that serve requests: 0 picks for the machine (see `server::runtime`), 1 serves
    /// everything on one thread, N > 1 runs N worker threads.
    pub workers: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:3847".into(),
            shutdown_grace_secs: 30,
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
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection {
            connect_secs: 10,
            first_byte_secs: 120,
            idle_secs: 300,
            total_secs: 1800,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    pub max_body_bytes: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_body_bytes: 32 * 1024 * 1024,
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
    /// Log file path; stderr when empty.
    pub file: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
            format: LogFormat::Text,
            file: String::new(),
        }
    }
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

[server]
# listen = "127.0.0.1:3847"
# shutdown_grace_secs = 30      # how long `server stop` waits for in-flight streams
# workers = 0                   # threads serving requests; 0 = one (enough for one user)

[timeouts]
# connect_secs = 10
# first_byte_secs = 120         # upstream silence before the first byte -> 504
# idle_secs = 300               # upstream silence mid-stream -> stream error
# total_secs = 1800

[limits]
# max_body_bytes = 33554432     # 32 MiB; larger request bodies get 413

[log]
# level = "info"                # error | warn | info | debug | trace
# format = "text"               # text | json (one JSON object per line)
# file = ""                     # stderr when empty

[proxy]
# url = ""                      # upstream proxy; HTTPS_PROXY is honoured when empty
# no_proxy = ""                 # NO_PROXY is honoured when empty

[secrets]
# backend = "auto"              # auto | keyring | file

[aliases]
# Model name or glob -> model, optionally with an upstream prefix. For Claude Code on Qwen/Gemini:
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
# userinfo_url, revoke_url (gemini-cli) and device_url, token_url (qwen). For example:
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
    fn unknown_key_is_named() {
        let err = Config::parse("[server]\nlisten_addr = \"x\"\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
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
