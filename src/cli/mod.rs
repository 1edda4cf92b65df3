//! The command line: clap `*Args` types, one file per command group, and [`main`], which parses,
//! loads the home folder and config, runs the command on a tokio runtime and maps the outcome to
//! an exit code (0 success, 1 error, 2 usage error).
//!
//! Where it touches the rest: store changes go through [`crate::daemon::StoreHandle`] (the admin
//! socket while the server runs, the database otherwise) via the typed calls in `calls`;
//! `server start` ends in [`crate::server::run`]; `upstream add/test` use
//! [`crate::upstream::probe`]. Only `output` prints and only `prompt` asks questions.

mod alias;
mod apikey;
mod args;
mod calls;
mod complete;
mod generate;
mod launch;
mod models;
mod oauth;
mod output;
mod prompt;
mod server;
mod status;
mod upstream;
mod view;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand, ValueHint};

use crate::config::file::{Config, TEMPLATE};
use crate::config::{env, paths::Home};
use crate::daemon::StoreHandle;

const ABOUT: &str = "One local gateway that lets any LLM client use any LLM upstream";

const LONG_ABOUT: &str = "\
One local gateway that lets any LLM client use any LLM upstream.

Clients speaking Anthropic Messages (Claude Code), OpenAI Chat Completions or Gemini
generateContent reach upstreams of any kind: OpenAI-compatible APIs, Anthropic, the Gemini API,
Qwen DashScope, DeepSeek, and the Gemini CLI / Qwen OAuth logins.

Managed state (upstreams, API keys, logins, usage) lives under the home folder and is changed with
these commands; changes reach a running server at once.";

const AFTER_HELP: &str = "\
Quick start:
  llm-gateway upstream add gem --provider gemini --api-key-stdin < gemini-key.txt
  llm-gateway launch claude --model gem/gemini-2.5-pro --small-model gem/gemini-2.5-flash

Or, for any client:
  llm-gateway apikey add laptop
  llm-gateway server start --detach

Exit codes: 0 success, 1 error, 2 usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "llm-gateway",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Home folder holding config.toml, the store, the log and the admin socket
    /// [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]
    #[arg(long, global = true, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect the server
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Show the server, upstreams, keys and usage at a glance
    Status(status::StatusArgs),
    /// Manage upstreams: the LLM providers requests are sent to
    #[command(subcommand)]
    Upstream(upstream::UpstreamCommand),
    /// Manage the gateway's own API keys, which clients present
    #[command(subcommand)]
    Apikey(apikey::ApikeyCommand),
    /// Log in to OAuth upstreams (Gemini CLI / Code Assist, Qwen)
    #[command(subcommand)]
    Oauth(oauth::OauthCommand),
    /// Map model names clients ask for to the models that serve them ([aliases])
    #[command(subcommand)]
    Alias(alias::AliasCommand),
    /// List every model name a client can ask for right now
    Models(models::ModelsArgs),
    /// Run Claude Code, Codex or Gemini CLI through the gateway (starting it if needed)
    Launch(launch::LaunchArgs),
    /// Print a shell completion script to stdout
    Completions(generate::CompletionsArgs),
    /// Write man pages (or print the main one)
    Man(generate::ManArgs),
}

/// The whole command tree, for completions, man pages and tests.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // A TAB press (`COMPLETE=SHELL llm-gateway -- WORDS...`) is answered here and exits.
    complete::hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version on stdout, usage errors on stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let user = err.chain().find_map(|e| e.downcast_ref::<UserError>());
            output::error(&format!("{err:#}"), user.and_then(|u| u.hint.as_deref()));
            match user {
                Some(u) if u.usage => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // These need neither the home folder nor the config.
        Command::Completions(args) => generate::completions(&args),
        Command::Man(args) => generate::man(&args),
        command => {
            // `status` shows a config.toml that no longer parses instead of failing on it.
            let tolerant = matches!(command, Command::Status(_));
            let ctx = Ctx::load(cli.home.as_deref(), tolerant)?;
            let runtime =
                runtime_for(&command, &ctx.config).context("cannot start the async runtime")?;
            runtime.block_on(dispatch(ctx, command))
        }
    }
}

/// The server in the foreground runs on the threads `[server] workers` asks for. Every other
/// command (and `server start --detach`, which only launches the server) is short-lived and
/// keeps tokio's default, where a blocking call such as a terminal confirmation holds one worker
/// rather than every task.
fn runtime_for(command: &Command, config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Command::Server(server::ServerCommand::Start(a)) if !a.detach => {
            crate::server::runtime::build(config.server.workers)
        }
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

async fn dispatch(ctx: Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server(c) => server::run(&ctx, c).await,
        Command::Status(a) => status::run(&ctx, &a).await,
        Command::Upstream(c) => upstream::run(&ctx, c).await,
        Command::Apikey(c) => apikey::run(&ctx, c).await,
        Command::Oauth(c) => oauth::run(&ctx, c).await,
        Command::Alias(c) => alias::run(&ctx, c).await,
        Command::Models(a) => models::run(&ctx, &a).await,
        Command::Launch(a) => launch::run(&ctx, a).await,
        Command::Completions(a) => generate::completions(&a),
        Command::Man(a) => generate::man(&a),
    }
}

