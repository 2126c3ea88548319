#!/usr/bin/env bash
# `pyzor digest` over an mbox: our CLI against the reference's CLI, both
# reading the same mbox on stdin, and against our in-process digest of the
# same messages; then where our CLI's time goes besides digesting.
#
#   scripts/bench-mbox.sh [--copies K] [--rounds R] [FILE|DIR ...]
#
# The mbox holds K copies (default 100) of the messages (default: the
# real messages of the project's corpus; the reference's CLI stops with a
# TypeError on one of the synthetic ones, see the README's compatibility
# table); the reference runs over a tenth of it and its time is
# scaled up. Best of R rounds (default 3) of CPU time (user + system).
# Needs the reference (scripts/install-peers.sh); perf for the breakdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --copies|--rounds) opts+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
venv="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
[ -x "$venv/bin/python" ] || { echo "reference pyzor not found in $venv; run scripts/install-peers.sh" >&2; exit 2; }
. scripts/lib/message-files.sh
[ $# -gt 0 ] || set -- pyzor-digest/tests/data/corpus/messages
message_files "$@"
cargo build -q --release -p pyzor-rs -p pyzor-benches --bin pyzor --bin digest-throughput
exec python3 scripts/lib/bench_mbox.py --venv "$venv" "${opts[@]}" "${files[@]}"
