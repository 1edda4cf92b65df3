//! The conformance harness: a gateway with one upstream `up` of a given kind on a fake server,
//! the cases in IR, client bodies and upstream replies encoded from them, and the decoding of
//! what each side saw.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use llm_gateway::config::ProviderKind;
use llm_gateway::oauth::refresher::{self, RefreshSettings, RefresherHandle};
use llm_gateway::oauth::{MemoryStore, TokenStore};
use llm_gateway::protocol::codec::RequestHints;
use llm_gateway::protocol::dialect::{self, AnyStreamDecoder};
use llm_gateway::protocol::ir::{
    self, ApiError, Block, Dialect, ErrorKind, FunctionTool, Image, ImageSource, Message, Response,
    Role, Signature, StopReason, SystemBlock, ThinkingConfig, ThinkingMode, Tool, Usage,
};
use llm_gateway::protocol::sse::SseParser;
use llm_gateway::protocol::stream::{BlockStart, Delta, StreamEvent};
use llm_gateway::protocol::{anthropic, gemini, openai};
use llm_gateway::store::records::{AuthKind, OAuthMeta, OAuthState, UpstreamRecord};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use super::lint::lint_anthropic;
use crate::support::fake_openai::{self, FakeOpenAi, Recorded, Reply};
use crate::support::{Gateway, KEY, fake_anthropic, fake_gemini, test_config, view};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Anthropic,
    OpenAi,
    Gemini,
    /// `POST /v1/responses`, as Codex and `client.responses.create` send it.
    Responses,
}

