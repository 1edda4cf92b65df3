//! Fake OAuth and Code Assist servers on 127.0.0.1 (port 0), written on hyper: a generic
//! scripted server that records requests, and two ready-made fakes — Google (auth, token,
//! userinfo, revoke, Code Assist loadCodeAssist/onboardUser/operations and the model calls
//! `generateContent` / `streamGenerateContent?alt=sse` / `countTokens` in the Code Assist
//! envelope, plus a Gemini API `generateContent` for API-key upstreams) and Qwen (device code,
//! token) — whose answers a test changes through their `script`.
//!
//! The fake Google remembers every access token it issued (with its account, i.e. its refresh
//! token, and its expiry) and checks the bearer of each Code Assist call against them: an
//! unknown or expired token gets 401, and [`FakeGoogle::ca_seen`] says whether the token was
//! the account's newest. [`CaRule`]s script 401s and 429s per account.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub content_type: &'static str,
    /// Before the answer is sent.
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply::text(status, v.to_string())
    }

    /// A JSON body given as text (kept byte for byte).
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            content_type: "application/json",
            delay: Duration::ZERO,
        }
    }

    /// `text/event-stream`: one `data:` event per value.
    pub fn sse(events: &[Value]) -> Reply {
        let body: String = events
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n"))
            .collect();
        Reply {
            status: 200,
            body,
            content_type: "text/event-stream",
            delay: Duration::ZERO,
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
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let mut resp = hyper::Response::new(Full::new(Bytes::from(reply.body)));
                            *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap();
                            resp.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static(reply.content_type),
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
    /// Refresh tokens answered with `invalid_grant` whatever `refresh` says.
    pub dead: Vec<String>,
    /// How long the token endpoint takes to answer a refresh.
    pub refresh_delay: Duration,
    /// Scripted Code Assist answers, first match wins.
    pub ca_rules: Vec<CaRule>,
    /// The API key the Gemini API (`/v1beta/models/...`) accepts.
    pub api_key: String,
    issued: u32,
    polled: u32,
    tokens: Vec<Issued>,
    ca_seen: Vec<CaSeen>,
}

pub const FAKE_REFRESH: &str = "1//fake-refresh-token";

/// The refresh token a login with this code gets: `good-code` -> [`FAKE_REFRESH`],
/// `good-code-X` -> `FAKE_REFRESH-X` (one account per suffix).
pub fn refresh_for_code(code: &str) -> String {
    match code.strip_prefix("good-code-") {
        Some(x) => format!("{FAKE_REFRESH}-{x}"),
        None => FAKE_REFRESH.to_string(),
    }
}

/// An access token the fake issued.
#[derive(Debug, Clone)]
struct Issued {
    access: String,
    /// The account: the refresh token it came from.
    refresh: String,
    at: Instant,
    expires: Instant,
}

/// A Code Assist (or Gemini API) call the fake answered.
#[derive(Debug, Clone)]
pub struct CaSeen {
    pub path: String,
    pub query: String,
    /// The account (refresh token) of the bearer token, if the fake issued it.
    pub account: Option<String>,
    pub token: String,
    /// What was wrong with the token: unknown, expired, or superseded for more than 500 ms
    /// by a newer token of the same account.
    pub problem: Option<String>,
    pub user_agent: String,
    pub body: Value,
    pub status: u16,
}

/// A scripted Code Assist answer.
#[derive(Debug, Clone)]
pub struct CaRule {
    /// Only for this account (refresh token); `None`: any.
    pub account: Option<String>,
    /// How many more times; `None`: always.
    pub times: Option<u32>,
    pub status: u16,
    pub body: String,
}

/// Google's 401 for a refused token.
pub const CA_UNAUTHENTICATED: &str = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}"#;
/// A rate limit with a 30 s RetryInfo (Cloud Code's shape).
pub const CA_RETRY_30S: &str = r#"{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 30s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{"model":"gemini-2.5-pro","quotaResetDelay":"30s"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;
/// A rate limit whose only delay is ErrorInfo `quotaResetDelay`.
pub const CA_RESET_DELAY_20S: &str = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{"quotaResetDelay":"19.2s"}}]}}"#;
/// A spent per-day quota whose message does not say so (only the QuotaFailure does).
pub const CA_DAILY: &str = r#"[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel"}]}]}}]"#;

