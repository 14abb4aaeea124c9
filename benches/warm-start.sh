#!/usr/bin/env bash
# Warm start at full synthetic scale: does a model warm-started on 1% new
# ratings reach the test RMSE of a from-scratch model on the merged data,
# in a fraction of its training time?
#
#   prepare  builds target/release/funkd and the warm_split example, then
#            writes WORK/base.funk (DATA without ~1% of its train ratings:
#            all of NEW_USERS users, all of NEW_ITEMS items, a random share
#            of the rest), WORK/merged.funk (base.funk extended with them by
#            the code a service round runs: the id maps extend, the
#            numbering is new) and WORK/new-test.tsv (DATA's test ratings
#            of the new users and items, which base.funk cannot hold);
#   base     trains base.funk from scratch with the defaults (WORK/base-run);
#   scratch  trains merged.funk from scratch with the defaults;
#   warm     trains merged.funk with --warm-start WORK/base-run;
#   report   prints every scratch and warm run so far and their medians.
#   clean    removes WORK.
#
# Each training step is one process, timed two ways: the run's own
# training_seconds (first epoch's start to last epoch's end, by the clock)
# and the process's wall time (opening the data, warm-start loading and
# mapping included). Its test RMSE is on merged.funk's test split; the
# RMSE on new-test.tsv (new users and items, through `funkd predict`) is
# shown beside it. Alternate the steps (scratch, warm, scratch, warm, ...)
# on a quiet machine; report quotes medians.
#
# Usage: benches/warm-start.sh STEP
# Env:   DATA (default /tmp/funk-serve-load/data-1.funk, `funkd gen --scale 1`),
#        WORK (default /tmp/funk-warm-start), NEW_USERS (2000), NEW_ITEMS (30),
#        NEW_FRACTION (0.01), THREADS (default: all CPUs), TRAIN_FLAGS (extra
#        flags for every training run, e.g. "--factors 32")
set -euo pipefail
cd "$(dirname "$0")/.."

step="${1:-}"
data="${DATA:-/tmp/funk-serve-load/data-1.funk}"
work="${WORK:-/tmp/funk-warm-start}"
funkd="$PWD/target/release/funkd"
results="$work/results.tsv"
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
read -r -a train_flags <<<"${TRAIN_FLAGS:-}"

need_built() {
    [ -x "$funkd" ] || { echo "warm-start: run '$0 prepare' first (builds $funkd)" >&2; exit 2; }
}

# RMSE of the model in DIR on new-test.tsv (user, item, rating).
new_test_rmse() {
    "$funkd" predict --model "$1" --data "$work/merged.funk" --pairs "$work/new-test.tsv" |
        paste - "$work/new-test.tsv" |
        awk -F'\t' '{ e = $3 - $7; s += e * e; n++ } END { if (n) printf "%.5f", sqrt(s / n); else printf "-" }'
}

# One training run of merged.funk (or base.funk) into a new directory;
# appends a line to results.tsv.
train_run() {
    local kind="$1" file="$2" dir="$3"
    shift 3
    rm -rf "$dir"
    local start end
    start=$(date +%s.%N)
    "$funkd" train --data "$file" --checkpoint-dir "$dir" --json --quiet \
        "${threads[@]}" "${train_flags[@]}" "$@" >"$dir.json"
    end=$(date +%s.%N)
    local wall
    wall=$(echo "$end - $start" | bc)
    local fields
    fields=$(python3 - "$dir.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("\t".join(str(x) for x in [
    "%.5f" % s["test_rmse"], "%.1f" % s["training_seconds"], s["epochs"], s["model_epoch"],
    s["threads"], s["rank"]]))
EOF
)
    local extra="-"
    [ "$kind" != base ] && extra=$(new_test_rmse "$dir")
    [ -f "$results" ] || printf 'kind\ttest_rmse\ttraining_s\tepochs\tmodel_epoch\tthreads\trank\tprocess_s\tnew_test_rmse\n' >"$results"
    printf '%s\t%s\t%.1f\t%s\n' "$kind" "$fields" "$wall" "$extra" | tee -a "$results"
}

case "$step" in
    prepare)
        cargo build --release -q -p funkd
        cargo build --release -q -p funk --example warm_split
        mkdir -p "$work"
        "$PWD/target/release/examples/warm_split" --data "$data" --out "$work" \
            --new-users "${NEW_USERS:-2000}" --new-items "${NEW_ITEMS:-30}" \
            --new-fraction "${NEW_FRACTION:-0.01}" | tee "$work/split.json"
        ;;
    base)
        need_built
        train_run base "$work/base.funk" "$work/base-run"
        ;;
    scratch)
        need_built
        n=$(ls -d "$work"/scratch-[0-9]* 2>/dev/null | grep -vc json || true)
        train_run scratch "$work/merged.funk" "$work/scratch-$((n + 1))"
        ;;
    warm)
        need_built
        [ -d "$work/base-run" ] || { echo "warm-start: run '$0 base' first" >&2; exit 2; }
        n=$(ls -d "$work"/warm-[0-9]* 2>/dev/null | grep -vc json || true)
        train_run warm "$work/merged.funk" "$work/warm-$((n + 1))" \
            --warm-start "$work/base-run" --warm-start-data "$work/base.funk"
        ;;
    report)
        echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
        echo "== commit:  $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
        column -t -s$'\t' "$results"
        python3 - "$results" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {}
for kind in ("scratch", "warm"):
    runs = [r for r in rows if r["kind"] == kind]
    if not runs:
        continue
    m = {k: statistics.median(float(r[k]) for r in runs)
         for k in ("test_rmse", "training_s", "process_s", "epochs")}
    med[kind] = m
    print(f"median {kind:7} ({len(runs)} runs): test RMSE {m['test_rmse']:.5f}, "
          f"training {m['training_s']:.1f} s, process {m['process_s']:.1f} s, {m['epochs']:g} epochs")
if len(med) == 2:
    s, w = med["scratch"], med["warm"]
    print(f"warm - scratch test RMSE {w['test_rmse'] - s['test_rmse']:+.5f}; "
          f"warm / scratch time: training {w['training_s'] / s['training_s']:.2f}, "
          f"process {w['process_s'] / s['process_s']:.2f}")
EOF
        ;;
    clean)
        rm -rf "$work"
        ;;
    *)
        sed -n '2,30p' "$0" >&2
        exit 2
        ;;
esac