impl Client {
    pub fn dialect(self) -> Dialect {
        match self {
            Client::Anthropic => Dialect::Anthropic,
            Client::OpenAi => Dialect::OpenAi,
            Client::Gemini => Dialect::Gemini,
            Client::Responses => Dialect::Responses,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OpenAi,
    Anthropic,
    Gemini,
    GeminiCli,
    Qwen,
    DeepSeek,
    Azure,
    /// An `openai` upstream with `--wire responses`.
    Responses,
    /// AWS Bedrock's Converse with a Bedrock API key (`support::fake_bedrock`'s replies).
    Bedrock,
}

impl Kind {
    pub fn provider(self) -> ProviderKind {
        match self {
            Kind::OpenAi => ProviderKind::Openai,
            Kind::Anthropic => ProviderKind::Anthropic,
            Kind::Gemini => ProviderKind::Gemini,
            Kind::GeminiCli => ProviderKind::GeminiCli,
            Kind::Qwen => ProviderKind::Qwen,
            Kind::DeepSeek => ProviderKind::Deepseek,
            Kind::Azure => ProviderKind::Azure,
            Kind::Responses => ProviderKind::Openai,
            Kind::Bedrock => ProviderKind::Bedrock,
        }
    }

    pub fn model(self) -> &'static str {
        match self {
            Kind::OpenAi => "gpt-4o",
            Kind::Anthropic => "claude-sonnet-4-5",
            Kind::Gemini | Kind::GeminiCli => "gemini-2.5-pro",
            Kind::Qwen => "qwen-plus",
            Kind::DeepSeek => "deepseek-chat",
            // A deployment named after its (reasoning) model.
            Kind::Azure => "o4-mini",
            Kind::Responses => "gpt-5-codex",
            // Claude through a cross-Region inference profile: signatures must survive.
            Kind::Bedrock => "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        }
    }

    /// The wire dialect; Bedrock's Converse has none and answers Anthropic, the nearest (as
    /// the kind itself does): check `Kind::Bedrock` before matching on this.
    pub fn dialect(self) -> Dialect {
        match self {
            Kind::OpenAi | Kind::Qwen | Kind::DeepSeek | Kind::Azure => Dialect::OpenAi,
            Kind::Anthropic | Kind::Bedrock => Dialect::Anthropic,
            Kind::Gemini | Kind::GeminiCli => Dialect::Gemini,
            Kind::Responses => Dialect::Responses,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    Plain,
    Stream,
    ToolRoundTrip,
    ParallelTools,
    Thinking,
    Image,
    Structured,
    UpstreamError,
    MidStreamCut,
}

impl Case {
    pub fn streams(self) -> bool {
        matches!(
            self,
            Case::Stream
                | Case::ToolRoundTrip
                | Case::ParallelTools
                | Case::Thinking
                | Case::MidStreamCut
        )
    }
}

pub const ACCESS_TOKEN: &str = "ya29.fake-access-token";
pub const PROJECT: &str = "proj-fake-123";

/// A gateway with one upstream named `up` of `kind`, on a fake server.
pub struct Rig {
    pub gw: Gateway,
    pub fake: FakeOpenAi,
    refresher: Option<(RefresherHandle, CancellationToken)>,
}

pub fn record(kind: Kind, fake: &FakeOpenAi) -> UpstreamRecord {
    let base = match kind.dialect() {
        _ if kind == Kind::Azure => crate::support::fake_azure::base_url(fake),
        _ if kind == Kind::Bedrock => fake.root_url(),
        Dialect::OpenAi | Dialect::Responses => fake.base_url(),
        _ => fake.root_url(),
    };
    let oauth = kind == Kind::GeminiCli;
    UpstreamRecord {
        name: "up".into(),
        provider: kind.provider(),
        base_url: Some(base),
        base_url_secret: false,
        models: vec![kind.model().to_string()],
        models_discovered: false,
        priority: 100,
        enabled: true,
        auth: if oauth {
            AuthKind::Oauth
        } else {
            AuthKind::ApiKey
        },
        region: (kind == Kind::Bedrock).then(|| "us-west-2".into()),
        api_version: None,
        wire: (kind == Kind::Responses).then_some(llm_gateway::store::records::Wire::Responses),
        profile: None,
        created_at: 0,
        oauth: oauth.then(|| OAuthMeta {
            account: Some("dev@example.com".into()),
            project: Some(PROJECT.into()),
            tier: None,
            expires_at: None,
            last_refresh: None,
            state: OAuthState::Active,
            last_error: None,
            resource_url: None,
        }),
    }
}

impl Rig {
    pub async fn start(kind: Kind) -> Rig {
        Self::start_with(kind, test_config()).await
    }

    pub async fn start_with(kind: Kind, config: llm_gateway::config::Config) -> Rig {
        let fake = FakeOpenAi::start().await;
        if kind == Kind::Anthropic {
            fake.set_check(crate::support::fake_anthropic::check_request);
        }
        let rec = record(kind, &fake);
        let gw = Gateway::start(config.clone(), view(vec![rec.clone()])).await;
        let refresher = if kind == Kind::GeminiCli {
            Some(token_source(&gw, rec, &config, 3600).await)
        } else {
            None
        };
        Rig {
            gw,
            fake,
            refresher,
        }
    }

    pub async fn stop(self) {
        if let Some((_h, cancel)) = &self.refresher {
            cancel.cancel();
        }
        self.gw.stop().await;
    }

    /// The request the upstream got (the only one, or the last).
    pub fn upstream_request(&self) -> Recorded {
        self.fake
            .requests()
            .pop()
            .expect("the upstream got a request")
    }

    /// Sends `req` as `client` would (model and stream flag from `req`).
    pub async fn call(&self, client: Client, req: &ir::Request) -> ClientReply {
        let body = client_body(client, req);
        self.send(client, &req.model, req.stream, body.to_string(), &[])
            .await
    }

    pub async fn send(
        &self,
        client: Client,
        model: &str,
        stream: bool,
        body: String,
        headers: &[(&str, &str)],
    ) -> ClientReply {
        let http = Gateway::client();
        let rb = match client {
            Client::Anthropic => http
                .post(self.gw.url("/v1/messages?beta=true"))
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01"),
            Client::OpenAi => http
                .post(self.gw.url("/v1/chat/completions"))
                .bearer_auth(KEY),
            Client::Responses => http.post(self.gw.url("/v1/responses")).bearer_auth(KEY),
            Client::Gemini => {
                let method = if stream {
                    "streamGenerateContent?alt=sse"
                } else {
                    "generateContent"
                };
                http.post(self.gw.url(&format!("/v1beta/models/{model}:{method}")))
                    .header("x-goog-api-key", KEY)
            }
        };
        let mut rb = rb.header("content-type", "application/json").body(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let resp = rb.send().await.unwrap();
        ClientReply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap(),
        }
    }
}

/// A token source for a gemini-cli upstream, as `server start` hands the gateway; the token
/// expires in `lifetime` seconds (0: already expired). Cancel the token to stop the refresher.
pub async fn token_source(
    gw: &Gateway,
    rec: UpstreamRecord,
    config: &llm_gateway::config::Config,
    lifetime: u64,
) -> (RefresherHandle, CancellationToken) {
    let store = Arc::new(MemoryStore::new());
    let tokens = llm_gateway::oauth::TokenSet {
        access_token: llm_gateway::secret::Secret::new(ACCESS_TOKEN),
        refresh_token: Some(llm_gateway::secret::Secret::new(
            crate::support::fake_oauth::FAKE_REFRESH,
        )),
        expiry: Some(llm_gateway::oauth::now() + lifetime),
        token_type: "Bearer".into(),
        scope: None,
    };
    let reply = store
        .apply(llm_gateway::store::ops::Op::UpstreamAdd {
            record: rec,
            secret: Some(tokens.to_secret()),
            base_url: None,
        })
        .await
        .unwrap();
    assert!(matches!(reply, llm_gateway::store::ops::Reply::Done));
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store as Arc<dyn TokenStore>,
        config,
        RefreshSettings::default(),
        cancel.clone(),
    )
    .unwrap();
    gw.state.set_tokens(h.token_source());
    (h, cancel)
}

pub struct ClientReply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl ClientReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

// ---- the cases, in IR ----

pub fn weather_tool() -> Tool {
    Tool::Function(FunctionTool {
        name: "get_weather".into(),
        description: Some("Current weather for a city.".into()),
        input_schema:
            json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"city": {"type": "string", "minLength": 1}}, "required": ["city"],
            "additionalProperties": false})
            .into(),
        cache_control: None,
        extra: ir::Extras::default(),
    })
}

