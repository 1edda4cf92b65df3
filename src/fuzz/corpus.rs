//! The seed corpus and the crash folder.
//!
//! Seeds are the golden translation fixtures (`tests/fixtures/translate/<from>-to-<to>/*.json`):
//! a case's `input` is traffic in `<from>`'s dialect and its `expected` is traffic in `<to>`'s,
//! so each case seeds both dialects' decoders of its kind (a stream's event list is framed as
//! SSE). Claude Code's recorded request adds a large, real Anthropic body.
//!
//! Crashes go to `fuzz/corpus/crashes/<target>-<hash>.bin` (the input as it failed) and
//! `<target>-<hash>.min.bin` (the same failure, minimised); the folder is committed empty, its
//! contents ignored by git. Every later run replays what is there first.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::mutate::{Dict, DictBuilder};
use super::targets::Target;
use crate::protocol::sse::write_event;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

pub fn crash_dir() -> PathBuf {
    root().join("fuzz/corpus/crashes")
}

/// One fixture case: its directory's two dialects and the case.
struct Case {
    from: String,
    to: String,
    case: Value,
}

/// Seeds per target and the dictionary gathered from all of them.
pub struct Corpus {
    seeds: BTreeMap<&'static str, Vec<Vec<u8>>>,
    pub dict: Dict,
}

impl Corpus {
    pub fn load() -> Result<Corpus, String> {
        let cases = load_cases()?;
        let claude_code = std::fs::read(root().join("tests/fixtures/claude-code/request.json"))
            .map_err(|e| format!("claude-code fixture: {e}"))?;
        let mut seeds = BTreeMap::new();
        let mut dict = DictBuilder::default();
        for &t in Target::ALL {
            let mut s = seeds_for(t, &cases);
            if matches!(t, Target::Request(d) if d.as_str() == "anthropic")
                || t == Target::AnthropicFastParse
            {
                s.push(claude_code.clone());
            }
            s.sort();
            s.dedup();
            for input in &s {
                dict.add(t.shape(), input);
            }
            seeds.insert(t.name(), s);
        }
        Ok(Corpus {
            seeds,
            dict: dict.build(),
        })
    }

    pub fn seeds(&self, t: Target) -> &[Vec<u8>] {
        self.seeds.get(t.name()).map_or(&[], Vec::as_slice)
    }
}

fn load_cases() -> Result<Vec<Case>, String> {
    let dir = root().join("tests/fixtures/translate");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((from, to)) = name.split_once("-to-") else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| format!("{}: {e}", d.display()))?
            .filter_map(|f| f.ok().map(|f| f.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let case =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            out.push(Case {
                from: from.to_owned(),
                to: to.to_owned(),
                case,
            });
        }
    }
    if out.is_empty() {
        return Err(format!("no fixtures under {}", dir.display()));
    }
    Ok(out)
}

/// A body as its bytes: a JSON string is sent raw (an HTML error page), anything else as JSON.
fn raw(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// A fixture's list of `{"event"?, "data"}` as SSE bytes. Bedrock's stream cases name an
/// exception frame `{"exception": <type>}`: it becomes the event `exception:<type>`, which the
/// `bedrock-stream` target writes back as that frame.
fn frame(list: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for it in list.as_array()? {
        let data = match &it["data"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let exception = it["exception"].as_str().map(|t| format!("exception:{t}"));
        write_event(
            &mut out,
            exception.as_deref().or(it["event"].as_str()),
            &data,
        );
    }
    Some(out)
}

/// The traffic of `kind` in dialect `d` across all cases.
fn traffic(cases: &[Case], kind: &str, d: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for c in cases.iter().filter(|c| c.case["kind"] == kind) {
        let sides = [(&c.from, &c.case["input"]), (&c.to, &c.case["expected"])];
        for (dialect, v) in sides {
            if dialect != d || v.is_null() {
                continue;
            }
            let bytes = match kind {
                "stream" => frame(v),
                "error" => Some(raw(&v["body"])),
                _ => Some(raw(v)),
            };
            out.extend(bytes);
        }
    }
    out
}

fn seeds_for(t: Target, cases: &[Case]) -> Vec<Vec<u8>> {
    // The client dialects' SSE and JSON (Bedrock's frames are binary, its own targets').
    const DIALECTS: [&str; 4] = ["anthropic", "openai", "gemini", "responses"];
    let all = |kind: &str| -> Vec<Vec<u8>> {
        DIALECTS
            .iter()
            .flat_map(|d| traffic(cases, kind, d))
            .collect()
    };
    match t {
        Target::Request(d) => traffic(cases, "request", d.as_str()),
        Target::Response(d) => traffic(cases, "response", d.as_str()),
        Target::Stream(d) => traffic(cases, "stream", d.as_str()),
        Target::Error(d) => traffic(cases, "error", d.as_str()),
        Target::AnthropicFastParse => traffic(cases, "request", "anthropic"),
        Target::BedrockResponse => traffic(cases, "response", "bedrock"),
        Target::BedrockStream => traffic(cases, "stream", "bedrock"),
        Target::BedrockError => traffic(cases, "error", "bedrock"),
        Target::Sse => all("stream"),
        Target::JsonText => [all("request"), all("response")].concat(),
        Target::JsonBody => all("request"),
        Target::UsageScan => [all("response"), all("stream")].concat(),
    }
}

/// A short, stable name for an input.
pub fn hash(input: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Writes a failing input (and its minimised form) to `dir`; the path of the first.
pub fn save_crash(dir: &Path, t: Target, input: &[u8], minimised: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let stem = format!("{}-{}", t.name(), hash(input));
    let path = dir.join(format!("{stem}.bin"));
    std::fs::write(&path, input).ok()?;
    std::fs::write(dir.join(format!("{stem}.min.bin")), minimised).ok()?;
    Some(path)
}

/// The crash files of `t` in `dir` (the `.min.bin` forms when there are both).
pub fn saved_crashes(dir: &Path, t: Target) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{}-", t.name());
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // `anthropic-request-<hash>` but not `anthropic-request-x-...` of a longer name.
            name.strip_prefix(&prefix).is_some_and(|rest| {
                rest.len() >= 16 && rest[..16].bytes().all(|b| b.is_ascii_hexdigit())
            }) && name.ends_with(".bin")
        })
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    out.sort();
    out
}
