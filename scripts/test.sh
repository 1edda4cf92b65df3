#!/usr/bin/env bash
# The whole test suite, as README.md documents it: unit and integration tests, then the OS keyring
# tests against a real Secret Service (installed from Debian's packages when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked
./scripts/keyring-test.sh
