//! Malformed upstream replies on the same-protocol fast path (OpenAI client on an OpenAI
//! upstream, Anthropic on Anthropic): a proxy's HTML error page, an empty 200, HTML for a
//! whole reply, a JSON body or a mislabelled event stream for a stream request. None is
//! relayed as it is: an error page is re-rendered in the client's shape with its text quoted,
//! and a 200 that is not what the client asked for is a 502 before the first byte, or the next
//! upstream's answer when there is one.

use bytes::Bytes;
use llm_gateway::config::ProviderKind;
use llm_gateway::routing::health::HealthState;
use serde_json::Value;

use crate::support::fake_anthropic::MESSAGE_REPLY;
use crate::support::fake_openai::{CHAT_REPLY, FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    OpenAi,
    Anthropic,
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";

const OPENAI_EVENTS: [&str; 3] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];

const ANTHROPIC_EVENTS: [&str; 3] = [
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":1}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
];

impl Client {
    fn events(self) -> &'static [&'static str] {
        match self {
            Client::OpenAi => &OPENAI_EVENTS,
            Client::Anthropic => &ANTHROPIC_EVENTS,
        }
    }

    fn whole(self) -> &'static str {
        match self {
            Client::OpenAi => CHAT_REPLY,
            Client::Anthropic => MESSAGE_REPLY,
        }
    }

    /// An error in this dialect's own shape, sent with a 200.
    fn error_body(self) -> &'static str {
        match self {
            Client::OpenAi => {
                r#"{"error":{"message":"Model is warming up","type":"server_error","param":null,"code":null}}"#
            }
            Client::Anthropic => {
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Model is warming up"}}"#
            }
        }
    }

    /// An upstream of this client's own kind, at `fake`.
    fn upstream(
        self,
        name: &str,
        fake: &FakeOpenAi,
        priority: u32,
    ) -> llm_gateway::store::records::UpstreamRecord {
        match self {
            Client::OpenAi => upstream(name, &fake.base_url(), &["m"], priority),
            Client::Anthropic => {
                let mut u = upstream(name, &fake.root_url(), &["m"], priority);
                u.provider = ProviderKind::Anthropic;
                u
            }
        }
    }

    async fn send(self, gw: &Gateway, stream: bool) -> (u16, String, Bytes) {
        let c = Gateway::client();
        let rb = match self {
            Client::OpenAi => c
                .post(gw.url("/v1/chat/completions"))
                .bearer_auth(KEY)
                .body(format!(
                    r#"{{"model":"m","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
                )),
            Client::Anthropic => c
                .post(gw.url("/v1/messages"))
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .body(format!(
                    r#"{{"model":"m","max_tokens":5,"stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
                )),
        };
        let resp = rb
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, resp.bytes().await.unwrap())
    }

    /// The message of an error body in this dialect's shape (panics on any other shape).
    fn error_message(self, body: &[u8]) -> String {
        let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{self:?}: not a JSON error ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        match self {
            Client::OpenAi => {
                let e = v["error"].as_object().expect("OpenAI error shape");
                for k in ["message", "type", "param", "code"] {
                    assert!(e.contains_key(k), "missing {k}: {v}");
                }
            }
            Client::Anthropic => {
                assert_eq!(v["type"], "error", "{v}");
                assert!(v["error"]["type"].is_string(), "{v}");
            }
        }
        v["error"]["message"].as_str().unwrap().to_owned()
    }
}

fn with_label(mut reply: Reply, content_type: &str) -> Reply {
    reply.headers.retain(|(k, _)| k != "content-type");
    reply.header("content-type", content_type)
}

