//! Responses tools <-> IR tools, and the way back for replies.
//!
//! * `function` becomes an IR function (its wire fields, `strict` included, kept as a
//!   Responses extra). `custom` (free text or grammar, Codex's `apply_patch`) becomes a function
//!   with one string parameter `input`, the grammar appended to its description, since other
//!   upstreams have no free-text tools (pitfall 2). `namespace` tools are flattened to
//!   `<namespace>__<name>`; a flattened name that is already taken gets a hash suffix.
//! * Hosted tools (`web_search`, `local_shell`, `tool_search`, ...) stay `Tool::Other` of the
//!   Responses dialect: a Responses upstream gets them back, every other encoder drops them.
//! * [`ToolMap`] is what a reply needs to give each call its client form back: the original
//!   name and namespace, and whether to answer with a `custom_tool_call` holding raw text.
//!
//! The original wire object of each function or custom tool rides in the IR tool's extras
//! (origin Responses), with the namespace it came from under [`NAMESPACE_KEY`].

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::wire::input;
use crate::protocol::ir::{self, Dialect, Extras, FunctionTool, Json, Text};

/// Extra key of a flattened tool: the namespace tool it came from (without its `tools`).
pub const NAMESPACE_KEY: &str = "namespace";
/// The one parameter of a custom tool as other upstreams see it.
pub const CUSTOM_INPUT: &str = "input";

/// How a tool name in a reply maps back to what the client declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTool {
    pub name: String,
    pub namespace: Option<String>,
    pub custom: bool,
}

/// Flattened name -> client tool, for the tools that need more than their name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolMap {
    by_flat: HashMap<String, ClientTool>,
}

impl ToolMap {
    /// Built from the Responses extras of the request's function tools.
    pub fn for_request(req: &ir::Request) -> Self {
        let mut map = ToolMap::default();
        for t in &req.tools {
            let ir::Tool::Function(f) = t else { continue };
            let Some(extra) = f.extra.for_dialect(Dialect::Responses) else {
                continue;
            };
            let custom = extra.get("type").and_then(Value::as_str) == Some("custom");
            let namespace = extra
                .get(NAMESPACE_KEY)
                .and_then(|n| n.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let name = extra
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&f.name)
                .to_owned();
            if custom || namespace.is_some() || name != f.name {
                map.by_flat.insert(
                    f.name.clone(),
                    ClientTool {
                        name,
                        namespace,
                        custom,
                    },
                );
            }
        }
        map
    }

    pub fn get(&self, flat: &str) -> Option<&ClientTool> {
        self.by_flat.get(flat)
    }

    pub fn is_custom(&self, flat: &str) -> bool {
        self.get(flat).is_some_and(|t| t.custom)
    }

    /// The flattened name for a call the client replays with `name` and `namespace`.
    pub fn flat_name(&self, name: &str, namespace: Option<&str>) -> String {
        if let Some((flat, _)) = self
            .by_flat
            .iter()
            .find(|(_, t)| t.name == name && t.namespace.as_deref() == namespace)
        {
            return flat.clone();
        }
        match namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}__{name}"),
            _ => name.to_owned(),
        }
    }
}

/// The tools of one request being decoded: flattened names taken so far.
#[derive(Debug, Default)]
pub struct ToolDecoder {
    pub tools: Vec<ir::Tool>,
    /// The map back for the tools so far (replayed calls name tools by namespace and name).
    pub map: ToolMap,
    taken: HashSet<String>,
}

impl ToolDecoder {
    /// Decodes one wire tool (of `tools` or of an `additional_tools` item).
    pub fn add(&mut self, tool: &Value) {
        let Some(obj) = tool.as_object() else {
            tracing::debug!("responses: ignoring a tool that is not an object");
            return;
        };
        match obj.get("type").and_then(Value::as_str).unwrap_or_default() {
            "function" | "custom" => self.add_function(obj, None),
            "namespace" => {
                let mut ns = obj.clone();
                let inner = match ns.remove("tools") {
                    Some(Value::Array(v)) => v,
                    _ => Vec::new(),
                };
                let ns_name = ns
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if ns_name.is_empty() {
                    tracing::debug!("responses: ignoring a namespace tool without a name");
                    return;
                }
                let ns = Value::Object(ns);
                for t in &inner {
                    match t.as_object() {
                        Some(o)
                            if matches!(
                                o.get("type").and_then(Value::as_str),
                                Some("function" | "custom")
                            ) =>
                        {
                            self.add_function(o, Some(&ns))
                        }
                        _ => tracing::debug!(
                            "responses: dropping a non-function tool inside namespace {ns_name}"
                        ),
                    }
                }
            }
            _ => self.add_hosted(tool.clone()),
        }
    }

