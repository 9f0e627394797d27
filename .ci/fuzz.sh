#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (default 20 s each), on
# the stable toolchain without a sanitizer (`-s none`), with debug assertions on.
# A crash fails the run (the input is left in fuzz/artifacts/<target>/). When
# cargo-fuzz is missing and cannot be installed, says so and skips (exit 0): a tool
# problem is not a finding.
#
#   bash .ci/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz"
    if ! timeout 600 cargo install cargo-fuzz --locked --quiet; then
        echo "skipped: fuzzing (cargo-fuzz could not be installed)"
        exit 0
    fi
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
if ! cargo fuzz build -s none -a --target-dir "$target_dir" >"$corpus/build.log" 2>&1; then
    cat "$corpus/build.log"
    exit 1
fi
for t in $(cargo fuzz list); do
    mkdir -p "$corpus/$t" "fuzz/seeds/$t"
    # new inputs go to a temporary corpus; fuzz/seeds is read only
    cargo fuzz run -s none -a --target-dir "$target_dir" "$t" "$corpus/$t" "fuzz/seeds/$t" \
        -- -max_total_time="$seconds" -print_final_stats=1 2>"$corpus/$t.log" || {
        tail -n 60 "$corpus/$t.log"
        echo "fuzz target $t failed: its input is in fuzz/artifacts/$t/"
        exit 1
    }
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$corpus/$t.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $t: $runs runs in ${seconds} s, no crash"
done
