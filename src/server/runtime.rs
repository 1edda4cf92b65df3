//! The async runtime `server start` runs on, per `[server] workers` (`LLM_GATEWAY_WORKERS`).
//!
//! One thread by default: a gateway that one person's clients talk to spends a few tens of
//! microseconds of CPU per request and waits on the upstream for seconds, so a second worker
//! adds nothing it could use and costs on every request: a task woken from the other thread
//! (the client's connection, the upstream's, a timer) is a futex wake and a context switch, and
//! the workers look for work to steal. On the laptop the gateway shares with its clients and
//! often a local model server, one thread also leaves the other cores to them. bench/run.sh and
//! bench/instructions.sh hold the figures. `workers = N` gives a multi-thread runtime with N
//! workers for a gateway many clients share. Blocking work (the store, token estimates, DNS)
//! goes to tokio's blocking threads in either case.

use tokio::runtime::{Builder, Runtime};

/// Worker threads when `[server] workers` is 0.
const AUTO: usize = 1;

/// The number of threads serving requests for a `[server] workers` value.
pub fn threads(workers: usize) -> usize {
    if workers == 0 { AUTO } else { workers }
}

/// Builds the server's runtime: one thread (tokio's current-thread runtime, where the server's
/// own loop and every connection run on the thread that calls `block_on`) or a multi-thread
/// runtime with that many workers.
pub fn build(workers: usize) -> std::io::Result<Runtime> {
    match threads(workers) {
        1 => Builder::new_current_thread().enable_all().build(),
        n => Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_picks_one_thread_and_a_number_is_kept() {
        assert_eq!(threads(0), 1);
        assert_eq!(threads(1), 1);
        assert_eq!(threads(3), 3);
    }

    #[test]
    fn one_worker_is_a_current_thread_runtime() {
        let rt = build(1).unwrap();
        assert_eq!(rt.metrics().num_workers(), 1);
        assert_eq!(
            rt.handle().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::CurrentThread
        );
        let rt = build(2).unwrap();
        assert_eq!(rt.metrics().num_workers(), 2);
        assert_eq!(
            rt.handle().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread
        );
        // Blocking work still has its own threads on one worker.
        let rt = build(0).unwrap();
        let answer = rt.block_on(async { tokio::task::spawn_blocking(|| 7).await });
        assert_eq!(answer.unwrap(), 7);
    }
}
