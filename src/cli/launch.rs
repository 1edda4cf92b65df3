//! `launch CLIENT [--model M] [--small-model M] [--print] [-- CLIENT_ARGS...]`: checks the
//! models against the routes, takes the launcher's own gateway key (created on first use, its
//! plaintext kept in the secret store), starts the server in the background when none runs
//! (as `server start --detach`), and then either prints the client's settings as shell lines
//! or `exec`s the client with them ([`crate::launch`] holds the client table and the plan).

use std::path::PathBuf;

use clap::Args;
use clap::builder::PossibleValuesParser;
use clap_complete::ArgValueCandidates;

use super::alias::parse_model;
use super::server::{self as server_cmd, StartArgs};
use super::{Ctx, UserError, calls, complete, output};
use crate::daemon::{self, StoreHandle};
use crate::launch::{self, LaunchError, Wiring, clients, windows};
use crate::routing::{RouteError, RouteTable};
use crate::secret::Secret;
use crate::store::keys;
use crate::store::records::ApiKeyRecord;

/// The launcher's kept key, and the name its gateway key gets (`launcher-2`, ... once an
/// earlier one was revoked or disabled).
const LAUNCHER: &str = "launcher";

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  llm-gateway launch claude --model gem/gemini-2.5-pro --small-model gem/gemini-2.5-flash
  llm-gateway launch gemini -- -p 'Summarize README.md'
  eval \"$(llm-gateway launch claude --print)\"

The server is started in the background when none runs, and left running. The client gets a
gateway key of its own (`launcher` in `apikey list`), kept in the secret store; revoking it
makes the next launch create another. Claude Code gets ANTHROPIC_BASE_URL,
ANTHROPIC_AUTH_TOKEN, its model variables and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (and
ANTHROPIC_API_KEY removed); Gemini CLI GOOGLE_GEMINI_BASE_URL, GEMINI_API_KEY and GEMINI_MODEL;
Codex a custom provider as -c overrides and LLM_GATEWAY_API_KEY.")]
pub struct LaunchArgs {
    /// The client to run
    #[arg(value_parser = PossibleValuesParser::new(clients::CLIENTS.iter().map(|c| c.name)))]
    pub client: String,
    /// The model the client uses (a name from `llm-gateway models`, or UPSTREAM/MODEL)
    /// [default: the client's own model names, through [aliases]]
    #[arg(long, value_name = "M", value_parser = parse_model, add = ArgValueCandidates::new(complete::models))]
    pub model: Option<String>,
    /// The model for background work (Claude Code's Haiku slot) [default: --model]
    #[arg(long, value_name = "M", value_parser = parse_model, add = ArgValueCandidates::new(complete::models))]
    pub small_model: Option<String>,
    /// Print the settings as shell `export` lines (the key included) instead of running the
    /// client
    #[arg(long)]
    pub print: bool,
    /// Arguments passed to the client
    #[arg(last = true, value_name = "CLIENT_ARGS")]
    pub client_args: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: LaunchArgs) -> anyhow::Result<()> {
    let client = clients::find(&args.client)
        .ok_or_else(|| UserError::usage(format!("unknown client `{}`", args.client)))?;
    let program = match args.print {
        true => None,
        false => Some(launch::find_program(client).map_err(launch_error)?),
    };
    if args.small_model.is_some() && !client.small_model {
        output::warn(&format!(
            "{} uses one model: --small-model is not passed to it",
            client.program
        ));
    }

    let running = daemon::running(&ctx.home).await;
    let (window, (key_name, key)) = {
        // Without a server this is the database itself: closed at the end of this block,
        // before the server is started and opens it.
        let store = ctx.store().await?;
        (
            check_models(ctx, &store, &args).await?,
            launcher_key(&store).await?,
        )
    };
    let listen = match running {
        Some(info) => info
            .listen
            .unwrap_or_else(|| ctx.config.server.listen.clone()),
        None => start_server(ctx).await?,
    };
    let base = server_cmd::health_url(&listen)
        .trim_end_matches("/health")
        .to_string();

    let wiring = Wiring {
        base_url: &base,
        key: &key,
        model: args.model.as_deref(),
        small_model: args.small_model.as_deref(),
        window,
    };
    let user_home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let plan = launch::plan(
        client,
        &wiring,
        &ctx.home.root().join("launch"),
        user_home.as_deref(),
    )
    .map_err(launch_error)?;
    for note in &plan.notes {
        output::warn(note);
    }
    let Some(program) = program else {
        return output::data(launch::shell_lines(client, &plan).as_bytes());
    };
    output::info(&format!(
        "running {} through the gateway at {base} (gateway key `{key_name}`)",
        client.program
    ));
    Err(launch_error(launch::exec(
        &program,
        &plan,
        &args.client_args,
    )))
}

