//! Fuzzing that lives in the repository, on stable Rust: every decoder that raw client or
//! upstream bytes reach ([`targets`]) is fed mutants ([`mutate`]) of the golden fixtures
//! ([`corpus`]), must not panic, and must keep its round-trip property.
//!
//! Two runs share this driver:
//! * `fuzz_every_target_briefly` runs with `cargo test`: a few hundred inputs per target from a
//!   fixed seed, a few seconds in a debug build (overflow checks on).
//! * `fuzz_long` (ignored; `scripts/fuzz.sh [N]` runs it in the optimised `fuzz` profile, which
//!   keeps overflow checks): N inputs per dialect (10 M by default) shared by that dialect's
//!   targets, and N more for the dialect-free ones (`wire`), printing inputs/s per target.
//!
//! A panic (caught with `catch_unwind`, its location recorded by a quiet panic hook) or a
//! broken property is minimised and written to `fuzz/corpus/crashes/`, once per distinct
//! failure; both runs replay that folder first, so a crash stays visible until it is fixed and
//! its file deleted. Fixed crashes become unit tests next to the code they broke. What
//! `catch_unwind` cannot catch (a stack overflow aborts) is found again from the printed seed,
//! since a run is reproducible from it. Environment: `LLM_GATEWAY_FUZZ_SEED` (both runs),
//! `LLM_GATEWAY_FUZZ_INPUTS` (inputs per dialect, long run) and `LLM_GATEWAY_FUZZ_TARGETS`
//! (comma-separated target or group names, long run).

mod corpus;
mod minimise;
mod mutate;
mod targets;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use rand::Rng;

use corpus::Corpus;
use mutate::Mutator;
use targets::{Failure, Target, fuzz_one};

/// The short run's seed: fixed, so `cargo test` is deterministic.
const CI_SEED: u64 = 14;
/// Inputs per target in the short run.
const CI_INPUTS: u64 = 300;
/// The largest mutant in the short run: a debug build takes a second over a 64 KB body.
const CI_MAX_INPUT: usize = 16 * 1024;
/// Mutants kept beside the seeds to mutate further.
const POOL_EXTRA: usize = 1024;
/// The largest mutant kept: big ones make every later input slow (a mutation rarely shrinks).
const POOL_MAX_INPUT: usize = 32 * 1024;
/// Inputs taking longer than this are reported (not failed: timing is not asserted).
const SLOW: Duration = Duration::from_millis(500);

thread_local! {
    /// Set while a target runs: its panics are recorded here instead of printed.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps a caught target's panic quiet and records where it
/// was; other threads' panics (other tests) print as usual.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(Cell::get) {
                previous(info);
                return;
            }
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            PANIC.with(|p| *p.borrow_mut() = Some((at, message)));
        }));
    });
}

/// One input through `t`, a panic turned into a failure named by where it happened.
fn check(t: Target, input: &[u8]) -> Result<bool, Failure> {
    CATCHING.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| fuzz_one(t, input)));
    CATCHING.with(|c| c.set(false));
    match result {
        Ok(outcome) => outcome,
        Err(_) => {
            let (at, message) = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Err(Failure {
                kind: "panic",
                detail: format!("panic at {at}: {message}"),
            })
        }
    }
}

/// What identifies a failure across inputs: the property, or the panic's location.
fn signature(f: &Failure) -> String {
    if f.kind == "panic" {
        f.detail.split(": ").next().unwrap_or_default().to_owned()
    } else {
        f.kind.to_owned()
    }
}

/// The smallest input found that fails the way `input` did.
fn shrink(t: Target, input: &[u8], sig: &str) -> Vec<u8> {
    let same = |b: &[u8]| matches!(check(t, b), Err(f) if signature(&f) == sig);
    minimise::minimise(t.shape(), input, &same)
}

