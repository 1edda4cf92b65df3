//! JSON Schema reduction for Gemini function declarations (docs/translation-rules.md D6), and
//! the reverse normalization of Gemini's OpenAPI-style schemas into JSON Schema for the IR.
//!
//! Two targets. [`SchemaTarget::Parameters`] is the legacy `parameters` field, an OpenAPI 3.0
//! subset that rejects any keyword it does not know ("Unknown name \"$schema\""): the reducer
//! keeps only Gemini's `Schema` keys and rewrites the rest so that meaning survives where it can
//! (const -> enum, allOf merged, oneOf -> anyOf, type arrays -> type + nullable, exclusive bounds
//! folded, non-string enums and defaults moved into the description). [`SchemaTarget::JsonSchema`]
//! is `parametersJsonSchema`, which takes JSON Schema: type arrays, numeric enums and
//! `additionalProperties` stay, but keywords outside Gemini's documented list still go (the
//! server's tolerance is unconfirmed, and one rejected keyword fails every request). Both inline
//! local `$ref`s (cycles cut at [`MAX_REF_DEPTH`]) and repair malformed MCP schemas (bare
//! property maps, `required: true` on properties).
//!
//! Only the schema is touched, never tool arguments; property *names* are never rewritten.

use serde_json::{Map, Value, json};

/// How deep `$ref`s are expanded before a cycle is cut.
pub const MAX_REF_DEPTH: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SchemaTarget {
    /// `functionDeclarations[].parameters` / `responseSchema`: the OpenAPI subset.
    #[default]
    Parameters,
    /// `functionDeclarations[].parametersJsonSchema` / `responseJsonSchema`.
    JsonSchema,
}

/// The keys Gemini's `Schema` accepts (google-genai `types.Schema`).
const PARAMETERS_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "anyOf",
    "propertyOrdering",
    "example",
];

/// The JSON Schema keywords kept for `parametersJsonSchema`: what Gemini documents for its JSON
/// Schema fields, plus the string/object bounds its `Schema` knows. Anything else (`$schema`,
/// `propertyNames`, `if`/`then`/`else`, `not`, `examples`, ...) has been reported to make it
/// answer 400, so it goes; `const`, `oneOf` and exclusive bounds are rewritten.
const JSON_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "prefixItems",
    "properties",
    "additionalProperties",
    "required",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
];

const TYPE_NAMES: &[&str] = &[
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// Reduces `schema` to Gemini's `parameters` subset.
pub fn reduce_schema(schema: &Value) -> Value {
    reduce_schema_for(schema, SchemaTarget::Parameters)
}

/// Reduces `schema` for the given target. The result is always an object schema at the root.
pub fn reduce_schema_for(schema: &Value, target: SchemaTarget) -> Value {
    let root = normalize_root(schema);
    let defs = collect_defs(&root);
    let reducer = Reducer { defs, target };
    let mut out = reducer.node(&root, &mut Vec::new());
    if let Value::Object(map) = &mut out
        && !map.contains_key("type")
        && !map.contains_key("anyOf")
    {
        map.insert("type".into(), json!("object"));
    }
    out
}

/// Gemini's OpenAPI-style schema (upper-case types, `nullable`) as JSON Schema, for the IR. A
/// bare property map at the root is read as the reducer reads it (see [`normalize_root`]), so
/// the schemas inside it are converted too.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) if is_bare_property_map(map) => {
            json!({"type": "object", "properties": map_values(schema, convert)})
        }
        _ => convert(schema),
    }
}

