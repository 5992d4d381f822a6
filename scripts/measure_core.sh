#!/usr/bin/env bash
# Figures for the lifecycle core: restart latency (the reaper's exit event -> next spawn,
# backoff 0),
# clawvisor's idle RSS, and the release binary's size.
# Usage: bash scripts/measure_core.sh   (builds the release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/clawvisor
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

cfg() {
  cat > "$work/$1.toml" <<TOML
[gateway]
command = $2
[restart]
max_restarts = 1000000
[restart.backoff]
initial = "0s"
jitter = 0.0
[state]
dir = "$work/$1/state"
[logs]
dir = "$work/$1/logs"
[control]
socket = "$work/$1/c.sock"
TOML
}

# 1. Restart latency: a child that exits at once, restarted with zero backoff.
cfg latency '["/bin/false"]'
"$bin" --log-format json --log-level info run --config "$work/latency.toml" 2> "$work/latency.log" &
pid=$!
sleep 5
kill -TERM $pid; wait $pid || true
python3 - "$work/latency.log" <<'PY'
import json, sys, datetime, statistics
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t = lambda e: datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
gaps, last_fail = [], None
for e in ev:
    m = e.get("message", "")
    if m.startswith("gateway exited"): last_fail = t(e)
    elif m == "gateway started" and last_fail is not None:
        gaps.append((t(e) - last_fail) * 1000); last_fail = None
gaps.sort()
q = lambda p: gaps[min(len(gaps) - 1, int(p * len(gaps)))]
print(f"restart latency (exit -> next spawn, backoff 0): n={len(gaps)} p50={q(.5):.3f} ms p99={q(.99):.3f} ms max={gaps[-1]:.3f} ms")
PY

# 2. Idle RSS: supervising a sleeping child.
cfg idle '["sleep", "600"]'
"$bin" run --config "$work/idle.toml" 2> /dev/null &
pid=$!
sleep 3
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
threads=$(awk '/Threads/ {print $2}' /proc/$pid/status)
echo "idle RSS: ${rss} KiB (peak ${hwm} KiB), ${threads} threads"
kill -TERM $pid; wait $pid || true

# 3. Binary size.
echo "release binary: $(stat -c %s "$bin") bytes ($(numfmt --to=iec-i --suffix=B "$(stat -c %s "$bin")"))"
