//! Where a Bedrock upstream's credential comes from, read at use time (design.md, "Bedrock
//! credentials"), in this order:
//! 1. the upstream's own Bedrock API key (from the keyring / secrets table): a bearer token;
//! 2. the profile named with `--profile`, and then nothing else;
//! 3. `AWS_BEARER_TOKEN_BEDROCK`, a Bedrock API key (as the AWS SDKs and the Anthropic SDK
//!    rank it: above the default chain);
//! 4. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//! 5. the profile `AWS_PROFILE` names, else `default`.
//!
//! A profile is read from `~/.aws/credentials` and `~/.aws/config` (or
//! `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`) each time: static keys, or a
//! `credential_process` whose JSON output is cached until 5 minutes before its `Expiration`
//! (15 minutes when it names none). SSO, `role_arn` and web-identity profiles need AWS's own
//! token calls: they are refused with the one-line `credential_process` that covers them.
//! A missing or unusable credential is one [`CredentialError`] that names every source tried
//! and what to do.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use serde::Deserialize;

use super::profile::{FileKind, Profiles, parse_into};
use crate::secret::Secret;

/// Environment variable names (AWS's, as its SDKs read them).
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const ENV_PROFILE: &str = "AWS_PROFILE";
pub const ENV_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
pub const ENV_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
pub const ENV_BEARER_TOKEN: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// Refresh temporary credentials this long before they expire.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);
/// How long `credential_process` output without `Expiration` is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// A `credential_process` that takes longer has hung.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

const WHAT_TO_DO: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, \
name a profile with --profile, or give a Bedrock API key with --api-key-stdin \
(or AWS_BEARER_TOKEN_BEDROCK)";

/// The environment the chain reads: the process's, or a fixed one in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Option<HashMap<String, String>>,
    home: Option<PathBuf>,
}

impl Env {
    /// The process environment, read on each lookup; `~` from the `directories` crate.
    pub fn process() -> Self {
        Env {
            vars: None,
            home: directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()),
        }
    }

    /// Fixed variables and home folder (tests).
    pub fn fixed<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>, home: PathBuf) -> Self {
        Env {
            vars: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
            home: Some(home),
        }
    }

    /// A variable's value; unset and empty alike are `None`.
    pub fn var(&self, name: &str) -> Option<String> {
        let v = match &self.vars {
            Some(m) => m.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        v.filter(|s| !s.trim().is_empty())
    }

    fn aws_file(&self, env: &str, name: &str) -> Option<PathBuf> {
        match self.var(env) {
            Some(p) => Some(expand_home(&p, self.home.as_deref())),
            None => self.home.as_ref().map(|h| h.join(".aws").join(name)),
        }
    }
}

fn expand_home(path: &str, home: Option<&std::path::Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(path),
    }
}

/// How a request is authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer <Bedrock API key>`, no SigV4.
    Bearer(Secret),
    SigV4(Credentials),
}

/// A credential and where it came from (for messages: never the secret itself).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub auth: Auth,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("no AWS credentials for Bedrock: tried {}; {WHAT_TO_DO}", tried.join(", "))]
    NotFound { tried: Vec<String> },
    #[error("the AWS credentials from {origin} cannot be used: {problem}")]
    Unusable { origin: String, problem: String },
}

/// The one message for a credential AWS refused: which source it came from and what to do.
pub fn rejected_message(source: &str, aws_message: &str) -> String {
    format!(
        "AWS rejected the credentials from {source}: {aws_message}; check that they are current \
         and belong to the account with Bedrock access, or {WHAT_TO_DO}"
    )
}

/// `credential_process` output by command, for the whole process: the server builds a chain per
/// call (the record and the files are read at use time), and a process that mints credentials
/// (an SSO helper, `aws configure export-credentials`) must not run on every request.
static PROCESS_CACHE: std::sync::LazyLock<
    tokio::sync::Mutex<HashMap<String, (Credentials, SystemTime)>>,
> = std::sync::LazyLock::new(tokio::sync::Mutex::default);

/// One upstream's credential chain: its settings (the `credential_process` cache is shared).
#[derive(Debug, Default)]
pub struct CredentialChain {
    api_key: Option<Secret>,
    profile: Option<String>,
}

impl CredentialChain {
    /// `api_key`: the upstream's stored Bedrock API key; `profile`: its `--profile`.
    pub fn new(api_key: Option<Secret>, profile: Option<String>) -> Self {
        CredentialChain {
            api_key: api_key.filter(|k| !k.is_empty()),
            profile: profile.filter(|p| !p.trim().is_empty()),
        }
    }

