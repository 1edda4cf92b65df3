//! The Python SDKs (openai, anthropic, google-genai) through the gateway. Each runs a small script
//! (`tests/e2e/sdk_*.py`) that prints one JSON object of case results; the assertions are here.

use serde_json::{Value, json};

use super::fake::{Answer, Dialect, Fake, Req};
use super::upstreams::{assert_requests, key, names, round_trip, routed, up};
use super::{Clients, Gateway, client, run, script};

const HELLO: &str = "Hello from the fake upstream, friend.";
const TOOL_RESULT: &str = "sunny, 21 C";

/// Offered `get_weather` and no result yet: call it; a result in the conversation: report it
/// back (so the final text proves the result reached the upstream); otherwise say hello.
fn responder(d: Dialect) -> impl Fn(&Req) -> Answer + Send + Sync + 'static {
    move |r| {
        if let Some((_, result)) = r.tool_results(d).last() {
            return Answer::Text(format!("Report: {result}"));
        }
        if r.tool_names(d).iter().any(|n| n == "get_weather") {
            return Answer::ToolCall {
                name: "get_weather".into(),
                args: json!({"city": "Paris"}),
            };
        }
        Answer::Text(HELLO.into())
    }
}

/// Runs `sdk_<name>.py` with `model` against the gateway, or without one straight against the
/// fake with the upstream's key. Returns the script's JSON output; fails on any failed case.
async fn run_sdk(
    clients: &Clients,
    name: &str,
    gw: Option<&Gateway>,
    fake: &Fake,
    model: &str,
) -> Value {
    let (url, key) = match gw {
        Some(gw) => (gw.url(), gw.key.clone()),
        None => (format!("http://{}", fake.addr), key(fake.dialect())),
    };
    let home = tempfile::tempdir().unwrap();
    let mut cmd = client(
        &clients.python(),
        home.path(),
        &[
            ("GW_URL", url),
            ("GW_KEY", key),
            ("MODEL", model.to_string()),
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ],
    );
    cmd.arg(script(&format!("sdk_{name}.py")));
    let out = run(cmd, &format!("the {name} SDK script")).await;
    let ctx = out.context(gw, fake);
    assert!(out.status.success(), "{ctx}");
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("script output is not JSON ({e})\n{ctx}"));
    let failed: Vec<String> = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r.get("error").is_some())
        .map(|(k, r)| format!("{k}: {}", r["error"]))
        .collect();
    assert!(
        failed.is_empty(),
        "cases failed:\n{}\n{ctx}",
        failed.join("\n")
    );
    assert_requests(fake, &ctx);
    let (tool, args, result) = round_trip(fake, &ctx);
    assert_eq!(tool, "get_weather", "{ctx}");
    assert_eq!(args, json!({"city": "Paris"}), "{ctx}");
    assert!(result.contains(TOOL_RESULT), "{ctx}");
    v
}

fn assert_tool(case: &Value) {
    assert_eq!(case["name"], "get_weather", "{case}");
    assert_eq!(case["args"], json!({"city": "Paris"}), "{case}");
}

fn assert_final_text(case: &Value) {
    let text = case["text"].as_str().unwrap_or_default();
    assert!(text.contains(TOOL_RESULT), "{case}");
}

