#!/usr/bin/env bash
# Draws the Grafana dashboard's main panels from a real load run, for
# readers without Grafana (BENCHMARKS.md shows the result):
#
#   scripts/plot-dashboard.sh [OUT.png]     (default docs/dashboard.png)
#
# Starts target/release/pyzord on its default file store with --metrics and
# a rate limit of 30 000 digests a second per network, samples /metrics
# every second (scripts/lib/dashboard_plot.py), and drives it with
# pyzor-load through four phases: idle; 20 000 req/s of a real mix (check
# 85 / report 10 / anonymous whitelist 5, all fresh digests, the
# whitelists refused with 403); 60 000 req/s of the same; fresh reports as
# fast as it answers (over the rate limit: 429s); idle. Then gnuplot draws
# the panels with the dashboard's formulas. About 100 s; needs gnuplot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-docs/dashboard.png}
command -v gnuplot >/dev/null || { echo "gnuplot is missing: apt-get install gnuplot-nox" >&2; exit 1; }

cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzord --bin pyzor-load
. scripts/lib/pyzord.sh

tmp=$(mktemp -d)
pid="" scraper=""
trap '[ -n "$scraper" ] && kill "$scraper" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
mport=$(free_port tcp)
mkdir "$tmp/home"
start_pyzord "$tmp/home" --metrics "$mport" --update-rate 30000
python3 scripts/lib/dashboard_plot.py scrape "http://127.0.0.1:$mport/metrics" 100 "$tmp/metrics.tsv" &
scraper=$!
t0=$(date +%s.%N)
rel() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.1f}')" "$(date +%s.%N)" "$t0"; }
phase() { # phase LABEL pyzor-load ARGS...
  local label=$1 a b; shift
  a=$(rel)
  target/release/pyzor-load "127.0.0.1:$port" "$@" --json >"$tmp/load.json"
  b=$(rel)
  printf '%s\t%s\t%s\n' "$a" "$b" "$label" >>"$tmp/phases.tsv"
  echo "$label ($a-$b s): $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d answered, %.0f/s, %d lost" % (r["answered"], r["requests_per_second"], r["lost"]))' "$tmp/load.json")"
}
sleep 5
mix="check=85,report=10,whitelist=5"
phase "real mix, 20k/s" --ops "$mix" --keys fresh --rate 20000 --duration 30
phase "real mix, 60k/s" --ops "$mix" --keys fresh --rate 60000 --duration 30
phase "fresh reports, flat out" --workload fresh-reports --duration 20
wait "$scraper" || true
scraper=""
mkdir -p "$(dirname "$out")"
python3 scripts/lib/dashboard_plot.py plot "$tmp/metrics.tsv" "$tmp/phases.tsv" "$out"
echo "$out"
