#!/usr/bin/env bash
# Cost of one memory-tree sample (µs) for a tree of 1 and of ~1000 processes, with ratios
# against sysinfo refreshing every process in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench tree_sample "$@"
