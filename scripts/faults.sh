#!/usr/bin/env bash
# The fault suite with its table: runs every `tests/faults_*.rs` test through the real binary
# (the same tests `cargo test --workspace` runs in CI) and prints what each injected fault was
# expected to do and what this run observed. Exit status: the tests'.
#
#   bash scripts/faults.sh              # every fault test
#   bash scripts/faults.sh faults_disk  # one file
#
# The long variants (FAULTS_CYCLES=1000 start/stop cycles, FAULTS_BIG_MIB=1024 of output
# without a newline) are the defaults here; CI runs the same tests with smaller figures.
set -uo pipefail
cd "$(dirname "$0")/.."
export FAULTS_CYCLES=${FAULTS_CYCLES:-1000} FAULTS_BIG_MIB=${FAULTS_BIG_MIB:-1024}
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  for f in tests/faults_*.rs; do files+=("$(basename "$f" .rs)"); done
fi
args=()
for f in "${files[@]}"; do args+=(--test "$f"); done
log=$(mktemp)
cargo test "${args[@]}" -- --nocapture --test-threads=1 2>&1 | tee "$log" | grep -E '^test .* (ok|FAILED)$|panicked' >&2
rc=${PIPESTATUS[0]}
echo
python3 - "$log" <<'PY'
import sys
# A row may follow libtest's "test NAME ... " on the same line (nothing else was printed).
rows = [('FAULT|' + l.split('FAULT|', 1)[1]).rstrip('\n').split('|')[1:4]
        for l in open(sys.argv[1], errors='replace') if 'FAULT|' in l]
if not rows:
    sys.exit("no fault rows printed")
w = [max(len(r[i]) for r in rows + [["fault", "expected", "observed"]]) for i in range(3)]
w = [min(x, 60) for x in w]
line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"
print(line(["fault", "expected", "observed"]))
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in rows:
    print(line(r))
PY
rm -f "$log"
exit "$rc"
