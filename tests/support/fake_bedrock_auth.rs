//! AWS Bedrock on loopback that checks credentials as AWS does: [`SignedBedrock`] recomputes the
//! SigV4 signature of every request as it arrived on the wire (the path as sent, double-encoded
//! for the canonical request; the query sorted; the headers the `Authorization` header names;
//! `x-amz-content-sha256` when sent, else the body's hash; the session token) with its own
//! HMAC-SHA256 written here from `sha2`, not with the gateway's signer. A wrong key, secret or
//! session token is AWS's 403 (`UnrecognizedClientException`, `InvalidSignatureException`), an
//! `x-amz-date` more than 5 minutes from the fake's clock the clock-skew 403, a bearer token
//! it does not know a 403 too.
//!
//! It also serves the control plane (`GET /foundation-models`, `GET /inference-profiles` in two
//! pages joined by a `nextToken` with `+`, `/` and `=` in it), and, for model ids containing
//! `denied`, AWS's `AccessDeniedException`, for ids containing `nosuch` the
//! `ValidationException` of an unknown model id. Other runtime calls get
//! `fake_bedrock`'s replies. Which key id, region and service signed each request is kept, so
//! a test can say which credential the gateway used.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use llm_gateway::config::ProviderKind;
use llm_gateway::store::records::{AuthKind, UpstreamRecord};
use sha2::{Digest, Sha256};

use super::fake_bedrock::Seen;

/// AWS keys the fake accepts (obviously fake ones).
#[derive(Debug, Clone)]
pub struct AwsKey {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl AwsKey {
    pub fn new(id: &str, secret: &str, token: Option<&str>) -> AwsKey {
        AwsKey {
            id: id.into(),
            secret: secret.into(),
            token: token.map(str::to_owned),
        }
    }
}

/// What the fake accepts.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    pub keys: Vec<AwsKey>,
    /// Bedrock API keys (`Authorization: Bearer`).
    pub bearer: Vec<String>,
    /// The fake's clock runs this many seconds ahead of the machine's (negative: behind).
    pub clock_offset_secs: i64,
    /// The control plane answers AccessDenied (credentials without the List* IAM actions).
    pub deny_listing: bool,
}

/// How one request authenticated (it passed the check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub path: String,
    /// The access key id for SigV4, the bearer token for an API key.
    pub key_id: String,
    /// `None` for a bearer token.
    pub region: Option<String>,
    pub service: Option<String>,
}

pub struct SignedBedrock {
    pub addr: std::net::SocketAddr,
    /// Every request, accepted or not.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// The requests that passed the check.
    pub signed: Arc<Mutex<Vec<Signed>>>,
    /// The requests refused, with AWS's error type.
    pub refused: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SignedBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SignedBedrock {
    pub async fn start(accept: Accept) -> SignedBedrock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let signed: Arc<Mutex<Vec<Signed>>> = Arc::default();
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let accept = Arc::new(accept);
        let (log, ok_log, no_log) = (seen.clone(), signed.clone(), refused.clone());
        let (addr, task) = super::serve(move |req: http::Request<hyper::body::Incoming>| {
            let (log, ok_log, no_log, accept) =
                (log.clone(), ok_log.clone(), no_log.clone(), accept.clone());
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                let path = parts.uri.path().to_owned();
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    headers: parts.headers.clone(),
                    body: serde_json::from_slice(&bytes).unwrap_or_default(),
                });
                match check(&accept, &parts, &bytes) {
                    Ok(s) => ok_log.lock().unwrap().push(s),
                    Err((status, kind, message)) => {
                        no_log.lock().unwrap().push(kind.to_owned());
                        return aws_error(status, kind, &message);
                    }
                }
                let query = parts.uri.query().unwrap_or("");
                if accept.deny_listing && !path.starts_with("/model/") {
                    return aws_error(
                        403,
                        "AccessDeniedException",
                        "User: arn:aws:iam::123456789012:user/fake is not authorized to perform: \
                         bedrock:ListFoundationModels",
                    );
                }
                control_reply(parts.method.as_str(), &path, query)
                    .or_else(|| model_error_reply(&path))
                    .unwrap_or_else(|| super::fake_bedrock::reply(&path))
            }
        })
        .await;
        SignedBedrock {
            addr,
            seen,
            signed,
            refused,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The key ids of the accepted runtime calls (`/model/...`), in order.
    pub fn model_key_ids(&self) -> Vec<String> {
        self.signed
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with("/model/"))
            .map(|s| s.key_id.clone())
            .collect()
    }

    pub fn last_signed(&self) -> Signed {
        self.signed.lock().unwrap().last().cloned().unwrap()
    }
}

