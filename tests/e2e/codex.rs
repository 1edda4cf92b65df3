//! Codex CLI (`codex exec`, headless) through the gateway's Responses API to OpenAI-compatible,
//! Anthropic and Gemini upstreams: a plain answer, a shell tool loop (`exec_command` runs a
//! command that writes a marker; its output must come back to the upstream as the call's
//! result), and an `apply_patch` that creates a file (the model slug `gpt-5.5-gw`, an alias,
//! inherits gpt-5.5's catalog entry by longest prefix, so Codex offers its freeform
//! `apply_patch`; the gateway turns that into a one-string-parameter function for these
//! upstreams and the call back into a `custom_tool_call`).
//!
//! Codex runs with a temporary `CODEX_HOME`, the provider given as `-c` overrides (no config
//! file), update checks, analytics and OpenTelemetry off, `--ephemeral`, no sandbox (the tests
//! run commands in their own temporary folder) and stdin closed, per the reference's §6.2 and
//! §6.7. Codex's own retries are off so a broken route fails at once.

use std::path::Path;

use serde_json::{Value, json};

use super::fake::{Answer, Dialect, Fake, Req};
use super::upstreams::{assert_requests, round_trip, routed, up};
use super::{Clients, Gateway, Run, client, run};

/// The alias Codex is given when it must offer `apply_patch`.
const PATCH_SLUG: &str = "gpt-5.5-gw";

pub(super) const PLAIN: &str = "E2E-CODEX-PLAIN: hello from the fake upstream.";
pub(super) const SHELL_DONE: &str = "E2E-CODEX-SHELL-DONE: the marker is written.";
const PATCH_DONE: &str = "E2E-CODEX-PATCH-DONE: hello.txt is created.";
/// Prints `E2E-SHELL-OK` without holding it literally, so only a command that ran produces it.
pub(super) const SHELL_CMD: &str =
    "printf '%s-%s\\n' E2E SHELL-OK > shell-marker.txt && cat shell-marker.txt";
pub(super) const SHELL_OUT: &str = "E2E-SHELL-OK";
const PATCH_FILE: &str = "hello.txt";
const PATCH_CONTENT: &str = "hello from codex through llm-gateway\n";
const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex through llm-gateway\n*** End Patch\n";

/// The JSON Schema of the tool `name` as the upstream was offered it.
fn tool_schema(r: &Req, d: Dialect, name: &str) -> Option<Value> {
    let tools = r.body["tools"].as_array()?;
    match d {
        Dialect::OpenAi => tools
            .iter()
            .find(|t| t["function"]["name"] == name)
            .map(|t| t["function"]["parameters"].clone()),
        Dialect::Anthropic => tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["input_schema"].clone()),
        Dialect::Responses => tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["parameters"].clone()),
        Dialect::Gemini => tools
            .iter()
            .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
            .find(|f| f["name"] == name)
            .map(|f| {
                let s = &f["parametersJsonSchema"];
                if s.is_null() {
                    f["parameters"].clone()
                } else {
                    s.clone()
                }
            }),
    }
}

/// The (first) parameter the gateway gave the freeform `apply_patch` tool, which should be its
/// only one, a string.
fn patch_param(r: &Req, d: Dialect) -> Option<String> {
    let schema = tool_schema(r, d, "apply_patch")?;
    schema["properties"].as_object()?.keys().next().cloned()
}

fn offers(r: &Req, d: Dialect, tool: &str) -> bool {
    r.tool_names(d).iter().any(|n| n == tool)
}

pub(super) fn plain(_: Dialect) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    |_| Answer::Text(PLAIN.into())
}

pub(super) fn shell(d: Dialect) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    move |r| {
        if !r.tool_results(d).is_empty() {
            return Answer::Text(SHELL_DONE.into());
        }
        if offers(r, d, "exec_command") {
            return Answer::ToolCall {
                name: "exec_command".into(),
                args: json!({"cmd": SHELL_CMD}),
            };
        }
        Answer::Text("ok".into())
    }
}

