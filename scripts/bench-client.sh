#!/usr/bin/env bash
# The async client library against the raw load generator, side by side in
# one run: how many checks one process sustains through one
# pyzor_client::AsyncClient, as a share of what pyzor-load (batched
# sendmmsg/recvmmsg, no library) gets from the same pyzord.
#
#   scripts/bench-client.sh [--seconds S] [--rounds R] [--tasks N] [--threads T]
#
# Starts our pyzord with the memory store on a free loopback port (stopped
# by PID at the end, also on error), then alternates the two load tools for
# R rounds of S seconds each, checks only, over a pool of 100 000 digests;
# prints each round and the best of each side, and their ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=5 rounds=3 tasks=256 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--rounds R] [--tasks N] [--threads T]" >&2; exit 2 ;;
  esac
done

cargo build -q --release -p pyzor-rs -p pyzor-benches \
  --bin pyzord --bin pyzor-load --bin async-client-load

tmp=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT
source scripts/lib/pyzord.sh
start_pyzord "$tmp" -e memory

rate() { python3 -c 'import json, sys; print(round(json.load(sys.stdin)["requests_per_second"]))'; }
best_raw=0 best_async=0
echo "round  pyzor-load checks/s  AsyncClient checks/s  ratio"
for r in $(seq "$rounds"); do
  raw=$(target/release/pyzor-load "127.0.0.1:$port" --ops check=100 --keys pool:100000 \
    --duration "$seconds" --json | rate)
  asy=$(target/release/async-client-load "127.0.0.1:$port" --tasks "$tasks" --threads "$threads" \
    --duration "$seconds" --json | rate)
  printf "%5d  %19d  %20d  %5.2f\n" "$r" "$raw" "$asy" "$(python3 -c "print($asy / max($raw, 1))")"
  [ "$raw" -gt "$best_raw" ] && best_raw=$raw
  [ "$asy" -gt "$best_async" ] && best_async=$asy
done
printf "best   %19d  %20d  %5.2f\n" "$best_raw" "$best_async" "$(python3 -c "print($best_async / max($best_raw, 1))")"
