//! The DNS-rebinding guard: which `Host` a request may be addressed to, and whether `/metrics`
//! needs a gateway key.
//!
//! A server on loopback is still reachable from a web page on another origin through a name
//! the page's owner points at 127.0.0.1 (DNS rebinding): the browser then sends that name as
//! `Host`. So, bound to loopback, the server answers only requests addressed to a loopback name
//! (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`), the bind address, or a name listed in
//! `[server] allowed_hosts` (`"*"`: any). Bound elsewhere (`0.0.0.0` on purpose), every `Host`
//! is answered unless `allowed_hosts` is set, and `/metrics` needs a gateway key unless
//! `[server] public_metrics = true`; `/health` never does. A connection to a `0.0.0.0` listen
//! that arrives on a loopback address is judged as on a loopback listen all the same: that is
//! the path a rebound name takes from a browser on the same machine, and a LAN client never
//! arrives that way.
//!
//! The `Host` header and, for HTTP/2 and absolute-form requests, the URI's authority are both
//! judged; a request with neither (HTTP/1.0) names no host a browser could have chosen, and is
//! answered. The decision is a few byte comparisons against what [`HostGuard::new`] made at
//! start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::header;

use crate::config::file::ServerSection;

/// One `allowed_hosts` entry: a host name or IP (lower-cased, IPv6 in brackets) and, when
/// given, the one port it is allowed with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    host: String,
    port: Option<u16>,
}

/// What [`HostGuard::check`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The host as sent, cut to a readable length.
    pub host: String,
}

/// The `Host` rules for one listening socket, made once when the server starts.
#[derive(Debug, Clone)]
pub(crate) struct HostGuard {
    /// `false`: every `Host` is answered (a non-loopback listen without `allowed_hosts`, or
    /// `allowed_hosts = ["*"]`).
    check: bool,
    /// The bind address, when it is a specific one (not loopback, not `0.0.0.0`).
    bind: Option<IpAddr>,
    allowed: Vec<Allowed>,
    metrics_need_key: bool,
}

impl HostGuard {
    /// The rules for a server bound to `bound` with `server`'s settings.
    pub fn new(bound: SocketAddr, server: &ServerSection) -> HostGuard {
        let loopback = bound.ip().is_loopback();
        let any = server.allowed_hosts.iter().any(|h| h.trim() == "*");
        let allowed: Vec<Allowed> = server
            .allowed_hosts
            .iter()
            .filter_map(|h| parse_entry(h))
            .collect();
        let ip = bound.ip();
        HostGuard {
            check: !any && (loopback || !server.allowed_hosts.is_empty()),
            bind: (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip),
            allowed,
            metrics_need_key: !loopback && !server.public_metrics,
        }
    }

    /// The rules for a connection that arrived on a loopback address of a listen bound to every
    /// interface: the loopback checks, whatever `allowed_hosts` is, unless it holds `"*"`.
    /// `None` when the listen is not bound to every interface (its own rules already apply).
    pub fn for_loopback_arrival(bound: SocketAddr, server: &ServerSection) -> Option<HostGuard> {
        if !bound.ip().is_unspecified() {
            return None;
        }
        let mut guard = HostGuard::new(bound, server);
        guard.check = !server.allowed_hosts.iter().any(|h| h.trim() == "*");
        Some(guard)
    }

    /// Whether `GET /metrics` needs a gateway key.
    pub fn metrics_need_key(&self) -> bool {
        self.metrics_need_key
    }

    /// `Ok` when the request may be answered: each `Host` it carries (header, URI authority)
    /// is allowed.
    pub fn check<B>(&self, req: &http::Request<B>) -> Result<(), Refused> {
        if !self.check {
            return Ok(());
        }
        if let Some(a) = req.uri().authority() {
            self.judge(a.as_str().as_bytes())?;
        }
        for v in req.headers().get_all(header::HOST) {
            self.judge(v.as_bytes())?;
        }
        Ok(())
    }

    fn judge(&self, value: &[u8]) -> Result<(), Refused> {
        if self.allows(value) {
            return Ok(());
        }
        let shown: String = String::from_utf8_lossy(value).chars().take(100).collect();
        Err(Refused { host: shown })
    }

