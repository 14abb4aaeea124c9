#!/usr/bin/env bash
# Keeps the flag lists in docs/cli.md equal to what the binary prints.
# Between "<!-- help: CMD -->" and "<!-- /help -->" docs/cli.md holds the
# output of `funkd CMD --help` in a text block.
#
#   docs/cli-help.sh                 # check: fails if a list differs from --help
#   docs/cli-help.sh --write         # rewrite the lists from --help
#   docs/cli-help.sh --funkd PATH    # the binary (default: cargo build -p funkd, debug)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
doc="$root/docs/cli.md"
funkd="" write=0
while [ $# -gt 0 ]; do
    case "$1" in
        --write) write=1; shift ;;
        --funkd) funkd="$(realpath "$2")"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "cli-help: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$funkd" ]; then
    cargo build --quiet -p funkd --manifest-path "$root/Cargo.toml"
    funkd="$root/target/debug/funkd"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Usage lines name the binary as invoked: call it "funkd" whatever the path.
mkdir "$work/bin"
ln -s "$funkd" "$work/bin/funkd"
funkd="$work/bin/funkd"
# The same width wherever it runs (help is wrapped to the terminal, at most 100).
export COLUMNS=100

# Rebuild the document with fresh help blocks.
while IFS= read -r line; do
    printf '%s\n' "$line"
    if [[ "$line" =~ ^'<!-- help: '([a-z]+)' -->'$ ]]; then
        cmd="${BASH_REMATCH[1]}"
        printf '```text\n$ funkd %s --help\n' "$cmd"
        "$funkd" "$cmd" --help </dev/null 2>&1 | sed -e 's/[[:space:]]*$//' || {
            echo "cli-help: funkd $cmd --help failed" >&2
            exit 1
        }
        printf '```\n'
        while IFS= read -r line && [ "$line" != '<!-- /help -->' ]; do :; done
        printf '%s\n' '<!-- /help -->'
    fi
done <"$doc" >"$work/cli.md"

if [ "$write" = 1 ]; then
    cp "$work/cli.md" "$doc"
    echo "cli-help: wrote $(grep -c '^<!-- help: ' "$doc") help blocks into docs/cli.md"
elif ! diff -u "$doc" "$work/cli.md" >"$work/diff"; then
    cat "$work/diff" >&2
    echo "cli-help: docs/cli.md differs from funkd --help; run docs/cli-help.sh --write" >&2
    exit 1
else
    echo "cli-help: docs/cli.md matches funkd --help"
fi