/// A `bedrock` record at the fake in `region` with no stored key (AWS credentials at use time).
pub fn upstream(name: &str, fake: &SignedBedrock, region: &str, models: &[&str]) -> UpstreamRecord {
    UpstreamRecord {
        provider: ProviderKind::Bedrock,
        region: Some(region.into()),
        auth: AuthKind::None,
        ..super::upstream(name, &fake.url(), models, 100)
    }
}

// ---- errors as AWS words them ----

fn aws_error(status: u16, kind: &str, message: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(
            "x-amzn-errortype",
            format!("{kind}:http://internal.amazon.com/coral/com.amazon.coral.service/"),
        )
        .header("x-amzn-requestid", "req-fake-err")
        .body(Full::new(Bytes::from(
            serde_json::json!({ "message": message }).to_string(),
        )))
        .unwrap()
}

pub const BAD_TOKEN: &str = "The security token included in the request is invalid.";
pub const BAD_SIGNATURE: &str = "The request signature we calculated does not match the \
signature you provided. Check your AWS Secret Access Key and signing method. Consult the service \
documentation for details.";

/// Status, AWS's error type and message.
type Refusal = (u16, &'static str, String);

fn refuse(status: u16, kind: &'static str, message: &str) -> Refusal {
    (status, kind, message.to_owned())
}

// ---- the check ----

fn check(accept: &Accept, parts: &http::request::Parts, body: &[u8]) -> Result<Signed, Refusal> {
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = parts.uri.path().to_owned();
    let Some(auth) = header("authorization") else {
        return Err(refuse(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        if accept.bearer.iter().any(|b| b == token) {
            if header("x-amz-date").is_some() {
                return Err(refuse(
                    400,
                    "ValidationException",
                    "a bearer request carries SigV4 headers",
                ));
            }
            return Ok(Signed {
                path,
                key_id: token.to_owned(),
                region: None,
                service: None,
            });
        }
        return Err(refuse(403, "UnrecognizedClientException", BAD_TOKEN));
    }
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm",
        ));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "malformed credential scope",
        ));
    };
    let Some(key) = accept.keys.iter().find(|k| k.id == key_id) else {
        return Err(refuse(403, "UnrecognizedClientException", BAD_TOKEN));
    };
    // A session token must be the key's, sent and signed.
    let names: Vec<&str> = signed_headers.split(';').collect();
    let token = header("x-amz-security-token");
    if token != key.token || (token.is_some() && !names.contains(&"x-amz-security-token")) {
        return Err(refuse(403, "UnrecognizedClientException", BAD_TOKEN));
    }
    let Some(amz_date) = header("x-amz-date") else {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header",
        ));
    };
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "host and x-amz-date must be signed",
        ));
    }
    let Some(at) = parse_amz_date(&amz_date) else {
        return Err(refuse(
            400,
            "IncompleteSignatureException",
            "unreadable X-Amz-Date",
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + accept.clock_offset_secs;
    if at < now - 300 {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            &format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
                amz_date_of(now - 300),
                amz_date_of(now)
            ),
        ));
    }
    if at > now + 300 {
        return Err(refuse(
            403,
            "InvalidSignatureException",
            &format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
                amz_date_of(now + 300),
                amz_date_of(now)
            ),
        ));
    }
    if !amz_date.starts_with(date) || service != "bedrock" {
        return Err(refuse(403, "InvalidSignatureException", BAD_SIGNATURE));
    }

    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<String> = parts
            .headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = header("x-amz-content-sha256").unwrap_or_else(|| hex(&Sha256::digest(body)));
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        parts.method,
        encode(parts.uri.path(), true),
        canonical_query(parts.uri.query().unwrap_or("")),
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k = hmac(format!("AWS4{}", key.secret).as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    let expected = hex(&hmac(&k, string_to_sign.as_bytes()));
    if expected != signature {
        return Err(refuse(403, "InvalidSignatureException", BAD_SIGNATURE));
    }
    Ok(Signed {
        path,
        key_id: key_id.to_owned(),
        region: Some(region.to_owned()),
        service: Some(service.to_owned()),
    })
}

