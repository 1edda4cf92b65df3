#!/usr/bin/env bash
# The long fuzz run (src/fuzz/mod.rs): N inputs per dialect (default 10,000,000) shared by that
# dialect's targets, and N more for the dialect-free ones (SSE framing, JSON text, the fast
# path's body splicer, the usage scanner). Built in the optimised `fuzz` profile, which keeps
# overflow checks. Prints inputs/s per target and group; every distinct failure is minimised
# and written to fuzz/corpus/crashes/, which the next run (and `cargo test`) replays first.
#
#   scripts/fuzz.sh [N] [TARGET-OR-GROUP,...]
#   LLM_GATEWAY_FUZZ_SEED=123 scripts/fuzz.sh 100000 openai-stream   # repeat a run
set -euo pipefail
cd "$(dirname "$0")/.."
export LLM_GATEWAY_FUZZ_INPUTS="${1:-10000000}"
if [ $# -ge 2 ]; then
    export LLM_GATEWAY_FUZZ_TARGETS="$2"
fi
exec cargo test --locked --profile fuzz --lib fuzz::fuzz_long -- --ignored --exact --nocapture
