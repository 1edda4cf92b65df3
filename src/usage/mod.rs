//! Usage accounting: counters per (upstream, model) kept in memory by the server ([`Ledger`]),
//! token counts read from replies as they pass ([`scan`]), and the flusher that batches the
//! counters into the store (`Op::UsageAdd`) every few seconds and once more on shutdown.
//!
//! The server records into the ledger when a reply ends (and each accepted key's last use when
//! a request comes in); `status` reads the store's totals.

pub mod scan;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::records::{KeyUse, UnixTime, UsageCounters, UsageRow};

/// Tokens of one reply, as far as the upstream reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    /// Input tokens not read from or written to a cache.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

/// How one request to one upstream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub error: bool,
    pub latency: Duration,
    pub tokens: Option<TokenCounts>,
}

impl Outcome {
    fn counters(&self) -> UsageCounters {
        let t = self.tokens.unwrap_or_default();
        UsageCounters {
            requests: 1,
            errors: u64::from(self.error),
            input_tokens: t.input,
            output_tokens: t.output,
            cache_read_tokens: t.cache_read,
            cache_write_tokens: t.cache_write,
            latency_ms_total: u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Counters not yet flushed to the store, by upstream then model (nested, so that a request
/// for a pair already pending looks it up by `&str` and allocates nothing).
#[derive(Debug, Default)]
pub struct Ledger {
    pending: Mutex<FxHashMap<String, FxHashMap<String, UsageCounters>>>,
    /// Each key's latest use not yet flushed.
    keys_used: Mutex<FxHashMap<String, UnixTime>>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, upstream: &str, model: &str, outcome: &Outcome) {
        self.add(upstream, model, &outcome.counters());
    }

    /// Key `name` was accepted at `at` (Unix seconds).
    pub fn key_used(&self, name: &str, at: UnixTime) {
        let Ok(mut keys) = self.keys_used.lock() else {
            return;
        };
        match keys.get_mut(name) {
            Some(t) => *t = (*t).max(at),
            None => {
                keys.insert(name.to_owned(), at);
            }
        }
    }

    /// Takes every key's latest use, sorted by name.
    pub fn take_keys_used(&self) -> Vec<KeyUse> {
        let mut used: Vec<KeyUse> = match self.keys_used.lock() {
            Ok(mut keys) => keys.drain().map(|(name, at)| KeyUse { name, at }).collect(),
            Err(_) => Vec::new(),
        };
        used.sort_by(|a, b| a.name.cmp(&b.name));
        used
    }

    fn add(&self, upstream: &str, model: &str, counters: &UsageCounters) {
        let Ok(mut map) = self.pending.lock() else {
            return;
        };
        // Looked up by `&str` first: a pair already pending allocates nothing.
        if let Some(models) = map.get_mut(upstream) {
            add_to(models, model, counters);
            return;
        }
        add_to(map.entry(upstream.to_owned()).or_default(), model, counters);
    }

    /// Takes everything pending, sorted by (upstream, model).
    pub fn take(&self) -> Vec<UsageRow> {
        let drained: Vec<(String, FxHashMap<String, UsageCounters>)> = match self.pending.lock() {
            Ok(mut map) => map.drain().collect(),
            Err(_) => Vec::new(),
        };
        let mut rows: Vec<UsageRow> = drained
            .into_iter()
            .flat_map(|(upstream, models)| {
                models.into_iter().map(move |(model, counters)| UsageRow {
                    upstream: upstream.clone(),
                    model,
                    counters,
                })
            })
            .collect();
        rows.sort_by(|a, b| (&a.upstream, &a.model).cmp(&(&b.upstream, &b.model)));
        rows
    }

    /// Puts rows and key uses back after a failed flush, so that the next one carries them.
    pub fn put_back(&self, rows: Vec<UsageRow>, keys_used: Vec<KeyUse>) {
        for row in rows {
            self.add(&row.upstream, &row.model, &row.counters);
        }
        for used in keys_used {
            self.key_used(&used.name, used.at);
        }
    }
}

fn add_to(models: &mut FxHashMap<String, UsageCounters>, model: &str, counters: &UsageCounters) {
    match models.get_mut(model) {
        Some(c) => c.add(counters),
        None => {
            let mut c = UsageCounters::default();
            c.add(counters);
            models.insert(model.to_owned(), c);
        }
    }
}

/// Where the flusher writes: the server passes a closure that applies `Op::UsageAdd` to its
/// store. An error keeps the rows for the next attempt.
pub type Sink = Arc<
    dyn Fn(Vec<UsageRow>, Vec<KeyUse>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Flushes `ledger` into `sink` every `every` and once more when `cancel` fires, then returns.
pub async fn run_flusher(
    ledger: Arc<Ledger>,
    sink: Sink,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => flush(&ledger, &sink).await,
            () = cancel.cancelled() => {
                flush(&ledger, &sink).await;
                return;
            }
        }
    }
}

/// One flush; rows go back into the ledger when the sink fails.
pub async fn flush(ledger: &Ledger, sink: &Sink) {
    let rows = ledger.take();
    let keys_used = ledger.take_keys_used();
    if rows.is_empty() && keys_used.is_empty() {
        return;
    }
    if let Err(message) = sink(rows.clone(), keys_used.clone()).await {
        tracing::warn!(%message, "cannot write usage counters to the store; will retry");
        ledger.put_back(rows, keys_used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_sums_and_drains() {
        let l = Ledger::new();
        let ok = Outcome {
            error: false,
            latency: Duration::from_millis(30),
            tokens: Some(TokenCounts {
                input: 10,
                output: 5,
                cache_read: 2,
                cache_write: 0,
            }),
        };
        l.record("a", "m", &ok);
        l.record(
            "a",
            "m",
            &Outcome {
                error: true,
                latency: Duration::from_millis(10),
                tokens: None,
            },
        );
        l.record("b", "m", &ok);
        let rows = l.take();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].upstream, "a");
        let c = rows[0].counters;
        assert_eq!(
            (
                c.requests,
                c.errors,
                c.input_tokens,
                c.output_tokens,
                c.cache_read_tokens
            ),
            (2, 1, 10, 5, 2)
        );
        assert_eq!(c.latency_ms_total, 40);
        assert!(l.take().is_empty());
        l.put_back(rows, Vec::new());
        assert_eq!(l.take().len(), 2);
    }

    #[test]
    fn a_key_used_twice_keeps_its_latest_use_until_taken() {
        let l = Ledger::new();
        l.key_used("b", 20);
        l.key_used("a", 10);
        l.key_used("b", 15);
        let used = l.take_keys_used();
        let pairs: Vec<(&str, u64)> = used.iter().map(|u| (u.name.as_str(), u.at)).collect();
        assert_eq!(pairs, [("a", 10), ("b", 20)]);
        assert!(l.take_keys_used().is_empty());
        l.put_back(Vec::new(), used);
        assert_eq!(l.take_keys_used().len(), 2);
    }

    #[tokio::test]
    async fn flusher_retries_and_flushes_on_cancel() {
        let ledger = Arc::new(Ledger::new());
        let got: Arc<Mutex<Vec<UsageRow>>> = Arc::default();
        let fail_first = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sink: Sink = {
            let got = Arc::clone(&got);
            let fail_first = Arc::clone(&fail_first);
            Arc::new(move |rows, _| {
                let got = Arc::clone(&got);
                let fail = fail_first.swap(false, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async move {
                    if fail {
                        return Err("busy".to_string());
                    }
                    got.lock().unwrap().extend(rows);
                    Ok(())
                })
            })
        };
        ledger.record("a", "m", &Outcome::default());
        flush(&ledger, &sink).await; // fails, rows kept
        assert!(got.lock().unwrap().is_empty());
        let cancel = CancellationToken::new();
        cancel.cancel();
        run_flusher(Arc::clone(&ledger), sink, Duration::from_secs(3600), cancel).await;
        let rows = got.lock().unwrap().clone();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].counters.requests, 1);
    }
}
