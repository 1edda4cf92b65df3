//! Gateway keys: where a client puts its key (`Authorization: Bearer`, `x-api-key`,
//! `x-goog-api-key`, `?key=`), checking it against the stored SHA-256 hashes in constant time,
//! the per-key model globs, and the per-key requests-per-minute token bucket.
//!
//! The store keeps only `hex(sha256(key))` ([`ApiKeyRecord::hash`], as `store::keys` makes it
//! at `apikey add`). The server decodes those hashes once per view ([`digest_of`]) and per
//! request hashes the presented key once and compares the digests in constant time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use http::HeaderName;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{ErrorKind, GatewayError};
use crate::routing::glob;
#[cfg(test)]
use crate::secret::Secret;
use crate::store::records::ApiKeyRecord;

/// The key the client sent, from the first place that holds one.
#[cfg(test)]
pub fn presented_key(headers: &http::HeaderMap, query: Option<&str>) -> Option<Secret> {
    presented(headers, query).map(|k| Secret::new(k.into_owned()))
}

// Names made once: a lookup by `&str` parses the name every time.
pub(crate) static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub(crate) static X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// The key the client sent, from the first place that holds one; borrowed from the request
/// when it can be, since it is only hashed.
fn presented<'a>(headers: &'a http::HeaderMap, query: Option<&'a str>) -> Option<Cow<'a, str>> {
    let header = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = header(&http::header::AUTHORIZATION) {
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
            return Some(Cow::Borrowed(rest.trim()));
        }
    }
    if let Some(v) = header(&X_API_KEY).or_else(|| header(&X_GOOG_API_KEY)) {
        return Some(Cow::Borrowed(v));
    }
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k == "key" && !v.is_empty())
        .map(|(_, v)| v)
}

/// A stored key hash (hex SHA-256) as bytes, decoded once per view rather than per request;
/// `None` for a malformed hash, which no key matches.
pub fn digest_of(hash_hex: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = hash_hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = nibble(*pair.first()?)? << 4 | nibble(*pair.get(1)?)?;
    }
    Some(out)
}

/// The record of a usable key, or the 401 to answer.
#[cfg(test)]
pub fn authenticate<'a>(
    keys: &'a [ApiKeyRecord],
    presented: Option<&Secret>,
) -> Result<&'a ApiKeyRecord, GatewayError> {
    let digests: Vec<Option<[u8; 32]>> = keys.iter().map(|k| digest_of(&k.hash)).collect();
    check(keys, &digests, presented.map(Secret::expose))
}

/// The request's key: [`authenticate`] against digests decoded ahead (`digests[i]` is
/// `keys[i]`'s), hashing the presented key once.
pub fn authenticate_request<'a>(
    keys: &'a [ApiKeyRecord],
    digests: &[Option<[u8; 32]>],
    headers: &http::HeaderMap,
    query: Option<&str>,
) -> Result<&'a ApiKeyRecord, GatewayError> {
    check(keys, digests, presented(headers, query).as_deref())
}

fn check<'a>(
    keys: &'a [ApiKeyRecord],
    digests: &[Option<[u8; 32]>],
    presented: Option<&str>,
) -> Result<&'a ApiKeyRecord, GatewayError> {
    let Some(presented) = presented else {
        return Err(GatewayError::new(
            ErrorKind::Authentication,
            "missing API key: send a gateway key (llm-gateway apikey add) as `Authorization: Bearer <key>`, `x-api-key`, `x-goog-api-key` or `?key=`",
        )
        .with_code("missing_api_key"));
    };
    let computed: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    // Compare against every record, without stopping early, so timing says nothing.
    let mut found = None;
    for (record, digest) in keys.iter().zip(digests) {
        if let Some(d) = digest
            && bool::from(computed.ct_eq(d))
        {
            found = Some(record);
        }
    }
    let Some(record) = found else {
        return Err(
            GatewayError::new(ErrorKind::Authentication, "invalid API key")
                .with_code("invalid_api_key"),
        );
    };
    if record.revoked {
        return Err(GatewayError::new(
            ErrorKind::Authentication,
            format!("API key `{}` was revoked", record.name),
        )
        .with_code("invalid_api_key"));
    }
    if !record.enabled {
        return Err(GatewayError::new(
            ErrorKind::Authentication,
            format!(
                "API key `{}` is disabled (llm-gateway apikey enable {})",
                record.name, record.name
            ),
        )
        .with_code("invalid_api_key"));
    }
    Ok(record)
}

