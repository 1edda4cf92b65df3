//! What a base URL may carry besides an address: userinfo (`https://user:pw@relay/v1`) and
//! secret-looking query values (`?key=...`, `&sig=...`). Such a URL is a credential: it is kept
//! whole in the secret store (the upstream record holds it [`redact`]ed, see
//! `UpstreamRecord::base_url_secret`), shown only redacted, and its userinfo is sent the way
//! URL userinfo means, as `Authorization: Basic` ([`userinfo_to_basic`]), never in the request
//! line.

use std::borrow::Cow;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Uri, header};

/// What stands for a redacted part.
pub const MASK: &str = "***";

/// `url` with its userinfo and the values of secret-looking query parameters replaced by
/// [`MASK`]; borrowed when there is nothing to hide. Works on the text as typed (no parsing
/// that could reformat it), so it also serves for text that is not quite a URL.
pub fn redact(url: &str) -> Cow<'_, str> {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rfind('@').map(|at| &authority[at + 1..]);
    let (path, query, fragment) = split_tail(tail);
    let query_secret = query.is_some_and(|q| q.split('&').any(|pair| secret_pair(pair).is_some()));
    if host.is_none() && !query_secret {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match host {
        Some(h) => {
            out.push_str(MASK);
            out.push('@');
            out.push_str(h);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(q) = query {
        out.push('?');
        for (i, pair) in q.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match secret_pair(pair) {
                Some(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(MASK);
                }
                None => out.push_str(pair),
            }
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Cow::Owned(out)
}

/// Whether `url` holds anything [`redact`] hides.
pub fn has_secret(url: &str) -> bool {
    matches!(redact(url), Cow::Owned(_))
}

/// `(path, query, fragment)` of what follows the authority.
fn split_tail(tail: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before, fragment) = match tail.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (tail, None),
    };
    match before.split_once('?') {
        Some((p, q)) => (p, Some(q), fragment),
        None => (before, None, fragment),
    }
}

/// The name of a `name=value` pair whose value is a secret (and not empty).
fn secret_pair(pair: &str) -> Option<&str> {
    let (name, value) = pair.split_once('=')?;
    (!value.is_empty() && secret_name(name)).then_some(name)
}

/// Whether a query parameter of this name carries a credential: API keys, tokens, signatures
/// (Azure SAS `sig`, AWS `X-Amz-Signature`), passwords, secrets. Case, `-`/`_` and
/// percent-escapes do not matter.
fn secret_name(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let n = decoded.to_ascii_lowercase().replace('-', "_");
    const EXACT: [&str; 16] = [
        "key",
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "code",
        "credential",
        "credentials",
        "jwt",
        "pass",
        "passwd",
        "pwd",
        "session",
        "sessionid",
        "sig",
        "signature",
    ];
    const PARTS: [&str; 6] = [
        "api_key",
        "token",
        "secret",
        "password",
        "signature",
        "_key",
    ];
    EXACT.contains(&n.as_str()) || PARTS.iter().any(|p| n.contains(p)) || n.ends_with("_sig")
}

/// `uri` without its userinfo, which goes into `headers` as `Authorization: Basic` (as reqwest
/// and curl send URL userinfo) unless the request has an `authorization` of its own already,
/// which wins (as with reqwest, whose explicit headers replace the one it makes from the URL).
/// A URI without userinfo comes back as it is, after one scan of its authority.
pub fn userinfo_to_basic(uri: Uri, headers: &mut HeaderMap) -> Uri {
    let Some((userinfo, host)) = uri.authority().and_then(|a| a.as_str().rsplit_once('@')) else {
        return uri;
    };
    let Ok(authority) = http::uri::Authority::try_from(host) else {
        return uri;
    };
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some(value) = basic(userinfo)
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(authority);
    Uri::from_parts(parts).unwrap_or(uri)
}

/// `Basic base64(user:password)` of URL userinfo, each part percent-decoded.
fn basic(userinfo: &str) -> Option<HeaderValue> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut plain = decode(user);
    plain.push(b':');
    plain.extend(decode(password));
    let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_query_values_are_masked() {
        for (url, want) in [
            ("https://api.openai.com/v1", "https://api.openai.com/v1"),
            (
                "https://user:pw@relay.example/v1",
                "https://***@relay.example/v1",
            ),
            ("http://tok3n@127.0.0.1:8/v1", "http://***@127.0.0.1:8/v1"),
            (
                "https://h/v1?api-version=2024-10-21&key=abc",
                "https://h/v1?api-version=2024-10-21&key=***",
            ),
            (
                "https://u:p@h/openai?API_KEY=x&Sig=y&x-amz-signature=z&access_token=t#frag",
                "https://***@h/openai?API_KEY=***&Sig=***&x-amz-signature=***&access_token=***#frag",
            ),
            (
                "https://h/x?client_secret=s&password=p&monkey=m&keyword=k&key=",
                "https://h/x?client_secret=***&password=***&monkey=m&keyword=k&key=",
            ),
            ("https://h/x?api%5Fkey=s", "https://h/x?api%5Fkey=***"),
            // An `@` in the path is not userinfo.
            ("https://h/v1/@me", "https://h/v1/@me"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), want, "{url}");
            assert_eq!(has_secret(url), url != want, "{url}");
        }
        assert!(matches!(redact("https://h/v1"), Cow::Borrowed(_)));
    }

    #[test]
    fn userinfo_goes_into_a_basic_header_not_the_request_line() {
        let mut h = HeaderMap::new();
        let uri: Uri = "http://us%40er:p%3Aw@127.0.0.1:9/v1/chat/completions?x=1"
            .parse()
            .unwrap();
        let uri = userinfo_to_basic(uri, &mut h);
        assert_eq!(
            uri.to_string(),
            "http://127.0.0.1:9/v1/chat/completions?x=1"
        );
        // base64("us@er:p:w")
        assert_eq!(h["authorization"], "Basic dXNAZXI6cDp3");
        assert!(h["authorization"].is_sensitive());

        // A bearer key of the upstream's own wins, as with reqwest.
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        let uri = userinfo_to_basic("https://u:p@h/v1".parse().unwrap(), &mut h);
        assert_eq!(uri.to_string(), "https://h/v1");
        assert_eq!(h["authorization"], "Bearer k");

        let mut h = HeaderMap::new();
        let uri = userinfo_to_basic("https://only-user@h/v1".parse().unwrap(), &mut h);
        assert_eq!(uri.to_string(), "https://h/v1");
        assert_eq!(h["authorization"], "Basic b25seS11c2VyOg==");

        let mut h = HeaderMap::new();
        let plain: Uri = "http://127.0.0.1:9/v1".parse().unwrap();
        assert_eq!(userinfo_to_basic(plain.clone(), &mut h), plain);
        assert!(h.is_empty());
    }
}