    /// Decodes one tool as read by `wire::input` (or a value of the exact reading).
    pub fn add_wire(&mut self, tool: input::Tool) {
        match tool {
            input::Tool::Value(v) => self.add(&v),
            input::Tool::Function {
                description,
                parameters,
                fields,
            } => self.push_function(fields, description, parameters, None),
            input::Tool::Namespace { fields, tools } => {
                let Some(ns_name) = fields
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                else {
                    tracing::debug!("responses: ignoring a namespace tool without a name");
                    return;
                };
                let ns = Value::Object(fields);
                for t in tools {
                    match t {
                        input::Tool::Function {
                            description,
                            parameters,
                            fields,
                        } => self.push_function(fields, description, parameters, Some(&ns)),
                        _ => tracing::debug!(
                            "responses: dropping a non-function tool inside namespace {ns_name}"
                        ),
                    }
                }
            }
            input::Tool::Hosted(value) => self.add_hosted(value),
        }
    }

    fn add_hosted(&mut self, value: Value) {
        // Hosted tools run at OpenAI; other upstreams cannot run them (pitfall 1).
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        tracing::debug!(
            tool = kind,
            "responses: hosted tool kept only for Responses upstreams"
        );
        self.tools.push(ir::Tool::Other {
            origin: Dialect::Responses,
            value,
        });
    }

    fn add_function(&mut self, obj: &Map<String, Value>, ns: Option<&Value>) {
        let mut fields = obj.clone();
        let parameters = fields.remove("parameters").map(Json::from);
        let description = match fields.remove("description") {
            Some(Value::String(d)) => Some(Text::from(d)),
            Some(other) => {
                fields.insert("description".to_owned(), other);
                None
            }
            None => None,
        };
        self.push_function(fields, description, parameters, ns);
    }

    /// A function or custom tool: `fields` are its wire fields but `description` and
    /// `parameters` (a `description` that is not a string only in `fields`).
    fn push_function(
        &mut self,
        mut fields: Map<String, Value>,
        description: Option<Text>,
        parameters: Option<Json>,
        ns: Option<&Value>,
    ) {
        let Some(name) = fields
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
        else {
            tracing::debug!("responses: ignoring a tool without a name");
            return;
        };
        let ns_name = ns.and_then(|n| n.get("name")).and_then(Value::as_str);
        let mut flat = match ns_name {
            Some(ns) => format!("{ns}__{name}"),
            None => name.clone(),
        };
        if self.taken.contains(&flat) {
            let digest = Sha256::digest(format!("{}/{name}", ns_name.unwrap_or("")).as_bytes());
            let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
            flat = format!("{flat}_{hash}");
            if self.taken.contains(&flat) {
                tracing::debug!(tool = name, "responses: dropping a duplicate tool");
                return;
            }
        }
        self.taken.insert(flat.clone());
        let custom = fields.get("type").and_then(Value::as_str) == Some("custom");
        if custom || ns_name.is_some() || flat != name {
            self.map.by_flat.insert(
                flat.clone(),
                ClientTool {
                    name,
                    namespace: ns_name.map(str::to_owned),
                    custom,
                },
            );
        }
        // The wire object (but its schema) rides in the extras, for a Responses upstream.
        if let Some(d) = &description {
            fields.insert("description".to_owned(), Value::from(d.as_str()));
        }
        let (description, input_schema) = if custom {
            (
                Some(custom_description(
                    description.as_deref(),
                    fields.get("format"),
                )),
                custom_schema(),
            )
        } else {
            (
                description,
                parameters
                    .filter(|p| p.is_object())
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}).into()),
            )
        };
        if let Some(ns) = ns {
            fields.insert(NAMESPACE_KEY.to_owned(), ns.clone());
        }
        self.tools.push(ir::Tool::Function(FunctionTool {
            name: flat,
            description,
            input_schema,
            cache_control: None,
            extra: Extras::new(Dialect::Responses, fields),
        }));
    }
}

/// A custom tool's description for upstreams that only know JSON tools: the grammar goes with
/// it, so the model writes what the client's parser expects.
fn custom_description(description: Option<&str>, format: Option<&Value>) -> Text {
    let mut d = description.unwrap_or_default().to_owned();
    if !d.is_empty() {
        d.push_str("\n\n");
    }
    d.push_str("Put the tool's raw input (plain text, not JSON) in the `input` string.");
    if let Some(f) = format
        && f.get("type").and_then(Value::as_str) == Some("grammar")
        && let Some(def) = f.get("definition").and_then(Value::as_str)
    {
        let syntax = f.get("syntax").and_then(Value::as_str).unwrap_or("lark");
        d.push_str(&format!(
            " It must match this {syntax} grammar:\n```\n{def}\n```"
        ));
    }
    d.into()
}

fn custom_schema() -> Json {
    json!({
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": "The raw input text."}},
        "required": [CUSTOM_INPUT],
        "additionalProperties": false
    })
    .into()
}

