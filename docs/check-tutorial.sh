#!/usr/bin/env bash
# Runs the README's MovieLens tutorial, command by command, and fails if
# any command fails. The commands are the lines starting with "$ funkd"
# between the markers <!-- tutorial:begin --> and <!-- tutorial:end --> in
# README.md (a line ending in "\" continues on the next one). They run in
# an empty directory holding ml-100k/u1.base, ml-100k/u1.test and
# ml-100k/u.item: a small data set in the MovieLens 100K formats that this
# script writes itself, or the real one with --ml-100k.
#
#   docs/check-tutorial.sh                     # build funkd (debug) and check
#   docs/check-tutorial.sh --funkd target/release/funkd --ml-100k ~/ml-100k --show
#
#   --funkd PATH     the binary to run (default: cargo build -p funkd, debug)
#   --ml-100k DIR    run on the real MovieLens 100K files in DIR
#   --show           print every command's stdout and stderr (to refresh
#                    the README's sample output from the real data)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
funkd="" data="" show=0
while [ $# -gt 0 ]; do
    case "$1" in
        --funkd) funkd="$(realpath "$2")"; shift 2 ;;
        --ml-100k) data="$(realpath "$2")"; shift 2 ;;
        --show) show=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "check-tutorial: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$funkd" ]; then
    cargo build --quiet -p funkd --manifest-path "$root/Cargo.toml"
    funkd="$root/target/debug/funkd"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/tutorial"
ln -s "$funkd" "$work/bin/funkd"
export PATH="$work/bin:$PATH"

if [ -n "$data" ]; then
    ln -s "$data" "$work/tutorial/ml-100k"
else
    # 300 users × 500 items, 60 distinct items per user (48 train, 12 test),
    # ratings 1..5 from a rank-2 pattern plus noise; titles for every item.
    mkdir "$work/tutorial/ml-100k"
    awk -v dir="$work/tutorial/ml-100k" 'BEGIN {
        srand(1)
        for (u = 1; u <= 300; u++) {
            for (j = 0; j < 60; j++) {
                i = (u * 7 + j * 13) % 500 + 1
                m = 3.5 + 1.2 * sin(u * 0.7) * cos(i * 0.3) + 0.6 * cos(u * 0.2) * sin(i * 0.11)
                r = int(m + (rand() - 0.5) * 0.5 + 0.5)
                if (r < 1) r = 1
                if (r > 5) r = 5
                file = (j < 48) ? "/u1.base" : "/u1.test"
                printf "%d\t%d\t%d\t%d\n", u, i, r, 881250949 + u * 100 + j > (dir file)
            }
        }
        for (i = 1; i <= 500; i++)
            printf "%d|Movie %d (1995)|01-Jan-1995|||0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n", i, i > (dir "/u.item")
    }'
fi

commands="$work/commands"
awk '
    /<!-- tutorial:begin -->/ { inside = 1; next }
    /<!-- tutorial:end -->/ { inside = 0 }
    !inside { next }
    cont { line = line " " $0 }
    !cont && /^\$ funkd / { line = substr($0, 3) }
    (cont || /^\$ funkd /) {
        if (line ~ /\\$/) { sub(/[ ]*\\$/, "", line); cont = 1; next }
        cont = 0; print line
    }
' "$root/README.md" >"$commands"
count="$(wc -l <"$commands")"
if [ "$count" -lt 4 ]; then
    echo "check-tutorial: found only $count tutorial commands in README.md (markers missing?)" >&2
    exit 1
fi

cd "$work/tutorial"
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    echo "--- [$n/$count] \$ $cmd"
    if ! bash -c "$cmd" >"$work/out" 2>"$work/err" </dev/null; then
        echo "check-tutorial: this README tutorial command failed:" >&2
        echo "  \$ $cmd" >&2
        sed 's/^/  stdout: /' "$work/out" >&2
        sed 's/^/  stderr: /' "$work/err" >&2
        exit 1
    fi
    if [ "$show" = 1 ]; then
        cat "$work/out"
        sed 's/^/[stderr] /' "$work/err"
    fi
done <"$commands"
echo "check-tutorial: all $count commands of the README tutorial ran"
