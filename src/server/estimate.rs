//! The local token estimate behind `count_tokens` / `:countTokens`, bounded in time and memory
//! whatever the client sends.
//!
//! tiktoken's `o200k_base` counts the text exactly as before for ordinary requests. Three
//! bounds keep a hostile body from turning one request into seconds of CPU and gigabytes of
//! memory, or into a panic:
//! * **Long runs are cut** ([`segments`]): the tokenizer's regex makes one piece of a run of
//!   letters, of punctuation or of whitespace, and BPE on one piece costs ~56 bytes of memory per
//!   byte (a 30 MiB word took 1.8 GB), while a run of ~1,000,000 spaces overflows fancy-regex's
//!   backtracking stack, which tiktoken unwraps into a panic. Runs longer than [`MAX_RUN`] are
//!   handed over in pieces of at most that size; nothing shorter is touched, so ordinary text
//!   counts exactly as one call over the whole text would.
//! * **Big texts are sampled** ([`count_text`]): beyond [`EXACT_BYTES`], evenly spaced windows
//!   of that much text in all are counted and the ratio scaled to the whole length.
//! * **Few estimates run at once** ([`permit`]): one per core; others queue for up to
//!   [`QUEUE_WAIT`], then get a 503 (see [`permit`] for why not a 429).

use std::sync::OnceLock;
use std::time::Duration;

use tiktoken_rs::CoreBPE;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::{ErrorKind, GatewayError};

/// Texts up to this many bytes are counted exactly (a 200k-token conversation is ~800 KB);
/// longer ones are estimated from samples of this many bytes in all.
pub const EXACT_BYTES: usize = 1 << 20;

/// How many evenly spaced windows a sampled estimate reads.
const SAMPLES: usize = 16;

/// The longest run of whitespace, or of characters that are neither whitespace nor digits,
/// given to the tokenizer in one piece. Far above any word or indentation in real text, far
/// below the ~500,000 spaces where fancy-regex's backtracking starts to overflow.
pub const MAX_RUN: usize = 4096;

/// How long an estimate may wait for a free slot before the client is told to retry.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

fn bpe() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

/// The estimated tokens of `text`.
pub fn count_text(text: &str) -> u64 {
    let Some(bpe) = bpe() else {
        // Without the tokenizer (it cannot fail to load in practice), about 4 bytes a token.
        return text.len() as u64 / 4;
    };
    if text.len() <= EXACT_BYTES {
        return count_exact(bpe, text);
    }
    let window = EXACT_BYTES / SAMPLES;
    let stride = text.len() / SAMPLES;
    let (mut tokens, mut sampled) = (0u64, 0u64);
    for i in 0..SAMPLES {
        let start = floor_char_boundary(text, i * stride);
        let end = floor_char_boundary(text, start + window);
        let Some(sample) = text.get(start..end) else {
            continue;
        };
        tokens += count_exact(bpe, sample);
        sampled += sample.len() as u64;
    }
    if sampled == 0 {
        return text.len() as u64 / 4;
    }
    let scaled = u128::from(tokens) * text.len() as u128 / u128::from(sampled);
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

fn count_exact(bpe: &CoreBPE, text: &str) -> u64 {
    segments(text, MAX_RUN)
        .map(|s| bpe.encode_ordinary(s).len() as u64)
        .sum()
}

/// The largest char boundary of `s` at or below `at` (`str::floor_char_boundary` is newer than
/// the crate's minimum Rust).
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// What the tokenizer's regex can put in one piece: a run of whitespace, or of anything but
/// whitespace and digits (digits go in pieces of at most three).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Digit,
    Other,
}

impl Class {
    fn of(c: char) -> Class {
        if c.is_whitespace() {
            Class::Space
        } else if c.is_numeric() {
            Class::Digit
        } else {
            Class::Other
        }
    }
}

