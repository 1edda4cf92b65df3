//! Logins (loopback, paste, manual PKCE, device code), Code Assist answers, import, status,
//! refresh and logout.

use std::sync::Arc;
use std::time::Duration;

use llm_gateway::config::{Config, ProviderKind};
use llm_gateway::oauth::commands::{self, LoginOptions, LoginOutcome};
use llm_gateway::oauth::{MemoryStore, OAuthError};
use llm_gateway::store::records::{AuthKind, OAuthState};
use serde_json::json;

use super::{console, query, seed, state_of, stored_tokens, url_in};
use crate::support::fake_oauth::{FAKE_REFRESH, FakeGoogle, FakeQwen, RefreshMode};

fn opts() -> LoginOptions {
    LoginOptions {
        no_browser: true,
        yes: true,
        timeout: Duration::from_secs(20),
        onboard_poll: Duration::from_millis(10),
        device_poll: Duration::from_millis(20),
        ..LoginOptions::default()
    }
}

/// Runs a Gemini login in the background; returns its handle and the test console.
fn start_gemini(
    store: Arc<MemoryStore>,
    config: Config,
    o: LoginOptions,
) -> (
    tokio::task::JoinHandle<Result<LoginOutcome, OAuthError>>,
    super::TestConsole,
) {
    let (mut c, tc) = console();
    let h = tokio::spawn(async move {
        commands::login_gemini_cli(store.as_ref(), &config, &mut c, o).await
    });
    (h, tc)
}

