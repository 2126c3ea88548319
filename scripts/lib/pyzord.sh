# Sourced by the benchmark scripts: start_pyzord HOMEDIR [OPTIONS...]
# starts target/release/pyzord on a free loopback port with those options
# (its stderr in HOMEDIR/pyzord.log), sets `port` and `pid`, and waits
# until it answers a ping (target/release/pyzor-load must be built).
# The caller stops it by PID (its trap).
# free_port udp|tcp prints a loopback port free for that protocol now.
free_port() {
  python3 -c 'import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

start_pyzord() {
  local home=$1
  shift
  port=$(free_port udp)
  target/release/pyzord --homedir "$home" -a 127.0.0.1 -p "$port" "$@" 2>"$home/pyzord.log" &
  pid=$!
  local _
  for _ in $(seq 100); do
    target/release/pyzor-load "127.0.0.1:$port" --ops ping=1 --requests 1 --duration 1 --json 2>/dev/null \
      | grep -q '"answered": 1' && return 0
    sleep 0.1
  done
  echo "pyzord did not start (see $home/pyzord.log)" >&2
  return 1
}
