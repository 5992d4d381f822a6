#!/usr/bin/env bash
# Packaging checks, run by .ci/run after the test suite (as root, on Debian):
#   1. the .deb: built with cargo-deb, lintian, installed with dpkg, the installed
#      `clawvisor check` and `--version`, `systemd-analyze verify` of the installed units,
#      then removed and purged with nothing left behind;
#   2. the units under a real systemd 252 (../shared/systemd-lab), with the .deb installed in
#      the container (packaging/systemd/lab-checks.sh);
#   3. the Kubernetes manifests (kubernetes-validate) and the Containerfile (BuildKit's parser).
# Each step prints its time. SKIP_LAB=1 skips step 2 (needs root, apt, systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step_start=0
step() { step_start=$(date +%s); echo "== packaging: $*"; }
done_step() { echo "== packaging: $* ($(( $(date +%s) - step_start ))s)"; }
fail() { echo "packaging: FAIL: $*" >&2; exit 1; }

# ---- tools (installed only when missing) -------------------------------------------------
step "tools"
apt_missing=()
command -v lintian >/dev/null || apt_missing+=(lintian)
command -v man >/dev/null || apt_missing+=(man-db)
command -v systemd-analyze >/dev/null || apt_missing+=(systemd)
command -v python3 >/dev/null || apt_missing+=(python3 python3-venv)
if [ "${SKIP_LAB:-0}" != 1 ]; then   # what real-systemd.sh would install, without its lock race
  command -v systemd-nspawn >/dev/null || apt_missing+=(systemd-container)
  command -v debootstrap >/dev/null || apt_missing+=(debootstrap)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
if ! command -v cargo-deb >/dev/null; then
  echo "installing cargo-deb (cargo install --locked; a few minutes, once per machine)"
  cargo install cargo-deb --locked --quiet
fi
# The Python checkers' packages: where this python3 has them, else in a venv under target/
# (Debian's own python3 refuses system-wide pip installs).
PY=python3
if ! python3 -c "import kubernetes_validate, dockerfile" 2>/dev/null; then
  PY=$ROOT/target/packaging-venv/bin/python3
  if [ ! -x "$PY" ] || ! "$PY" -c "import kubernetes_validate, dockerfile" 2>/dev/null; then
    python3 -m venv "$ROOT/target/packaging-venv" 2>/dev/null || {
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$ROOT/target/packaging-venv"
    }
    "$PY" -m pip install --quiet --disable-pip-version-check kubernetes-validate dockerfile
  fi
fi
done_step "tools ready"

# ---- 1. the .deb -------------------------------------------------------------------------
step "build the .deb"
deb=$(bash packaging/deb/build.sh | tail -1)
[ -f "$deb" ] || fail "no .deb at '$deb'"
deb=$(readlink -f "$deb")
ls -l "$deb"
debver=$(dpkg-deb -f "$deb" Version)
head -1 packaging/deb/changelog | grep -qF "clawvisor ($debver)" \
  || fail "packaging/deb/changelog's first entry is not version $debver: add one"
done_step "built $(basename "$deb")"

step "lintian"
# Findings are printed; errors fail. Known, not real for a Rust binary packaged by cargo-deb
# (info level): hardening-no-fortify-functions (Rust does not call glibc's _chk functions),
# no-md5sums-control-file (cargo-deb writes none), package-supports-alternative-init-but-no-init.d-script;
# and the warning initial-upload-closes-no-bugs (an ITP bug is for uploads to Debian itself).
lint=$(lintian --display-info "$deb" 2>&1 | grep -v "^running with root privileges" || true)
echo "${lint:-no findings}"
grep -q '^E:' <<<"$lint" && fail "lintian errors"
done_step "lintian"

