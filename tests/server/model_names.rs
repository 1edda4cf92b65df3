//! Model names that could change an upstream's URL (a query, a fragment, dot segments walking
//! the path) are refused with a 400 in every client's shape before any upstream is called, and
//! a key's model globs cannot be slipped past with them; real ids with `/` still route.

use llm_gateway::config::ProviderKind;
use serde_json::Value;

use crate::support::fake_gemini;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::{Gateway, KEY, key_record, test_config, upstream, view};

/// The probe's three attacks on a Gemini API upstream named `gem`.
const ATTACKS: [&str; 3] = [
    "gem/gemini-2.5-flash:generateContent?alt=json&key=x#",
    "gem/../../v1beta/cachedContents#",
    "gem/gemini-2.5-flash/../gemini-2.5-pro",
];

const NARROW_KEY: &str = "lgw_test_narrow_flash_key";

/// `gem` (Gemini API) and `oai` (OpenAI-compatible), [`KEY`], and a key limited to
/// `gem/gemini-2.5-flash*`.
async fn gateway(gem: &FakeOpenAi, oai: &FakeOpenAi) -> Gateway {
    let mut g = upstream(
        "gem",
        &gem.root_url(),
        &["gemini-2.5-flash", "gemini-2.5-pro"],
        1,
    );
    g.provider = ProviderKind::Gemini;
    let mut v = view(vec![g, upstream("oai", &oai.base_url(), &["gpt-4o"], 2)]);
    let mut narrow = key_record("narrow", NARROW_KEY);
    narrow.models = vec!["gem/gemini-2.5-flash*".into()];
    v.keys.push(narrow);
    Gateway::start(test_config(), v).await
}

