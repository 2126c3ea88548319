#!/usr/bin/env bash
# Builds the pyzor-rs Debian package and tests it for real on this machine
# (Debian 12, as root; it installs and purges the package):
#
#   scripts/check-deb.sh [--deb FILE] [--shared DIR]
#
#  1. build it (scripts/build-deb.sh) unless --deb names one; lintian, failing
#     on errors and listing warnings;
#  2. put a pyzor 1.1.2 homedir in /var/lib/pyzor, its gdbm database made by
#     the reference pyzord (the upgrade path);
#  3. install Debian's own pyzor package (Python), then dpkg -i ours, which
#     conflicts with and replaces it; check that it was removed, the pyzord
#     user, /var/lib/pyzord and its mode, the config link, the conffile;
#  4. run pyzord.service's ExecStart as systemd would (scripts/lib/as_service.py:
#     the unit's user and umask, READY=1 to a NOTIFY_SOCKET, SIGTERM) while
#     ../shared/peers/interop_check.sh runs against it, with the interop
#     accounts in /etc/pyzor;
#  5. the README's migration steps with the packaged service: the 1.1.2
#     database served in place (Engine = gdbm), then migrated with
#     `pyzord migrate` into the file store, its counts served;
#  6. dpkg --purge; nothing of the package is left but the pyzord user
#     (Debian policy keeps system users) and the 1.1.2 homedir.
#
# This machine has no systemd as PID 1, so systemctl is not exercised: the
# package's maintainer scripts skip it as Debian's do (deb-systemd-invoke).
# Needs: root, dpkg, lintian, cargo-deb, and the peers of
# scripts/install-peers.sh (the Python pyzor 1.1.2 venv, SpamAssassin's Perl
# client) plus ../shared/peers/interop_check.sh for steps 2, 4 and 5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

deb=""
shared="$ROOT/../shared"
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    --shared) shared=$2; shift 2 ;;
    *) sed -n '2,4p' "$0"; exit 2 ;;
  esac
done

fail() { echo "check-deb: FAIL $*" >&2; exit 1; }
ok() { echo "check-deb: ok   $*"; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs the package)"
for tool in dpkg lintian setpriv python3 curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install lintian util-linux curl)"
done
venv="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
[ -x "$venv/bin/pyzord" ] || fail "the reference pyzor 1.1.2 is missing: scripts/install-peers.sh"
interop="$shared/peers/interop_check.sh"
[ -x "$interop" ] || fail "$interop is missing (pass --shared DIR)"
if dpkg-query -W -f='${Status}' pyzor-rs 2>/dev/null | grep -q installed; then
  fail "pyzor-rs is installed already: dpkg --purge pyzor-rs first"
fi
[ -e /var/lib/pyzor ] && fail "/var/lib/pyzor exists: this check makes its own"
[ -e /var/lib/pyzord ] && fail "/var/lib/pyzord exists: this check expects a clean machine"

