//! `oauth login | import | status | refresh | logout` for the OAuth upstreams (`gemini-cli`,
//! `qwen`): argument parsing and rendering around `crate::oauth::commands`, which does the work
//! over a [`TokenStore`] built on [`StoreHandle`].
//!
//! A login can wait minutes for the browser, so it opens the store per operation
//! ([`PerOpStore`]) instead of holding the database (which would lock out `server start` and
//! every other command meanwhile). Messages go to stderr through the library's
//! [`Console`]; its one confirmation goes through `prompt`. While the server runs every write
//! reaches it over the admin socket, which reloads its view and wakes its token refresher.

use super::args::NameArg;
use std::path::PathBuf;
use std::sync::Mutex;

use clap::{Args, Subcommand, ValueEnum, ValueHint};
use futures_util::future::BoxFuture;

use super::{Ctx, UserError, complete, output, parse_name, prompt, view};
use crate::config::ProviderKind;
use crate::daemon::StoreHandle;
use crate::oauth::commands::{self, LoginOptions, LoginOutcome, StatusRow};
use crate::oauth::console::Console;
use crate::oauth::{OAuthError, TokenStore};
use crate::store::ops::{Op, Reply};
use crate::store::records::OAuthState;

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Log in to a provider and add it as an upstream (opt-in; the provider's terms are shown first)
    Login(LoginArgs),
    /// Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)
    Import(ImportArgs),
    /// Show the OAuth logins: account, project, token expiry and state
    #[command(mut_arg("name", complete::names(complete::oauth_upstreams)))]
    Status(StatusArgs),
    /// Refresh an OAuth upstream's access token now
    #[command(mut_arg("name", complete::names(complete::oauth_upstreams)))]
    Refresh(NameArg),
    /// Revoke and forget an OAuth upstream's tokens (the upstream stays, logged out)
    #[command(mut_arg("name", complete::names(complete::oauth_upstreams)))]
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

pub async fn run(ctx: &Ctx, command: OauthCommand) -> anyhow::Result<()> {
    match command {
        OauthCommand::Login(a) => login(ctx, a).await,
        OauthCommand::Import(a) => import(ctx, a).await,
        OauthCommand::Status(a) => status(ctx, &a).await,
        OauthCommand::Refresh(a) => refresh(ctx, &a).await,
        OauthCommand::Logout(a) => logout(ctx, &a).await,
    }
}

impl OauthProvider {
    fn kind(self) -> ProviderKind {
        match self {
            OauthProvider::GeminiCli => ProviderKind::GeminiCli,
            OauthProvider::Qwen => ProviderKind::Qwen,
        }
    }
}

/// A [`TokenStore`] that opens a [`StoreHandle`] for each operation: the admin socket when the
/// server runs (also if it started during the login), the database otherwise, held only for
/// that one operation.
struct PerOpStore<'a> {
    ctx: &'a Ctx,
    /// The file-backend notice of a local store, shown once after the save.
    notice: Mutex<Option<String>>,
}

impl<'a> PerOpStore<'a> {
    fn new(ctx: &'a Ctx) -> PerOpStore<'a> {
        PerOpStore {
            ctx,
            notice: Mutex::new(None),
        }
    }

    fn notice(&self) -> Option<String> {
        self.notice.lock().ok().and_then(|n| n.clone())
    }
}

impl TokenStore for PerOpStore<'_> {
    fn apply(&self, op: Op) -> BoxFuture<'_, Result<Reply, OAuthError>> {
        Box::pin(async move {
            let handle = StoreHandle::open(&self.ctx.home, &self.ctx.config)
                .await
                .map_err(|e| OAuthError::Store(e.to_string()))?;
            if let (Some(n), Ok(mut slot)) = (handle.secret_notice(), self.notice.lock()) {
                *slot = Some(n.to_string());
            }
            TokenStore::apply(&handle, op).await
        })
    }
}

/// The CLI's console: messages on stderr, pasted lines from stdin, and the terms question asked
/// by `prompt` when stdin is a terminal. Without a terminal there is no question: the notice is
/// shown and the login goes on (`--yes` skips the question either way).
fn console() -> Console {
    let c = Console::stdio();
    if prompt::interactive() {
        c.with_confirm(|question| prompt::confirm(question, "--yes").unwrap_or(false))
    } else {
        c
    }
}

/// An [`OAuthError`] as a [`UserError`]: the library's `hint:` line becomes the hint.
fn user_error(e: OAuthError) -> anyhow::Error {
    let text = e.to_string();
    let (message, hint) = match text.split_once("\nhint: ") {
        Some((m, h)) => (m.to_string(), Some(h.to_string())),
        None => (text.clone(), None),
    };
    let hint = hint.or_else(|| match &e {
        OAuthError::NotFound(_) => {
            Some("see the OAuth logins with `llm-gateway oauth status`".into())
        }
        OAuthError::NotOAuth { .. } => Some(
            "`oauth` commands manage gemini-cli and qwen logins; see `llm-gateway upstream list`"
                .into(),
        ),
        OAuthError::Store(_) => {
            Some("check `llm-gateway server status`, then run the command again".into())
        }
        _ => None,
    });
    let u = UserError::new(message);
    match hint {
        Some(h) => u.hint(h).into(),
        None => u.into(),
    }
}

async fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let kind = args.provider.kind();
    if kind == ProviderKind::Qwen {
        for (set, flag) in [
            (args.manual, "--manual"),
            (args.project.is_some(), "--project"),
        ] {
            if set {
                return Err(UserError::usage(format!(
                    "{flag} applies to `oauth login gemini-cli` only"
                ))
                .into());
            }
        }
    }
    let opts = LoginOptions {
        name: args.name,
        no_browser: args.no_browser,
        manual: args.manual,
        project: args.project,
        yes: args.yes,
        ..LoginOptions::default()
    };
    let store = PerOpStore::new(ctx);
    let mut console = console();
    let outcome = match kind {
        ProviderKind::GeminiCli => {
            commands::login_gemini_cli(&store, &ctx.config, &mut console, opts).await
        }
        _ => commands::login_qwen(&store, &ctx.config, &mut console, opts).await,
    }
    .map_err(user_error)?;
    report_saved("logged in", &outcome, store.notice());
    Ok(())
}

async fn import(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let store = PerOpStore::new(ctx);
    let mut console = console();
    let outcome = commands::import(
        &store,
        &ctx.config,
        &mut console,
        args.provider.kind(),
        args.file,
        args.name,
    )
    .await
    .map_err(user_error)?;
    report_saved("imported", &outcome, store.notice());
    Ok(())
}

/// What a login or import saved, on stderr (stdout stays empty: nothing there is data).
fn report_saved(verb: &str, o: &LoginOutcome, notice: Option<String>) {
    let mut details = vec![o.provider.as_str().to_string()];
    if let Some(a) = &o.account {
        details.push(a.clone());
    }
    if let Some(p) = &o.project {
        details.push(format!("project {p}"));
    }
    if let Some(t) = &o.tier {
        details.push(format!("tier {t}"));
    }
    if let Some(e) = o.expires_at {
        details.push(format!("token expires {}", view::relative(e, view::now())));
    }
    let action = if o.updated { "updated" } else { "added" };
    output::info(&format!(
        "{verb}: {action} upstream `{}` ({})",
        o.name,
        details.join(", ")
    ));
    if let Some(w) = &o.warning {
        output::warn(w);
    }
    if let Some(n) = notice {
        output::warn(&n);
    }
    let model = match o.provider {
        ProviderKind::GeminiCli => crate::upstream::code_assist::MODELS.first(),
        _ => crate::oauth::qwen::MODELS.first(),
    };
    if let Some(m) = model {
        output::info(&format!(
            "clients can ask for `{}/{m}` to use it directly",
            o.name
        ));
    }
}

const STATUS_HEADERS: [&str; 6] = ["NAME", "PROVIDER", "ACCOUNT", "PROJECT", "STATE", "EXPIRES"];

fn state_str(s: OAuthState) -> &'static str {
    match s {
        OAuthState::Active => "active",
        OAuthState::NeedsLogin => "needs-login",
        OAuthState::RefreshFailing => "refresh-failing",
        OAuthState::LoggedOut => "logged-out",
    }
}

/// The EXPIRES cell from the RFC 3339 the row carries.
fn expires_cell(row: &StatusRow, now: u64) -> String {
    row.expires_at
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| view::relative(d.as_secs(), now))
        .unwrap_or_else(|| "-".into())
}

async fn status(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let rows = commands::status(&store, args.name.as_deref())
        .await
        .map_err(user_error)?;
    if args.json {
        return match (&args.name, rows.first()) {
            (Some(_), Some(row)) => output::json(row),
            _ => output::json(&rows),
        };
    }
    if rows.is_empty() {
        output::info(
            "no OAuth logins; see `llm-gateway oauth login --help` (API keys are the main path: \
             `llm-gateway upstream add NAME --provider KIND`)",
        );
        return Ok(());
    }
    let now = view::now();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.provider.as_str().into(),
                r.account.clone().unwrap_or_else(|| "-".into()),
                r.project.clone().unwrap_or_else(|| "-".into()),
                state_str(r.state).into(),
                expires_cell(r, now),
            ]
        })
        .collect();
    output::table(&STATUS_HEADERS, &cells)?;
    for r in &rows {
        if let Some(e) = &r.last_error {
            output::warn(&format!("`{}`: {e}", r.name));
        }
        if matches!(r.state, OAuthState::NeedsLogin | OAuthState::LoggedOut) {
            output::info(&format!(
                "log `{0}` in again with `llm-gateway oauth login {1} --name {0}`",
                r.name, r.provider
            ));
        }
    }
    Ok(())
}

/// Refreshes through the store handle: with the server running, the new token goes over the
/// admin socket, and its refresher re-reads it on the wake that follows.
async fn refresh(ctx: &Ctx, args: &NameArg) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let row = commands::refresh(&store, &ctx.config, &args.name)
        .await
        .map_err(user_error)?;
    let expiry = row
        .expires_at
        .as_deref()
        .map(|t| {
            format!(
                "; the token expires {} ({t})",
                expires_cell(&row, view::now())
            )
        })
        .unwrap_or_default();
    output::info(&format!("refreshed `{}`{expiry}", row.name));
    Ok(())
}

async fn logout(ctx: &Ctx, args: &NameArg) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let out = commands::logout(&store, &ctx.config, &args.name)
        .await
        .map_err(user_error)?;
    if let Some(w) = &out.warning {
        output::warn(&format!("the provider did not revoke the token: {w}"));
    }
    let revoked = if out.revoked {
        " and revoked it at the provider"
    } else {
        ""
    };
    output::info(&format!(
        "logged out of `{}`: deleted its tokens{revoked}; `llm-gateway upstream remove {}` \
         deletes the upstream",
        out.name, out.name
    ));
    Ok(())
}
