//! `status [--json]`: the server (pid, address), whether `config.toml` on disk is in force,
//! upstreams with their state and OAuth token expiry, keys, and request and token counts by
//! upstream and model, from one store handle.

use clap::Args;
use serde::Serialize;

use super::view::{self, KeyView, ServerView, UpstreamView, UsageView};
use super::{Ctx, calls, output};
use crate::config::live::{self, ConfigState};
use crate::daemon;
use crate::store::records::OAuthState;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct StatusView {
    name: &'static str,
    version: &'static str,
    home: String,
    server: ServerView,
    config: ConfigView,
    upstreams: Vec<UpstreamView>,
    keys: Vec<KeyView>,
    usage: Vec<UsageView>,
}

/// `config.toml` as the running server sees it (`in_force` is `null` when no server runs).
#[derive(Debug, Serialize)]
struct ConfigView {
    name: &'static str,
    path: String,
    in_force: Option<bool>,
    /// Why the file is not in force (or, with no server, why it would not load).
    error: Option<String>,
    /// Keys changed on disk that the running server applies only when it restarts.
    needs_restart: Vec<String>,
}

impl ConfigView {
    fn new(ctx: &Ctx, served: Option<ConfigState>) -> ConfigView {
        let path = ctx.config_path.display().to_string();
        match served {
            Some(s) => ConfigView {
                name: "config",
                path,
                in_force: Some(s.in_force),
                error: s.error,
                needs_restart: s.needs_restart,
            },
            None => ConfigView {
                name: "config",
                path,
                in_force: None,
                error: ctx.config_error.as_ref().map(|e| one_line(ctx, e)),
                needs_restart: Vec::new(),
            },
        }
    }

    fn line(&self) -> String {
        match (self.in_force, &self.error) {
            (Some(false), Some(e)) => format!(
                "{} on disk is NOT in force (the server keeps the settings it had): {e}",
                self.path
            ),
            (Some(false), None) => format!("{} on disk is NOT in force", self.path),
            (_, Some(e)) => format!("{} does not load: {e}", self.path),
            _ if !self.needs_restart.is_empty() => format!(
                "{} in force, except {} (restart the server to apply)",
                self.path,
                self.needs_restart.join(", ")
            ),
            (Some(true), None) => format!("{} in force", self.path),
            (None, None) => self.path.clone(),
        }
    }
}

/// The load error of `config.toml` on one line, as the server would log it.
fn one_line(ctx: &Ctx, error: &str) -> String {
    std::fs::read_to_string(&ctx.config_path)
        .ok()
        .and_then(|text| live::parse(&text).err())
        .unwrap_or_else(|| error.lines().next().unwrap_or_default().to_string())
}

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<()> {
    let running = daemon::running(&ctx.home).await;
    let store = ctx.store().await?;
    let config = ConfigView::new(ctx, calls::config_reload(&store).await);
    let upstreams = calls::upstream_list(&store).await?;
    let (health, overhead) = match calls::server_health(&store).await {
        Some((h, o)) => (Some(h), o),
        None => (None, None),
    };
    let keys = calls::key_list(&store).await?;
    let usage: Vec<UsageView> = calls::usage_list(&store)
        .await?
        .iter()
        .map(UsageView::new)
        .collect();
    let server = ServerView {
        name: "server",
        running: running.is_some(),
        pid: running.as_ref().map(|i| i.pid),
        listen: running.as_ref().and_then(|i| i.listen.clone()),
        overhead,
    };

    if args.json {
        return output::json(&StatusView {
            name: "llm-gateway",
            version: env!("CARGO_PKG_VERSION"),
            home: ctx.home.root().display().to_string(),
            server,
            config,
            upstreams: upstreams
                .iter()
                .map(|r| UpstreamView::new(r).with_health(health.as_deref()))
                .collect(),
            keys: keys.iter().map(KeyView::new).collect(),
            usage,
        });
    }

    let server_line = match (&server.pid, &server.listen) {
        (Some(pid), Some(l)) => format!("running (pid {pid}), listening on http://{l}"),
        (Some(pid), None) => format!("running (pid {pid})"),
        _ => "not running (start it with `llm-gateway server start --detach`)".into(),
    };
    let now = view::now();
    let mut fields = vec![("server", server_line)];
    if let Some(o) = &server.overhead {
        fields.push((
            "overhead",
            format!(
                "p50 {} ms, p99 {} ms over {} requests (the gateway's own time, upstream waits excluded)",
                o.p50_ms, o.p99_ms, o.requests
            ),
        ));
    }
    fields.push(("home", ctx.home.root().display().to_string()));
    fields.push(("config", config.line()));
    output::fields(&fields)?;
    match (config.in_force, &config.error) {
        (Some(false), _) => output::warn(&format!(
            "fix {}: until it parses again, the running server keeps its previous settings",
            config.path
        )),
        (None, Some(_)) => output::warn(&format!(
            "fix {}: the server does not start with it, and most commands refuse it",
            config.path
        )),
        _ => {}
    }

    output::line("\nUPSTREAMS")?;
    if upstreams.is_empty() {
        output::line("none: add one with `llm-gateway upstream add NAME --provider KIND`")?;
    } else {
        let (headers, rows) = view::upstream_table(&upstreams, health.as_deref(), now);
        output::table(&headers, &rows)?;
        for r in &upstreams {
            if r.oauth.as_ref().map(|m| m.state) == Some(OAuthState::NeedsLogin) {
                output::warn(&format!(
                    "`{0}` needs a new login: llm-gateway oauth login {1} --name {0}",
                    r.name, r.provider
                ));
            }
        }
    }

    output::line("\nKEYS")?;
    if keys.is_empty() {
        output::line("none: create one with `llm-gateway apikey add NAME`")?;
    } else {
        let rows: Vec<Vec<String>> = keys.iter().map(|r| view::key_row(r, now)).collect();
        output::table(&view::KEY_HEADERS, &rows)?;
    }

    output::line("\nUSAGE")?;
    if usage.is_empty() {
        output::line("no requests yet")
    } else {
        let rows: Vec<Vec<String>> = usage.iter().map(view::usage_row).collect();
        output::table(&view::USAGE_HEADERS, &rows)
    }
}
