//! The background refresher and the per-request token source.

use std::sync::Arc;
use std::time::Duration;

use llm_gateway::config::ProviderKind;
use llm_gateway::oauth::refresher::{self, RefreshSettings};
use llm_gateway::oauth::{MemoryStore, OAuthError, TokenStore};
use llm_gateway::store::ops::Op;
use llm_gateway::store::records::OAuthState;
use tokio_util::sync::CancellationToken;

use super::{seed, state_of, stored_tokens};
use crate::support::fake_oauth::{FAKE_REFRESH, FakeGoogle, FakeQwen, RefreshMode};

fn fast() -> RefreshSettings {
    RefreshSettings {
        lead: Duration::from_secs(300),
        min_spacing: Duration::from_secs(1),
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(2),
        inline_skew: Duration::from_secs(0),
    }
}

#[tokio::test]
async fn short_tokens_are_refreshed_on_schedule_keeping_the_refresh_token() {
    let g = FakeGoogle::start().await;
    g.set(|s| s.expires_in = 4);
    let store = Arc::new(MemoryStore::new());
    seed(
        &store,
        "gc",
        ProviderKind::GeminiCli,
        "ya29.seeded",
        FAKE_REFRESH,
        4,
    )
    .await;
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &g.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();

    tokio::time::sleep(Duration::from_millis(6500)).await;
    let n = g.refresh_requests().len();
    // Half of a 4 s lifetime: about every 2 s, so 2-4 refreshes in 6.5 s, never a storm.
    assert!((2..=4).contains(&n), "{n} refreshes");
    let t = stored_tokens(&store, "gc");
    assert_eq!(
        t.access_token.expose(),
        format!("ya29.fake-access-{}", g.issued())
    );
    assert_eq!(t.refresh_token.unwrap().expose(), FAKE_REFRESH);
    let meta = store.record("gc").unwrap().oauth.unwrap();
    assert_eq!(meta.state, OAuthState::Active);
    assert!(meta.expires_at.unwrap() > llm_gateway::oauth::now());

    // The token source hands out the cached, current token.
    let src = h.token_source();
    assert_eq!(
        src.access_token("gc").await.unwrap().expose(),
        format!("ya29.fake-access-{}", g.issued())
    );
    cancel.cancel();
    h.join().await;
}

#[tokio::test]
async fn dead_refresh_token_needs_login_and_stops_retrying() {
    let q = FakeQwen::start().await;
    q.set(|s| s.refresh = RefreshMode::InvalidGrant);
    let store = Arc::new(MemoryStore::new());
    seed(
        &store,
        "qw",
        ProviderKind::Qwen,
        "qwen-seeded",
        "qwen-rt",
        2,
    )
    .await;
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &q.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(state_of(&store, "qw"), OAuthState::NeedsLogin);
    assert_eq!(q.server.requests_to("/token").len(), 1);
    let meta = store.record("qw").unwrap().oauth.unwrap();
    assert!(meta.last_error.unwrap().contains("invalid_token"));

    // The token has expired by now: the source says to log in again, without retrying.
    let err = h.token_source().access_token("qw").await.unwrap_err();
    assert!(err.needs_login(), "{err}");
    assert!(
        err.to_string().contains("oauth login qwen --name qw"),
        "{err}"
    );
    assert!(!err.to_string().contains("qwen-seeded") && !err.to_string().contains("qwen-rt"));
    assert_eq!(q.server.requests_to("/token").len(), 1);
    cancel.cancel();
    h.join().await;
}

#[tokio::test]
async fn passing_failures_back_off_then_recover() {
    let g = FakeGoogle::start().await;
    g.set(|s| {
        s.refresh = RefreshMode::Unavailable;
        s.expires_in = 60;
    });
    let store = Arc::new(MemoryStore::new());
    seed(
        &store,
        "gc",
        ProviderKind::GeminiCli,
        "ya29.seeded",
        FAKE_REFRESH,
        2,
    )
    .await;
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &g.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let n = g.refresh_requests().len();
    // First try at ~1 s, then backoff 1 s, then 2 s (capped): 2-3 tries, not a storm.
    assert!((2..=4).contains(&n), "{n} tries");
    assert_eq!(state_of(&store, "gc"), OAuthState::RefreshFailing);

    g.set(|s| s.refresh = RefreshMode::Ok);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(state_of(&store, "gc"), OAuthState::Active);
    assert!(
        stored_tokens(&store, "gc")
            .access_token
            .expose()
            .starts_with("ya29.fake-access-")
    );
    cancel.cancel();
    h.join().await;
}