/// A distinct failure of a run.
#[derive(Debug)]
pub struct Found {
    pub target: Target,
    pub signature: String,
    pub detail: String,
    pub minimised: Vec<u8>,
    /// Inputs that failed this way.
    pub count: u64,
    pub file: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Stats {
    pub target: Target,
    pub inputs: u64,
    pub accepted: u64,
    pub elapsed: Duration,
    /// CPU time of the run's thread, where the OS tells it: on a shared machine the wall
    /// clock says more about the neighbours.
    pub cpu: Option<Duration>,
    pub found: Vec<Found>,
    pub slow: Vec<(Duration, PathBuf)>,
}

impl Stats {
    pub fn per_sec(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn per_cpu_sec(&self) -> Option<f64> {
        self.cpu
            .map(|c| self.inputs as f64 / c.as_secs_f64().max(1e-9))
    }
}

/// The calling thread's CPU time so far (Linux: the first field of its schedstat, in ns).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

pub struct Plan {
    pub inputs: u64,
    /// The largest mutant made.
    pub max_input: usize,
    pub seed: u64,
    pub crash_dir: PathBuf,
    /// Print progress every this long.
    pub progress: Option<Duration>,
}

/// Replays `t`'s saved crashes, then runs the seeds and `plan.inputs` mutants through it.
pub fn run(t: Target, corpus: &Corpus, plan: &Plan) -> Stats {
    install_hook();
    let seeds = corpus.seeds(t);
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    let mut m = Mutator::new(plan.seed ^ seed_of(t.name()), &corpus.dict, plan.max_input);
    let mut stats = Stats {
        target: t,
        inputs: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        cpu: None,
        found: Vec::new(),
        slow: Vec::new(),
    };
    let saved: Vec<Vec<u8>> = corpus::saved_crashes(&plan.crash_dir, t)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let start = Instant::now();
    let cpu_start = thread_cpu();
    let mut last_report = start;
    let total = saved.len() as u64 + seeds.len() as u64 + plan.inputs;
    for i in 0..total {
        let i = i as usize;
        let input = if i < saved.len() {
            saved[i].clone()
        } else if i < saved.len() + seeds.len() {
            seeds[i - saved.len()].clone()
        } else {
            let base = if pool.len() > seeds.len() && m.rng().random_bool(0.5) {
                m.rng().random_range(seeds.len()..pool.len())
            } else {
                m.rng().random_range(0..seeds.len().max(1))
            };
            match pool.get(base) {
                Some(b) => {
                    let b = b.clone();
                    m.mutate(&b, t.shape(), &pool)
                }
                None => Vec::new(),
            }
        };
        let began = Instant::now();
        let outcome = check(t, &input);
        let took = began.elapsed();
        stats.inputs += 1;
        if took > SLOW && stats.slow.len() < 8 {
            let path =
                plan.crash_dir
                    .join(format!("slow-{}-{}.bin", t.name(), corpus::hash(&input)));
            let _ = std::fs::create_dir_all(&plan.crash_dir);
            let _ = std::fs::write(&path, &input);
            stats.slow.push((took, path));
        }
        match outcome {
            Ok(true) if input.len() > POOL_MAX_INPUT => stats.accepted += 1,
            Ok(true) => {
                stats.accepted += 1;
                if pool.len() < seeds.len() + POOL_EXTRA {
                    pool.push(input);
                } else {
                    let slot = m.rng().random_range(seeds.len()..pool.len());
                    pool[slot] = input;
                }
            }
            Ok(false) => {}
            Err(f) => record(&mut stats, t, f, &input, plan),
        }
        if let Some(every) = plan.progress
            && last_report.elapsed() >= every
        {
            last_report = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "  {:<22} {:>10} / {} inputs, {:>8.0}/s",
                t.name(),
                stats.inputs,
                total,
                stats.inputs as f64 / secs
            );
        }
    }
    stats.elapsed = start.elapsed();
    stats.cpu = thread_cpu()
        .zip(cpu_start)
        .map(|(end, begin)| end.saturating_sub(begin));
    stats
}

fn record(stats: &mut Stats, t: Target, f: Failure, input: &[u8], plan: &Plan) {
    let sig = signature(&f);
    if let Some(known) = stats.found.iter_mut().find(|k| k.signature == sig) {
        known.count += 1;
        return;
    }
    let minimised = shrink(t, input, &sig);
    let file = corpus::save_crash(&plan.crash_dir, t, input, &minimised);
    // Told for the minimised input, which is what a reader looks at.
    let detail = match check(t, &minimised) {
        Err(small) => small.detail,
        Ok(_) => f.detail,
    };
    stats.found.push(Found {
        target: t,
        signature: sig,
        detail,
        minimised,
        count: 1,
        file,
    });
}

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    v.replace('_', "").parse().ok()
}

fn describe(found: &[Found]) -> String {
    let mut out = String::new();
    for f in found {
        let min = String::from_utf8_lossy(&f.minimised);
        out.push_str(&format!(
            "\n{} — {} ({} inputs)\n  minimised ({} bytes): {:?}\n  saved: {}\n  {}\n",
            f.target.name(),
            f.signature,
            f.count,
            f.minimised.len(),
            min.chars().take(600).collect::<String>(),
            f.file
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string()),
            f.detail
                .chars()
                .take(3000)
                .collect::<String>()
                .replace('\n', "\n  "),
        ));
    }
    out
}

