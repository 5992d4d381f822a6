#!/usr/bin/env python3
"""A soak of clawvisor over the fake gateway (run by scripts/soak.sh; not part of CI).

Every start of the gateway picks a misbehaviour at random: a crash within ~15 s, an HTTP
hang (liveness restarts it), a memory leak (the memory watch restarts it), a 10 s log burst
at 40,000 lines/s, or none. On top, the driver SIGKILLs or SIGSTOPs the gateway or asks
`ctl restart` every 20-60 s. Every spammed line's id is also recorded by the gateway itself
(--log-copy) after it went out, so at the end the lines written can be compared with what
the log files (live, rotated and gzipped) hold.

Prints clawvisor's RSS, peak RSS, fds, threads, restarts and the latency of `ctl status`
every sample, then a summary. Exit status 1 when a line was lost, a process was left
behind, clawvisor died, or its fds/RSS grew between the first and last fifth of the run.
"""
import collections, glob, gzip, json, os, random, re, signal, socket, subprocess, sys, tempfile, time

minutes = float(os.environ.get("SOAK_MINUTES", "30"))
sample_every = float(os.environ.get("SOAK_SAMPLE_SECS", "10"))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bindir = os.environ.get("SOAK_BIN_DIR", os.path.join(root, "target", "release"))
cv_bin, fake = os.path.join(bindir, "clawvisor"), os.path.join(bindir, "fake-gateway")
work = tempfile.mkdtemp(prefix="clawvisor-soak-")
written_dir = os.path.join(work, "written")
os.makedirs(written_dir)
rng = random.Random(int(os.environ.get("SOAK_SEED", str(int(time.time())))))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

port = free_port()
gateway_sh = os.path.join(work, "gateway.sh")
with open(gateway_sh, "w") as f:
    f.write(f"""#!/bin/sh
# One misbehaviour per start, picked at random; logged to modes.log.
r=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
base="--port {port} --log-stderr-rate 50 --log-copy {written_dir}/$$"
case $((r % 5)) in
  0) mode="crash"; set -- --log-rate 300 --crash-every 15s ;;
  1) mode="hang";  set -- --log-rate 300 --hang-after 12s ;;
  2) mode="leak";  set -- --log-rate 300 --leak-rate 64MiB --leak-max 2GiB ;;
  3) mode="burst"; set -- --log-rate 40000 --log-lines 400000 ;;
  *) mode="calm";  set -- --log-rate 300 ;;
esac
echo "$(date +%s) $$ $mode" >> {work}/modes.log
exec {fake} $base "$@"
""")
os.chmod(gateway_sh, 0o755)
config = os.path.join(work, "clawvisor.toml")
with open(config, "w") as f:
    f.write(f"""
[gateway]
command = ["{gateway_sh}"]
[restart]
max_restarts = 1000000
window = "1m"
[restart.backoff]
initial = "200ms"
max = "3s"
reset_after = "20s"
[stop]
timeout = "3s"
[state]
dir = "{work}/state"
[logs]
dir = "{work}/logs"
max_size = "4MiB"
keep_files = 100000
max_age = "0s"
[control]
socket = "{work}/clawvisor.sock"
[memory]
interval = "1s"
restart_above = "300MiB"
restart_after = "2s"
[gpu]
enabled = false
[disk]
interval = "10s"
[probes]
startup_timeout = "30s"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "1s"
timeout = "1s"
failure_threshold = 3
""")

stderr_log = open(os.path.join(work, "clawvisor.stderr"), "w")
cv = subprocess.Popen([cv_bin, "--log-format", "json", "run", "--config", config],
                      stderr=stderr_log, stdout=subprocess.DEVNULL, start_new_session=True)

def ctl(*args, timeout=15):
    t = time.monotonic()
    r = subprocess.run([cv_bin, "ctl", "--config", config, *args], capture_output=True, text=True, timeout=timeout)
    return r, (time.monotonic() - t) * 1000

def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out

def gateway_pid():
    try:
        r, _ = ctl("status", "--json")
        return json.loads(r.stdout).get("pid"), json.loads(r.stdout)
    except Exception:
        return None, None

