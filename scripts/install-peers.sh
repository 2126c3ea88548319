#!/usr/bin/env bash
# Install the reference Pyzor peers that pyzor-rs' interop tests talk to, on Debian 12.
#
#   scripts/install-peers.sh
#
# Idempotent: re-running only fills in what is missing. Installs
#   - Debian packages: redis-server, python3-venv, python3-gdbm (dbm.gnu for the
#     reference pyzord's gdbm engine), spamassassin (its pure-Perl Pyzor client),
#     mariadb-server and python3-mysqldb (the reference's mysql engine, which the
#     tests run with Debian's MySQLdb on PYTHONPATH), procps, prometheus (its
#     promtool checks and unit-tests the alert rules; nothing is started),
#     lintian (scripts/check-deb.sh lints the package);
#   - a venv at $PYZOR_PEERS_VENV (default: $HOME/.cache/pyzor-rs/peers-venv) made
#     with Debian's /usr/bin/python3 (it has the _gdbm module; pyenv builds often
#     do not), holding pyzor==1.1.2 and redis-py.
# It starts nothing. The tests find the peers through PYZOR_PEERS_VENV (or the
# default path above) and PATH; see tests/README or the project README.
set -euo pipefail

VENV="${PYZOR_PEERS_VENV:-$HOME/.cache/pyzor-rs/peers-venv}"
PYZOR_VERSION=1.1.2
REDIS_PY_VERSION=5.0.8

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
for p in redis-server python3 python3-venv python3-gdbm spamassassin perl procps \
         mariadb-server python3-mysqldb prometheus lintian; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# The reference digests were made with Debian's python3.11 3.11.2-6+deb12u9; older
# point releases have a different html.parser. Upgrade it when apt offers a newer one.
inst=$(dpkg-query -W -f='${Version}' python3.11 2>/dev/null || true)
cand=$(apt-cache policy python3.11 2>/dev/null | sed -n 's/^ *Candidate: //p')
if [ -n "$cand" ] && [ "$cand" != "(none)" ] && [ "$inst" != "$cand" ]; then need+=(python3.11); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "install-peers: apt-get install ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  # Where a package's init script started its daemon (no policy-rc.d to
  # stop it), stop it: the tests start their own servers and use only
  # promtool of prometheus.
  $SUDO pkill -x prometheus 2>/dev/null || true
fi

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import dbm.gnu' 2>/dev/null; then
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import pyzor, redis, sys; sys.exit(pyzor.__version__ != '$PYZOR_VERSION')" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "pyzor==$PYZOR_VERSION" "redis==$REDIS_PY_VERSION"
fi

"$VENV/bin/pyzor" --version
redis-server --version
perl -MMail::SpamAssassin::Pyzor::Client -e 'print "Mail::SpamAssassin::Pyzor::Client ok\n"'
echo "install-peers: peers ready in $VENV"
