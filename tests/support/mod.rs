//! Shared test support: a temp home and the real binary, fake upstreams on port 0.
#![allow(dead_code)]

pub mod fake_oauth;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary `LLM_GATEWAY_HOME`, removed on drop.
pub struct TestHome {
    dir: tempfile::TempDir,
}

impl TestHome {
    pub fn new() -> TestHome {
        TestHome {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A home inside `parent` (a test that needs particular folders above it).
    pub fn new_in(parent: &Path) -> TestHome {
        TestHome {
            dir: tempfile::tempdir_in(parent).expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `llm-gateway` with this home, the file secret backend (no keyring in tests unless asked)
    /// and a clean environment for the variables the gateway reads.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("LLM_GATEWAY_HOME", self.path())
            .env("LLM_GATEWAY_SECRETS_BACKEND", "file")
            .env("NO_COLOR", "1")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("LLM_GATEWAY_LOG")
            .env_remove("LLM_GATEWAY_LOG_FILE")
            .stdin(Stdio::null());
        c
    }

    /// Runs the command with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run llm-gateway")
    }

    /// Writes `config.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).expect("write config");
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llm-gateway"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `out` of `llm-gateway ARGS`, checked for exit `code`; the output is shown when it differs.
pub fn check_exit(out: Output, args: &[&str], code: i32) -> Output {
    assert_eq!(
        out.status.code(),
        Some(code),
        "llm-gateway {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The stdout of `llm-gateway ARGS` as JSON.
pub fn stdout_json(out: &Output, args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", args.join(" "), stdout(out)))
}

pub mod fake_anthropic;
pub mod fake_azure;
pub mod fake_bedrock;
pub mod fake_bedrock_auth;
pub mod fake_gemini;
pub mod fake_openai;
pub mod fake_responses;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use llm_gateway::config::{Config, ProviderKind};
use llm_gateway::secret::Secret;
use llm_gateway::server::{State, View};
use llm_gateway::store::records::{ApiKeyRecord, AuthKind, UpstreamRecord};

use fake_openai::FakeOpenAi;
use tokio_util::sync::CancellationToken;

/// The client address of the connection a request came on (in the request's extensions).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Serves `handle` on 127.0.0.1:0 (HTTP/1 and HTTP/2, a task per connection) until the returned
/// task is aborted: the listener of every fake upstream.
pub async fn serve<F, Fut, B>(handle: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |mut req| {
                    req.extensions_mut().insert(Peer(peer));
                    let reply = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(reply.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    (addr, task)
}

/// The gateway key every in-process test uses unless it says otherwise.
pub const KEY: &str = "lgw_test_fake_key_0001";

/// An `openai`-kind upstream record at `base_url`.
pub fn upstream(name: &str, base_url: &str, models: &[&str], priority: u32) -> UpstreamRecord {
    UpstreamRecord {
        name: name.into(),
        provider: ProviderKind::Openai,
        base_url: Some(base_url.into()),
        base_url_secret: false,
        models: models.iter().map(|m| m.to_string()).collect(),
        models_discovered: false,
        priority,
        enabled: true,
        auth: AuthKind::ApiKey,
        region: None,
        api_version: None,
        wire: None,
        profile: None,
        created_at: 0,
        oauth: None,
    }
}

/// A gateway key record for `key`.
pub fn key_record(name: &str, key: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        name: name.into(),
        prefix: key.chars().take(10).collect(),
        hash: llm_gateway::store::keys::hash_key(key),
        rpm: None,
        models: vec![],
        enabled: true,
        revoked: false,
        created_at: 0,
        last_used_at: None,
    }
}

/// A view with these upstreams (each with a fake API key `sk-fake-<name>`) and [`KEY`].
/// Two upstreams serving `m`: `aa` at `a`, tried first, then `bb` at `b`.
pub fn two_upstreams(a: &FakeOpenAi, b: &FakeOpenAi) -> View {
    view(vec![
        upstream("aa", &a.base_url(), &["m"], 1),
        upstream("bb", &b.base_url(), &["m"], 2),
    ])
}

pub fn view(upstreams: Vec<UpstreamRecord>) -> View {
    let secrets: HashMap<String, Secret> = upstreams
        .iter()
        .map(|u| (u.name.clone(), Secret::new(format!("sk-fake-{}", u.name))))
        .collect();
    View {
        upstreams,
        keys: vec![key_record("test", KEY)],
        secrets,
    }
}

/// Defaults with short timeouts suited to tests.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.timeouts.connect_secs = 2;
    c.timeouts.first_byte_secs = 5;
    c.timeouts.idle_secs = 5;
    c.timeouts.total_secs = 30;
    c.server.shutdown_grace_secs = 5;
    c
}

/// The server core running in-process on 127.0.0.1:0.
pub struct Gateway {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    pub async fn start(config: Config, view: View) -> Gateway {
        Self::start_on(config, view, "127.0.0.1:0").await
    }

    /// [`Gateway::start`] bound to `bind` (a test of a non-loopback listen binds `0.0.0.0:0`;
    /// requests still go to 127.0.0.1).
    pub async fn start_on(config: Config, view: View, bind: &str) -> Gateway {
        let state = State::new(config, view).expect("state");
        let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let (state, shutdown) = (Arc::clone(&state), shutdown.clone());
            async move {
                llm_gateway::server::serve(listener, state, shutdown)
                    .await
                    .unwrap();
            }
        });
        Gateway {
            addr,
            state,
            shutdown,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.addr.port(), path)
    }

    /// A client that never uses a proxy.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// POSTs `body` to `path` with [`KEY`] as a bearer token.
    pub async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        Self::client()
            .post(self.url(path))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}
