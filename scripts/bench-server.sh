#!/usr/bin/env bash
# Server throughput of pyzor-rs against the reference pyzord 1.1.2 and the
# loopback ceiling, side by side in one run.
#
#   scripts/bench-server.sh [--seconds S] [--rounds R] [--window W]
#                           [--sockets N] [--ops MIX] [--keys KEYS]
#                           [--markdown FILE] [--only NAME,NAME...]
#
# Targets: the echo ceiling (pyzor-load echo), our pyzord with the memory,
# file, redis and mysql stores, the reference pyzord with its gdbm, redis
# and mysql engines (MariaDB started here, its table emptied before each
# mysql run). Every target gets the same load (pyzor-load with the same op
# mix, key space, sockets and window) for the same time; rounds alternate
# the targets and the best round of each is kept (this machine is noisy).
# Then, for our file store: p99 at 80 % of its peak, and signed against
# anonymous requests.
#
# Everything the script starts (servers, redis-server) is started on free
# loopback ports in a temporary directory and stopped by PID at the end,
# also on error or Ctrl-C. Needs the peers (scripts/install-peers.sh) for
# the reference, redis and mysql targets; without them those rows are
# skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzord --bin pyzor-load
exec python3 scripts/lib/bench_server.py "$@"