#[tokio::test]
async fn loopback_login_refuses_wrong_state_then_completes() {
    let g = FakeGoogle::start().await;
    let store = Arc::new(MemoryStore::new());
    let (h, tc) = start_gemini(store.clone(), g.config(), opts());

    let auth = url_in(&tc.wait_for("/auth?").await);
    assert_eq!(query(&auth, "access_type").as_deref(), Some("offline"));
    assert_eq!(query(&auth, "prompt").as_deref(), Some("consent"));
    assert!(tc.all().contains("Google's terms"), "{}", tc.all());
    let redirect = query(&auth, "redirect_uri").unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/oauth2callback"));
    let state = query(&auth, "state").unwrap();

    let http = reqwest::Client::new();
    let wrong = http
        .get(format!("{redirect}?code=good-code&state=not-{state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("still waiting"));
    assert!(!h.is_finished());

    let ok = http
        .get(format!("{redirect}?code=good-code&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("close this tab"));

    let out = h.await.unwrap().unwrap();
    assert_eq!(out.name, "gemini-cli");
    assert_eq!(out.account.as_deref(), Some("dev@example.com"));
    assert_eq!(out.project.as_deref(), Some("proj-123"));
    assert_eq!(out.tier.as_deref(), Some("standard-tier"));
    assert!(!out.updated);

    let rec = store.record("gemini-cli").unwrap();
    assert_eq!(rec.provider, ProviderKind::GeminiCli);
    assert_eq!(rec.auth, AuthKind::Oauth);
    assert!(rec.models.iter().any(|m| m == "gemini-2.5-pro"));
    let meta = rec.oauth.unwrap();
    assert_eq!(meta.state, OAuthState::Active);
    assert!(meta.expires_at.is_some() && meta.last_refresh.is_some());
    let t = stored_tokens(&store, "gemini-cli");
    assert_eq!(t.access_token.expose(), "ya29.fake-access-1");
    assert_eq!(t.refresh_token.unwrap().expose(), FAKE_REFRESH);

    let exchange = &g.server.requests_to("/token")[0].form();
    assert_eq!(exchange["redirect_uri"], redirect);
    assert_eq!(exchange["code"], "good-code");
    let load = &g.server.requests_to("/v1internal:loadCodeAssist")[0];
    assert_eq!(load.json()["metadata"]["pluginType"], "GEMINI");
    assert!(load.headers["user-agent"].starts_with("GeminiCLI/"));
    assert_eq!(load.headers["authorization"], "Bearer ya29.fake-access-1");
}

#[tokio::test]
async fn pasted_callback_url_completes_the_login_and_relogin_updates() {
    let g = FakeGoogle::start().await;
    let store = Arc::new(MemoryStore::new());
    let (h, tc) = start_gemini(store.clone(), g.config(), opts());
    let auth = url_in(&tc.wait_for("/auth?").await);
    let redirect = query(&auth, "redirect_uri").unwrap();
    let state = query(&auth, "state").unwrap();
    tc.input
        .send(format!("{redirect}?code=good-code&state=forged"))
        .await
        .unwrap();
    tc.wait_for("Not accepted").await;
    tc.input
        .send(format!("{redirect}?code=good-code&state={state}&scope=x"))
        .await
        .unwrap();
    let out = h.await.unwrap().unwrap();
    assert_eq!(out.project.as_deref(), Some("proj-123"));

    // A second login under the same name updates the upstream.
    let (h, tc) = start_gemini(store.clone(), g.config(), opts());
    let auth = url_in(&tc.wait_for("/auth?").await);
    let state = query(&auth, "state").unwrap();
    tc.input
        .send(format!("{redirect}?code=good-code&state={state}"))
        .await
        .unwrap();
    let out = h.await.unwrap().unwrap();
    assert!(out.updated);
    assert_eq!(
        stored_tokens(&store, "gemini-cli").access_token.expose(),
        "ya29.fake-access-2"
    );
}

#[tokio::test]
async fn error_redirect_fails_with_description() {
    let g = FakeGoogle::start().await;
    let store = Arc::new(MemoryStore::new());
    let (h, tc) = start_gemini(store.clone(), g.config(), opts());
    let auth = url_in(&tc.wait_for("/auth?").await);
    let redirect = query(&auth, "redirect_uri").unwrap();
    let state = query(&auth, "state").unwrap();
    let page = reqwest::get(format!(
        "{redirect}?error=access_denied&error_description=User+said+no&state={state}"
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    let err = h.await.unwrap().unwrap_err();
    assert!(matches!(err, OAuthError::Denied { .. }));
    assert!(err.to_string().contains("User said no"), "{err}");
    assert!(store.record("gemini-cli").is_none());
}

#[tokio::test]
async fn manual_flow_uses_pkce_and_the_pasted_code() {
    let g = FakeGoogle::start().await;
    let store = Arc::new(MemoryStore::new());
    let o = LoginOptions {
        manual: true,
        name: Some("work".into()),
        ..opts()
    };
    let (h, tc) = start_gemini(store.clone(), g.config(), o);
    let auth = url_in(&tc.wait_for("/auth?").await);
    assert_eq!(
        query(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query(&auth, "redirect_uri").as_deref(),
        Some("https://codeassist.google.com/authcode")
    );
    tc.wait_for("authorization code:").await;
    tc.input.send("  good-code  ".into()).await.unwrap();
    let out = h.await.unwrap().unwrap();
    assert_eq!(out.name, "work");
    let f = g.server.requests_to("/token")[0].form();
    assert_eq!(f["code"], "good-code");
    assert_eq!(f["redirect_uri"], "https://codeassist.google.com/authcode");
    assert!(f["code_verifier"].len() >= 43);
}

/// Drives a manual login whose code is already waiting on the input.
async fn manual_login(
    g: &FakeGoogle,
    store: &MemoryStore,
    o: LoginOptions,
) -> Result<LoginOutcome, OAuthError> {
    let (mut c, tc) = console();
    tc.input.send("good-code".into()).await.unwrap();
    let o = LoginOptions { manual: true, ..o };
    commands::login_gemini_cli(store, &g.config(), &mut c, o).await
}

#[tokio::test]
async fn unsupported_client_is_explained() {
    let g = FakeGoogle::start().await;
    g.set(|s| {
        s.load = json!({
            "allowedTiers": [{"id": "free-tier", "isDefault": true}],
            "ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "tierId": "free-tier",
                "reasonMessage": "This client is no longer supported for Gemini Code Assist for individuals."}]
        })
    });
    let store = MemoryStore::new();
    let err = manual_login(&g, &store, opts()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("UNSUPPORTED_CLIENT") && msg.contains("no longer supported"),
        "{msg}"
    );
    assert!(
        msg.contains("--provider gemini") && msg.contains("--project"),
        "{msg}"
    );
    assert!(!msg.contains("ya29"));
    assert!(store.record("gemini-cli").is_none());
    assert!(g.server.requests_to("/v1internal:onboardUser").is_empty());
}

#[tokio::test]
async fn validation_required_names_the_url() {
    let g = FakeGoogle::start().await;
    g.set(|s| {
        s.load = json!({"ineligibleTiers": [{"reasonCode": "VALIDATION_REQUIRED",
            "reasonMessage": "Verify your account", "validationUrl": "https://accounts.example/verify"}]})
    });
    let err = manual_login(&g, &MemoryStore::new(), opts())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::ValidationRequired { .. }));
    assert!(err.to_string().contains("https://accounts.example/verify"));
}

#[tokio::test]
async fn project_required_without_project() {
    let g = FakeGoogle::start().await;
    g.set(|s| s.load = json!({"currentTier": {"id": "standard-tier"}}));
    let err = manual_login(&g, &MemoryStore::new(), opts())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::ProjectRequired), "{err}");
    assert!(err.to_string().contains("--project"));
}

#[tokio::test]
async fn onboarding_polls_the_operation() {
    let g = FakeGoogle::start().await;
    g.set(|s| {
        s.load = json!({"allowedTiers": [{"id": "standard-tier", "name": "Standard", "isDefault": true}]});
        s.onboard_polls = 2;
    });
    let store = MemoryStore::new();
    let o = LoginOptions {
        project: Some("my-proj".into()),
        ..opts()
    };
    let out = manual_login(&g, &store, o).await.unwrap();
    assert_eq!(out.project.as_deref(), Some("managed-proj-9"));
    assert_eq!(out.tier.as_deref(), Some("standard-tier"));
    let onboard = g.server.requests_to("/v1internal:onboardUser")[0].json();
    assert_eq!(onboard["tierId"], "standard-tier");
    assert_eq!(onboard["cloudaicompanionProject"], "my-proj");
    assert_eq!(
        g.server
            .requests_to("/v1internal/operations/onboard-1")
            .len(),
        2
    );
}

#[tokio::test]
async fn declined_confirmation_cancels() {
    let g = FakeGoogle::start().await;
    let (c, _tc) = console();
    let mut c = c.with_confirm(|_| false);
    let o = LoginOptions {
        yes: false,
        ..opts()
    };
    let err = commands::login_gemini_cli(&MemoryStore::new(), &g.config(), &mut c, o)
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Cancelled));
    assert!(g.server.requests().is_empty());
}

