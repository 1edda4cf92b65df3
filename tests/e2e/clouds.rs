//! The real clients through the cloud kinds: Claude Code on a Claude model through a Bedrock
//! upstream (Bedrock API key, ConverseStream) writing a file after a signed thinking turn, and
//! Codex CLI through Azure OpenAI, both a Chat deployment (Responses in, Chat out, with Azure's
//! content-filter chunks in the stream) and a Responses deployment (`--wire responses`, relayed).
//! Each checks what the client did (the file, the answer) and what the upstream saw (the
//! cloud's URL form and credential, the model id, the call and its result paired, and for
//! Bedrock the reasoning signature given back unchanged).

use serde_json::{Value, json};

use super::claude::{CONTENT, FINAL};
use super::codex::{
    PLAIN, SHELL_CMD, SHELL_DONE, SHELL_OUT, assert_call_roles, assert_prompts, codex_exec, plain,
    shell,
};
use super::converse::{FakeConverse, Seen, Turn};
use super::fake::{Answer, Dialect, Fake, Req};
use super::upstreams::round_trip;
use super::{Clients, Gateway, client, run};

/// A Claude id as Bedrock's cross-region inference profiles name them.
const BEDROCK_MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const THINKING: &str = "The user wants out.txt; I will call Write with the content.";
/// Shaped like Anthropic's (base64); only its survival matters.
const SIGNATURE: &str = "ErcBCkgIBxABGAIiQE2e2ebedrock2e2eSignatureMustComeBackUnchangedAAAA==";

