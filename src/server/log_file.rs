//! [`LogFile`]: the log file, appended owner-only (0600) and rotated by size. Before a line
//! would take it past `max_size`, `gateway.log.<keep-1>` becomes `gateway.log.<keep>` (the one
//! there dropped), ..., `gateway.log` becomes `gateway.log.1`, and a new `gateway.log` is
//! opened. It is the `tracing` writer: the fmt layer formats each event into one line and
//! writes it with one `write_all`, which [`LogFile`] takes whole, under its lock, so a line is
//! never split across two files, interleaved with another, or lost to a rotation.
//!
//! A detached server's stdout and stderr are the log file too (for what it prints before its
//! logging is up, or a panic): when they are the very file opened here, they are pointed at
//! each new file, so that such output lands in the current log rather than in a rotated one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

pub struct LogFile {
    path: PathBuf,
    /// 0: never rotate.
    max_size: u64,
    keep: u32,
    /// Which of stdout and stderr were this file when it was opened.
    follow: Follow,
    current: Mutex<Current>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Follow {
    stdout: bool,
    stderr: bool,
}

struct Current {
    file: File,
    /// Bytes in `file`: what it held when opened plus what was written since.
    size: u64,
}

impl LogFile {
    /// Opens (creating owner-only) `path` for appending.
    pub fn open(path: &Path, max_size: u64, keep: u32) -> io::Result<LogFile> {
        let file = open_append(path)?;
        let meta = file.metadata()?;
        let follow = Follow {
            stdout: is_file(io::stdout().as_fd(), &meta),
            stderr: is_file(io::stderr().as_fd(), &meta),
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            max_size,
            keep,
            follow,
            current: Mutex::new(Current {
                file,
                size: meta.len(),
            }),
        })
    }

