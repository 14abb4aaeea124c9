#!/usr/bin/env bash
# funkd serve --intake under load, on loopback, with wrk, the service and
# the load generator pinned to CPUs of their own (as benches/serve-load.sh):
#
#   bulk    POST /v1/ratings with bodies of BULK ratings each (CSV, JSON
#           array, NDJSON), at each of BULK_CONNECTIONS: ratings/s and
#           latency; every answer comes after the batch's fdatasync;
#   single  POST /v1/ratings with one rating per request, at each of
#           CONNECTIONS: requests/s, latency, and how many flushes group
#           commit made (the ingest log's `syncs`);
#   round   query latency during a training round against idle: ROUND_RATINGS
#           ratings are posted, predict and recommend are measured idle at
#           ROUND_CONNECTIONS, POST /v1/train starts a round, and both are
#           measured in turns of ROUND_WINDOW until the round publishes
#           (each window names the round's steps it covered, with the MiB
#           written to disk meanwhile, the dirty page cache at its end, the
#           share of CPU time the host took from this machine (steal), the
#           per-mille of its requests that took over 0.8 ms (predict) or
#           25.6 ms (recommend) inside the service by its own latency
#           histogram (what a slow answer spent beyond that was spent
#           outside the handler: in the kernel's queues, the scheduler or
#           the load generator) and when it began, in seconds after the
#           POST),
#           then ROUND_AFTER times each again.
#
# Each part starts the service on a fresh copy of the model's directory
# (WORK/run-SCALE, as benches/serve-load.sh makes it), so what one part
# ingests does not slow the next. The round trains on --round-threads 1 at
# the default --background-priority (idle), on the service's CPUs.
#
# Usage: benches/intake-load.sh [SCALE]          (default 1)
# Env:   WORK (/tmp/funk-serve-load), DATA, DURATION (10s), CONNECTIONS
#        ("4 16 64"), BULK (100000), BULK_CONNECTIONS ("1 4"), FORMATS
#        ("csv json ndjson"), ROUND_RATINGS (20000), ROUND_CONNECTIONS (16),
#        ROUND_WINDOW (5s), ROUND_DELAY_MS (0: closed loop at full speed;
#        N: each connection waits N ms between an answer and its next
#        request, a load below the service's capacity), ROUND_EPOCHS (2),
#        ROUND_WINDOWS (24, the most
#        windows measured during a round), ROUND_AFTER (2), SERVER_CPUS (1), WRK_CPUS (0),
#        PIN=0, PORT (18182), SETTLE (3), PARTS ("bulk single round"), FUNKD
set -euo pipefail
cd "$(dirname "$0")/.."
benches="$PWD/benches"

scale="${1:-1}"
work="${WORK:-/tmp/funk-serve-load}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-4 16 64}"
bulk="${BULK:-100000}"
bulk_connections="${BULK_CONNECTIONS:-1 4}"
formats="${FORMATS:-csv json ndjson}"
round_ratings="${ROUND_RATINGS:-20000}"
round_connections="${ROUND_CONNECTIONS:-16}"
round_delay_ms="${ROUND_DELAY_MS:-0}"
round_window="${ROUND_WINDOW:-5s}"
round_epochs="${ROUND_EPOCHS:-2}"
round_windows="${ROUND_WINDOWS:-24}"
port="${PORT:-18182}"
parts=" ${PARTS:-bulk single round} "
host="http://127.0.0.1:$port"

# shellcheck source=benches/load-common.sh
source benches/load-common.sh
run="$work/run-$scale"
ls "$run"/ckpt-*.funkckpt >/dev/null 2>&1 \
    || { echo "no model in $run: run benches/serve-load.sh $scale first" >&2; exit 2; }
