#!/usr/bin/env bash
# A soak of clawvisor against the fake gateway's crashes, hangs, leaks and log bursts, with
# SIGKILL/SIGSTOP/restart chaos on top; prints clawvisor's RSS, fds and threads over time and
# the lines written vs captured. Not part of CI (it takes SOAK_MINUTES, default 30).
#
#   bash scripts/soak.sh                    # 30 minutes, release build
#   SOAK_MINUTES=5 SOAK_SEED=7 bash scripts/soak.sh
#
# SOAK_KEEP=1 keeps the work dir (config, logs, clawvisor's own JSON log) after a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin clawvisor --bin fake-gateway
exec python3 scripts/soak.py
