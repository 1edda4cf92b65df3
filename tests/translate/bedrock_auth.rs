//! Bedrock's credentials and models as a user meets them, against `SignedBedrock`, the fake that
//! recomputes every SigV4 signature it receives.
//!
//! In-process (the credential chain reads a fixed environment, `State::set_aws_env`): env keys
//! with a session token, whole and streamed; a wrong secret, a wrong session token and a skewed
//! clock refused by the fake and reported with the credential's source; an application
//! inference profile ARN signed for its own region; AccessDenied's hint; unknown model ids.
//!
//! Through the real binary (a temporary `HOME` with `~/.aws`, the server detached with the
//! environment given): the `default` profile of `~/.aws/credentials` with model discovery
//! (ListFoundationModels and both pages of ListInferenceProfiles) and `models`; `--profile`
//! from `AWS_CONFIG_FILE` winning over the environment; env keys with `upstream test`; a
//! `credential_process` whose credentials expire and are replaced; a stored Bedrock API key and
//! `AWS_BEARER_TOKEN_BEDROCK`; no credential at all.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use llm_gateway::upstream::bedrock::credentials::Env;
use serde_json::{Value, json};

use crate::support::fake_bedrock_auth::{self, Accept, AwsKey, SignedBedrock};
use crate::support::{Gateway, TestHome, check_exit, stderr, stdout, test_config, view};

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const SONNET_US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const AKID: &str = "AKIDFAKEGATEWAYTEST1";
const SECRET: &str = "fake/Secret+Key0000000000000000000000000";
const TOKEN: &str = "FakeSessionToken//forTests==";

fn key() -> AwsKey {
    AwsKey::new(AKID, SECRET, Some(TOKEN))
}

async fn fake_with(keys: Vec<AwsKey>) -> SignedBedrock {
    SignedBedrock::start(Accept {
        keys,
        ..Accept::default()
    })
    .await
}

/// An in-process gateway whose credential chain sees only `vars` and an empty home.
async fn gateway(fake: &SignedBedrock, models: &[&str], vars: &[(&str, &str)]) -> Gateway {
    let mut v = view(vec![fake_bedrock_auth::upstream(
        "br",
        fake,
        "us-west-2",
        models,
    )]);
    v.secrets.clear();
    let gw = Gateway::start(test_config(), v).await;
    let home = std::env::temp_dir().join("llm-gateway-test-no-such-home");
    gw.state.set_aws_env(Env::fixed(vars.iter().copied(), home));
    gw
}

fn env_keys<'a>(id: &'a str, secret: &'a str, token: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_SESSION_TOKEN", token),
    ]
}

