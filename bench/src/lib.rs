//! Shared bits of the bench binaries.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Binds `addr` (port 0 for a free one) and prints `PORT <n>` so run.sh can read it.
pub async fn bind(addr: &str) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("PORT {}", local.port());
    Ok((listener, local))
}

/// A tokio runtime with `workers` threads: `1` is the current-thread runtime (everything on the
/// calling thread), `0` the multi-thread default (one worker per core), `n` a multi-thread
/// runtime with `n` workers.
pub fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    match workers {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}
