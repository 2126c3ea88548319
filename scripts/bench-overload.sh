#!/usr/bin/env bash
# Overload: pyzord (durable file store) driven at 3x what it serves.
#
#   scripts/bench-overload.sh [--seconds S] [--factor F] [--ops MIX]
#
# Measures the peak (pyzor-load, closed loop: 2 sockets x window 128) of
# fresh reports (each a new digest: the file store's costliest work),
# then offers F times that rate open-loop (--rate) for S seconds while
# sampling pyzord's RSS every second, and prints the answered rate
# against the peak, the latency of what was answered, the losses (no
# reply within 5 s) beside what the kernel dropped at pyzord's sockets
# (its metric pyzord_receive_dropped_total), the replies by code (500:
# refused because a commit stalled) and RSS over time.
# pyzord runs on a free loopback port in a temporary directory and is
# stopped by PID at the end, also on error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=20 factor=3 ops="report=100"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --factor) factor=$2; shift 2 ;;
    --ops) ops=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--factor F] [--ops MIX]" >&2; exit 2 ;;
  esac
done

cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzord --bin pyzor-load

tmp=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT
source scripts/lib/pyzord.sh
metrics=$(free_port tcp)
start_pyzord "$tmp" --metrics "$metrics"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
dropped() {
  python3 -c 'import sys, urllib.request
for l in urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode().splitlines():
    if l.startswith("pyzord_receive_dropped_total "): print(l.split()[1])' "$metrics"
}
idle=$(rss)

peak_json=$(target/release/pyzor-load "127.0.0.1:$port" --ops "$ops" --keys fresh --duration 10 --json)
peak=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["requests_per_second"]))' "$peak_json")
rate=$((peak * factor))
after_peak=$(rss)
dropped_before=$(dropped)

target/release/pyzor-load "127.0.0.1:$port" --ops "$ops" --keys fresh --rate "$rate" \
  --sockets 4 --window 32768 --timeout-ms 5000 --duration "$seconds" --json >"$tmp/over.json" &
load=$!
samples=()
for s in $(seq "$seconds"); do
  sleep 1
  samples+=("$s:$(rss)")
done
wait "$load"
# what the kernel still delivers settles within the workers' next look
sleep 2
dropped_after=$(dropped)
python3 - "$peak" "$rate" "$idle" "$after_peak" "$((dropped_after - dropped_before))" "$tmp/over.json" "${samples[@]}" <<'PY'
import json, sys
peak, rate, idle, after_peak, dropped = map(int, sys.argv[1:6])
over = json.load(open(sys.argv[6]))
samples = [tuple(map(int, s.split(":"))) for s in sys.argv[7:]]
ans = over["requests_per_second"]
print(f"peak (closed loop):        {peak} req/s")
print(f"offered (open loop):       {rate} req/s ({rate / peak:.1f}x the peak)")
print(f"answered under overload:   {ans:.0f} req/s = {ans / peak:.0%} of the peak")
print(f"latency of the answered:   p50 {over['p50_us'] / 1000:.1f} ms, p99 {over['p99_us'] / 1000:.1f} ms, p99.9 {over['p999_us'] / 1000:.1f} ms")
print(f"sent {over['sent']}, answered {over['answered']}, lost {over['lost']} (no reply within 5 s, the reference client's timeout)")
print(f"dropped at pyzord's sockets: {dropped} (pyzord_receive_dropped_total)")
print("answered by code:          " + ", ".join(f"{c}: {n}" for c, n in sorted(over["codes"].items())))
print(f"RSS: idle {idle / 1024:.1f} MiB, after the peak run {after_peak / 1024:.1f} MiB")
print("RSS under overload (s: MiB): " + ", ".join(f"{s}: {kb / 1024:.1f}" for s, kb in samples))
print(f"RSS max under overload: {max(kb for _, kb in samples) / 1024:.1f} MiB")
PY
