#!/usr/bin/env bash
# Compares our digests with the real `pyzor digest` (pyzor 1.1.2) over
# every message of a folder (each regular file is one message; recursive)
# or an mbox, and lists each disagreement with the first differing
# predigest line.
#
#   scripts/digest-diff.sh [-j JOBS] DIR|MBOX ...
#
# Needs the reference (scripts/install-peers.sh). Prints one line per
# disagreement and a summary: messages, agreements, disagreements, and
# messages where the reference itself fails (traceback, no digest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

jobs=2
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
venv="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
[ -x "$venv/bin/pyzor" ] || { echo "reference pyzor not found in $venv; run scripts/install-peers.sh" >&2; exit 2; }
cargo build -q --release -p pyzor-rs --bin pyzor
ours="$root/target/release/pyzor"
theirs="$venv/bin/pyzor"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
list="$work/list"
: > "$list"
for arg in "$@"; do
  if [ -d "$arg" ]; then
    find "$arg" -type f -print0 | sort -z | tr '\0' '\n' >> "$list"
  elif [ -f "$arg" ] && head -c 5 "$arg" | grep -q '^From '; then
    # an mbox: split it the way the reference reads mboxes
    mkdir -p "$work/mbox"
    "$venv/bin/python" - "$arg" "$work/mbox" >> "$list" <<'PY'
import mailbox, os, sys
src, out = sys.argv[1], sys.argv[2]
base = os.path.basename(src)
for i, key in enumerate(mailbox.mbox(src).keys()):
    path = os.path.join(out, "%s.%05d" % (base, i))
    with open(path, "wb") as f:
        f.write(mailbox.mbox(src).get_bytes(key))
    print(path)
PY
  elif [ -f "$arg" ]; then
    echo "$arg" >> "$list"
  fi
done

compare_one() {
  f=$1
  home=$(mktemp -d)
  ref=$("$theirs" --homedir "$home" digest < "$f" 2>/dev/null) || ref="ERROR"
  mine=$("$ours" --homedir "$home" digest < "$f" 2>/dev/null) || mine="ERROR"
  if [ "$ref" = "ERROR" ] || [ -z "$ref" ]; then
    echo "REFERROR	$f"
  elif [ "$ref" = "$mine" ]; then
    echo "SAME	$f"
  else
    "$theirs" --homedir "$home" predigest < "$f" > "$home/ref" 2>/dev/null || true
    "$ours" --homedir "$home" predigest < "$f" > "$home/mine" 2>/dev/null || true
    first=$(diff <(cat -n "$home/ref") <(cat -n "$home/mine") | sed -n 's/^[<>] *//p' | head -2 | tr '\t\n' ' |')
    echo "DIFF	$f	ours $mine reference $ref	first differing predigest line: $first"
  fi
  rm -rf "$home"
}
export -f compare_one
export ours theirs

tr '\n' '\0' < "$list" | xargs -0 -r -n 1 -P "$jobs" bash -c 'compare_one "$0"' > "$work/results"
grep '^DIFF' "$work/results" | cut -f2- || true
total=$(wc -l < "$work/results")
same=$(grep -c '^SAME' "$work/results" || true)
diffs=$(grep -c '^DIFF' "$work/results" || true)
referr=$(grep -c '^REFERROR' "$work/results" || true)
echo "messages: $total, same: $same, different: $diffs, reference failed: $referr"
[ "$diffs" -eq 0 ]
