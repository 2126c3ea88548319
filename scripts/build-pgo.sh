#!/usr/bin/env bash
# Profile-guided build of the binaries that digest mail: the `pyzor` CLI
# and the digest benchmark (`digest-throughput`).
#
#   scripts/build-pgo.sh [FILE|DIR ...]
#
# 1. builds them instrumented (-Cprofile-generate) in target/pgo-gen;
# 2. digests the training messages with the instrumented benchmark
#    (default: the project's corpus, pyzor-digest/tests/data/corpus);
# 3. merges the profile with llvm-profdata and builds again with it
#    (-Cprofile-use) in target/pgo: target/pgo/release/pyzor and
#    target/pgo/release/digest-throughput.
#
# The profile tells the compiler which branches go which way and which code
# is hot, so it lays hot paths out straight and keeps cold ones out of the
# way. It needs an llvm-profdata of rustc's LLVM version: the rustup
# component (`rustup component add llvm-tools`), or LLVM_PROFDATA=path.
# Library users who embed pyzor-digest get this only by doing the same for
# their own binary (see BENCHMARKS.md for what it gives).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profdata="${LLVM_PROFDATA:-}"
if [ -z "$profdata" ]; then
  sysroot=$(rustc --print sysroot)
  host=$(rustc -vV | sed -n 's/^host: //p')
  profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
fi
if [ ! -x "$profdata" ]; then
  echo "llvm-profdata not found at $profdata: run 'rustup component add llvm-tools'" \
    "or set LLVM_PROFDATA to one of LLVM $(rustc -vV | sed -n 's/^LLVM version: //p')" >&2
  exit 2
fi

. scripts/lib/message-files.sh
message_files "$@"
[ ${#files[@]} -gt 0 ] || { echo "no training messages" >&2; exit 2; }

raw="$PWD/target/pgo-gen/profiles"
rm -rf "$raw"
mkdir -p "$raw"
echo "== instrumented build (target/pgo-gen)"
RUSTFLAGS="-Cprofile-generate=$raw" cargo build -q --release --target-dir target/pgo-gen \
  -p pyzor-benches -p pyzor-rs --bin digest-throughput --bin pyzor
echo "== training: ${#files[@]} messages, 20 passes"
target/pgo-gen/release/digest-throughput --passes 20 "${files[@]}" >/dev/null
"$profdata" merge -o target/pgo-gen/merged.profdata "$raw"
echo "== optimised build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$PWD/target/pgo-gen/merged.profdata" cargo build -q --release --target-dir target/pgo \
  -p pyzor-benches -p pyzor-rs --bin digest-throughput --bin pyzor
echo "built target/pgo/release/pyzor and target/pgo/release/digest-throughput"
