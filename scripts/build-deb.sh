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
deb=$(cargo deb --locked -p pyzor-rs --strip "$@" | tail -n 1)
# cargo-deb writes no md5sums: add them (conffiles excepted, as
# dh_md5sums does), so that `dpkg --verify pyzor-rs` checks the installed
# files
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -R "$deb" "$unpacked/pkg"
(cd "$unpacked/pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
  | grep -zvxF -f <(sed 's|^/||' DEBIAN/conffiles 2>/dev/null) | xargs -0 md5sum >DEBIAN/md5sums)
chmod 644 "$unpacked/pkg/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$unpacked/pkg" "$deb" >/dev/null
echo "$deb"
