# shellcheck shell=bash
# Sourced by ../shared/systemd-lab/real-systemd.sh (HOOK=) from .ci/packaging.sh: inside a
# real systemd 252 (PID 1 of an nspawn container) the .deb is installed as a user would, and
# clawvisor.service and a clawvisor@lab instance supervise the fake gateway. It uses the lab's
# inside / ok / bad / start_timed / $ROOTFS. The SUT dir (/opt/sut) holds clawvisor.deb and
# fake-gateway.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_open() { python3 -c 'import socket, sys; s=socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "$1"; }
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done

# ---- the package ------------------------------------------------------------------------
if inside dpkg -i /opt/sut/clawvisor.deb >"$LAB/dpkg.log" 2>&1; then ok "dpkg -i clawvisor.deb in the container"
else cat "$LAB/dpkg.log"; bad "dpkg -i"; return 0; fi
inside getent passwd clawvisor >/dev/null && ok "postinst created the clawvisor user" || bad "no clawvisor user"
inside systemctl daemon-reload

# The fake gateway in place of openclaw; --spawn-setsid-child leaves a worker in its own
# session, as openclaw's spawn-broker does, which a stop must not leave behind.
gateway_config() {  # PORT STATE LOGS SOCKET [extra argv...]
  local port=$1 state=$2 logs=$3 sock=$4; shift 4
  local extra=""; for a in "$@"; do extra+=", \"$a\""; done
  cat <<CFG
[gateway]
command = ["/opt/sut/fake-gateway", "--port", "$port", "--ready-delay", "2s", "--log-rate", "2", "--spawn-setsid-child"$extra]
[stop]
timeout = "10s"
[state]
dir = "$state"
[logs]
dir = "$logs"
[control]
socket = "$sock"
group = "clawvisor"
[probes.liveness]
url = "http://127.0.0.1:$port/healthz"
period = "2s"
[probes.readiness]
url = "http://127.0.0.1:$port/readyz"
period = "1s"
CFG
}
gateway_config "$P1" /var/lib/clawvisor /var/log/clawvisor /run/clawvisor/clawvisor.sock \
  >"$ROOTFS/etc/clawvisor/clawvisor.toml"
gateway_config "$P2" /var/lib/clawvisor/lab /var/log/clawvisor/lab /run/clawvisor-lab/clawvisor.sock \
  --env-dump /var/lib/clawvisor/lab/gateway.env >"$ROOTFS/etc/clawvisor/lab.toml"
inside clawvisor check --config /etc/clawvisor/clawvisor.toml >/dev/null \
  && ok "installed clawvisor check accepts the lab config" || bad "clawvisor check"

# ---- clawvisor.service ---------------------------------------------------------------------
start_timed clawvisor.service
st=$(inside systemctl status clawvisor.service --no-pager 2>&1 || true); echo "$st"
status_text=$(inside systemctl show -P StatusText clawvisor.service)
[ "$RC" = 0 ] && grep -q 'active (running)' <<<"$st" && grep -q "Status: \"$status_text\"" <<<"$st" \
  && [ -n "$status_text" ] && [[ "$status_text" == *", ready"* ]] \
  && ok "clawvisor.service active after ${EL}s (Type=notify READY=1), Status: \"$status_text\"" \
  || bad "clawvisor.service rc=$RC status='$status_text'"
port_open "$P1" && ok "the gateway answers on $P1" || bad "nothing on $P1"
ctl=$(inside clawvisor ctl status 2>&1 || true)
grep -qi "running" <<<"$ctl" && ok "clawvisor ctl status (root, over /run/clawvisor/clawvisor.sock)" \
  || { echo "$ctl"; bad "ctl status"; }
inside test -s /var/log/clawvisor/gateway.out.log \
  && [ "$(inside stat -c %U /var/log/clawvisor/gateway.out.log)" = clawvisor ] \
  && ok "the gateway's log in LogsDirectory, owned by clawvisor" || bad "no gateway log"
start_timed_reload() { local t; t=$(now); set +e; inside systemctl reload clawvisor.service; RC=$?; set -e; EL=$(secs "$t"); }
start_timed_reload
[ "$RC" = 0 ] && ok "systemctl reload (ExecReload: clawvisor ctl reload) in ${EL}s" || bad "reload rc=$RC"