    /// Writes `line` whole to the current file, rotating first when it would not fit. A line
    /// longer than `max_size` goes whole into a file of its own.
    fn write_line(&self, line: &[u8]) -> io::Result<()> {
        let mut current = self.lock();
        let len = line.len() as u64;
        if self.max_size > 0 && current.size > 0 && current.size.saturating_add(len) > self.max_size
        {
            self.rotate(&mut current);
        }
        current.file.write_all(line)?;
        current.size = current.size.saturating_add(len);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        // A panic while holding the lock cannot leave `Current` half-updated in a way that
        // matters: at worst the size is off by one line.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// On failure (a full disk, a read-only folder) the lines go on to the file in hand, and
    /// the next try comes after another `max_size` bytes rather than on every line.
    fn rotate(&self, current: &mut Current) {
        current.size = 0;
        if let Ok(file) = self.shift_and_reopen() {
            point_stdio_at(&file, self.follow);
            current.file = file;
        }
    }

    fn shift_and_reopen(&self) -> io::Result<File> {
        if self.keep == 0 {
            ignore_missing(fs::remove_file(&self.path))?;
        } else {
            for n in (1..self.keep).rev() {
                ignore_missing(fs::rename(self.numbered(n), self.numbered(n + 1)))?;
            }
            ignore_missing(fs::rename(&self.path, self.numbered(1)))?;
        }
        open_append(&self.path)
    }

    /// `gateway.log.<n>`.
    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to a file created here: a log left by an older version (0644) is
    // made owner-only too, and so are the copies rotated from it.
    if file.metadata()?.mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Whether `fd` is the file `meta` describes.
fn is_file(fd: BorrowedFd<'_>, meta: &fs::Metadata) -> bool {
    let Ok(owned) = fd.try_clone_to_owned() else {
        return false;
    };
    File::from(owned)
        .metadata()
        .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}

/// Best effort: if it fails, stray output goes on to the previous (now rotated) file.
fn point_stdio_at(file: &File, follow: Follow) {
    if follow.stdout {
        let _ = rustix::stdio::dup2_stdout(file);
    }
    if follow.stderr {
        let _ = rustix::stdio::dup2_stderr(file);
    }
}

/// How the fmt layer writes an event: one `write_all` of the whole line.
impl Write for &LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_line(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Every write goes straight to the file.
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = &'a LogFile;

    fn make_writer(&'a self) -> &'a LogFile {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// The lines of the kept files, oldest first.
    fn kept_lines(path: &Path, keep: u32) -> Vec<String> {
        let log = LogFile::open(path, 0, keep).unwrap();
        let mut lines = Vec::new();
        for n in (1..=keep).rev() {
            if let Ok(text) = fs::read_to_string(log.numbered(n)) {
                lines.extend(text.lines().map(str::to_owned));
            }
        }
        lines.extend(fs::read_to_string(path).unwrap().lines().map(str::to_owned));
        lines
    }

    #[test]
    fn rotates_between_lines_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        let (max, keep) = (1000, 5);
        let log = LogFile::open(&path, max, keep).unwrap();
        let mut written = Vec::new();
        for i in 0..2000 {
            // Lines of varying length, so they never divide the limit evenly.
            let line = format!("line {i:05} {}\n", "x".repeat(i % 97));
            log.make_writer().write_all(line.as_bytes()).unwrap();
            written.push(line.trim_end_matches('\n').to_owned());
        }
        let mut expected = vec!["gateway.log".to_string()];
        expected.extend((1..=keep).map(|n| format!("gateway.log.{n}")));
        assert_eq!(files(dir.path()), expected);
        for name in &expected {
            let p = dir.path().join(name);
            let text = fs::read_to_string(&p).unwrap();
            assert!(text.len() as u64 <= max, "{name}: {} bytes", text.len());
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{name} ends mid-line"
            );
            assert!(text.lines().all(|l| l.starts_with("line ")), "{name}");
            let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        // What is kept is the newest lines, every one of them, in order.
        let kept = kept_lines(&path, keep);
        assert!(kept.len() > 5 * 10, "{}", kept.len());
        assert_eq!(kept, written[written.len() - kept.len()..]);
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        fs::write(&path, "x".repeat(90) + "\n").unwrap();
        let log = LogFile::open(&path, 100, 2).unwrap();
        log.make_writer().write_all(b"fits\n").unwrap();
        assert_eq!(files(dir.path()), ["gateway.log"]);
        log.make_writer().write_all(b"does not fit\n").unwrap();
        assert_eq!(files(dir.path()), ["gateway.log", "gateway.log.1"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), "does not fit\n");
        assert!(
            fs::read_to_string(log.numbered(1))
                .unwrap()
                .ends_with("fits\n")
        );
    }

    #[test]
    fn a_log_left_readable_by_others_is_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        fs::write(&path, "line from an older version\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let log = LogFile::open(&path, 40, 2).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        log.make_writer()
            .write_all(b"a line that fills the file past its limit\n")
            .unwrap();
        log.make_writer().write_all(b"next\n").unwrap();
        let rotated = dir.path().join("gateway.log.1");
        assert!(rotated.exists());
        assert_eq!(mode(&rotated), 0o600);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_kept_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        let log = LogFile::open(&path, 10, 1).unwrap();
        let long = "y".repeat(50) + "\n";
        for line in ["a\n", &long, "b\n"] {
            log.make_writer().write_all(line.as_bytes()).unwrap();
        }
        assert_eq!(fs::read_to_string(log.numbered(1)).unwrap(), long);
        assert_eq!(fs::read_to_string(&path).unwrap(), "b\n");
    }

    #[test]
    fn keep_zero_keeps_only_the_current_file_and_zero_size_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        let log = LogFile::open(&path, 10, 0).unwrap();
        for line in ["first line\n", "second line\n"] {
            log.make_writer().write_all(line.as_bytes()).unwrap();
        }
        assert_eq!(files(dir.path()), ["gateway.log"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), "second line\n");

        let other = dir.path().join("unbounded.log");
        let log = LogFile::open(&other, 0, 5).unwrap();
        for _ in 0..100 {
            log.make_writer().write_all(b"0123456789\n").unwrap();
        }
        assert_eq!(fs::read_to_string(&other).unwrap().len(), 1100);
    }

    #[test]
    fn events_from_many_threads_stay_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        // Room for every event across the rotations, so that all of them can be checked.
        let keep = 50;
        let log = std::sync::Arc::new(LogFile::open(&path, 4096, keep).unwrap());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_target(false)
            .with_writer(std::sync::Arc::clone(&log))
            .finish();
        let dispatch = tracing::Dispatch::new(subscriber);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let dispatch = dispatch.clone();
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..300 {
                            tracing::info!(thread = t, seq = i, "request");
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(files(dir.path()).len() > 10, "{:?}", files(dir.path()));
        let kept = kept_lines(&path, keep);
        assert_eq!(kept.len(), 4 * 300);
        for line in &kept {
            assert!(line.contains(" INFO request thread="), "{line:?}");
        }
        // Every thread's events, each whole, in the order it made them.
        for t in 0..4 {
            let seqs: Vec<u32> = kept
                .iter()
                .filter(|l| l.contains(&format!("thread={t} ")))
                .map(|l| l.rsplit("seq=").next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(seqs, (0..300).collect::<Vec<_>>(), "thread {t}");
        }
    }

    /// Tells [`stdio_child`] which file its stdout and stderr are.
    const CHILD_LOG: &str = "LLM_GATEWAY_TEST_STDIO_CHILD_LOG";

    /// The half of [`stdio_follows_the_current_file`] that runs in a process of its own
    /// (pointing stdout and stderr elsewhere would hide this test run's own output); does
    /// nothing otherwise.
    #[test]
    fn stdio_child() {
        let Some(path) = std::env::var_os(CHILD_LOG) else {
            return;
        };
        let log = LogFile::open(Path::new(&path), 100, 2).unwrap();
        assert_eq!(
            log.follow,
            Follow {
                stdout: true,
                stderr: true
            }
        );
        for _ in 0..3 {
            (&log).write_all(&[b'x'; 79]).unwrap();
            (&log).write_all(b"\n").unwrap();
        }
        io::stdout().write_all(b"stray stdout\n").unwrap();
        io::stdout().flush().unwrap();
        io::stderr().write_all(b"stray stderr\n").unwrap();
    }

    #[test]
    fn stdio_follows_the_current_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.log");
        let out = open_append(&path).unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "server::log_file::tests::stdio_child",
                "--nocapture",
            ])
            .env(CHILD_LOG, &path)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        let current = fs::read_to_string(&path).unwrap();
        assert!(status.success(), "{current}");
        assert!(current.contains("stray stdout\n"), "{current}");
        assert!(current.contains("stray stderr\n"), "{current}");
        let rotated = fs::read_to_string(dir.path().join("gateway.log.1")).unwrap();
        assert!(!rotated.contains("stray"), "{rotated}");

        // This test's own stdout and stderr are not the file: left alone.
        let log = LogFile::open(&path, 100, 2).unwrap();
        assert_eq!(log.follow, Follow::default());
    }
}
