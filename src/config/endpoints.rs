//! Provider kinds and their fixed endpoints: public defaults, overridable by `[providers.KIND]`
//! in config.toml and by `LLM_GATEWAY_<KIND>_<ENDPOINT>_URL` (env wins over the file).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::env;
use super::file::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Gemini,
    GeminiCli,
    Qwen,
    Deepseek,
    /// Azure OpenAI (v1 endpoint, `api-key` header, deployments as models).
    Azure,
    /// AWS Bedrock (Converse / ConverseStream, SigV4 or a Bedrock API key, per-region hosts).
    Bedrock,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 8] = [
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::GeminiCli,
        ProviderKind::Qwen,
        ProviderKind::Deepseek,
        ProviderKind::Azure,
        ProviderKind::Bedrock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::GeminiCli => "gemini-cli",
            ProviderKind::Qwen => "qwen",
            ProviderKind::Deepseek => "deepseek",
            ProviderKind::Azure => "azure",
            ProviderKind::Bedrock => "bedrock",
        }
    }

    /// The public default of one of this kind's endpoints, if it has that endpoint. Azure has
    /// none: every resource has its own host, so `--base-url` is required.
    pub fn default_endpoint(self, endpoint: Endpoint) -> Option<&'static str> {
        use Endpoint::*;
        use ProviderKind::*;
        match (self, endpoint) {
            (Openai, Api) => Some("https://api.openai.com/v1"),
            (Anthropic, Api) => Some("https://api.anthropic.com"),
            (Gemini, Api) => Some("https://generativelanguage.googleapis.com"),
            (GeminiCli, Auth) => Some("https://accounts.google.com/o/oauth2/v2/auth"),
            (GeminiCli, Token) => Some("https://oauth2.googleapis.com/token"),
            (GeminiCli, Api) => Some("https://cloudcode-pa.googleapis.com"),
            (GeminiCli, Userinfo) => Some("https://www.googleapis.com/oauth2/v2/userinfo"),
            (GeminiCli, Revoke) => Some("https://oauth2.googleapis.com/revoke"),
            (Qwen, Api) => Some("https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
            (Qwen, Device) => Some("https://chat.qwen.ai/api/v1/oauth2/device/code"),
            (Qwen, Token) => Some("https://chat.qwen.ai/api/v1/oauth2/token"),
            (Deepseek, Api) => Some("https://api.deepseek.com/v1"),
            // `{region}` is put in by the kind (`upstream::kinds::bedrock`).
            (Bedrock, Api) => Some("https://bedrock-runtime.{region}.amazonaws.com"),
            (Bedrock, Control) => Some("https://bedrock.{region}.amazonaws.com"),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown provider `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Api,
    Auth,
    Token,
    Device,
    /// The account e-mail after an OAuth login (Google).
    Userinfo,
    /// Token revocation at logout (Google).
    Revoke,
    /// A control plane beside the API (Bedrock's model lists).
    Control,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Api => "api",
            Endpoint::Auth => "auth",
            Endpoint::Token => "token",
            Endpoint::Device => "device",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Revoke => "revoke",
            Endpoint::Control => "control",
        }
    }
}

/// The endpoint to use: env override, then `[providers.KIND]`, then the public default.
pub fn resolve(config: &Config, kind: ProviderKind, endpoint: Endpoint) -> Option<String> {
    resolve_with(config, kind, endpoint, |name| std::env::var(name).ok())
}

/// [`resolve`] with the environment passed in, for tests.
pub fn resolve_with(
    config: &Config,
    kind: ProviderKind,
    endpoint: Endpoint,
    getenv: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(v) = getenv(&env::endpoint_var(kind.as_str(), endpoint.as_str()))
        .filter(|v| !v.trim().is_empty())
    {
        return Some(v.trim().to_string());
    }
    if let Some(p) = config.providers.get(kind.as_str()) {
        let from_file = match endpoint {
            Endpoint::Api => &p.api_url,
            Endpoint::Auth => &p.auth_url,
            Endpoint::Token => &p.token_url,
            Endpoint::Device => &p.device_url,
            Endpoint::Userinfo => &p.userinfo_url,
            Endpoint::Revoke => &p.revoke_url,
            Endpoint::Control => &p.control_url,
        };
        if let Some(v) = from_file.as_ref().filter(|v| !v.trim().is_empty()) {
            return Some(v.trim().to_string());
        }
    }
    kind.default_endpoint(endpoint).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::ProviderEndpoints;

    #[test]
    fn env_beats_file_beats_default() {
        let mut c = Config::default();
        assert_eq!(
            resolve_with(&c, ProviderKind::GeminiCli, Endpoint::Token, |_| None).as_deref(),
            Some("https://oauth2.googleapis.com/token")
        );
        c.providers.insert(
            "gemini-cli".into(),
            ProviderEndpoints {
                token_url: Some("http://file".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            resolve_with(&c, ProviderKind::GeminiCli, Endpoint::Token, |_| None).as_deref(),
            Some("http://file")
        );
        let env = |n: &str| (n == "LLM_GATEWAY_GEMINI_CLI_TOKEN_URL").then(|| "http://env".into());
        assert_eq!(
            resolve_with(&c, ProviderKind::GeminiCli, Endpoint::Token, env).as_deref(),
            Some("http://env")
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in ProviderKind::ALL {
            assert_eq!(k.as_str().parse::<ProviderKind>().unwrap(), k);
        }
        assert!("vertex".parse::<ProviderKind>().is_err());
    }
}
