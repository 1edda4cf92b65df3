//! Every environment variable the gateway reads, named in one place.

/// Overrides the home folder (`~/.llm-gateway`); `--home` overrides this.
pub const HOME: &str = "LLM_GATEWAY_HOME";
/// Overrides `[log] level` (an `EnvFilter` directive such as `debug` or `llm_gateway=trace`).
pub const LOG: &str = "LLM_GATEWAY_LOG";
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
