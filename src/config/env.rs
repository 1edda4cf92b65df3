//! Every environment variable the gateway reads, named in one place.

/// Overrides the home folder (`~/.llm-gateway`); `--home` overrides this.
pub const HOME: &str = "LLM_GATEWAY_HOME";
/// Overrides `[log] level` (an `EnvFilter` directive such as `debug` or `llm_gateway=trace`).
pub const LOG: &str = "LLM_GATEWAY_LOG";
/// Overrides `[log] file`. `server start --detach` sets it for the server it starts, to the
/// file that server's stdout and stderr go to (`[log] file`, else `gateway.log`).
pub const LOG_FILE: &str = "LLM_GATEWAY_LOG_FILE";
/// Overrides `[secrets] backend` (`auto`, `keyring`, `file`).
pub const SECRETS_BACKEND: &str = "LLM_GATEWAY_SECRETS_BACKEND";
/// Overrides `[server] workers` (threads serving requests; 0 picks for the machine).
pub const WORKERS: &str = "LLM_GATEWAY_WORKERS";
/// Standard proxy variables, honoured when `[proxy]` is empty.
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
pub const NO_PROXY: &str = "NO_PROXY";
/// Standard: disables colour in terminal output.
pub const NO_COLOR: &str = "NO_COLOR";
/// Code Assist project for `oauth login gemini-cli` when `--project` is not given.
pub const GOOGLE_CLOUD_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
/// Set by `launch codex` for the Codex custom provider it configures (`env_key`): the
/// launcher's gateway key. The gateway itself does not read it.
pub const LAUNCH_API_KEY: &str = "LLM_GATEWAY_API_KEY";

/// Applies the variables that override `config.toml` keys (`LLM_GATEWAY_SECRETS_BACKEND`,
/// `LLM_GATEWAY_LOG`), read through `getenv`; the error names a variable with a bad value.
pub fn apply_overrides(
    config: &mut super::Config,
    getenv: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    use super::file::SecretsBackend;
    if let Some(v) = getenv(SECRETS_BACKEND).filter(|v| !v.trim().is_empty()) {
        config.secrets.backend = match v.trim() {
            "auto" => SecretsBackend::Auto,
            "keyring" => SecretsBackend::Keyring,
            "file" => SecretsBackend::File,
            other => {
                return Err(format!(
                    "{SECRETS_BACKEND} must be auto, keyring or file (got `{other}`)"
                ));
            }
        };
    }
    if let Some(v) = getenv(LOG).filter(|v| !v.trim().is_empty()) {
        config.log.level = v.trim().to_string();
    }
    if let Some(v) = getenv(LOG_FILE).filter(|v| !v.trim().is_empty()) {
        config.log.file = v.trim().to_string();
    }
    if let Some(v) = getenv(WORKERS).filter(|v| !v.trim().is_empty()) {
        config.server.workers = v.trim().parse().map_err(|_| {
            format!(
                "{WORKERS} must be a whole number of threads, 0 to pick for the machine (got `{}`)",
                v.trim()
            )
        })?;
    }
    Ok(())
}

/// The endpoint override variable of a provider kind: `LLM_GATEWAY_<KIND>_<ENDPOINT>_URL`, kind
/// upper-cased with `-` as `_` (e.g. `LLM_GATEWAY_GEMINI_CLI_TOKEN_URL`).
pub fn endpoint_var(kind: &str, endpoint: &str) -> String {
    format!(
        "LLM_GATEWAY_{}_{}_URL",
        kind.to_ascii_uppercase().replace('-', "_"),
        endpoint.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoint_var_names() {
        assert_eq!(
            super::endpoint_var("gemini-cli", "token"),
            "LLM_GATEWAY_GEMINI_CLI_TOKEN_URL"
        );
        assert_eq!(
            super::endpoint_var("qwen", "api"),
            "LLM_GATEWAY_QWEN_API_URL"
        );
    }
}
