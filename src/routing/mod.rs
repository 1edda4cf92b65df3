//! Model name -> ordered candidates (upstream, model to send it), plus the request rewrites of
//! `[[rules]]` and upstream [`health`] (circuit breaker, 429 cooldowns) that reorders them.
//!
//! A name is first checked ([`model_name::check`]): one that could change the upstream's URL
//! is refused before it is routed or judged by a key's globs.
//!
//! Resolution order (README, "Routing"):
//! 1. `NAME/model` where NAME is an upstream's name: that upstream only, the rest sent as is.
//! 2. `[aliases]`: exact names first, then `*` globs, most specific first; the target may carry
//!    an upstream prefix, and is then resolved by steps 1 and 3 (aliases do not chain).
//! 3. Enabled upstreams whose model list has the model, lowest priority number first, ties by
//!    name.
//!
//! Disabled upstreams get no traffic. The server builds one [`RouteTable`] per view of the store
//! (rebuilt when the CLI changes upstreams) and keeps one [`Health`] for its lifetime; each
//! candidate carries its upstream's [`UpstreamHealth`].

pub mod glob;
pub mod health;
pub mod model_name;
pub mod rules;

pub use health::{Health, UpstreamHealth};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::store::records::UpstreamRecord;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No upstream serves the model; `available` lists what enabled upstreams do serve.
    #[error("{}", unknown_model_message(.model, .available))]
    UnknownModel {
        model: String,
        available: Vec<String>,
    },
    #[error("upstream `{name}` is disabled (enable it with `llm-gateway upstream enable {name}`)")]
    UpstreamDisabled { name: String },
    #[error("the model name is empty")]
    EmptyModel,
    /// A name that could change the upstream's URL (see [`model_name`]).
    #[error("invalid model name `{model}`: {reason}")]
    InvalidModel {
        model: String,
        reason: model_name::InvalidModelName,
    },
}

fn unknown_model_message(model: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("model `{model}` not found: no enabled upstream serves any model")
    } else {
        format!(
            "model `{model}` not found; available models: {}",
            available.join(", ")
        )
    }
}

/// One place to send the request.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub upstream: Arc<UpstreamRecord>,
    /// The upstream's place in [`RouteTable::upstreams`], for tables kept alongside it.
    pub slot: usize,
    /// The model name as the upstream knows it.
    pub model: String,
    /// The upstream's breaker and cooldowns.
    pub health: Arc<UpstreamHealth>,
}

/// The outcome of routing one model name.
#[derive(Debug, Clone)]
pub struct Route {
    /// The alias target, when an alias applied.
    pub alias: Option<String>,
    /// In the order to try them; never empty.
    pub candidates: Vec<Candidate>,
}

/// Upstreams and aliases, indexed for routing. Cheap to query, rebuilt on every store change.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// All upstreams, enabled or not, sorted by (priority, name).
    upstreams: Vec<Arc<UpstreamRecord>>,
    /// `upstreams[i]`'s health.
    health: Vec<Arc<UpstreamHealth>>,
    by_name: FxHashMap<String, usize>,
    /// Model -> indexes into `upstreams` of the enabled ones listing it, in order.
    by_model: FxHashMap<String, Vec<usize>>,
    aliases_exact: FxHashMap<String, String>,
    /// Most specific first.
    aliases_glob: Vec<(String, String)>,
}

impl RouteTable {
    /// A table whose upstreams have fresh health slots of their own (tests, one-off routing).
    pub fn new(upstreams: Vec<UpstreamRecord>, aliases: &BTreeMap<String, String>) -> Self {
        Self::build(upstreams, aliases, None)
    }

    /// A table whose candidates carry the health `health` keeps for their upstreams.
    pub fn with_health(
        upstreams: Vec<UpstreamRecord>,
        aliases: &BTreeMap<String, String>,
        health: &Health,
    ) -> Self {
        Self::build(upstreams, aliases, Some(health))
    }

