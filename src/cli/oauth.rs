//! `oauth login | import | status | refresh | logout` for the OAuth upstreams (`gemini-cli`,
//! `qwen`). The arguments are final (they shape completions and man pages); each command's
//! handler is one small function so the flows in `crate::oauth` can replace it.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum, ValueHint};

use super::{Ctx, UserError, parse_name};

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Log in to a provider and add it as an upstream (opt-in; the provider's terms are shown first)
    Login(LoginArgs),
    /// Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)
    Import(ImportArgs),
    /// Show the OAuth logins: account, project, token expiry and state
    Status(StatusArgs),
    /// Refresh an OAuth upstream's access token now
    Refresh(NameArg),
    /// Forget an OAuth upstream's tokens and remove it
    Logout(NameArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OauthProvider {
    /// Google Code Assist as Gemini CLI uses it (Code Assist Standard/Enterprise seats)
    GeminiCli,
    /// Qwen Code's device-code login (where the account still has access)
    Qwen,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(value_enum)]
    pub provider: OauthProvider,
    /// The upstream's name [default: the provider's name]
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub name: Option<String>,
    /// Print the login URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Paste the code shown by the provider instead of waiting for the browser's redirect
    /// (logins from another machine, over SSH)
    #[arg(long)]
    pub manual: bool,
    /// Google Cloud project for Code Assist (gemini-cli) [default: $GOOGLE_CLOUD_PROJECT]
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
    /// Accept the provider's terms notice without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(value_enum)]
    pub provider: OauthProvider,
    /// Credentials file [default: ~/.gemini/oauth_creds.json or ~/.qwen/oauth_creds.json]
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub file: Option<PathBuf>,
    /// The upstream's name [default: the provider's name]
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One OAuth upstream [default: all]
    pub name: Option<String>,
    /// Print JSON (a list, or one object with NAME)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}

pub async fn run(ctx: &Ctx, command: OauthCommand) -> anyhow::Result<()> {
    match command {
        OauthCommand::Login(a) => login(ctx, &a).await,
        OauthCommand::Import(a) => import(ctx, &a).await,
        OauthCommand::Status(a) => status(ctx, &a).await,
        OauthCommand::Refresh(a) => refresh(ctx, &a).await,
        OauthCommand::Logout(a) => logout(ctx, &a).await,
    }
}

fn not_available(command: &str) -> anyhow::Error {
    UserError::new(format!(
        "`oauth {command}` is not available in this build yet"
    ))
    .hint(
        "add the provider with an API key: `llm-gateway upstream add NAME --provider gemini|qwen`",
    )
    .into()
}

async fn login(_ctx: &Ctx, _args: &LoginArgs) -> anyhow::Result<()> {
    Err(not_available("login"))
}

async fn import(_ctx: &Ctx, _args: &ImportArgs) -> anyhow::Result<()> {
    Err(not_available("import"))
}

async fn status(_ctx: &Ctx, _args: &StatusArgs) -> anyhow::Result<()> {
    Err(not_available("status"))
}

async fn refresh(_ctx: &Ctx, _args: &NameArg) -> anyhow::Result<()> {
    Err(not_available("refresh"))
}

async fn logout(_ctx: &Ctx, _args: &NameArg) -> anyhow::Result<()> {
    Err(not_available("logout"))
}
