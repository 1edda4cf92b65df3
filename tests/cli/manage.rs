//! Store flows with no server running: the CLI opens gateway.redb directly.

use std::io::Write;
use std::process::Stdio;

use super::fake::{self, Fake};
use super::{expect, json};
use crate::support::{TestHome, stderr, stdout};

const FAKE_KEY: &str = "sk-fake-cli-test-0123456789";

fn add_oai(h: &TestHome) {
    let out = expect(
        h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--api-key",
            FAKE_KEY,
            "--models",
            "gpt-4o-mini, gpt-4o",
        ],
        0,
    );
    assert!(stdout(&out).is_empty(), "messages go to stderr");
    assert!(
        stderr(&out).contains("added upstream `oai`"),
        "{}",
        stderr(&out)
    );
}

fn assert_no_secret(outputs: &[String]) {
    for o in outputs {
        assert!(!o.contains(FAKE_KEY), "a secret leaked: {o}");
    }
}

#[test]
fn upstream_lifecycle() {
    let h = TestHome::new();
    add_oai(&h);

    let list = json(&h, &["upstream", "list", "--json"]);
    let list = list.as_array().expect("a JSON list");
    assert_eq!(list.len(), 1);
    let u = &list[0];
    assert_eq!(u["name"], "oai");
    assert_eq!(u["provider"], "openai");
    assert_eq!(u["models"], serde_json::json!(["gpt-4o-mini", "gpt-4o"]));
    assert_eq!(u["models_discovered"], false);
    assert_eq!(u["enabled"], true);
    assert_eq!(u["priority"], 100);
    assert_eq!(u["auth"], "api-key");
    assert!(u["base_url"].is_null());

    let table = stdout(&expect(&h, &["upstream", "list"], 0));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("oai") && table.contains("openai"), "{table}");
    let shown = stdout(&expect(&h, &["upstream", "show", "oai"], 0));
    assert!(shown.contains("gpt-4o-mini"), "{shown}");

    let one = json(&h, &["upstream", "show", "oai", "--json"]);
    assert_eq!(one["name"], "oai");

    expect(&h, &["upstream", "disable", "oai"], 0);
    assert_eq!(
        json(&h, &["upstream", "show", "oai", "--json"])["enabled"],
        false
    );
    expect(&h, &["upstream", "enable", "oai"], 0);
    assert_eq!(
        json(&h, &["upstream", "show", "oai", "--json"])["enabled"],
        true
    );

    let dup = expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--api-key",
            "k",
            "--models",
            "m",
        ],
        1,
    );
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));

    let status = stdout(&expect(&h, &["status", "--json"], 0));
    assert_no_secret(&[table, shown, one.to_string(), status]);

    expect(&h, &["upstream", "remove", "oai"], 0);
    assert_eq!(
        json(&h, &["upstream", "list", "--json"]),
        serde_json::json!([])
    );
    let missing = expect(&h, &["upstream", "show", "oai"], 1);
    assert!(
        stderr(&missing).contains("no upstream named `oai`"),
        "{}",
        stderr(&missing)
    );
    assert!(stderr(&missing).contains("hint:"), "{}", stderr(&missing));
    expect(&h, &["upstream", "remove", "oai"], 1);
    expect(&h, &["upstream", "enable", "oai"], 1);
}

#[test]
fn api_key_from_stdin_base_url_and_priority() {
    let h = TestHome::new();
    let mut child = h
        .cmd()
        .args([
            "upstream",
            "add",
            "relay",
            "--provider",
            "anthropic",
            "--api-key-stdin",
            "--base-url",
            "http://127.0.0.1:9/relay",
            "--priority",
            "5",
            "--models",
            "claude-sonnet-4-5",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{FAKE_KEY}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let u = json(&h, &["upstream", "show", "relay", "--json"]);
    assert_eq!(u["provider"], "anthropic");
    assert_eq!(u["base_url"], "http://127.0.0.1:9/relay");
    assert_eq!(u["priority"], 5);
    assert_eq!(u["auth"], "api-key");
    assert_no_secret(&[u.to_string()]);
}

#[test]
fn keyless_local_upstreams_and_qwen_region() {
    let h = TestHome::new();
    expect(
        &h,
        &[
            "upstream",
            "add",
            "ollama",
            "--provider",
            "openai",
            "--base-url",
            "http://127.0.0.1:11434/v1",
            "--models",
            "llama3.2",
        ],
        0,
    );
    assert_eq!(
        json(&h, &["upstream", "show", "ollama", "--json"])["auth"],
        "none"
    );
    expect(
        &h,
        &[
            "upstream",
            "add",
            "vllm",
            "--provider",
            "openai",
            "--base-url",
            "http://10.0.0.5:8000/v1",
            "--no-api-key",
            "--models",
            "qwen3",
        ],
        0,
    );
    assert_eq!(
        json(&h, &["upstream", "show", "vllm", "--json"])["auth"],
        "none"
    );
    expect(
        &h,
        &[
            "upstream",
            "add",
            "qw",
            "--provider",
            "qwen",
            "--region",
            "cn",
            "--api-key",
            "k",
            "--models",
            "qwen3-coder-plus",
        ],
        0,
    );
    let qw = json(&h, &["upstream", "show", "qw", "--json"]);
    assert_eq!(
        (qw["provider"].as_str(), qw["region"].as_str()),
        (Some("qwen"), Some("cn"))
    );
}

#[test]
fn models_are_discovered_when_not_given() {
    let fake = Fake::start(200, fake::MODELS);
    let h = TestHome::new();
    expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--api-key",
            FAKE_KEY,
            "--base-url",
            &fake.base_url,
        ],
        0,
    );
    let u = json(&h, &["upstream", "show", "oai", "--json"]);
    assert_eq!(
        u["models"],
        serde_json::json!(["fake-model-a", "fake-model-b"])
    );
    assert_eq!(u["models_discovered"], true);
}

