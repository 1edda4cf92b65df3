//! A password (or a secret query value) inside an upstream's base URL is a credential: `upstream
//! show`, `upstream list --json` and `status --json` never print it, with or without a running
//! server, for new records and for records stored before it went to the secret store, while the
//! upstream still receives it (as HTTP Basic auth, what URL userinfo means).

use std::net::TcpListener;

use llm_gateway::config::ProviderKind;
use llm_gateway::config::file::SecretsBackend;
use llm_gateway::store::Store;
use llm_gateway::store::ops::{Op, Reply};
use llm_gateway::store::records::{AuthKind, UpstreamRecord};

use super::{expect, json};
use crate::support::fake_openai::{FakeOpenAi, Reply as FakeReply};
use crate::support::{TestHome, stderr, stdout};

const PASSWORD: &str = "pw-fake-0123456789";
const QUERY_KEY: &str = "qk-fake-0123456789";
/// base64("relay-user:pw-fake-0123456789")
const BASIC: &str = "Basic cmVsYXktdXNlcjpwdy1mYWtlLTAxMjM0NTY3ODk=";
const MODELS: &str = r#"{"object":"list","data":[{"id":"fake-model-a","object":"model"}]}"#;

/// Everything the commands that show upstreams print, on stdout and stderr.
fn shown(h: &TestHome) -> Vec<String> {
    let mut out = Vec::new();
    for args in [
        &["upstream", "show", "relay"][..],
        &["upstream", "show", "relay", "--json"],
        &["upstream", "show", "legacy"],
        &["upstream", "show", "legacy", "--json"],
        &["upstream", "show", "query"],
        &["upstream", "list"],
        &["upstream", "list", "--json"],
        &["status"],
        &["status", "--json"],
    ] {
        let o = expect(h, args, 0);
        out.push(format!("{}{}", stdout(&o), stderr(&o)));
    }
    out
}

fn assert_hidden(outputs: &[String]) {
    for o in outputs {
        assert!(!o.contains(PASSWORD), "a password leaked: {o}");
        assert!(!o.contains(QUERY_KEY), "a query key leaked: {o}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `POST /v1/chat/completions` for `model` with the gateway `key`: the status.
fn chat(addr: &str, key: &str, model: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#
            ))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    })
}

#[test]
fn a_password_in_a_base_url_is_never_shown_and_still_reaches_the_upstream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeOpenAi::start());
    fake.push(FakeReply::json(200, MODELS));
    let h = TestHome::new();
    let with_password = format!("http://relay-user:{PASSWORD}@{}/v1", fake.addr);

    // Model discovery at `add` already needs the password.
    let out = expect(
        &h,
        &[
            "upstream",
            "add",
            "relay",
            "--provider",
            "openai",
            "--base-url",
            &with_password,
            "--no-api-key",
        ],
        0,
    );
    assert_hidden(&[stdout(&out), stderr(&out)]);
    let discovery = &fake.requests()[0];
    assert_eq!(discovery.path, "/v1/models");
    assert_eq!(discovery.headers["authorization"], BASIC);

    // A secret query value is hidden the same way (no request needed: --models).
    expect(
        &h,
        &[
            "upstream",
            "add",
            "query",
            "--provider",
            "openai",
            "--base-url",
            &format!("http://127.0.0.1:1/v1?api-version=2024-10-21&api-key={QUERY_KEY}"),
            "--no-api-key",
            "--models",
            "q",
        ],
        0,
    );

    // A record stored before base URLs were kept apart: the password is in the record itself.
    {
        let store = Store::open_at(&h.path().join("gateway.redb"), SecretsBackend::File).unwrap();
        let legacy = UpstreamRecord {
            name: "legacy".into(),
            provider: ProviderKind::Openai,
            base_url: Some(format!("http://relay-user:{PASSWORD}@{}/v1", fake.addr)),
            base_url_secret: false,
            models: vec!["legacy-model".into()],
            models_discovered: false,
            priority: 100,
            enabled: true,
            auth: AuthKind::None,
            region: None,
            api_version: None,
            wire: None,
            profile: None,
            created_at: 1,
            oauth: None,
        };
        let reply = store.apply(Op::UpstreamAdd {
            record: legacy,
            secret: None,
            base_url: None,
        });
        assert!(matches!(reply, Reply::Done), "{reply:?}");
    }

    let listed = json(&h, &["upstream", "show", "relay", "--json"]);
    assert_eq!(
        listed["base_url"],
        format!("http://***@{}/v1", fake.addr),
        "{listed}"
    );
    let legacy = json(&h, &["upstream", "show", "legacy", "--json"]);
    assert_eq!(legacy["base_url"], format!("http://***@{}/v1", fake.addr));
    let query = stdout(&expect(&h, &["upstream", "show", "query"], 0));
    assert!(
        query.contains("?api-version=2024-10-21&api-key=***"),
        "{query}"
    );
    assert_hidden(&shown(&h));
    // Nor is it in the store's file in the clear, apart from the secrets table (the file
    // backend of the tests); with the keyring backend it would not be in the file at all.

    let key = stdout(&expect(&h, &["apikey", "add", "client"], 0))
        .trim()
        .to_string();
    let addr = format!("127.0.0.1:{}", free_port());
    expect(&h, &["server", "start", "--detach", "--listen", &addr], 0);
    let status = chat(&addr, &key, "fake-model-a");
    let legacy_status = chat(&addr, &key, "legacy-model");
    assert_hidden(&shown(&h));
    let log = std::fs::read_to_string(h.path().join("gateway.log")).unwrap_or_default();
    let _ = h.run(&["server", "stop"]);
    assert_eq!((status, legacy_status), (200, 200));
    assert_hidden(&[log]);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for r in &requests[1..] {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.headers["authorization"], BASIC, "{:?}", r.headers);
    }
}
