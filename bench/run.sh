#!/usr/bin/env bash
# End-to-end load bench on loopback: direct to a fake upstream, through a bare hyper pass-through
# proxy (the floor), and through the gateway; non-stream and stream; latency at concurrency 1 and
# throughput at concurrency 64, side by side in one run. Also the gateway's idle RSS and, once
# translation is in, an Anthropic-in / OpenAI-upstream route.
#
# Usage: bench/run.sh [REQUESTS_C1] [REQUESTS_C64]      (defaults 5000 and 50000)
#        ROUNDS=N bench/run.sh   repeats the c=64 bare-proxy/gateway pair N times (default 3),
#                                alternating, and reports the median throughput ratio: on a
#                                2-core machine one run's ratio moves by 10 points or more.
# Needs only cargo. Bounded: every run is a fixed number of requests on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n1=${1:-5000}
n64=${2:-50000}

echo "building (release)..." >&2
[ -n "${GW:-}" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
gw="${GW:-$root/target/release/llm-gateway}"
b="$here/target/release"

work=$(mktemp -d)
pids=()
cleanup() {
    [ -n "${GWHOME:-}" ] && LLM_GATEWAY_HOME="$GWHOME" "$gw" server stop >/dev/null 2>&1 || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

port_of() { # wait for "PORT n" in a file
    for _ in $(seq 100); do
        p=$(awk '/^PORT/{print $2}' "$1" 2>/dev/null || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.05
    done
    echo "no port in $1" >&2; exit 1
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

"$b/fake_upstream" 127.0.0.1:0 >"$work/up" & pids+=($!)
up=$(port_of "$work/up")
"$b/bare_proxy" 127.0.0.1:0 "127.0.0.1:$up" >"$work/bare" & pids+=($!)
bare=$(port_of "$work/bare")

export GWHOME="$work/home"
export LLM_GATEWAY_HOME="$GWHOME" LLM_GATEWAY_SECRETS_BACKEND=file
gport=$(free_port)
cat >"$work/config.toml" <<TOML
[log]
level = "warn"
[aliases]
"claude-*" = "bench/bench-model"
TOML
mkdir -p "$GWHOME" && chmod 700 "$GWHOME" && cp "$work/config.toml" "$GWHOME/config.toml"
echo "sk-bench-not-a-real-key" | "$gw" upstream add bench --provider openai \
    --base-url "http://127.0.0.1:$up/v1" --api-key-stdin --models bench-model >/dev/null 2>&1
key=$("$gw" apikey add bench 2>/dev/null)
"$gw" server start --detach --listen "127.0.0.1:$gport" >/dev/null 2>&1
gpid=$(sed -n 's/.*"pid":[ ]*\([0-9]*\).*/\1/p' "$GWHOME/server.pid")
sleep 1
rss_idle=$(awk '/VmRSS/{print $2}' "/proc/$gpid/status")

cat >"$work/ns.json" <<'JSON'
{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}
JSON
cat >"$work/s.json" <<'JSON'
{"model":"bench-model","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}
JSON
cat >"$work/a-ns.json" <<'JSON'
{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Say hello in one short sentence."}]}
JSON
cat >"$work/a-s.json" <<'JSON'
{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"system":"You are terse.","messages":[{"role":"user","content":"Say hello in one short sentence."}]}
JSON

rounds=${ROUNDS:-3}
run() { # label url body concurrency n [headers...]; the rps also goes to $work/rps.<label>
    local label=$1 url=$2 body=$3 c=$4 n=$5; shift 5
    local out
    if out=$("$b/loadgen" "$url" "$body" "$c" "$n" "$@" 2>&1); then
        printf '%-34s c=%-3s %s\n' "$label" "$c" "$out"
        echo "$out" | sed -n 's/.*rps=\([0-9]*\).*/\1/p' >>"$work/rps.${label// /_}.c$c"
    else
        printf '%-34s c=%-3s FAILED: %s\n' "$label" "$c" "$out"
    fi
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }

auth="authorization: Bearer $key"
for mode in ns s; do
    [ $mode = ns ] && kind="non-stream" || kind="stream"
    run "direct      $kind" "http://127.0.0.1:$up/v1/chat/completions" "$work/$mode.json" 1 "$n1"
    run "bare-proxy  $kind" "http://127.0.0.1:$bare/v1/chat/completions" "$work/$mode.json" 1 "$n1"
    run "gateway     $kind" "http://127.0.0.1:$gport/v1/chat/completions" "$work/$mode.json" 1 "$n1" "$auth"
    run "gw anthropic->openai $kind" "http://127.0.0.1:$gport/v1/messages" "$work/a-$mode.json" 1 "$n1" "$auth" "anthropic-version: 2023-06-01"
done
for mode in ns s; do
    [ $mode = ns ] && kind="non-stream" || kind="stream"
    run "direct      $kind" "http://127.0.0.1:$up/v1/chat/completions" "$work/$mode.json" 64 "$n64"
    for _ in $(seq "$rounds"); do
        run "bare-proxy  $kind" "http://127.0.0.1:$bare/v1/chat/completions" "$work/$mode.json" 64 "$n64"
        run "gateway     $kind" "http://127.0.0.1:$gport/v1/chat/completions" "$work/$mode.json" 64 "$n64" "$auth"
    done
    run "gw anthropic->openai $kind" "http://127.0.0.1:$gport/v1/messages" "$work/a-$mode.json" 64 "$n64" "$auth" "anthropic-version: 2023-06-01"
done
for kind in non-stream stream; do
    bare_rps=$(median "$work/rps.bare-proxy__${kind}.c64")
    gw_rps=$(median "$work/rps.gateway_____${kind}.c64")
    awk -v k="$kind" -v g="$gw_rps" -v b="$bare_rps" -v r="$rounds" 'BEGIN {
        printf "c=64 %-10s median of %d: gateway %d rps / bare proxy %d rps = %.0f%%\n", k, r, g, b, (b ? 100 * g / b : 0) }'
done
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$gpid/status")
echo "gateway RSS: idle ${rss_idle} kB, after load ${rss_after} kB"
echo "(latencies in microseconds; added latency = route p50 - direct p50)"
