//! Fake OAuth and Code Assist servers on 127.0.0.1 (port 0), written on hyper: a generic
//! scripted server that records requests, and two ready-made fakes — Google (auth, token,
//! userinfo, revoke, Code Assist loadCodeAssist/onboardUser/operations) and Qwen (device code,
//! token) — whose answers a test changes through their `script`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use llm_gateway::config::Config;
use llm_gateway::config::file::ProviderEndpoints;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            body: v.to_string(),
        }
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct FakeServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let reqs = requests.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, reqs) = (handler.clone(), reqs.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (handler, reqs) = (handler.clone(), reqs.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let rec = Recorded {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_string(),
                                query: parts.uri.query().unwrap_or("").to_string(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_string())
                                    })
                                    .collect(),
                                body: String::from_utf8_lossy(&body).into_owned(),
                            };
                            let reply = handler(&rec);
                            reqs.lock().unwrap().push(rec);
                            let mut resp = hyper::Response::new(Full::new(Bytes::from(reply.body)));
                            *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap();
                            resp.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeServer {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// How a fake token endpoint answers refresh requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMode {
    Ok,
    /// 400 `invalid_grant`: the refresh token is dead.
    InvalidGrant,
    /// 503: a passing failure.
    Unavailable,
}

pub struct GoogleScript {
    /// Lifetime of issued access tokens.
    pub expires_in: u64,
    pub refresh: RefreshMode,
    /// The code the exchange accepts.
    pub good_code: String,
    /// The `loadCodeAssist` answer.
    pub load: Value,
    /// Polls of the onboarding operation before it is done.
    pub onboard_polls: u32,
    pub userinfo_ok: bool,
    issued: u32,
    polled: u32,
}

pub const FAKE_REFRESH: &str = "1//fake-refresh-token";

pub struct FakeGoogle {
    pub server: FakeServer,
    pub script: Arc<Mutex<GoogleScript>>,
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let script = Arc::new(Mutex::new(GoogleScript {
            expires_in: 3600,
            refresh: RefreshMode::Ok,
            good_code: "good-code".into(),
            load: json!({"currentTier": {"id": "standard-tier", "name": "Standard"},
                         "cloudaicompanionProject": "proj-123"}),
            onboard_polls: 0,
            userinfo_ok: true,
            issued: 0,
            polled: 0,
        }));
        let s = script.clone();
        let server = FakeServer::start(move |r| google_handler(&mut s.lock().unwrap(), r)).await;
        FakeGoogle { server, script }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.providers.insert(
            "gemini-cli".into(),
            ProviderEndpoints {
                auth_url: Some(self.server.url("/auth")),
                token_url: Some(self.server.url("/token")),
                api_url: Some(self.server.url("")),
                userinfo_url: Some(self.server.url("/userinfo")),
                revoke_url: Some(self.server.url("/revoke")),
                ..Default::default()
            },
        );
        c
    }

    pub fn set(&self, f: impl FnOnce(&mut GoogleScript)) {
        f(&mut self.script.lock().unwrap())
    }

    /// Access tokens issued so far (by exchange and refresh).
    pub fn issued(&self) -> u32 {
        self.script.lock().unwrap().issued
    }

    pub fn refresh_requests(&self) -> Vec<Recorded> {
        self.server
            .requests_to("/token")
            .into_iter()
            .filter(|r| r.form().get("grant_type").map(String::as_str) == Some("refresh_token"))
            .collect()
    }
}

fn google_handler(s: &mut GoogleScript, r: &Recorded) -> Reply {
    match r.path.as_str() {
        "/token" => {
            let f = r.form();
            match f.get("grant_type").map(String::as_str) {
                Some("authorization_code") => {
                    if f.get("code") != Some(&s.good_code) {
                        return Reply::json(
                            400,
                            json!({"error": "invalid_grant", "error_description": "Malformed auth code."}),
                        );
                    }
                    s.issued += 1;
                    Reply::json(
                        200,
                        json!({"access_token": format!("ya29.fake-access-{}", s.issued),
                               "refresh_token": FAKE_REFRESH, "expires_in": s.expires_in,
                               "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/cloud-platform",
                               "id_token": "x.y.z"}),
                    )
                }
                Some("refresh_token") => match s.refresh {
                    RefreshMode::Ok => {
                        s.issued += 1;
                        Reply::json(
                            200,
                            json!({"access_token": format!("ya29.fake-access-{}", s.issued),
                                   "expires_in": s.expires_in, "token_type": "Bearer"}),
                        )
                    }
                    RefreshMode::InvalidGrant => Reply::json(
                        400,
                        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
                    ),
                    RefreshMode::Unavailable => Reply::json(503, json!({"error": "unavailable"})),
                },
                _ => Reply::json(400, json!({"error": "unsupported_grant_type"})),
            }
        }
        "/userinfo" if s.userinfo_ok => {
            Reply::json(200, json!({"email": "dev@example.com", "id": "1"}))
        }
        "/userinfo" => Reply::json(500, json!({})),
        "/revoke" => Reply::json(200, json!({})),
        "/v1internal:loadCodeAssist" => Reply::json(200, s.load.clone()),
        "/v1internal:onboardUser" => {
            let done = s.onboard_polls == 0;
            Reply::json(200, onboard_op(done))
        }
        "/v1internal/operations/onboard-1" => {
            s.polled += 1;
            Reply::json(200, onboard_op(s.polled >= s.onboard_polls))
        }
        _ => Reply::json(404, json!({"error": {"code": 404, "message": "not found"}})),
    }
}

