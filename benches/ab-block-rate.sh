#!/usr/bin/env bash
# A/B of two builds of the kernel's `block_rate` example, alternated and
# pinned to one CPU, so that both see the same host conditions:
#
#   benches/ab-block-rate.sh A B [FILTER] [ROUNDS] [CPU] [ISA]
#
#   A, B     two block_rate binaries (e.g. build the baseline in a git
#            worktree with its own CARGO_TARGET_DIR and copy it aside)
#   FILTER   block_rate's shape filter, e.g. "32/" or "128/stratum" (all)
#   ROUNDS   rounds of A then B (6); CPU the CPU to pin to (1); ISA (avx512)
#
# Prints, per shape, the median over rounds of each binary's median rate
# and their ratio, the median of the per-round ratios B/A ("paired", the
# figure to quote), and each side's range. On a shared VM the virtual CPUs
# can run at different speeds (1.3× apart was seen) and the host can drift
# by up to 2× from minute to minute: compare only numbers from one run of
# this script.
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,17p' "$0"
    exit 2
fi
a=$1 b=$2 filter=${3:-} rounds=${4:-6} cpu=${5:-1} isa=${6:-avx512}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
    for side in a b; do
        bin=$a
        [ "$side" = b ] && bin=$b
        # "avx512 K=32  stratum        median  116.5  best  117.1 M updates/s"
        taskset -c "$cpu" "$bin" "$isa" 5 $filter |
            awk '{ name = $2; for (i = 3; i < NF - 5; i++) name = name "_" $i; print name, $(NF - 4) }' \
                >>"$out/$side"
    done
done
python3 - "$out/a" "$out/b" <<'PY'
import collections, statistics, sys

def load(path):
    rates = collections.defaultdict(list)
    for line in open(path):
        name, rate = line.split()
        rates[name].append(float(rate))
    return rates

a, b = load(sys.argv[1]), load(sys.argv[2])
for name in a:
    ma, mb = statistics.median(a[name]), statistics.median(b[name])
    if ma == 0:
        continue
    # Each round ran A then B within seconds: the ratio of a round's pair
    # is what the host's drift affects least.
    paired = statistics.median(y / x for x, y in zip(a[name], b[name]) if x > 0)
    print(f"{name:28s} A {ma:6.1f}  B {mb:6.1f}  B/A {mb / ma:.3f}  paired {paired:.3f}"
          f"   (A {min(a[name]):.0f}-{max(a[name]):.0f}, B {min(b[name]):.0f}-{max(b[name]):.0f})")
PY
