use super::*;
use serde_json::json;

/// Every key anywhere in the reduced Parameters schema must be one Gemini knows.
fn assert_only_gemini_keys(v: &Value) {
    if let Value::Object(map) = v {
        for (k, sub) in map {
            assert!(
                PARAMETERS_KEYS.contains(&k.as_str()),
                "unexpected key {k} in {v}"
            );
            match k.as_str() {
                "properties" => {
                    for p in sub.as_object().unwrap().values() {
                        assert_only_gemini_keys(p);
                    }
                }
                "items" => assert_only_gemini_keys(sub),
                "anyOf" => sub
                    .as_array()
                    .unwrap()
                    .iter()
                    .for_each(assert_only_gemini_keys),
                "enum" => assert!(sub.as_array().unwrap().iter().all(Value::is_string)),
                "type" => assert!(sub.is_string()),
                _ => {}
            }
        }
    }
}

fn claude_code_bash() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "command": {"type": "string", "description": "The command to execute"},
            "timeout": {"type": "number", "description": "Optional timeout", "exclusiveMinimum": 0, "maximum": 600000},
            "run_in_background": {"type": "boolean", "default": false},
            "mode": {"const": "fast"},
            "tags": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "additionalProperties": {"type": "string"}},
            "todos": {"type": "array", "maxItems": 20, "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    "priority": {"type": "integer", "enum": [1, 2, 3]}
                },
                "required": ["content", "status", "ghost"],
                "additionalProperties": false
            }},
            "url": {"type": "string", "format": "uri"},
            "when": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "exclusiveMinimum": 0},
            "x-internal": {"type": "string"}
        },
        "required": ["command"],
        "x-vendor": true
    })
}

#[test]
fn claude_code_schema_reduces_to_gemini_subset() {
    let out = reduce_schema(&claude_code_bash());
    assert_only_gemini_keys(&out);
    assert_eq!(out["type"], "object");
    assert_eq!(out["required"], json!(["command"]));
    let p = &out["properties"];
    assert_eq!(p["command"]["description"], "The command to execute");
    assert_eq!(p["timeout"]["minimum"], json!(0));
    assert_eq!(p["timeout"]["maximum"], json!(600000));
    assert_eq!(
        p["timeout"]["description"], "Optional timeout (must be > 0)",
        "a number's exclusive bound folded, its strictness told"
    );
    assert_eq!(
        p["count"]["minimum"],
        json!(1),
        "integer exclusive bound folded exactly"
    );
    assert_eq!(p["run_in_background"]["description"], "(default: false)");
    assert_eq!(p["mode"], json!({"type": "string", "enum": ["fast"]}));
    assert_eq!(p["tags"], json!({"type": "object"}));
    let todo = &p["todos"]["items"];
    assert_eq!(
        todo["required"],
        json!(["content", "status"]),
        "undeclared names dropped"
    );
    assert_eq!(
        todo["properties"]["status"]["enum"],
        json!(["pending", "in_progress", "completed"])
    );
    assert_eq!(todo["properties"]["priority"]["type"], "integer");
    assert_eq!(
        todo["properties"]["priority"]["description"],
        "(allowed values: 1, 2, 3)"
    );
    assert_eq!(
        p["url"],
        json!({"type": "string", "description": "(format: uri)"})
    );
    assert_eq!(p["when"]["format"], "date-time");
    // A property *named* like an extension is a property, not a keyword.
    assert_eq!(p["x-internal"]["type"], "string");
}

