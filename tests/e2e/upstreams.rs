//! One registered upstream per fake dialect (name, kind, model, key), and the checks on what the
//! fake received that every client test shares: right path, model and upstream key on every
//! request, and a tool call followed by its result in the conversation.

use serde_json::Value;

use super::Up;
use super::fake::{Dialect, Fake, Req};

/// `(upstream name, provider kind, upstream model)` for a dialect.
pub fn names(d: Dialect) -> (&'static str, &'static str, &'static str) {
    match d {
        Dialect::OpenAi => ("oai", "openai", "fake-model"),
        Dialect::Anthropic => ("ant", "anthropic", "fake-claude"),
        Dialect::Gemini => ("gem", "gemini", "fake-gemini"),
        // Registered with `--wire responses` (see `clouds.rs`).
        Dialect::Responses => ("rsp", "openai", "fake-responses"),
    }
}

/// The upstream's own API key as the gateway stores it (see [`super::Gateway::start`]).
pub fn key(d: Dialect) -> String {
    format!("sk-fake-{}", names(d).0)
}

/// The `upstream add` arguments for `fake`.
pub fn up(fake: &Fake) -> Up<'static> {
    let (name, kind, model) = names(fake.dialect());
    Up {
        name,
        kind,
        base_url: fake.base_url(),
        model,
    }
}

/// `NAME/model`: the prefixed model name that routes to `d`'s upstream.
pub fn routed(d: Dialect) -> String {
    let (name, _, model) = names(d);
    format!("{name}/{model}")
}

/// Every request the fake got through the gateway used its path, its model and its key (never
/// the client's gateway key).
pub fn assert_requests(fake: &Fake, ctx: &str) {
    let d = fake.dialect();
    let (_, _, model) = names(d);
    let key = key(d);
    let reqs = fake.requests();
    assert!(!reqs.is_empty(), "the upstream got no request\n{ctx}");
    for r in &reqs {
        let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        match d {
            Dialect::OpenAi => {
                assert_eq!(r.path, "/v1/chat/completions", "{ctx}");
                assert_eq!(r.body["model"], model, "{ctx}");
                assert_eq!(
                    header("authorization"),
                    Some(&*format!("Bearer {key}")),
                    "{ctx}"
                );
                // Gemini clients write schema types upper-case; OpenAI servers reject that.
                for t in r.body["tools"].as_array().into_iter().flatten() {
                    assert_json_schema(&t["function"]["parameters"], ctx);
                }
                assert_json_schema(&r.body["response_format"]["json_schema"]["schema"], ctx);
            }
            Dialect::Responses => {
                assert_eq!(r.path, "/v1/responses", "{ctx}");
                assert_eq!(r.body["model"], model, "{ctx}");
                assert_eq!(
                    header("authorization"),
                    Some(&*format!("Bearer {key}")),
                    "{ctx}"
                );
            }
            Dialect::Anthropic => {
                assert!(r.path.starts_with("/v1/messages"), "{}\n{ctx}", r.path);
                assert_eq!(r.body["model"], model, "{ctx}");
                assert_eq!(header("x-api-key"), Some(&*key), "{ctx}");
                assert!(header("anthropic-version").is_some(), "{ctx}");
            }
            Dialect::Gemini => {
                let prefix = format!("/v1beta/models/{model}:");
                assert!(r.path.starts_with(&prefix), "{}\n{ctx}", r.path);
                assert!(
                    header("x-goog-api-key") == Some(&*key)
                        || r.path.contains(&format!("key={key}")),
                    "the upstream key is missing\n{ctx}"
                );
            }
        }
    }
}

