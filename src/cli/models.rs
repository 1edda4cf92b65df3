//! `models [--json]`: every model name a client can ask for right now: each enabled upstream's
//! models with the upstream and its priority (and its health while the server runs), then each
//! alias with what it resolves to. What `launch --model` accepts.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use super::view::{self, HealthView};
use super::{Ctx, calls, output};
use crate::routing::RouteTable;
use crate::routing::health::HealthReport;
use crate::store::records::UpstreamRecord;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print a JSON list
    #[arg(long)]
    pub json: bool,
}

/// One name a client can send. `kind` is `model` (an upstream lists it: `upstream`,
/// `priority`, `health` set) or `alias` (`target`, and `resolves_to` or `error`).
#[derive(Debug, Serialize)]
struct ModelView {
    name: String,
    kind: &'static str,
    upstream: Option<String>,
    priority: Option<u32>,
    /// From the running server; `null` when it does not run.
    health: Option<HealthView>,
    target: Option<String>,
    /// `UPSTREAM/model` in the order they are tried.
    resolves_to: Vec<String>,
    error: Option<String>,
}

pub async fn run(ctx: &Ctx, args: &ModelsArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let mut upstreams = calls::upstream_list(&store).await?;
    let health = calls::health(&store).await;
    upstreams.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    let models = model_rows(&upstreams);
    // Aliases do not chain: targets are routed without them.
    let routes = RouteTable::new(upstreams.clone(), &BTreeMap::new());
    let aliases: Vec<ModelView> = ctx
        .config
        .aliases
        .iter()
        .map(|(pattern, target)| {
            let (resolves_to, error) = match routes.resolve(target) {
                Ok(route) => (
                    route
                        .candidates
                        .iter()
                        .map(|c| format!("{}/{}", c.upstream.name, c.model))
                        .collect(),
                    None,
                ),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            ModelView {
                name: pattern.clone(),
                kind: "alias",
                upstream: None,
                priority: None,
                health: None,
                target: Some(target.clone()),
                resolves_to,
                error,
            }
        })
        .collect();

    if args.json {
        let all: Vec<ModelView> = models
            .iter()
            .map(|(m, u)| ModelView {
                name: m.to_string(),
                kind: "model",
                upstream: Some(u.name.clone()),
                priority: Some(u.priority),
                health: view::find_health(health.as_deref(), &u.name).map(HealthView::new),
                target: None,
                resolves_to: vec![format!("{}/{m}", u.name)],
                error: None,
            })
            .chain(aliases)
            .collect();
        return output::json(&all);
    }

    let now = view::now();
    if models.is_empty() {
        output::info(
            "no upstream lists a model; add one with `llm-gateway upstream add NAME --provider KIND`",
        );
    } else {
        let rows: Vec<Vec<String>> = models
            .iter()
            .map(|(m, u)| {
                vec![
                    m.to_string(),
                    u.name.clone(),
                    u.priority.to_string(),
                    health_cell(health.as_deref(), &u.name, now),
                ]
            })
            .collect();
        output::table(&["MODEL", "UPSTREAM", "PRIORITY", "HEALTH"], &rows)?;
    }
    if !aliases.is_empty() {
        output::line("")?;
        let rows: Vec<Vec<String>> = aliases
            .iter()
            .map(|a| {
                let served = match &a.error {
                    Some(e) => format!("nothing: {e}"),
                    None => a.resolves_to.join(", "),
                };
                vec![a.name.clone(), a.target.clone().unwrap_or_default(), served]
            })
            .collect();
        output::table(&["ALIAS", "TARGET", "SERVED BY"], &rows)?;
    }
    if let Some(u) = upstreams.iter().find(|u| u.enabled) {
        output::info(&format!(
            "any model of an upstream can also be asked for as UPSTREAM/MODEL, e.g. {}/{}",
            u.name,
            u.models.first().map_or("MODEL", String::as_str)
        ));
    }
    Ok(())
}

/// `(model, upstream)` for every model of every enabled upstream, by model name and then in
/// the order the upstreams are tried.
fn model_rows(upstreams: &[UpstreamRecord]) -> Vec<(&str, &UpstreamRecord)> {
    let mut rows: Vec<(&str, &UpstreamRecord)> = upstreams
        .iter()
        .filter(|u| u.enabled)
        .flat_map(|u| u.models.iter().map(move |m| (m.as_str(), u)))
        .collect();
    // Stable: upstreams are already in routing order.
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows.dedup_by(|a, b| a.0 == b.0 && a.1.name == b.1.name);
    rows
}

fn health_cell(
    reports: Option<&[HealthReport]>,
    name: &str,
    now: crate::store::records::UnixTime,
) -> String {
    match (reports, view::find_health(reports, name)) {
        (None, _) => "- (server not running)".into(),
        (Some(_), Some(h)) => view::health_cell(h, now),
        (Some(_), None) => "-".into(),
    }
}