samples, chaos = [], collections.Counter()
start = time.monotonic()
end = start + minutes * 60
next_sample, next_chaos = start + 5, start + rng.uniform(20, 60)
print(f"soak: {minutes:g} min in {work}; clawvisor pid {cv.pid}; gateway port {port}", flush=True)
print(f"{'t(s)':>6} {'RSS MiB':>8} {'peak':>6} {'fds':>4} {'thr':>4} {'restarts':>8} {'status ms':>9}  state", flush=True)
while time.monotonic() < end and cv.poll() is None:
    now = time.monotonic()
    if now >= next_sample:
        next_sample += sample_every
        st = proc_status(cv.pid)
        fds = len(os.listdir(f"/proc/{cv.pid}/fd"))
        r, ms = ctl("status", "--json")
        try:
            s = json.loads(r.stdout)
        except ValueError:
            s = {"state": f"ctl failed: {r.stderr.strip()[:80]}", "restarts": -1}
        row = dict(t=now - start, rss=int(st["VmRSS"].split()[0]) / 1024, hwm=int(st["VmHWM"].split()[0]) / 1024,
                   fds=fds, threads=int(st["Threads"]), restarts=s.get("restarts"), ms=ms, state=s.get("state"))
        samples.append(row)
        print(f"{row['t']:6.0f} {row['rss']:8.1f} {row['hwm']:6.1f} {fds:4d} {row['threads']:4d} "
              f"{row['restarts']:8} {ms:9.1f}  {row['state']}", flush=True)
    if now >= next_chaos:
        next_chaos = now + rng.uniform(20, 60)
        pid, _ = gateway_pid()
        what = rng.choice(["SIGKILL", "SIGSTOP", "ctl restart"])
        if what == "ctl restart":
            ctl("restart"); chaos[what] += 1
        elif pid:
            try:
                os.kill(pid, signal.SIGKILL if what == "SIGKILL" else signal.SIGSTOP); chaos[what] += 1
            except ProcessLookupError:
                pass
    time.sleep(0.2)

died = cv.poll() is not None
_, final = gateway_pid()
os.killpg(cv.pid, signal.SIGTERM) if not died else None
try:
    code = cv.wait(timeout=60)
except subprocess.TimeoutExpired:
    code = "hung on TERM"; os.killpg(cv.pid, signal.SIGKILL); cv.wait()

# Processes left behind: anything still running from the soak's directory.
left = []
for p in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        cmd = open(p, "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    if work in cmd and "soak.py" not in cmd:
        left.append((p.split("/")[2], cmd[:100]))
for pid, _ in left:  # clean up what the soak started
    try: os.kill(int(pid), signal.SIGKILL)
    except OSError: pass

written = collections.Counter()
for path in glob.glob(os.path.join(written_dir, "*")):
    for line in open(path):
        tag, _, n = line.strip().partition(" ")
        if n.isdigit():
            written[(tag, int(n))] += 1
captured = collections.Counter()
line_re = re.compile(rb"\[ws\] res id=(\d+) ")
for path in glob.glob(os.path.join(work, "logs", "gateway.*")):
    tag = "out" if ".out." in os.path.basename(path) else "err"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        for line in f:
            m = line_re.search(line)
            if m:
                captured[(tag, int(m.group(1)))] += 1
lost = sum(max(0, c - captured[k]) for k, c in written.items())
extra = sum(max(0, c - written[k]) for k, c in captured.items())
files = glob.glob(os.path.join(work, "logs", "gateway.*"))
modes = collections.Counter(l.split()[2] for l in open(os.path.join(work, "modes.log")))

first = [s for s in samples if s["t"] <= minutes * 60 / 5 and s["t"] >= 60] or samples[:3]
last = [s for s in samples if s["t"] >= minutes * 60 * 4 / 5] or samples[-3:]
mx = lambda rows, k: max(r[k] for r in rows)
print()
print(f"clawvisor: {'DIED' if died else 'alive'} for {time.monotonic() - start:.0f} s; exit on TERM: {code}")
print(f"gateway starts by mode: {dict(modes)}; driver chaos: {dict(chaos)}")
if final:
    print(f"restarts: {final.get('restarts')} by reason {final.get('restarts_by_reason')}")
print(f"RSS MiB: first fifth max {mx(first, 'rss'):.1f}, last fifth max {mx(last, 'rss'):.1f}, peak {mx(samples, 'hwm'):.1f}")
print(f"fds: first fifth max {mx(first, 'fds')}, last fifth max {mx(last, 'fds')}; threads: {min(s['threads'] for s in samples)}..{mx(samples, 'threads')}")
ms = sorted(s["ms"] for s in samples)
print(f"ctl status latency ms: median {ms[len(ms) // 2]:.1f}, max {ms[-1]:.1f}")
print(f"lines written {sum(written.values())}, captured {sum(captured.values())}, lost {lost}, "
      f"captured but unrecorded {extra} (a kill between the write and its record), in {len(files)} files")
print(f"processes left behind: {len(left)} {left[:3]}")
bad = died or lost or left or mx(last, "fds") > mx(first, "fds") + 4 or mx(last, "rss") > mx(first, "rss") * 1.5 + 8
print("soak: FAILED" if bad else "soak: passed")
if not bad and not os.environ.get("SOAK_KEEP"):
    subprocess.run(["rm", "-rf", work])
sys.exit(1 if bad else 0)