#[test]
fn refs_are_inlined_and_cycles_cut() {
    let schema = json!({
        "type": "object",
        "properties": {
            "node": {"$ref": "#/$defs/Node", "description": "root node"},
            "addr": {"$ref": "#/definitions/Addr"},
            "remote": {"$ref": "https://example.com/x.json"}
        },
        "$defs": {
            "Node": {"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
            }, "required": ["value"]}
        },
        "definitions": {"Addr": {"type": "object", "properties": {"city": {"type": "string"}}}}
    });
    let out = reduce_schema(&schema);
    assert_only_gemini_keys(&out);
    let node = &out["properties"]["node"];
    assert_eq!(node["description"], "root node");
    assert_eq!(node["required"], json!(["value"]));
    // The cycle is expanded a bounded number of times, then cut with an open object.
    let mut depth = 0;
    let mut cur = node.clone();
    while let Some(next) = cur["properties"]["children"]["items"].as_object() {
        cur = Value::Object(next.clone());
        depth += 1;
    }
    assert!((1..=MAX_REF_DEPTH).contains(&depth), "depth {depth}");
    assert_eq!(
        out["properties"]["addr"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(out["properties"]["remote"]["type"], "object");

    let light = reduce_schema_for(&schema, SchemaTarget::JsonSchema);
    assert!(light.get("$defs").is_none());
    assert_eq!(
        light["properties"]["addr"]["properties"]["city"]["type"],
        "string"
    );
    assert!(light["properties"]["remote"].get("$ref").is_none());
}

#[test]
fn all_of_any_of_one_of_and_type_arrays() {
    let schema = json!({
        "type": "object",
        "properties": {
            "a": {"allOf": [
                {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
                {"properties": {"y": {"type": "integer"}}, "required": ["y"]}
            ]},
            "b": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {"type": ["string", "null"], "description": "maybe"},
            "d": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "e": {"type": ["string", "integer"]},
            "f": {"enum": ["a", null]},
            "g": {"not": {"type": "string"}, "if": {}, "then": {}, "else": {}, "examples": [1], "deprecated": true}
        }
    });
    let out = reduce_schema(&schema);
    assert_only_gemini_keys(&out);
    let p = &out["properties"];
    assert_eq!(p["a"]["type"], "object");
    assert_eq!(p["a"]["required"], json!(["x", "y"]));
    assert_eq!(p["a"]["properties"]["y"]["type"], "integer");
    assert_eq!(
        p["b"]["anyOf"],
        json!([{"type": "string"}, {"type": "integer"}])
    );
    assert_eq!(
        p["c"],
        json!({"type": "string", "nullable": true, "description": "maybe"})
    );
    assert_eq!(p["d"], json!({"type": "string", "nullable": true}));
    assert_eq!(
        p["e"]["anyOf"],
        json!([{"type": "string"}, {"type": "integer"}])
    );
    assert_eq!(
        p["f"],
        json!({"type": "string", "enum": ["a"], "nullable": true})
    );
    assert_eq!(p["g"], json!({}));
}

#[test]
fn malformed_mcp_schemas_are_repaired() {
    // A bare property map.
    let bare = json!({"path": {"type": "string"}, "depth": "integer"});
    let out = reduce_schema(&bare);
    assert_eq!(out["type"], "object");
    assert_eq!(out["properties"]["path"]["type"], "string");
    assert_eq!(out["properties"]["depth"]["type"], "integer");
    // Draft-3 boolean required.
    let old = json!({"type": "object", "properties": {
        "q": {"type": "string", "required": true},
        "n": {"type": "integer", "required": false}
    }, "required": true});
    let out = reduce_schema(&old);
    assert_eq!(out["required"], json!(["q"]));
    assert!(out["properties"]["q"].get("required").is_none());
    let out = reduce_schema_for(&old, SchemaTarget::JsonSchema);
    assert_eq!(out["required"], json!(["q"]));
    // Null, empty and non-object schemas.
    for s in [json!(null), json!({}), json!("x"), json!(true)] {
        assert_eq!(
            reduce_schema(&s),
            json!({"type": "object", "properties": {}})
        );
    }
    // Tuple items.
    let tuple = json!({"type": "array", "items": [{"type": "string"}, {"type": "number"}]});
    assert_eq!(reduce_schema(&tuple)["items"], json!({"type": "string"}));
}

#[test]
fn json_schema_target_is_light() {
    let out = reduce_schema_for(&claude_code_bash(), SchemaTarget::JsonSchema);
    assert!(out.get("$schema").is_none());
    assert!(out.get("x-vendor").is_none());
    assert_eq!(out["additionalProperties"], json!(false));
    assert_eq!(
        out["properties"]["mode"],
        json!({"type": "string", "enum": ["fast"]})
    );
    assert_eq!(out["properties"]["count"]["minimum"], json!(1));
    assert_eq!(out["properties"]["timeout"]["minimum"], json!(0));
    assert!(
        out["properties"]["timeout"]
            .get("exclusiveMinimum")
            .is_none()
    );
    assert_eq!(
        out["properties"]["tags"],
        json!({"type": "object", "additionalProperties": {"type": "string"}})
    );
    assert!(
        out["properties"]["run_in_background"]
            .get("default")
            .is_none()
    );
    assert_eq!(
        out["properties"]["todos"]["items"]["properties"]["priority"]["enum"],
        json!([1, 2, 3])
    );
    assert_eq!(
        out["properties"]["todos"]["items"]["required"],
        json!(["content", "status"])
    );
}

#[test]
fn gemini_openapi_schema_to_json_schema() {
    let g = json!({"type": "OBJECT", "properties": {
        "a": {"type": "STRING", "nullable": true},
        "b": {"type": "ARRAY", "items": {"type": "INTEGER"}},
        "type": {"type": "STRING", "enum": ["x"]}
    }, "required": ["a"]});
    let j = to_json_schema(&g);
    assert_eq!(
        j,
        json!({"type": "object", "properties": {
        "a": {"type": ["string", "null"]},
        "b": {"type": "array", "items": {"type": "integer"}},
        "type": {"type": "string", "enum": ["x"]}
    }, "required": ["a"]})
    );
    // And back: the reducer restores nullable.
    assert_eq!(
        reduce_schema(&j)["properties"]["a"],
        json!({"type": "string", "nullable": true})
    );
}

/// Fuzz crash: an exclusive bound at the edge of an i64 overflowed when folded into the
/// inclusive one (`exclusiveMinimum: 2^63-1` on an integer). Minimised input (an Anthropic
/// client's tool); the `parameters` form had the same sum on a float cast to an i64.
#[test]
fn exclusive_bounds_at_the_edge_of_i64_do_not_overflow() {
    let schema = json!({"properties": {"limit": {"exclusiveMinimum": 9223372036854775807i64,
        "type": ["integer"]}}});
    let out = reduce_schema_for(&schema, SchemaTarget::JsonSchema);
    assert_eq!(
        out["properties"]["limit"]["minimum"],
        json!(9223372036854775807i64)
    );
    let schema = json!({"properties": {"n": {"exclusiveMaximum": -1e19, "type": "integer"},
        "m": {"exclusiveMinimum": 9223372036854775807i64, "type": "integer"}}});
    let out = reduce_schema(&schema);
    assert_eq!(out["properties"]["n"]["maximum"], json!(-1e19));
    assert_eq!(
        out["properties"]["m"]["minimum"],
        json!(9223372036854775807i64)
    );
}