/// The malformed replies: (what, stream request, the reply, words the error must hold).
/// Each is a 502 for the client, but for an Anthropic `overloaded_error` sent with a 200,
/// which Anthropic clients get as the 529 they retry on.
fn malformed(client: Client) -> Vec<(&'static str, bool, Reply, &'static str)> {
    let mut empty = Reply::json(200, "");
    empty.chunks.clear();
    let mut empty_stream = Reply::sse(&[]);
    empty_stream.chunks.clear();
    vec![
        (
            "an nginx 502 page",
            false,
            with_label(Reply::json(502, NGINX_502), "text/html"),
            "502 Bad Gateway 502 Bad Gateway nginx/1.25.3",
        ),
        ("an empty 200", false, empty, "an empty body"),
        (
            "an empty 200 to a stream request",
            true,
            empty_stream,
            "an empty body",
        ),
        (
            "an HTML 200 to a whole request",
            false,
            with_label(
                Reply::json(200, "<html><h1>Welcome to nginx!</h1></html>"),
                "text/html",
            ),
            "not JSON: \"Welcome to nginx!\"",
        ),
        (
            "a JSON error with a 200 to a stream request",
            true,
            Reply::json(200, client.error_body()),
            "Model is warming up",
        ),
        (
            "unreadable JSON to a stream request",
            true,
            Reply::json(200, "{\"choices\": oops"),
            "cannot read",
        ),
        (
            "SSE labelled text/html",
            true,
            with_label(Reply::sse(client.events()), "text/html"),
            "`text/html` where an event stream",
        ),
        (
            "HTML to a stream request",
            true,
            with_label(
                Reply::json(200, "<html>Service Unavailable</html>"),
                "text/event-stream",
            ),
            "not an event stream: \"Service Unavailable\"",
        ),
    ]
}

#[tokio::test]
async fn malformed_replies_are_errors_in_the_clients_shape() {
    for client in [Client::OpenAi, Client::Anthropic] {
        for (what, stream, reply, words) in malformed(client) {
            let fake = FakeOpenAi::start().await;
            fake.push(reply);
            let gw =
                Gateway::start(test_config(), view(vec![client.upstream("aa", &fake, 1)])).await;
            let (status, content_type, body) = client.send(&gw, stream).await;
            let text = String::from_utf8_lossy(&body);
            let overloaded = client == Client::Anthropic && what.contains("JSON error");
            let want = if overloaded { 529 } else { 502 };
            assert_eq!(status, want, "{client:?}, {what}: {text}");
            assert_eq!(
                content_type, "application/json",
                "{client:?}, {what}: {text}"
            );
            let message = client.error_message(&body);
            assert!(message.contains(words), "{client:?}, {what}: {message}");
            assert!(!message.contains('<'), "{client:?}, {what}: {message}");
            assert_eq!(fake.requests().len(), 1);
            gw.stop().await;
        }
    }
}

#[tokio::test]
async fn malformed_replies_fail_over_to_the_next_upstream() {
    for client in [Client::OpenAi, Client::Anthropic] {
        for (what, stream, reply, _) in malformed(client) {
            let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
            a.push(reply);
            let good = if stream {
                Reply::sse(client.events())
            } else {
                Reply::json(200, client.whole())
            };
            b.push(good.clone());
            let gw = Gateway::start(
                test_config(),
                view(vec![
                    client.upstream("aa", &a, 1),
                    client.upstream("bb", &b, 2),
                ]),
            )
            .await;
            let (status, content_type, body) = client.send(&gw, stream).await;
            let text = String::from_utf8_lossy(&body);
            assert_eq!(status, 200, "{client:?}, {what}: {text}");
            let want = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            assert_eq!(content_type, want, "{client:?}, {what}");
            assert_eq!(
                body,
                good.body(),
                "{client:?}, {what}: the second upstream's reply"
            );
            assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
            let health = gw
                .state
                .health_report()
                .into_iter()
                .find(|h| h.name == "aa")
                .unwrap();
            assert_eq!(health.state, HealthState::Failing, "{client:?}, {what}");
            gw.stop().await;
        }
    }
}

