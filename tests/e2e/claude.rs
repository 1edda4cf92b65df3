//! Claude Code (`claude -p`) through the gateway to OpenAI-compatible, Gemini and Anthropic
//! upstreams, on a task that needs its Write tool: the fake answers the main request with a Write
//! call, Claude Code writes the file and sends the result back, the fake answers with a final
//! text. Requests Claude Code makes on the side (no Write tool offered) get a short text.

use std::path::PathBuf;

use serde_json::json;

use super::fake::{Answer, Dialect, Fake, Req};
use super::upstreams::{assert_requests, key, names, round_trip, routed, up};
use super::{Clients, Gateway, client, run};

pub(super) const CONTENT: &str = "written by claude code through llm-gateway\n";
pub(super) const FINAL: &str = "E2E-CLAUDE-DONE: the file is written.";
const SIDE: &str = "ok";

fn responder(d: Dialect, target: String) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    move |r| {
        if !r.tool_results(d).is_empty() {
            return Answer::Text(FINAL.into());
        }
        if r.tool_names(d).iter().any(|n| n == "Write") {
            return Answer::ToolCall {
                name: "Write".into(),
                args: json!({"file_path": target, "content": CONTENT}),
            };
        }
        Answer::Text(SIDE.into())
    }
}

/// The working directory of one run and the file the fake asks Claude Code to write there.
pub(super) struct Task {
    pub(super) work: tempfile::TempDir,
    pub(super) target: PathBuf,
}

impl Task {
    /// A task and a fake of dialect `d` scripted for it.
    pub(super) async fn start(d: Dialect) -> (Task, Fake) {
        let work = tempfile::tempdir().unwrap();
        let target = work.path().join("out.txt");
        let fake = Fake::start(d, responder(d, target.display().to_string())).await;
        (Task { work, target }, fake)
    }
}

/// Runs the Write task: `claude -p` in the task's directory against `gw` (or straight against
/// the fake when `gw` is `None`), with `env` on top of the headless settings; checks the file,
/// the printed answer and what the upstream saw.
async fn write_task(
    clients: &Clients,
    task: &Task,
    fake: &Fake,
    gw: Option<&Gateway>,
    env: &[(&str, String)],
) {
    let home = tempfile::tempdir().unwrap();
    let target = &task.target;
    let mut vars = vec![
        ("DISABLE_TELEMETRY", "1".to_string()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        // Root may only skip permission prompts inside a declared sandbox.
        ("IS_SANDBOX", "1".into()),
        // A broken gateway should fail the test quickly, not after ten backed-off retries.
        ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
        ("API_TIMEOUT_MS", "60000".into()),
    ];
    match gw {
        Some(gw) => {
            vars.push(("ANTHROPIC_BASE_URL", gw.url()));
            vars.push(("ANTHROPIC_AUTH_TOKEN", gw.key.clone()));
        }
        None => {
            vars.push(("ANTHROPIC_BASE_URL", fake.base_url()));
            vars.push(("ANTHROPIC_API_KEY", key(fake.dialect())));
        }
    }
    vars.extend(env.iter().cloned());
    let mut cmd = client(&clients.claude(), home.path(), &vars);
    cmd.current_dir(task.work.path()).args([
        "-p",
        "Create the file out.txt in the current directory with the Write tool.",
        "--dangerously-skip-permissions",
        "--max-turns",
        "4",
    ]);
    let out = run(cmd, "claude -p").await;
    let ctx = out.context(gw, fake);
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(FINAL), "{ctx}");
    let written = std::fs::read_to_string(target).ok();
    assert_eq!(written.as_deref(), Some(CONTENT), "{ctx}");
    assert_requests(fake, &ctx);
    let (tool, args, result) = round_trip(fake, &ctx);
    assert_eq!(tool, "Write", "{ctx}");
    assert_eq!(args["content"], CONTENT, "{ctx}");
    assert_eq!(args["file_path"], target.display().to_string(), "{ctx}");
    assert!(
        result.contains("out.txt"),
        "the Write result names the file\n{ctx}"
    );
}

/// The harness itself: Claude Code runs headless against the Anthropic fake, no gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_accepts_the_fake_directly() {
    let Some(clients) = Clients::get("claude_code_accepts_the_fake_directly") else {
        return;
    };
    let (task, fake) = Task::start(Dialect::Anthropic).await;
    let model = names(Dialect::Anthropic).2.to_string();
    let env = [
        ("ANTHROPIC_MODEL", model.clone()),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", model),
    ];
    write_task(&clients, &task, &fake, None, &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_writes_a_file_through_an_openai_upstream() {
    let Some(clients) = Clients::get("claude_code_writes_a_file_through_an_openai_upstream") else {
        return;
    };
    let (task, fake) = Task::start(Dialect::OpenAi).await;
    // No model variable: Claude Code sends its own Claude ids, the alias catches them all.
    let gw = Gateway::start(&[up(&fake)], &[("claude-*", &routed(Dialect::OpenAi))]);
    write_task(&clients, &task, &fake, Some(&gw), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_writes_a_file_through_a_gemini_upstream() {
    let Some(clients) = Clients::get("claude_code_writes_a_file_through_a_gemini_upstream") else {
        return;
    };
    let (task, fake) = Task::start(Dialect::Gemini).await;
    let gw = Gateway::start(&[up(&fake)], &[]);
    // Upstream-prefixed model names, for the main model and the background one.
    let model = routed(Dialect::Gemini);
    let env = [
        ("ANTHROPIC_MODEL", model.clone()),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", model),
    ];
    write_task(&clients, &task, &fake, Some(&gw), &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_writes_a_file_through_an_anthropic_upstream() {
    let Some(clients) = Clients::get("claude_code_writes_a_file_through_an_anthropic_upstream")
    else {
        return;
    };
    let (task, fake) = Task::start(Dialect::Anthropic).await;
    let gw = Gateway::start(&[up(&fake)], &[("claude-*", &routed(Dialect::Anthropic))]);
    write_task(&clients, &task, &fake, Some(&gw), &[]).await;
}