    /// The credential to use now.
    pub async fn resolve(&self, env: &Env) -> Result<Resolved, CredentialError> {
        if let Some(key) = &self.api_key {
            return Ok(Resolved {
                auth: Auth::Bearer(key.clone()),
                source: "the upstream's Bedrock API key".into(),
            });
        }
        if let Some(name) = &self.profile {
            let mut tried = Vec::new();
            return match self.profile_credentials(env, name, &mut tried).await? {
                Some(r) => Ok(r),
                None => Err(CredentialError::NotFound { tried }),
            };
        }
        let mut tried = Vec::new();
        match env.var(ENV_BEARER_TOKEN) {
            Some(token) => {
                return Ok(Resolved {
                    auth: Auth::Bearer(Secret::new(token)),
                    source: ENV_BEARER_TOKEN.into(),
                });
            }
            None => tried.push(format!("{ENV_BEARER_TOKEN} (unset)")),
        }
        match (env.var(ENV_ACCESS_KEY_ID), env.var(ENV_SECRET_ACCESS_KEY)) {
            (Some(id), Some(secret)) => {
                return Ok(Resolved {
                    auth: Auth::SigV4(Credentials::new(
                        id,
                        secret,
                        env.var(ENV_SESSION_TOKEN),
                        None,
                        "environment",
                    )),
                    source: format!("{ENV_ACCESS_KEY_ID}/{ENV_SECRET_ACCESS_KEY}"),
                });
            }
            (None, None) => tried.push(format!("{ENV_ACCESS_KEY_ID} (unset)")),
            (id, _) => {
                let (set, missing) = if id.is_some() {
                    (ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY)
                } else {
                    (ENV_SECRET_ACCESS_KEY, ENV_ACCESS_KEY_ID)
                };
                return Err(CredentialError::Unusable {
                    origin: "the environment".into(),
                    problem: format!("{set} is set but {missing} is not; set both"),
                });
            }
        }
        let name = env.var(ENV_PROFILE).unwrap_or_else(|| "default".into());
        match self.profile_credentials(env, &name, &mut tried).await? {
            Some(r) => Ok(r),
            None => Err(CredentialError::NotFound { tried }),
        }
    }

    /// The credential of profile `name`; `None` (with what was tried) when there is no such
    /// profile or it holds no credential.
    async fn profile_credentials(
        &self,
        env: &Env,
        name: &str,
        tried: &mut Vec<String>,
    ) -> Result<Option<Resolved>, CredentialError> {
        let creds_path = env.aws_file(ENV_SHARED_CREDENTIALS_FILE, "credentials");
        let config_path = env.aws_file(ENV_CONFIG_FILE, "config");
        let mut profiles = Profiles::new();
        let mut files = Vec::new();
        for (path, kind) in [
            (&config_path, FileKind::Config),
            (&creds_path, FileKind::Credentials),
        ] {
            let Some(path) = path else { continue };
            files.push(path.display().to_string());
            if let Ok(text) = std::fs::read_to_string(path) {
                parse_into(&text, kind, &mut profiles);
            }
        }
        let source = format!("profile `{name}` in {}", files.join(" and "));
        let Some(props) = profiles.get(name) else {
            tried.push(format!("{source} (no such profile)"));
            return Ok(None);
        };
        let unusable = |problem: String| CredentialError::Unusable {
            origin: source.clone(),
            problem,
        };
        let get = |k: &str| props.get(k).filter(|v| !v.is_empty()).cloned();
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Some(Resolved {
                auth: Auth::SigV4(Credentials::new(
                    id,
                    secret,
                    get("aws_session_token"),
                    None,
                    "profile",
                )),
                source,
            }));
        }
        if get("aws_access_key_id").is_some() || get("aws_secret_access_key").is_some() {
            return Err(unusable(
                "it has only one of aws_access_key_id and aws_secret_access_key".into(),
            ));
        }
        if let Some(command) = get("credential_process") {
            let creds = self.process_credentials(&command).await.map_err(unusable)?;
            return Ok(Some(Resolved {
                auth: Auth::SigV4(creds),
                source: format!("{source} (credential_process)"),
            }));
        }
        let other = [
            "sso_session",
            "sso_start_url",
            "role_arn",
            "web_identity_token_file",
            "login_session",
        ]
        .into_iter()
        .find(|k| props.contains_key(*k));
        if let Some(kind) = other {
            return Err(unusable(format!(
                "it uses `{kind}`, which needs AWS's own token calls; add \
                 `credential_process = aws configure export-credentials --profile {name} --format process` \
                 to it (AWS CLI v2)"
            )));
        }
        tried.push(format!("{source} (no credentials in it)"));
        Ok(None)
    }

    /// `credential_process` output, from the cache while it is fresh.
    async fn process_credentials(&self, command: &str) -> Result<Credentials, String> {
        let mut cache = PROCESS_CACHE.lock().await;
        let now = SystemTime::now();
        if let Some((creds, until)) = cache.get(command)
            && now < *until
        {
            return Ok(creds.clone());
        }
        let (creds, expires) = run_process(command).await?;
        let until = match expires {
            Some(at) => at.checked_sub(REFRESH_BEFORE).unwrap_or(at),
            None => now + DEFAULT_TTL,
        };
        cache.insert(command.to_owned(), (creds.clone(), until));
        Ok(creds)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: Option<u32>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Runs a `credential_process` command through the shell, as the AWS CLI does.
async fn run_process(command: &str) -> Result<(Credentials, Option<SystemTime>), String> {
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(command);
        c
    };
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(PROCESS_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            format!(
                "credential_process did not finish in {}s",
                PROCESS_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run credential_process: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(300).collect();
        return Err(format!(
            "credential_process failed ({}): {stderr}",
            output.status
        ));
    }
    // Never quote the output in an error: it holds the secret.
    let out: ProcessOutput = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "credential_process printed no valid JSON (line {})",
            e.line()
        )
    })?;
    if out.version != Some(1) {
        return Err("credential_process output must have \"Version\": 1".into());
    }
    let (Some(id), Some(secret)) = (out.access_key_id, out.secret_access_key) else {
        return Err("credential_process output lacks AccessKeyId or SecretAccessKey".into());
    };
    let expires = match out.expiration {
        None => None,
        Some(s) => Some(parse_rfc3339(&s).ok_or_else(|| {
            format!("credential_process output has an unreadable Expiration `{s}`")
        })?),
    };
    Ok((
        Credentials::new(id, secret, out.session_token, expires, "credential_process"),
        expires,
    ))
}

fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let dt = aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::DateTime)
        .ok()?;
    SystemTime::try_from(dt).ok()
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
