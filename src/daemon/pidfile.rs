//! The pid file (`<home>/server.pid`), held under an exclusive `flock` for the server's
//! lifetime. The lock, not the file's existence, says whether a server runs: a crashed server
//! leaves a file nobody holds, and the next `acquire` simply takes it over. Contents are JSON
//! `{pid, listen}` for `server status` and for the "already running" message.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DaemonError, RunningInfo};
use crate::config::paths::Home;

#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    pid: u32,
    listen: Option<String>,
}

/// A brief `read` holds a shared lock; `acquire` waits this long before believing a holder.
const CONTENDED_WAIT: Duration = Duration::from_millis(500);
const STEP: Duration = Duration::from_millis(25);

/// The held pid file: the lock is released and the file removed on drop.
#[derive(Debug)]
pub struct PidFile {
    file: File,
    path: PathBuf,
}

impl PidFile {
    /// Takes the lock and writes this process's pid and listen address, or reports the
    /// server that holds it ([`DaemonError::AlreadyRunning`]).
    pub fn acquire(home: &Home, listen: &str) -> Result<PidFile, DaemonError> {
        let path = home.pid_file();
        let io = |e: std::io::Error| DaemonError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        home.ensure().map_err(io)?;
        let mut waited = Duration::ZERO;
        let mut relinked = 0;
        loop {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    // A previous holder may have unlinked the file between our open and our
                    // lock; a lock on an unlinked inode guards nothing, so start over.
                    if !same_file(&file, &path) {
                        relinked += 1;
                        if relinked > 20 {
                            return Err(io(std::io::Error::other(
                                "the pid file keeps being replaced",
                            )));
                        }
                        continue;
                    }
                    file.set_permissions(fs::Permissions::from_mode(0o600))
                        .map_err(io)?;
                    let contents = Contents {
                        pid: std::process::id(),
                        listen: Some(listen.to_owned()),
                    };
                    let json =
                        serde_json::to_vec(&contents).map_err(|e| io(std::io::Error::other(e)))?;
                    file.set_len(0).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    file.write_all(&json).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    return Ok(PidFile { file, path });
                }
                Err(TryLockError::WouldBlock) => {
                    if waited >= CONTENDED_WAIT {
                        let pid = read_contents(&mut file).map(|c| c.pid).unwrap_or(0);
                        return Err(DaemonError::AlreadyRunning { pid });
                    }
                    std::thread::sleep(STEP);
                    waited += STEP;
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove while still holding the lock; the lock goes with the descriptor right after.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn read_contents(file: &mut File) -> Option<Contents> {
    let mut buf = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(4096).read_to_string(&mut buf).ok()?;
    serde_json::from_str(&buf).ok()
}

/// The server recorded in the pid file, only if some process holds its lock right now.
/// Blocks for at most a few tens of milliseconds.
pub fn read(home: &Home) -> Option<RunningInfo> {
    let mut file = File::open(home.pid_file()).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it: whatever the file says is stale.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => {
            // A server that has just taken the lock may not have written yet.
            for _ in 0..8 {
                if let Some(c) = read_contents(&mut file) {
                    return Some(RunningInfo {
                        pid: c.pid,
                        listen: c.listen,
                    });
                }
                std::thread::sleep(STEP);
            }
            Some(RunningInfo {
                pid: 0,
                listen: None,
            })
        }
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_reports_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(&dir.path().join("h"));
        assert_eq!(read(&home), None);
        let held = PidFile::acquire(&home, "127.0.0.1:3847").unwrap();
        let mode = fs::metadata(held.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        match PidFile::acquire(&home, "127.0.0.1:9") {
            Err(DaemonError::AlreadyRunning { pid }) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read(&home),
            Some(RunningInfo {
                pid: std::process::id(),
                listen: Some("127.0.0.1:3847".into()),
            })
        );
        drop(held);
        assert!(!home.pid_file().exists());
        assert_eq!(read(&home), None);
        let again = PidFile::acquire(&home, "127.0.0.1:1").unwrap();
        drop(again);
    }

    #[test]
    fn stale_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(&dir.path().join("h"));
        home.ensure().unwrap();
        // What a crashed server leaves: contents, no lock.
        fs::write(home.pid_file(), r#"{"pid":999999,"listen":"127.0.0.1:1"}"#).unwrap();
        assert_eq!(read(&home), None);
        let held = PidFile::acquire(&home, "127.0.0.1:2").unwrap();
        assert_eq!(read(&home).unwrap().listen.as_deref(), Some("127.0.0.1:2"));
        drop(held);
    }
}