newest=$(ls "$run"/ckpt-*.funkckpt | grep -v 'ckpt-0009' | tail -1)
data="${DATA:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"])' "$run/status.json")}"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
echo "== model:   $newest on $data; log on $(df --output=source,fstype "$work" | tail -1 | xargs)"
if [ ${#server_pin[@]} -gt 0 ]; then
    echo "== pinning: service on CPUs ${SERVER_CPUS:-1}, wrk on CPUs ${WRK_CPUS:-0}"
else
    echo "== pinning: none"
fi

serve_pid=
stop_service() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
        serve_pid=
    fi
}
trap stop_service EXIT

# Starts the service with --intake on a fresh copy of the model's directory.
start_service() {
    local dir="$work/intake-run"
    stop_service
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$newest" "$dir/"
    cp "$run/status.json" "$dir/"
    # The copy's 66 MB go to the disk now, not in the kernel's writeback
    # during the first windows measured.
    sync
    "${server_pin[@]}" "$funkd" serve --dir "$dir" --data "$data" --listen "127.0.0.1:$port" \
        --intake --no-auto-rounds --round-epochs "$round_epochs" --poll-ms 0 \
        --max-body-bytes $((256 << 20)) --max-connections 4096 2>"$work/intake-serve.log" &
    serve_pid=$!
    until curl -sf "$host/healthz" >/dev/null; do sleep 0.02; done
    # Measure after the check of the rating file's blocks that follows load.
    sleep "${SETTLE:-3}"
}

status_field() {
    curl -s "$host/v1/status" | python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

row() {
    local label="$1" line="$2" per="${3:-1}"
    echo "$line" | python3 -c '
import sys
label, per = sys.argv[1], int(sys.argv[2])
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
ms = lambda k: "%.2f" % (int(f[k]) / 1000)
rps = float(f["rps"])
print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (label, format(round(rps), ","),
      format(round(rps * per), ","), ms("p50_us"), ms("p90_us"), ms("p99_us"), ms("p999_us"),
      f["errors"]))' "$label" "$per"
}
header() {
    echo "| $1 | req/s | ratings/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |"
    echo "|---|---|---|---|---|---|---|---|"
}

start_service
users=$(status_field 's["model"]["users"]')
items=$(status_field 's["model"]["items"]')
export USERS="$users" ITEMS="$items"

if [[ $parts == *" bulk "* ]]; then
    echo "== bulk bodies of $bulk ratings (known users and items at random), $duration each"
    header "format, connections"
    for format in $formats; do
        body="$work/bulk-$bulk.$format"
        python3 - "$body" "$format" "$bulk" "$users" "$items" <<'EOF'
import random, sys
path, fmt, n, users, items = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(7)
rows = [(rng.randint(1, users), rng.randint(1, items), rng.randint(1, 5)) for _ in range(n)]
with open(path, "w") as f:
    if fmt == "csv":
        f.write("user,item,rating\n")
        f.writelines("%d,%d,%d\n" % r for r in rows)
    elif fmt == "json":
        f.write("[" + ",".join('{"user":%d,"item":%d,"rating":%d}' % r for r in rows) + "]")
    else:
        f.writelines('{"user":%d,"item":%d,"rating":%d}\n' % r for r in rows)
EOF
        case "$format" in
            csv) ct=text/csv ;;
            json) ct=application/json ;;
            ndjson) ct=application/x-ndjson ;;
        esac
        for c in $bulk_connections; do
            start_service
            line=$(MODE=body BODY="$body" CT="$ct" "${wrk_pin[@]}" wrk -t 1 -c "$c" \
                -d "$duration" --timeout 30s -s "$benches/intake-post.lua" "$host" | grep '^RESULT')
            row "$format ($(($(stat -c %s "$body") / 1024)) KiB), $c" "$line" "$bulk"
        done
    done
    echo "   (last run's log: $(status_field '"%d ratings in %d batches, %d syncs" % (s["intake"]["ratings"], s["intake"]["batches"], s["intake"]["syncs"])'))"
fi

if [[ $parts == *" single "* ]]; then
    echo "== single-rating requests (a JSON array of one rating), $duration each"
    header connections
    for c in $connections; do
        start_service
        line=$(MODE=single "${wrk_pin[@]}" wrk -t 1 -c "$c" -d "$duration" \
            -s "$benches/intake-post.lua" "$host" | grep '^RESULT')
        row "$c" "$line"
        echo "   group commit: $(status_field '"%d batches in %d syncs (%.1f a flush)" % (s["intake"]["batches"], s["intake"]["syncs"], s["intake"]["batches"] / max(1, s["intake"]["syncs"]))')"
    done
fi

if [[ $parts == *" round "* ]]; then
    start_service
    echo "== queries during a training round ($round_ratings new ratings, --round-epochs $round_epochs, --round-threads 1, background priority, on the service's CPUs), $round_connections connections$([ "$round_delay_ms" = 0 ] || echo ", each waiting $round_delay_ms ms between an answer and its next request"), $round_window windows"
    body="$work/round-$round_ratings.csv"
    python3 - "$body" "$round_ratings" "$users" "$items" <<'EOF'
import random, sys
path, n, users, items = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(11)
with open(path, "w") as f:
    f.write("user,item,rating\n")
    f.writelines("new-%d,%d,%d\n" % (rng.randint(1, 2000), rng.randint(1, items), rng.randint(1, 5))
                 for _ in range(n))