fn patch(d: Dialect) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    move |r| {
        if !r.tool_results(d).is_empty() {
            return Answer::Text(PATCH_DONE.into());
        }
        match patch_param(r, d) {
            Some(param) => Answer::ToolCall {
                name: "apply_patch".into(),
                args: json!({ param: PATCH }),
            },
            None => Answer::Text("ok".into()),
        }
    }
}

/// One `codex exec` run through `gw` as `model`, in `work`: what it printed and its last
/// message (`-o`).
pub(super) async fn codex_exec(
    clients: &Clients,
    gw: &Gateway,
    work: &Path,
    model: &str,
    prompt: &str,
) -> (Run, String) {
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let last = home.path().join("last-message.txt");
    let env = [
        ("CODEX_HOME", codex_home.display().to_string()),
        ("LLM_GATEWAY_KEY", gw.key.clone()),
    ];
    let provider = format!(
        "model_providers.gw={{name=\"gw\", base_url=\"{}/v1\", env_key=\"LLM_GATEWAY_KEY\", \
         wire_api=\"responses\", request_max_retries=0, stream_max_retries=0, \
         stream_idle_timeout_ms=60000}}",
        gw.url()
    );
    let model = format!("model={}", toml_string(model));
    let last_path = last.display().to_string();
    let mut cmd = client(&clients.codex(), home.path(), &env);
    cmd.current_dir(work).args([
        "exec",
        "--skip-git-repo-check",
        "--ephemeral",
        "--color",
        "never",
        "--dangerously-bypass-approvals-and-sandbox",
        "-c",
        "model_provider=\"gw\"",
        "-c",
        &model,
        "-c",
        &provider,
        "-c",
        "check_for_update_on_startup=false",
        "-c",
        "analytics.enabled=false",
        "-c",
        "otel.exporter=\"none\"",
        "-o",
        &last_path,
        prompt,
    ]);
    let out = run(cmd, "codex exec").await;
    let last = std::fs::read_to_string(&last).unwrap_or_default();
    (out, last)
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The upstream got Codex's developer prompt as its system prompt and the user's prompt as a
/// user turn, in every request.
pub(super) fn assert_prompts(fake: &Fake, prompt: &str, ctx: &str) {
    let d = fake.dialect();
    for r in fake.requests() {
        let b = &r.body;
        let (system, first_user) = match d {
            Dialect::OpenAi => {
                let msgs = b["messages"].as_array().cloned().unwrap_or_default();
                let system: String = msgs
                    .iter()
                    .filter(|m| m["role"] == "system" || m["role"] == "developer")
                    .map(|m| m["content"].to_string())
                    .collect();
                let user = msgs.iter().find(|m| m["role"] == "user").cloned();
                (system, user)
            }
            Dialect::Anthropic => {
                let msgs = b["messages"].as_array().cloned().unwrap_or_default();
                assert_eq!(
                    msgs.first().map(|m| &m["role"]),
                    Some(&json!("user")),
                    "{ctx}"
                );
                (b["system"].to_string(), msgs.first().cloned())
            }
            Dialect::Gemini => {
                let contents = b["contents"].as_array().cloned().unwrap_or_default();
                assert_eq!(
                    contents.first().map(|c| &c["role"]),
                    Some(&json!("user")),
                    "{ctx}"
                );
                (
                    b["systemInstruction"].to_string(),
                    contents.first().cloned(),
                )
            }
            // Relayed as Codex wrote it: the prompt stays in `developer` items.
            Dialect::Responses => {
                let items = b["input"].as_array().cloned().unwrap_or_default();
                let system: String = items
                    .iter()
                    .filter(|i| i["role"] == "system" || i["role"] == "developer")
                    .map(|i| i["content"].to_string())
                    .collect();
                let system = format!("{}{system}", b["instructions"]);
                let user = items.iter().find(|i| i["role"] == "user").cloned();
                (system, user)
            }
        };
        // Codex's base prompt introduces Codex; it is sent as `developer` messages.
        assert!(
            system.contains("Codex"),
            "the developer prompt is not the system prompt\n{ctx}"
        );
        assert!(first_user.is_some(), "no user turn\n{ctx}");
        assert!(
            r.all_text().contains(prompt),
            "the user's prompt did not arrive\n{ctx}"
        );
    }
}

/// In the request that carries the tool result: the call sits in an assistant turn and its
/// result in the tool/user turn after it.
pub(super) fn assert_call_roles(fake: &Fake, ctx: &str) {
    let d = fake.dialect();
    let reqs = fake.requests();
    let r = reqs
        .iter()
        .rev()
        .find(|r| !r.tool_results(d).is_empty())
        .unwrap_or_else(|| panic!("no request carried a tool result\n{ctx}"));
    let turns = match d {
        Dialect::Gemini => r.body["contents"].as_array().cloned(),
        Dialect::Responses => r.body["input"].as_array().cloned(),
        _ => r.body["messages"].as_array().cloned(),
    }
    .unwrap_or_default();
    let has = |t: &Value, key: &str| t.to_string().contains(key);
    let (call_key, result_key) = match d {
        Dialect::OpenAi => ("\"tool_calls\"", "\"tool_call_id\""),
        Dialect::Anthropic => ("\"tool_use\"", "\"tool_result\""),
        Dialect::Gemini => ("\"functionCall\"", "\"functionResponse\""),
        Dialect::Responses => ("\"function_call\"", "\"function_call_output\""),
    };
    let call = turns
        .iter()
        .position(|t| has(t, call_key))
        .unwrap_or_else(|| panic!("no tool call turn\n{ctx}"));
    let result = turns
        .iter()
        .position(|t| has(t, result_key))
        .unwrap_or_else(|| panic!("no tool result turn\n{ctx}"));
    assert!(call < result, "the result comes after its call\n{ctx}");
    let (call_role, result_roles): (&str, &[&str]) = match d {
        // Items, not turns: the order is all there is to check.
        Dialect::Responses => return,
        Dialect::OpenAi => ("assistant", &["tool"]),
        Dialect::Anthropic => ("assistant", &["user"]),
        Dialect::Gemini => ("model", &["user", "function"]),
    };
    assert_eq!(turns[call]["role"], call_role, "{ctx}");
    let role = turns[result]["role"].as_str().unwrap_or_default();
    assert!(result_roles.contains(&role), "result role {role:?}\n{ctx}");
}

async fn plain_answer(d: Dialect) {
    let Some(clients) = Clients::get("codex plain answer") else {
        return;
    };
    let fake = Fake::start(d, plain(d)).await;
    let gw = Gateway::start(&[up(&fake)], &[]);
    let work = tempfile::tempdir().unwrap();
    let prompt = "Say hello.";
    let (out, last) = codex_exec(&clients, &gw, work.path(), &routed(d), prompt).await;
    let ctx = out.context(Some(&gw), &fake);
    assert!(out.status.success(), "{ctx}");
    assert_eq!(last.trim(), PLAIN, "{ctx}");
    assert!(out.stdout.contains(PLAIN), "{ctx}");
    assert_requests(&fake, &ctx);
    assert_prompts(&fake, prompt, &ctx);
}

async fn shell_loop(d: Dialect) {
    let Some(clients) = Clients::get("codex shell loop") else {
        return;
    };
    let fake = Fake::start(d, shell(d)).await;
    let gw = Gateway::start(&[up(&fake)], &[]);
    let work = tempfile::tempdir().unwrap();
    let prompt = "Write the shell marker with exec_command.";
    let (out, last) = codex_exec(&clients, &gw, work.path(), &routed(d), prompt).await;
    let ctx = out.context(Some(&gw), &fake);
    assert!(out.status.success(), "{ctx}");
    assert_eq!(last.trim(), SHELL_DONE, "{ctx}");
    let marker = std::fs::read_to_string(work.path().join("shell-marker.txt")).ok();
    assert_eq!(marker.as_deref(), Some("E2E-SHELL-OK\n"), "{ctx}");
    assert_requests(&fake, &ctx);
    assert_prompts(&fake, prompt, &ctx);
    let (tool, args, result) = round_trip(&fake, &ctx);
    assert_eq!(tool, "exec_command", "{ctx}");
    assert_eq!(args["cmd"], SHELL_CMD, "{ctx}");
    assert!(
        result.contains(SHELL_OUT),
        "the command's output is the call's result\n{ctx}"
    );
    assert_call_roles(&fake, &ctx);
}

async fn apply_patch(d: Dialect) {
    let Some(clients) = Clients::get("codex apply_patch") else {
        return;
    };
    let fake = Fake::start(d, patch(d)).await;
    let gw = Gateway::start(&[up(&fake)], &[(PATCH_SLUG, &routed(d))]);
    let work = tempfile::tempdir().unwrap();
    let prompt = "Create hello.txt with apply_patch.";
    let (out, last) = codex_exec(&clients, &gw, work.path(), PATCH_SLUG, prompt).await;
    let ctx = out.context(Some(&gw), &fake);
    assert!(out.status.success(), "{ctx}");
    assert_eq!(last.trim(), PATCH_DONE, "{ctx}");
    let written = std::fs::read_to_string(work.path().join(PATCH_FILE)).ok();
    assert_eq!(written.as_deref(), Some(PATCH_CONTENT), "{ctx}");
    assert_requests(&fake, &ctx);
    assert_prompts(&fake, prompt, &ctx);
    let first = &fake.requests()[0];
    let param = patch_param(first, d)
        .unwrap_or_else(|| panic!("apply_patch was not offered to the upstream\n{ctx}"));
    let schema = tool_schema(first, d, "apply_patch").unwrap_or_default();
    assert_eq!(
        schema["properties"].as_object().map(|p| p.len()),
        Some(1),
        "apply_patch takes one string: {schema}\n{ctx}"
    );
    assert_eq!(
        schema["properties"][param.as_str()]["type"],
        "string",
        "{ctx}"
    );
    let (tool, args, result) = round_trip(&fake, &ctx);
    assert_eq!(tool, "apply_patch", "{ctx}");
    assert_eq!(args[param.as_str()], PATCH, "{ctx}");
    assert!(
        result.contains(PATCH_FILE),
        "the patch result names the file\n{ctx}"
    );
    assert_call_roles(&fake, &ctx);
}

macro_rules! codex_tests {
    ($($name:ident: $scenario:ident($dialect:expr);)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $scenario($dialect).await;
        }
    )*};
}

codex_tests! {
    codex_answers_through_an_openai_upstream: plain_answer(Dialect::OpenAi);
    codex_answers_through_an_anthropic_upstream: plain_answer(Dialect::Anthropic);
    codex_answers_through_a_gemini_upstream: plain_answer(Dialect::Gemini);
    codex_runs_a_shell_command_through_an_openai_upstream: shell_loop(Dialect::OpenAi);
    codex_runs_a_shell_command_through_an_anthropic_upstream: shell_loop(Dialect::Anthropic);
    codex_runs_a_shell_command_through_a_gemini_upstream: shell_loop(Dialect::Gemini);
    codex_applies_a_patch_through_an_openai_upstream: apply_patch(Dialect::OpenAi);
    codex_applies_a_patch_through_an_anthropic_upstream: apply_patch(Dialect::Anthropic);
    codex_applies_a_patch_through_a_gemini_upstream: apply_patch(Dialect::Gemini);
}
