#!/usr/bin/env bash
# Builds and installs llm-gateway, its man pages and the completion script for your shell.
# Safe to run again: every step overwrites its own previous result and nothing else.
#
#   ./install.sh                  # into ~/.local (bin/, share/man/man1/)
#   ./install.sh --prefix /opt/x  # or PREFIX=/opt/x ./install.sh
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--prefix DIR]

Builds llm-gateway with cargo and installs:
  DIR/bin/llm-gateway
  DIR/share/man/man1/llm-gateway*.1
  the completion script for your shell ($SHELL: bash, zsh or fish)

DIR comes from --prefix, else $PREFIX, else ~/.local.
EOF
}

prefix="${PREFIX:-$HOME/.local}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

command -v cargo >/dev/null 2>&1 || {
    echo "install.sh: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 1
}

cd "$(dirname "$0")"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
bin="$prefix/bin/llm-gateway"

echo "==> building and installing llm-gateway into $prefix/bin"
cargo install --path . --locked --root "$prefix"

man_dir="$prefix/share/man/man1"
mkdir -p "$man_dir"
rm -f "$man_dir"/llm-gateway*.1
"$bin" man --out "$man_dir" 2>/dev/null
echo "==> installed man pages into $man_dir"

shell_name="$(basename "${SHELL:-}")"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
config_home="${XDG_CONFIG_HOME:-$HOME/.config}"
completion_note=""
# Each shell gets a small file that asks the installed binary for its completion script when the
# shell first completes llm-gateway, so the script always matches the binary (the protocol
# between them is clap_complete's and may change between versions), and names complete from the
# store at TAB time.
case "$shell_name" in
    bash)
        dir="$data_home/bash-completion/completions"
        mkdir -p "$dir"
        printf '# llm-gateway completion (install.sh): the binary writes the script itself.\nsource <(%q completions bash)\n' \
            "$bin" > "$dir/llm-gateway"
        echo "==> installed bash completions into $dir/llm-gateway"
        completion_note="bash loads them through the bash-completion package; without it, add to ~/.bashrc:
    source <(llm-gateway completions bash)"
        ;;
    zsh)
        dir="$prefix/share/zsh/site-functions"
        mkdir -p "$dir"
        # Autoloaded as the function _llm-gateway on the first TAB: the script it sources
        # registers the real completer (which takes over from then on), then runs it for this TAB.
        printf '%s\n' '#compdef llm-gateway' \
            "source <($(printf '%q' "$bin") completions zsh)" \
            '[[ ${_comps[llm-gateway]} != _llm-gateway ]] && ${_comps[llm-gateway]} "$@"' \
            > "$dir/_llm-gateway"
        echo "==> installed zsh completions into $dir/_llm-gateway"
        completion_note="zsh finds them when ~/.zshrc has, before compinit:
    fpath=($dir \$fpath)"
        ;;
    fish)
        dir="$config_home/fish/completions"
        mkdir -p "$dir"
        fish_bin="'$(printf '%s' "$bin" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g")'"
        printf '# llm-gateway completion (install.sh): the binary writes the script itself.\n%s completions fish | source\n' \
            "$fish_bin" > "$dir/llm-gateway.fish"
        echo "==> installed fish completions into $dir/llm-gateway.fish"
        ;;
    *)
        completion_note="no completions installed for shell '${shell_name:-unknown}'; print them with
    llm-gateway completions bash|zsh|fish|elvish|powershell"
        ;;
esac

echo
echo "llm-gateway $("$bin" --version | cut -d' ' -f2) is installed at $bin"
if [ -n "$completion_note" ]; then echo "$completion_note"; fi
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *)
        echo
        echo "$prefix/bin is not on your PATH. Add it, e.g. in your shell's rc file:"
        echo "    export PATH=\"$prefix/bin:\$PATH\""
        ;;
esac
case ":${MANPATH:-}:" in
    *":$prefix/share/man:"*) ;;
    *)
        # An unset MANPATH lets man(1) derive pages from PATH, which finds PREFIX/share/man.
        if [ -n "${MANPATH:-}" ]; then
            echo "add $prefix/share/man to MANPATH to read: man llm-gateway"
        fi
        ;;
esac
echo
echo "Next: add an upstream and a key, then start the server:"
echo "    llm-gateway upstream add oai --provider openai --api-key-stdin < openai-key.txt"
echo "    llm-gateway apikey add laptop"
echo "    llm-gateway server start"
