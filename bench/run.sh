#!/usr/bin/env bash
# End-to-end load bench on loopback: direct to a fake upstream, through two bare hyper
# pass-through proxies (the floor any proxy pays: one on a single thread, one on a multi-thread
# runtime with a worker per core), and through the gateway; non-stream and stream; latency at
# concurrency 1 and throughput at concurrency 64, side by side, in alternating rounds. Also the
# gateway's idle RSS and an Anthropic-in / OpenAI-upstream (translated) route, for information.
#
# At the end, the gateway's fast path against the BEST bare proxy on this machine, per mode:
#   added latency  (c=1 p50 minus direct's)   at most 2x the best bare proxy's   PASS/FAIL
#   throughput     (c=64 requests/s)           at least 85 % of the best one      PASS/FAIL
# Judged on paired ratios: each round's ratio (its runs are seconds apart, so a slow spell of a
# shared VM slows both sides), then the median over the rounds. The table shows every route's
# median over the rounds, and the ratio of those medians is printed beside each verdict.
#
# Usage: bench/run.sh [REQUESTS_C1] [REQUESTS_C64]      (defaults 5000 and 50000)
#   ROUNDS=N                 rounds (default 3): each round runs every route once, in turn; on
#                            a 2-core machine one run's ratio moves by 10 points or more
#   GW=path/to/llm-gateway   use that binary instead of building target/release/llm-gateway
#   LLM_GATEWAY_WORKERS=N    passed to the gateway ([server] workers: 1 = one thread)
# Needs only cargo (and python3 for a free port). Bounded: every run is a fixed number of
# requests on 127.0.0.1. Exit status 0 when every target passes, 1 when one fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n1=${1:-5000}
n64=${2:-50000}
rounds=${ROUNDS:-3}

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

cores=$(nproc)
"$b/fake_upstream" 127.0.0.1:0 >"$work/up" & pids+=($!)
up=$(port_of "$work/up")
"$b/bare_proxy" 127.0.0.1:0 "127.0.0.1:$up" 1 >"$work/bare1" & pids+=($!)
bare1=$(port_of "$work/bare1")
"$b/bare_proxy" 127.0.0.1:0 "127.0.0.1:$up" 0 >"$work/bareN" & pids+=($!)
bareN=$(port_of "$work/bareN")

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
gw_threads=$(ls "/proc/$gpid/task" | wc -l)

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

# Routes: id, label, URL path base, body prefix, extra headers.
auth="authorization: Bearer $key"
routes=(direct bare1 bareN gateway translated)
declare -A label=(
    [direct]="direct"
    [bare1]="bare proxy, 1 thread"
    [bareN]="bare proxy, $cores workers"
    [gateway]="gateway"
    [translated]="gw anthropic->openai"
)
url() { # route -> URL
    case $1 in
        direct) echo "http://127.0.0.1:$up/v1/chat/completions" ;;
        bare1) echo "http://127.0.0.1:$bare1/v1/chat/completions" ;;
        bareN) echo "http://127.0.0.1:$bareN/v1/chat/completions" ;;
        gateway) echo "http://127.0.0.1:$gport/v1/chat/completions" ;;
        translated) echo "http://127.0.0.1:$gport/v1/messages" ;;
    esac
}
run() { # route mode(ns|s) concurrency n; appends "p50 ttfb_p50 rps" to $work/res.<route>.<mode>.c<c>
    local r=$1 mode=$2 c=$3 n=$4 body out
    body="$work/$mode.json"
    local hdrs=()
    case $r in
        gateway) hdrs=("$auth") ;;
        translated) body="$work/a-$mode.json"; hdrs=("$auth" "anthropic-version: 2023-06-01") ;;
    esac
    if out=$("$b/loadgen" "$(url "$r")" "$body" "$c" "$n" "${hdrs[@]}" 2>&1); then
        printf '%-26s %-10s c=%-3s %s\n' "${label[$r]}" "$([ "$mode" = ns ] && echo non-stream || echo stream)" "$c" "$out"
        echo "$out" | awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
            print v["p50"], v["ttfb_p50"], v["rps"]}' >>"$work/res.$r.$mode.c$c"
    else
        printf '%-26s %-10s c=%-3s FAILED: %s\n' "${label[$r]}" "$mode" "$c" "$out"
        # A placeholder keeps line k of every result file for round k (the paired ratios).
        echo "- - -" >>"$work/res.$r.$mode.c$c"
    fi
}
median() { # file column -> median (0 when there is none)
    [ -s "$1" ] || { echo 0; return; }
    awk -v k="$2" '$k ~ /^[0-9.]+$/ {print $k}' "$1" | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'
}

