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