fn bedrock_responder(target: String) -> impl Fn(&Seen) -> Turn + Send + Sync + 'static {
    move |r| {
        if !r.tool_results().is_empty() {
            return Turn::Text(FINAL.into());
        }
        if r.tool_names().iter().any(|n| n == "Write") {
            return Turn::ThinkThenCall {
                thinking: THINKING.into(),
                signature: SIGNATURE.into(),
                name: "Write".into(),
                input: json!({"file_path": target, "content": CONTENT}),
            };
        }
        Turn::Text("ok".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_writes_a_file_through_bedrock_and_its_thinking_signature_survives() {
    let Some(clients) = Clients::get(
        "claude_code_writes_a_file_through_bedrock_and_its_thinking_signature_survives",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("out.txt");
    let fake = FakeConverse::start(bedrock_responder(target.display().to_string())).await;
    let add = [
        "upstream",
        "add",
        "bed",
        "--provider",
        "bedrock",
        "--region",
        "us-west-2",
        "--base-url",
        &fake.base_url(),
        "--api-key",
        "sk-fake-bed",
        "--models",
        BEDROCK_MODEL,
    ]
    .map(str::to_string)
    .to_vec();
    let routed = format!("bed/{BEDROCK_MODEL}");
    // No model variable: Claude Code sends its own Claude ids, the alias catches them all.
    let gw = Gateway::start_adds(&[add], &[("claude-*", &routed)]);

    let home = tempfile::tempdir().unwrap();
    let vars = [
        ("DISABLE_TELEMETRY", "1".to_string()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("IS_SANDBOX", "1".into()),
        ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
        ("API_TIMEOUT_MS", "60000".into()),
        ("ANTHROPIC_BASE_URL", gw.url()),
        ("ANTHROPIC_AUTH_TOKEN", gw.key.clone()),
    ];
    let mut cmd = client(&clients.claude(), home.path(), &vars);
    cmd.current_dir(work.path()).args([
        "-p",
        "Create the file out.txt in the current directory with the Write tool.",
        "--dangerously-skip-permissions",
        "--max-turns",
        "4",
    ]);
    let out = run(cmd, "claude -p").await;
    let log = gw.log();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let ctx = format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}\n--- upstream requests\n{}--- gateway log (tail)\n{}",
        out.status,
        out.stdout,
        out.stderr,
        fake.dump(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(out.status.success(), "{ctx}");
    assert!(out.stdout.contains(FINAL), "{ctx}");
    let written = std::fs::read_to_string(&target).ok();
    assert_eq!(written.as_deref(), Some(CONTENT), "{ctx}");

    let reqs = fake.requests();
    assert!(!reqs.is_empty(), "{ctx}");
    for r in &reqs {
        assert_eq!(r.model(), BEDROCK_MODEL, "{ctx}");
        assert!(
            r.path.ends_with("/converse") || r.path.ends_with("/converse-stream"),
            "{ctx}"
        );
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some("Bearer sk-fake-bed"), "{ctx}");
    }
    // The request that carries the Write result: the assistant turn before it holds the signed
    // reasoning exactly as Bedrock sent it, then the call; the result answers that call.
    let last = reqs
        .iter()
        .rev()
        .find(|r| !r.tool_results().is_empty())
        .unwrap_or_else(|| panic!("no request carried a tool result\n{ctx}"));
    let blocks = last.blocks();
    let reasoning = blocks
        .iter()
        .position(|(role, b)| role == "assistant" && b.get("reasoningContent").is_some())
        .unwrap_or_else(|| panic!("the thinking block was not given back\n{ctx}"));
    let text = &blocks[reasoning].1["reasoningContent"]["reasoningText"];
    assert_eq!(text["signature"], SIGNATURE, "{ctx}");
    assert_eq!(text["text"], THINKING, "{ctx}");
    let (role, call) = &blocks[reasoning + 1];
    assert_eq!(role, "assistant", "the call follows its reasoning\n{ctx}");
    let call = &call["toolUse"];
    assert_eq!(call["name"], "Write", "{ctx}");
    assert_eq!(call["input"]["content"], CONTENT, "{ctx}");
    assert_eq!(
        call["input"]["file_path"],
        target.display().to_string(),
        "{ctx}"
    );
    let result = &last.tool_results()[0];
    assert_eq!(result["toolUseId"], call["toolUseId"], "ids pair up\n{ctx}");
    assert!(
        result["content"].to_string().contains("out.txt"),
        "the Write result names the file\n{ctx}"
    );
}

const AZURE_KEY: &str = "sk-fake-az";

/// `upstream add az --provider azure` for the fake's resource, deployment `deployment`.
fn azure_add(fake: &Fake, deployment: &str, wire: Option<&str>) -> Vec<String> {
    let base = format!("http://{}/openai/v1", fake.addr);
    let mut args = vec![
        "upstream",
        "add",
        "az",
        "--provider",
        "azure",
        "--base-url",
        &base,
        "--api-key",
        AZURE_KEY,
        "--models",
        deployment,
    ];
    if let Some(w) = wire {
        args.extend(["--wire", w]);
    }
    args.into_iter().map(str::to_string).collect()
}

/// Every request went to the v1 endpoint's `path` with the deployment as `model`, the key in
/// `api-key` and no bearer token.
fn assert_azure_requests(fake: &Fake, path: &str, deployment: &str, ctx: &str) {
    let reqs = fake.requests();
    assert!(!reqs.is_empty(), "the upstream got no request\n{ctx}");
    for r in &reqs {
        let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        assert_eq!(r.path, path, "{ctx}");
        assert_eq!(r.body["model"], deployment, "{ctx}");
        assert_eq!(header("api-key"), Some(AZURE_KEY), "{ctx}");
        assert_eq!(header("authorization"), None, "{ctx}");
    }
}

/// One Codex run through an Azure fake: `d` is what the deployment speaks.
struct AzureRun {
    fake: Fake,
    gw: Gateway,
    work: tempfile::TempDir,
    out: super::Run,
    last: String,
    ctx: String,
}

async fn codex_via_azure(
    clients: &Clients,
    d: Dialect,
    responder: impl Fn(&Req) -> Answer + Send + Sync + 'static,
    prompt: &str,
) -> AzureRun {
    let (deployment, wire) = match d {
        Dialect::Responses => ("team-responses-deploy", Some("responses")),
        _ => ("team-chat-deploy", None),
    };
    let fake = Fake::start_azure(d, responder).await;
    let gw = Gateway::start_adds(&[azure_add(&fake, deployment, wire)], &[]);
    let work = tempfile::tempdir().unwrap();
    let model = format!("az/{deployment}");
    let (out, last) = codex_exec(clients, &gw, work.path(), &model, prompt).await;
    let ctx = out.context(Some(&gw), &fake);
    assert!(out.status.success(), "{ctx}");
    let path = match d {
        Dialect::Responses => "/openai/v1/responses",
        _ => "/openai/v1/chat/completions",
    };
    assert_azure_requests(&fake, path, deployment, &ctx);
    assert_prompts(&fake, prompt, &ctx);
    AzureRun {
        fake,
        gw,
        work,
        out,
        last,
        ctx,
    }
}

async fn azure_plain(d: Dialect) {
    let Some(clients) = Clients::get("codex plain answer through azure") else {
        return;
    };
    let r = codex_via_azure(&clients, d, plain(d), "Say hello.").await;
    assert_eq!(r.last.trim(), PLAIN, "{}", r.ctx);
    assert!(r.out.stdout.contains(PLAIN), "{}", r.ctx);
    drop(r.gw);
}

async fn azure_shell(d: Dialect) {
    let Some(clients) = Clients::get("codex shell loop through azure") else {
        return;
    };
    let prompt = "Write the shell marker with exec_command.";
    let r = codex_via_azure(&clients, d, shell(d), prompt).await;
    let ctx = &r.ctx;
    assert_eq!(r.last.trim(), SHELL_DONE, "{ctx}");
    let marker = std::fs::read_to_string(r.work.path().join("shell-marker.txt")).ok();
    assert_eq!(marker.as_deref(), Some("E2E-SHELL-OK\n"), "{ctx}");
    let (tool, args, result) = round_trip(&r.fake, ctx);
    assert_eq!(tool, "exec_command", "{ctx}");
    assert_eq!(args["cmd"], SHELL_CMD, "{ctx}");
    assert!(
        result.contains(SHELL_OUT),
        "the command's output is the call's result\n{ctx}"
    );
    assert_call_roles(&r.fake, ctx);
    if d == Dialect::Responses {
        // Relayed: the call Codex replays is the item the deployment sent, ids and all.
        let last = r.fake.requests().pop().unwrap_or_else(|| panic!("{ctx}"));
        let items = last.body["input"].as_array().cloned().unwrap_or_default();
        let call: Vec<&Value> = items
            .iter()
            .filter(|i| i["type"] == "function_call")
            .collect();
        assert_eq!(call.len(), 1, "{ctx}");
        assert_eq!(call[0]["call_id"], "call_e2e_1", "{ctx}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_answers_through_an_azure_chat_deployment() {
    azure_plain(Dialect::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_a_shell_command_through_an_azure_chat_deployment() {
    azure_shell(Dialect::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_answers_through_an_azure_responses_deployment() {
    azure_plain(Dialect::Responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_a_shell_command_through_an_azure_responses_deployment() {
    azure_shell(Dialect::Responses).await;
}