/// The raw text of a custom tool call from its JSON arguments: the `input` string; an object
/// with one string field is that string (models rename it); anything else is the JSON itself.
pub fn custom_input(args: &Value) -> String {
    if let Some(s) = args.get(CUSTOM_INPUT).and_then(Value::as_str) {
        return s.to_owned();
    }
    if let Some(m) = args.as_object()
        && m.len() == 1
        && let Some(s) = m.values().next().and_then(Value::as_str)
    {
        return s.to_owned();
    }
    match args {
        Value::Object(m) if m.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// The wire tools for a Responses upstream: a Responses client's own tools as it sent them
/// (namespaces regrouped), other clients' functions flat with `strict: false`.
pub fn encode_tools(tools: &[ir::Tool], wire_name: &dyn Fn(&str) -> String) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    // Namespace name -> its position in `out`.
    let mut spaces: HashMap<String, usize> = HashMap::new();
    for t in tools {
        match t {
            ir::Tool::Function(f) => match f.extra.for_dialect(Dialect::Responses) {
                Some(extra) => {
                    let mut obj = extra.clone();
                    let ns = obj.remove(NAMESPACE_KEY);
                    if obj.get("type").and_then(Value::as_str) != Some("custom") {
                        obj.insert("parameters".to_owned(), f.input_schema.value().clone());
                    }
                    let tool = Value::Object(obj);
                    match ns {
                        Some(Value::Object(ns)) => {
                            let key = ns
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned();
                            match spaces.get(&key).and_then(|i| out.get_mut(*i)) {
                                Some(Value::Object(space)) => {
                                    if let Some(Value::Array(v)) = space.get_mut("tools") {
                                        v.push(tool);
                                    }
                                }
                                _ => {
                                    let mut space = ns;
                                    space.insert("tools".to_owned(), Value::Array(vec![tool]));
                                    spaces.insert(key, out.len());
                                    out.push(Value::Object(space));
                                }
                            }
                        }
                        _ => out.push(tool),
                    }
                }
                None => out.push(json!({
                    "type": "function",
                    "name": wire_name(&f.name),
                    "description": f.description.as_ref().map(|d| d.as_str()),
                    "parameters": f.input_schema.value(),
                    // Strict mode rejects most client schemas (optional fields, formats).
                    "strict": false,
                })),
            },
            // OpenAI now rejects `local_shell` (pitfall 19); other hosted tools go back as sent.
            ir::Tool::Other {
                origin: Dialect::Responses,
                value,
            } if value.get("type").and_then(Value::as_str) != Some("local_shell") => {
                out.push(value.clone())
            }
            ir::Tool::Other { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_namespaces_with_collision_suffix_and_maps_back() {
        let mut d = ToolDecoder::default();
        d.add(&json!({"type": "function", "name": "ns__a", "parameters": {"type": "object"}}));
        d.add(&json!({"type": "namespace", "name": "ns", "description": "agents", "tools": [
            {"type": "function", "name": "a", "parameters": {"type": "object"}},
            {"type": "custom", "name": "patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}
        ]}));
        d.add(&json!({"type": "web_search", "external_web_access": false}));
        let names: Vec<String> = d
            .tools
            .iter()
            .filter_map(|t| match t {
                ir::Tool::Function(f) => Some(f.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(names[0], "ns__a");
        assert!(names[1].starts_with("ns__a_") && names[1].len() == "ns__a_".len() + 8);
        assert_eq!(names[2], "ns__patch");
        assert!(matches!(
            &d.tools[3],
            ir::Tool::Other {
                origin: Dialect::Responses,
                ..
            }
        ));
        let req = ir::Request {
            tools: d.tools.clone(),
            ..ir::Request::default()
        };
        let map = ToolMap::for_request(&req);
        assert_eq!(map.get("ns__a"), None);
        let a = map.get(&names[1]).unwrap();
        assert_eq!((a.name.as_str(), a.namespace.as_deref()), ("a", Some("ns")));
        assert!(map.is_custom("ns__patch"));
        assert_eq!(map.flat_name("a", Some("ns")), names[1]);
        assert_eq!(map.flat_name("zz", Some("q")), "q__zz");
        // Back to the wire: the namespace regrouped, the custom tool as sent.
        let wire = encode_tools(&req.tools, &|n| n.to_owned());
        assert_eq!(wire.len(), 3);
        assert_eq!(wire[1]["type"], "namespace");
        assert_eq!(wire[1]["tools"][1]["type"], "custom");
        assert_eq!(wire[1]["tools"][1].get("parameters"), None);
        assert_eq!(wire[2]["type"], "web_search");
    }

    #[test]
    fn custom_tool_is_a_one_string_function_elsewhere() {
        let mut d = ToolDecoder::default();
        d.add(
            &json!({"type": "custom", "name": "apply_patch", "description": "Edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}}),
        );
        let ir::Tool::Function(f) = &d.tools[0] else {
            panic!()
        };
        assert_eq!(f.input_schema["required"], json!(["input"]));
        let desc = f.description.as_ref().unwrap();
        assert!(desc.starts_with("Edit files.") && desc.contains("start: begin_patch"));
        assert_eq!(
            custom_input(&json!({"input": "*** Begin Patch"})),
            "*** Begin Patch"
        );
        assert_eq!(custom_input(&json!({"patch": "x"})), "x");
        assert_eq!(custom_input(&json!({"a": 1})), r#"{"a":1}"#);
    }
}
