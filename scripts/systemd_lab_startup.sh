#!/usr/bin/env bash
# clawvisor as a Type=notify unit under a REAL systemd 252 (../shared/systemd-lab boots it
# as PID 1 of an nspawn container), with a TimeoutStartSec shorter than the gateway's load:
#   1. a pause persisted by an earlier run: the next start ends `active` at once, with
#      STATUS= "paused: ... resume with `clawvisor ctl resume ...`";
#   2. a gateway that needs longer than TimeoutStartSec to be ready: EXTEND_TIMEOUT_USEC
#      keeps the start job alive, STATUS= says "loading Ns", and it ends `active` once the
#      gateway is ready.
# Both ended `failed` (Result=timeout) before clawvisor learnt READY=1-when-paused and
# EXTEND_TIMEOUT_USEC.
#
# Needs root and apt (see ../shared/systemd-lab/README.md). Uses target/release binaries,
# building them when missing; BIN_DIR=target/debug uses a debug build instead.
# LAB (default /tmp/systemd-lab) is passed through; runs on one LAB are serialised by its lock.
# Exit status 0 when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB_SCRIPT=${LAB_SCRIPT:-$ROOT/../shared/systemd-lab/real-systemd.sh}
BIN_DIR=${BIN_DIR:-$ROOT/target/release}
TIMEOUT_START=${TIMEOUT_START:-5}   # seconds; the slow gateway needs LOAD seconds
LOAD=${LOAD:-15}

if [ ! -x "$BIN_DIR/clawvisor" ] || [ ! -x "$BIN_DIR/fake-gateway" ]; then
  echo "building release binaries into $BIN_DIR" >&2
  (cd "$ROOT" && cargo build --release --bin clawvisor --bin fake-gateway)
fi
[ -f "$LAB_SCRIPT" ] || { echo "no systemd lab at $LAB_SCRIPT" >&2; exit 2; }

SUT=$(mktemp -d /tmp/clawvisor-lab-sut.XXXXXX)
trap 'rm -rf "$SUT"' EXIT
cp "$BIN_DIR/clawvisor" "$BIN_DIR/fake-gateway" "$SUT/"
chmod 755 "$SUT"
# Two free ports on the host (the container shares its network).
read -r PORT_PAUSE PORT_SLOW < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

cat >"$SUT/hook.sh" <<HOOK
# Sourced by real-systemd.sh after boot: inside, ok, bad, start_timed, \$ROOTFS are defined.
TIMEOUT_START=$TIMEOUT_START
LOAD=$LOAD
PORT_PAUSE=$PORT_PAUSE
PORT_SLOW=$PORT_SLOW
HOOK
cat >>"$SUT/hook.sh" <<'HOOK'
lab_unit() {   # lab_unit NAME PORT DELAY: a config and a unit running clawvisor on it
  local name=$1 port=$2 delay=$3
  mkdir -p "$ROOTFS/etc/clawvisor-lab"
  cat >"$ROOTFS/etc/clawvisor-lab/$name.toml" <<EOF
[gateway]
command = ["/opt/sut/fake-gateway", "--port", "$port", "--startup-delay", "$delay"]
[state]
dir = "/var/lib/clawvisor-lab/$name"
[logs]
dir = "/var/log/clawvisor-lab/$name"
[control]
socket = "/run/clawvisor-lab-$name.sock"
[probes.readiness]
url = "http://127.0.0.1:$port/readyz"
EOF
  cat >"$ROOTFS/etc/systemd/system/clawvisor-lab-$name.service" <<EOF
[Unit]
Description=clawvisor lab ($name)
[Service]
Type=notify
NotifyAccess=main
ExecStart=/opt/sut/clawvisor run --config /etc/clawvisor-lab/$name.toml
TimeoutStartSec=$TIMEOUT_START
KillMode=mixed
TimeoutStopSec=20
EOF
  rm -rf "$ROOTFS/var/lib/clawvisor-lab/$name" "$ROOTFS/var/log/clawvisor-lab/$name"
}
show() { inside systemctl show -P "$2" "$1"; }

