//! `[[rules]]`: which rules apply to a routed request, and the edits they make, as JSON.
//!
//! A rule applies when its `match` glob matches the model sent upstream, the same with the
//! upstream's prefix (`oai/gpt-4o`), or the name the client asked for. Every matching rule
//! applies, in file order; `match = "default"` rules apply only when no other rule matched.
//! The edits are top-level body keys: `unset` removes, then `set` replaces, then `extra` merges
//! (objects deep-merged, anything else replaced). [`Edits::apply`] is the one place that says
//! so, over any [`Fields`]: translated routes apply them to the upstream's wire JSON (a
//! `serde_json` map, impl here), the fast path to the client's body entries, whose other values
//! keep their bytes (`server::fast_body`). A new kind of edit is a change here only.

use serde_json::Value;

use super::glob;
use crate::config::file::Rule;

/// The pattern of rules that apply when no other rule matched.
pub const DEFAULT: &str = "default";

/// Rules that apply to a request whose model has these names.
pub fn matching<'a>(rules: &'a [Rule], names: &[&str]) -> Vec<&'a Rule> {
    let hit: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.pattern != DEFAULT && names.iter().any(|n| glob::matches(&r.pattern, n)))
        .collect();
    if hit.is_empty() {
        rules.iter().filter(|r| r.pattern == DEFAULT).collect()
    } else {
        hit
    }
}

/// The combined edits of some rules, in application order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edits {
    pub unset: Vec<String>,
    pub set: Vec<(String, Value)>,
    pub extra: Vec<(String, Value)>,
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        self.unset.is_empty() && self.set.is_empty() && self.extra.is_empty()
    }

    /// Applies the edits to `fields`: `unset`, then `set`, then `extra` (deep-merged into the
    /// value already there).
    pub fn apply(&self, fields: &mut impl Fields) -> Result<(), EditError> {
        for key in &self.unset {
            fields.remove(key);
        }
        for (key, value) in &self.set {
            fields.set(key, value.clone())?;
        }
        for (key, patch) in &self.extra {
            let merged = match fields.take(key)? {
                Some(mut base) => {
                    merge(&mut base, patch.clone());
                    base
                }
                None => patch.clone(),
            };
            fields.set(key, merged)?;
        }
        Ok(())
    }
}

/// A JSON object's top level, as the edits change it.
pub trait Fields {
    /// Removes the entries named `key`.
    fn remove(&mut self, key: &str);
    /// The value of `key`, if there is one, taken for a merge (its place is kept for
    /// [`set`](Fields::set)).
    fn take(&mut self, key: &str) -> Result<Option<Value>, EditError>;
    /// Sets `key` to `value`, in its place when it is there, else at the end.
    fn set(&mut self, key: &str, value: Value) -> Result<(), EditError>;
}

/// An edit that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The value already there could not be read to merge into.
    #[error("{message}")]
    Unreadable { key: String, message: String },
    /// The edited value could not be written out.
    #[error("cannot encode the request: {0}")]
    Encode(String),
}

/// A translated request's wire JSON.
impl Fields for serde_json::Map<String, Value> {
    fn remove(&mut self, key: &str) {
        // The map's own method (a key is there at most once).
        serde_json::Map::remove(self, key);
    }

    fn take(&mut self, key: &str) -> Result<Option<Value>, EditError> {
        Ok(self.get_mut(key).map(Value::take))
    }

    fn set(&mut self, key: &str, value: Value) -> Result<(), EditError> {
        serde_json::Map::insert(self, key.to_owned(), value);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("rule `{pattern}`: cannot use the value of `{key}`: {message}")]
pub struct RuleError {
    pub pattern: String,
    pub key: String,
    pub message: String,
}

pub fn edits(rules: &[&Rule]) -> Result<Edits, RuleError> {
    let mut out = Edits::default();
    for rule in rules {
        out.unset.extend(rule.unset.iter().cloned());
        for (target, table) in [(&mut out.set, &rule.set), (&mut out.extra, &rule.extra)] {
            for (key, value) in table {
                let json = serde_json::to_value(value).map_err(|e| RuleError {
                    pattern: rule.pattern.clone(),
                    key: key.clone(),
                    message: e.to_string(),
                })?;
                target.push((key.clone(), json));
            }
        }
    }
    Ok(out)
}

/// Merges `patch` into `base`: objects key by key, recursively; anything else replaces.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(pattern: &str, toml_text: &str) -> Rule {
        let mut r: Rule = toml::from_str(toml_text).unwrap();
        r.pattern = pattern.into();
        r
    }

    #[test]
    fn matching_rules_and_default() {
        let rules = vec![
            rule("gpt-4*", "match = \"x\"\nunset = [\"top_p\"]"),
            rule("default", "match = \"x\"\nset = { temperature = 0.5 }"),
            rule("*-mini", "match = \"x\"\nset = { n = 1 }"),
        ];
        let hit = matching(&rules, &["gpt-4o-mini"]);
        assert_eq!(hit.len(), 2);
        assert_eq!(hit[0].pattern, "gpt-4*");
        assert_eq!(hit[1].pattern, "*-mini");
        let hit = matching(&rules, &["llama"]);
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].pattern, "default");
        // Any of the names may match.
        let hit = matching(&rules, &["m", "oai/m", "gpt-4o"]);
        assert_eq!(hit[0].pattern, "gpt-4*");
        assert!(matching(&[], &["x"]).is_empty());
    }

    #[test]
    fn edits_convert_toml_to_json() {
        let r = rule(
            "m",
            "match = \"m\"\nunset = [\"a\"]\nset = { temperature = 0.2, stop = [\"x\"] }\nextra = { reasoning = { effort = \"low\" } }",
        );
        let e = edits(&[&r]).unwrap();
        assert_eq!(e.unset, vec!["a".to_string()]);
        assert!(e.set.contains(&("temperature".into(), json!(0.2))));
        assert!(e.set.contains(&("stop".into(), json!(["x"]))));
        assert_eq!(
            e.extra,
            vec![("reasoning".into(), json!({"effort": "low"}))]
        );
        assert!(!e.is_empty());
        assert!(Edits::default().is_empty());
    }

    #[test]
    fn edits_apply_in_order() {
        let edits = Edits {
            unset: vec!["top_p".into()],
            set: vec![
                ("temperature".into(), json!(0.2)),
                ("top_p".into(), json!(0.9)),
            ],
            extra: vec![
                ("reasoning".into(), json!({"b": 2})),
                ("seed".into(), json!(7)),
                ("temperature".into(), json!(0.3)),
            ],
        };
        let mut body = json!({"model": "m", "top_p": 1, "temperature": 1, "reasoning": {"a": 1}});
        let Value::Object(map) = &mut body else {
            unreachable!()
        };
        edits.apply(map).unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "top_p": 0.9, "temperature": 0.3, "reasoning": {"a": 1, "b": 2}, "seed": 7})
        );
    }

    #[test]
    fn merge_is_deep_for_objects() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(
            &mut base,
            json!({"a": {"c": 3, "e": 4}, "d": [2], "f": null}),
        );
        assert_eq!(
            base,
            json!({"a": {"b": 1, "c": 3, "e": 4}, "d": [2], "f": null})
        );
    }
}
