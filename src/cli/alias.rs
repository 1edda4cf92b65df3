//! `alias set PATTERN TARGET | list | remove PATTERN`: `[aliases]` in `config.toml`, edited in
//! place with its comments kept ([`crate::config::edit`]). A running server is asked to look
//! at the file at once, so the change is in force when the command returns.

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use clap_complete::ArgValueCandidates;
use serde::Serialize;

use super::args::ListArgs;
use super::{Ctx, UserError, calls, complete, output};
use crate::config::edit;
use crate::routing::{RouteError, RouteTable, model_name};

/// Model names clients send by themselves, for `alias list` to show which pattern takes each:
/// Claude Code's, Gemini CLI's and Codex's defaults and their small background models.
pub const KNOWN_CLIENT_MODELS: &[&str] = &[
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gpt-5",
    "gpt-5-codex",
];

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Send a model name, or every name a `*` glob matches, to another model
    #[command(after_help = "\
The most specific pattern wins (an exact name first, then the glob with the most literal
characters). The target may name its upstream: `gem/gemini-2.5-pro`.

Examples:
  llm-gateway alias set 'claude-*' gem/gemini-2.5-pro
  llm-gateway alias set 'claude-*haiku*' gem/gemini-2.5-flash")]
    Set(SetArgs),
    /// List the aliases, and which one takes well-known client model names
    List(ListArgs),
    /// Remove an alias
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// A model name, or a glob where `*` matches any run of characters
    #[arg(value_parser = parse_model, add = ArgValueCandidates::new(complete::aliases))]
    pub pattern: String,
    /// The model to send it to, optionally `UPSTREAM/model`
    #[arg(value_parser = parse_model, add = ArgValueCandidates::new(complete::targets))]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The pattern, as `alias list` shows it
    #[arg(add = ArgValueCandidates::new(complete::aliases))]
    pub pattern: String,
}

/// A name a client could send: no characters that would change an upstream's URL.
pub(crate) fn parse_model(s: &str) -> Result<String, String> {
    model_name::check(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

pub async fn run(ctx: &Ctx, command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Set(a) => set(ctx, &a).await,
        AliasCommand::List(a) => list(ctx, &a),
        AliasCommand::Remove(a) => remove(ctx, &a).await,
    }
}

fn read(ctx: &Ctx) -> anyhow::Result<String> {
    std::fs::read_to_string(&ctx.config_path)
        .with_context(|| format!("cannot read {}", ctx.config_path.display()))
}

fn write(ctx: &Ctx, text: &str) -> anyhow::Result<()> {
    edit::write(&ctx.config_path, text)
        .with_context(|| format!("cannot write {}", ctx.config_path.display()))?;
    Ok(())
}

fn edit_error(ctx: &Ctx, e: edit::EditError) -> anyhow::Error {
    UserError::new(e.to_string())
        .hint(format!("fix {} first", ctx.config_path.display()))
        .into()
}

async fn set(ctx: &Ctx, args: &SetArgs) -> anyhow::Result<()> {
    let text = read(ctx)?;
    let out =
        edit::set_alias(&text, &args.pattern, &args.target).map_err(|e| edit_error(ctx, e))?;
    if out != text {
        write(ctx, &out)?;
    }
    output::info(&format!(
        "alias `{}` -> `{}` in {}",
        args.pattern,
        args.target,
        ctx.config_path.display()
    ));
    let store = ctx.store().await?;
    // Aliases do not chain: the target is routed by upstream prefix or model lists only.
    let upstreams = calls::upstream_list(&store).await?;
    match RouteTable::new(upstreams, &BTreeMap::new()).resolve(&args.target) {
        Ok(_) => {}
        Err(RouteError::UnknownModel { .. }) => output::warn(&format!(
            "no upstream serves `{}` yet: requests it takes fail until one does \
             (see `llm-gateway models`)",
            args.target
        )),
        Err(e) => output::warn(&e.to_string()),
    }
    reach_server(&store).await;
    Ok(())
}

async fn remove(ctx: &Ctx, args: &RemoveArgs) -> anyhow::Result<()> {
    let text = read(ctx)?;
    let Some(out) = edit::remove_alias(&text, &args.pattern).map_err(|e| edit_error(ctx, e))?
    else {
        return Err(UserError::new(format!(
            "no alias `{}` in {}",
            args.pattern,
            ctx.config_path.display()
        ))
        .hint("see the patterns with `llm-gateway alias list`")
        .into());
    };
    write(ctx, &out)?;
    output::info(&format!("removed alias `{}`", args.pattern));
    reach_server(&ctx.store().await?).await;
    Ok(())
}

/// Has a running server put the edited file in force now rather than at its next look.
async fn reach_server(store: &crate::daemon::StoreHandle) {
    match calls::config_reload(store).await {
        Some(s) if s.in_force => output::info("the running server uses it now"),
        Some(s) => output::warn(&format!(
            "the running server did not take the file: {}",
            s.error.unwrap_or_default()
        )),
        None => {}
    }
}

#[derive(Debug, Serialize)]
struct AliasView {
    name: String,
    target: String,
    /// The well-known client model names this pattern takes (no more specific one does).
    wins_for: Vec<&'static str>,
}

fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    let aliases = &ctx.config.aliases;
    let table = RouteTable::new(Vec::new(), aliases);
    let mut wins: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for &name in KNOWN_CLIENT_MODELS {
        if let Some((pattern, _)) = table.alias_of(name) {
            wins.entry(pattern).or_default().push(name);
        }
    }
    let views: Vec<AliasView> = aliases
        .iter()
        .map(|(p, t)| AliasView {
            name: p.clone(),
            target: t.clone(),
            wins_for: wins.get(p.as_str()).cloned().unwrap_or_default(),
        })
        .collect();
    if args.json {
        return output::json(&views);
    }
    if views.is_empty() {
        output::info(
            "no aliases yet; add one with `llm-gateway alias set PATTERN TARGET`, \
             e.g. alias set 'claude-*' gem/gemini-2.5-pro",
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let wins = if v.wins_for.is_empty() {
                "-".to_string()
            } else {
                v.wins_for.join(", ")
            };
            vec![v.name.clone(), v.target.clone(), wins]
        })
        .collect();
    output::table(&["PATTERN", "TARGET", "TAKES (OF WELL-KNOWN NAMES)"], &rows)
}