work=$(mktemp -d /tmp/check-deb.XXXXXX)
chmod 755 "$work"
refpid=""
cleanup() {
  [ -n "$refpid" ] && kill "$refpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. build and lint
if [ -z "$deb" ]; then
  deb=$(scripts/build-deb.sh)
fi
[ -f "$deb" ] || fail "no package at $deb"
ok "built $deb ($(du -k "$deb" | cut -f1) KiB)"
set +e
lint=$(lintian --fail-on error --display-level '>=warning' "$deb" 2>&1)
lint_status=$?
set -e
lint=$(grep -v 'running with root privileges' <<<"$lint" || true)
if [ "$lint_status" = 0 ]; then
  ok "lintian: no errors; warnings: ${lint:-none}"
else
  echo "$lint" >&2
  fail "lintian reports errors"
fi

# The message the clients report and check.
cat >"$work/msg" <<'EOF'
From: someone@example.com
To: you@example.org
Subject: cheap watches, the pyzor-rs package check
Message-ID: <package-check@example.com>

Buy cheap watches today, the best price on the internet, guaranteed.
Visit our shop before the offer ends; every watch ships the same day.
EOF
# client.sh PORT ARGS...: the Python pyzor 1.1.2 on the message, against
# 127.0.0.1:PORT; count.sh PORT: the message's report count (the 4th
# field of `pyzor check`). Scripts, so that the probes as_service.py runs
# use them too.
mkdir -p "$work/client"
cat >"$work/client.sh" <<EOF
#!/usr/bin/env bash
port=\$1; shift
echo "127.0.0.1:\$port" >"$work/client/servers"
"$venv/bin/pyzor" --homedir "$work/client" "\$@" <"$work/msg"
EOF
cat >"$work/count.sh" <<EOF
#!/usr/bin/env bash
"$work/client.sh" "\$1" check | awk '{print \$4}'
EOF
chmod 755 "$work/client.sh" "$work/count.sh"
wait_udp() { # wait_udp PORT: until pyzord answers a ping
  for _ in $(seq 100); do
    "$work/client.sh" "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# --- 2. a pyzor 1.1.2 homedir with its gdbm database
mkdir -p /var/lib/pyzor
"$venv/bin/pyzord" --homedir /var/lib/pyzor -a 127.0.0.1 -p 24479 >"$work/ref.log" 2>&1 &
refpid=$!
wait_udp 24479 || { cat "$work/ref.log"; fail "the reference pyzord did not start"; }
for _ in 1 2 3; do "$work/client.sh" 24479 report >/dev/null; done
[ "$("$work/count.sh" 24479)" = 3 ] || fail "the reference pyzord did not count 3 reports"
kill -TERM "$refpid"; wait "$refpid" || true; refpid=""
[ -s /var/lib/pyzor/pyzord.db ] || fail "the reference pyzord wrote no pyzord.db"
ok "pyzor 1.1.2 homedir /var/lib/pyzor: pyzord.db with the message reported 3 times"

# --- 3. install, over Debian's pyzor package
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pyzor >"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log"; fail "apt-get install pyzor (Debian's)"; }
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
if dpkg-query -W -f='${Status}' pyzor 2>/dev/null | grep -q "install ok installed"; then
  fail "Debian's pyzor is still installed beside pyzor-rs"
fi
[ "$(dpkg -S /usr/bin/pyzor | cut -d: -f1)" = pyzor-rs ] || fail "/usr/bin/pyzor is not pyzor-rs'"
ok "dpkg -i over Debian's pyzor package: it was removed, /usr/bin/pyzor is pyzor-rs'"
dpkg --verify pyzor-rs || fail "dpkg --verify pyzor-rs: installed files differ from the package's md5sums"
ok "dpkg --verify pyzor-rs"
dpkg -L pyzor-rs | sort >"$work/files"
getent passwd pyzord >/dev/null || fail "no pyzord user"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd pyzord)
[ "$uid" -lt 1000 ] || fail "pyzord is not a system user (uid $uid)"
[ "$home" = /var/lib/pyzord ] || fail "pyzord's home is $home"
case "$shell" in */nologin|/bin/false) ;; *) fail "pyzord's shell is $shell" ;; esac
[ "$(getent group pyzord | cut -d: -f3)" = "$gid" ] || fail "pyzord's group is not pyzord"
ok "system user pyzord (uid $uid, home $home, shell $shell)"
[ "$(stat -c '%U:%G %a' /var/lib/pyzord)" = "pyzord:pyzord 700" ] \
  || fail "/var/lib/pyzord is $(stat -c '%U:%G %a' /var/lib/pyzord)"
[ "$(readlink /var/lib/pyzord/config)" = /etc/pyzor/config ] || fail "no config link in /var/lib/pyzord"
dpkg-query -W -f='${Conffiles}\n' pyzor-rs | grep -q '^ /etc/pyzor/config ' || fail "/etc/pyzor/config is not a conffile"
for f in /usr/bin/pyzor /usr/bin/pyzord /usr/share/man/man1/pyzord.1.gz \
         /usr/share/bash-completion/completions/pyzord /usr/share/zsh/vendor-completions/_pyzord \
         /usr/share/fish/vendor_completions.d/pyzord.fish /usr/lib/systemd/system/pyzord.service \
         /usr/lib/systemd/system/pyzor-serve.service /usr/share/pyzor-rs/grafana/pyzord-dashboard.json \
         /usr/share/pyzor-rs/prometheus/pyzord-alerts.yml; do
  [ -f "$f" ] || fail "$f is not installed"
done
man -l /usr/share/man/man1/pyzord.1.gz >/dev/null 2>&1 || zcat /usr/share/man/man1/pyzord.1.gz | grep -q '^.TH' \
  || fail "pyzord.1.gz is not a man page"
ok "/var/lib/pyzord pyzord:pyzord 0700, config -> /etc/pyzor/config (conffile), binaries, man pages, completions, units"

