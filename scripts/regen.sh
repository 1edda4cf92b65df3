#!/usr/bin/env bash
# Regenerates the committed shell completions (completions/) and man pages (man/) from the clap
# definitions. A test (tests/cli/generated.rs) fails when they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --locked --bin llm-gateway
bin=target/debug/llm-gateway

mkdir -p completions man
"$bin" completions bash --static > completions/llm-gateway.bash
"$bin" completions zsh --static > completions/llm-gateway.zsh
"$bin" completions fish --static > completions/llm-gateway.fish
"$bin" completions elvish --static > completions/llm-gateway.elv
"$bin" completions powershell --static > completions/llm-gateway.ps1

# Remove pages of subcommands that no longer exist.
rm -f man/*.1
"$bin" man --out man 2>/dev/null
echo "regenerated completions/ and man/"
