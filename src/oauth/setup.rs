//! Code Assist account setup after a Google login (as gemini-cli's `setupUser` does it):
//! `loadCodeAssist` tells the current tier and project; an account not yet onboarded is
//! onboarded to its default tier with `onboardUser`, whose long-running operation is polled.
//! Google's refusals (`UNSUPPORTED_CLIENT` for individual accounts since 2026-06-18,
//! `VALIDATION_REQUIRED`, a missing project) become [`OAuthError`]s that say what to do next.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::config::Config;
use crate::secret::Secret;
use crate::upstream::code_assist::{self, GoogleError};

pub const FREE_TIER: &str = "free-tier";
pub const LEGACY_TIER: &str = "legacy-tier";
pub const STANDARD_TIER: &str = "standard-tier";

#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// `--project`, else `GOOGLE_CLOUD_PROJECT`.
    pub project: Option<String>,
    /// Between polls of the onboarding operation (gemini-cli: 5 s).
    pub poll_interval: Duration,
    /// Gives up on an onboarding operation that never finishes.
    pub max_wait: Duration,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            project: None,
            poll_interval: Duration::from_secs(5),
            max_wait: Duration::from_secs(120),
        }
    }
}

/// Where the account ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAssistUser {
    pub project: String,
    pub tier: String,
    pub tier_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientMetadata<'a> {
    ide_type: &'a str,
    platform: &'a str,
    plugin_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duet_project: Option<&'a str>,
}

