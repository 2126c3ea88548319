#!/usr/bin/env bash
# Builds the profile-guided binaries (scripts/build-pgo.sh, trained on the
# synthetic messages only) and checks that the PGO-built `pyzor digest`
# gives the reference digest of every message in
# pyzor-digest/tests/data/corpus/vectors.tsv. Run by .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build-pgo.sh pyzor-digest/tests/data/corpus/synthetic
corpus=pyzor-digest/tests/data/corpus
checked=0 failed=0
while IFS=$'\t' read -r file want; do
  [ "$file" = file ] && continue
  got=$(target/pgo/release/pyzor digest < "$corpus/messages/$file")
  if [ "$got" != "$want" ]; then
    echo "$file: PGO build gives $got, reference $want" >&2
    failed=$((failed + 1))
  fi
  checked=$((checked + 1))
done < "$corpus/vectors.tsv"
echo "PGO build: $checked messages, $failed different"
[ "$failed" = 0 ] && [ "$checked" -gt 0 ]
