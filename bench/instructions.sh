#!/usr/bin/env bash
# The cost of a request in CPU instructions: callgrind counts the instructions a proxy executes
# (user space, every thread) while serving REQUESTS requests, after a warm-up, for the bare
# proxies and for the gateway's paths. Unlike wall-clock figures this does not move with the
# load of the machine (repeatable to about 0.3 %), so it can judge a change on a busy 2-core VM
# without hardware counters. Then, natively, context switches and CPU time per request.
#
# Paths: fast-ns / fast-s   OpenAI client -> OpenAI upstream (the fast path), non-stream / stream
#        tr-ns / tr-s       Anthropic client -> OpenAI upstream (translated)
# The bare proxies relay the OpenAI requests only.
#
# Usage: bench/instructions.sh [REQUESTS]          (default 4000, at concurrency 8)
#   WORKERS="1 2"       gateway runtimes to measure ([server] workers values; default "1")
#   BARE=0              skip the bare proxies
#   PATHS="fast-ns ..." the gateway paths (default all four)
#   NATIVE=0            skip the native context-switch / CPU-time pass
#   CALLGRIND=0         skip the callgrind pass
#   GW=path             the gateway binary; default: built with symbols into target/instr
#                       (release profile, not stripped, line tables) so that KEEP=dir output
#                       can be read with callgrind_annotate
#   KEEP=dir            keep the callgrind dumps there (one per process and path)
# Needs valgrind (callgrind_control), cargo and python3. Bounded, loopback only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=${1:-4000}
conc=8
warm=${WARM:-1000}
workers_list=${WORKERS:-1}
paths=${PATHS:-fast-ns fast-s tr-ns tr-s}

command -v callgrind_control >/dev/null || { echo "instructions.sh needs valgrind" >&2; exit 1; }
echo "building (release)..." >&2
if [ -z "${GW:-}" ]; then
    CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --quiet --locked --manifest-path "$root/Cargo.toml" \
        --target-dir "$root/target/instr"
