//! `config.toml`, live: the running server looks at the file every [`POLL`] and puts a changed
//! one in force (what [`crate::config::live`] says applies at once), or, when it no longer
//! parses, keeps the settings in force and logs one line naming the key and the line.
//!
//! Polling rather than file notifications: editors save by writing a new file and renaming it
//! over the old one (a new inode a watch on the file would miss), the home may sit on a file
//! system without notifications, and reading a few kilobytes four times a second costs
//! nothing. A change is acted on once two looks in a row saw the same bytes, so a file caught
//! half-written is not reported as broken. `alias set` and `status` ask through the admin
//! socket ([`ConfigWatch::check`] with `settle: false`), which acts at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::state::State;
use super::telemetry::LogControl;
use crate::config::live::{self, ConfigState};
use crate::config::{Config, env};

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(250);

pub struct ConfigWatch {
    path: PathBuf,
    state: Arc<State>,
    log: LogControl,
    /// The config the server started with: keys only a restart reads keep its values.
    started: Config,
    seen: tokio::sync::Mutex<Seen>,
}

struct Seen {
    /// The bytes last acted on (`None`: the file was missing).
    acted: Option<Option<Vec<u8>>>,
    /// The bytes of the previous look, when they differed from `acted`.
    pending: Option<Option<Vec<u8>>>,
    state: ConfigState,
}

impl ConfigWatch {
    /// Watches `path` for a server that started with `started` (env overrides applied).
    pub fn new(path: PathBuf, state: Arc<State>, log: LogControl, started: Config) -> ConfigWatch {
        ConfigWatch {
            path,
            state,
            log,
            started,
            seen: tokio::sync::Mutex::new(Seen {
                acted: None,
                pending: None,
                state: ConfigState {
                    in_force: true,
                    ..ConfigState::default()
                },
            }),
        }
    }

    /// Looks at the file until `cancel` fires.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            self.check(true).await;
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Reads the file and, when it changed since it was last acted on, puts it in force (or
    /// reports why not). `settle`: act only on bytes the previous look saw too.
    pub async fn check(&self, settle: bool) -> ConfigState {
        let mut seen = self.seen.lock().await;
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::debug!("cannot read {}: {e}", self.path.display());
                return seen.state.clone();
            }
        };
        if seen.acted.as_ref() == Some(&bytes) {
            seen.pending = None;
            return seen.state.clone();
        }
        if settle && seen.pending.as_ref() != Some(&bytes) {
            seen.pending = Some(bytes);
            return seen.state.clone();
        }
        seen.pending = None;
        let state = self.act(bytes.as_deref(), &seen.state);
        seen.acted = Some(bytes);
        seen.state = state.clone();
        state
    }

    fn act(&self, bytes: Option<&[u8]>, before: &ConfigState) -> ConfigState {
        let name = self.path.display();
        let parsed = match bytes {
            None => Err("the file is missing".to_string()),
            Some(b) => std::str::from_utf8(b)
                .map_err(|_| "the file is not UTF-8 text".to_string())
                .and_then(live::parse),
        };
        // The environment overrides the file as it did at start.
        let file = parsed.and_then(|mut file| {
            env::apply_overrides(&mut file, |name| std::env::var(name).ok())?;
            self.log.check(&file.log)?;
            Ok(file)
        });
        let file = match file {
            Ok(f) => f,
            Err(error) => {
                tracing::error!("{name} not applied, the settings in force stay: {error}");
                return ConfigState {
                    in_force: false,
                    error: Some(error),
                    needs_restart: before.needs_restart.clone(),
                };
            }
        };
        let next = live::in_force(&self.started, &file);
        let changed = live::differences(&self.state.config(), &next);
        let log_changed = self.log.apply(&next.log);
        if !changed.is_empty() {
            self.state.set_config(next);
            tracing::info!("{name} reloaded: {}", summary(&changed));
        } else if log_changed {
            tracing::info!("{name} reloaded: log");
        }
        let needs_restart = live::needs_restart(&self.started, &file);
        if !needs_restart.is_empty() && needs_restart != before.needs_restart {
            tracing::warn!(
                "{name}: {} changed; the server applies it when it restarts \
                 (llm-gateway server stop, then server start)",
                summary(&needs_restart)
            );
        }
        if !before.in_force && changed.is_empty() {
            tracing::info!("{name} is valid again and in force");
        }
        ConfigState {
            in_force: true,
            error: None,
            needs_restart,
        }
    }
}

/// `a, b, c` for a log line, shortened past a few keys.
fn summary(keys: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = keys
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > SHOWN {
        s.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    s
}
