#!/usr/bin/env bash
# Coverage-guided fuzzing of clawvisor's input-facing parsers (cargo fuzz / libFuzzer), not part
# of CI: each target runs for SECONDS (default 300) from fuzz/seeds/ plus its growing corpus,
# and prints executions and crashes. A crash input is copied into fuzz/regressions/TARGET/,
# which `cargo test` (tests/fuzz_regressions.rs) replays from then on.
#
#   bash scripts/fuzz.sh                    # every target, 300 s each
#   SECONDS_EACH=60 bash scripts/fuzz.sh framer control
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and `cargo install cargo-fuzz`.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-300}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config control framer quality schedule)

# Build every target once (release, ASan, coverage), then run the binaries themselves: a
# `cargo fuzz run` per target would rebuild whenever the tree changed in between.
cargo +nightly fuzz build >&2 || exit 1
bin=fuzz/target/x86_64-unknown-linux-gnu/release

printf '%-10s %12s %10s %8s %s\n' target executions exec/s crashes "kept inputs"
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t" "fuzz/artifacts/$t"
  log=$(mktemp)
  # A schedule that never fires is refused at load after croner searched its whole range:
  # milliseconds in a release build, seconds under ASan. Slow, not hung.
  limit=5
  [ "$t" = schedule ] && limit=30
  "$bin/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -artifact_prefix="fuzz/artifacts/$t/" \
    -max_total_time="$secs" -print_final_stats=1 -max_len=65536 -timeout="$limit" -rss_limit_mb=2048 \
    >"$log" 2>&1
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  rate=$(( execs / (secs > 0 ? secs : 1) ))
  # Only what this run found: artifacts newer than its start.
  crashes=0
  for f in fuzz/artifacts/"$t"/crash-* fuzz/artifacts/"$t"/oom-* fuzz/artifacts/"$t"/timeout-*; do
    [ "$f" -nt "$log" ] || continue
    crashes=$((crashes + 1))
    cp "$f" "fuzz/regressions/$t/"
  done
  printf '%-10s %12s %10s %8s %s\n' "$t" "$execs" "$rate" "$crashes" "$(ls "fuzz/corpus/$t" | wc -l)"
  if [ "$crashes" -gt 0 ]; then
    echo "  crash inputs copied to fuzz/regressions/$t/; the first report:"
    grep -m1 -A12 -E 'panicked|ERROR: libFuzzer|==ERROR' "$log" | sed 's/^/  /'
  fi
  rm -f "$log"
done
