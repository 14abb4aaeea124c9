#!/usr/bin/env bash
# funkd serve under load, on loopback, with wrk (apt-get install wrk), the
# service and the load generator pinned to CPUs of their own:
#
#   1. a synthetic Netflix-shaped set (funkd gen --scale SCALE) and a rank-32
#      model trained for EPOCHS epochs (kept in WORK and reused);
#   2. start-up: time from `funkd serve` to the first answered /healthz;
#   3. predict, then recommend top-10, at random users/items, at each
#      connection count of CONNECTIONS: requests/s and latency percentiles;
#   4. both at once (half the connections each): how long a predict waits
#      while recommends are being scored;
#   5. the in-process cost of the same recommend query (`funkd recommend
#      --json`: lookup + score seconds, median of RECS users, on the
#      service's CPUs; not the one-time costs of a new process,
#      check_seconds and pack_seconds, which the service pays once at
#      load), and the recommend rate over HTTP as a share of it × the
#      service's cores;
#   6. predict steady, then predict while two hot swaps happen (a copy of
#      the checkpoint under a newer name is loaded, checked and swapped
#      in), at each connection count, with non-2xx answers and socket
#      errors;
#   7. resident memory of the service beside the size of the model.
#
# Usage: benches/serve-load.sh [SCALE]          (default 1: 480,189 × 17,770)
# Env:   WORK (default /tmp/funk-serve-load), DATA (a rating file to use
#        instead of WORK/data-SCALE.funk), EPOCHS (3), DURATION (10s),
#        CONNECTIONS ("4 16 64"), SERVER_CPUS (1), WRK_CPUS (0): CPU lists
#        for taskset; PIN=0 runs both unpinned, WRK_THREADS (1),
#        SERVE_THREADS (default: one per CPU of SERVER_CPUS), PORT (18181),
#        RECS (15), SETTLE (3: seconds to wait after start-up), STEPS
#        (default "predict recommend mixed inproc swap memory"; start-up is
#        always measured), FUNKD (a funkd binary to use instead of building
#        target/release/funkd)
# Share the machine with nothing else while it runs, and read absolute
# rates as this machine's: compare in-process and HTTP from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
benches="$PWD/benches"

scale="${1:-1}"
work="${WORK:-/tmp/funk-serve-load}"
epochs="${EPOCHS:-3}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-4 16 64}"
wrk_threads="${WRK_THREADS:-1}"
port="${PORT:-18181}"
recs="${RECS:-15}"
steps=" ${STEPS:-predict recommend mixed inproc swap memory} "
host="http://127.0.0.1:$port"

# shellcheck source=benches/load-common.sh
source benches/load-common.sh
mkdir -p "$work"
data="${DATA:-$work/data-$scale.funk}"
run="$work/run-$scale"
[ -f "$data" ] || "$funkd" gen --scale "$scale" -o "$data" --quiet
if ! ls "$run"/ckpt-*.funkckpt >/dev/null 2>&1; then
    "$funkd" train --data "$data" --checkpoint-dir "$run" --factors 32 \
        --epochs "$epochs" --quiet >/dev/null
fi
# Copies from an earlier run of this script are not training's.
rm -f "$run"/ckpt-00009[0-9]-00000.funkckpt

# The service's cores: the CPUs it may run on.
serve_cores=$("${server_pin[@]}" nproc)
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
echo "== data:    $data (scale $scale), model $run"
if [ ${#server_pin[@]} -gt 0 ]; then
    echo "== pinning: service on CPUs ${SERVER_CPUS:-1} ($serve_cores cores), wrk on CPUs ${WRK_CPUS:-0} ($wrk_threads thread)"
else
    echo "== pinning: none (service and wrk share all $(nproc) cores; $wrk_threads wrk thread)"
fi

threads_flag=()
[ -n "${SERVE_THREADS:-}" ] && threads_flag=(--threads "$SERVE_THREADS")
log="$work/serve.log"
started=$(date +%s.%N)
"${server_pin[@]}" "$funkd" serve --dir "$run" --listen "127.0.0.1:$port" --poll-ms 200 \
    --max-connections 4096 "${threads_flag[@]}" 2>"$log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true' EXIT
until curl -sf "$host/healthz" >/dev/null; do sleep 0.01; done
ready=$(date +%s.%N)
echo "== start-up: first /healthz answered $(echo "$ready - $started" | bc) s after launch"
grep 'ready in' "$log"
# After load the service checks the rating file's blocks on a thread of its
# own (about a second of CPU at full scale): measure after it.
sleep "${SETTLE:-3}"

status=$(curl -s "$host/v1/status")
users=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["users"])')
items=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["items"])')
export USERS="$users" ITEMS="$items"

# One wrk run: KIND, connections, extra env; prints its RESULT line.
wrk_run() {
    local kind="$1" conns="$2"
    KIND="$kind" "${wrk_pin[@]}" wrk -t "$wrk_threads" -c "$conns" -d "$duration" \
        -s "$benches/serve-random.lua" "$host" | grep '^RESULT'
}

