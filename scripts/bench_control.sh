#!/usr/bin/env bash
# Control socket latency: `status` round trips with 1 and 100 concurrent clients against a real
# `clawvisor run` supervising the fake gateway, next to a bare-socket baseline measured in the
# same run (benches/control_latency.rs). Also times the whole `clawvisor ctl status` command.
#
# Usage: scripts/bench_control.sh [REQUESTS_PER_CLIENT]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
per_client="${1:-200}"

cargo build --release --bins --quiet
cargo bench --no-run --bench control_latency --quiet 2>/dev/null || cargo bench --no-run --bench control_latency
bench_bin="$(ls -t target/release/deps/control_latency-* | grep -v '\.d$' | head -1)"

work="$(mktemp -d)"
cleanup() {
    [[ -n "${cv_pid:-}" ]] && kill "$cv_pid" 2>/dev/null && wait "$cv_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/clawvisor.toml" <<TOML
[gateway]
command = ["$PWD/target/release/fake-gateway", "--port", "0", "--log-rate", "20"]
[state]
dir = "$work/state"
[logs]
dir = "$work/logs"
[control]
socket = "$work/clawvisor.sock"
TOML

target/release/clawvisor --log-level warn run --config "$work/clawvisor.toml" >/dev/null 2>"$work/stderr" &
cv_pid=$!
for _ in $(seq 100); do
    target/release/clawvisor ctl --socket "$work/clawvisor.sock" status >/dev/null 2>&1 && break
    sleep 0.1
done

echo "# machine: $(nproc) cores; clawvisor pid $cv_pid; fake gateway logging 20 lines/s"
"$bench_bin" "$work/clawvisor.sock" "$per_client"

# The command people run: process start-up included (sequential, 50 runs).
python3 - "$PWD/target/release/clawvisor" "$work/clawvisor.sock" <<'PY'
import subprocess, sys, time
exe, sock = sys.argv[1], sys.argv[2]
ts = []
for _ in range(50):
    t = time.perf_counter()
    subprocess.run([exe, "ctl", "--socket", sock, "status"], check=True, stdout=subprocess.DEVNULL)
    ts.append(time.perf_counter() - t)
ts.sort()
t_true = []
for _ in range(50):
    t = time.perf_counter()
    subprocess.run(["/bin/true"], check=True)
    t_true.append(time.perf_counter() - t)
t_true.sort()
p = lambda v, q: v[round(q / 100 * (len(v) - 1))]
print(f"`clawvisor ctl status` (whole command, 50 runs): p50 {p(ts,50)*1e3:.2f} ms, p99 {p(ts,99)*1e3:.2f} ms;"
      f" /bin/true baseline p50 {p(t_true,50)*1e3:.2f} ms (ratio {p(ts,50)/p(t_true,50):.1f}x)")
PY