/// Whether the key may use a model known by any of `names` (an empty list allows all).
pub fn model_allowed(key: &ApiKeyRecord, names: &[&str]) -> bool {
    key.models.is_empty()
        || key
            .models
            .iter()
            .any(|p| names.iter().any(|n| glob::matches(p, n)))
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One token bucket per key: `rpm` tokens of capacity, refilled at `rpm` per minute.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one token, or says how many seconds until one is available.
    pub fn check(&self, key: &str, rpm: u32, now: Instant) -> Result<(), u64> {
        if rpm == 0 {
            return Err(60);
        }
        let capacity = f64::from(rpm);
        let per_sec = capacity / 60.0;
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / per_sec).ceil();
            // `wait` is finite and at most 60 s here.
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys;
    use http::{HeaderMap, HeaderValue};
    use std::time::Duration;

    fn rec(name: &str, key: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            name: name.into(),
            prefix: key.chars().take(10).collect(),
            hash: keys::hash_key(key),
            rpm: None,
            models: vec![],
            enabled: true,
            revoked: false,
            created_at: 0,
            last_used_at: None,
        }
    }

    #[test]
    fn all_four_places() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer lgw_a"));
        assert_eq!(presented_key(&h, None).unwrap().expose(), "lgw_a");
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("lgw_b"));
        assert_eq!(presented_key(&h, None).unwrap().expose(), "lgw_b");
        let mut h = HeaderMap::new();
        h.insert("x-goog-api-key", HeaderValue::from_static("lgw_c"));
        assert_eq!(presented_key(&h, None).unwrap().expose(), "lgw_c");
        let h = HeaderMap::new();
        assert_eq!(
            presented_key(&h, Some("alt=sse&key=lgw_d%2B"))
                .unwrap()
                .expose(),
            "lgw_d+"
        );
        assert!(presented_key(&h, Some("alt=sse")).is_none());
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Basic xyz"));
        assert!(presented_key(&h, None).is_none());
    }

    #[test]
    fn verify_states() {
        let mut off = rec("off", "lgw_off");
        off.enabled = false;
        let mut gone = rec("gone", "lgw_gone");
        gone.revoked = true;
        let keys = vec![rec("ok", "lgw_ok"), off, gone];
        let s = |k: &str| Secret::new(k);
        assert_eq!(authenticate(&keys, Some(&s("lgw_ok"))).unwrap().name, "ok");
        for (k, want) in [
            ("lgw_off", "disabled"),
            ("lgw_gone", "revoked"),
            ("lgw_nope", "invalid"),
        ] {
            let e = authenticate(&keys, Some(&s(k))).unwrap_err();
            assert_eq!(e.status.as_u16(), 401);
            assert!(e.message.contains(want), "{}", e.message);
            assert!(!e.message.contains(k), "never echo the key");
        }
        let e = authenticate(&keys, None).unwrap_err();
        assert!(e.message.contains("missing"));
    }

    #[test]
    fn digests_and_request_keys() {
        let k = rec("ok", "lgw_ok");
        let d = digest_of(&k.hash).unwrap();
        assert_eq!(digest_of(&k.hash.to_ascii_uppercase()), Some(d));
        assert_eq!(digest_of(&k.hash[..63]), None);
        assert_eq!(digest_of(&"g".repeat(64)), None);
        let keys = vec![rec("bad", "x"), k];
        let mut bad = keys.clone();
        bad[0].hash = "not a hash".into();
        let digests: Vec<_> = bad.iter().map(|k| digest_of(&k.hash)).collect();
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer  lgw_ok "));
        let found = authenticate_request(&bad, &digests, &h, None).unwrap();
        assert_eq!(found.name, "ok");
        let none = HeaderMap::new();
        let found = authenticate_request(&bad, &digests, &none, Some("key=lgw_ok")).unwrap();
        assert_eq!(found.name, "ok");
        let e = authenticate_request(&bad, &digests, &none, Some("key=x")).unwrap_err();
        assert!(
            e.message.contains("invalid"),
            "a malformed stored hash matches nothing"
        );
    }

    #[test]
    fn model_globs() {
        let mut k = rec("k", "x");
        assert!(model_allowed(&k, &["anything"]));
        k.models = vec!["gpt-4o*".into(), "claude-*".into()];
        assert!(model_allowed(&k, &["gpt-4o-mini"]));
        assert!(model_allowed(&k, &["oai/gpt-4o", "gpt-4o"]));
        assert!(!model_allowed(&k, &["o3"]));
    }

    #[test]
    fn token_bucket() {
        let l = RateLimiter::new();
        let t0 = Instant::now();
        assert!(l.check("k", 2, t0).is_ok());
        assert!(l.check("k", 2, t0).is_ok());
        let wait = l.check("k", 2, t0).unwrap_err();
        assert_eq!(wait, 30);
        // Other keys have their own bucket.
        assert!(l.check("j", 2, t0).is_ok());
        // Half a minute later one token is back.
        assert!(l.check("k", 2, t0 + Duration::from_secs(30)).is_ok());
        assert!(l.check("k", 2, t0 + Duration::from_secs(30)).is_err());
    }
}
