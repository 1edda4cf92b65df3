//! Translation micro-benchmarks (criterion).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a broken benchmark input should stop the run

fn main() {}