echo "gateway: pid $gpid, $gw_threads threads (LLM_GATEWAY_WORKERS=${LLM_GATEWAY_WORKERS:-unset}); $cores cores; $rounds rounds"
for round in $(seq "$rounds"); do
    echo "-- round $round of $rounds"
    for mode in ns s; do
        for r in "${routes[@]}"; do run "$r" "$mode" 1 "$n1"; done
    done
    for mode in ns s; do
        for r in "${routes[@]}"; do run "$r" "$mode" 64 "$n64"; done
    done
done
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$gpid/status")

echo
echo "== medians of $rounds rounds (latency in microseconds; added = route p50 - direct p50) =="
printf '%-26s %-10s %8s %8s %9s %10s\n' route mode "c=1 p50" added "ttfb p50" "c=64 rps"
for mode in ns s; do
    m=$([ "$mode" = ns ] && echo non-stream || echo stream)
    d50=$(median "$work/res.direct.$mode.c1" 1)
    for r in "${routes[@]}"; do
        p50=$(median "$work/res.$r.$mode.c1" 1)
        ttfb=$(median "$work/res.$r.$mode.c1" 2)
        rps=$(median "$work/res.$r.$mode.c64" 3)
        added=$([ "$r" = direct ] && echo - || echo $((p50 - d50)))
        printf '%-26s %-10s %8s %8s %9s %10s\n' "${label[$r]}" "$m" "$p50" "$added" "$ttfb" "$rps"
        echo "$p50 $rps" >"$work/med.$r.$mode"
    done
done

# Per round, the ratios of runs made seconds apart: a shared VM slows every route of a round
# alike, and the ratio of one round cancels that, where medians taken route by route do not.
paired() { # mode -> "latency-ratio throughput-percent" (medians over the rounds)
    local f=$work/res
    paste -d' ' "$f.direct.$1.c1" "$f.bare1.$1.c1" "$f.bareN.$1.c1" "$f.gateway.$1.c1" \
        "$f.bare1.$1.c64" "$f.bareN.$1.c64" "$f.gateway.$1.c64" | awk '
        function med(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n ? a[int((n + 1) / 2)] : 0
        }
        $1 != "-" && $4 != "-" && $7 != "-" && $10 != "-" {
            best = ($4 < $7) ? $4 : $7; ba = best - $1; if (ba < 1) ba = 1
            l[++nl] = ($10 - $1) / ba
        }
        $15 != "-" && $18 != "-" && $21 != "-" {
            br = ($15 > $18) ? $15 : $18
            if (br > 0) t[++nt] = 100 * $21 / br
        }
        END { printf "%.2f %.0f\n", med(l, nl), med(t, nt) }'
}

echo
echo "== targets: the gateway's fast path against the best bare proxy =="
echo "(the verdict is on the paired ratios: the median over the rounds of each round's ratio;"
echo " the ratio of the route medians above is shown beside it)"
fails=0
for mode in ns s; do
    m=$([ "$mode" = ns ] && echo non-stream || echo stream)
    read -r d50 _ <"$work/med.direct.$mode"
    read -r g50 grps <"$work/med.gateway.$mode"
    read -r b1_50 b1_rps <"$work/med.bare1.$mode"
    read -r bn_50 bn_rps <"$work/med.bareN.$mode"
    # The best bare proxy: the least added latency, and (separately) the most requests/s.
    read -r plr ptr < <(paired "$mode")
    verdicts=$(awk -v d="$d50" -v g="$g50" -v grps="$grps" -v b1="$b1_50" -v bn="$bn_50" \
        -v b1r="$b1_rps" -v bnr="$bn_rps" -v m="$m" -v cores="$cores" -v plr="$plr" -v ptr="$ptr" 'BEGIN {
        if (b1 <= bn) { bl = b1; bln = "1 thread" } else { bl = bn; bln = cores " workers" }
        if (b1r >= bnr) { br = b1r; brn = "1 thread" } else { br = bnr; brn = cores " workers" }
        ga = g - d; ba = bl - d; if (ba < 1) ba = 1
        lr = ga / ba; tr = (br > 0) ? 100 * grps / br : 0
        lv = (plr <= 2.0) ? "PASS" : "FAIL"; tv = (ptr >= 85) ? "PASS" : "FAIL"
        printf "%-10s added latency  paired %.2fx (limit 2x)   %s   [medians: gateway +%d us / best bare (%s) +%d us = %.2fx]\n", m, plr, lv, ga, bln, ba, lr
        printf "%-10s throughput     paired %.0f%% (limit 85%%)  %s   [medians: gateway %d rps / best bare (%s) %d rps = %.0f%%]\n", m, ptr, tv, grps, brn, br, tr
    }')
    echo "$verdicts"
    fails=$((fails + $(grep -c FAIL <<<"$verdicts" || true)))
done
echo "gateway RSS: idle ${rss_idle} kB, after load ${rss_after} kB"
if [ "$fails" -eq 0 ]; then echo "overall: PASS"; else echo "overall: FAIL ($fails of 4 targets)"; fi
[ "$fails" -eq 0 ]
