//! The gateway's own time on each reply: the `Server-Timing` header (`gw;dur=` the time spent
//! in the gateway, `upstream;dur=` the time spent waiting for upstreams, both in ms) and the
//! `llm_gateway_overhead_seconds` histogram by route, whose p50/p99 `status` shows.
//!
//! The gateway's time is the time until the reply's head is handed to hyper minus the upstream
//! waits (a request's send until the upstream's head, its first body byte, and a buffered body
//! read); for a stream that is the time to its head. Both are on every request's path, so they
//! cost a few atomic adds and one header value formatted on the stack: the histogram is
//! fixed buckets of atomics per route (prometheus-client's takes a mutex per observation).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderValue;
use http::header::HeaderName;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::store::ops::OverheadSummary;

pub(crate) const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The routes of `Ctx::route`; anything else counts as `other`.
const ROUTES: [&str; 12] = [
    "chat",
    "messages",
    "generate",
    "completions",
    "count_tokens",
    "models",
    "health",
    "metrics",
    "probe",
    "preflight",
    "host_refused",
    "other",
];
/// Upper bounds: 10 µs doubling up to ~0.65 s, then +Inf.
const FIRST_BOUND_NS: u64 = 10_000;
const BOUNDS: usize = 17;
const BUCKETS: usize = BOUNDS + 1;

#[derive(Default)]
struct RouteHist {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// Per route, the gateway's time per request.
#[derive(Default)]
pub(crate) struct Overhead {
    routes: [RouteHist; ROUTES.len()],
}

impl fmt::Debug for Overhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Overhead")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

fn bucket_of(ns: u64) -> usize {
    if ns <= FIRST_BOUND_NS {
        return 0;
    }
    let q = (ns - 1) / FIRST_BOUND_NS;
    ((u64::BITS - q.leading_zeros()) as usize).min(BOUNDS)
}

fn bound_secs(i: usize) -> f64 {
    if i >= BOUNDS {
        f64::INFINITY
    } else {
        (FIRST_BOUND_NS << i) as f64 / 1e9
    }
}

impl Overhead {
    pub fn observe(&self, route: &str, gw: Duration) {
        let slot = ROUTES
            .iter()
            .position(|r| *r == route)
            .unwrap_or(ROUTES.len() - 1);
        let h = &self.routes[slot];
        let ns = u64::try_from(gw.as_nanos()).unwrap_or(u64::MAX);
        h.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        h.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// p50 and p99 over every route since start (`None` before the first request), each the
    /// upper bound of the bucket it falls in, so within a factor of two above the truth.
    pub fn summary(&self) -> Option<OverheadSummary> {
        let mut all = [0u64; BUCKETS];
        for h in &self.routes {
            for (a, b) in all.iter_mut().zip(&h.buckets) {
                *a += b.load(Ordering::Relaxed);
            }
        }
        let count: u64 = all.iter().sum();
        if count == 0 {
            return None;
        }
        let quantile = |q: f64| {
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, n) in all.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return bound_secs(i) * 1e3;
                }
            }
            f64::INFINITY
        };
        Some(OverheadSummary {
            requests: count,
            p50_ms: quantile(0.50),
            p99_ms: quantile(0.99),
        })
    }
}

/// What `/metrics` registers: the histogram family, one series per route that has requests.
#[derive(Debug, Clone)]
pub(crate) struct OverheadMetric(pub Arc<Overhead>);

impl EncodeMetric for OverheadMetric {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        for (route, h) in ROUTES.iter().zip(&self.0.routes) {
            let mut buckets = [(0.0, 0u64); BUCKETS];
            let mut count = 0;
            for (i, (slot, n)) in buckets.iter_mut().zip(&h.buckets).enumerate() {
                let n = n.load(Ordering::Relaxed);
                *slot = (bound_secs(i), n);
                count += n;
            }
            if count == 0 {
                continue;
            }
            let sum = h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            encoder
                .encode_family(&RouteLabel { route })?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// `gw;dur=X, upstream;dur=Y` (ms, µs precision; `upstream` only when one was called).
///
/// Written digit by digit on the stack: `core::fmt` and the `u128` divisions of
/// `Duration::as_micros` cost about as much as the rest of this file's work per request
/// (measured with `bench/instructions.sh`).
pub(crate) fn server_timing(gw: Duration, upstream: Option<Duration>) -> Option<HeaderValue> {
    let mut out = Out {
        buf: [0; 80],
        len: 0,
    };
    out.push(b"gw;dur=");
    out.ms(gw);
    if let Some(up) = upstream {
        out.push(b", upstream;dur=");
        out.ms(up);
    }
    HeaderValue::from_bytes(out.buf.get(..out.len)?).ok()
}

/// A header value being written: at most two labels and two 20-digit figures.
struct Out {
    buf: [u8; 80],
    len: usize,
}

impl Out {
    fn push(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// `d` in milliseconds with three decimals.
    fn ms(&mut self, d: Duration) {
        let micros = d.subsec_micros();
        let ms = d
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(micros / 1000));
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = ms;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
        let frac = micros % 1000;
        self.push(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_doubling_bounds() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(10_000), 0);
        assert_eq!(bucket_of(10_001), 1);
        assert_eq!(bucket_of(20_000), 1);
        assert_eq!(bucket_of(20_001), 2);
        assert_eq!(bucket_of(u64::MAX), BOUNDS);
        for i in 0..BOUNDS {
            let ns = FIRST_BOUND_NS << i;
            assert_eq!(bucket_of(ns), i);
            assert_eq!(bucket_of(ns + 1), i + 1);
        }
    }

    #[test]
    fn summary_gives_bucket_bounds() {
        let o = Overhead::default();
        assert!(o.summary().is_none());
        for _ in 0..99 {
            o.observe("chat", Duration::from_micros(15));
        }
        o.observe("no-such-route", Duration::from_millis(3));
        let s = o.summary().unwrap();
        assert_eq!(s.requests, 100);
        assert!((s.p50_ms - 0.02).abs() < 1e-9, "{s:?}");
        assert!((s.p99_ms - 0.02).abs() < 1e-9, "{s:?}");
        o.observe("chat", Duration::from_millis(3));
        assert!((o.summary().unwrap().p99_ms - 5.12).abs() < 1e-9);
    }

    #[test]
    fn header_value_is_short_and_well_formed() {
        let v = server_timing(Duration::from_micros(1234), Some(Duration::from_secs(2)));
        assert_eq!(v.unwrap(), "gw;dur=1.234, upstream;dur=2000.000");
        let v = server_timing(Duration::from_nanos(900), None);
        assert_eq!(v.unwrap(), "gw;dur=0.000");
        let v = server_timing(Duration::new(12, 3_045_000), Some(Duration::from_micros(7)));
        assert_eq!(v.unwrap(), "gw;dur=12003.045, upstream;dur=0.007");
        let max = server_timing(Duration::MAX, Some(Duration::MAX)).unwrap();
        assert_eq!(
            max,
            "gw;dur=18446744073709551615.999, upstream;dur=18446744073709551615.999"
        );
    }
}
