//! `alias set | list | remove` and `models`, with and without a running server.

use super::fake::{self, Fake};
use super::live::{Running, send};
use super::{expect, json};
use crate::support::{TestHome, stderr, stdout};

const COMMENTED: &str = "\
# my gateway settings
[server]
shutdown_grace_secs = 5 # quick stops

# Claude Code goes to Gemini
[aliases]
# the big model
\"claude-*\" = \"gem/gemini-2.5-pro\" # keep this one

# no rules yet
";

fn config(h: &TestHome) -> String {
    std::fs::read_to_string(h.path().join("config.toml")).unwrap()
}

#[test]
fn alias_set_keeps_the_comments_and_list_shows_which_pattern_wins() {
    let h = TestHome::new();
    h.write_config(COMMENTED);
    let out = expect(
        &h,
        &["alias", "set", "claude-*haiku*", "gem/gemini-2.5-flash"],
        0,
    );
    // No upstream `gem` yet: said, not refused.
    assert!(
        stderr(&out).contains("no upstream serves"),
        "{}",
        stderr(&out)
    );
    let text = config(&h);
    for kept in [
        "# my gateway settings\n",
        "shutdown_grace_secs = 5 # quick stops\n",
        "# Claude Code goes to Gemini\n[aliases]\n# the big model\n\"claude-*\" = \"gem/gemini-2.5-pro\" # keep this one\n",
        "# no rules yet\n",
    ] {
        assert!(text.contains(kept), "lost {kept:?}:\n{text}");
    }
    assert!(
        text.contains("\"claude-*haiku*\" = \"gem/gemini-2.5-flash\"\n"),
        "{text}"
    );

    // Replacing a target keeps the line's comments.
    expect(&h, &["alias", "set", "claude-*", "gem/gemini-2.5-flash"], 0);
    assert!(
        config(&h)
            .contains("# the big model\n\"claude-*\" = \"gem/gemini-2.5-flash\" # keep this one\n"),
        "{}",
        config(&h)
    );

    let list = json(&h, &["alias", "list", "--json"]);
    let by_name = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {list}"))
            .clone()
    };
    assert_eq!(
        by_name("claude-*haiku*")["wins_for"],
        serde_json::json!(["claude-haiku-4-5"])
    );
    let big = by_name("claude-*");
    assert_eq!(big["target"], "gem/gemini-2.5-flash");
    assert!(
        big["wins_for"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("claude-sonnet-4-5")),
        "{big}"
    );
    let table = stdout(&expect(&h, &["alias", "list"], 0));
    assert!(table.starts_with("PATTERN"), "{table}");

    expect(&h, &["alias", "remove", "claude-*haiku*"], 0);
    assert!(!config(&h).contains("haiku"), "{}", config(&h));
    let out = expect(&h, &["alias", "remove", "claude-*haiku*"], 1);
    assert!(stderr(&out).contains("no alias"), "{}", stderr(&out));
    assert!(config(&h).contains("# keep this one"), "{}", config(&h));
}

#[test]
fn alias_refuses_bad_names_and_broken_files() {
    let h = TestHome::new();
    expect(&h, &["alias", "set", "bad name", "x"], 2);
    expect(&h, &["alias", "set", "a", "x?key=1"], 2);
    h.write_config("[server]\nlisten_addr = 1\n");
    let out = expect(&h, &["alias", "set", "a", "b"], 1);
    assert!(stderr(&out).contains("listen_addr"), "{}", stderr(&out));
    assert_eq!(config(&h), "[server]\nlisten_addr = 1\n");
}

#[test]
fn alias_set_is_in_force_in_a_running_server_when_it_returns() {
    let h = TestHome::new();
    let upstream = Fake::start(200, fake::CHAT);
    expect(
        &h,
        &[
            "upstream",
            "add",
            "oai",
            "--provider",
            "openai",
            "--base-url",
            &upstream.base_url,
            "--api-key",
            "sk-fake-alias",
            "--models",
            "fake-model-a",
        ],
        0,
    );
    let key = stdout(&expect(&h, &["apikey", "add", "alias"], 0))
        .trim()
        .to_string();
    let server = Running::start(&h);
    let chat = |model: &str| {
        let body =
            format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
        send(&server.url("/v1/chat/completions"), Some(&key), Some(&body)).0
    };
    assert_eq!(chat("claude-sonnet-4-5"), 404);

    let out = expect(&h, &["alias", "set", "claude-*", "oai/fake-model-a"], 0);
    assert!(
        stderr(&out).contains("running server uses it now"),
        "{}",
        stderr(&out)
    );
    assert_eq!(chat("claude-sonnet-4-5"), 200);

    // `models` with the server: upstream models with health, aliases with their route.
    let models = json(&h, &["models", "--json"]);
    let list = models.as_array().unwrap();
    let model = list.iter().find(|m| m["name"] == "fake-model-a").unwrap();
    assert_eq!(model["kind"], "model");
    assert_eq!(model["upstream"], "oai");
    assert_eq!(model["priority"], 100);
    assert_eq!(model["health"]["state"], "healthy", "{models}");
    let alias = list.iter().find(|m| m["name"] == "claude-*").unwrap();
    assert_eq!(alias["kind"], "alias");
    assert_eq!(
        alias["resolves_to"],
        serde_json::json!(["oai/fake-model-a"])
    );

    expect(&h, &["alias", "remove", "claude-*"], 0);
    assert_eq!(chat("claude-sonnet-4-5"), 404);
}

#[test]
fn models_without_a_server_lists_models_and_aliases() {
    let h = TestHome::new();
    for (name, models, priority) in [("aa", "m1,shared", "5"), ("bb", "shared", "50")] {
        expect(
            &h,
            &[
                "upstream",
                "add",
                name,
                "--provider",
                "openai",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--no-api-key",
                "--models",
                models,
                "--priority",
                priority,
            ],
            0,
        );
    }
    expect(&h, &["upstream", "disable", "bb"], 0);
    expect(&h, &["alias", "set", "big", "shared"], 0);
    expect(&h, &["alias", "set", "lost", "nowhere"], 0);
    let models = json(&h, &["models", "--json"]);
    let names: Vec<(String, String)> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        names,
        [
            pair("m1", "model"),
            pair("shared", "model"),
            pair("big", "alias"),
            pair("lost", "alias")
        ],
        "the disabled upstream's models are not offered: {models}"
    );
    assert_eq!(models[1]["health"], serde_json::Value::Null);
    assert_eq!(models[2]["resolves_to"], serde_json::json!(["aa/shared"]));
    assert!(
        models[3]["error"].as_str().unwrap().contains("not found"),
        "{models}"
    );
    let text = stdout(&expect(&h, &["models"], 0));
    assert!(text.starts_with("MODEL"), "{text}");
    assert!(text.contains("ALIAS"), "{text}");
}