#[test]
fn discovery_failure_shows_the_upstream_error() {
    let fake = Fake::start(401, fake::UNAUTHORIZED);
    let h = TestHome::new();
    let out = expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--api-key",
            FAKE_KEY,
            "--base-url",
            &fake.base_url,
        ],
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("Incorrect API key provided"), "{err}");
    assert!(err.contains("--models"), "{err}");
    assert_no_secret(&[err]);
    assert_eq!(
        json(&h, &["upstream", "list", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn upstream_test_reports_latency_or_the_upstream_error() {
    let ok = Fake::start(200, fake::CHAT);
    let bad = Fake::start(401, fake::UNAUTHORIZED);
    let h = TestHome::new();
    for (name, url) in [("good", &ok.base_url), ("bad", &bad.base_url)] {
        expect(
            &h,
            &[
                "upstream",
                "add",
                name,
                "--provider",
                "openai",
                "--api-key",
                FAKE_KEY,
                "--base-url",
                url,
                "--models",
                "fake-model-a",
            ],
            0,
        );
    }
    let out = expect(&h, &["upstream", "test", "good"], 0);
    assert!(stdout(&out).contains("ok in"), "{}", stdout(&out));
    let out = expect(
        &h,
        &["upstream", "test", "bad", "--model", "fake-model-a"],
        1,
    );
    assert!(
        stderr(&out).contains("Incorrect API key provided"),
        "{}",
        stderr(&out)
    );
    expect(&h, &["upstream", "test", "nope"], 1);
}

#[test]
fn apikey_lifecycle() {
    let h = TestHome::new();
    let out = expect(
        &h,
        &[
            "apikey",
            "add",
            "laptop",
            "--rpm",
            "60",
            "--models",
            "gpt-*,claude-*",
        ],
        0,
    );
    let key = stdout(&out);
    let key = key.strip_suffix('\n').expect("one line");
    assert!(!key.contains('\n'), "only the key on stdout: {key:?}");
    assert!(key.starts_with("lgw_") && key.len() == 44, "{key}");
    assert!(key[4..].chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
    assert!(stderr(&out).contains("shown only"), "{}", stderr(&out));

    let list = json(&h, &["apikey", "list", "--json"]);
    let k = &list.as_array().expect("a JSON list")[0];
    assert_eq!(k["name"], "laptop");
    assert_eq!(k["prefix"], &key[..12]);
    assert_eq!(k["rpm"], 60);
    assert_eq!(k["models"], serde_json::json!(["gpt-*", "claude-*"]));
    assert_eq!(
        (k["enabled"].as_bool(), k["revoked"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(k["state"], "active");
    assert!(k["created_at"].is_string() && k["last_used_at"].is_null());
    assert!(k.get("hash").is_none());
    assert!(!list.to_string().contains(key));

    let table = stdout(&expect(&h, &["apikey", "list"], 0));
    assert!(
        table.contains(&key[..12]) && !table.contains(key),
        "{table}"
    );
    assert_eq!(
        json(&h, &["apikey", "show", "laptop", "--json"])["name"],
        "laptop"
    );

    expect(&h, &["apikey", "disable", "laptop"], 0);
    assert_eq!(
        json(&h, &["apikey", "show", "laptop", "--json"])["state"],
        "disabled"
    );
    expect(&h, &["apikey", "enable", "laptop"], 0);
    assert_eq!(
        json(&h, &["apikey", "show", "laptop", "--json"])["state"],
        "active"
    );
    expect(&h, &["apikey", "revoke", "laptop"], 0);
    let k = json(&h, &["apikey", "show", "laptop", "--json"]);
    assert_eq!(
        (k["state"].as_str(), k["revoked"].as_bool()),
        (Some("revoked"), Some(true))
    );

    let dup = expect(&h, &["apikey", "add", "laptop"], 1);
    assert!(stdout(&dup).is_empty(), "no key printed on failure");
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    expect(&h, &["apikey", "show", "nope"], 1);
    expect(&h, &["apikey", "revoke", "nope"], 1);
}

#[test]
fn status_without_a_server() {
    let h = TestHome::new();
    add_oai(&h);
    expect(&h, &["apikey", "add", "laptop"], 0);
    let s = json(&h, &["status", "--json"]);
    assert_eq!(s["name"], "llm-gateway");
    assert_eq!(s["server"]["name"], "server");
    assert_eq!(s["server"]["running"], false);
    assert_eq!(s["upstreams"][0]["name"], "oai");
    assert_eq!(s["keys"][0]["name"], "laptop");
    assert!(s["usage"].is_array());

    let text = stdout(&expect(&h, &["status"], 0));
    for part in ["not running", "UPSTREAMS", "oai", "KEYS", "laptop", "USAGE"] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

#[test]
fn azure_needs_its_resource_and_deployments() {
    let h = TestHome::new();
    let base = "https://res.openai.azure.com/openai/v1";
    let add = |extra: &[&str], code| {
        let mut args = vec![
            "upstream",
            "add",
            "az",
            "--provider",
            "azure",
            "--api-key",
            FAKE_KEY,
        ];
        args.extend_from_slice(extra);
        expect(&h, &args, code)
    };
    // No resource URL, no deployments, a flag of another kind: usage errors naming the fix.
    let out = add(&["--models", "d1"], 2);
    assert!(stderr(&out).contains("--base-url"), "{}", stderr(&out));
    let out = add(&["--base-url", base], 2);
    assert!(stderr(&out).contains("--models"), "{}", stderr(&out));
    let out = expect(
        &h,
        &[
            "upstream",
            "add",
            "o",
            "--provider",
            "openai",
            "--api-key",
            FAKE_KEY,
            "--models",
            "m",
            "--api-version",
            "2024-10-21",
        ],
        2,
    );
    assert!(stderr(&out).contains("azure only"), "{}", stderr(&out));

    add(&["--base-url", base, "--models", "gpt4o-prod, o4-mini"], 0);
    let u = json(&h, &["upstream", "show", "az", "--json"]);
    assert_eq!(u["provider"], "azure");
    assert_eq!(u["base_url"], base);
    assert_eq!(u["models"], serde_json::json!(["gpt4o-prod", "o4-mini"]));
    assert!(u.get("api_version").is_none(), "{u}");
    expect(&h, &["upstream", "remove", "az"], 0);
    add(
        &[
            "--base-url",
            "https://old.openai.azure.com",
            "--models",
            "gpt4",
            "--api-version",
            "2024-10-21",
        ],
        0,
    );
    let u = json(&h, &["upstream", "show", "az", "--json"]);
    assert_eq!(u["api_version"], "2024-10-21");
    let shown = stdout(&expect(&h, &["upstream", "show", "az"], 0));
    assert!(shown.contains("2024-10-21 (legacy"), "{shown}");
    assert_no_secret(&[shown, u.to_string()]);
}

#[test]
fn wire_responses_is_recorded_for_openai_and_azure_only() {
    let h = TestHome::new();
    let add = |name: &str, provider: &str, extra: &[&str], code| {
        let mut args = vec![
            "upstream",
            "add",
            name,
            "--provider",
            provider,
            "--api-key",
            FAKE_KEY,
            "--models",
            "gpt-5-codex",
        ];
        args.extend_from_slice(extra);
        expect(&h, &args, code)
    };
    let out = add("an", "anthropic", &["--wire", "responses"], 2);
    assert!(
        stderr(&out).contains("--wire applies to --provider openai and azure only"),
        "{}",
        stderr(&out)
    );
    add("o", "openai", &["--wire", "responses"], 0);
    let u = json(&h, &["upstream", "show", "o", "--json"]);
    assert_eq!(u["wire"], "responses", "{u}");
    let shown = stdout(&expect(&h, &["upstream", "show", "o"], 0));
    assert!(shown.contains("responses"), "{shown}");
    // Chat is the default and is not shown.
    add("c", "openai", &["--wire", "chat"], 0);
    let u = json(&h, &["upstream", "show", "c", "--json"]);
    assert!(u.get("wire").is_none(), "{u}");
    add(
        "az",
        "azure",
        &[
            "--wire",
            "responses",
            "--base-url",
            "https://res.openai.azure.com/openai/v1",
        ],
        0,
    );
    let u = json(&h, &["upstream", "show", "az", "--json"]);
    assert_eq!(u["wire"], "responses", "{u}");
}
