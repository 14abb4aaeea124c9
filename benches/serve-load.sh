#!/usr/bin/env bash
# funkd serve under load, on loopback, with wrk (apt-get install wrk):
#
#   1. a synthetic Netflix-shaped set (funkd gen --scale SCALE) and a rank-32
#      model trained for EPOCHS epochs (kept in WORK and reused);
#   2. start-up: time from `funkd serve` to the first answered /healthz;
#   3. predict and recommend top-10 at random users/items: requests/s and
#      latency percentiles (wrk --latency), beside the in-process cost of
#      the same recommend query (`funkd recommend --json`: lookup + score
#      seconds, median of RECS users; not the one-time costs of a new
#      process, check_seconds and pack_seconds, which the service pays
#      once at load);
#      Then both at once (half the connections each): how long a predict
#      waits while recommends are being scored;
#   4. predict again while two hot swaps happen (a copy of the checkpoint
#      under a newer name is loaded, checked and swapped in), with the
#      number of non-2xx answers and socket errors;
#   5. resident memory of the service beside the size of the model.
#
# Usage: benches/serve-load.sh [SCALE]          (default 1: 480,189 × 17,770)
# Env:   WORK (default /tmp/funk-serve-load), EPOCHS (3), DURATION (10s),
#        CONNECTIONS (64), WRK_THREADS (2), SERVE_THREADS (all cores),
#        PORT (18181), RECS (15), FUNKD (a funkd binary to use instead of
#        building target/release/funkd)
# Share the machine with nothing else while it runs, and read absolute
# rates as this machine's: compare in-process and HTTP from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${1:-1}"
work="${WORK:-/tmp/funk-serve-load}"
epochs="${EPOCHS:-3}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
wrk_threads="${WRK_THREADS:-2}"
port="${PORT:-18181}"
recs="${RECS:-15}"
host="http://127.0.0.1:$port"

command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
if [ -n "${FUNKD:-}" ]; then
    funkd="$FUNKD"
else
    cargo build --release -q -p funkd
    funkd="$PWD/target/release/funkd"
fi
mkdir -p "$work"
data="$work/data-$scale.funk"
run="$work/run-$scale"
[ -f "$data" ] || "$funkd" gen --scale "$scale" -o "$data" --quiet
if ! ls "$run"/ckpt-*.funkckpt >/dev/null 2>&1; then
    "$funkd" train --data "$data" --checkpoint-dir "$run" --factors 32 \
        --epochs "$epochs" --quiet >/dev/null
fi
# Copies from an earlier run of this script are not training's.
rm -f "$run"/ckpt-0009*-00000.funkckpt

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
echo "== data:    $data (scale $scale), model $run"

threads_flag=()
[ -n "${SERVE_THREADS:-}" ] && threads_flag=(--threads "$SERVE_THREADS")
log="$work/serve.log"
started=$(date +%s.%N)
"$funkd" serve --dir "$run" --listen "127.0.0.1:$port" --poll-ms 200 \
    --max-connections 4096 "${threads_flag[@]}" 2>"$log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
until curl -sf "$host/healthz" >/dev/null; do sleep 0.01; done
ready=$(date +%s.%N)
echo "== start-up: first /healthz answered $(echo "$ready - $started" | bc) s after launch"
grep 'ready in' "$log"

status=$(curl -s "$host/v1/status")
users=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["users"])')
items=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["items"])')

lua="$work/random.lua"
cat >"$lua" <<EOF
-- Random users and items by original id (funkd gen numbers them from 1).
local kind = os.getenv("KIND")
math.randomseed(42)
request = function()
  local u = math.random($users)
  if kind == "recommend" then
    return wrk.format("GET", "/v1/recommend?user=" .. u .. "&n=10")
  end
  return wrk.format("GET", "/v1/predict?user=" .. u .. "&item=" .. math.random($items))
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or socket errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
EOF

load() {
    KIND="$1" wrk -t "$wrk_threads" -c "$connections" -d "$duration" --latency -s "$lua" "$host" \
        | grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|non-2xx'
}

echo "== predict, $connections connections, $duration"
load predict
echo "== recommend top-10 over all $items items, $connections connections, $duration"
load recommend

echo "== predict and recommend at once, $((connections / 2)) connections each, $duration"
half=$(( (connections + 1) / 2 ))
mixed="$work/mixed-recommend.txt"
KIND=recommend wrk -t 1 -c "$half" -d "$duration" --latency -s "$lua" "$host" >"$mixed" &
mixed_pid=$!
KIND=predict wrk -t 1 -c "$half" -d "$duration" --latency -s "$lua" "$host" \
    | grep -E 'Requests/sec|^ +(50|99)%' | tr -s ' ' | paste -sd' ' | sed 's/^/   predict:  /'
wait "$mixed_pid"
grep -E 'Requests/sec|^ +(50|99)%' "$mixed" | tr -s ' ' | paste -sd' ' | sed 's/^/   recommend:/'

echo "== in-process recommend top-10 (funkd recommend --json: lookup + scoring, without the one-time band check and packing), $recs users"
for u in $(seq 1 "$recs"); do
    "$funkd" recommend --model "$run" --data "$data" --user "$((u * 997 % users + 1))" --json \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["lookup_seconds"] + r["score_seconds"])'
done | sort -g | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "median %.1f µs per query = %.0f queries/s on one core\n", m*1e6, 1/m}'

echo "== predict during two hot swaps (a newer copy of the checkpoint appears at 3 s and 6 s)"
newest=$(ls "$run"/ckpt-*.funkckpt | tail -1)
cp "$newest" "$run/.swap-90.tmp"
cp "$newest" "$run/.swap-91.tmp"
(
    sleep 3; mv "$run/.swap-90.tmp" "$run/ckpt-000090-00000.funkckpt"
    sleep 3; mv "$run/.swap-91.tmp" "$run/ckpt-000091-00000.funkckpt"
) &
swapper=$!
load predict
wait "$swapper"
for _ in $(seq 100); do
    grep -q 'serving .*ckpt-000091' "$log" && break
    sleep 0.1
done
grep -E 'serving .*ckpt-00009' "$log" | sed 's/^/   /'
curl -s "$host/healthz"; echo
rm -f "$run"/ckpt-0009*-00000.funkckpt

rss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$serve_pid"/status)
anon_kb=$(awk '/RssAnon/ {print $2}' /proc/"$serve_pid"/status)
model_mb=$(echo "$status" | python3 -c '
import json,sys
m = json.load(sys.stdin)["model"]
k = (m["rank"] + 15) // 16 * 16
print(round(((m["users"] + m["items"]) * (k + 1) * 4) / 1e6, 1))')
echo "== memory: resident $((rss_kb / 1024)) MiB, of which anonymous (not file pages) $((anon_kb / 1024)) MiB; the model's factors and biases $model_mb MB"
echo "   (resident includes the pages of the memory-mapped rating file that were touched)"
