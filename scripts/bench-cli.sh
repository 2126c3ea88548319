#!/usr/bin/env bash
# One-shot cost of `pyzor check < message`: ours against the reference
# pyzor 1.1.2 CLI, both asking the same local pyzord (ours, file store),
# measured with hyperfine in one run.
#
#   scripts/bench-cli.sh [MESSAGE]
#
# Needs hyperfine (apt-get install hyperfine) and the reference
# (scripts/install-peers.sh). Starts and stops its pyzord by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
command -v hyperfine >/dev/null || { echo "hyperfine not found: apt-get install hyperfine" >&2; exit 2; }
[ -x "$venv/bin/pyzor" ] || { echo "reference pyzor not found in $venv; run scripts/install-peers.sh" >&2; exit 2; }
msg="${1:-$(find pyzor-digest/tests/data/corpus/messages -type f ! -name "*.tsv" | sort | head -1)}"
cargo build -q --release --bin pyzor --bin pyzord
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/pyzord --homedir "$tmp/server" -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/client"
echo "127.0.0.1:$port" > "$tmp/client/servers"
for _ in $(seq 50); do target/release/pyzor --homedir "$tmp/client" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "== message: $msg"
# (hyperfine subtracts the cost of the shell that does the redirection)
hyperfine --warmup 3 -i \
  -n "pyzor-rs check" "target/release/pyzor --homedir $tmp/client check < $msg" \
  -n "pyzor 1.1.2 check" "$venv/bin/pyzor --homedir $tmp/client check < $msg"