/// In the last request that carries a tool result: the tool call it answers, as
/// `(name, arguments, result text)`. Ids must pair up (OpenAI `tool_call_id`, Anthropic
/// `tool_use_id`); Gemini pairs by name.
pub fn round_trip(fake: &Fake, ctx: &str) -> (String, Value, String) {
    let d = fake.dialect();
    let reqs = fake.requests();
    let last: &Req = reqs
        .iter()
        .rev()
        .find(|r| !r.tool_results(d).is_empty())
        .unwrap_or_else(|| panic!("no request carried a tool result\n{ctx}"));
    let b = &last.body;
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match d {
        Dialect::OpenAi => {
            let msgs = arr(&b["messages"]);
            let call = msgs
                .iter()
                .find_map(|m| m["tool_calls"].as_array().and_then(|c| c.first()).cloned())
                .unwrap_or_else(|| panic!("no assistant tool call before the result\n{ctx}"));
            let result = msgs.iter().find(|m| m["role"] == "tool").unwrap();
            assert_eq!(result["tool_call_id"], call["id"], "ids pair up\n{ctx}");
            let args = serde_json::from_str(call["function"]["arguments"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("arguments are not JSON: {e}\n{ctx}"));
            let name = call["function"]["name"].as_str().unwrap().to_string();
            (name, args, result["content"].to_string())
        }
        Dialect::Anthropic => {
            let blocks: Vec<Value> = arr(&b["messages"])
                .iter()
                .flat_map(|m| arr(&m["content"]))
                .collect();
            let call = blocks
                .iter()
                .find(|c| c["type"] == "tool_use")
                .unwrap_or_else(|| panic!("no tool_use before the result\n{ctx}"));
            let result = blocks.iter().find(|c| c["type"] == "tool_result").unwrap();
            assert_eq!(result["tool_use_id"], call["id"], "ids pair up\n{ctx}");
            let name = call["name"].as_str().unwrap().to_string();
            (name, call["input"].clone(), result["content"].to_string())
        }
        Dialect::Gemini => {
            let parts: Vec<Value> = arr(&b["contents"])
                .iter()
                .flat_map(|c| arr(&c["parts"]))
                .collect();
            let call = parts
                .iter()
                .find_map(|p| p.get("functionCall"))
                .unwrap_or_else(|| panic!("no functionCall before the result\n{ctx}"));
            let resp = parts
                .iter()
                .find_map(|p| p.get("functionResponse"))
                .unwrap();
            assert_eq!(resp["name"], call["name"], "names pair up\n{ctx}");
            let name = call["name"].as_str().unwrap().to_string();
            (name, call["args"].clone(), resp["response"].to_string())
        }
        Dialect::Responses => {
            let items = arr(&b["input"]);
            let call = items
                .iter()
                .find(|i| i["type"] == "function_call")
                .unwrap_or_else(|| panic!("no function_call item before the result\n{ctx}"));
            let result = items
                .iter()
                .find(|i| i["type"] == "function_call_output")
                .unwrap();
            assert_eq!(result["call_id"], call["call_id"], "ids pair up\n{ctx}");
            let args = serde_json::from_str(call["arguments"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("arguments are not JSON: {e}\n{ctx}"));
            let name = call["name"].as_str().unwrap().to_string();
            (name, args, result["output"].to_string())
        }
    }
}

/// Every `type` in a JSON Schema is a lower-case JSON Schema type name.
fn assert_json_schema(schema: &Value, ctx: &str) {
    const TYPES: [&str; 7] = [
        "object", "array", "string", "number", "integer", "boolean", "null",
    ];
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("type", Value::String(t)) => {
                        assert!(TYPES.contains(&t.as_str()), "schema type {t:?}\n{ctx}");
                    }
                    ("type", Value::Array(ts)) => {
                        for t in ts {
                            let t = t.as_str().unwrap_or_default();
                            assert!(TYPES.contains(&t), "schema type {t:?}\n{ctx}");
                        }
                    }
                    // Property names may be anything, including "type".
                    ("properties", Value::Object(props)) => {
                        props.values().for_each(|p| assert_json_schema(p, ctx));
                    }
                    _ => assert_json_schema(v, ctx),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_json_schema(i, ctx)),
        _ => {}
    }
}