#[tokio::test]
async fn concurrent_force_refresh_shares_one_refresh_and_inline_refresh_of_expired() {
    let q = FakeQwen::start().await;
    q.set(|s| s.rotate = true);
    let store = Arc::new(MemoryStore::new());
    seed(
        &store,
        "qw",
        ProviderKind::Qwen,
        "qwen-seeded",
        "qwen-rt",
        3600,
    )
    .await;
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &q.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();
    let src = h.token_source();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let src = src.clone();
            tokio::spawn(async move { src.force_refresh("qw").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().expose(), "qwen-fake-access-1");
    }
    assert_eq!(q.server.requests_to("/token").len(), 1);
    // A rotated refresh token replaces the old one.
    assert_eq!(
        stored_tokens(&store, "qw").refresh_token.unwrap().expose(),
        "qwen-fake-refresh-1"
    );

    // An expired token is refreshed inline on access.
    seed(&store, "qw2", ProviderKind::Qwen, "qwen-old", "qwen-rt2", 0).await;
    let t = src.access_token("qw2").await.unwrap();
    assert_eq!(t.expose(), "qwen-fake-access-2");
    assert!(matches!(
        src.access_token("nope").await,
        Err(OAuthError::NotFound(_))
    ));
    cancel.cancel();
    h.join().await;
}

#[tokio::test]
async fn wake_picks_up_a_new_login_and_refresh_now_works() {
    let g = FakeGoogle::start().await;
    g.set(|s| s.expires_in = 3600);
    let store = Arc::new(MemoryStore::new());
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &g.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A login made while the server runs: a 2 s token, then wake.
    seed(
        &store,
        "gc",
        ProviderKind::GeminiCli,
        "ya29.seeded",
        FAKE_REFRESH,
        2,
    )
    .await;
    h.wake();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(g.refresh_requests().len(), 1);
    assert_eq!(
        stored_tokens(&store, "gc").access_token.expose(),
        "ya29.fake-access-1"
    );

    h.refresh_now("gc").await.unwrap();
    assert_eq!(
        stored_tokens(&store, "gc").access_token.expose(),
        "ya29.fake-access-2"
    );
    cancel.cancel();
    h.join().await;
}

#[tokio::test]
async fn a_relogin_written_in_two_steps_revives_a_dead_login() {
    let g = FakeGoogle::start().await;
    g.set(|s| {
        s.expires_in = 2;
        s.refresh = RefreshMode::InvalidGrant;
    });
    let store = Arc::new(MemoryStore::new());
    seed(
        &store,
        "gc",
        ProviderKind::GeminiCli,
        "ya29.seeded",
        FAKE_REFRESH,
        2,
    )
    .await;
    let cancel = CancellationToken::new();
    let h = refresher::spawn_with(
        store.clone() as Arc<dyn TokenStore>,
        &g.config(),
        fast(),
        cancel.clone(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(state_of(&store, "gc"), OAuthState::NeedsLogin);
    let dead = g.refresh_requests().len();

    // What a re-login through the admin socket does: the token, a wake, the metadata, a wake.
    g.set(|s| s.refresh = RefreshMode::Ok);
    let now = llm_gateway::oauth::now();
    let tokens = llm_gateway::oauth::TokenSet {
        access_token: llm_gateway::secret::Secret::new("ya29.relogin"),
        refresh_token: Some(llm_gateway::secret::Secret::new(FAKE_REFRESH)),
        expiry: Some(now + 2),
        token_type: "Bearer".into(),
        scope: None,
    };
    store
        .apply(Op::SecretSet {
            name: "gc".into(),
            secret: Some(tokens.to_secret()),
        })
        .await
        .unwrap();
    h.wake();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut meta = store.record("gc").unwrap().oauth.unwrap();
    meta.state = OAuthState::Active;
    meta.last_error = None;
    meta.expires_at = tokens.expiry;
    meta.last_refresh = Some(now + 1);
    store
        .apply(Op::OAuthMetaSet {
            name: "gc".into(),
            meta,
        })
        .await
        .unwrap();
    h.wake();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        g.refresh_requests().len() > dead,
        "the re-login was not picked up"
    );
    assert_eq!(state_of(&store, "gc"), OAuthState::Active);
    assert_eq!(
        h.token_source().access_token("gc").await.unwrap().expose(),
        format!("ya29.fake-access-{}", g.issued())
    );
    cancel.cancel();
    h.join().await;
}
