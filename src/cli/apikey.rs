//! `apikey add | list | show | revoke | disable | enable`: the gateway's own keys, which clients
//! present. Only a hash and a display prefix are stored; `add` prints the key once, alone on
//! stdout, so `KEY=$(llm-gateway apikey add laptop)` works.

use super::args::{ListArgs, NameArg, ShowArgs};
use clap::{Args, Subcommand};

use super::view::{self, KeyView};
use super::{Ctx, calls, complete, output, parse_name};
use crate::store::records::ApiKeyRecord;

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key and print it once, alone on stdout
    Add(AddArgs),
    /// List the keys (prefixes only: keys are never stored)
    List(ListArgs),
    /// Show one key's settings
    #[command(mut_arg("name", complete::names(complete::keys)))]
    Show(ShowArgs),
    /// Revoke a key for good
    #[command(mut_arg("name", complete::names(complete::keys)))]
    Revoke(NameArg),
    /// Refuse a key until it is enabled again
    #[command(mut_arg("name", complete::names(complete::keys)))]
    Disable(NameArg),
    /// Accept a disabled key again
    #[command(mut_arg("name", complete::names(complete::keys)))]
    Enable(NameArg),
}

#[derive(Debug, Args)]
#[command(after_help = "Example: KEY=$(llm-gateway apikey add laptop --rpm 60)")]
pub struct AddArgs {
    /// A name for the key (who or what uses it)
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Requests per minute allowed [default: unlimited]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rpm: Option<u32>,
    /// Model names or globs the key may use, comma-separated [default: all]
    #[arg(long, value_name = "PATTERNS", value_delimiter = ',')]
    pub models: Vec<String>,
}

pub async fn run(ctx: &Ctx, command: ApikeyCommand) -> anyhow::Result<()> {
    match command {
        ApikeyCommand::Add(a) => add(ctx, a).await,
        ApikeyCommand::List(a) => list(ctx, &a).await,
        ApikeyCommand::Show(a) => show(ctx, &a).await,
        ApikeyCommand::Revoke(a) => {
            calls::key_revoke(&ctx.store().await?, &a.name).await?;
            output::info(&format!("revoked API key `{}`", a.name));
            Ok(())
        }
        ApikeyCommand::Disable(a) => set_enabled(ctx, &a.name, false).await,
        ApikeyCommand::Enable(a) => set_enabled(ctx, &a.name, true).await,
    }
}

async fn add(ctx: &Ctx, args: AddArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let (key, prefix, hash) = crate::store::keys::generate();
    let models: Vec<String> = args
        .models
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    let shown_prefix = prefix.clone();
    let record = ApiKeyRecord {
        name: args.name.clone(),
        prefix,
        hash,
        rpm: args.rpm,
        models,
        enabled: true,
        revoked: false,
        created_at: view::now(),
        last_used_at: None,
    };
    // The key is made here, so it is still in hand if the server goes away with the request:
    // a key the store may hold is always shown, even when whether it does is unknown.
    match calls::key_add(&store, record).await? {
        calls::KeyAdded::Yes => {
            output::line(key.expose())?;
            output::info(&format!(
                "created API key `{}`: it is shown only this once, so store it now",
                args.name
            ));
            Ok(())
        }
        calls::KeyAdded::Unconfirmed(err) => {
            output::line(key.expose())?;
            output::warn(&format!(
                "the key above works only if `llm-gateway apikey show {}` finds it (prefix {}); \
                 it is shown only this once",
                args.name, shown_prefix
            ));
            Err(err)
        }
    }
}

async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    let records = calls::key_list(&ctx.store().await?).await?;
    if args.json {
        let views: Vec<KeyView> = records.iter().map(KeyView::new).collect();
        return output::json(&views);
    }
    if records.is_empty() {
        output::info("no API keys yet; create one with `llm-gateway apikey add NAME`");
        return Ok(());
    }
    let now = view::now();
    let rows: Vec<Vec<String>> = records.iter().map(|r| view::key_row(r, now)).collect();
    output::table(&view::KEY_HEADERS, &rows)
}

async fn show(ctx: &Ctx, args: &ShowArgs) -> anyhow::Result<()> {
    let record = calls::key_get(&ctx.store().await?, &args.name).await?;
    if args.json {
        return output::json(&KeyView::new(&record));
    }
    output::fields(&view::key_fields(&record))
}

async fn set_enabled(ctx: &Ctx, name: &str, enabled: bool) -> anyhow::Result<()> {
    calls::key_set_enabled(&ctx.store().await?, name, enabled).await?;
    let word = if enabled { "enabled" } else { "disabled" };
    output::info(&format!("{word} API key `{name}`"));
    Ok(())
}