#[tokio::test]
async fn qwen_device_flow_with_pending_and_slow_down() {
    let q = FakeQwen::start().await;
    q.set(|s| {
        s.polls = vec![
            (400, json!({"error": "authorization_pending"})),
            (429, json!({"error": "slow_down"})),
            (400, json!({"error": "slow_down"})),
            (400, json!({"error": "authorization_pending"})),
        ]
    });
    let store = MemoryStore::new();
    let (mut c, tc) = console();
    let out = commands::login_qwen(&store, &q.config(), &mut c, opts())
        .await
        .unwrap();
    assert_eq!(out.provider, ProviderKind::Qwen);
    assert!(tc.all().contains("ABCD-1234") && tc.all().contains("2026-04-15"));
    let dev = q.server.requests_to("/device")[0].form();
    assert_eq!(dev["code_challenge_method"], "S256");
    let polls = q.server.requests_to("/token");
    assert_eq!(polls.len(), 5);
    assert!(polls.iter().all(|p| p.form()["code_verifier"].len() >= 43));
    let rec = store.record("qwen").unwrap();
    assert_eq!(rec.models, vec!["coder-model".to_string()]);
    assert_eq!(
        rec.oauth.unwrap().resource_url.as_deref(),
        Some("https://portal.qwen.ai/v1")
    );
    assert_eq!(
        stored_tokens(&store, "qwen").access_token.expose(),
        "qwen-fake-access-1"
    );
}

#[tokio::test]
async fn qwen_device_flow_expiry_and_denial() {
    let q = FakeQwen::start().await;
    q.set(|s| s.polls = vec![(400, json!({"error": "expired_token"}))]);
    let (mut c, _tc) = console();
    let err = commands::login_qwen(&MemoryStore::new(), &q.config(), &mut c, opts())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::DeviceExpired), "{err}");
    q.set(|s| {
        s.polls = vec![(
            400,
            json!({"error": "access_denied", "error_description": "user refused"}),
        )]
    });
    let err = commands::login_qwen(&MemoryStore::new(), &q.config(), &mut c, opts())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("user refused"), "{err}");
}

