#!/usr/bin/env bash
# Builds the pyzor-rs Debian package into target/debian/ and prints its path.
# Needs cargo-deb (`cargo install cargo-deb --locked`). The man pages and
# completions are generated from the command-line definitions first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-deb >/dev/null || {
  echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2
  exit 1
}
cargo build --release --locked -p pyzor-packaging --bin pyzor-assets >&2
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
rm -rf "$target_dir/release/deb-assets"
assets="$target_dir/release/deb-assets"
"$target_dir/release/pyzor-assets" "$assets" >/dev/null
gzip -9n "$assets"/man/man1/*.1
gzip -9n <README.md >"$assets/README.md.gz"
cargo deb --locked -p pyzor-rs --strip "$@" | tail -n 1
