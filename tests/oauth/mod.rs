//! OAuth logins, import, status/refresh/logout and the refresher, against fake Google, Code
//! Assist and Qwen servers on 127.0.0.1 and the in-memory token store.

mod binary;
mod gateway;
mod login;
mod refresher;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_gateway::config::ProviderKind;
use llm_gateway::oauth::console::Console;
use llm_gateway::oauth::{MemoryStore, TokenSet, TokenStore};
use llm_gateway::secret::Secret;
use llm_gateway::store::ops::{Op, Reply};
use llm_gateway::store::records::{AuthKind, OAuthMeta, OAuthState, UpstreamRecord};
use tokio::sync::mpsc;

/// A console whose messages land in a shared list and whose input is a channel.
pub struct TestConsole {
    pub messages: Arc<Mutex<Vec<String>>>,
    pub input: mpsc::Sender<String>,
}

pub fn console() -> (Console, TestConsole) {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let m = messages.clone();
    let (tx, rx) = mpsc::channel(8);
    let c = Console::new(move |line| m.lock().unwrap().push(line.to_string()), rx);
    (
        c,
        TestConsole {
            messages,
            input: tx,
        },
    )
}

impl TestConsole {
    pub fn all(&self) -> String {
        self.messages.lock().unwrap().join("\n")
    }

    /// Waits until a message contains `needle`; returns that message.
    pub async fn wait_for(&self, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(m) = self
                .messages
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.contains(needle))
            {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no message containing {needle:?}; got:\n{}", self.all());
    }
}

/// The first `http...` word of a message.
pub fn url_in(message: &str) -> url::Url {
    let word = message
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a URL in the message");
    url::Url::parse(word).unwrap()
}

pub fn query(u: &url::Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Puts an OAuth upstream with the given token straight into the store.
pub async fn seed(
    store: &MemoryStore,
    name: &str,
    provider: ProviderKind,
    access: &str,
    refresh: &str,
    lifetime_secs: u64,
) {
    let now = llm_gateway::oauth::now();
    let tokens = TokenSet {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        expiry: Some(now + lifetime_secs),
        token_type: "Bearer".into(),
        scope: None,
    };
    let record = UpstreamRecord {
        name: name.into(),
        provider,
        base_url: None,
        base_url_secret: false,
        models: vec!["m".into()],
        models_discovered: false,
        priority: 100,
        enabled: true,
        auth: AuthKind::Oauth,
        region: None,
        api_version: None,
        wire: None,
        profile: None,
        created_at: now,
        oauth: Some(OAuthMeta {
            account: Some("dev@example.com".into()),
            project: Some("proj-123".into()),
            tier: None,
            expires_at: tokens.expiry,
            last_refresh: Some(now),
            state: OAuthState::Active,
            last_error: None,
            resource_url: None,
        }),
    };
    let reply = store
        .apply(Op::UpstreamAdd {
            record,
            secret: Some(tokens.to_secret()),
            base_url: None,
        })
        .await
        .unwrap();
    assert!(matches!(reply, Reply::Done), "{reply:?}");
}

pub fn stored_tokens(store: &MemoryStore, name: &str) -> TokenSet {
    TokenSet::from_secret(&store.secret(name).expect("a stored token")).unwrap()
}

pub fn state_of(store: &MemoryStore, name: &str) -> OAuthState {
    store.record(name).unwrap().oauth.unwrap().state
}