async fn ask(gw: &Gateway, model: &str, stream: bool) -> (u16, String) {
    let body = json!({"model": model, "max_tokens": 20, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &body.to_string()).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

fn message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    v["error"]["message"].as_str().unwrap_or(body).to_owned()
}

#[tokio::test]
async fn env_keys_with_a_session_token_pass_the_fakes_signature_check() {
    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[HAIKU], &env_keys(AKID, SECRET, TOKEN)).await;
    let (status, body) = ask(&gw, HAIKU, false).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello from Bedrock"), "{body}");
    let (status, body) = ask(&gw, HAIKU, true).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Hello from") && body.contains("message_stop"),
        "{body}"
    );
    assert!(fake.refused.lock().unwrap().is_empty());
    let signed = fake.signed.lock().unwrap().clone();
    assert_eq!(signed.len(), 2);
    for s in &signed {
        assert_eq!(s.key_id, AKID);
        assert_eq!(s.region.as_deref(), Some("us-west-2"));
        assert_eq!(s.service.as_deref(), Some("bedrock"));
    }
    assert_eq!(
        signed[1].path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].headers["x-amz-security-token"], TOKEN);
    gw.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_or_session_token_is_refused_and_names_the_source() {
    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[HAIKU], &env_keys(AKID, "fake/wrong-secret", TOKEN)).await;
    let (status, body) = ask(&gw, HAIKU, false).await;
    let msg = message(&body);
    assert_eq!(status, 401, "{body}");
    assert!(
        msg.contains("AWS rejected the credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"),
        "{msg}"
    );
    assert!(
        msg.contains("signature we calculated does not match"),
        "{msg}"
    );
    assert_eq!(
        *fake.refused.lock().unwrap(),
        vec!["InvalidSignatureException"]
    );
    gw.stop().await;

    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[HAIKU], &env_keys(AKID, SECRET, "FakeOtherToken")).await;
    let (status, body) = ask(&gw, HAIKU, true).await;
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("security token included in the request is invalid"));
    assert_eq!(
        *fake.refused.lock().unwrap(),
        vec!["UnrecognizedClientException"]
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_clock_more_than_five_minutes_off_is_reported_as_such() {
    let fake = SignedBedrock::start(Accept {
        keys: vec![key()],
        clock_offset_secs: 600,
        ..Accept::default()
    })
    .await;
    let gw = gateway(&fake, &[HAIKU], &env_keys(AKID, SECRET, TOKEN)).await;
    let (status, body) = ask(&gw, HAIKU, false).await;
    let msg = message(&body);
    assert_eq!(status, 401, "{body}");
    assert!(msg.contains("Signature expired"), "{msg}");
    assert!(
        msg.contains("clock differs from AWS's by more than 5 minutes"),
        "{msg}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_application_inference_profile_arn_is_signed_for_the_arns_region() {
    let arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/fakeprof01";
    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[arn], &env_keys(AKID, SECRET, TOKEN)).await;
    for stream in [false, true] {
        let (status, body) = ask(&gw, arn, stream).await;
        assert_eq!(status, 200, "{body}");
        let s = fake.last_signed();
        assert_eq!(s.region.as_deref(), Some("eu-west-1"), "{s:?}");
        assert!(
            s.path.starts_with(
                "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Ffakeprof01/"
            ),
            "{s:?}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn access_denied_names_the_model_and_region_to_enable() {
    let denied = "anthropic.claude-denied-v1:0";
    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[denied], &env_keys(AKID, SECRET, TOKEN)).await;
    let (status, body) = ask(&gw, denied, false).await;
    let msg = message(&body);
    assert_eq!(status, 403, "{body}");
    assert!(msg.contains("You don't have access to the model"), "{msg}");
    assert!(
        msg.contains("enable model access for anthropic.claude-denied-v1:0 in us-west-2"),
        "{msg}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "permission_error", "{v}");
    // An OpenAI client gets the same words in its shape.
    let body = json!({"model": denied, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/chat/completions", &body.to_string()).await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("enable model access for")),
        "{v}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_unknown_model_id_gets_a_clear_message() {
    let nosuch = "anthropic.claude-nosuch-v1:0";
    let fake = fake_with(vec![key()]).await;
    let gw = gateway(&fake, &[HAIKU, nosuch], &env_keys(AKID, SECRET, TOKEN)).await;
    // Not one of the upstream's models: the gateway says so and lists them, AWS is not asked.
    let (status, body) = ask(&gw, "anthropic.claude-typo-v9:0", false).await;
    let msg = message(&body);
    assert_eq!(status, 404, "{body}");
    assert!(
        msg.contains("anthropic.claude-typo-v9:0") && msg.contains(HAIKU),
        "{msg}"
    );
    assert!(fake.seen.lock().unwrap().is_empty());
    // Listed, but Bedrock does not know it: AWS's words and what to call instead.
    let (status, body) = ask(&gw, nosuch, false).await;
    let msg = message(&body);
    assert_eq!(status, 400, "{body}");
    assert!(
        msg.contains("The provided model identifier is invalid."),
        "{msg}"
    );
    assert!(
        msg.contains("is not a model id Bedrock serves on demand in us-west-2")
            && msg.contains("`us.anthropic.claude-nosuch-v1:0`"),
        "{msg}"
    );
    gw.stop().await;
}

// ---- through the binary, on a temporary user's machine ----

/// Every AWS variable the chain (or an SDK-minded user's shell) could bring in.
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// A user's machine: the gateway's home, a `HOME` for `~/.aws`, the environment the commands
/// run with, and the detached server when started (stopped on drop).
struct Machine {
    gw_home: TestHome,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
    api_url: String,
    server: Option<String>,
    key: String,
}

impl Machine {
    fn new(fake: &SignedBedrock) -> Machine {
        Machine {
            gw_home: TestHome::new(),
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            api_url: fake.url(),
            server: None,
            key: String::new(),
        }
    }

    fn env(&mut self, name: &str, value: &str) {
        self.env.push((name.into(), value.into()));
    }

    /// Writes `~/.aws/NAME`.
    fn aws_file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let dir = self.home.path().join(".aws");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.gw_home.cmd();
        for v in AWS_VARS {
            c.env_remove(v);
        }
        c.env("HOME", self.home.path())
            .env("LLM_GATEWAY_BEDROCK_API_URL", &self.api_url)
            .env("LLM_GATEWAY_BEDROCK_CONTROL_URL", &self.api_url);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str], code: i32) -> Output {
        check_exit(self.cmd(args).output().unwrap(), args, code)
    }

    fn run_with_stdin(&self, args: &[&str], input: &str, code: i32) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        check_exit(child.wait_with_output().unwrap(), args, code)
    }

    /// A gateway key, then the detached server with this machine's environment.
    fn start(&mut self) {
        self.key = stdout(&self.run(&["apikey", "add", "t"], 0))
            .trim()
            .to_owned();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        self.run(&["server", "start", "--detach", "--listen", &addr], 0);
        self.server = Some(addr);
    }

    async fn ask(&self, model: &str) -> (u16, String) {
        let addr = self.server.as_deref().unwrap();
        let body = json!({"model": model, "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}]});
        let r = Gateway::client()
            .post(format!("http://{addr}/v1/messages"))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = self.cmd(&["server", "stop"]).output();
        }
    }
}

fn add_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "upstream",
        "add",
        "br",
        "--provider",
        "bedrock",
        "--region",
        "us-west-2",
    ];
    a.extend_from_slice(extra);
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_profile_in_aws_credentials_discovers_models_and_answers() {
    let fake = fake_with(vec![AwsKey::new(AKID, SECRET, None)]).await;
    let mut m = Machine::new(&fake);
    m.aws_file(
        "credentials",
        &format!("[default]\naws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\n"),
    );
    let out = m.run(&add_args(&[]), 0);
    assert!(
        stderr(&out).contains("added upstream `br` (bedrock, 5 models, discovered)"),
        "{}",
        stderr(&out)
    );
    // Both control calls were signed for `bedrock` in the record's region, and the second
    // ListInferenceProfiles page was asked for with the first page's token.
    let signed = fake.signed.lock().unwrap().clone();
    let paths: Vec<&str> = signed.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/foundation-models",
            "/inference-profiles",
            "/inference-profiles"
        ]
    );
    assert!(signed.iter().all(|s| s.key_id == AKID
        && s.region.as_deref() == Some("us-west-2")
        && s.service.as_deref() == Some("bedrock")));
    let models = crate::support::stdout_json(&m.run(&["models", "--json"], 0), &["models"]);
    let names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for want in [
        HAIKU,
        SONNET_US,
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-opus-4-1-20250805-v1:0",
        "apac.amazon.nova-pro-v1:0",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    // Neither the embedding model nor the profile-only base id is offered.
    assert!(
        !names.iter().any(|n| n.contains("titan-embed")),
        "{names:?}"
    );
    assert!(
        !names.contains(&"anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "{names:?}"
    );

    m.start();
    let (status, body) = m.ask(SONNET_US).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello from Bedrock"), "{body}");
    assert_eq!(fake.model_key_ids(), [AKID]);
    assert_eq!(
        fake.last_signed().path,
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_from_aws_config_file_wins_over_the_environment() {
    let work = AwsKey::new(
        "AKIDFAKEWORKPROFILE1",
        "fake/work-secret",
        Some("FakeWorkToken"),
    );
    let fake = fake_with(vec![work.clone()]).await;
    let mut m = Machine::new(&fake);
    let config = m.home.path().join("elsewhere-config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = us-east-1\n\n[profile work]\naws_access_key_id = {}\n\
             aws_secret_access_key = {}\naws_session_token = {}\n",
            work.id,
            work.secret,
            work.token.as_deref().unwrap()
        ),
    )
    .unwrap();
    m.env("AWS_CONFIG_FILE", config.to_str().unwrap());
    // Keys the fake does not know: used, they would be refused.
    m.env("AWS_ACCESS_KEY_ID", "AKIDFAKENOTTHISONE00");
    m.env("AWS_SECRET_ACCESS_KEY", "fake/not-this-one");
    m.run(&add_args(&["--profile", "work", "--models", HAIKU]), 0);
    m.start();
    let (status, body) = m.ask(HAIKU).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.model_key_ids(), ["AKIDFAKEWORKPROFILE1"]);
    assert!(fake.refused.lock().unwrap().is_empty());
    let out = m.run(&["upstream", "test", "br"], 0);
    assert!(stdout(&out).starts_with("br: ok in "), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_keys_and_upstream_test_with_a_good_and_a_bad_secret() {
    let fake = fake_with(vec![key()]).await;
    let mut m = Machine::new(&fake);
    m.env("AWS_ACCESS_KEY_ID", AKID);
    m.env("AWS_SECRET_ACCESS_KEY", SECRET);
    m.env("AWS_SESSION_TOKEN", TOKEN);
    m.run(
        &add_args(&["--models", &format!("{HAIKU},anthropic.claude-denied-v1:0")]),
        0,
    );
    let out = m.run(&["upstream", "test", "br"], 0);
    assert!(stdout(&out).starts_with("br: ok in "), "{}", stdout(&out));
    assert_eq!(
        fake.last_signed().path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    // The model without access: the same hint as through the gateway.
    let out = m.run(
        &[
            "upstream",
            "test",
            "br",
            "--model",
            "anthropic.claude-denied-v1:0",
        ],
        1,
    );
    assert!(
        stderr(&out).contains("enable model access for anthropic.claude-denied-v1:0 in us-west-2"),
        "{}",
        stderr(&out)
    );
    m.start();
    let (status, body) = m.ask(HAIKU).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.model_key_ids().last().map(String::as_str), Some(AKID));
    drop(m);

    let fake = fake_with(vec![key()]).await;
    let mut m = Machine::new(&fake);
    m.env("AWS_ACCESS_KEY_ID", AKID);
    m.env("AWS_SECRET_ACCESS_KEY", "fake/wrong-secret");
    m.env("AWS_SESSION_TOKEN", TOKEN);
    m.run(&add_args(&["--models", HAIKU]), 0);
    let out = m.run(&["upstream", "test", "br"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("AWS rejected the credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret"), "{err}");
    assert_eq!(
        *fake.refused.lock().unwrap(),
        vec!["InvalidSignatureException"]
    );
}

/// `credential_process` output that expires `secs` from now (RFC 3339).
fn process_output(key: &AwsKey, expires: SystemTime) -> String {
    let secs = expires
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    json!({"Version": 1, "AccessKeyId": key.id, "SecretAccessKey": key.secret,
        "SessionToken": key.token, "Expiration": at})
    .to_string()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_process_is_cached_until_its_expiration_then_run_again() {
    let first = AwsKey::new(
        "AKIDFAKEPROCESS00001",
        "fake/process-secret-1",
        Some("FakeTok1"),
    );
    let second = AwsKey::new(
        "AKIDFAKEPROCESS00002",
        "fake/process-secret-2",
        Some("FakeTok2"),
    );
    let fake = fake_with(vec![first.clone(), second.clone()]).await;
    let mut m = Machine::new(&fake);
    let dir = m.home.path().to_path_buf();
    // Each run prints the next prepared output and counts itself.
    let script = dir.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "n=$(cat '{d}/runs' 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > '{d}/runs'\n\
             cat '{d}/out-'$n.json\n",
            d = dir.display()
        ),
    )
    .unwrap();
    m.aws_file(
        "config",
        &format!(
            "[default]\ncredential_process = sh '{}'\n",
            script.display()
        ),
    );
    m.run(&add_args(&["--models", HAIKU]), 0);
    m.start();
    let runs = |dir: &Path| {
        std::fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    // The gateway refreshes 5 minutes before `Expiration`: this one is stale 8 s from now.
    let stale_at = SystemTime::now() + Duration::from_secs(8);
    std::fs::write(
        dir.join("out-1.json"),
        process_output(&first, stale_at + Duration::from_secs(300)),
    )
    .unwrap();
    std::fs::write(
        dir.join("out-2.json"),
        process_output(&second, SystemTime::now() + Duration::from_secs(3600)),
    )
    .unwrap();
    for _ in 0..2 {
        let (status, body) = m.ask(HAIKU).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        SystemTime::now() < stale_at,
        "the machine is too slow for this test"
    );
    assert_eq!(
        runs(&dir),
        "1",
        "the second request reused the cached output"
    );
    fake_bedrock_auth::wait_past(stale_at + Duration::from_millis(200)).await;
    let (status, body) = m.ask(HAIKU).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(runs(&dir), "2");
    assert_eq!(
        fake.model_key_ids(),
        [first.id.as_str(), first.id.as_str(), second.id.as_str()]
    );
    assert!(fake.refused.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_bedrock_api_key_and_aws_bearer_token_bedrock() {
    let stored = "bedrock-api-key-FAKESTORED0001";
    let from_env = "bedrock-api-key-FAKEENV0002";
    let fake = SignedBedrock::start(Accept {
        bearer: vec![stored.into(), from_env.into()],
        ..Accept::default()
    })
    .await;
    let mut m = Machine::new(&fake);
    m.env("AWS_BEARER_TOKEN_BEDROCK", from_env);
    // Stored with the upstream (and used for discovery), it wins over the environment's.
    let out = m.run_with_stdin(&add_args(&["--api-key-stdin"]), stored, 0);
    assert!(stderr(&out).contains("discovered"), "{}", stderr(&out));
    assert!(
        fake.signed
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.key_id == stored)
    );
    let mut args = add_args(&["--models", HAIKU]);
    args[2] = "br2";
    m.run(&args, 0);
    m.start();
    let (status, body) = m.ask(&format!("br/{SONNET_US}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = m.ask(&format!("br2/{HAIKU}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.model_key_ids(), [stored, from_env]);
    let seen = fake.seen.lock().unwrap().clone();
    let last = &seen.last().unwrap().headers;
    assert_eq!(last["authorization"], format!("Bearer {from_env}"));
    assert!(last.get("x-amz-date").is_none());
    let out = m.run(&["upstream", "show", "br", "--json"], 0);
    assert!(!stdout(&out).contains(stored), "the key is not shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_anywhere_is_one_clear_error_and_no_upstream_call() {
    let fake = fake_with(vec![key()]).await;
    let mut m = Machine::new(&fake);
    let out = m.run(&add_args(&[]), 1);
    let err = stderr(&out);
    assert!(err.contains("cannot list the models of `br`"), "{err}");
    assert!(err.contains("no AWS credentials for Bedrock: tried AWS_BEARER_TOKEN_BEDROCK (unset), AWS_ACCESS_KEY_ID (unset), profile `default`"), "{err}");
    assert!(err.contains("--api-key-stdin"), "{err}");
    m.run(&add_args(&["--models", HAIKU]), 0);
    let out = m.run(&["upstream", "test", "br"], 1);
    assert!(
        stderr(&out).contains("no AWS credentials for Bedrock"),
        "{}",
        stderr(&out)
    );
    m.start();
    let (status, body) = m.ask(HAIKU).await;
    let msg = message(&body);
    assert_eq!(status, 401, "{body}");
    assert!(
        msg.contains("upstream `br`: no AWS credentials for Bedrock: tried"),
        "{msg}"
    );
    assert!(msg.contains("(no such profile)"), "{msg}");
    assert!(fake.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_without_permission_names_the_iam_actions_needed() {
    let fake = SignedBedrock::start(Accept {
        keys: vec![key()],
        deny_listing: true,
        ..Accept::default()
    })
    .await;
    let mut m = Machine::new(&fake);
    m.env("AWS_ACCESS_KEY_ID", AKID);
    m.env("AWS_SECRET_ACCESS_KEY", SECRET);
    m.env("AWS_SESSION_TOKEN", TOKEN);
    let out = m.run(&add_args(&[]), 1);
    let err = stderr(&out);
    assert!(
        err.contains("cannot list the models of `br`: upstream answered 403"),
        "{err}"
    );
    assert!(
        err.contains("not authorized to perform: bedrock:ListFoundationModels"),
        "{err}"
    );
    assert!(
        err.contains("the credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY need bedrock:ListFoundationModels and bedrock:ListInferenceProfiles in us-west-2"),
        "{err}"
    );
    assert!(!err.contains("enable model access"), "{err}");
}
