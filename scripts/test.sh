#!/usr/bin/env bash
# The whole test suite, as README.md documents it: unit and integration tests (with the real
# clients of tests/e2e, installed by scripts/e2e-deps.sh), then the OS keyring tests against a real
# Secret Service (installed from Debian's packages when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export LLM_GATEWAY_E2E_DIR="${LLM_GATEWAY_E2E_DIR:-$PWD/target/e2e}"; ./scripts/e2e-deps.sh
cargo test --locked
./scripts/keyring-test.sh