    fn allows(&self, value: &[u8]) -> bool {
        let Some((host, port)) = split_host(value) else {
            return false;
        };
        // What browsers send is lower case already; anything else is rare.
        let lower;
        let host = if host.iter().any(u8::is_ascii_uppercase) {
            lower = host.to_ascii_lowercase();
            &lower[..]
        } else {
            host
        };
        // A fully qualified `localhost.` is the same name.
        let host = host.strip_suffix(b".").unwrap_or(host);
        is_loopback_name(host)
            || self.bind.is_some_and(|ip| ip_of(host) == Some(ip))
            || self
                .allowed
                .iter()
                .any(|a| a.host.as_bytes() == host && a.port.is_none_or(|p| Some(p) == port))
    }
}

/// `(host, port)` of a `Host` value: `name`, `name:port`, `[v6]`, `[v6]:port`. `None` for a
/// value that is none of these (userinfo, an empty host, a port that is not a number).
fn split_host(value: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let (host, port) = if value.first() == Some(&b'[') {
        let end = value.iter().position(|&b| b == b']')?;
        let (host, rest) = value.split_at(end + 1);
        match rest {
            [] => (host, None),
            [b':', port @ ..] => (host, Some(port)),
            _ => return None,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(i) => (&value[..i], Some(&value[i + 1..])),
            None => (value, None),
        }
    };
    if host.is_empty() || host.contains(&b'@') {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(text(p)?.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// `localhost`, `*.localhost` (RFC 6761: names browsers resolve to loopback themselves, never
/// through DNS), an IPv4 address in 127.0.0.0/8, `[::1]` (or an IPv4-mapped loopback).
fn is_loopback_name(host: &[u8]) -> bool {
    host == b"localhost" || host.ends_with(b".localhost") || ip_of(host).is_some_and(is_loopback)
}

pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The IP a host names literally (`127.0.0.1`, `[::1]`), if it is one.
fn ip_of(host: &[u8]) -> Option<IpAddr> {
    match host {
        [b'[', inner @ .., b']'] => text(inner)?.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        [b'0'..=b'9', ..] => text(host)?.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        _ => None,
    }
}

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// An `allowed_hosts` entry, normalised as [`HostGuard::allows`] compares; `None` for `*` and
/// for an entry that cannot match anything (it is warned about).
fn parse_entry(entry: &str) -> Option<Allowed> {
    let e = entry.trim().to_ascii_lowercase();
    if e == "*" {
        return None;
    }
    // An IPv6 address may be written without brackets: it then has no port.
    let e = match e.parse::<Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => e,
    };
    match split_host(e.as_bytes()) {
        Some((host, port)) => {
            let host = String::from_utf8_lossy(host);
            let host = host.strip_suffix('.').unwrap_or(&host);
            Some(Allowed {
                host: host.to_owned(),
                port,
            })
        }
        None => {
            tracing::warn!(entry = %entry, "[server] allowed_hosts: not a host name or host:port; ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(bound: &str, allowed: &[&str], public_metrics: bool) -> HostGuard {
        let server = ServerSection {
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            public_metrics,
            ..ServerSection::default()
        };
        HostGuard::new(bound.parse().unwrap(), &server)
    }

    fn req(host: Option<&str>, uri: &str) -> http::Request<()> {
        let mut b = http::Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn an_any_interface_listen_judges_loopback_arrivals_as_loopback() {
        let server = |allowed: &[&str]| ServerSection {
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            ..ServerSection::default()
        };
        let any: SocketAddr = "0.0.0.0:3847".parse().unwrap();
        let open = HostGuard::new(any, &server(&[]));
        assert!(open.check(&req(Some("rebound.example"), "/")).is_ok());
        let strict = HostGuard::for_loopback_arrival(any, &server(&[])).unwrap();
        assert!(strict.check(&req(Some("rebound.example"), "/")).is_err());
        assert!(strict.check(&req(Some("localhost:3847"), "/")).is_ok());
        assert!(
            strict.metrics_need_key(),
            "the listen's metrics rule is kept"
        );
        let listed = HostGuard::for_loopback_arrival(any, &server(&["box.lan"])).unwrap();
        assert!(listed.check(&req(Some("box.lan"), "/")).is_ok());
        assert!(listed.check(&req(Some("rebound.example"), "/")).is_err());
        let star = HostGuard::for_loopback_arrival(any, &server(&["*"])).unwrap();
        assert!(star.check(&req(Some("rebound.example"), "/")).is_ok());
        let v6: SocketAddr = "[::]:3847".parse().unwrap();
        assert!(HostGuard::for_loopback_arrival(v6, &server(&[])).is_some());
        assert!(
            HostGuard::for_loopback_arrival("127.0.0.1:1".parse().unwrap(), &server(&[])).is_none()
        );
        assert!(
            HostGuard::for_loopback_arrival("10.0.0.2:1".parse().unwrap(), &server(&[])).is_none()
        );
    }

    #[test]
    fn on_loopback_only_loopback_names_and_listed_hosts() {
        let g = guard(
            "127.0.0.1:3847",
            &["gateway.lan", "Box.Example.:8080"],
            false,
        );
        for ok in [
            "localhost:3847",
            "LOCALHOST",
            "localhost.:3847",
            "app.localhost:3847",
            "127.0.0.1:3847",
            "127.0.0.1",
            "127.8.9.10:1",
            "[::1]:3847",
            "[::1]",
            "[::ffff:127.0.0.1]:3847",
            "gateway.lan:3847",
            "gateway.lan",
            "box.example:8080",
        ] {
            assert_eq!(g.check(&req(Some(ok), "/health")), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example:3847",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "127.0.0.1.nip.io:3847",
            "localhostx",
            "box.example:8081",
            "box.example",
            "[::2]:3847",
            "10.0.0.1:3847",
            "user@localhost:3847",
            "localhost:port",
            "",
            ":3847",
        ] {
            assert!(g.check(&req(Some(bad), "/health")).is_err(), "{bad:?}");
        }
        // HTTP/1.0 without a Host: no name a browser chose.
        assert_eq!(g.check(&req(None, "/health")), Ok(()));
        // HTTP/2's `:authority` (or an absolute-form target) is judged as well as `Host`.
        assert!(
            g.check(&req(None, "http://evil.example:3847/health"))
                .is_err()
        );
        assert!(
            g.check(&req(Some("localhost"), "http://evil.example/health"))
                .is_err()
        );
        assert_eq!(g.check(&req(None, "http://[::1]:3847/health")), Ok(()));
        assert!(!g.metrics_need_key());
    }

    #[test]
    fn refusals_show_the_host_cut_short() {
        let g = guard("127.0.0.1:1", &[], false);
        let long = "a".repeat(500);
        let r = g.check(&req(Some(&long), "/")).unwrap_err();
        assert_eq!(r.host.len(), 100);
    }

    #[test]
    fn elsewhere_every_host_unless_listed_and_metrics_need_a_key() {
        let open = guard("0.0.0.0:3847", &[], false);
        assert_eq!(open.check(&req(Some("evil.example"), "/")), Ok(()));
        assert!(open.metrics_need_key());
        assert!(!guard("0.0.0.0:3847", &[], true).metrics_need_key());

        let listed = guard("192.168.1.5:3847", &["gw.lan"], false);
        for ok in ["gw.lan:3847", "192.168.1.5:3847", "localhost:3847"] {
            assert_eq!(listed.check(&req(Some(ok), "/")), Ok(()), "{ok}");
        }
        assert!(listed.check(&req(Some("evil.example"), "/")).is_err());
        assert!(listed.metrics_need_key());

        let v6 = guard("[::]:3847", &["fd00::1"], false);
        assert_eq!(v6.check(&req(Some("[fd00::1]:3847"), "/")), Ok(()));

        // `*` turns the check off, on loopback too.
        let any = guard("127.0.0.1:3847", &["*"], false);
        assert_eq!(any.check(&req(Some("evil.example"), "/")), Ok(()));
        assert!(!any.metrics_need_key());
    }
}