fn time_tool() -> Tool {
    Tool::Function(FunctionTool {
        name: "get_time".into(),
        description: Some("Local time in a city.".into()),
        input_schema: json!({"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]})
        .into(),
        cache_control: None,
        extra: ir::Extras::default(),
    })
}

pub fn text(t: &str) -> Block {
    Block::Text {
        text: t.into(),
        signature: None,
        cache_control: None,
    }
}

pub fn user(blocks: Vec<Block>) -> Message {
    Message {
        role: Role::User,
        content: blocks,
    }
}

/// A 1x1 PNG.
pub const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// The client's request for a case.
pub fn request(case: Case, model: &str) -> ir::Request {
    let mut req = ir::Request {
        model: model.into(),
        system: vec![SystemBlock {
            text: "Be brief.".into(),
            cache_control: None,
        }],
        messages: vec![user(vec![text("Hi")])],
        max_tokens: Some(32000),
        stream: case.streams(),
        stream_include_usage: case.streams(),
        ..ir::Request::default()
    };
    match case {
        Case::ToolRoundTrip => {
            req.tools = vec![weather_tool()];
            req.messages = vec![
                user(vec![text("Weather in Paris?")]),
                Message {
                    role: Role::Assistant,
                    content: vec![Block::ToolUse {
                        id: "toolu_01".into(),
                        name: "get_weather".into(),
                        input: json!({"city": "Paris"}).into(),
                        signature: None,
                    }],
                },
                user(vec![Block::ToolResult {
                    tool_use_id: "toolu_01".into(),
                    content: vec![text("18C and sunny")],
                    is_error: false,
                    cache_control: None,
                }]),
                user(vec![text("And Rome?")]),
            ];
        }
        Case::ParallelTools => {
            req.tools = vec![weather_tool(), time_tool()];
            req.messages = vec![user(vec![text("Weather and time in Paris?")])];
        }
        Case::Thinking => {
            req.thinking = Some(ThinkingConfig {
                mode: ThinkingMode::Enabled,
                budget_tokens: Some(4096),
                effort: None,
                include_thoughts: Some(true),
            });
        }
        Case::Image => {
            req.messages = vec![user(vec![
                text("What is in this image?"),
                Block::Image(Image {
                    source: ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: PNG.into(),
                    },
                    cache_control: None,
                }),
            ])];
        }
        Case::Structured => {
            req.response_format = Some(ir::ResponseFormat::JsonSchema {
                name: Some("answer".into()),
                schema: json!({"type": "object", "properties": {"answer": {"type": "string"}},
                    "required": ["answer"], "additionalProperties": false}),
                strict: Some(true),
            });
        }
        _ => {}
    }
    req
}

/// The client's body in its dialect.
pub fn client_body(client: Client, req: &ir::Request) -> Value {
    match client {
        Client::Anthropic => serde_json::to_value(anthropic::encode_request(req).unwrap()).unwrap(),
        Client::OpenAi => serde_json::to_value(openai::encode_request(req).unwrap()).unwrap(),
        Client::Gemini => serde_json::to_value(gemini::encode_request(req).unwrap()).unwrap(),
        Client::Responses => {
            serde_json::to_value(llm_gateway::protocol::responses::encode_request(req).unwrap())
                .unwrap()
        }
    }
}

/// The signature of the Claude thinking in the thinking case's reply.
pub const CLAUDE_SIGNATURE: &str = "EqQBCkYIBxgCKkDfakesignature";

pub const STRUCTURED: &str = r#"{"answer":"42"}"#;

/// The content of the upstream's reply for a case.
fn reply_blocks(case: Case, kind: Kind) -> (Vec<Block>, StopReason) {
    let call = |id: &str, name: &str| Block::ToolUse {
        id: id.into(),
        name: name.into(),
        input: json!({"city": "Paris"}).into(),
        signature: None,
    };
    match case {
        Case::ToolRoundTrip => (vec![call("call_1", "get_weather")], StopReason::ToolUse),
        Case::ParallelTools => (
            vec![call("call_1", "get_weather"), call("call_2", "get_time")],
            StopReason::ToolUse,
        ),
        Case::Thinking => {
            let signature = match kind {
                Kind::Anthropic | Kind::Bedrock => Some(Signature {
                    origin: Dialect::Anthropic,
                    value: CLAUDE_SIGNATURE.into(),
                }),
                Kind::Responses => Some(Signature {
                    origin: Dialect::Responses,
                    value: llm_gateway::protocol::responses::envelope::pack_native(
                        "rs_up_1",
                        "gAAAAfake",
                    ),
                }),
                _ => None,
            };
            (
                vec![
                    Block::Thinking {
                        text: "Let me think.".into(),
                        signature,
                    },
                    text("42"),
                ],
                StopReason::EndTurn,
            )
        }
        Case::Structured => (vec![text(STRUCTURED)], StopReason::EndTurn),
        _ => (vec![text("Hello there.")], StopReason::EndTurn),
    }
}

pub fn usage() -> Usage {
    Usage {
        input_tokens: 10,
        output_tokens: 5,
        ..Usage::default()
    }
}

/// IR stream events for blocks, deltas split in two where they can be.
pub fn events_of(blocks: &[Block], stop: StopReason) -> Vec<StreamEvent> {
    let mut ev = vec![StreamEvent::MessageStart {
        id: "msg_up_1".into(),
        model: "upstream-model".into(),
        usage: Usage {
            input_tokens: 10,
            ..Usage::default()
        },
    }];
    for (index, b) in blocks.iter().enumerate() {
        let (start, deltas) = match b {
            Block::Text { text, .. } => {
                let (a, z) = text.split_at(text.len() / 2);
                (
                    BlockStart::Text,
                    vec![Delta::Text(a.into()), Delta::Text(z.into())],
                )
            }
            Block::Thinking { text, signature } => {
                let mut d = vec![Delta::Thinking(text.clone())];
                if let Some(s) = signature {
                    d.push(Delta::Signature(s.clone()));
                }
                (BlockStart::Thinking, d)
            }
            Block::ToolUse {
                id, name, input, ..
            } => (
                BlockStart::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                    signature: None,
                },
                vec![Delta::ToolInputJson(input.to_string())],
            ),
            other => panic!("no stream form for {other:?}"),
        };
        ev.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        for delta in deltas {
            ev.push(StreamEvent::BlockDelta { index, delta });
        }
        ev.push(StreamEvent::BlockStop { index });
    }
    ev.push(StreamEvent::MessageDelta {
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: usage(),
    });
    ev.push(StreamEvent::MessageStop);
    ev
}