fi
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
gw="${GW:-$root/target/instr/release/llm-gateway}"
b="$here/target/release"

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_of() { # wait (up to 2 min: valgrind starts slowly) for "PORT n" in a file
    for _ in $(seq 1200); do
        p=$(awk '/^PORT/{print $2}' "$1" 2>/dev/null || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
    echo "no port in $1" >&2; exit 1
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_health() { # port
    for _ in $(seq 1200); do
        curl -fs "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "the gateway did not answer /health" >&2; exit 1
}
grind() { # name -> the valgrind command prefix for a process
    echo valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1.%p" --dump-instr=no
}

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

"$b/fake_upstream" 127.0.0.1:0 >"$work/up" & pids+=($!)
up=$(port_of "$work/up")

# The gateway's home: one OpenAI-compatible upstream (the fake), one key, no access log lines.
export LLM_GATEWAY_HOME="$work/home" LLM_GATEWAY_SECRETS_BACKEND=file
mkdir -p "$LLM_GATEWAY_HOME" && chmod 700 "$LLM_GATEWAY_HOME"
cat >"$LLM_GATEWAY_HOME/config.toml" <<TOML
[log]
level = "warn"
[aliases]
"claude-*" = "bench/bench-model"
TOML
echo "sk-bench-not-a-real-key" | "$gw" upstream add bench --provider openai \
    --base-url "http://127.0.0.1:$up/v1" --api-key-stdin --models bench-model >/dev/null 2>&1
key=$("$gw" apikey add bench 2>/dev/null)
auth="authorization: Bearer $key"

request_args() { # path port -> loadgen URL BODY [headers...] (one per line)
    case $1 in
        fast-ns) printf '%s\n' "http://127.0.0.1:$2/v1/chat/completions" "$work/ns.json" "$auth" ;;
        fast-s) printf '%s\n' "http://127.0.0.1:$2/v1/chat/completions" "$work/s.json" "$auth" ;;
        tr-ns) printf '%s\n' "http://127.0.0.1:$2/v1/messages" "$work/a-ns.json" "$auth" "anthropic-version: 2023-06-01" ;;
        tr-s) printf '%s\n' "http://127.0.0.1:$2/v1/messages" "$work/a-s.json" "$auth" "anthropic-version: 2023-06-01" ;;
    esac
}
load() { # count path port
    local args
    mapfile -t args < <(request_args "$2" "$3")
    LOADGEN_WARMUP=0 "$b/loadgen" "${args[0]}" "${args[1]}" "$conc" "$1" "${args[@]:2}" >/dev/null
}
measure() { # name pid port path: instructions per request, on stdout
    local name=$1 pid=$2 port=$3 path=$4 before dump ir
    load "$warm" "$path" "$port"
    callgrind_control -z "$pid" >/dev/null 2>&1
    load "$n" "$path" "$port"
    before=$(ls "$work" | grep -c "^cg\.$name\." || true)
    callgrind_control -d "$pid" >/dev/null 2>&1
    for _ in $(seq 100); do
        [ "$(ls "$work" | grep -c "^cg\.$name\." || true)" -gt "$before" ] && break
        sleep 0.1
    done
    dump=$(ls -t "$work"/cg."$name".* | head -n 1)
    ir=$(awk '/^(summary|totals):/{print $2; exit}' "$dump")
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && cp "$dump" "$KEEP/callgrind.$name.$path"
    fi
    echo $((ir / n))
}
ctxt() { # pid -> voluntary + involuntary context switches of all its threads
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s += $2} END {print s + 0}'
}
cpu_ticks() { # pid -> user + system clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}
native() { # name pid port path: "context switches per request, CPU us per request"
    local pid=$2 port=$3 path=$4 c0 c1 t0 t1 hz
    hz=$(getconf CLK_TCK)
    load "$warm" "$path" "$port"
    c0=$(ctxt "$pid"); t0=$(cpu_ticks "$pid")
    load $((n * 10)) "$path" "$port"
    c1=$(ctxt "$pid"); t1=$(cpu_ticks "$pid")
    awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v n=$((n * 10)) -v hz="$hz" \
        'BEGIN {printf "%.2f %.1f", c / n, 1e6 * t / hz / n}'
}

results="$work/results"
: >"$results"
report() { # label path value
    printf '%-28s %-8s %s\n' "$1" "$2" "$3" | tee -a "$results"
}

if [ "${CALLGRIND:-1}" != 0 ]; then
echo "instructions per request (callgrind; $n requests at concurrency $conc after $warm warm-up)"
if [ "${BARE:-1}" != 0 ]; then
    for w in 1 0; do
        name="bare$w"
        label=$([ "$w" = 1 ] && echo "bare proxy, 1 thread" || echo "bare proxy, $(nproc) workers")
        $(grind "$name") "$b/bare_proxy" 127.0.0.1:0 "127.0.0.1:$up" "$w" >"$work/$name.out" 2>"$work/$name.err" &
        pid=$!; pids+=("$pid")
        port=$(port_of "$work/$name.out")
        for path in fast-ns fast-s; do
            report "$label" "$path" "$(measure "$name" "$pid" "$port" "$path")"
        done
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
fi
for w in $workers_list; do
    name="gw$w"
    port=$(free_port)
    LLM_GATEWAY_WORKERS=$w $(grind "$name") "$gw" server start --listen "127.0.0.1:$port" \
        >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!; pids+=("$pid")
    wait_health "$port"
    for path in $paths; do
        report "gateway, workers=$w" "$path" "$(measure "$name" "$pid" "$port" "$path")"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
fi

if [ "${NATIVE:-1}" != 0 ]; then
    echo
    echo "natively: context switches and CPU microseconds per request ($((n * 10)) requests at concurrency $conc;"
    echo "CPU time moves with the machine's load, context switches much less)"
    if [ "${BARE:-1}" != 0 ]; then
        for w in 1 0; do
            label=$([ "$w" = 1 ] && echo "bare proxy, 1 thread" || echo "bare proxy, $(nproc) workers")
            "$b/bare_proxy" 127.0.0.1:0 "127.0.0.1:$up" "$w" >"$work/nb$w.out" &
            pid=$!; pids+=("$pid")
            port=$(port_of "$work/nb$w.out")
            for path in fast-ns fast-s; do
                report "$label" "$path" "$(native x "$pid" "$port" "$path")"
            done
            kill "$pid"; wait "$pid" 2>/dev/null || true
        done
    fi
    for w in $workers_list; do
        port=$(free_port)
        LLM_GATEWAY_WORKERS=$w "$gw" server start --listen "127.0.0.1:$port" >/dev/null 2>&1 &
        pid=$!; pids+=("$pid")
        wait_health "$port"
        for path in $paths; do
            report "gateway, workers=$w" "$path" "$(native x "$pid" "$port" "$path")"
        done
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
fi