fn table_row(s: &Stats) -> String {
    format!(
        "{:<22} {:>11} {:>7.1}% {:>9.1}s {:>9.0}/s {:>9.1}s {:>9.0}/s {:>4}",
        s.target.name(),
        s.inputs,
        100.0 * s.accepted as f64 / s.inputs.max(1) as f64,
        s.elapsed.as_secs_f64(),
        s.per_sec(),
        s.cpu.map_or(0.0, |c| c.as_secs_f64()),
        s.per_cpu_sec().unwrap_or(0.0),
        s.found.len()
    )
}

const TABLE_HEAD: &str =
    "target                      inputs accepted  wall time  inputs/s   cpu time  per cpu-s  bad";

/// `cargo test`'s short budget: every target, a fixed seed, a few hundred inputs each.
#[test]
fn fuzz_every_target_briefly() {
    let corpus = Corpus::load().unwrap();
    let plan = Plan {
        inputs: CI_INPUTS,
        max_input: CI_MAX_INPUT,
        seed: env_u64("LLM_GATEWAY_FUZZ_SEED").unwrap_or(CI_SEED),
        crash_dir: corpus::crash_dir(),
        progress: None,
    };
    for &t in Target::ALL {
        assert!(!corpus.seeds(t).is_empty(), "no seeds for {}", t.name());
    }
    // The targets spread over the cores (two on the CI machines).
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut all: Vec<Stats> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&t) = Target::ALL.get(i) else {
                            return mine;
                        };
                        mine.push(run(t, &corpus, &plan));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    all.sort_by_key(|s| Target::ALL.iter().position(|&t| t == s.target));
    let mut rows = vec![TABLE_HEAD.to_owned()];
    rows.extend(all.iter().map(table_row));
    eprintln!("{}", rows.join("\n"));
    let found: Vec<Found> = all.into_iter().flat_map(|s| s.found).collect();
    assert!(found.is_empty(), "seed {}:{}", plan.seed, describe(&found));
}

/// The long run (`scripts/fuzz.sh`).
#[test]
#[ignore = "long: run by scripts/fuzz.sh"]
fn fuzz_long() {
    let corpus = Corpus::load().unwrap();
    let per_group = env_u64("LLM_GATEWAY_FUZZ_INPUTS").unwrap_or(10_000_000);
    let seed = env_u64("LLM_GATEWAY_FUZZ_SEED").unwrap_or_else(|| rand::rng().random());
    let only: Vec<String> = std::env::var("LLM_GATEWAY_FUZZ_TARGETS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let chosen =
        |t: Target| only.is_empty() || only.iter().any(|o| o == t.name() || o == t.group());
    let mut groups: Vec<&str> = Target::ALL.iter().map(|t| t.group()).collect();
    groups.dedup();
    eprintln!(
        "fuzz: seed {seed}, {per_group} inputs per group ({}), crashes to {}",
        groups.join(", "),
        corpus::crash_dir().display()
    );
    let mut all = Vec::new();
    for &t in Target::ALL.iter().filter(|&&t| chosen(t)) {
        let in_group = Target::ALL
            .iter()
            .filter(|x| x.group() == t.group())
            .count() as u64;
        let plan = Plan {
            inputs: per_group / in_group.max(1),
            max_input: mutate::MAX_INPUT,
            seed,
            crash_dir: corpus::crash_dir(),
            progress: Some(Duration::from_secs(30)),
        };
        let stats = run(t, &corpus, &plan);
        eprintln!("{}", table_row(&stats));
        for (took, path) in &stats.slow {
            eprintln!("  slow input ({took:?}): {}", path.display());
        }
        if !stats.found.is_empty() {
            eprintln!("{}", describe(&stats.found));
        }
        all.push(stats);
    }
    eprintln!("\n{TABLE_HEAD}");
    for s in &all {
        eprintln!("{}", table_row(s));
    }
    for g in groups {
        let (inputs, secs, cpu) =
            all.iter()
                .filter(|s| s.target.group() == g)
                .fold((0, 0.0, 0.0), |(n, t, c), s| {
                    let cpu = s.cpu.map_or(0.0, |c| c.as_secs_f64());
                    (n + s.inputs, t + s.elapsed.as_secs_f64(), c + cpu)
                });
        if inputs > 0 {
            eprintln!(
                "{g:<22} {inputs:>11} inputs: {secs:>7.1}s wall ({:>6.0}/s), {cpu:>7.1}s cpu ({:>6.0}/s)",
                inputs as f64 / secs.max(1e-9),
                inputs as f64 / cpu.max(1e-9),
            );
        }
    }
    let found: Vec<Found> = all.into_iter().flat_map(|s| s.found).collect();
    assert!(found.is_empty(), "seed {seed}:{}", describe(&found));
}