pub fn rate_limit() -> ApiError {
    ApiError::new(429, ErrorKind::RateLimit, "Too many requests, slow down.")
}

/// What the fake upstream answers for a case.
pub fn upstream_reply(case: Case, kind: Kind) -> Reply {
    if kind == Kind::Bedrock {
        return bedrock_reply(case);
    }
    if case == Case::UpstreamError {
        let mut err = rate_limit();
        // Bodies that name the delay do so as their API does (OpenAI's "Please try again in
        // 7s."); the header says it too.
        err.retry_after_secs = Some(7);
        if kind == Kind::Azure {
            return crate::support::fake_azure::rate_limited(&err.message, 7);
        }
        let r = match kind.dialect() {
            Dialect::OpenAi => fake_openai::error(&err),
            Dialect::Anthropic => fake_anthropic::error(&err),
            Dialect::Gemini => fake_gemini::error(&err),
            Dialect::Responses => crate::support::fake_responses::error(&err),
        };
        return r.header("retry-after", "7");
    }
    let (blocks, stop) = reply_blocks(case, kind);
    if case.streams() {
        let events = events_of(&blocks, stop);
        let reply = match kind {
            Kind::OpenAi | Kind::Qwen | Kind::DeepSeek => fake_openai::chunks(&events),
            Kind::Azure => {
                crate::support::fake_azure::with_filter_chunks(fake_openai::chunks(&events))
            }
            Kind::Anthropic => fake_anthropic::stream(&events),
            Kind::Gemini => fake_gemini::stream(&events),
            Kind::GeminiCli => fake_gemini::code_assist_stream(&events),
            Kind::Responses => crate::support::fake_responses::stream(&events),
            Kind::Bedrock => unreachable!("bedrock_reply answers"),
        };
        return if case == Case::MidStreamCut {
            // Paced, so the head and the first events leave before the cut.
            reply.cut_after(2).chunk_delay(Duration::from_millis(20))
        } else {
            reply
        };
    }
    let resp = Response {
        id: "resp_up_1".into(),
        model: kind.model().into(),
        content: blocks,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: usage(),
        extra: ir::Extras::default(),
    };
    match kind {
        Kind::OpenAi | Kind::Qwen | Kind::DeepSeek | Kind::Azure => fake_openai::completion(&resp),
        Kind::Anthropic => fake_anthropic::message(&resp),
        Kind::Gemini => fake_gemini::generate(&resp),
        Kind::GeminiCli => fake_gemini::code_assist_generate(&resp),
        Kind::Responses => crate::support::fake_responses::response(&resp),
        Kind::Bedrock => unreachable!("bedrock_reply answers"),
    }
}

