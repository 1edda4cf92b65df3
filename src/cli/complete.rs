//! Shell completion that knows the store: clap_complete's dynamic completion, where the shell's
//! script calls the binary back at TAB time (`COMPLETE=bash llm-gateway -- llm-gateway
//! upstream remove ''`) and the binary answers from the live state: upstream names, OAuth
//! upstreams, key names, model names and alias patterns.
//!
//! The names come from `config.toml` and the store, never the network, and never through an
//! error message: a TAB press must not print or wait. The store is peeked read-only
//! ([`crate::store::peek`]); while the server holds it, the same records come over the admin
//! socket under a short deadline. Anything that fails offers no names (subcommands and flags
//! still complete). Nothing here creates the home folder, the config or the database.
//!
//! Where it touches the rest: [`hook`] runs first in `cli::main`; the `ArgValueCandidates` in
//! the `*Args` types (and the `mut_arg` on their subcommands) name the functions below.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

use crate::config::Config;
use crate::config::paths::Home;
use crate::daemon::client::Client;
use crate::store::StoreError;
use crate::store::ops::{Op, Reply};
use crate::store::peek::{Peek, peek};
use crate::store::records::{AuthKind, UpstreamRecord};

/// The environment variable that turns a run into a completion request (clap_complete's).
pub const VAR: &str = "COMPLETE";

/// How long a TAB press may wait for the running server's answer.
const SOCKET_DEADLINE: Duration = Duration::from_millis(800);

/// Answers a completion request and exits when `COMPLETE` is set; returns otherwise.
pub fn hook() {
    clap_complete::CompleteEnv::with_factory(super::command)
        .var(VAR)
        .complete();
}

/// For `#[command(mut_arg("name", complete::names(complete::upstreams)))]` on a subcommand
/// whose argument type (`NameArg`, `ShowArgs`) is shared by several command groups.
pub fn names(of: fn() -> Vec<CompletionCandidate>) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.add(ArgValueCandidates::new(of))
}

/// What the candidates are drawn from, read once per process.
#[derive(Default)]
struct State {
    peek: Peek,
    aliases: Vec<(String, String)>,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| load(&std::env::args_os().collect::<Vec<_>>()))
}

fn load(args: &[OsString]) -> State {
    let Ok(home) = Home::resolve(home_flag(args).as_deref()) else {
        return State::default();
    };
    let aliases = Config::load(&home.config())
        .map(|c| c.aliases.into_iter().collect())
        .unwrap_or_default();
    let peek = match peek(&home.database()) {
        Ok(p) => p,
        Err(StoreError::Locked { .. }) => from_server(&home.admin_socket()).unwrap_or_default(),
        Err(_) => Peek::default(),
    };
    State { peek, aliases }
}

/// The `--home DIR` (or `--home=DIR`) on the line being completed, with a leading `~/` as the
/// shell would expand it (completion sees the words as typed).
fn home_flag(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    let mut found = None;
    while let Some(a) = it.next() {
        if a == "--home" {
            found = it.next().map(|v| v.into_owned());
        } else if let Some(v) = a.strip_prefix("--home=") {
            found = Some(v.to_string());
        }
    }
    let raw = found.filter(|v| !v.is_empty())?;
    match (raw.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Some(Path::new(&home).join(rest)),
        _ => Some(PathBuf::from(raw)),
    }
}

/// The upstreams and keys from the running server, or `None` when it does not answer in time.
fn from_server(socket: &Path) -> Option<Peek> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let ask = async {
            let mut c = Client::connect(socket, SOCKET_DEADLINE).await.ok()?;
            let upstreams = match c.request(&Op::UpstreamList, SOCKET_DEADLINE).await.ok()? {
                Reply::Upstreams { records } => records,
                _ => return None,
            };
            let keys = match c.request(&Op::KeyList, SOCKET_DEADLINE).await.ok()? {
                Reply::Keys { records } => records,
                _ => return None,
            };
            Some(Peek { upstreams, keys })
        };
        tokio::time::timeout(SOCKET_DEADLINE, ask)
            .await
            .ok()
            .flatten()
    })
}

fn candidate(value: &str, help: String) -> CompletionCandidate {
    CompletionCandidate::new(value).help(Some(help.into()))
}

fn upstream_help(u: &UpstreamRecord) -> String {
    let state = if u.enabled { "" } else { ", disabled" };
    format!("{} upstream{state}", u.provider)
}

/// Every upstream (`upstream show|remove|enable|disable|test`).
pub fn upstreams() -> Vec<CompletionCandidate> {
    upstream_candidates(&state().peek, |_| true)
}

/// The OAuth upstreams (`oauth status|refresh|logout`).
pub fn oauth_upstreams() -> Vec<CompletionCandidate> {
    upstream_candidates(&state().peek, |u| u.auth == AuthKind::Oauth)
}

fn upstream_candidates(
    peek: &Peek,
    keep: impl Fn(&UpstreamRecord) -> bool,
) -> Vec<CompletionCandidate> {
    peek.upstreams
        .iter()
        .filter(|u| keep(u))
        .map(|u| candidate(&u.name, upstream_help(u)))
        .collect()
}