    fn build(
        mut upstreams: Vec<UpstreamRecord>,
        aliases: &BTreeMap<String, String>,
        health: Option<&Health>,
    ) -> Self {
        upstreams.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        let upstreams: Vec<Arc<UpstreamRecord>> = upstreams.into_iter().map(Arc::new).collect();
        let health = match health {
            Some(h) => h.slots_for(&upstreams),
            None => upstreams
                .iter()
                .map(|u| UpstreamHealth::detached(&u.name))
                .collect(),
        };
        let mut by_name = FxHashMap::default();
        let mut by_model: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, u) in upstreams.iter().enumerate() {
            by_name.insert(u.name.clone(), i);
            if !u.enabled {
                continue;
            }
            for m in &u.models {
                let list = by_model.entry(m.clone()).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        let mut aliases_exact = FxHashMap::default();
        let mut aliases_glob = Vec::new();
        for (from, to) in aliases {
            if glob::is_glob(from) {
                aliases_glob.push((from.clone(), to.clone()));
            } else {
                aliases_exact.insert(from.clone(), to.clone());
            }
        }
        aliases_glob.sort_by(|(a, _), (b, _)| {
            glob::specificity(b)
                .cmp(&glob::specificity(a))
                .then_with(|| a.cmp(b))
        });
        RouteTable {
            upstreams,
            health,
            by_name,
            by_model,
            aliases_exact,
            aliases_glob,
        }
    }

    /// Every upstream, sorted by (priority, name).
    pub fn upstreams(&self) -> &[Arc<UpstreamRecord>] {
        &self.upstreams
    }

    pub fn upstream(&self, name: &str) -> Option<&Arc<UpstreamRecord>> {
        self.by_name.get(name).and_then(|&i| self.upstreams.get(i))
    }

    /// Every upstream with its health, sorted by (priority, name).
    pub fn upstreams_with_health(
        &self,
    ) -> impl Iterator<Item = (&Arc<UpstreamRecord>, &Arc<UpstreamHealth>)> {
        self.upstreams.iter().zip(self.health.iter())
    }

    fn candidate(&self, i: usize, model: &str) -> Option<Candidate> {
        Some(Candidate {
            upstream: Arc::clone(self.upstreams.get(i)?),
            slot: i,
            model: model.to_string(),
            health: Arc::clone(self.health.get(i)?),
        })
    }

    /// The distinct models of enabled upstreams, sorted, each with the first upstream serving it.
    pub fn models(&self) -> Vec<(String, Arc<UpstreamRecord>)> {
        let mut out: BTreeMap<&str, &Arc<UpstreamRecord>> = BTreeMap::new();
        for u in self.upstreams.iter().filter(|u| u.enabled) {
            for m in &u.models {
                out.entry(m.as_str()).or_insert(u);
            }
        }
        out.into_iter()
            .map(|(m, u)| (m.to_string(), Arc::clone(u)))
            .collect()
    }

    pub fn resolve(&self, model: &str) -> Result<Route, RouteError> {
        if model.is_empty() {
            return Err(RouteError::EmptyModel);
        }
        model_name::check(model).map_err(|reason| RouteError::InvalidModel {
            model: model.to_owned(),
            reason,
        })?;
        if let Some(found) = self.by_prefix(model) {
            return found.map(|candidates| Route {
                alias: None,
                candidates,
            });
        }
        if let Some(target) = self.alias(model) {
            let candidates = match self.by_prefix(target) {
                Some(found) => found?,
                None => self.by_list(target).ok_or_else(|| self.unknown(target))?,
            };
            return Ok(Route {
                alias: Some(target.to_string()),
                candidates,
            });
        }
        let candidates = self.by_list(model).ok_or_else(|| self.unknown(model))?;
        Ok(Route {
            alias: None,
            candidates,
        })
    }

    /// `Some` when `model` starts with an upstream's name and a `/`.
    fn by_prefix(&self, model: &str) -> Option<Result<Vec<Candidate>, RouteError>> {
        let (name, rest) = model.split_once('/')?;
        let &i = self.by_name.get(name)?;
        let upstream = self.upstreams.get(i)?;
        if !upstream.enabled {
            return Some(Err(RouteError::UpstreamDisabled {
                name: name.to_string(),
            }));
        }
        if rest.is_empty() {
            return Some(Err(RouteError::EmptyModel));
        }
        self.candidate(i, rest).map(|c| Ok(vec![c]))
    }

    fn alias(&self, model: &str) -> Option<&str> {
        self.alias_of(model).map(|(_, to)| to)
    }

    /// The alias that applies to `model`, as `(pattern, target)`: an exact name first, then the
    /// most specific glob (`alias list` shows which pattern wins this way).
    pub fn alias_of(&self, model: &str) -> Option<(&str, &str)> {
        if let Some((from, to)) = self.aliases_exact.get_key_value(model) {
            return Some((from, to));
        }
        self.aliases_glob
            .iter()
            .find(|(from, _)| glob::matches(from, model))
            .map(|(from, to)| (from.as_str(), to.as_str()))
    }

    fn by_list(&self, model: &str) -> Option<Vec<Candidate>> {
        let idx = self.by_model.get(model)?;
        let out: Vec<Candidate> = idx
            .iter()
            .filter_map(|&i| self.candidate(i, model))
            .collect();
        (!out.is_empty()).then_some(out)
    }

    fn unknown(&self, model: &str) -> RouteError {
        let available: BTreeSet<String> = self.models().into_iter().map(|(m, _)| m).collect();
        RouteError::UnknownModel {
            model: model.to_string(),
            available: available.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::store::records::AuthKind;

    fn up(name: &str, priority: u32, models: &[&str]) -> UpstreamRecord {
        UpstreamRecord {
            models: models.iter().map(|m| m.to_string()).collect(),
            priority,
            auth: AuthKind::None,
            ..UpstreamRecord::sample(name, ProviderKind::Openai)
        }
    }

    fn names(route: &Route) -> Vec<(String, String)> {
        route
            .candidates
            .iter()
            .map(|c| (c.upstream.name.clone(), c.model.clone()))
            .collect()
    }

    fn pair(u: &str, m: &str) -> (String, String) {
        (u.to_string(), m.to_string())
    }

    fn table(ups: Vec<UpstreamRecord>, aliases: &[(&str, &str)]) -> RouteTable {
        let aliases = aliases
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        RouteTable::new(ups, &aliases)
    }

    #[test]
    fn priority_then_name() {
        let t = table(
            vec![
                up("zeta", 10, &["m"]),
                up("beta", 100, &["m"]),
                up("alpha", 100, &["m"]),
                up("other", 1, &["x"]),
            ],
            &[],
        );
        let r = t.resolve("m").unwrap();
        assert_eq!(
            names(&r),
            vec![pair("zeta", "m"), pair("alpha", "m"), pair("beta", "m")]
        );
        assert_eq!(r.alias, None);
    }

    #[test]
    fn disabled_upstreams_get_nothing() {
        let mut off = up("off", 1, &["m"]);
        off.enabled = false;
        let t = table(vec![off, up("on", 50, &["m"])], &[]);
        assert_eq!(names(&t.resolve("m").unwrap()), vec![pair("on", "m")]);
        assert_eq!(
            t.resolve("off/m").unwrap_err(),
            RouteError::UpstreamDisabled { name: "off".into() }
        );
        let mut only = up("only", 1, &["solo"]);
        only.enabled = false;
        let t = table(vec![only], &[]);
        assert!(matches!(
            t.resolve("solo"),
            Err(RouteError::UnknownModel { .. })
        ));
    }

    #[test]
    fn prefix_sends_the_rest_as_is() {
        let t = table(vec![up("oai", 100, &["gpt-4o"]), up("b", 1, &[])], &[]);
        assert_eq!(
            names(&t.resolve("oai/gpt-4o-mini").unwrap()),
            vec![pair("oai", "gpt-4o-mini")]
        );
        // The rest may itself contain slashes.
        assert_eq!(
            names(&t.resolve("oai/meta-llama/Llama-3").unwrap()),
            vec![pair("oai", "meta-llama/Llama-3")]
        );
        assert!(matches!(
            t.resolve("oai/"),
            Err(RouteError::InvalidModel { .. })
        ));
    }

    #[test]
    fn names_that_could_change_the_url_are_refused_before_routing() {
        let t = table(
            vec![up("gem", 100, &["gemini-2.5-flash"])],
            &[("*", "gem/x")],
        );
        for bad in [
            "gem/gemini-2.5-flash:generateContent?alt=json&key=x#",
            "gem/../../v1beta/cachedContents#",
            "gem/gemini-2.5-flash/../gemini-2.5-pro",
            // Not even an alias (here `*`) may take such a name.
            "x/../y",
        ] {
            assert!(
                matches!(t.resolve(bad), Err(RouteError::InvalidModel { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn slash_without_upstream_name_is_a_model_name() {
        let t = table(vec![up("hf", 100, &["meta-llama/Llama-3"])], &[]);
        assert_eq!(
            names(&t.resolve("meta-llama/Llama-3").unwrap()),
            vec![pair("hf", "meta-llama/Llama-3")]
        );
    }

    #[test]
    fn aliases_exact_then_most_specific_glob() {
        let t = table(
            vec![
                up("qw", 100, &["qwen-flash", "qwen-max"]),
                up("gem", 100, &["gemini-pro"]),
            ],
            &[
                ("claude-*", "gem/gemini-pro"),
                ("claude-*haiku*", "qw/qwen-flash"),
                ("claude-3-5-haiku-latest", "qwen-max"),
            ],
        );
        let r = t.resolve("claude-3-5-haiku-20241022").unwrap();
        assert_eq!(names(&r), vec![pair("qw", "qwen-flash")]);
        assert_eq!(r.alias.as_deref(), Some("qw/qwen-flash"));
        assert_eq!(
            names(&t.resolve("claude-sonnet-4").unwrap()),
            vec![pair("gem", "gemini-pro")]
        );
        assert_eq!(
            names(&t.resolve("claude-3-5-haiku-latest").unwrap()),
            vec![pair("qw", "qwen-max")]
        );
    }

    #[test]
    fn alias_to_unknown_model_names_the_target() {
        let t = table(vec![up("a", 1, &["m"])], &[("x", "nope")]);
        match t.resolve("x").unwrap_err() {
            RouteError::UnknownModel { model, available } => {
                assert_eq!(model, "nope");
                assert_eq!(available, vec!["m".to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prefix_beats_alias_and_alias_beats_lists() {
        let t = table(
            vec![up("a", 1, &["m", "n"]), up("b", 2, &["n"])],
            &[("m", "b/n"), ("a/*", "b/n")],
        );
        assert_eq!(names(&t.resolve("a/m").unwrap()), vec![pair("a", "m")]);
        assert_eq!(names(&t.resolve("m").unwrap()), vec![pair("b", "n")]);
    }

    #[test]
    fn unknown_model_lists_available() {
        let t = table(vec![up("a", 1, &["m2", "m1"]), up("b", 1, &["m1"])], &[]);
        let err = t.resolve("zzz").unwrap_err();
        assert_eq!(
            err,
            RouteError::UnknownModel {
                model: "zzz".into(),
                available: vec!["m1".into(), "m2".into()]
            }
        );
        assert!(err.to_string().contains("m1, m2"), "{err}");
        assert_eq!(t.resolve("").unwrap_err(), RouteError::EmptyModel);
    }

    #[test]
    fn models_are_deduplicated_and_from_enabled_only() {
        let mut off = up("off", 1, &["hidden"]);
        off.enabled = false;
        let t = table(vec![off, up("a", 5, &["m"]), up("b", 1, &["m", "k"])], &[]);
        let models: Vec<(String, String)> = t
            .models()
            .into_iter()
            .map(|(m, u)| (m, u.name.clone()))
            .collect();
        assert_eq!(models, vec![pair("k", "b"), pair("m", "b")]);
    }
}
