//! `launch claude|codex|gemini`: wire a client to the gateway and run it. This module turns a
//! row of the client table ([`clients`]) and the gateway's side of the wiring (its URL, the
//! launcher's key, the checked model) into a [`Plan`]: environment variables, arguments and
//! the client's settings file, which it then prints as shell lines or `exec`s. Finding the
//! server, the key and the model is the CLI's part (`cli/launch.rs`).

pub mod clients;
pub mod windows;

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use clients::{Client, UserSetting};

use crate::secret::Secret;

/// The gateway's side of the wiring.
pub struct Wiring<'a> {
    /// The gateway's root URL (`http://127.0.0.1:3847`).
    pub base_url: &'a str,
    pub key: &'a Secret,
    pub model: Option<&'a str>,
    pub small_model: Option<&'a str>,
    /// `CLAUDE_CODE_AUTO_COMPACT_WINDOW`, when the model's window is known and small.
    pub window: Option<u64>,
}

/// What to run the client with. Holds the key: no `Debug`.
pub struct Plan {
    pub env: Vec<(&'static str, String)>,
    pub unset: Vec<&'static str>,
    pub args: Vec<String>,
    /// Things the user should know before the client starts (stderr).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("`{program}` is not installed (not found on PATH)")]
    NotInstalled {
        program: &'static str,
        npm: &'static str,
    },
    #[error("cannot write {}: {source}", path.display())]
    SettingsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The client's own settings select a sign-in that would bypass the gateway.
    #[error(
        "{program} is set to sign in with `{found}` ({pointer} in {}), so it would not use the gateway",
        file.display()
    )]
    SignIn {
        program: &'static str,
        found: String,
        pointer: &'static str,
        file: PathBuf,
        how: &'static str,
    },
    #[error("cannot run {}: {source}", path.display())]
    Exec {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The client's program on `PATH`.
pub fn find_program(client: &Client) -> Result<PathBuf, LaunchError> {
    let not_installed = || LaunchError::NotInstalled {
        program: client.program,
        npm: client.npm,
    };
    let path = std::env::var_os("PATH").ok_or_else(not_installed)?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(client.program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
        .ok_or_else(not_installed)
}

/// The plan for `client`. Writes the client's settings file under `launch_dir` when it has
/// one; `user_home` is where the user's own settings live (for the check of [`UserSetting`]).
pub fn plan(
    client: &Client,
    wiring: &Wiring<'_>,
    launch_dir: &Path,
    user_home: Option<&Path>,
) -> Result<Plan, LaunchError> {
    let mut notes = Vec::new();
    let mut settings: Option<String> = None;
    if let Some(file) = &client.settings_file {
        let path = write_settings(launch_dir, file.file, file.contents)?;
        if !file.root_owned || root_owned(&path) {
            settings = Some(path.display().to_string());
        } else if let Some(need) = &client.user_setting {
            check_user_setting(client, need, user_home, &mut notes)?;
        }
    }
    let window = wiring.window.map(|w| w.to_string());
    let value = |name: &str| -> Option<String> {
        match name {
            "base" => Some(wiring.base_url.to_string()),
            "key" => Some(wiring.key.expose().to_string()),
            "model" => wiring.model.map(str::to_string),
            "small" => wiring.small_model.or(wiring.model).map(str::to_string),
            "window" => window.clone(),
            "settings" => settings.clone(),
            _ => None,
        }
    };
    let env = client
        .env
        .iter()
        .filter_map(|(name, tpl)| render(tpl, &value).map(|v| (*name, v)))
        .collect();
    let args = client
        .args
        .iter()
        .filter_map(|group| {
            group
                .iter()
                .map(|tpl| render(tpl, &value))
                .collect::<Option<Vec<String>>>()
        })
        .flatten()
        .collect();
    Ok(Plan {
        env,
        unset: client.unset.to_vec(),
        args,
        notes,
    })
}

/// Fills `{name}` and `{name|toml}` from `value`; `None` when a named value is missing.
pub fn render(template: &str, value: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let spec = &after[..close];
        let (name, filter) = match spec.split_once('|') {
            Some((n, f)) => (n, Some(f)),
            None => (spec, None),
        };
        let v = value(name)?;
        match filter {
            Some("toml") => out.push_str(&toml::Value::String(v).to_string()),
            _ => out.push_str(&v),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn write_settings(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, LaunchError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let path = dir.join(name);
    let err = |source| LaunchError::SettingsFile {
        path: path.clone(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(err)?;
    if std::fs::read_to_string(&path).ok().as_deref() != Some(contents) {
        crate::config::paths::write_private(&path, contents.as_bytes()).map_err(err)?;
    }
    Ok(path)
}

/// Whether `path` and every folder above it (as given and resolved) belong to root and may be
/// written by no one else: Gemini CLI ignores a system settings file otherwise.
fn root_owned(path: &Path) -> bool {
    let safe = |m: std::fs::Metadata| {
        m.uid() == 0 && (m.file_type().is_symlink() || m.mode() & 0o022 == 0)
    };
    let given = path
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .all(|p| std::fs::symlink_metadata(p).is_ok_and(safe));
    let resolved = std::fs::canonicalize(path).is_ok_and(|real| {
        real.ancestors()
            .all(|p| std::fs::metadata(p).is_ok_and(safe))
    });
    given && resolved
}

/// Checks the user's own setting the client needs when the gateway's settings file cannot be
/// used: the wanted value passes, another one is an error (the client would go around the
/// gateway), none at all is a note (the client asks at start).
fn check_user_setting(
    client: &Client,
    need: &UserSetting,
    user_home: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<(), LaunchError> {
    let home = need
        .home_var
        .and_then(std::env::var_os)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| user_home.map(Path::to_path_buf));
    let file = home.map(|h| h.join(need.path));
    let found = file
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| json_with_comments(&text))
        .and_then(|v| {
            v.pointer(need.pointer)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
        });
    match (found, file) {
        (Some(v), _) if v == need.wanted => Ok(()),
        (Some(found), Some(file)) => Err(LaunchError::SignIn {
            program: client.program,
            found,
            pointer: need.pointer,
            file,
            how: need.how,
        }),
        _ => {
            notes.push(format!(
                "{} takes its sign-in choice only from its own settings (or from a system \
                 settings file that root owns, which the gateway's home is not), so it will ask \
                 how to sign in: {}. Until then `{} -p` fails with \"Invalid auth method selected\".",
                client.program, need.how, client.program
            ));
            Ok(())
        }
    }
}

/// JSON that may hold `//` and `/* */` comments (as Gemini CLI's settings may).
fn json_with_comments(text: &str) -> Option<serde_json::Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    last = n;
                }
            }
            _ => out.push(c),
        }
    }
    serde_json::from_str(&out).ok()
}