impl CaRule {
    pub fn once(account: &str, status: u16, body: &str) -> CaRule {
        CaRule {
            account: Some(account.into()),
            times: Some(1),
            status,
            body: body.into(),
        }
    }

    pub fn always(account: &str, status: u16, body: &str) -> CaRule {
        CaRule {
            account: Some(account.into()),
            times: None,
            status,
            body: body.into(),
        }
    }
}

/// What the fake model answers.
pub const CA_TEXT: &str = "Hello from Code Assist.";

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
            dead: Vec::new(),
            refresh_delay: Duration::ZERO,
            ca_rules: Vec::new(),
            api_key: "sk-fake-gemini".into(),
            issued: 0,
            polled: 0,
            tokens: Vec::new(),
            ca_seen: Vec::new(),
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

    /// The Code Assist / Gemini API calls answered so far.
    pub fn ca_seen(&self) -> Vec<CaSeen> {
        self.script.lock().unwrap().ca_seen.clone()
    }

    /// The newest access token issued to `account` (a refresh token).
    pub fn newest_token(&self, account: &str) -> Option<String> {
        let s = self.script.lock().unwrap();
        s.tokens
            .iter()
            .rev()
            .find(|t| t.refresh == account)
            .map(|t| t.access.clone())
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
                    let code = f.get("code").cloned().unwrap_or_default();
                    let accepted = code == s.good_code
                        || code
                            .strip_prefix(s.good_code.as_str())
                            .is_some_and(|rest| rest.starts_with('-'));
                    if !accepted {
                        return Reply::json(
                            400,
                            json!({"error": "invalid_grant", "error_description": "Malformed auth code."}),
                        );
                    }
                    let refresh = refresh_for_code(&code);
                    let access = s.issue(&refresh);
                    Reply::json(
                        200,
                        json!({"access_token": access,
                               "refresh_token": refresh, "expires_in": s.expires_in,
                               "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/cloud-platform",
                               "id_token": "x.y.z"}),
                    )
                }
                Some("refresh_token") => {
                    let refresh = f.get("refresh_token").cloned().unwrap_or_default();
                    let mode = if s.dead.contains(&refresh) {
                        RefreshMode::InvalidGrant
                    } else {
                        s.refresh
                    };
                    let mut reply = match mode {
                        RefreshMode::Ok => {
                            let access = s.issue(&refresh);
                            Reply::json(
                                200,
                                json!({"access_token": access,
                                   "expires_in": s.expires_in, "token_type": "Bearer"}),
                            )
                        }
                        RefreshMode::InvalidGrant => Reply::json(
                            400,
                            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
                        ),
                        RefreshMode::Unavailable => {
                            Reply::json(503, json!({"error": "unavailable"}))
                        }
                    };
                    reply.delay = s.refresh_delay;
                    reply
                }
                _ => Reply::json(400, json!({"error": "unsupported_grant_type"})),
            }
        }
        "/v1internal:generateContent"
        | "/v1internal:streamGenerateContent"
        | "/v1internal:countTokens" => code_assist_call(s, r),
        p if p.starts_with("/v1beta/models/") => gemini_api_call(s, r),
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

impl GoogleScript {
    /// Issues an access token for the account of `refresh`.
    fn issue(&mut self, refresh: &str) -> String {
        self.issued += 1;
        let access = format!("ya29.fake-access-{}", self.issued);
        let at = Instant::now();
        self.tokens.push(Issued {
            access: access.clone(),
            refresh: refresh.into(),
            at,
            expires: at + Duration::from_secs(self.expires_in),
        });
        access
    }