#[tokio::test]
async fn import_gemini_and_qwen_files() {
    let g = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oauth_creds.json");
    let far = (llm_gateway::oauth::now() + 3000) * 1000;
    std::fs::write(
        &file,
        json!({"access_token": "ya29.imported", "refresh_token": "1//imported", "scope": "s",
               "token_type": "Bearer", "id_token": "a.b.c", "expiry_date": far})
        .to_string(),
    )
    .unwrap();
    let store = MemoryStore::new();
    let (mut c, _tc) = console();
    let out = commands::import(
        &store,
        &g.config(),
        &mut c,
        ProviderKind::GeminiCli,
        Some(file.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.project.as_deref(), Some("proj-123"));
    assert_eq!(out.account.as_deref(), Some("dev@example.com"));
    assert_eq!(out.expires_at, Some(far / 1000));
    assert_eq!(
        stored_tokens(&store, "gemini-cli").access_token.expose(),
        "ya29.imported"
    );

    // An expired file is refreshed first; a failing setup still saves, with a warning.
    std::fs::write(
        &file,
        json!({"access_token": "ya29.old", "refresh_token": "1//imported", "token_type": "Bearer",
               "expiry_date": 1000})
        .to_string(),
    )
    .unwrap();
    g.set(|s| s.load = json!({"ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "reasonMessage": "no"}]}));
    let out = commands::import(
        &store,
        &g.config(),
        &mut c,
        ProviderKind::GeminiCli,
        Some(file),
        Some("g2".into()),
    )
    .await
    .unwrap();
    assert!(out.warning.unwrap().contains("UNSUPPORTED_CLIENT"));
    assert_eq!(out.project, None);
    let t = stored_tokens(&store, "g2");
    assert!(t.access_token.expose().starts_with("ya29.fake-access-"));
    assert_eq!(t.refresh_token.unwrap().expose(), "1//imported");

    let q = FakeQwen::start().await;
    let qfile = dir.path().join("qwen.json");
    std::fs::write(
        &qfile,
        json!({"access_token": "qw-a", "refresh_token": "qw-r", "token_type": "Bearer",
               "expiry_date": far, "resource_url": "https://portal.qwen.ai"})
        .to_string(),
    )
    .unwrap();
    let out = commands::import(
        &store,
        &q.config(),
        &mut c,
        ProviderKind::Qwen,
        Some(qfile.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.name, "qwen");
    let meta = store.record("qwen").unwrap().oauth.unwrap();
    assert_eq!(
        meta.resource_url.as_deref(),
        Some("https://portal.qwen.ai/v1")
    );

    std::fs::write(
        &qfile,
        r#"{"access_token": "qw-secret-value", "token_type": "Bearer"}"#,
    )
    .unwrap();
    let err = commands::import(
        &store,
        &q.config(),
        &mut c,
        ProviderKind::Qwen,
        Some(qfile),
        Some("q2".into()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OAuthError::Import { .. }));
    assert!(!err.to_string().contains("qw-secret-value"));
}

#[tokio::test]
async fn status_refresh_logout_never_show_tokens() {
    let g = FakeGoogle::start().await;
    let store = MemoryStore::new();
    seed(
        &store,
        "gc",
        ProviderKind::GeminiCli,
        "ya29.seeded",
        FAKE_REFRESH,
        3600,
    )
    .await;
    let config = g.config();

    let row = commands::refresh(&store, &config, "gc").await.unwrap();
    assert_eq!(row.state, OAuthState::Active);
    let t = stored_tokens(&store, "gc");
    assert_eq!(t.access_token.expose(), "ya29.fake-access-1");
    assert_eq!(t.refresh_token.unwrap().expose(), FAKE_REFRESH);
    let f = g.refresh_requests()[0].form();
    assert_eq!(f["client_id"], llm_gateway::oauth::google::CLIENT_ID);

    let rows = commands::status(&store, None).await.unwrap();
    assert_eq!(rows.len(), 1);
    let text = format!("{}{rows:?}", serde_json::to_string(&rows).unwrap());
    assert!(
        text.contains("\"expires_at\":\"20") && text.contains("proj-123"),
        "{text}"
    );
    assert!(
        !text.contains("ya29") && !text.contains("fake-refresh"),
        "{text}"
    );

    g.set(|s| s.refresh = RefreshMode::InvalidGrant);
    let err = commands::refresh(&store, &config, "gc").await.unwrap_err();
    assert!(err.needs_login());
    let msg = err.to_string();
    assert!(
        msg.contains("invalid_grant") && msg.contains("oauth login gemini-cli --name gc"),
        "{msg}"
    );
    assert!(!msg.contains("ya29") && !msg.contains("fake-refresh"));
    assert_eq!(state_of(&store, "gc"), OAuthState::NeedsLogin);

    let out = commands::logout(&store, &config, "gc").await.unwrap();
    assert!(out.revoked);
    assert_eq!(
        g.server.requests_to("/revoke")[0].form()["token"],
        FAKE_REFRESH
    );
    assert!(store.secret("gc").is_none());
    assert_eq!(state_of(&store, "gc"), OAuthState::LoggedOut);
    let err = commands::refresh(&store, &config, "gc").await.unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::NoToken {
                logged_out: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        commands::status(&store, Some("nope")).await.unwrap_err(),
        OAuthError::NotFound(_)
    ));
}

#[tokio::test]
async fn browser_login_times_out() {
    let g = FakeGoogle::start().await;
    let (mut c, _tc) = console();
    let o = LoginOptions {
        timeout: Duration::from_millis(200),
        ..opts()
    };
    let err = commands::login_gemini_cli(&MemoryStore::new(), &g.config(), &mut c, o)
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Timeout { .. }), "{err}");
}