# --- 4. the service as systemd would run it, checked by the interop check
unit=/usr/lib/systemd/system/pyzord.service
serve_and_probe() { # serve_and_probe NAME < PROBE: the unit's ExecStart, probed by PROBE
  cat >"$work/$1.sh"
  chmod 755 "$work/$1.sh"
  python3 scripts/lib/as_service.py "$unit" -- "$work/$1.sh"
}
install -m 0640 -o root -g pyzord "$shared/peers/fixtures/pyzord.passwd" /etc/pyzor/pyzord.passwd
install -m 0640 -o root -g pyzord "$shared/peers/fixtures/pyzord.access" /etc/pyzor/pyzord.access
serve_and_probe service <<EOF || fail "pyzord.service as systemd runs it"
#!/usr/bin/env bash
set -euo pipefail
# the config was found: its Metrics setting serves the endpoint
curl -fsS http://127.0.0.1:9124/metrics >"$work/metrics"
grep -q '^pyzord_store_records ' "$work/metrics"
echo "probe: metrics on 127.0.0.1:9124 (the config's Metrics setting)"
# a file store in the homedir, owned by pyzord and private (UMask=0077)
[ "\$(stat -c '%U %a' /var/lib/pyzord/pyzord.store)" = "pyzord 700" ]
echo "probe: /var/lib/pyzord/pyzord.store pyzord 0700"
PEERS_VENV="$venv" "$interop" 127.0.0.1 24441
EOF
ok "pyzord.service: READY=1, config found, interop check passed, SIGTERM honoured"

# --- 5. the migration steps with the packaged service
# (a) serve the 1.1.2 database in place
chown -R pyzord:pyzord /var/lib/pyzor
cp /etc/pyzor/config "$work/config.orig"
sed -i 's|^Engine = file$|Engine = gdbm|; s|^DigestDB = .*|DigestDB = /var/lib/pyzor/pyzord.db|' /etc/pyzor/config
serve_and_probe inplace <<EOF || fail "serving pyzord.db in place"
#!/usr/bin/env bash
set -euo pipefail
n=\$("$work/count.sh" 24441)
[ "\$n" = 3 ] || { echo "in place: count \$n, not 3"; exit 1; }
"$work/client.sh" 24441 report >/dev/null
n=\$("$work/count.sh" 24441)
[ "\$n" = 4 ] || { echo "in place: count \$n after a report, not 4"; exit 1; }
echo "probe: the 1.1.2 gdbm database served in place: 3 reports, then 4"
EOF
ok "pyzor 1.1.2's pyzord.db served in place by the packaged service"
# (b) migrate it into the file store, then serve the file store
cp "$work/config.orig" /etc/pyzor/config
setpriv --reuid=pyzord --regid=pyzord --clear-groups -- \
  /usr/bin/pyzord --homedir /var/lib/pyzord migrate --from gdbm:/var/lib/pyzor/pyzord.db --to file --verify \
  >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log"; fail "pyzord migrate"; }
grep -q "1 records copied" "$work/migrate.log" || { cat "$work/migrate.log"; fail "migrate did not copy 1 record"; }
serve_and_probe migrated <<EOF || fail "serving the migrated store"
#!/usr/bin/env bash
set -euo pipefail
n=\$("$work/count.sh" 24441)
[ "\$n" = 4 ] || { echo "migrated: count \$n, not 4"; exit 1; }
echo "probe: the migrated file store answers 4"
EOF
ok "pyzord migrate --from gdbm:/var/lib/pyzor/pyzord.db --to file --verify, then served: 4 reports"

# --- 6. purge
dpkg --purge pyzor-rs >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
left=""
while read -r f; do
  [ -d "$f" ] && continue # shared directories (/usr/bin, ...) stay
  [ -e "$f" ] || [ -L "$f" ] && left+=" $f"
done <"$work/files"
[ -z "$left" ] || fail "left after purge:$left"
for d in /etc/pyzor /var/lib/pyzord /usr/share/pyzor-rs /usr/share/doc/pyzor-rs; do
  [ ! -e "$d" ] || fail "$d left after purge"
done
getent passwd pyzord >/dev/null || fail "the pyzord user was removed (policy keeps it)"
[ -s /var/lib/pyzor/pyzord.db ] || fail "the 1.1.2 homedir was touched by the purge"
ok "dpkg --purge: no file of the package left; the pyzord user and /var/lib/pyzor stay"
rm -rf /var/lib/pyzor
echo "check-deb: all passed"
