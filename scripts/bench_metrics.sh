#!/usr/bin/env bash
# [metrics] costs, against a real `clawvisor run` supervising the fake gateway:
#  1. a /metrics scrape and a status-page render, each as a ratio to a `ctl status` round trip
#     over the control socket measured in the same run (one connection per request for all
#     three); the page is drawn over a full ring of the default size (2160 samples);
#  2. the memory of the history ring at its largest (20000 samples): the computed size the
#     page reports, and clawvisor's RSS growth while the ring fills.
#
# Usage: scripts/bench_metrics.sh [REQUESTS]   (default 300; PROFILE=dev for a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-300}"
profile="${PROFILE:-release}"
cargo build --profile "$profile" --bins --quiet
bin="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"

work="$(mktemp -d)"
cleanup() {
    [[ -n "${cv_pid:-}" ]] && kill "$cv_pid" 2>/dev/null && wait "$cv_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# $1: sample_every, $2: history. Starts clawvisor, sets cv_pid and mport.
start() {
    [[ -n "${cv_pid:-}" ]] && kill "$cv_pid" 2>/dev/null && wait "$cv_pid" 2>/dev/null || true
    local gw; gw="$(free_port)"; mport="$(free_port)"
    rm -rf "$work/state" "$work/logs"
    cat > "$work/clawvisor.toml" <<TOML
[gateway]
command = ["$PWD/$bin/fake-gateway", "--port", "$gw", "--log-rate", "20"]
[state]
dir = "$work/state"
[logs]
dir = "$work/logs"
[control]
socket = "$work/clawvisor.sock"
[memory]
interval = "1s"
[probes.liveness]
url = "http://127.0.0.1:$gw/healthz"
period = "1s"
[probes.completion]
url = "http://127.0.0.1:$gw/v1/chat/completions"
period = "5s"
[metrics]
listen = "127.0.0.1:$mport"
sample_every = "$1"
history = "$2"
TOML
    "$bin/clawvisor" --log-level warn run --config "$work/clawvisor.toml" >/dev/null 2>"$work/stderr" &
    cv_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "clawvisor did not start:"; cat "$work/stderr"; exit 1
}

echo "# machine: $(nproc) cores; profile $profile; fake gateway logging 20 lines/s, probes every 1 s and 5 s"

# 1. Costs, over a full ring of the default size: 2160 samples, filled at 5 ms each.
start 5ms 10800ms
sleep 13
python3 - "$work/clawvisor.sock" "$mport" "$requests" <<'PY'
import http.client, json, re, socket, struct, sys, time
sock, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = json.dumps({"version": 1, "command": "status"}).encode()
def ctl_status():
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    s.sendall(struct.pack(">I", len(req)) + req)
    want = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
    got = b""
    while len(got) < want:
        got += s.recv(want - len(got))
    s.close(); return got
def http_get(path):
    c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", path)
    r = c.getresponse(); body = r.read(); c.close()
    assert r.status == 200, (path, r.status); return body
def timed(f):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts
p = lambda v, q: v[round(q / 100 * (len(v) - 1))]
# Interleaved rounds, so drift in machine load hits all three alike.
res = {"ctl": [], "metrics": [], "page": []}
for _ in range(3):
    res["ctl"] += timed(ctl_status)
    res["metrics"] += timed(lambda: http_get("/metrics"))
    res["page"] += timed(lambda: http_get("/"))
for k in res: res[k].sort()
page = http_get("/").decode()
hist = re.search(r"history: (\d+) of (\d+) samples", page).groups()
base = p(res["ctl"], 50)
print(f"ring: {hist[0]} of {hist[1]} samples; /metrics {len(http_get('/metrics'))} B, page {len(page)} B")
for k, name in [("ctl", "`ctl status` round trip"), ("metrics", "/metrics scrape"), ("page", "status page render")]:
    v = res[k]
    print(f"{name:24} p50 {p(v,50)*1e3:7.3f} ms  p99 {p(v,99)*1e3:7.3f} ms  = {p(v,50)/base:5.2f}x ctl status (p50)")
PY

# 2. The ring at its largest: 20000 samples, filled at 1 ms each.
start 1ms 20s
rss() { awk '/VmRSS/ {print $2}' "/proc/$cv_pid/status"; }
sleep 2
before="$(rss)"
for _ in $(seq 240); do
    page="$(curl -s "http://127.0.0.1:$mport/")"
    grep -q 'history: 20000 of 20000' <<<"$page" && break
    sleep 0.5
done
after="$(rss)"
echo "full ring: $(echo "$page" | grep -o 'history: [0-9]* of [0-9]* samples ([^)]*)')" \
     "; clawvisor RSS ${before} KiB after 2 s -> ${after} KiB full ($(( after - before )) KiB growth)"