fn convert(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
            for (key, value) in map {
                match key.as_str() {
                    "nullable" => {}
                    "type" => {
                        let t = match value {
                            Value::String(s) => Value::String(s.to_ascii_lowercase()),
                            Value::Array(items) => Value::Array(
                                items
                                    .iter()
                                    .map(|i| match i {
                                        Value::String(s) => Value::String(s.to_ascii_lowercase()),
                                        other => other.clone(),
                                    })
                                    .collect(),
                            ),
                            other => other.clone(),
                        };
                        out.insert(key.clone(), t);
                    }
                    "properties" | "$defs" | "definitions" | "patternProperties" => {
                        out.insert(key.clone(), map_values(value, convert));
                    }
                    "items"
                    | "additionalProperties"
                    | "not"
                    | "propertyNames"
                    | "contains"
                    | "if"
                    | "then"
                    | "else" => {
                        out.insert(key.clone(), convert(value));
                    }
                    "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                        out.insert(key.clone(), map_items(value, convert));
                    }
                    _ => {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
            if nullable {
                match out.get("type").cloned() {
                    Some(Value::String(t)) if t != "null" => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    Some(_) => {}
                    None => {
                        out.insert("nullable".into(), json!(true));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn map_values(value: &Value, f: fn(&Value) -> Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
        other => other.clone(),
    }
}

fn map_items(value: &Value, f: fn(&Value) -> Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(f).collect()),
        other => other.clone(),
    }
}

/// An exclusive integer bound as the inclusive one (`exclusiveMinimum: n` is `minimum: n + 1`);
/// `None` where that leaves the range of an i64.
fn step_inward(n: i64, is_min: bool) -> Option<i64> {
    if is_min {
        n.checked_add(1)
    } else {
        n.checked_sub(1)
    }
}

/// Keys whose presence marks an object as a schema rather than a bare property map.
fn looks_like_schema(map: &Map<String, Value>) -> bool {
    const MARKERS: &[&str] = &[
        "type",
        "properties",
        "items",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "enum",
        "const",
        "description",
        "required",
        "$schema",
        "$defs",
        "definitions",
        "additionalProperties",
        "title",
    ];
    MARKERS.iter().any(|k| map.contains_key(*k))
}

/// A root object that is no schema but the properties of one (as MCP servers send).
fn is_bare_property_map(map: &Map<String, Value>) -> bool {
    !map.is_empty()
        && !looks_like_schema(map)
        && map.values().all(|v| v.is_object() || v.is_string())
}

/// An MCP server may send `null`, a non-object, or just the property map.
fn normalize_root(schema: &Value) -> Value {
    match schema {
        Value::Object(map) if map.is_empty() => json!({"type": "object", "properties": {}}),
        Value::Object(map) if is_bare_property_map(map) => {
            json!({"type": "object", "properties": Value::Object(map.clone())})
        }
        Value::Object(_) => schema.clone(),
        _ => json!({"type": "object", "properties": {}}),
    }
}

fn collect_defs(root: &Value) -> Map<String, Value> {
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(map)) = root.get(key) {
            for (name, def) in map {
                defs.insert(format!("#/{key}/{name}"), def.clone());
            }
        }
    }
    defs.insert("#".into(), root.clone());
    defs
}

struct Reducer {
    defs: Map<String, Value>,
    target: SchemaTarget,
}

impl Reducer {
    /// Resolves `$ref` (merging sibling keys over the target) and `allOf`, then reduces.
    fn node(&self, schema: &Value, refs: &mut Vec<String>) -> Value {
        let map = match schema {
            Value::Object(map) => map,
            // `true` / `{}` accept anything; `false` cannot be expressed, so it is loosened too.
            Value::Bool(_) => return Value::Object(Map::new()),
            Value::String(s) if TYPE_NAMES.contains(&s.to_ascii_lowercase().as_str()) => {
                return json!({"type": s.to_ascii_lowercase()});
            }
            Value::String(s) => return json!({"type": "string", "description": s}),
            _ => return Value::Object(Map::new()),
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            let mut siblings = map.clone();
            siblings.remove("$ref");
            let Some(target) = self.defs.get(reference.as_str()) else {
                // Unresolvable (remote or malformed): keep what the siblings say.
                let mut out = self.node(&Value::Object(siblings), refs);
                if let Value::Object(o) = &mut out
                    && self.target == SchemaTarget::Parameters
                    && !o.contains_key("type")
                    && !o.contains_key("anyOf")
                {
                    o.insert("type".into(), json!("object"));
                }
                return out;
            };
            if refs.len() >= MAX_REF_DEPTH || refs.iter().any(|r| r == reference) {
                // A cycle: cut it with an open object, keeping the description.
                let mut cut = Map::new();
                cut.insert("type".into(), json!("object"));
                let description = siblings
                    .get("description")
                    .or_else(|| target.get("description"));
                if let Some(d) = description {
                    cut.insert("description".into(), d.clone());
                }
                return Value::Object(cut);
            }
            let mut merged = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in siblings {
                merged.insert(k, v);
            }
            refs.push(reference.clone());
            let out = self.node(&Value::Object(merged), refs);
            refs.pop();
            return out;
        }
        if let Some(Value::Array(all)) = map.get("allOf") {
            let mut merged = map.clone();
            merged.remove("allOf");
            for sub in all {
                // Resolve the branch's own refs first so their properties merge in.
                let resolved = self.resolve_only(sub, refs);
                if let Value::Object(sub) = resolved {
                    merge_into(&mut merged, &sub);
                }
            }
            return self.node(&Value::Object(merged), refs);
        }
        self.reduce(map, refs)
    }

    /// Follows a top-level `$ref` without reducing (for allOf merging).
    fn resolve_only(&self, schema: &Value, refs: &[String]) -> Value {
        let mut current = schema.clone();
        let mut depth = refs.len();
        while let Some(Value::String(reference)) = current.get("$ref").cloned() {
            let Some(target) = self.defs.get(reference.as_str()) else {
                break;
            };
            if depth >= MAX_REF_DEPTH {
                break;
            }
            depth += 1;
            let mut merged = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            if let Value::Object(siblings) = &current {
                for (k, v) in siblings {
                    if k != "$ref" {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            current = Value::Object(merged);
        }
        current
    }

    fn reduce(&self, map: &Map<String, Value>, refs: &mut Vec<String>) -> Value {
        let map = hoist_required(map);
        match self.target {
            SchemaTarget::Parameters => self.reduce_parameters(&map, refs),
            SchemaTarget::JsonSchema => self.reduce_json_schema(&map, refs),
        }
    }

    fn reduce_json_schema(&self, map: &Map<String, Value>, refs: &mut Vec<String>) -> Value {
        let mut out = Map::new();
        let mut branches: Vec<Value> = Vec::new();
        for (key, value) in map {
            if key.starts_with("x-") {
                continue;
            }
            let reduced = match key.as_str() {
                k if JSON_SCHEMA_KEYS.contains(&k) => match k {
                    "properties" => match value {
                        Value::Object(props) => Value::Object(
                            props
                                .iter()
                                .map(|(name, p)| (name.clone(), self.node(p, refs)))
                                .collect(),
                        ),
                        _ => continue,
                    },
                    "items" | "additionalProperties" if value.is_object() => self.node(value, refs),
                    "prefixItems" => match value {
                        Value::Array(items) => {
                            Value::Array(items.iter().map(|i| self.node(i, refs)).collect())
                        }
                        _ => continue,
                    },
                    _ => value.clone(),
                },
                // oneOf is read as anyOf by Gemini; say so explicitly.
                "anyOf" | "oneOf" => {
                    if let Value::Array(items) = value {
                        branches.extend(items.iter().map(|i| self.node(i, refs)));
                    }
                    continue;
                }
                "const" => {
                    if !map.contains_key("enum") {
                        out.insert("enum".into(), Value::Array(vec![value.clone()]));
                        if value.is_string() && !map.contains_key("type") {
                            out.insert("type".into(), json!("string"));
                        }
                    }
                    continue;
                }
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    let is_min = key == "exclusiveMinimum";
                    let bound = if is_min { "minimum" } else { "maximum" };
                    let integer = match map.get("type") {
                        Some(Value::String(t)) => t == "integer",
                        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                        _ => false,
                    };
                    let folded = match value.as_i64().filter(|_| integer) {
                        Some(n) => {
                            step_inward(n, is_min).map_or_else(|| value.clone(), Value::from)
                        }
                        None => value.clone(),
                    };
                    if value.is_number() && !map.contains_key(bound) {
                        out.insert(bound.into(), folded);
                    }
                    continue;
                }
                _ => continue,
            };
            out.insert(key.clone(), reduced);
        }
        if !branches.is_empty() {
            out.insert("anyOf".into(), Value::Array(branches));
        }
        fix_required(&mut out);
        Value::Object(out)
    }

    fn reduce_parameters(&self, map: &Map<String, Value>, refs: &mut Vec<String>) -> Value {
        let mut out = Map::new();
        let mut notes: Vec<String> = Vec::new();

        // Type: arrays with "null" become type + nullable; several real types become anyOf.
        let mut nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
        let mut types: Vec<String> = match map.get("type") {
            Some(Value::String(t)) => vec![t.to_ascii_lowercase()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
            _ => Vec::new(),
        };
        if types.iter().any(|t| t == "null") {
            nullable = true;
            types.retain(|t| t != "null");
            if types.is_empty() {
                types.push("string".into());
            }
        }
        types.dedup();

        // anyOf / oneOf: reduce branches, fold a `null` branch into nullable.
        let mut branches: Vec<Value> = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(items)) = map.get(key) {
                for item in items {
                    let is_null = item.get("type").and_then(Value::as_str) == Some("null");
                    if is_null {
                        nullable = true;
                    } else {
                        branches.push(self.node(item, refs));
                    }
                }
            }
        }
        if types.len() > 1 && branches.is_empty() {
            branches = types.iter().map(|t| json!({"type": t})).collect();
            types.clear();
        }

        // Infer a missing type where the other keys make it plain.
        let mut ty = types.first().cloned();
        if ty.is_none() && branches.is_empty() {
            if map.contains_key("properties") {
                ty = Some("object".into());
            } else if map.contains_key("items") {
                ty = Some("array".into());
            } else if map.contains_key("enum") || map.contains_key("const") {
                ty = Some(infer_enum_type(map));
            }
        }

        for (key, value) in map {
            match key.as_str() {
                "title" | "description" | "pattern" | "example" | "propertyOrdering"
                | "required" => {
                    out.insert(key.clone(), value.clone());
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" | "minimum" | "maximum"
                    if value.is_number() =>
                {
                    out.insert(key.clone(), value.clone());
                }
                "properties" => {
                    if let Value::Object(props) = value {
                        let mut reduced = Map::new();
                        for (name, p) in props {
                            reduced.insert(name.clone(), self.node(p, refs));
                        }
                        out.insert(key.clone(), Value::Object(reduced));
                    }
                }
                "items" => {
                    let item = match value {
                        // Tuple form: Gemini has one item schema; the first is the best guess.
                        Value::Array(items) => items.first().cloned().unwrap_or(json!({})),
                        other => other.clone(),
                    };
                    out.insert(key.clone(), self.node(&item, refs));
                }
                "format" => {
                    if let Value::String(f) = value {
                        let keep = match ty.as_deref() {
                            Some("string") => f == "enum" || f == "date-time",
                            Some("number") => f == "float" || f == "double",
                            Some("integer") => f == "int32" || f == "int64",
                            _ => false,
                        };
                        if keep {
                            out.insert(key.clone(), value.clone());
                        } else if ty.as_deref() == Some("string") {
                            notes.push(format!("format: {f}"));
                        }
                    }
                }
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    // Draft 6+: a number. Fold into the inclusive bound (exact for integers;
                    // for other numbers the description keeps the strictness).
                    if let Some(n) = value.as_f64() {
                        let is_min = key == "exclusiveMinimum";
                        let bound = if is_min { "minimum" } else { "maximum" };
                        // Integers a float holds exactly; beyond them the bound stays strict in
                        // the description.
                        let exact = ty.as_deref() == Some("integer")
                            && n.fract() == 0.0
                            && n.abs() < 9_007_199_254_740_992.0;
                        let folded = match exact.then(|| step_inward(n as i64, is_min)).flatten() {
                            Some(i) => json!(i),
                            None => {
                                let op = if is_min { ">" } else { "<" };
                                notes.push(format!("must be {op} {}", compact(value)));
                                value.clone()
                            }
                        };
                        if !map.contains_key(bound) {
                            out.insert(bound.into(), folded);
                        }
                    }
                }
                "default" if !value.is_null() => {
                    notes.push(format!("default: {}", compact(value)));
                }
                _ => {}
            }
        }

        // Enums (and const): Gemini takes string enums only.
        let values: Option<Vec<Value>> = match (map.get("enum"), map.get("const")) {
            (Some(Value::Array(vals)), _) if !vals.is_empty() => Some(vals.clone()),
            (_, Some(c)) => Some(vec![c.clone()]),
            _ => None,
        };
        if let Some(values) = values {
            let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
            if non_null.len() < values.len() {
                nullable = true;
            }
            match ty.as_deref() {
                None | Some("string") => {
                    ty = Some("string".into());
                    let strings: Vec<Value> = non_null
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Value::String(s.clone()),
                            other => Value::String(compact(other)),
                        })
                        .collect();
                    if !strings.is_empty() {
                        out.insert("enum".into(), Value::Array(strings));
                    }
                }
                // A number/boolean enum would change the argument's type if stringified: keep
                // the type and say the allowed values in words.
                Some(_) => {
                    let listed: Vec<String> = non_null.iter().map(|v| compact(v)).collect();
                    notes.push(format!("allowed values: {}", listed.join(", ")));
                }
            }
        }

        if !branches.is_empty() {
            if branches.len() == 1 && ty.is_none() {
                if let Some(Value::Object(only)) = branches.pop() {
                    for (k, v) in only {
                        out.entry(k).or_insert(v);
                    }
                }
            } else {
                out.insert("anyOf".into(), Value::Array(branches));
            }
        }
        if let Some(t) = ty {
            out.insert("type".into(), Value::String(t));
        }
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        if !notes.is_empty() {
            let existing = out
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let joined = notes.join("; ");
            let description = if existing.is_empty() {
                format!("({joined})")
            } else {
                format!("{existing} ({joined})")
            };
            out.insert("description".into(), Value::String(description));
        }
        fix_required(&mut out);
        out.retain(|k, _| PARAMETERS_KEYS.contains(&k.as_str()));
        if out.get("type").and_then(Value::as_str) == Some("object")
            && !out.contains_key("properties")
            && map.contains_key("properties")
        {
            out.insert("properties".into(), json!({}));
        }
        Value::Object(out)
    }
}