fn anthropic_body(model: &str) -> String {
    serde_json::json!({"model": model, "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]})
    .to_string()
}

fn openai_body(model: &str) -> String {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

const GEMINI_BODY: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

/// A Gemini path for `model`, escaped as a client library escapes it (every reserved
/// character, `/` included).
fn gemini_path(model: &str, method: &str) -> String {
    let escaped: String = url::form_urlencoded::byte_serialize(model.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("/v1beta/models/{escaped}:{method}")
}

async fn send(gw: &Gateway, key: &str, path: &str, body: &str, anthropic: bool) -> (u16, Value) {
    let mut rb = Gateway::client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    rb = if anthropic {
        rb.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else if path.starts_with("/v1beta/") {
        rb.header("x-goog-api-key", key)
    } else {
        rb.bearer_auth(key)
    };
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    (status, json)
}

/// Asserts a 400 in the shape of the route's dialect, naming the model as the fault.
fn assert_refused(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 400, "{what}: {body}");
    let msg = if body["type"] == "error" {
        // Anthropic.
        assert_eq!(
            body["error"]["type"], "invalid_request_error",
            "{what}: {body}"
        );
        &body["error"]["message"]
    } else if body["error"]["status"].is_string() {
        // Gemini.
        assert_eq!(body["error"]["code"], 400, "{what}: {body}");
        assert_eq!(
            body["error"]["status"], "INVALID_ARGUMENT",
            "{what}: {body}"
        );
        &body["error"]["message"]
    } else {
        assert_eq!(
            body["error"]["type"], "invalid_request_error",
            "{what}: {body}"
        );
        assert_eq!(body["error"]["param"], "model", "{what}: {body}");
        assert_eq!(body["error"]["code"], "invalid_model", "{what}: {body}");
        &body["error"]["message"]
    };
    let msg = msg.as_str().unwrap_or_default();
    assert!(msg.contains("invalid model name"), "{what}: {body}");
}

#[tokio::test]
async fn url_changing_model_names_get_400_in_every_shape_and_reach_no_upstream() {
    let gem = fake_gemini::start().await;
    let oai = FakeOpenAi::start().await;
    let gw = gateway(&gem, &oai).await;
    for attack in ATTACKS {
        for key in [KEY, NARROW_KEY] {
            let tries = [
                ("/v1/messages".to_string(), anthropic_body(attack), true),
                (
                    "/v1/messages/count_tokens".to_string(),
                    anthropic_body(attack),
                    true,
                ),
                (
                    "/v1/chat/completions".to_string(),
                    openai_body(attack),
                    false,
                ),
                (
                    gemini_path(attack, "generateContent"),
                    GEMINI_BODY.into(),
                    false,
                ),
                (
                    gemini_path(attack, "streamGenerateContent"),
                    GEMINI_BODY.into(),
                    false,
                ),
                (
                    gemini_path(attack, "countTokens"),
                    GEMINI_BODY.into(),
                    false,
                ),
            ];
            for (path, body, anthropic) in tries {
                let (status, json) = send(&gw, key, &path, &body, anthropic).await;
                assert_refused(&format!("{path} {attack}"), status, &json);
            }
        }
    }
    let seen: Vec<String> = gem.requests().iter().map(|r| r.path.clone()).collect();
    assert!(seen.is_empty(), "the Gemini upstream was called: {seen:?}");
    assert!(oai.requests().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn real_ids_with_slashes_still_route_and_gemini_gets_one_segment() {
    let gem = fake_gemini::start().await;
    let oai = FakeOpenAi::start().await;
    let gw = gateway(&gem, &oai).await;
    let (status, _) = send(
        &gw,
        KEY,
        "/v1/chat/completions",
        &openai_body("oai/meta-llama/Llama-3-8B"),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(oai.requests()[0].json()["model"], "meta-llama/Llama-3-8B");

    // A `/` or `:` left in a Gemini model stays inside its path segment.
    let (status, _) = send(
        &gw,
        KEY,
        "/v1/messages",
        &anthropic_body("gem/tuned/m:1"),
        true,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &gw,
        KEY,
        &gemini_path("gem/gemini-2.5-flash", "generateContent"),
        GEMINI_BODY,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let paths: Vec<String> = gem.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v1beta/models/tuned%2Fm%3A1:generateContent",
            "/v1beta/models/gemini-2.5-flash:generateContent"
        ]
    );
    assert!(gem.requests().iter().all(|r| r.query.is_none()));
    gw.stop().await;
}

#[tokio::test]
async fn a_key_limited_by_glob_cannot_reach_another_model_by_dot_segments() {
    let gem = fake_gemini::start().await;
    let oai = FakeOpenAi::start().await;
    let gw = gateway(&gem, &oai).await;
    let walk = "gem/gemini-2.5-flash/../gemini-2.5-pro";
    let (status, json) = send(
        &gw,
        NARROW_KEY,
        "/v1/chat/completions",
        &openai_body(walk),
        false,
    )
    .await;
    assert_refused(walk, status, &json);
    let (status, _) = send(
        &gw,
        NARROW_KEY,
        &gemini_path(walk, "generateContent"),
        GEMINI_BODY,
        false,
    )
    .await;
    assert_eq!(status, 400);
    // The straight names: the allowed one works, the other is refused by the glob.
    let (status, json) = send(
        &gw,
        NARROW_KEY,
        "/v1/chat/completions",
        &openai_body("gem/gemini-2.5-pro"),
        false,
    )
    .await;
    assert_eq!(status, 403, "{json}");
    let (status, _) = send(
        &gw,
        NARROW_KEY,
        &gemini_path("gem/gemini-2.5-flash", "generateContent"),
        GEMINI_BODY,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let paths: Vec<String> = gem.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1beta/models/gemini-2.5-flash:generateContent"]);

    // Token counts judge the key's globs too: the upstream's own count is never asked for a
    // model the key may not use.
    let (status, json) = send(
        &gw,
        NARROW_KEY,
        "/v1/messages/count_tokens",
        &anthropic_body("gem/gemini-2.5-pro"),
        true,
    )
    .await;
    assert_eq!(status, 403, "{json}");
    assert_eq!(gem.requests().len(), 1);
    gw.stop().await;
}