step "dpkg install, check, remove, purge"
dpkg --purge clawvisor >/dev/null 2>&1 || true
dpkg -i "$deb"
files=$(dpkg -L clawvisor)
for want in /usr/bin/clawvisor /usr/lib/systemd/system/clawvisor.service \
  /usr/lib/systemd/system/clawvisor@.service /etc/clawvisor/clawvisor.toml \
  /etc/clawvisor/reasoning_tests.json /usr/lib/sysusers.d/clawvisor.conf \
  /usr/share/man/man1/clawvisor.1.gz /usr/share/man/man1/clawvisor-ctl-status.1.gz \
  /usr/share/bash-completion/completions/clawvisor /usr/share/zsh/vendor-completions/_clawvisor \
  /usr/share/fish/vendor_completions.d/clawvisor.fish \
  /usr/share/doc/clawvisor/examples/instance.toml /usr/share/doc/clawvisor/changelog.Debian.gz; do
  grep -qx "$want" <<<"$files" || fail "the package does not install $want"
  [ -e "$want" ] || fail "$want is listed but missing"
done
dpkg-query -W -f='${Conffiles}\n' clawvisor | grep -q '/etc/clawvisor/clawvisor.toml' \
  || fail "/etc/clawvisor/clawvisor.toml is not a conffile"
getent passwd clawvisor | grep -q ':/var/lib/clawvisor:/usr/sbin/nologin$' \
  || fail "no clawvisor system user: $(getent passwd clawvisor)"
version=$(/usr/bin/clawvisor --version)
echo "$version"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[ "$version" = "clawvisor $(dpkg-query -W -f='${Version}' clawvisor | cut -d- -f1) (git $commit)" ] \
  || fail "--version '$version' does not name version and commit $commit"
# check's preflight resolves the gateway's command on PATH: openclaw itself comes from npm,
# so a stand-in takes its place for this check (the lab runs the unit with a real child).
stub=$(mktemp -d)
printf '#!/bin/sh\nexit 0\n' >"$stub/openclaw"; chmod 755 "$stub/openclaw"
PATH=$stub:$PATH /usr/bin/clawvisor check --config /etc/clawvisor/clawvisor.toml
rm -rf "$stub"
man -w clawvisor >/dev/null || fail "man clawvisor finds no page"
# Now with the man page installed: Documentation=man:clawvisor(1) is checked too.
systemd-analyze verify /usr/lib/systemd/system/clawvisor.service /usr/lib/systemd/system/clawvisor@.service
bash -c 'source /usr/share/bash-completion/completions/clawvisor && complete -p clawvisor' >/dev/null \
  || fail "the bash completion does not register"

dpkg -r clawvisor
[ ! -e /usr/bin/clawvisor ] || fail "remove left /usr/bin/clawvisor"
[ -e /etc/clawvisor/clawvisor.toml ] || fail "remove deleted the conffile (only purge may)"
dpkg -P clawvisor
dpkg-query -W clawvisor >/dev/null 2>&1 && [ -n "$(dpkg-query -W -f='${Status}' clawvisor | grep -v not-installed)" ] \
  && fail "dpkg still knows clawvisor after purge"
left=()
while read -r f; do
  [ -d "$f" ] || [ ! -e "$f" ] || left+=("$f")
done <<<"$files"
for d in /etc/clawvisor /usr/share/doc/clawvisor /var/log/clawvisor; do
  [ -e "$d" ] && left+=("$d")
done
[ "${#left[@]}" = 0 ] || fail "purge left: ${left[*]}"
done_step "dpkg install/check/remove/purge"

# ---- 2. the units under a real systemd -----------------------------------------------------
if [ "${SKIP_LAB:-0}" != 1 ]; then
  step "real systemd (systemd-nspawn, ../shared/systemd-lab)"
  lab=../shared/systemd-lab/real-systemd.sh
  [ -f "$lab" ] || fail "$lab is missing"
  sut=$(mktemp -d /tmp/clawvisor-sut.XXXXXX)
  trap 'rm -rf "$sut"' EXIT
  cargo build --quiet --bin fake-gateway
  cp "$deb" "$sut/clawvisor.deb"
  cp target/debug/fake-gateway "$sut/"
  chmod -R a+rX "$sut"
  DEMO=0 SUT_DIR=$sut HOOK=$ROOT/packaging/systemd/lab-checks.sh LAB=${LAB:-/tmp/systemd-lab} \
    bash "$lab"
  done_step "real systemd"
fi

# ---- 3. Kubernetes and the Containerfile ----------------------------------------------------
step "kubernetes manifests and Containerfile"
"$PY" packaging/kubernetes/check.py
"$PY" packaging/container/check.py
done_step "kubernetes and Containerfile"
echo "packaging: all checks passed"
