#!/usr/bin/env bash
# Installs the real clients the end-to-end tests (tests/e2e) drive, into target/e2e:
#   target/e2e/node   Claude Code, Gemini CLI and Codex CLI from npm (Codex's platform binary
#                     comes as an optional dependency of @openai/codex)
#   target/e2e/venv   the openai, anthropic and google-genai Python SDKs from PyPI
#   /usr/bin/chromium Debian's chromium, for the browser CORS test, and zsh and fish for the
#                     completion tests (installed when run as root with apt-get; otherwise those
#                     tests print a skip notice)
# Idempotent and quiet: a second run with the same pins does nothing. Prints the paths on stdout.
# Versions are pinned so a client release cannot break CI overnight; override with the variables
# below to try a newer one.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
GEMINI_CLI_VERSION="${GEMINI_CLI_VERSION:-0.61.0}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
PY_PACKAGES="${E2E_PY_PACKAGES:-openai==2.54.0 anthropic==0.125.0 google-genai==2.34.0}"

dir="${LLM_GATEWAY_E2E_DIR:-$PWD/target/e2e}"
node_dir="$dir/node"
venv="$dir/venv"
log="$dir/deps.log"
mkdir -p "$dir"
: >"$log"

fail() {
    echo "e2e-deps: $1 (details in $log)" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
}

for tool in node npm python3; do
    command -v "$tool" >/dev/null || { echo "e2e-deps: $tool is required but not on PATH" >&2; exit 1; }
done

# npm: one stamp per pin pair; reinstall only when the pins change or a binary is missing.
stamp="$node_dir/.pins"
want="claude-code@$CLAUDE_CODE_VERSION gemini-cli@$GEMINI_CLI_VERSION codex@$CODEX_VERSION"
if [[ ! -x "$node_dir/node_modules/.bin/claude" || ! -x "$node_dir/node_modules/.bin/gemini" \
      || ! -x "$node_dir/node_modules/.bin/codex" \
      || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-audit --no-fund --no-update-notifier --loglevel=error \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@google/gemini-cli@$GEMINI_CLI_VERSION" \
        "@openai/codex@$CODEX_VERSION" \
        >>"$log" 2>&1 || fail "npm install of the clients failed"
    echo "$want" >"$stamp"
fi
"$node_dir/node_modules/.bin/claude" --version >>"$log" 2>&1 || fail "claude does not run"
"$node_dir/node_modules/.bin/gemini" --version >>"$log" 2>&1 || fail "gemini does not run"
# The launcher script alone runs without the platform package (an optional dependency npm may
# skip): `--version` goes through to the native binary, so this checks both.
"$node_dir/node_modules/.bin/codex" --version >>"$log" 2>&1 || fail "codex does not run"

# Python: a venv with the three SDKs; the stamp holds the requirement line.
pystamp="$venv/.pins"
if [[ ! -x "$venv/bin/python" || "$(cat "$pystamp" 2>/dev/null)" != "$PY_PACKAGES" ]]; then
    python3 -m venv "$venv" >>"$log" 2>&1 || fail "python3 -m venv failed"
    read -ra reqs <<<"$PY_PACKAGES"
    "$venv/bin/python" -m pip install --quiet "${reqs[@]}" \
        >>"$log" 2>&1 || fail "pip install of the SDKs failed"
    echo "$PY_PACKAGES" >"$pystamp"
fi
"$venv/bin/python" -c 'import openai, anthropic, google.genai' >>"$log" 2>&1 \
    || fail "the Python SDKs do not import"

# System packages (Debian's, so only as root; the tests that need them skip without them):
# chromium for the browser CORS test, zsh and fish for the completion tests in real shells.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
if (( ${#missing[@]} )); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq >>"$log" 2>&1 || fail "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
            >>"$log" 2>&1 || fail "apt-get install ${missing[*]} failed"
    else
        echo "e2e-deps: missing ${missing[*]} (apt-get install them as root): the browser and shell-completion tests that need them will be skipped" >&2
    fi
fi

echo "claude: $node_dir/node_modules/.bin/claude"
echo "gemini: $node_dir/node_modules/.bin/gemini"
echo "codex: $node_dir/node_modules/.bin/codex"
echo "python: $venv/bin/python"