    /// The account of a bearer token and what is wrong with it, if anything.
    fn check(&self, token: &str) -> (Option<String>, Option<String>) {
        let now = Instant::now();
        let Some(i) = self.tokens.iter().position(|t| t.access == token) else {
            return (None, Some("unknown token".into()));
        };
        let t = &self.tokens[i];
        if now >= t.expires {
            let late = now - t.expires;
            return (
                Some(t.refresh.clone()),
                Some(format!("expired {late:?} ago")),
            );
        }
        let newer = self.tokens[i + 1..].iter().find(|n| n.refresh == t.refresh);
        let problem = newer
            .filter(|n| now.duration_since(n.at) > Duration::from_millis(500))
            .map(|n| {
                format!(
                    "superseded {:?} ago by {}",
                    now.duration_since(n.at),
                    n.access
                )
            });
        (Some(t.refresh.clone()), problem)
    }
}

fn bearer(r: &Recorded) -> String {
    r.headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

/// The Gemini response the fake model gives, in pieces for a stream.
fn gemini_reply(text: &str, last: bool) -> Value {
    let mut c = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
    let mut v = json!({"candidates": [], "modelVersion": "gemini-2.5-pro"});
    if last {
        c["finishReason"] = json!("STOP");
        v["usageMetadata"] =
            json!({"promptTokenCount": 5, "candidatesTokenCount": 4, "totalTokenCount": 9});
    }
    v["candidates"] = json!([c]);
    v
}

fn code_assist_call(s: &mut GoogleScript, r: &Recorded) -> Reply {
    let token = bearer(r);
    let (account, problem) = s.check(&token);
    let rule = s
        .ca_rules
        .iter_mut()
        .find(|rule| rule.account.is_none() || rule.account.as_deref() == account.as_deref());
    let reply = match rule {
        Some(rule) if rule.times != Some(0) => {
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            Reply::text(rule.status, rule.body.clone())
        }
        _ if problem
            .as_deref()
            .is_some_and(|p| !p.starts_with("superseded")) =>
        {
            Reply::text(401, CA_UNAUTHENTICATED)
        }
        _ => match r.path.as_str() {
            "/v1internal:countTokens" => Reply::json(200, json!({"totalTokens": 7})),
            "/v1internal:streamGenerateContent" if r.query == "alt=sse" => Reply::sse(&[
                json!({"response": gemini_reply("Hello from ", false), "traceId": "t-1"}),
                json!({"response": gemini_reply("Code Assist.", true), "traceId": "t-1"}),
            ]),
            "/v1internal:streamGenerateContent" => Reply::json(
                400,
                json!({"error": {"code": 400, "message": "streams need alt=sse here"}}),
            ),
            _ => Reply::json(
                200,
                json!({"response": gemini_reply(CA_TEXT, true), "traceId": "t-1"}),
            ),
        },
    };
    s.ca_seen.push(CaSeen {
        path: r.path.clone(),
        query: r.query.clone(),
        account,
        token,
        problem,
        user_agent: r.headers.get("user-agent").cloned().unwrap_or_default(),
        body: r.json(),
        status: reply.status,
    });
    reply
}

/// The Gemini API (`x-goog-api-key`) for an API-key upstream next to the logins.
fn gemini_api_call(s: &mut GoogleScript, r: &Recorded) -> Reply {
    let key = r.headers.get("x-goog-api-key").cloned().unwrap_or_default();
    let reply = if key != s.api_key {
        Reply::json(
            400,
            json!({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}),
        )
    } else if r.path.ends_with(":generateContent") {
        Reply::json(200, gemini_reply(CA_TEXT, true))
    } else if r.path.ends_with(":streamGenerateContent") && r.query == "alt=sse" {
        Reply::sse(&[
            gemini_reply("Hello from ", false),
            gemini_reply("Code Assist.", true),
        ])
    } else {
        Reply::json(404, json!({"error": {"code": 404, "message": "not here"}}))
    };
    s.ca_seen.push(CaSeen {
        path: r.path.clone(),
        query: r.query.clone(),
        account: None,
        token: String::new(),
        problem: None,
        user_agent: r.headers.get("user-agent").cloned().unwrap_or_default(),
        body: r.json(),
        status: reply.status,
    });
    reply
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
