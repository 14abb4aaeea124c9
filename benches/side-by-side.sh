#!/usr/bin/env bash
# funkd vs LIBMF on the same ratings, side by side in one run.
#
#   benches/side-by-side.sh                       # 10% Netflix-shaped set, K 32/128, 1/2 threads
#   benches/side-by-side.sh --scale 1 --reps 1    # full scale (100 M ratings)
#   benches/side-by-side.sh --data my.funk --factors 32 --threads 2 --curves
#   benches/side-by-side.sh --scale 1 --cpus 1,0   # pin: T threads run on the first T CPUs listed
#   benches/side-by-side.sh --like-libmf          # funkd with LIBMF's model: plain, adaptive, eta 0.1, lambda 0.1
#   benches/side-by-side.sh --variants defaults,like --isa avx512,avx2   # four funkd runs per LIBMF run
#   benches/side-by-side.sh --data full.funk --cells 128x1 --reps 1 --raw-out raw.jsonl   # one cell, appended
#   benches/side-by-side.sh --summarize raw.jsonl  # the tables of everything appended so far
#   benches/side-by-side.sh --help
#
# LIBMF (vendored by the `libmf` crate) is compiled with -march=native so
# that its AVX path is used, as LIBMF's own Makefile does with USEAVX.
set -euo pipefail
cd "$(dirname "$0")/.."
export CXXFLAGS="${CXXFLAGS:--march=native -O3}"
exec cargo bench --bench side_by_side -- "$@"
