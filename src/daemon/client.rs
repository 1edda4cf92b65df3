//! The CLI's side of the admin socket: JSON lines, one [`Op`] out and one [`Reply`] back, every
//! step under a timeout so that a wedged server turns into an error rather than a hung command.
//! Once any of a request may have left, a failure is [`DaemonError::Unanswered`]: the server
//! may have applied the op (see `StoreHandle::apply`, which finds out).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::DaemonError;
use crate::store::ops::{Op, Reply};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Long enough for an op that waits on an OS keyring unlock prompt on the server's side.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);
/// Replies are small records; anything larger is a protocol error.
pub(crate) const MAX_LINE: u64 = 16 * 1024 * 1024;

/// One connection to the admin socket; many ops may be sent over it in turn.
pub struct Client {
    path: PathBuf,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Client, DaemonError> {
        let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
            .await
            .map_err(|_| socket_err(path, "no answer to connect"))?
            .map_err(|e| socket_err(path, e.to_string()))?;
        let (r, w) = stream.into_split();
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Writes one op as a JSON line. A failed write may still have delivered the whole line.
    pub async fn send(&mut self, op: &Op, timeout: Duration) -> Result<(), DaemonError> {
        let mut line = serde_json::to_vec(op)
            .map_err(|e| socket_err(&self.path, format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        let write = async {
            self.writer.write_all(&line).await?;
            self.writer.flush().await
        };
        tokio::time::timeout(timeout, write)
            .await
            .map_err(|_| unanswered(&self.path, "the server did not take the request in time"))?
            .map_err(|e| unanswered(&self.path, e.to_string()))
    }

    /// Reads one reply line.
    pub async fn receive(&mut self, timeout: Duration) -> Result<Reply, DaemonError> {
        let mut line = String::new();
        let mut limited = (&mut self.reader).take(MAX_LINE);
        let read = limited.read_line(&mut line);
        let n = tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| unanswered(&self.path, "the server did not answer in time"))?
            .map_err(|e| unanswered(&self.path, e.to_string()))?;
        if n == 0 {
            return Err(unanswered(
                &self.path,
                "the server closed the connection without answering",
            ));
        }
        serde_json::from_str(line.trim_end())
            .map_err(|e| socket_err(&self.path, format!("unreadable reply: {e}")))
    }

    pub async fn request(&mut self, op: &Op, timeout: Duration) -> Result<Reply, DaemonError> {
        self.send(op, timeout).await?;
        self.receive(timeout).await
    }
}

fn socket_err(path: &Path, message: impl Into<String>) -> DaemonError {
    DaemonError::Socket {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn unanswered(path: &Path, message: impl Into<String>) -> DaemonError {
    DaemonError::Unanswered {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Connects, sends one op and returns its reply.
pub async fn request(path: &Path, op: &Op) -> Result<Reply, DaemonError> {
    let mut c = Client::connect(path, CONNECT_TIMEOUT).await?;
    c.request(op, REQUEST_TIMEOUT).await
}

/// `(pid, listen)` of the server answering on `path`, or `None` when nothing answers.
pub async fn ping(path: &Path) -> Option<(u32, Option<String>)> {
    let mut c = Client::connect(path, CONNECT_TIMEOUT).await.ok()?;
    match c.request(&Op::Ping, PING_TIMEOUT).await {
        Ok(Reply::Pong { listen, pid }) => Some((pid, listen)),
        _ => None,
    }
}