EOF
    curl -sf -X POST "$host/v1/ratings" -H 'content-type: text/csv' --data-binary @"$body" >/dev/null
    window() {
        KIND="$1" DELAY_MS="$round_delay_ms" "${wrk_pin[@]}" wrk -t 1 -c "$round_connections" -d "$round_window" \
            -s "$benches/serve-random.lua" "$host" | grep '^RESULT'
    }
    # The round's step as /v1/status tells it ("training epoch 1/2").
    round_step() {
        status_field '(lambda r: "published" if r is None else r["step"] + ("" if r["step"] != "training" or r.get("epoch") is None else " epoch %d/%d" % (min(r["epoch"] + 1, r["epochs"]), r["epochs"])))(s["rounds"]["running"])'
    }
    # Disk writes and dirty page cache: MiB written to block devices since
    # the window began, and dirty + under-writeback MiB at its end.
    written_mib() { awk '$3 !~ /[0-9]$/ || $3 ~ /^nvme[0-9]+n[0-9]+$/ { s += $10 } END { print int(s / 2048) }' /proc/diskstats; }
    dirty_mib() { awk '$1 == "nr_dirty" || $1 == "nr_writeback" { s += $2 } END { print int(s / 256) }' /proc/vmstat; }
    # CPU time so far, all CPUs: "stolen total" (ticks; stolen is the
    # time a virtual machine's CPUs waited for the host, noise no process
    # here controls).
    cpu_ticks() { awk '$1 == "cpu" { t = 0; for (k = 2; k <= NF; k++) t += $k; print $9, t }' /proc/stat; }
    # The service's own latency histogram of `kind` ("count slow": requests
    # answered so far, and how many of them took longer than `slow_le`
    # seconds from request to response inside the service: 0.8 ms for
    # predict, 25.6 ms for recommend, bounds of the histogram's buckets
    # near 3x their idle p99 on the reference machine).
    handled() {
        local slow_le=0.0008
        [ "$1" = recommend ] && slow_le=0.0256
        curl -s "$host/metrics" | awk -v kind="$1" -v slow="$slow_le" '
            index($0, "funkd_http_request_duration_seconds_bucket{") == 1 && index($0, "endpoint=\"" kind "\"") {
                if (match($0, /le="[^"]*"/)) { le = substr($0, RSTART + 4, RLENGTH - 5) }
                if (le == "+Inf") total = $NF; else if (le + 0 > slow * 0.99 && le + 0 < slow * 1.01) fast = $NF
            }
            END { print total + 0, total - fast }'
    }
    # One window of `kind`: the table's row, named `when` or else by the
    # round's step(s) it covered, plus the disk, stolen-time and
    # slow-in-the-service columns and when the window began, in seconds after POST /v1/train (negative
    # before it), to set the window beside a trace of the same run.
    posted=
    round_window() {
        local when="$1" kind="$2" before after w0 c0 c1 h0 h1 line t0
        before=$(round_step)
        w0=$(written_mib)
        c0=$(cpu_ticks)
        h0=$(handled "$kind")
        t0=$(date +%s.%N)
        line=$(window "$kind")
        h1=$(handled "$kind")
        c1=$(cpu_ticks)
        after=$(round_step)
        [ "$after" != "$before" ] && before="$before → $after"
        echo "$(row "${when:-round: $before}, $kind" "$line") $(( $(written_mib) - w0 )) | $(dirty_mib) | $(echo "$c0 $c1" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2 + ($4 == $2)) }') | $(echo "$h0 $h1" | awk '{ n = $3 - $1; printf "%.2f", 1000 * ($4 - $2) / (n + (n == 0)) }') | $(if [ -n "$posted" ]; then echo "$t0 $posted" | awk '{ printf "%.1f", $1 - $2 }'; else echo "@$t0"; fi) |"
    }
    echo "| when, query | req/s | ratings/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | disk MiB written | dirty MiB at end | CPU stolen % | in the service over 0.8 / 25.6 ms, ‰ | began, s after the POST |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    # The idle windows before the round: their times are filled in once
    # the POST is known (negative).
    idle_rows=$(round_window "idle, before" predict; round_window "idle, before" recommend)
    curl -sf -X POST "$host/v1/train" >/dev/null
    posted=$(date +%s.%N)
    started=${posted%.*}
    echo "$idle_rows" | awk -v posted="$posted" 'BEGIN { FS = OFS = "|" }
        { sub(/^ *@/, "", $(NF - 1)); $(NF - 1) = sprintf(" %.1f ", $(NF - 1) - posted); print }'
    for i in $(seq 1 "$round_windows"); do
        [ "$(round_step)" = published ] && break
        kind=predict
        [ $((i % 2)) = 0 ] && kind=recommend
        round_window "" "$kind"
    done
    until [ "$(status_field 's["rounds"]["rounds_published"]')" -ge 1 ]; do
        if [ "$(status_field 's["rounds"]["rounds_failed"]')" -ge 1 ]; then
            echo "the round failed:"; grep funkd "$work/intake-serve.log"; exit 1
        fi
        sleep 1
    done
    echo "   round published $(( $(date +%s) - started )) s after POST /v1/train (posted at $(date -u -d "@$posted" +%H:%M:%S.%N | cut -c1-12) UTC): $(grep 'published in' "$work/intake-serve.log" | sed 's/^funkd: //')"
    for _ in $(seq 1 "${ROUND_AFTER:-2}"); do
        round_window "idle, after" predict
        round_window "idle, after" recommend
    done
fi
stop_service
rm -rf "$work/intake-run"