/// Moves draft-3 style `required: true` flags on properties into the parent's `required` list
/// (before the properties are reduced and the flags lost).
fn hoist_required(map: &Map<String, Value>) -> Map<String, Value> {
    let Some(Value::Object(props)) = map.get("properties") else {
        return map.clone();
    };
    if !props
        .values()
        .any(|p| p.get("required").is_some_and(Value::is_boolean))
    {
        return map.clone();
    }
    let mut out = map.clone();
    let mut required: Vec<Value> = match map.get("required") {
        Some(Value::Array(names)) => names.clone(),
        _ => Vec::new(),
    };
    let mut new_props = props.clone();
    for (name, prop) in new_props.iter_mut() {
        if let Value::Object(p) = prop
            && let Some(flag) = p.get("required").and_then(Value::as_bool)
        {
            p.remove("required");
            let name = Value::String(name.clone());
            if flag && !required.contains(&name) {
                required.push(name);
            }
        }
    }
    out.insert("properties".into(), Value::Object(new_props));
    out.insert("required".into(), Value::Array(required));
    out
}

/// Drops non-array `required` and keeps only names that are declared properties (Gemini
/// rejects the others).
fn fix_required(out: &mut Map<String, Value>) {
    let mut required: Vec<String> = match out.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    let has_properties = out.contains_key("properties");
    if let Some(Value::Object(props)) = out.get("properties") {
        required.retain(|name| props.contains_key(name));
    }
    required.dedup();
    if required.is_empty() || !has_properties {
        out.remove("required");
    } else {
        out.insert(
            "required".into(),
            Value::Array(required.into_iter().map(Value::String).collect()),
        );
    }
}

fn merge_into(target: &mut Map<String, Value>, sub: &Map<String, Value>) {
    for (k, v) in sub {
        match (k.as_str(), target.get_mut(k)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = v {
                    for (name, p) in more {
                        existing.entry(name.clone()).or_insert_with(|| p.clone());
                    }
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = v {
                    for name in more {
                        if !existing.contains(name) {
                            existing.push(name.clone());
                        }
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

fn infer_enum_type(map: &Map<String, Value>) -> String {
    let first = match (map.get("enum"), map.get("const")) {
        (Some(Value::Array(vals)), _) => vals.iter().find(|v| !v.is_null()).cloned(),
        (_, Some(c)) => Some(c.clone()),
        _ => None,
    };
    match first {
        Some(Value::Bool(_)) => "boolean".into(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer".into(),
        Some(Value::Number(_)) => "number".into(),
        _ => "string".into(),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