fn assert_openai_sdk(v: &Value) {
    assert_eq!(v["text"]["text"], HELLO, "{v}");
    assert_eq!(v["text"]["finish"], "stop", "{v}");
    assert_eq!(v["text"]["usage"], json!([21, 9]), "{v}");
    assert_eq!(v["stream"]["text"], HELLO, "{v}");
    assert!(v["stream"]["chunks"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["stream"]["finish"], "stop", "{v}");
    assert_eq!(v["stream"]["usage"], json!([21, 9]), "{v}");
    for case in ["tool", "stream_tool"] {
        assert_tool(&v[case]);
        assert_eq!(v[case]["finish"], "tool_calls", "{case}: {v}");
        assert!(v[case]["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }
    assert_eq!(v["stream_tool"]["calls"], 1, "{v}");
    assert_final_text(&v["round_trip"]);
    assert_eq!(v["round_trip"]["finish"], "stop", "{v}");
}

fn assert_anthropic_sdk(v: &Value) {
    assert_eq!(v["text"]["text"], HELLO, "{v}");
    assert_eq!(v["text"]["stop"], "end_turn", "{v}");
    assert_eq!(v["text"]["usage"], json!([21, 9]), "{v}");
    assert_eq!(v["stream"]["text"], HELLO, "{v}");
    assert_eq!(v["stream"]["final_text"], HELLO, "{v}");
    assert!(v["stream"]["chunks"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["stream"]["stop"], "end_turn", "{v}");
    assert_eq!(
        v["stream"]["usage"][1], 9,
        "output tokens of the stream: {v}"
    );
    for case in ["tool", "stream_tool"] {
        assert_tool(&v[case]);
        assert_eq!(v[case]["stop"], "tool_use", "{case}: {v}");
        assert!(v[case]["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }
    assert_final_text(&v["round_trip"]);
    assert_eq!(v["round_trip"]["stop"], "end_turn", "{v}");
}

fn assert_genai_sdk(v: &Value) {
    assert_eq!(v["text"]["text"], HELLO, "{v}");
    assert_eq!(v["text"]["finish"], "FinishReason.STOP", "{v}");
    assert_eq!(v["text"]["usage"], json!([21, 9]), "{v}");
    assert_eq!(v["stream"]["text"], HELLO, "{v}");
    assert!(v["stream"]["chunks"].as_u64().unwrap() >= 2, "{v}");
    assert_tool(&v["tool"]);
    assert_final_text(&v["round_trip"]);
}

/// A fake of dialect `d` behind a fresh gateway, with `aliases`.
async fn behind_gateway(d: Dialect, aliases: &[(&str, &str)]) -> (Fake, Gateway) {
    let fake = Fake::start(d, responder(d)).await;
    let gw = Gateway::start(&[up(&fake)], aliases);
    (fake, gw)
}

/// The harness itself: each SDK accepts the fake of its own dialect, without the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_accept_the_fakes_directly() {
    let Some(clients) = Clients::get("sdks_accept_the_fakes_directly") else {
        return;
    };
    let oai = Fake::start(Dialect::OpenAi, responder(Dialect::OpenAi)).await;
    let ant = Fake::start(Dialect::Anthropic, responder(Dialect::Anthropic)).await;
    let gem = Fake::start(Dialect::Gemini, responder(Dialect::Gemini)).await;
    let (o, a, g) = tokio::join!(
        run_sdk(&clients, "openai", None, &oai, names(Dialect::OpenAi).2),
        run_sdk(
            &clients,
            "anthropic",
            None,
            &ant,
            names(Dialect::Anthropic).2
        ),
        run_sdk(&clients, "genai", None, &gem, names(Dialect::Gemini).2),
    );
    assert_openai_sdk(&o);
    assert_anthropic_sdk(&a);
    assert_genai_sdk(&g);
}

/// Same protocol: the fast path, on main today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_sdk_through_the_fast_path() {
    let Some(clients) = Clients::get("openai_sdk_through_the_fast_path") else {
        return;
    };
    let (fake, gw) = behind_gateway(Dialect::OpenAi, &[]).await;
    let v = run_sdk(
        &clients,
        "openai",
        Some(&gw),
        &fake,
        &routed(Dialect::OpenAi),
    )
    .await;
    assert_openai_sdk(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_sdk_to_a_gemini_upstream() {
    let Some(clients) = Clients::get("openai_sdk_to_a_gemini_upstream") else {
        return;
    };
    let (fake, gw) = behind_gateway(Dialect::Gemini, &[]).await;
    let v = run_sdk(
        &clients,
        "openai",
        Some(&gw),
        &fake,
        &routed(Dialect::Gemini),
    )
    .await;
    assert_openai_sdk(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_sdk_to_an_anthropic_upstream() {
    let Some(clients) = Clients::get("openai_sdk_to_an_anthropic_upstream") else {
        return;
    };
    let (fake, gw) = behind_gateway(Dialect::Anthropic, &[]).await;
    let v = run_sdk(
        &clients,
        "openai",
        Some(&gw),
        &fake,
        &routed(Dialect::Anthropic),
    )
    .await;
    assert_openai_sdk(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_sdk_to_an_openai_upstream() {
    let Some(clients) = Clients::get("anthropic_sdk_to_an_openai_upstream") else {
        return;
    };
    let (fake, gw) = behind_gateway(Dialect::OpenAi, &[]).await;
    let v = run_sdk(
        &clients,
        "anthropic",
        Some(&gw),
        &fake,
        &routed(Dialect::OpenAi),
    )
    .await;
    assert_anthropic_sdk(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genai_sdk_to_an_openai_upstream() {
    let Some(clients) = Clients::get("genai_sdk_to_an_openai_upstream") else {
        return;
    };
    // google-genai puts the model in the path; a plain name routed by an alias.
    let target = routed(Dialect::OpenAi);
    let (fake, gw) = behind_gateway(Dialect::OpenAi, &[("gemini-e2e-*", &target)]).await;
    let v = run_sdk(&clients, "genai", Some(&gw), &fake, "gemini-e2e-model").await;
    assert_genai_sdk(&v);
}

/// The openai SDK's Responses API (`client.responses.create` and the `responses.stream()`
/// helper, which enforces the event grammar) through the gateway to `d`'s upstream.
async fn openai_responses_sdk(test: &str, d: Dialect) {
    let Some(clients) = Clients::get(test) else {
        return;
    };
    let (fake, gw) = behind_gateway(d, &[]).await;
    let v = run_sdk(&clients, "openai_responses", Some(&gw), &fake, &routed(d)).await;
    assert_eq!(v["text"]["text"], HELLO, "{v}");
    assert_eq!(v["text"]["status"], "completed", "{v}");
    assert_eq!(v["text"]["usage"], json!([21, 9]), "{v}");
    assert_eq!(v["stream"]["text"], HELLO, "{v}");
    assert_eq!(v["stream"]["final"], HELLO, "{v}");
    assert!(v["stream"]["chunks"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["stream"]["status"], "completed", "{v}");
    for case in ["tool", "stream_tool"] {
        assert_tool(&v[case]);
        assert!(v[case]["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }
    assert_eq!(v["stream_tool"]["calls"], 1, "{v}");
    assert_final_text(&v["round_trip"]);
    assert_eq!(v["round_trip"]["status"], "completed", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_sdk_to_an_openai_upstream() {
    openai_responses_sdk(
        "openai_responses_sdk_to_an_openai_upstream",
        Dialect::OpenAi,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_sdk_to_an_anthropic_upstream() {
    openai_responses_sdk(
        "openai_responses_sdk_to_an_anthropic_upstream",
        Dialect::Anthropic,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_sdk_to_a_gemini_upstream() {
    openai_responses_sdk("openai_responses_sdk_to_a_gemini_upstream", Dialect::Gemini).await;
}

/// The openai SDK's `responses.stream()` helper on a fast-path stream (a `--wire responses`
/// upstream) that the upstream cut in the middle of an event: every event it yields parses
/// (the partial one never reaches it), the last is `response.failed` numbered on from the
/// others, and `get_final_response` says no `response.completed` came, as for OpenAI's own
/// failed streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_sdk_reads_a_stream_cut_mid_event() {
    let test = "openai_responses_sdk_reads_a_stream_cut_mid_event";
    let Some(clients) = Clients::get(test) else {
        return;
    };
    let up = crate::support::fake_openai::FakeOpenAi::start().await;
    up.push(crate::support::fake_responses::cut_mid_event());
    let add = [
        "upstream",
        "add",
        "rsp",
        "--provider",
        "openai",
        "--wire",
        "responses",
        "--base-url",
        &up.base_url(),
        "--api-key",
        "sk-fake-rsp",
        "--models",
        "m-rsp",
    ]
    .map(str::to_string)
    .to_vec();
    let gw = Gateway::start_adds(&[add], &[]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = client(
        &clients.python(),
        home.path(),
        &[
            ("GW_URL", gw.url()),
            ("GW_KEY", gw.key.clone()),
            ("MODEL", "rsp/m-rsp".into()),
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ],
    );
    cmd.arg(script("sdk_openai_responses_cut.py"));
    let out = run(cmd, "the openai Responses cut script").await;
    let ctx = format!(
        "--- stdout\n{}\n--- stderr\n{}\n--- gateway log\n{}",
        out.stdout,
        out.stderr,
        gw.log()
    );
    assert!(out.status.success(), "{ctx}");
    let v: Value = serde_json::from_str(out.stdout.trim()).expect(&ctx);
    assert!(v.get("error").is_none(), "{ctx}");
    assert_eq!(
        v["events"],
        json!([
            "response.created",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.failed"
        ]),
        "{ctx}"
    );
    assert_eq!(v["seqs"], json!([0, 1, 2, 3, 4]), "{ctx}");
    assert!(
        v["final"]
            .as_str()
            .is_some_and(|f| f.contains("response.completed")),
        "{ctx}"
    );
    assert_eq!(up.requests().len(), 1, "no retry: {ctx}");
}
