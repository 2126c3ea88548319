#!/usr/bin/env bash
# Digest throughput of pyzor-rs against the reference pyzor 1.1.2, side by
# side in one run, both in-process over the same messages for the same time.
#
#   scripts/bench-digest.sh [--pgo] [--seconds S] [--rounds R] [FILE|DIR ...]
#
# --pgo: measure the profile-guided build of scripts/build-pgo.sh (trained
# on the project's corpus) instead of the plain release build.
# Default messages: the project's corpus (pyzor-digest/tests/data/corpus).
# Needs the reference (scripts/install-peers.sh). The two sides run
# alternately R times (default 3), S seconds each (default 5); the best
# round of each side is reported (this machine is noisy), with messages/s,
# MB/s and the ratio ours/reference, and the median and range of the
# ratios of the rounds (each round's two sides run back to back).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=5
rounds=3
pgo=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pgo) pgo=1; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
venv="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
[ -x "$venv/bin/python" ] || { echo "reference pyzor not found in $venv; run scripts/install-peers.sh" >&2; exit 2; }

. scripts/lib/message-files.sh
message_files "$@"
total=$(cat "${files[@]}" | wc -c)
echo "== ${#files[@]} messages, $total bytes, $rounds rounds of ${seconds}s per side"

if [ "$pgo" = 1 ]; then
  scripts/build-pgo.sh >&2
  bin=target/pgo/release/digest-throughput
  echo "== profile-guided build (scripts/build-pgo.sh)"
else
  cargo build -q --release -p pyzor-benches --bin digest-throughput
  bin=target/release/digest-throughput
fi
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
best() { # keep the line with the higher msgs_per_s
  if [ -z "$1" ] || awk -v a="$(field "$2" msgs_per_s)" -v b="$(field "$1" msgs_per_s)" 'BEGIN { exit !(a > b) }'; then echo "$2"; else echo "$1"; fi
}
ours="" ref="" ratios=()
for _ in $(seq "$rounds"); do
  o=$("$bin" --seconds "$seconds" "${files[@]}")
  r=$("$venv/bin/python" scripts/lib/ref_digest_throughput.py --seconds "$seconds" "${files[@]}")
  ours=$(best "$ours" "$o")
  ref=$(best "$ref" "$r")
  # the two sides of one round ran back to back, under the same load
  ratios+=("$(awk -v a="$(field "$o" msgs_per_s)" -v b="$(field "$r" msgs_per_s)" 'BEGIN { printf "%.2f", a / b }')")
done

printf '%-22s %14s %10s\n' "" "messages/s" "MB/s"
printf '%-22s %14s %10s\n' "pyzor-rs" "$(field "$ours" msgs_per_s)" "$(field "$ours" mb_per_s)"
printf '%-22s %14s %10s\n' "pyzor 1.1.2 (CPython)" "$(field "$ref" msgs_per_s)" "$(field "$ref" mb_per_s)"
awk -v a="$(field "$ours" msgs_per_s)" -v b="$(field "$ref" msgs_per_s)" 'BEGIN { printf "ratio ours/reference: %.1fx (best rounds)\n", a / b }'
printf '%s\n' "${ratios[@]}" | sort -g | awk '{ r[NR] = $1 } END {
  m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
  printf "ratio per round: median %.1fx, from %.1fx to %.1fx\n", m, r[1], r[NR] }'
