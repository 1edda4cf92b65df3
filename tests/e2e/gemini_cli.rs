//! Gemini CLI (`gemini -p`) through the gateway to an OpenAI-compatible or a Gemini upstream: a
//! plain answer, and a task that needs its write_file tool. Without `-m` it first asks a
//! flash-lite model to classify the prompt (JSON output with `responseJsonSchema`), then streams
//! from the main model; an alias sends every `gemini-*` name to the fake.

use std::path::Path;

use serde_json::json;

use super::fake::{Answer, Dialect, Fake, Req};
use super::upstreams::{assert_requests, key, round_trip, routed, up};
use super::{Clients, Gateway, Run, client, run};

pub(super) const PLAIN: &str = "E2E-GEMINI-PLAIN: hello from the fake upstream.";
const FINAL: &str = "E2E-GEMINI-DONE: the file is written.";
const CONTENT: &str = "written by gemini cli through llm-gateway\n";
/// In the prompt of the tool test only.
const WRITE_MARK: &str = "Create the file out.txt";

pub(super) fn responder(
    d: Dialect,
    target: String,
) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    move |r| {
        if r.wants_json(d) {
            // The router's classifier: a trivial task.
            let v = json!({"complexity_reasoning": "A simple request.", "complexity_score": 5,
                           "reasoning": "A simple request.", "model_choice": "flash"});
            return Answer::Text(v.to_string());
        }
        if !r.tool_results(d).is_empty() {
            return Answer::Text(FINAL.into());
        }
        let offers_write = r.tool_names(d).iter().any(|n| n == "write_file");
        if offers_write && r.all_text().contains(WRITE_MARK) {
            return Answer::ToolCall {
                name: "write_file".into(),
                args: json!({"file_path": target, "content": CONTENT}),
            };
        }
        Answer::Text(PLAIN.into())
    }
}

/// A fake of dialect `d` behind the gateway, every `gemini-*` model aliased to it.
async fn start(d: Dialect, target: &Path) -> (Fake, Gateway) {
    let fake = Fake::start(d, responder(d, target.display().to_string())).await;
    let gw = Gateway::start(&[up(&fake)], &[("gemini-*", &routed(d))]);
    (fake, gw)
}

/// Runs `gemini -p PROMPT --yolo` in `work` against `base_url` with a fresh HOME set up for
/// API-key auth.
async fn gemini(clients: &Clients, base_url: String, key: &str, work: &Path, prompt: &str) -> Run {
    let home = tempfile::tempdir().unwrap();
    let settings = json!({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "telemetry": {"enabled": false},
        "privacy": {"usageStatisticsEnabled": false},
        // One attempt: a broken gateway fails the test at once, not after backed-off retries.
        "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false,
                    "maxAttempts": 1},
    });
    std::fs::create_dir_all(home.path().join(".gemini")).unwrap();
    std::fs::write(
        home.path().join(".gemini/settings.json"),
        settings.to_string(),
    )
    .unwrap();
    let vars = [
        ("GEMINI_API_KEY", key.to_string()),
        ("GOOGLE_GEMINI_BASE_URL", base_url),
        ("GEMINI_CLI_TRUST_WORKSPACE", "true".into()),
    ];
    let mut cmd = client(&clients.gemini(), home.path(), &vars);
    cmd.current_dir(work).args(["-p", prompt, "--yolo"]);
    run(cmd, "gemini -p").await
}

/// Through the gateway, every upstream request used the fake's path, model and key, with
/// schemas an OpenAI-compatible server accepts; the classifier call still asked for JSON.
fn assert_upstream(fake: &Fake, via_gateway: bool, ctx: &str) {
    if via_gateway {
        assert_requests(fake, ctx);
    }
    assert!(
        fake.requests().iter().any(|r| r.wants_json(fake.dialect())),
        "the classifier's JSON request did not arrive as one\n{ctx}"
    );
}

/// The main request streamed, offering Gemini CLI's tools.
fn assert_tools_offered(fake: &Fake, ctx: &str) {
    let d = fake.dialect();
    let main = fake
        .requests()
        .into_iter()
        .find(|r| !r.tool_names(d).is_empty())
        .unwrap_or_else(|| panic!("no request offered tools\n{ctx}"));
    assert!(main.streaming(d), "{ctx}");
    if d == Dialect::OpenAi {
        let tools = main.body["tools"].as_array().unwrap();
        let write = tools
            .iter()
            .find(|t| t["function"]["name"] == "write_file")
            .unwrap_or_else(|| panic!("write_file missing\n{ctx}"));
        assert_eq!(write["type"], "function");
        assert_eq!(
            write["function"]["parameters"]["properties"]["file_path"]["type"], "string",
            "{ctx}"
        );
    }
}

/// The write task against `fake` (through `gw`, or directly without one).
async fn write_task(clients: &Clients, fake: &Fake, gw: Option<&Gateway>, work: &Path) {
    let (url, key) = match gw {
        Some(gw) => (gw.url(), gw.key.clone()),
        None => (fake.base_url(), key(fake.dialect())),
    };
    let prompt = format!("{WRITE_MARK} in the current directory with write_file.");
    let out = gemini(clients, url, &key, work, &prompt).await;
    let ctx = out.context(gw, fake);
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(FINAL), "{ctx}");
    assert_eq!(
        std::fs::read_to_string(work.join("out.txt"))
            .ok()
            .as_deref(),
        Some(CONTENT),
        "{ctx}"
    );
    assert_upstream(fake, gw.is_some(), &ctx);
    assert_tools_offered(fake, &ctx);
    let (tool, args, result) = round_trip(fake, &ctx);
    assert_eq!(tool, "write_file", "{ctx}");
    assert_eq!(args["content"], CONTENT, "{ctx}");
    assert!(result.contains("out.txt"), "{ctx}");
}

/// The harness itself: the Gemini fake is good enough for the real client, without the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_accepts_the_fake_directly() {
    let Some(clients) = Clients::get("gemini_cli_accepts_the_fake_directly") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let d = Dialect::Gemini;
    let fake = Fake::start(
        d,
        responder(d, work.path().join("out.txt").display().to_string()),
    )
    .await;
    write_task(&clients, &fake, None, work.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_answers_through_an_openai_upstream() {
    let Some(clients) = Clients::get("gemini_cli_answers_through_an_openai_upstream") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (fake, gw) = start(Dialect::OpenAi, &work.path().join("unused.txt")).await;
    let out = gemini(&clients, gw.url(), &gw.key, work.path(), "Say hello.").await;
    let ctx = out.context(Some(&gw), &fake);
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(PLAIN), "{ctx}");
    assert_upstream(&fake, true, &ctx);
    assert_tools_offered(&fake, &ctx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_writes_a_file_through_an_openai_upstream() {
    let Some(clients) = Clients::get("gemini_cli_writes_a_file_through_an_openai_upstream") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (fake, gw) = start(Dialect::OpenAi, &work.path().join("out.txt")).await;
    write_task(&clients, &fake, Some(&gw), work.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_writes_a_file_through_a_gemini_upstream() {
    let Some(clients) = Clients::get("gemini_cli_writes_a_file_through_a_gemini_upstream") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (fake, gw) = start(Dialect::Gemini, &work.path().join("out.txt")).await;
    write_task(&clients, &fake, Some(&gw), work.path()).await;
}