impl<'a> ClientMetadata<'a> {
    fn new(project: Option<&'a str>) -> Self {
        ClientMetadata {
            ide_type: "IDE_UNSPECIFIED",
            platform: "PLATFORM_UNSPECIFIED",
            plugin_type: "GEMINI",
            duet_project: project,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudaicompanion_project: Option<&'a str>,
    metadata: ClientMetadata<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OnboardRequest<'a> {
    tier_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudaicompanion_project: Option<&'a str>,
    metadata: ClientMetadata<'a>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadCodeAssistResponse {
    #[serde(default)]
    pub current_tier: Option<Tier>,
    #[serde(default)]
    pub allowed_tiers: Vec<Tier>,
    #[serde(default)]
    pub ineligible_tiers: Vec<IneligibleTier>,
    #[serde(default)]
    pub cloudaicompanion_project: Option<ProjectRef>,
    #[serde(default)]
    pub paid_tier: Option<Tier>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub user_defined_cloudaicompanion_project: Option<bool>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IneligibleTier {
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub reason_message: Option<String>,
    #[serde(default)]
    pub tier_id: Option<String>,
    #[serde(default)]
    pub validation_url: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A project, which Google sends as a bare id or as `{id, name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProjectRef {
    Id(String),
    Object {
        #[serde(default)]
        id: Option<String>,
    },
}

impl ProjectRef {
    pub fn id(&self) -> Option<&str> {
        match self {
            ProjectRef::Id(s) => Some(s.as_str()),
            ProjectRef::Object { id } => id.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    response: Option<OnboardResponse>,
    #[serde(default)]
    error: Option<code_assist::RpcStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnboardResponse {
    #[serde(default)]
    cloudaicompanion_project: Option<ProjectRef>,
}

/// A project id must be the string id; Code Assist rejects the project number.
pub fn check_project(project: &str) -> Result<(), OAuthError> {
    if !project.is_empty() && project.chars().all(|c| c.is_ascii_digit()) {
        return Err(OAuthError::Io(format!(
            "`{project}` is a project number; pass the project ID (letters, digits, dashes) instead"
        )));
    }
    Ok(())
}

async fn post<T: Serialize, R: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    api: &str,
    method: &'static str,
    token: &Secret,
    body: &T,
) -> Result<R, OAuthError> {
    send(
        http.post(code_assist::method_url(api, method, false))
            .json(body),
        method,
        token,
    )
    .await
}

async fn send<R: for<'de> Deserialize<'de>>(
    req: reqwest::RequestBuilder,
    what: &'static str,
    token: &Secret,
) -> Result<R, OAuthError> {
    let req = req.bearer_auth(token.expose()).header(
        reqwest::header::USER_AGENT,
        code_assist::user_agent("setup"),
    );
    let (status, body) = super::send_and_read(req, what).await?;
    if status != 200 {
        let message = match GoogleError::parse(&body) {
            Some(g) => format!("HTTP {status}: {}", g.describe()),
            None => format!("HTTP {status}"),
        };
        return Err(OAuthError::Http { what, message });
    }
    serde_json::from_slice(&body).map_err(|e| OAuthError::Http {
        what,
        message: format!("unexpected answer ({e})"),
    })
}

pub async fn load_code_assist(
    http: &reqwest::Client,
    api: &str,
    token: &Secret,
    project: Option<&str>,
) -> Result<LoadCodeAssistResponse, OAuthError> {
    let req = LoadRequest {
        cloudaicompanion_project: project,
        metadata: ClientMetadata::new(project),
    };
    post(http, api, "loadCodeAssist", token, &req).await
}

/// Finds (or provisions) the Code Assist project and tier of the logged-in account.
pub async fn setup_user(
    http: &reqwest::Client,
    config: &Config,
    token: &Secret,
    opts: &SetupOptions,
) -> Result<CodeAssistUser, OAuthError> {
    let api = super::endpoint(
        config,
        crate::config::ProviderKind::GeminiCli,
        crate::config::Endpoint::Api,
    )?;
    let project = opts.project.as_deref().filter(|p| !p.trim().is_empty());
    if let Some(p) = project {
        check_project(p)?;
    }
    let load = load_code_assist(http, &api, token, project).await?;

    if load.current_tier.is_none()
        && let Some(v) = load.ineligible_tiers.iter().find(|t| {
            t.reason_code.as_deref() == Some("VALIDATION_REQUIRED") && t.validation_url.is_some()
        })
    {
        return Err(OAuthError::ValidationRequired {
            message: v.reason_message.clone().unwrap_or_default(),
            url: v.validation_url.clone().unwrap_or_default(),
        });
    }

    if let Some(current) = &load.current_tier {
        let tier = load
            .paid_tier
            .as_ref()
            .and_then(|t| t.id.clone())
            .or_else(|| current.id.clone());
        let tier_name = load
            .paid_tier
            .as_ref()
            .and_then(|t| t.name.clone())
            .or_else(|| current.name.clone());
        let found = load
            .cloudaicompanion_project
            .as_ref()
            .and_then(|p| p.id())
            .map(str::to_string)
            .or_else(|| project.map(str::to_string));
        return match found {
            Some(project) => Ok(CodeAssistUser {
                project,
                tier: tier.unwrap_or_else(|| STANDARD_TIER.into()),
                tier_name,
            }),
            None => Err(ineligible_or_project_required(&load)),
        };
    }

    let onboard_tier = load
        .allowed_tiers
        .iter()
        .find(|t| t.is_default == Some(true))
        .cloned()
        .unwrap_or_else(|| Tier {
            id: Some(LEGACY_TIER.into()),
            user_defined_cloudaicompanion_project: Some(true),
            ..Tier::default()
        });
    let tier_id = onboard_tier
        .id
        .clone()
        .unwrap_or_else(|| LEGACY_TIER.into());
    // Since 2026-06-18 Google refuses this client for the free tier; onboarding would fail too,
    // and with a vaguer answer.
    let unsupported = load
        .ineligible_tiers
        .iter()
        .any(|t| t.reason_code.as_deref() == Some("UNSUPPORTED_CLIENT"));
    if unsupported && (tier_id == FREE_TIER || project.is_none()) {
        return Err(ineligible_or_project_required(&load));
    }

    // The free tier uses a Google-managed project: sending one fails with Precondition Failed.
    let req = if tier_id == FREE_TIER {
        OnboardRequest {
            tier_id: &tier_id,
            cloudaicompanion_project: None,
            metadata: ClientMetadata::new(None),
        }
    } else {
        OnboardRequest {
            tier_id: &tier_id,
            cloudaicompanion_project: project,
            metadata: ClientMetadata::new(project),
        }
    };
    let mut op: Operation = post(http, &api, "onboardUser", token, &req).await?;
    let started = tokio::time::Instant::now();
    while !op.done {
        let Some(name) = op.name.clone() else {
            break;
        };
        if started.elapsed() >= opts.max_wait {
            return Err(OAuthError::Timeout {
                what: "Code Assist onboarding",
                secs: opts.max_wait.as_secs(),
            });
        }
        tokio::time::sleep(opts.poll_interval).await;
        op = send(
            http.get(code_assist::operation_url(&api, &name)),
            "onboardUser operation",
            token,
        )
        .await?;
    }
    if let Some(err) = &op.error {
        return Err(OAuthError::Http {
            what: "onboardUser",
            message: err.describe(),
        });
    }
    let found = op
        .response
        .as_ref()
        .and_then(|r| r.cloudaicompanion_project.as_ref())
        .and_then(|p| p.id())
        .map(str::to_string)
        .or_else(|| project.map(str::to_string));
    match found {
        Some(project) => Ok(CodeAssistUser {
            project,
            tier: tier_id,
            tier_name: onboard_tier.name,
        }),
        None => Err(ineligible_or_project_required(&load)),
    }
}

fn ineligible_or_project_required(load: &LoadCodeAssistResponse) -> OAuthError {
    if load.ineligible_tiers.is_empty() {
        return OAuthError::ProjectRequired;
    }
    let code = load
        .ineligible_tiers
        .iter()
        .find_map(|t| t.reason_code.clone());
    let message = load
        .ineligible_tiers
        .iter()
        .filter_map(|t| t.reason_message.clone().or_else(|| t.reason_code.clone()))
        .collect::<Vec<_>>()
        .join("; ");
    OAuthError::Ineligible { code, message }
}
