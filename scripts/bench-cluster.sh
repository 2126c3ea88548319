#!/usr/bin/env bash
# Scale-out on Redis: one pyzord on one redis-server, against one and two
# pyzords on a Redis Cluster of three masters (each with a replica), in one
# run on this machine.
#
#   scripts/bench-cluster.sh [--seconds S] [--rounds R] [--fill N]
#                            [--markdown FILE]
#
# Each setup is driven by one pyzor-load per pyzord (all at once; rates
# summed) with the workloads fresh-reports, real-mix and pool-mix, S
# seconds a cell, best of R. The CPU time every redis-server and every
# pyzord of the setup used (from /proc) is divided by the requests
# answered: the per-node cost that a projection to larger clusters starts
# from. Last, N fresh digests are reported into the cluster and the
# masters' used_memory growth per digest is printed.
#
# Everything runs on free loopback ports in a temporary directory and is
# stopped by PID at the end, also on error or Ctrl-C. Needs redis-server
# and redis-cli (apt-get install redis-server).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzord --bin pyzor-load
exec python3 scripts/lib/bench_cluster.py "$@"