/// `text` in consecutive slices, cut only inside runs of one [`Class`] (digits aside) longer
/// than `max_run` bytes, every `max_run` bytes of such a run: no regex piece of a slice is then
/// longer than `max_run` plus the one character some pieces take in front.
pub fn segments(text: &str, max_run: usize) -> impl Iterator<Item = &str> {
    let mut chars = text.char_indices();
    let mut seg_start = 0;
    let mut run_start = 0;
    let mut run_class = None;
    std::iter::from_fn(move || {
        if seg_start >= text.len() {
            return None;
        }
        for (i, c) in chars.by_ref() {
            let class = Class::of(c);
            if run_class != Some(class) {
                run_class = Some(class);
                run_start = i;
            } else if class != Class::Digit && i + c.len_utf8() - run_start > max_run {
                run_start = i;
                if i > seg_start {
                    let seg = text.get(seg_start..i);
                    seg_start = i;
                    return seg;
                }
            }
        }
        let seg = text.get(seg_start..);
        seg_start = text.len();
        seg
    })
}

/// A slot to run one estimate in: one per core, so that estimates never take every thread
/// of the blocking pool or all the CPU. A request that waits longer than [`QUEUE_WAIT`] gets a
/// 503 with `retry-after` (Anthropic clients: 529 `overloaded_error`), not a 429: the client is
/// within its limits, the gateway is momentarily busy, and every SDK retries both.
pub async fn permit() -> Result<SemaphorePermit<'static>, GatewayError> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    });
    match tokio::time::timeout(QUEUE_WAIT, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        // Timed out, or closed (never: the semaphore is not closed).
        _ => Err(GatewayError::new(
            ErrorKind::Overloaded,
            "the gateway is busy counting tokens for other requests; retry shortly",
        )
        .with_retry_after(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_whole(text: &str) -> u64 {
        bpe().unwrap().encode_ordinary(text).len() as u64
    }

    #[test]
    fn ordinary_text_counts_as_one_call_would() {
        let texts = [
            String::new(),
            "hello there".to_string(),
            r#"[{"role":"user","content":"What is 12345 + 678?\n\tIndented   spaces  "}]"#
                .to_string(),
            "中文文本，没有空格。".repeat(50),
            format!("{}1{}", " ".repeat(MAX_RUN), "é".repeat(MAX_RUN / 2)),
            "The quick brown fox jumps over the lazy dog. ".repeat(2000),
        ];
        for t in &texts {
            assert_eq!(
                segments(t, MAX_RUN).count(),
                usize::from(!t.is_empty()),
                "{t:.40}"
            );
            assert_eq!(count_text(t), exact_whole(t), "{t:.40}");
        }
    }

    #[test]
    fn segments_cover_the_text_and_bound_every_run() {
        let t = format!(
            "ab {} cd{}12{}\n{}",
            " ".repeat(10_000),
            "x".repeat(9_000),
            "!".repeat(5_000),
            "9".repeat(20_000)
        );
        let segs: Vec<&str> = segments(&t, 1000).collect();
        assert_eq!(segs.concat(), t);
        for s in &segs {
            let longest = s
                .split(|c: char| c.is_whitespace() || c.is_numeric())
                .map(str::len)
                .max()
                .unwrap_or(0);
            assert!(longest <= 1000, "{longest}");
            let spaces = s
                .split(|c: char| !c.is_whitespace())
                .map(str::len)
                .max()
                .unwrap_or(0);
            assert!(spaces <= 1000, "{spaces}");
        }
        // Multi-byte characters are never split.
        let wide = "€".repeat(3_000);
        assert!(segments(&wide, 1000).all(|s| s.len() <= 1000));
    }

    /// A run of a million spaces made tiktoken panic (fancy-regex's backtracking overflowed).
    #[test]
    fn a_million_spaces_do_not_panic() {
        let text = format!("[\"{}\"]", " ".repeat(1_000_000));
        let n = count_text(&text);
        assert!(n > 0 && n < 20_000, "{n}");
    }

    #[test]
    fn big_texts_are_sampled_close_to_the_exact_count() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(EXACT_BYTES / 20);
        let exact = exact_whole(&text);
        let sampled = count_text(&text);
        let diff = exact.abs_diff(sampled);
        assert!(diff * 100 < exact, "{exact} vs {sampled}");
    }
}