# A table row from a RESULT line: | label | req/s | p50 | p90 | p99 | p99.9 | errors |
row() {
    local label="$1" line="$2"
    echo "$line" | python3 -c '
import sys
label = sys.argv[1]
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
ms = lambda k: "%.2f" % (int(f[k]) / 1000)
print("| %s | %s | %s | %s | %s | %s | %s |" % (label, format(round(float(f["rps"])), ","),
      ms("p50_us"), ms("p90_us"), ms("p99_us"), ms("p999_us"), f["errors"]))' "$label"
}
header() {
    echo "| $1 | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |"
    echo "|---|---|---|---|---|---|---|"
}

declare -A recommend_rps
if [[ $steps == *" predict "* ]]; then
    echo "== predict, $duration each"
    header connections
    for c in $connections; do row "$c" "$(wrk_run predict "$c")"; done
fi
if [[ $steps == *" recommend "* ]]; then
    echo "== recommend top-10 over all $items items, $duration each"
    header connections
    for c in $connections; do
        line=$(wrk_run recommend "$c")
        recommend_rps[$c]=$(echo "$line" | sed 's/.*rps=\([0-9.]*\).*/\1/')
        row "$c" "$line"
    done
fi

if [[ $steps == *" mixed "* ]]; then
    for c in $connections; do
        half=$(( (c + 1) / 2 ))
        echo "== predict and recommend at once, $half connections each, $duration"
        mixed="$work/mixed-recommend.txt"
        KIND=recommend "${wrk_pin[@]}" wrk -t 1 -c "$half" -d "$duration" \
            -s "$benches/serve-random.lua" "$host" >"$mixed" &
        mixed_pid=$!
        header "at once"
        row predict "$(wrk_run predict "$half")"
        wait "$mixed_pid"
        row recommend "$(grep '^RESULT' "$mixed")"
    done
fi

if [[ $steps == *" inproc "* ]]; then
    echo "== in-process recommend top-10 (funkd recommend --json: lookup + scoring, without the one-time band check and packing), $recs users, on the service's CPUs"
    per_query=$(for u in $(seq 1 "$recs"); do
        "${server_pin[@]}" "$funkd" recommend --model "$run" --data "$data" \
            --user "$((u * 997 % users + 1))" --json \
            | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["lookup_seconds"] + r["score_seconds"])'
    done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    python3 - "$per_query" "$serve_cores" <<'EOF'
import sys
s, cores = float(sys.argv[1]), int(sys.argv[2])
print("median %.1f µs per query = %.0f queries/s on one core; × %d service core(s) = %.0f/s"
      % (s * 1e6, 1 / s, cores, cores / s))
EOF
    for c in "${!recommend_rps[@]}"; do
        python3 -c "import sys; r, s, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); \
print('   recommend over HTTP at %s connections: %.0f/s = %.0f%% of in-process × cores' % (sys.argv[4], r, 100 * r * s / n))" \
            "${recommend_rps[$c]}" "$per_query" "$serve_cores" "$c"
    done | sort -t' ' -k5 -g
fi

if [[ $steps == *" swap "* ]]; then
    newest=$(ls "$run"/ckpt-*.funkckpt | grep -v 'ckpt-00009[0-9]-' | tail -1)
    echo "== predict steady, then during two hot swaps (a newer copy of the checkpoint appears at 3 s and 6 s), $duration each"
    header "connections"
    n=90
    for c in $connections; do
        row "$c steady" "$(wrk_run predict "$c")"
        cp "$newest" "$run/.swap-$n.tmp"
        cp "$newest" "$run/.swap-$((n + 1)).tmp"
        (
            sleep 3; mv "$run/.swap-$n.tmp" "$run/ckpt-0000$n-00000.funkckpt"
            sleep 3; mv "$run/.swap-$((n + 1)).tmp" "$run/ckpt-0000$((n + 1))-00000.funkckpt"
        ) &
        swapper=$!
        row "$c swapping" "$(wrk_run predict "$c")"
        wait "$swapper"
        for _ in $(seq 100); do
            grep -q "serving .*ckpt-0000$((n + 1))" "$log" && break
            sleep 0.1
        done
        n=$((n + 2))
    done
    grep -E 'serving .*ckpt-00009' "$log" | sed 's/^/   /'
    curl -s "$host/healthz"; echo
    rm -f "$run"/ckpt-00009[0-9]-00000.funkckpt
fi

if [[ $steps == *" memory "* ]]; then
    rss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$serve_pid"/status)
    anon_kb=$(awk '/RssAnon/ {print $2}' /proc/"$serve_pid"/status)
    model_mb=$(echo "$status" | python3 -c '
import json,sys
m = json.load(sys.stdin)["model"]
k = (m["rank"] + 15) // 16 * 16
print(round(((m["users"] + m["items"]) * (k + 1) * 4) / 1e6, 1))')
    echo "== memory: resident $((rss_kb / 1024)) MiB, of which anonymous (not file pages) $((anon_kb / 1024)) MiB; the model's factors and biases $model_mb MB"
    echo "   (resident includes the pages of the memory-mapped rating file that were touched)"
fi
