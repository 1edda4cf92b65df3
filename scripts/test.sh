#!/usr/bin/env bash
# The whole test suite, as README.md documents it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets
