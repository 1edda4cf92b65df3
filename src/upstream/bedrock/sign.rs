//! Request authentication for Bedrock: SigV4 with `aws-sigv4`, or a Bedrock API key as a
//! bearer token (reference §1.9).
//!
//! SigV4 facts this module owns:
//! * signing name `bedrock` (the runtime's endpoint prefix is `bedrock-runtime`; the signing
//!   name is not), the region of the upstream (or of an application inference profile's ARN);
//! * the model id is one URL path segment escaped with [`path_segment`] (`:` -> `%3A`,
//!   `/` -> `%2F`), and the canonical request escapes the path *again* (`%3A` -> `%253A`),
//!   which is `aws-sigv4`'s `PercentEncodingMode::Double`, the mode for every service but S3;
//! * a session token goes out as `x-amz-security-token` and is part of the signature;
//! * only headers the gateway controls are signed (`host`, `content-type`, `accept` as
//!   given): anything a proxy or the HTTP layer adds later would break the signature;
//! * signatures are valid for 5 minutes around AWS's clock: a skew shows up as an
//!   `InvalidSignatureException` that [`is_clock_skew`] recognises.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

pub use crate::protocol::converse::is_clock_skew;
use crate::upstream::path_segment;

/// The SigV4 signing name of Bedrock's runtime and control plane.
pub const SERVICE: &str = "bedrock";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot sign the Bedrock request: {0}")]
    Sign(String),
}

/// `/model/{model}/converse` or `/model/{model}/converse-stream`, the model escaped as one
/// path segment (an inference-profile ARN keeps its `/` inside the segment as `%2F`).
pub fn converse_path(model_id: &str, stream: bool) -> String {
    let op = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!("/model/{}/{op}", path_segment(model_id))
}

/// What to sign: the request as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct Signable<'a> {
    pub method: &'a str,
    /// The full URL, path already escaped once (as it goes on the wire).
    pub url: &'a str,
    /// Headers to sign, `host` included (lower-case names).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add to the request (`x-amz-date`, `x-amz-security-token` when there is a
/// session token, `authorization`), signed at `time`.
pub fn sigv4_headers(
    req: &Signable<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, SignError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        req.method,
        req.url,
        req.headers.iter().copied(),
        SignableBody::Bytes(req.body),
    )
    .map_err(|e| SignError::Sign(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError::Sign(e.to_string()))?
        .into_parts();
    let (headers, _params) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

/// The `host` header value for a URL (authority without userinfo), for [`Signable::headers`].
pub fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