lab_unit pause "$PORT_PAUSE" "${LOAD}s"
lab_unit slow "$PORT_SLOW" "${LOAD}s"
inside systemctl daemon-reload

# ---- 1. a pause persisted by an earlier run
inside systemctl start --no-block clawvisor-lab-pause.service
for _ in $(seq 1 100); do
  inside /opt/sut/clawvisor ctl --socket /run/clawvisor-lab-pause.sock status >/dev/null 2>&1 && break
  sleep 0.1
done
inside /opt/sut/clawvisor ctl --socket /run/clawvisor-lab-pause.sock pause --reason "lab: look at the GPU first" || bad "ctl pause"
for _ in $(seq 1 100); do [ "$(show clawvisor-lab-pause.service ActiveState)" = active ] && break; sleep 0.1; done
echo "earlier run: $(show clawvisor-lab-pause.service ActiveState), STATUS=$(show clawvisor-lab-pause.service StatusText)"
inside systemctl stop clawvisor-lab-pause.service
echo "state.json kept by the earlier run:"; cat "$ROOTFS/var/lib/clawvisor-lab/pause/state.json" | head -5
start_timed clawvisor-lab-pause.service
st=$(show clawvisor-lab-pause.service ActiveState); res=$(show clawvisor-lab-pause.service Result)
status=$(show clawvisor-lab-pause.service StatusText)
inside systemctl status clawvisor-lab-pause.service --no-pager || true
echo "pause: rc=$RC after ${EL}s ActiveState=$st Result=$res STATUS=$status"
[ "$RC" = 0 ] && [ "$st" = active ] && [[ $status == paused:*"lab: look at the GPU first"*"clawvisor ctl resume"* ]] \
  && ok "persisted pause: active after ${EL}s (TimeoutStartSec=${TIMEOUT_START}s), STATUS=$status" \
  || bad "persisted pause: rc=$RC ActiveState=$st Result=$res STATUS=$status"
warn=$(inside journalctl -b -u clawvisor-lab-pause.service -p warning -o cat --no-pager || true)
grep -q "still paused since an earlier run" <<<"$warn" && ! grep -q $'\e' <<<"$warn" \
  && ok "journalctl -p warning shows the pause alert, without escape codes" \
  || bad "journal priorities: $warn"
inside systemctl stop clawvisor-lab-pause.service

# ---- 2. a gateway that needs longer than TimeoutStartSec to be ready
inside systemctl start --no-block clawvisor-lab-slow.service
t0=$(date +%s); seen_loading=""; st=""
while [ $(( $(date +%s) - t0 )) -lt $(( LOAD + 60 )) ]; do
  st=$(show clawvisor-lab-slow.service ActiveState)
  s=$(show clawvisor-lab-slow.service StatusText)
  [[ $s == *loading* ]] && { [ -z "$seen_loading" ] && echo "while loading: $st, STATUS=$s"; seen_loading=$s; }
  [ "$st" = activating ] || break
  sleep 1
done
el=$(( $(date +%s) - t0 ))
res=$(show clawvisor-lab-slow.service Result); status=$(show clawvisor-lab-slow.service StatusText)
inside systemctl status clawvisor-lab-slow.service --no-pager || true
echo "slow: after ${el}s ActiveState=$st Result=$res STATUS=$status"
[ "$st" = active ] && [ "$res" = success ] && [ "$el" -gt "$TIMEOUT_START" ] && [[ $status == *ready* ]] \
  && [ -n "$seen_loading" ] \
  && ok "slow gateway: active after ${el}s > TimeoutStartSec=${TIMEOUT_START}s; loading STATUS=\"$seen_loading\", then STATUS=\"$status\"" \
  || bad "slow gateway: ActiveState=$st Result=$res after ${el}s, STATUS=$status (loading seen: ${seen_loading:-no})"
inside journalctl -b -u clawvisor-lab-slow.service -o cat --no-pager | tail -8 || true
inside systemctl stop clawvisor-lab-slow.service
HOOK

DEMO=0 SUT_DIR=$SUT HOOK=$SUT/hook.sh bash "$LAB_SCRIPT"
