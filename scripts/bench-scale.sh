#!/usr/bin/env bash
# The stores on what a public server sees, side by side in one run, and as
# the file store grows.
#
#   scripts/bench-scale.sh [--seconds S] [--rounds R] [--sizes N,N,...]
#                          [--only NAME,NAME...] [--markdown FILE]
#
# First table: each target (the echo ceiling, our pyzord with the memory,
# file and redis stores, the reference pyzord 1.1.2 with gdbm) started
# empty, then driven by pyzor-load with each of its four workloads
# (pool-mix, fresh-reports, fresh-checks, real-mix) for S seconds; best of
# R rounds. Second table: our file store prefilled to each size (default
# 100000,1000000,10000000; pyzor-load --prefill), then the four workloads,
# each as a ratio of its empty-store figure; bytes per digest on disk (once
# the logs are in the tables, before the workloads), the peak RSS, and the
# time from starting pyzord on it to its first answer.
# Last: the memory store's RSS per digest at the largest size.
#
# Everything is started on free loopback ports in a temporary directory
# (under $TMPDIR) and stopped by PID at the end, also on error or Ctrl-C.
# The reference and Redis rows need the peers (scripts/install-peers.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzord --bin pyzor-load
exec python3 scripts/lib/bench_scale.py "$@"