/// Upstreams that ignore `stream` and answer with one whole reply: the client still gets the
/// stream it asked for, as on a translated route.
#[tokio::test]
async fn a_whole_reply_to_a_stream_request_is_replayed_as_a_stream() {
    for client in [Client::OpenAi, Client::Anthropic] {
        let fake = FakeOpenAi::start().await;
        fake.push(Reply::json(200, client.whole()));
        let gw = Gateway::start(test_config(), view(vec![client.upstream("aa", &fake, 1)])).await;
        let (status, content_type, body) = client.send(&gw, true).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{client:?}: {text}");
        assert_eq!(content_type, "text/event-stream", "{client:?}: {text}");
        assert!(text.contains("hello"), "{client:?}: {text}");
        match client {
            Client::OpenAi => assert!(text.ends_with("data: [DONE]\n\n"), "{text}"),
            Client::Anthropic => {
                assert!(text.starts_with("event: message_start\n"), "{text}");
                assert!(text.contains("event: message_stop\n"), "{text}");
            }
        }
        let rows = gw.state.ledger().take();
        assert_eq!(rows[0].counters.output_tokens, 2, "{client:?}");
        gw.stop().await;
    }
}

/// Well-formed replies still pass byte for byte, error bodies in JSON included.
#[tokio::test]
async fn well_formed_replies_and_json_errors_pass_untouched() {
    for client in [Client::OpenAi, Client::Anthropic] {
        let fake = FakeOpenAi::start().await;
        let crlf: Vec<String> = client
            .events()
            .iter()
            .map(|e| e.replace('\n', "\r\n"))
            .collect();
        let crlf: Vec<&str> = crlf.iter().map(String::as_str).collect();
        let replies = [
            (false, Reply::json(200, client.whole()), 200),
            (true, Reply::sse(client.events()), 200),
            (
                true,
                with_label(Reply::sse(&crlf), "text/event-stream; charset=utf-8"),
                200,
            ),
            (
                true,
                Reply::sse(&[": keep-alive\n\n", client.events()[0]]),
                200,
            ),
            // Compressed though not asked to be: the client decodes it, the gateway cannot.
            (
                false,
                Reply::json(200, "\u{1f}\u{8b}\u{8}\u{0}").header("content-encoding", "gzip"),
                200,
            ),
            (false, Reply::json(400, client.error_body()), 400),
            (true, Reply::json(429, client.error_body()), 429),
        ];
        let gw = Gateway::start(test_config(), view(vec![client.upstream("aa", &fake, 1)])).await;
        for (stream, reply, want) in replies {
            fake.push(reply.clone());
            let (status, _, body) = client.send(&gw, stream).await;
            assert_eq!(
                status,
                want,
                "{client:?}: {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(body, reply.body(), "{client:?}");
        }
        gw.stop().await;
    }
}

/// Gemini's `:streamGenerateContent` without `alt=sse` is one JSON array: relayed as it is;
/// with `alt=sse`, the same array is not the event stream asked for.
#[tokio::test]
async fn gemini_json_array_streams_pass_and_are_not_taken_for_sse() {
    let fake = FakeOpenAi::start().await;
    let mut gem = upstream("gem", &fake.root_url(), &["gemini-2.5-flash"], 1);
    gem.provider = ProviderKind::Gemini;
    let gw = Gateway::start(test_config(), view(vec![gem])).await;
    let array = r#"[{"candidates":[{"content":{"role":"model","parts":[{"text":"hello"}]},"finishReason":"STOP"}]}]"#;
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    for (query, want) in [("", 200), ("?alt=sse", 502)] {
        fake.push(Reply::json(200, array));
        let resp = Gateway::client()
            .post(gw.url(&format!(
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent{query}"
            )))
            .header("x-goog-api-key", KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "{query}");
        let text = resp.text().await.unwrap();
        if want == 200 {
            assert_eq!(text, array);
        } else {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["error"]["code"], 502, "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not an event stream"),
                "{v}"
            );
        }
    }
    gw.stop().await;
}