/// Checks `--model` and `--small-model` against the upstreams and `[aliases]` in force;
/// returns the context window Claude Code needs telling of, if any.
async fn check_models(
    ctx: &Ctx,
    store: &StoreHandle,
    args: &LaunchArgs,
) -> anyhow::Result<Option<u64>> {
    if args.model.is_none() && args.small_model.is_none() {
        return Ok(None);
    }
    let upstreams = calls::upstream_list(store).await?;
    let routes = RouteTable::new(upstreams, &ctx.config.aliases);
    let mut window = None;
    for (flag, model) in [
        ("--model", &args.model),
        ("--small-model", &args.small_model),
    ] {
        let Some(model) = model else { continue };
        match routes.resolve(model) {
            Ok(route) if flag == "--model" => {
                window = route
                    .candidates
                    .first()
                    .and_then(|c| windows::compact_window(&c.model));
            }
            Ok(_) => {}
            Err(e) => {
                let mut message = format!("{flag} {model}: {e}");
                if matches!(e, RouteError::UnknownModel { .. }) && !ctx.config.aliases.is_empty() {
                    let patterns: Vec<&str> =
                        ctx.config.aliases.keys().map(String::as_str).collect();
                    message.push_str(&format!("; aliases: {}", patterns.join(", ")));
                }
                return Err(UserError::new(message)
                    .hint(
                        "see `llm-gateway models`; any model of an upstream can be named \
                         UPSTREAM/MODEL",
                    )
                    .into());
            }
        }
    }
    Ok(window)
}

/// The launcher's gateway key: the kept one while it is live (enabled, not revoked, still
/// stored), else a new one, kept for the next launch.
async fn launcher_key(store: &StoreHandle) -> anyhow::Result<(String, Secret)> {
    let records = calls::key_list(store).await?;
    if let Some(kept) = calls::kept_key_get(store, LAUNCHER).await? {
        let hash = keys::hash_key(kept.expose());
        if let Some(r) = records.iter().find(|r| r.hash.eq_ignore_ascii_case(&hash))
            && r.enabled
            && !r.revoked
        {
            return Ok((r.name.clone(), kept));
        }
    }
    let name = (1..)
        .map(|n| match n {
            1 => LAUNCHER.to_string(),
            n => format!("{LAUNCHER}-{n}"),
        })
        .find(|n| !records.iter().any(|r| &r.name == n))
        .unwrap_or_else(|| LAUNCHER.to_string());
    let (key, prefix, hash) = keys::generate();
    // Kept first: should adding the record fail, no live key is left that nobody knows.
    calls::kept_key_set(store, LAUNCHER, Some(key.clone())).await?;
    calls::key_add(
        store,
        ApiKeyRecord {
            name: name.clone(),
            prefix,
            hash,
            rpm: None,
            models: Vec::new(),
            enabled: true,
            revoked: false,
            created_at: super::view::now(),
            last_used_at: None,
        },
    )
    .await?;
    output::info(&format!(
        "created the gateway key `{name}` for launch (kept in the secret store, reused by later \
         launches; `llm-gateway apikey revoke {name}` retires it)"
    ));
    Ok((name, key))
}

/// Starts the server in the background and returns where it listens. Another launch may have
/// started it meanwhile: that one is used.
async fn start_server(ctx: &Ctx) -> anyhow::Result<String> {
    let args = StartArgs {
        listen: None,
        detach: true,
    };
    let started = server_cmd::detach(ctx, &args).await;
    let info = daemon::running(&ctx.home).await;
    match (started, info) {
        (_, Some(info)) => Ok(info
            .listen
            .unwrap_or_else(|| ctx.config.server.listen.clone())),
        (Err(e), None) => Err(e),
        (Ok(()), None) => Ok(ctx.config.server.listen.clone()),
    }
}

fn launch_error(e: LaunchError) -> anyhow::Error {
    let hint = match &e {
        LaunchError::NotInstalled { npm, .. } => {
            Some(format!("install it with `npm install -g {npm}`"))
        }
        LaunchError::SignIn { how, .. } => Some(format!("{how}, then launch again")),
        LaunchError::SettingsFile { .. } | LaunchError::Exec { .. } => None,
    };
    let mut err = UserError::new(e.to_string());
    if let Some(h) = hint {
        err = err.hint(h);
    }
    err.into()
}