/// What the Bedrock fake answers for a case: Converse JSON, ConverseStream frames, a
/// `ThrottlingException`, or an exception frame after the head of the stream.
fn bedrock_reply(case: Case) -> Reply {
    use crate::support::fake_bedrock;
    if case == Case::UpstreamError {
        return fake_bedrock::throttling(&rate_limit().message);
    }
    let (blocks, stop) = reply_blocks(case, Kind::Bedrock);
    if case == Case::MidStreamCut {
        // messageStart and the first text delta, then `modelStreamErrorException`.
        return fake_bedrock::stream_then_exception(&events_of(&blocks, stop), 2);
    }
    if case.streams() {
        return fake_bedrock::stream(&events_of(&blocks, stop));
    }
    fake_bedrock::converse(&Response {
        id: String::new(),
        model: String::new(),
        content: blocks,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: usage(),
        extra: ir::Extras::default(),
    })
}

/// The `retry-after` a client gets for the upstream-error case: the fake's, or for Bedrock
/// (AWS names no delay) the gateway's default throttle delay.
pub fn expected_retry_after(kind: Kind) -> String {
    if kind == Kind::Bedrock {
        llm_gateway::protocol::converse::THROTTLE_RETRY_SECS.to_string()
    } else {
        "7".into()
    }
}

// ---- what the client saw ----

#[derive(Debug, Default)]
pub struct Seen {
    pub text: String,
    pub thinking: String,
    pub tools: Vec<(String, Value)>,
    pub stop: Option<StopReason>,
    pub error: Option<ApiError>,
    /// A clean end (`message_stop`, `[DONE]`, a final Gemini chunk).
    pub stopped: bool,
    pub usage: Usage,
    /// The reply's blocks as the client holds them (signatures included): what it replays.
    pub blocks: Vec<Block>,
}

pub fn seen_whole(client: Client, body: &[u8]) -> Seen {
    let resp = dialect::decode_response(client.dialect(), body).unwrap_or_else(|e| {
        panic!(
            "client cannot decode the reply: {e}\n{}",
            String::from_utf8_lossy(body)
        )
    });
    let mut s = Seen {
        stop: resp.stop_reason.clone(),
        stopped: true,
        usage: resp.usage,
        blocks: resp.content.clone(),
        ..Seen::default()
    };
    for b in &resp.content {
        match b {
            Block::Text { text, .. } => s.text.push_str(text),
            Block::Thinking { text, .. } => s.thinking.push_str(text),
            Block::ToolUse { name, input, .. } => {
                s.tools.push((name.clone(), input.clone().into()))
            }
            _ => {}
        }
    }
    s
}

