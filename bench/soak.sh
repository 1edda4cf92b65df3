#!/usr/bin/env bash
# Soak on loopback: the gateway holds STREAMS open streams (a fake upstream drips one event a
# second, 30 events a stream, and each finished stream is replaced at once) while a steady RPS of
# non-stream requests goes through it, for DURATION seconds. Half of the streams and of the
# requests take the fast path (OpenAI client, OpenAI upstream), half are translated (Anthropic
# client, OpenAI upstream). Every EVERY seconds one line of the curve: time, the gateway's RSS,
# its open descriptors, open streams, completed streams and requests, errors. Verdict: after
# the first WARMUP seconds every RSS sample lies within TOLERANCE % of the smallest one, no
# request or stream failed, and the streams stayed open.
#
# Usage: bench/soak.sh
#   DURATION=1200 STREAMS=1000 RPS=200 EVERY=10 WARMUP=600 TOLERANCE=10   (the defaults)
# Why a 10-minute warm-up: each pooled upstream connection's hyper dispatch channel (a tokio
# mpsc list of 32-slot blocks, ~9 KB each) grows its second block at its 33rd request and keeps
# two from then on. With 1,000 connections each serving ~0.2 requests/s that takes most of
# 10 minutes; with the allocator settling around it, RSS climbs ~10 MB to a plateau
# (measured: 69.8 MB at 600 s, 72.2 at 1200 s, 72.7 at 1800 s; heaptrack finds no leak) and is
# flat after it. A shorter warm-up measures that climb.
#   GW=path/to/llm-gateway     use that binary instead of building target/release/llm-gateway
#   LLM_GATEWAY_WORKERS=N      passed to the gateway (see README, [server] workers)
#   FRESH=1                    a new client connection for every stream (default: one per slot)
# The curve is also written to bench/out/soak-<time>.txt. Exit status 0 on PASS, 1 on FAIL.
# Bounded and loopback only: every process it starts is stopped when it ends, however it ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
duration=${DURATION:-1200}
streams=${STREAMS:-1000}
rps=${RPS:-200}
every=${EVERY:-10}
warmup=${WARMUP:-600}
tolerance=${TOLERANCE:-10}

# Each open stream is a descriptor in the client, two in the gateway (client and upstream side)
# and one in the fake upstream: raise the soft limit as far as the hard one allows.
need=$((streams * 2 + 512))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    echo "soak: needs $need open files per process, the hard limit is $(ulimit -Hn) (raise it or lower STREAMS)" >&2
    exit 1
fi

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
trap 'exit 130' INT TERM

port_of() { # wait for "PORT n" in a file
    for _ in $(seq 100); do
        p=$(awk '/^PORT/{print $2}' "$1" 2>/dev/null || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.05
    done
    echo "no port in $1" >&2; exit 1
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# One event a second, 30 to a stream: a stream lasts 30 s, so streams also come and go.
"$b/fake_upstream" 127.0.0.1:0 1000 30 >"$work/up" & pids+=($!)
up=$(port_of "$work/up")

export GWHOME="$work/home"
export LLM_GATEWAY_HOME="$GWHOME" LLM_GATEWAY_SECRETS_BACKEND=file
gport=$(free_port)
# The default log level: a daemon writes an access line per request, and that is part of the soak.
cat >"$work/config.toml" <<TOML
[aliases]
"claude-drip" = "bench/bench-drip"
"claude-load" = "bench/bench-model"
TOML
mkdir -p "$GWHOME" && chmod 700 "$GWHOME" && cp "$work/config.toml" "$GWHOME/config.toml"
echo "sk-bench-not-a-real-key" | "$gw" upstream add bench --provider openai \
    --base-url "http://127.0.0.1:$up/v1" --api-key-stdin --models bench-model,bench-drip >/dev/null 2>&1
key=$("$gw" apikey add soak 2>/dev/null)
"$gw" server start --detach --listen "127.0.0.1:$gport" >/dev/null 2>&1
gpid=$(sed -n 's/.*"pid":[ ]*\([0-9]*\).*/\1/p' "$GWHOME/server.pid")

cat >"$work/o-s.json" <<'JSON'
{"model":"bench-drip","stream":true,"messages":[{"role":"user","content":"Say hello slowly."}],"max_tokens":64}
JSON
cat >"$work/a-s.json" <<'JSON'
{"model":"claude-drip","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello slowly."}]}
JSON
cat >"$work/o-ns.json" <<'JSON'
{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}
JSON
cat >"$work/a-ns.json" <<'JSON'
{"model":"claude-load","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Say hello in one short sentence."}]}
JSON

g="http://127.0.0.1:$gport"
echo "soak: $streams open streams + $rps non-stream requests/s for $duration s through the gateway (pid $gpid);"
echo "      RSS every $every s, flat within $tolerance % after a $warmup s warm-up"
mkdir -p "$here/out"
out="$here/out/soak-$(date +%Y%m%d-%H%M%S)-$$.txt"
set +e
timeout $((duration + 60)) "$b/soak" --pid "$gpid" --streams "$streams" --rps "$rps" \
    --duration "$duration" --every "$every" --warmup "$warmup" --tolerance "$tolerance" ${FRESH:+--fresh} \
    --stream "$g/v1/chat/completions" "$work/o-s.json" --stream "$g/v1/messages" "$work/a-s.json" \
    --load "$g/v1/chat/completions" "$work/o-ns.json" --load "$g/v1/messages" "$work/a-ns.json" \
    --header "authorization: Bearer $key" --header "anthropic-version: 2023-06-01" | tee "$out"
status=${PIPESTATUS[0]}
set -e
if ! kill -0 "$gpid" 2>/dev/null; then
    echo "soak: the gateway (pid $gpid) is gone; its log:" >&2
    tail -n 20 "$GWHOME/gateway.log" >&2 || true
fi
echo "curve saved to $out"
exit "$status"