/// `20150830T123600Z` -> seconds since the epoch.
fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.ends_with('Z') || s.as_bytes()[8] != b'T' {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    DateTime::from_str(&rfc, Format::DateTime)
        .ok()
        .map(|d| d.secs())
}

fn amz_date_of(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap()
        .replace(['-', ':'], "")
}

/// RFC 3986 unreserved characters stay; everything else (with `/` kept in paths) is `%XX`.
/// Applied to the path as it arrived (already escaped once), this is SigV4's double encoding.
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (encode(&k, false), encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---- the control plane and model errors ----

/// The token between the two ListInferenceProfiles pages: characters a query must escape.
pub const PAGE_TOKEN: &str = "page 2/+=";

fn json_reply(value: serde_json::Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap()
}

fn control_reply(method: &str, path: &str, query: &str) -> Option<http::Response<Full<Bytes>>> {
    if method != "GET" {
        return None;
    }
    match path {
        "/foundation-models" => Some(json_reply(serde_json::json!({"modelSummaries": [
            {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "outputModalities": ["TEXT"],
             "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "ACTIVE"}},
            {"modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0", "outputModalities": ["TEXT"],
             "inferenceTypesSupported": ["INFERENCE_PROFILE"], "modelLifecycle": {"status": "ACTIVE"}},
            {"modelId": "amazon.titan-embed-text-v2:0", "outputModalities": ["EMBEDDING"],
             "inferenceTypesSupported": ["ON_DEMAND"]}
        ]}))),
        "/inference-profiles" => {
            let token = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "nextToken")
                .map(|(_, v)| v.into_owned());
            Some(match token.as_deref() {
                None => json_reply(serde_json::json!({"inferenceProfileSummaries": [
                    {"inferenceProfileId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                     "status": "ACTIVE", "type": "SYSTEM_DEFINED"},
                    {"inferenceProfileId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                     "status": "ACTIVE", "type": "SYSTEM_DEFINED"}
                ], "nextToken": PAGE_TOKEN})),
                Some(PAGE_TOKEN) => json_reply(serde_json::json!({"inferenceProfileSummaries": [
                    {"inferenceProfileId": "global.anthropic.claude-opus-4-1-20250805-v1:0",
                     "status": "ACTIVE", "type": "SYSTEM_DEFINED"},
                    {"inferenceProfileId": "apac.amazon.nova-pro-v1:0",
                     "status": "ACTIVE", "type": "SYSTEM_DEFINED"}
                ]})),
                Some(_) => aws_error(400, "ValidationException", "Invalid pagination token"),
            })
        }
        _ => None,
    }
}

/// The model id of a runtime path, unescaped.
fn model_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/model/")?;
    let (id, _) = rest.rsplit_once('/')?;
    Some(
        percent_encoding::percent_decode_str(id)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

fn model_error_reply(path: &str) -> Option<http::Response<Full<Bytes>>> {
    let model = model_of(path)?;
    if model.contains("denied") {
        return Some(aws_error(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ));
    }
    if model.contains("nosuch") {
        return Some(aws_error(
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
        ));
    }
    None
}

/// A pause long enough for an `Expiration` a few seconds ahead to pass.
pub async fn wait_past(deadline: SystemTime) {
    while SystemTime::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
