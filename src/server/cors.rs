//! CORS for web pages on other origins (`[server] cors_origins`): the preflight answer, and the
//! headers every reply to a listed origin carries (errors and streams too, or the browser hides
//! the real status behind an opaque "CORS error").
//!
//! Off by default: with no origins listed no `Access-Control-*` header is ever sent. A listed
//! origin (or any, with `"*"`) is echoed back as it came, never `*`, and never with
//! `Access-Control-Allow-Credentials`: the gateway's keys travel in headers, not cookies. The
//! preflight's requested headers are reflected once they read as header names, because every
//! SDK release adds some (`x-stainless-*`, `anthropic-dangerous-direct-browser-access`) and a
//! fixed list breaks them; `Authorization` is never covered by a `*` wildcard anyway.
//!
//! A preflight from an origin not listed gets a 403 without any allow header: the browser
//! refuses the call either way, and a 403 (with the reason in its body) is what a developer
//! looking at the network panel understands, where a bare 204 looks like success.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::Body;
use super::body::empty;

/// What `Access-Control-Expose-Headers` names: the headers a page's code reads. `*` covers the
/// rest for requests without credentials (all of the gateway's).
const EXPOSE: &str = "retry-after, request-id, x-request-id, server-timing, \
    x-ratelimit-limit-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-requests, \
    x-ratelimit-remaining-tokens, x-ratelimit-reset-requests, x-ratelimit-reset-tokens, \
    anthropic-ratelimit-requests-limit, anthropic-ratelimit-requests-remaining, \
    anthropic-ratelimit-requests-reset, anthropic-ratelimit-tokens-limit, \
    anthropic-ratelimit-tokens-remaining, anthropic-ratelimit-tokens-reset, *";
const METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Chromium caps it at two hours.
const MAX_AGE: &str = "7200";
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, \
     Access-Control-Request-Private-Network";

const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
const TIMING_ALLOW_ORIGIN: HeaderName = HeaderName::from_static("timing-allow-origin");

/// The origins of `[server] cors_origins`, made once per config.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cors {
    any: bool,
    /// `scheme://host[:port]`, lower case, as browsers send `Origin`.
    exact: Vec<Box<[u8]>>,
    /// `scheme://host:` of entries written `scheme://host:*` (any port).
    any_port: Vec<Box<[u8]>>,
}

impl Cors {
    /// `None` when no origin is listed: CORS is off.
    pub fn new(origins: &[String]) -> Option<Cors> {
        let mut cors = Cors::default();
        for o in origins {
            let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
            if o == "*" {
                cors.any = true;
            } else if let Some(prefix) = o.strip_suffix('*').filter(|p| p.ends_with(':')) {
                cors.any_port.push(prefix.as_bytes().into());
            } else if !o.is_empty() {
                cors.exact.push(o.into_bytes().into());
            }
        }
        let on = cors.any || !cors.exact.is_empty() || !cors.any_port.is_empty();
        on.then_some(cors)
    }

    /// Whether a page on `origin` may read the gateway's replies.
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        if self.any {
            return true;
        }
        let o = origin.as_bytes();
        let lower;
        let o = if o.iter().any(u8::is_ascii_uppercase) {
            lower = o.to_ascii_lowercase();
            &lower[..]
        } else {
            o
        };
        self.exact.iter().any(|e| **e == *o)
            || self.any_port.iter().any(|p| {
                o.strip_prefix(&p[..])
                    .is_some_and(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit))
            })
    }
}

/// Whether `req` is a CORS preflight (rather than a plain `OPTIONS`).
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The 204 answer to a preflight from the allowed `origin`.
pub(crate) fn preflight(origin: &HeaderValue, req: &HeaderMap) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Some(asked) = req.get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        && is_header_list(asked.as_bytes())
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
    if req
        .get(REQUEST_PRIVATE_NETWORK)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        h.insert(ALLOW_PRIVATE_NETWORK, HeaderValue::from_static("true"));
    }
    r
}

/// The headers of any reply to the allowed `origin`.
pub(crate) fn decorate(origin: HeaderValue, h: &mut HeaderMap) {
    h.insert(TIMING_ALLOW_ORIGIN, origin.clone());
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
}

/// `Access-Control-Request-Headers` as browsers send it: header names (tokens) parted by
/// commas and spaces. Anything else is not reflected.
fn is_header_list(v: &[u8]) -> bool {
    !v.is_empty()
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b" ,!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(list: &[&str]) -> Option<Cors> {
        Cors::new(&list.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn nothing_listed_is_off() {
        assert!(cors(&[]).is_none());
        assert!(cors(&["", " "]).is_none());
    }

    #[test]
    fn origins_match_exactly_by_port_wildcard_or_star() {
        let c = cors(&[
            "http://localhost:5173/",
            "APP://obsidian.md",
            "http://127.0.0.1:*",
        ])
        .unwrap();
        assert!(c.allows(&hv("http://localhost:5173")));
        assert!(c.allows(&hv("app://obsidian.md")));
        assert!(c.allows(&hv("http://127.0.0.1:8080")));
        assert!(!c.allows(&hv("http://127.0.0.1:")));
        assert!(!c.allows(&hv("http://127.0.0.1:80.evil.example")));
        assert!(!c.allows(&hv("http://localhost:5174")));
        assert!(!c.allows(&hv("http://localhost:5173.evil.example")));
        assert!(!c.allows(&hv("null")));
        assert!(
            cors(&["*"])
                .unwrap()
                .allows(&hv("https://anything.example"))
        );
    }

    #[test]
    fn requested_headers_are_reflected_only_when_they_are_names() {
        assert!(is_header_list(
            b"authorization, content-type,x-stainless-os"
        ));
        assert!(!is_header_list(b"a\"b"));
        assert!(!is_header_list(b""));
    }
}