/// Every gateway key (`apikey show|revoke|disable|enable`).
pub fn keys() -> Vec<CompletionCandidate> {
    key_candidates(&state().peek)
}

fn key_candidates(peek: &Peek) -> Vec<CompletionCandidate> {
    peek.keys
        .iter()
        .map(|k| {
            let state = match (k.revoked, k.enabled) {
                (true, _) => "revoked",
                (false, false) => "disabled",
                (false, true) => "active",
            };
            candidate(&k.name, format!("key {}…, {state}", k.prefix))
        })
        .collect()
}

/// What a client may ask for (`launch --model`): the upstreams' models, bare and as
/// `UPSTREAM/MODEL`, and the alias patterns that name one model (no `*`).
pub fn models() -> Vec<CompletionCandidate> {
    let s = state();
    let mut out = upstream_models(&s.peek);
    out.extend(
        s.aliases
            .iter()
            .filter(|(pattern, _)| !pattern.contains('*'))
            .map(|(pattern, target)| candidate(pattern, format!("alias for {target}"))),
    );
    out
}

/// An upstream's model (`alias set PATTERN TARGET`, `upstream test --model`): no aliases, as
/// they do not chain.
pub fn targets() -> Vec<CompletionCandidate> {
    upstream_models(&state().peek)
}

fn upstream_models(peek: &Peek) -> Vec<CompletionCandidate> {
    let mut enabled: Vec<&UpstreamRecord> = peek.upstreams.iter().filter(|u| u.enabled).collect();
    enabled.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    let mut bare: Vec<CompletionCandidate> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut prefixed = Vec::new();
    for u in &enabled {
        for m in &u.models {
            if seen.insert(m.as_str()) {
                bare.push(candidate(m, format!("on {}", u.name)));
            }
            prefixed.push(candidate(
                &format!("{}/{m}", u.name),
                format!("only on {}", u.name),
            ));
        }
    }
    bare.extend(prefixed);
    bare
}

/// The patterns in `[aliases]` (`alias remove`, and `alias set` to replace one).
pub fn aliases() -> Vec<CompletionCandidate> {
    state()
        .aliases
        .iter()
        .map(|(pattern, target)| candidate(pattern, format!("-> {target}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::store::records::ApiKeyRecord;

    fn values(c: &[CompletionCandidate]) -> Vec<String> {
        c.iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn home_from_the_line_being_completed() {
        let line = os(&["lg", "--", "lg", "--home", "/h", "upstream", "remove", ""]);
        assert_eq!(home_flag(&line), Some(PathBuf::from("/h")));
        let line = os(&["lg", "--", "lg", "upstream", "--home=/x", "remove", ""]);
        assert_eq!(home_flag(&line), Some(PathBuf::from("/x")));
        assert_eq!(home_flag(&os(&["lg", "--", "lg", "upstream", ""])), None);
        // Still being typed: no value yet.
        assert_eq!(home_flag(&os(&["lg", "--", "lg", "--home"])), None);
        if let Some(h) = std::env::var_os("HOME") {
            let line = os(&["lg", "--", "lg", "--home", "~/gw", "upstream", ""]);
            assert_eq!(home_flag(&line), Some(Path::new(&h).join("gw")));
        }
    }

    #[test]
    fn models_bare_first_then_by_upstream() {
        let a = UpstreamRecord {
            models: vec!["m1".into(), "m2".into()],
            priority: 2,
            ..UpstreamRecord::sample("a", ProviderKind::Openai)
        };
        let b = UpstreamRecord {
            models: vec!["m1".into()],
            priority: 1,
            ..UpstreamRecord::sample("b", ProviderKind::Gemini)
        };
        let off = UpstreamRecord {
            models: vec!["hidden".into()],
            enabled: false,
            ..UpstreamRecord::sample("off", ProviderKind::Openai)
        };
        let peek = Peek {
            upstreams: vec![a, b, off],
            keys: Vec::new(),
        };
        assert_eq!(
            values(&upstream_models(&peek)),
            ["m1", "m2", "b/m1", "a/m1", "a/m2"]
        );
        assert_eq!(
            values(&upstream_candidates(&peek, |_| true)),
            ["a", "b", "off"]
        );
        assert!(upstream_candidates(&peek, |u| u.auth == AuthKind::Oauth).is_empty());
    }

    #[test]
    fn keys_with_their_state() {
        let key = |name: &str, enabled, revoked| ApiKeyRecord {
            name: name.into(),
            prefix: "lgw_ab12".into(),
            hash: String::new(),
            rpm: None,
            models: Vec::new(),
            enabled,
            revoked,
            created_at: 0,
            last_used_at: None,
        };
        let peek = Peek {
            upstreams: Vec::new(),
            keys: vec![key("laptop", true, false), key("old", true, true)],
        };
        let c = key_candidates(&peek);
        assert_eq!(values(&c), ["laptop", "old"]);
        let help = c[1].get_help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains("revoked"), "{help}");
    }
}