fn onboard_op(done: bool) -> Value {
    if done {
        json!({"name": "operations/onboard-1", "done": true,
               "response": {"cloudaicompanionProject": {"id": "managed-proj-9", "name": "x"}}})
    } else {
        json!({"name": "operations/onboard-1", "done": false})
    }
}

pub struct QwenScript {
    /// Answers to device-token polls, in order; after them the poll succeeds.
    pub polls: Vec<(u16, Value)>,
    pub expires_in: u64,
    pub refresh: RefreshMode,
    /// Whether a refresh returns a new (rotated) refresh token.
    pub rotate: bool,
    issued: u32,
}

pub struct FakeQwen {
    pub server: FakeServer,
    pub script: Arc<Mutex<QwenScript>>,
}

impl FakeQwen {
    pub async fn start() -> FakeQwen {
        let script = Arc::new(Mutex::new(QwenScript {
            polls: Vec::new(),
            expires_in: 3600,
            refresh: RefreshMode::Ok,
            rotate: false,
            issued: 0,
        }));
        let s = script.clone();
        let server = FakeServer::start(move |r| qwen_handler(&mut s.lock().unwrap(), r)).await;
        FakeQwen { server, script }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.providers.insert(
            "qwen".into(),
            ProviderEndpoints {
                device_url: Some(self.server.url("/device")),
                token_url: Some(self.server.url("/token")),
                ..Default::default()
            },
        );
        c
    }

    pub fn set(&self, f: impl FnOnce(&mut QwenScript)) {
        f(&mut self.script.lock().unwrap())
    }
}

fn qwen_handler(s: &mut QwenScript, r: &Recorded) -> Reply {
    match r.path.as_str() {
        "/device" => Reply::json(
            200,
            json!({"device_code": "dev-code-1", "user_code": "ABCD-1234",
                   "verification_uri": "https://chat.qwen.ai/authorize",
                   "verification_uri_complete": "https://chat.qwen.ai/authorize?user_code=ABCD-1234",
                   "expires_in": 600}),
        ),
        "/token" => {
            let f = r.form();
            match f.get("grant_type").map(String::as_str) {
                Some("urn:ietf:params:oauth:grant-type:device_code") => {
                    if !s.polls.is_empty() {
                        let (status, body) = s.polls.remove(0);
                        return Reply::json(status, body);
                    }
                    s.issued += 1;
                    Reply::json(
                        200,
                        json!({"access_token": format!("qwen-fake-access-{}", s.issued),
                               "refresh_token": "qwen-fake-refresh-0", "token_type": "Bearer",
                               "expires_in": s.expires_in, "resource_url": "portal.qwen.ai"}),
                    )
                }
                Some("refresh_token") => match s.refresh {
                    RefreshMode::Ok => {
                        s.issued += 1;
                        let mut v = json!({"access_token": format!("qwen-fake-access-{}", s.issued),
                                           "token_type": "Bearer", "expires_in": s.expires_in});
                        if s.rotate {
                            v["refresh_token"] = json!(format!("qwen-fake-refresh-{}", s.issued));
                        }
                        Reply::json(200, v)
                    }
                    RefreshMode::InvalidGrant => {
                        Reply::json(401, json!({"error": "invalid_token"}))
                    }
                    RefreshMode::Unavailable => Reply::json(502, json!({})),
                },
                _ => Reply::json(400, json!({"error": "unsupported_grant_type"})),
            }
        }
        _ => Reply::json(404, json!({})),
    }
}