/// The plan as shell lines for `eval`: `export NAME='value'`, `unset NAME`, and the client's
/// arguments as a comment to copy.
pub fn shell_lines(client: &Client, plan: &Plan) -> String {
    let mut out = String::new();
    for (name, value) in &plan.env {
        out.push_str(&format!("export {name}={}\n", shell_quote(value)));
    }
    for name in &plan.unset {
        out.push_str(&format!("unset {name}\n"));
    }
    if !plan.args.is_empty() {
        let args: Vec<String> = plan.args.iter().map(|a| shell_quote(a)).collect();
        out.push_str(&format!("# run: {} {}\n", client.program, args.join(" ")));
    }
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Replaces this process with the client, so its signals and exit code are the client's.
/// Returns only when that fails.
pub fn exec(path: &Path, plan: &Plan, client_args: &[String]) -> LaunchError {
    let mut cmd = std::process::Command::new(path);
    cmd.args(&plan.args).args(client_args);
    for name in &plan.unset {
        cmd.env_remove(name);
    }
    for (name, value) in &plan.env {
        cmd.env(name, value);
    }
    LaunchError::Exec {
        path: path.to_path_buf(),
        source: cmd.exec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring<'a>(key: &'a Secret, model: Option<&'a str>) -> Wiring<'a> {
        Wiring {
            base_url: "http://127.0.0.1:3847",
            key,
            model,
            small_model: None,
            window: None,
        }
    }

    fn env_of(plan: &Plan) -> Vec<(String, String)> {
        plan.env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn templates_fill_or_drop() {
        let v = |n: &str| (n == "a").then(|| "x\"y".to_string());
        assert_eq!(render("{a}/v1", &v).as_deref(), Some("x\"y/v1"));
        let line = render("m={a|toml}", &v).unwrap();
        assert_eq!(
            toml::from_str::<toml::Table>(&line).unwrap()["m"].as_str(),
            Some("x\"y")
        );
        assert_eq!(render("{b}", &v), None);
        assert_eq!(render("plain", &v).as_deref(), Some("plain"));
    }

    #[test]
    fn claude_without_and_with_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let key = Secret::new("lgw_fake");
        let c = clients::find("claude").unwrap();
        let p = plan(c, &wiring(&key, None), dir.path(), None).unwrap();
        let names: Vec<&str> = p.env.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "ANTHROPIC_BASE_URL",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"
            ]
        );
        assert_eq!(p.unset, ["ANTHROPIC_API_KEY"]);
        let w = Wiring {
            small_model: Some("gem/flash"),
            window: Some(128_000),
            ..wiring(&key, Some("gem/pro"))
        };
        let env = env_of(&plan(c, &w, dir.path(), None).unwrap());
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("ANTHROPIC_MODEL"), Some("gem/pro"));
        assert_eq!(get("ANTHROPIC_DEFAULT_OPUS_MODEL"), Some("gem/pro"));
        assert_eq!(get("ANTHROPIC_DEFAULT_SONNET_MODEL"), Some("gem/pro"));
        assert_eq!(get("ANTHROPIC_DEFAULT_HAIKU_MODEL"), Some("gem/flash"));
        assert_eq!(get("CLAUDE_CODE_AUTO_COMPACT_WINDOW"), Some("128000"));
        assert_eq!(get("ANTHROPIC_AUTH_TOKEN"), Some("lgw_fake"));
    }

    #[test]
    fn codex_gets_provider_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let key = Secret::new("lgw_fake");
        let c = clients::find("codex").unwrap();
        let p = plan(c, &wiring(&key, Some("oai/gpt-5")), dir.path(), None).unwrap();
        assert_eq!(p.env, [("LLM_GATEWAY_API_KEY", "lgw_fake".to_string())]);
        assert!(p.args.contains(
            &"model_providers.llm-gateway.base_url=\"http://127.0.0.1:3847/v1\"".to_string()
        ));
        assert!(
            p.args
                .contains(&"model_providers.llm-gateway.wire_api=\"responses\"".to_string())
        );
        assert_eq!(
            p.args.last().map(String::as_str),
            Some("model=\"oai/gpt-5\"")
        );
        assert_eq!(p.args.iter().filter(|a| *a == "-c").count(), 6);
        let lines = shell_lines(c, &p);
        assert!(
            lines.starts_with("export LLM_GATEWAY_API_KEY='lgw_fake'\n"),
            "{lines}"
        );
        assert!(
            lines.contains("# run: codex '-c' 'model_provider=\"llm-gateway\"'"),
            "{lines}"
        );
        let p = plan(c, &wiring(&key, None), dir.path(), None).unwrap();
        assert_eq!(p.args.iter().filter(|a| *a == "-c").count(), 5);
    }

    #[test]
    fn gemini_settings_file_or_the_users_own_choice() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        // A group-writable folder above it: Gemini CLI would not read the file.
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o775)).unwrap();
        let dir = shared.join("launch");
        let key = Secret::new("lgw_fake");
        let c = clients::find("gemini").unwrap();
        let home = tempfile::tempdir().unwrap();
        let p = plan(c, &wiring(&key, None), &dir, Some(home.path())).unwrap();
        let file = dir.join("gemini-system-settings.json");
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            written["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
        assert!(!root_owned(&file));
        assert!(
            p.env
                .iter()
                .all(|(k, _)| *k != "GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        );
        assert_eq!(p.notes.len(), 1, "no choice made yet: a note");

        let settings = home.path().join(".gemini");
        std::fs::create_dir_all(&settings).unwrap();
        std::fs::write(
            settings.join("settings.json"),
            "{\n  // mine\n  \"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}}\n}\n",
        )
        .unwrap();
        let p = plan(c, &wiring(&key, None), &dir, Some(home.path())).unwrap();
        assert!(p.notes.is_empty());
        std::fs::write(
            settings.join("settings.json"),
            "{\"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}}}",
        )
        .unwrap();
        let err = plan(c, &wiring(&key, None), &dir, Some(home.path()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("oauth-personal"), "{err}");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
