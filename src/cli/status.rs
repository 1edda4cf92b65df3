//! `status [--json]`: the server (pid, address), upstreams with their state and OAuth token
//! expiry, keys, and request and token counts by upstream and model, from one store handle.

use clap::Args;
use serde::Serialize;

use super::view::{self, KeyView, ServerView, UpstreamView, UsageView};
use super::{Ctx, calls, output};
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
    upstreams: Vec<UpstreamView>,
    keys: Vec<KeyView>,
    usage: Vec<UsageView>,
}

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<()> {
    let running = daemon::running(&ctx.home).await;
    let store = ctx.store().await?;
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
    output::fields(&fields)?;

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