/// What every command that touches state needs: the home folder and the resolved config.
pub(crate) struct Ctx {
    pub home: Home,
    pub config: Config,
    pub config_path: PathBuf,
    /// Why `config.toml` did not load, when the command went on with the defaults.
    pub config_error: Option<String>,
}

impl Ctx {
    /// Resolves the home folder (creating it owner-only), writes the commented config template
    /// on first run, and loads the config with environment overrides applied. `tolerant`: a
    /// config that does not parse is noted in `config_error` and the defaults are used.
    fn load(flag: Option<&Path>, tolerant: bool) -> anyhow::Result<Ctx> {
        let home = Home::resolve(flag).context("cannot find the gateway's home folder")?;
        home.ensure()
            .with_context(|| format!("cannot create {}", home.root().display()))?;
        let config_path = home.config();
        write_template_if_absent(&config_path)?;
        let (mut config, config_error) = match Config::load(&config_path) {
            Ok(c) => (c, None),
            Err(e) if tolerant => (Config::default(), Some(e.to_string())),
            Err(e) => {
                return Err(UserError::new(e.to_string())
                    .hint(format!(
                        "fix or remove the key in {} (a missing key takes its default)",
                        config_path.display()
                    ))
                    .into());
            }
        };
        apply_env(&mut config, |name| std::env::var(name).ok())?;
        Ok(Ctx {
            home,
            config,
            config_path,
            config_error,
        })
    }

    /// The store: the running server's admin socket, or the database itself.
    pub async fn store(&self) -> anyhow::Result<StoreHandle> {
        StoreHandle::open(&self.home, &self.config)
            .await
            .context("cannot open the gateway's store")
    }
}

/// Creates `config.toml` from the template, owner-only; an existing file is never touched.
fn write_template_if_absent(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => f
            .write_all(TEMPLATE.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Environment overrides of config keys (flag > env > file > default).
fn apply_env(config: &mut Config, getenv: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    env::apply_overrides(config, getenv).map_err(|e| UserError::new(e).into())
}

/// An error worded for the user, with the next step to take and whether it is a usage error
/// (exit 2) rather than a failure (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct UserError {
    pub message: String,
    pub hint: Option<String>,
    pub usage: bool,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> UserError {
        UserError {
            message: message.into(),
            hint: None,
            usage: false,
        }
    }

    /// A usage error: exit code 2.
    pub fn usage(message: impl Into<String>) -> UserError {
        UserError {
            usage: true,
            ..UserError::new(message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> UserError {
        self.hint = Some(hint.into());
        self
    }
}

/// Checks an upstream or key name: it appears in model prefixes (`NAME/model`) and tables.
pub(crate) fn parse_name(s: &str) -> Result<String, String> {
    let ok_start = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok_start && ok_rest && s.len() <= 64 {
        Ok(s.to_string())
    } else {
        Err("use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::SecretsBackend;

    #[test]
    fn command_tree_is_valid() {
        command().debug_assert();
    }

    #[test]
    fn names() {
        assert!(parse_name("oai").is_ok());
        assert!(parse_name("qwen-intl_2.x").is_ok());
        assert!(parse_name("").is_err());
        assert!(parse_name("a/b").is_err());
        assert!(parse_name("-a").is_err());
        assert!(parse_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn env_overrides() {
        let mut c = Config::default();
        apply_env(&mut c, |n| {
            (n == env::SECRETS_BACKEND)
                .then(|| "file".to_string())
                .or_else(|| (n == env::LOG).then(|| "debug".to_string()))
                .or_else(|| (n == env::LOG_FILE).then(|| "/tmp/g.log".to_string()))
        })
        .unwrap();
        assert_eq!(c.secrets.backend, SecretsBackend::File);
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.log.file, "/tmp/g.log");
        let err = apply_env(&mut c, |_| Some("vault".into())).unwrap_err();
        assert!(err.to_string().contains("LLM_GATEWAY_SECRETS_BACKEND"));
    }

    #[test]
    fn workers_from_the_environment() {
        let mut c = Config::default();
        assert_eq!(c.server.workers, 0);
        apply_env(&mut c, |n| (n == env::WORKERS).then(|| " 2 ".to_string())).unwrap();
        assert_eq!(c.server.workers, 2);
        let err =
            apply_env(&mut c, |n| (n == env::WORKERS).then(|| "two".to_string())).unwrap_err();
        assert!(err.to_string().contains("LLM_GATEWAY_WORKERS"), "{err}");
        assert_eq!(c.server.workers, 2);
    }

    #[test]
    fn template_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_template_if_absent(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEMPLATE);
        std::fs::write(&path, "[server]\n").unwrap();
        write_template_if_absent(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[server]\n");
    }
}
