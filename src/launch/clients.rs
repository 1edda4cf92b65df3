//! The clients `launch` knows, as data: one row each, naming the program, its npm package and
//! each documented setting that points it at the gateway. Adding a client (opencode, qwen) is
//! adding a row.
//!
//! Values are templates ([`super::render`]): `{base}` the gateway's root URL, `{key}` the
//! launcher's gateway key, `{model}` / `{small}` the `--model` / `--small-model` (else
//! `--model`), `{window}` the model's context window when Claude Code needs telling, and
//! `{settings}` the client's settings file. A setting whose template names a value that is not
//! there (no `--model`) is left out, so the client's own default stands. `|toml` renders a value
//! as a TOML string.

use crate::config::env;

/// One client.
#[derive(Debug)]
pub struct Client {
    /// The name given to `launch`.
    pub name: &'static str,
    /// The program looked up on `PATH`.
    pub program: &'static str,
    /// What to install when it is missing (`npm install -g PACKAGE`).
    pub npm: &'static str,
    /// Environment variables set for it.
    pub env: &'static [(&'static str, &'static str)],
    /// Environment variables removed for it: credentials that would compete with the gateway's.
    pub unset: &'static [&'static str],
    /// Arguments put before the user's, in groups left out together.
    pub args: &'static [&'static [&'static str]],
    /// A settings file written under the gateway's home and named by an environment variable.
    pub settings_file: Option<SettingsFile>,
    /// A setting of the user's own file the client needs when `settings_file` cannot be used.
    pub user_setting: Option<UserSetting>,
    /// Whether it has a second, smaller model (`--small-model`).
    pub small_model: bool,
}

/// A settings file of the gateway's own that the client reads through an environment variable.
#[derive(Debug)]
pub struct SettingsFile {
    /// The variable naming it (`{settings}` in `env`).
    pub var: &'static str,
    /// Its name under `<home>/launch/`.
    pub file: &'static str,
    pub contents: &'static str,
    /// The client reads it only when it and every folder above it belong to root and no one
    /// else may write them (Gemini CLI's rule for system settings); else it is not used.
    pub root_owned: bool,
}

/// A value the client must find in the user's own settings file (read, never written).
#[derive(Debug)]
pub struct UserSetting {
    /// The file, relative to the home folder.
    pub path: &'static str,
    /// A variable that moves the home folder for this client.
    pub home_var: Option<&'static str>,
    /// Where in the JSON (a JSON pointer).
    pub pointer: &'static str,
    pub wanted: &'static str,
    /// What the user does once to set it.
    pub how: &'static str,
}

pub const CLIENTS: &[Client] = &[
    // Claude Code: its documented environment (Anthropic's "LLM gateway" configuration).
    Client {
        name: "claude",
        program: "claude",
        npm: "@anthropic-ai/claude-code",
        env: &[
            ("ANTHROPIC_BASE_URL", "{base}"),
            ("ANTHROPIC_AUTH_TOKEN", "{key}"),
            ("ANTHROPIC_MODEL", "{model}"),
            ("ANTHROPIC_DEFAULT_OPUS_MODEL", "{model}"),
            ("ANTHROPIC_DEFAULT_SONNET_MODEL", "{model}"),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "{small}"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "{window}"),
        ],
        // Sent as `x-api-key` next to the token, it would reach the gateway too.
        unset: &["ANTHROPIC_API_KEY"],
        args: &[],
        settings_file: None,
        user_setting: None,
        small_model: true,
    },
    // Gemini CLI: base URL and key from its environment; its auth type only from a settings
    // file, so a system-settings file of the gateway's selects the API key (the user's
    // ~/.gemini/settings.json is never written).
    Client {
        name: "gemini",
        program: "gemini",
        npm: "@google/gemini-cli",
        env: &[
            ("GOOGLE_GEMINI_BASE_URL", "{base}"),
            ("GEMINI_API_KEY", "{key}"),
            ("GEMINI_MODEL", "{model}"),
            ("GEMINI_CLI_SYSTEM_SETTINGS_PATH", "{settings}"),
        ],
        unset: &[],
        args: &[],
        settings_file: Some(SettingsFile {
            var: "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
            file: "gemini-system-settings.json",
            contents: "{\"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}}}\n",
            root_owned: true,
        }),
        user_setting: Some(UserSetting {
            path: ".gemini/settings.json",
            home_var: Some("GEMINI_CLI_HOME"),
            pointer: "/security/auth/selectedType",
            wanted: "gemini-api-key",
            how: "run `gemini`, type /auth and choose \"Use Gemini API key\" (the gateway's key is \
                  already set)",
        }),
        small_model: false,
    },
    // Codex CLI: a custom model provider given as `-c` overrides (~/.codex is not touched); it
    // reads the key from the variable its `env_key` names.
    Client {
        name: "codex",
        program: "codex",
        npm: "@openai/codex",
        env: &[(env::LAUNCH_API_KEY, "{key}")],
        unset: &[],
        args: &[
            &["-c", "model_provider=\"llm-gateway\""],
            &["-c", "model_providers.llm-gateway.name=\"llm-gateway\""],
            &["-c", "model_providers.llm-gateway.base_url=\"{base}/v1\""],
            &[
                "-c",
                "model_providers.llm-gateway.env_key=\"LLM_GATEWAY_API_KEY\"",
            ],
            &["-c", "model_providers.llm-gateway.wire_api=\"responses\""],
            &["-c", "model={model|toml}"],
        ],
        settings_file: None,
        user_setting: None,
        small_model: false,
    },
];

/// The row of `name`.
pub fn find(name: &str) -> Option<&'static Client> {
    CLIENTS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_codex_names_its_key_variable() {
        let mut names: Vec<&str> = CLIENTS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLIENTS.len());
        let codex = find("codex").unwrap();
        assert!(
            codex
                .args
                .iter()
                .any(|g| g.iter().any(|a| a.contains(env::LAUNCH_API_KEY)))
        );
        assert_eq!(codex.env[0].0, env::LAUNCH_API_KEY);
    }
}