pub fn seen_stream(client: Client, body: &[u8]) -> Seen {
    let mut parser = SseParser::new();
    let mut sse = Vec::new();
    parser.push(body, &mut sse).unwrap();
    parser.finish(&mut sse).unwrap();
    let mut dec = AnyStreamDecoder::new(client.dialect());
    let mut events = Vec::new();
    for e in &sse {
        dec.feed(e, &mut events).unwrap_or_else(|e| {
            panic!(
                "client cannot decode the stream: {e}\n{}",
                String::from_utf8_lossy(body)
            )
        });
    }
    dec.finish(&mut events).unwrap();
    let mut s = Seen::default();
    let mut open_tools: std::collections::HashMap<usize, (String, String)> = Default::default();
    let mut blocks: std::collections::BTreeMap<usize, Block> = Default::default();
    for ev in events {
        match ev {
            StreamEvent::BlockStart { index, block } => {
                let b = match block {
                    BlockStart::ToolUse {
                        id,
                        name,
                        signature,
                    } => {
                        open_tools.insert(index, (name.clone(), String::new()));
                        Block::ToolUse {
                            id,
                            name,
                            input: json!({}).into(),
                            signature,
                        }
                    }
                    BlockStart::Thinking => Block::Thinking {
                        text: String::new(),
                        signature: None,
                    },
                    BlockStart::RedactedThinking { data } => Block::RedactedThinking { data },
                    _ => text(""),
                };
                blocks.insert(index, b);
            }
            StreamEvent::BlockDelta { index, delta } => match delta {
                Delta::Text(t) => {
                    s.text.push_str(&t);
                    if let Some(Block::Text { text, .. }) = blocks.get_mut(&index) {
                        text.push_str(&t);
                    }
                }
                Delta::Thinking(t) => {
                    s.thinking.push_str(&t);
                    if let Some(Block::Thinking { text, .. }) = blocks.get_mut(&index) {
                        text.push_str(&t);
                    }
                }
                Delta::ToolInputJson(j) => {
                    if let Some(t) = open_tools.get_mut(&index) {
                        t.1.push_str(&j);
                    }
                }
                Delta::Signature(sig) => {
                    if let Some(
                        Block::Thinking { signature, .. }
                        | Block::Text { signature, .. }
                        | Block::ToolUse { signature, .. },
                    ) = blocks.get_mut(&index)
                    {
                        *signature = Some(sig);
                    }
                }
            },
            StreamEvent::BlockStop { index } => {
                if let Some((name, json)) = open_tools.remove(&index) {
                    let input = if json.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap()
                    };
                    if let Some(Block::ToolUse { input: i, .. }) = blocks.get_mut(&index) {
                        *i = input.clone().into();
                    }
                    s.tools.push((name, input));
                }
            }
            StreamEvent::MessageDelta {
                stop_reason, usage, ..
            } => {
                s.stop = stop_reason;
                s.usage = usage;
            }
            StreamEvent::MessageStop => s.stopped = true,
            StreamEvent::Error(e) => s.error = Some(e),
            _ => {}
        }
    }
    // An error after a decoder-synthesized stop is still an error.
    if s.error.is_some() {
        s.stopped = false;
    }
    s.blocks = blocks.into_values().collect();
    s
}

// ---- what the upstream saw ----

/// The upstream's request decoded with its dialect's codec (Code Assist: the inner request).
pub fn upstream_ir(kind: Kind, rec: &Recorded) -> (ir::Request, Value) {
    let raw = rec.json();
    let hints = RequestHints {
        model: Some(kind.model().into()),
        stream: Some(rec.path.contains("stream")),
    };
    let ir = match kind {
        Kind::Bedrock => {
            return (
                crate::support::fake_bedrock::request_ir(
                    &rec.body,
                    kind.model(),
                    rec.path.ends_with("/converse-stream"),
                ),
                raw,
            );
        }
        Kind::GeminiCli => {
            gemini::decode_request(raw["request"].to_string().as_bytes(), &hints).unwrap()
        }
        Kind::Gemini => gemini::decode_request(&rec.body, &hints).unwrap(),
        Kind::Anthropic => anthropic::decode_request(&rec.body, &RequestHints::default()).unwrap(),
        Kind::Responses => {
            llm_gateway::protocol::responses::decode_request(&rec.body, &RequestHints::default())
                .unwrap()
        }
        _ => openai::decode_request(&rec.body, &RequestHints::default()).unwrap(),
    };
    (ir, raw)
}