sec=$(inside systemd-analyze security clawvisor.service --no-pager 2>&1 | grep 'Overall exposure' || true)
score=$(grep -oE '[0-9]+\.[0-9]+' <<<"$sec" | head -1)
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' \
  && ok "live unit: $sec" || bad "security score of the live unit: '$sec'"

# ---- journald priorities --------------------------------------------------------------------
# A pause is a warning in clawvisor's own log: journalctl -p warning must show it, and the
# info lines (state changes) must not be there.
inside clawvisor ctl pause --reason "lab priority check" >/dev/null || bad "ctl pause"
sleep 1
warn=$(inside journalctl -b -u clawvisor.service -p warning -o cat --no-pager 2>&1 || true)
info=$(inside journalctl -b -u clawvisor.service -p info -o cat --no-pager 2>&1 || true)
echo "--- journalctl -u clawvisor -p warning:"; echo "$warn" | tail -5
if grep -q "lab priority check" <<<"$warn"; then
  grep -q -- "-> running" <<<"$warn" \
    && bad "info lines (state changes) are at priority warning too" \
    || ok "journalctl: the pause at priority warning, state changes at info"
elif grep "lab priority check" <<<"$info" | grep -q WARN; then
  # clawvisor's text log under journald without sd-daemon <N> prefixes (issue 10 adds them):
  # every line lands at the unit's default priority.
  log "NOT CHECKED: this clawvisor writes no journald level prefixes; its WARN line is at priority info"
else
  echo "$info" | tail -20; bad "the pause is not in the journal"
fi
inside clawvisor ctl resume >/dev/null || bad "ctl resume"

# ---- a template instance beside it -------------------------------------------------------
start_timed clawvisor@lab.service
[ "$RC" = 0 ] && [ "$(inside systemctl is-active clawvisor.service clawvisor@lab.service | sort -u)" = active ] \
  && ok "clawvisor@lab active beside clawvisor.service after ${EL}s" || bad "clawvisor@lab rc=$RC"
env_dump=$(inside cat /var/lib/clawvisor/lab/gateway.env 2>/dev/null || true)
grep -q '^OPENCLAW_STATE_DIR=/var/lib/clawvisor/lab/openclaw$' <<<"$env_dump" \
  && grep -q '^HOME=/var/lib/clawvisor/lab$' <<<"$env_dump" \
  && ! grep -qE '^(NOTIFY_SOCKET|INVOCATION_ID|JOURNAL_STREAM)=' <<<"$env_dump" \
  && ok "the instance's gateway has its own HOME and state dir, no systemd variables" \
  || { echo "$env_dump"; bad "instance gateway environment"; }
inside clawvisor ctl --config /etc/clawvisor/lab.toml status >/dev/null \
  && ok "ctl reaches the instance at /run/clawvisor-lab/clawvisor.sock" || bad "instance ctl"

# ---- stop leaves nothing ---------------------------------------------------------------------
clawvisor_procs() {
  inside sh -c 'u=$(id -u clawvisor); for s in /proc/[0-9]*/status; do
      awk -v u="$u" "/^Uid:/ { if (\$2 == u) f = 1 } END { exit !f }" "$s" 2>/dev/null && echo "${s%/status}"
    done; true'
}
inside systemctl stop clawvisor.service
res=$(inside systemctl show -P Result clawvisor.service)
[ "$res" = success ] && ok "systemctl stop clawvisor: Result=success" || bad "stop Result=$res"
! port_open "$P1" && ok "port $P1 free after the stop" || bad "port $P1 still open"
inside clawvisor ctl --config /etc/clawvisor/lab.toml status >/dev/null \
  && ok "the instance keeps its socket when clawvisor.service stops" || bad "instance lost its socket"
inside systemctl stop clawvisor@lab.service
left=$(clawvisor_procs)
[ -z "$left" ] && ok "no process of the clawvisor user left after both stops (setsid workers included)" \
  || { inside sh -c "cat ${left//$'\n'/ } 2>/dev/null | grep -E '^(Name|Pid|PPid)'" || true; bad "left behind: $left"; }
! port_open "$P2" && ok "port $P2 free" || bad "port $P2 still open"
inside dpkg -P clawvisor >/dev/null 2>&1 && ok "dpkg -P in the container" || bad "purge in the container"
