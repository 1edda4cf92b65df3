//! The CLI's one-off calls to a Bedrock upstream, made with the credential the server would use
//! (the same [`CredentialChain`], read from the CLI's environment and `~/.aws` files):
//! * [`list_models`] for `upstream add` without `--models`: ListFoundationModels and every page
//!   of ListInferenceProfiles on the CONTROL endpoint, signed for service `bedrock` in the
//!   record's region; the callable ids are what [`super::models`] keeps;
//! * [`test`] for `upstream test`: one tiny Converse call built by the same adapter, signer and
//!   error reader as the server's calls, so a refused credential or a model without access says
//!   the same thing here as through the gateway.

use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

use super::credentials::{Auth, CredentialChain, Env, Resolved};
use super::{models, sign};
use crate::config::Config;
use crate::config::endpoints::Endpoint;
use crate::protocol::converse;
use crate::protocol::ir::{Dialect, ErrorKind};
use crate::routing::rules::Edits;
use crate::secret::Secret;
use crate::store::records::UpstreamRecord;
use crate::upstream::adapter::{self, Credential, Target};
use crate::upstream::kinds::bedrock::{base_for, record_region};
use crate::upstream::probe::{self, ProbeError};

/// ListInferenceProfiles pages read at most (1000 profiles a page): a token that never ends
/// the list must not loop forever.
const MAX_PAGES: usize = 20;

fn other(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Other(e.to_string())
}

/// The credential the server would use for `upstream` now.
async fn credential(
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
) -> Result<Resolved, ProbeError> {
    CredentialChain::new(secret.cloned(), upstream.profile.clone())
        .resolve(&Env::process())
        .await
        .map_err(other)
}

/// The model ids `upstream` can call: on-demand text models and the region's active
/// inference profiles (`us.`/`eu.`/`apac.`/`global.` ids, application-profile ARNs).
pub async fn list_models(
    config: &Config,
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
) -> Result<Vec<String>, ProbeError> {
    let cred = credential(upstream, secret).await?;
    let region = record_region(upstream);
    let base = base_for(config, upstream, Endpoint::Control, region).map_err(other)?;
    let client = probe::client(config)?;
    let get = |url: String| control_get(&client, config, url, &cred, region);

    let body = get(format!("{base}/foundation-models")).await?;
    let mut ids = models::foundation_model_ids(&body).map_err(other)?;
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = url::Url::parse(&format!("{base}/inference-profiles")).map_err(other)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("maxResults", "1000");
            if let Some(t) = &next {
                q.append_pair("nextToken", t);
            }
        }
        let body = get(url.to_string()).await?;
        let (page, token) = models::inference_profile_ids(&body).map_err(other)?;
        ids.extend(page);
        match token {
            Some(t) if next.as_ref() != Some(&t) => next = Some(t),
            _ => break,
        }
    }
    ids.retain(|id| !id.is_empty());
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// One signed (or bearer) `GET` on the control plane; an error reply in AWS's words.
async fn control_get(
    client: &crate::upstream::UpstreamClient,
    config: &Config,
    url: String,
    cred: &Resolved,
    region: &str,
) -> Result<bytes::Bytes, ProbeError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    match &cred.auth {
        Auth::Bearer(key) => {
            adapter::secret_header(
                &mut headers,
                "authorization",
                &format!("Bearer {}", key.expose()),
            )
            .map_err(other)?;
        }
        Auth::SigV4(creds) => {
            let host = sign::host_of(&url).ok_or_else(|| other(format!("bad URL {url}")))?;
            let signed = [("host", host.as_str()), ("accept", "application/json")];
            let out = sign::sigv4_headers(
                &sign::Signable {
                    method: "GET",
                    url: &url,
                    headers: &signed,
                    body: b"",
                },
                creds,
                region,
                sign::SERVICE,
                SystemTime::now(),
            )
            .map_err(other)?;
            for (name, value) in out {
                adapter::secret_header(&mut headers, name, &value).map_err(other)?;
            }
        }
    }
    let req = client.http().get(&url).headers(headers);
    let (status, headers, body) = send(req, &url, probe::timeout(config)).await?;
    if !(200..300).contains(&status) {
        return Err(aws_error(status, &headers, &body, cred, None, region));
    }
    Ok(body)
}

/// One tiny Converse call (`max_tokens` 1) to `model` or the upstream's first model.
pub async fn test(
    config: &Config,
    upstream: &UpstreamRecord,
    secret: Option<&Secret>,
    model: &str,
) -> Result<Duration, ProbeError> {
    let cred = credential(upstream, secret).await?;
    let raw = serde_json::json!({"model": model, "max_tokens": 1,
        "messages": [{"role": "user", "content": "ping"}]});
    let req = crate::protocol::anthropic::decode_request(
        raw.to_string().as_bytes(),
        &crate::protocol::codec::RequestHints::default(),
    )
    .map_err(other)?;
    let no_headers = HeaderMap::new();
    let t = Target {
        config,
        record: upstream,
        model,
        credential: Credential::Aws(&cred),
        client_dialect: Dialect::Anthropic,
        client_headers: &no_headers,
    };
    let call = adapter::translated(&t, &req, &Edits::default()).map_err(other)?;
    let client = probe::client(config)?;
    let http_req = client
        .http()
        .post(&call.url)
        .headers(call.headers)
        .body(call.body);
    let started = Instant::now();
    let (status, headers, body) = send(http_req, &call.url, probe::timeout(config)).await?;
    if !(200..300).contains(&status) {
        let err = call.reply.decode_error(status, &headers, &body);
        return Err(ProbeError::Status {
            status: err.status,
            message: err.message,
        });
    }
    converse::decode_response(&body).map_err(|e| {
        other(format!(
            "Bedrock answered, but not with a Converse reply: {e}"
        ))
    })?;
    Ok(started.elapsed())
}

/// The error of a control-plane call, read as the server reads Bedrock's errors: a refused
/// credential names its source.
fn aws_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    cred: &Resolved,
    model: Option<&str>,
    region: &str,
) -> ProbeError {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let ctx = converse::ErrorContext {
        error_type: header("x-amzn-errortype"),
        retry_after: header("retry-after"),
        model,
        region: Some(region),
    };
    let err = converse::decode_error_with(status, body, &ctx);
    let message = match err.kind {
        ErrorKind::Authentication => {
            super::credentials::rejected_message(&cred.source, &err.message)
        }
        // Listing needs its own IAM actions, not model access.
        ErrorKind::Permission if model.is_none() => format!(
            "{} (hint: the credentials from {} need bedrock:ListFoundationModels and \
             bedrock:ListInferenceProfiles in {region}; or name the models with --models)",
            probe::error_message(body),
            cred.source
        ),
        _ => err.message,
    };
    ProbeError::Status {
        status: err.status,
        message,
    }
}

async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<(u16, HeaderMap, bytes::Bytes), ProbeError> {
    let connect = |e: reqwest::Error| ProbeError::Connect {
        url: crate::upstream::base_url::redact(url).into_owned(),
        message: e.without_url().to_string(),
    };
    let resp = req.timeout(timeout).send().await.map_err(connect)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(connect)?;
    Ok((status, headers, body))
}
