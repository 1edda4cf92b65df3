#!/usr/bin/env bash
# The OS keyring tests, against a real Secret Service: a throwaway D-Bus session with
# gnome-keyring unlocked by a dummy password (nothing of the user's keyring is touched), then the
# `auto` fallback with no Secret Service reachable at all. As root on Debian it installs what it
# needs (gnome-keyring, libsecret-tools, dbus-x11); otherwise it names the missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
command -v secret-tool >/dev/null || need+=(libsecret-tools)
command -v dbus-launch >/dev/null || need+=(dbus-x11)
command -v dbus-run-session >/dev/null || need+=(dbus)
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "keyring-test: missing packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "keyring-test: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Build first, outside the session, so the session only runs tests.
cargo test --locked --lib --no-run -q

echo "keyring-test: real Secret Service (gnome-keyring in a private D-Bus session)" >&2
dbus-run-session -- sh -c 'echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test --locked --lib -- --ignored keyring'

echo "keyring-test: no Secret Service reachable (auto falls back to the owner-only table)" >&2
DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/llm-gateway-test-bus \
    cargo test --locked --lib -- --ignored secret_service_absent