/// Path, auth and streaming of the upstream request.
pub fn check_transport(kind: Kind, rec: &Recorded, stream: bool) {
    let h = &rec.headers;
    let auth = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_string());
    match kind {
        Kind::OpenAi | Kind::Qwen | Kind::DeepSeek => {
            assert_eq!(rec.path, "/v1/chat/completions");
            assert_eq!(auth("authorization").unwrap(), "Bearer sk-fake-up");
            if kind == Kind::Qwen {
                assert_eq!(auth("x-dashscope-cachecontrol").as_deref(), Some("enable"));
            }
        }
        Kind::Azure => {
            assert_eq!(rec.path, "/openai/v1/chat/completions");
            assert_eq!(rec.query, None, "the v1 endpoint takes no api-version");
            assert_eq!(auth("api-key").unwrap(), "sk-fake-up");
            assert_eq!(auth("authorization"), None);
        }
        Kind::Responses => {
            assert_eq!(rec.path, "/v1/responses");
            assert_eq!(auth("authorization").unwrap(), "Bearer sk-fake-up");
        }
        Kind::Bedrock => {
            let op = if stream {
                "converse-stream"
            } else {
                "converse"
            };
            assert_eq!(
                rec.path,
                format!("/model/{}/{op}", kind.model().replace(':', "%3A"))
            );
            // A Bedrock API key is a bearer token; nothing SigV4.
            assert_eq!(auth("authorization").unwrap(), "Bearer sk-fake-up");
            assert_eq!(auth("x-amz-date"), None);
            if stream {
                assert_eq!(
                    auth("accept").as_deref(),
                    Some("application/vnd.amazon.eventstream")
                );
            }
            let raw = rec.json();
            assert!(
                raw.get("model").is_none() && raw.get("stream").is_none(),
                "{raw}"
            );
            crate::support::fake_bedrock::check_rules(&raw);
            return;
        }
        Kind::Anthropic => {
            assert_eq!(rec.path, "/v1/messages");
            assert_eq!(auth("x-api-key").unwrap(), "sk-fake-up");
            assert_eq!(auth("anthropic-version").unwrap(), "2023-06-01");
        }
        Kind::Gemini => {
            let method = if stream {
                "streamGenerateContent"
            } else {
                "generateContent"
            };
            assert_eq!(
                rec.path,
                format!("/v1beta/models/{}:{method}", kind.model())
            );
            assert_eq!(
                rec.query.as_deref() == Some("alt=sse"),
                stream,
                "{:?}",
                rec.query
            );
            assert_eq!(auth("x-goog-api-key").unwrap(), "sk-fake-up");
        }
        Kind::GeminiCli => {
            let method = if stream {
                "streamGenerateContent"
            } else {
                "generateContent"
            };
            assert_eq!(rec.path, format!("/v1internal:{method}"));
            assert_eq!(rec.query.as_deref() == Some("alt=sse"), stream);
            assert_eq!(
                auth("authorization").unwrap(),
                format!("Bearer {ACCESS_TOKEN}")
            );
            assert!(auth("user-agent").unwrap().starts_with("GeminiCLI/"));
            let raw = rec.json();
            assert_eq!(raw["project"], PROJECT);
            assert_eq!(raw["model"], kind.model());
        }
    }
    let raw = rec.json();
    match kind.dialect() {
        Dialect::OpenAi => {
            assert_eq!(raw["stream"].as_bool().unwrap_or(false), stream, "{raw}");
            assert_eq!(raw["model"], kind.model());
        }
        Dialect::Anthropic => {
            assert_eq!(raw["stream"].as_bool().unwrap_or(false), stream, "{raw}");
            assert_eq!(raw["model"], kind.model());
        }
        Dialect::Gemini => {}
        Dialect::Responses => {
            assert_eq!(raw["stream"].as_bool().unwrap_or(false), stream, "{raw}");
            assert_eq!(raw["model"], kind.model());
            // Stateless: the whole history every time, reasoning replayable.
            assert_eq!(raw["store"], false, "{raw}");
            assert_eq!(raw["include"][0], "reasoning.encrypted_content", "{raw}");
        }
    }
}
