//! Qwen's device-code login (as qwen-code does it, with PKCE S256). The API base a Qwen
//! token's `resource_url` designates is the Qwen kind's (`crate::upstream::kinds::qwen`).
//! Qwen ended its free OAuth tier on 2026-04-15; the login stays for accounts that still have
//! access.

use std::time::Duration;

use oauth2::PkceCodeChallenge;
use rand::RngCore;
use serde::Deserialize;

use super::console::Console;
use super::tokens::{ErrorBody, TokenResponse, TokenSet};
use super::{OAuthError, endpoint};
use crate::config::{Config, Endpoint, ProviderKind};

pub const CLIENT_ID: &str = "f0304373b74a44d2b584a3fb70ca9e56";
pub const SCOPE: &str = "openid profile email model.completion";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The models a qwen OAuth upstream lists (qwen-code `QWEN_OAUTH_MODELS`).
pub const MODELS: [&str; 1] = ["coder-model"];
/// `slow_down` never stretches the poll interval beyond this.
const MAX_INTERVAL: Duration = Duration::from_secs(10);

const KIND: ProviderKind = ProviderKind::Qwen;

#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub interval: Option<u64>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// How the device login polls (tests shorten it).
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    /// First poll interval (qwen-code: 2 s); `slow_down` multiplies it by 1.5 up to 10 s.
    pub interval: Duration,
    pub no_browser: bool,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            interval: Duration::from_secs(2),
            no_browser: false,
        }
    }
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the device flow to the end: shows the code, opens the page unless `no_browser`, polls
/// until the login is approved, refused, expired or cancelled (Ctrl-C).
pub async fn device_login(
    http: &reqwest::Client,
    config: &Config,
    console: &mut Console,
    opts: &DeviceOptions,
) -> Result<(TokenSet, Option<String>), OAuthError> {
    let device_url = endpoint(config, KIND, Endpoint::Device)?;
    let token_url = endpoint(config, KIND, Endpoint::Token)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let what = "requesting a device code";
    let req = http
        .post(&device_url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header("x-request-id", request_id())
        .form(&[
            ("client_id", CLIENT_ID),
            ("scope", SCOPE),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
    let (status, body) = super::send_and_read(req, what).await?;
    if status != 200 {
        return Err(OAuthError::Http {
            what,
            message: ErrorBody::parse(&body).describe(status),
        });
    }
    let dev: DeviceAuthorization = serde_json::from_slice(&body).map_err(|_| OAuthError::Http {
        what,
        message: "unexpected answer from the device endpoint".into(),
    })?;

    let page = dev
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| dev.verification_uri.clone());
    console.say(&format!(
        "To sign in, open {page}\nand confirm the code: {}",
        dev.user_code
    ));
    if !opts.no_browser && open::that_detached(&page).is_err() {
        console.say("(could not open a browser; open the address above yourself)");
    }

    let expires = Duration::from_secs(dev.expires_in.unwrap_or(300).max(1));
    let deadline = tokio::time::Instant::now() + expires;
    let mut interval = opts.interval;
    let _spinner = console.spinner("Waiting for the login to be approved (Ctrl-C to cancel)...");
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Err(OAuthError::Cancelled),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OAuthError::DeviceExpired);
        }
        let polled = http
            .post(&token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", DEVICE_GRANT),
                ("client_id", CLIENT_ID),
                ("device_code", dev.device_code.as_str()),
                ("code_verifier", verifier.secret().as_str()),
            ])
            .send()
            .await;
        let resp = match polled {
            Ok(r) => r,
            // A network blip while waiting for a human is not worth failing the login over.
            Err(_) => continue,
        };
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if status == 200 {
            let t: TokenResponse = serde_json::from_slice(&body).map_err(|_| OAuthError::Http {
                what: "polling for the token",
                message: "unexpected answer from the token endpoint".into(),
            })?;
            let resource = t.resource_url.clone();
            return Ok((TokenSet::from_response(&t, None), resource));
        }
        let err = ErrorBody::parse(&body);
        match err.error.as_deref() {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                interval = interval.mul_f64(1.5).min(MAX_INTERVAL).max(opts.interval);
            }
            Some("expired_token") => return Err(OAuthError::DeviceExpired),
            Some("access_denied") => {
                return Err(OAuthError::DeviceDenied {
                    description: err.error_description,
                });
            }
            _ if status >= 500 => {}
            _ => {
                return Err(OAuthError::Http {
                    what: "polling for the token",
                    message: err.describe(status),
                });
            }
        }
    }
}
