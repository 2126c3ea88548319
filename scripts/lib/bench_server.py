"""Orchestration of scripts/bench-server.sh (see there for the options).

Starts each target on a free loopback port, waits until it answers a ping,
drives it with target/release/pyzor-load, stops it by PID, and prints a
table. Standard library only.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOAD = os.path.join(ROOT, "target", "release", "pyzor-load")
PYZORD = os.path.join(ROOT, "target", "release", "pyzord")
VENV = os.environ.get("PYZOR_PEERS_VENV", os.path.expanduser("~/.cache/pyzor-rs/peers-venv"))
BENCH_USER = "bench"
BENCH_KEY = "4b1dbe33e27c9f8a4e3e6a8bd1c0a5e7f2d9c3b1"

running = []  # Popen objects to stop on exit


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        # a port free for UDP and TCP (redis)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
        return port


def start(argv, **kw):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    running.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in running:
        running.remove(p)


def stop_all():
    for p in list(running):
        stop(p)


def load(port, seconds, args, extra=(), window=None):
    argv = [
        LOAD, f"127.0.0.1:{port}", "--json", "--duration", str(seconds),
        "--ops", args.ops, "--keys", args.keys,
        "--sockets", str(args.sockets), "--window", str(window or args.window),
    ] + list(extra)
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout)


def wait_ready(port, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} exited: {err.strip()}")
        r = subprocess.run(
            [LOAD, f"127.0.0.1:{port}", "--json", "--ops", "ping=1", "--requests", "1",
             "--duration", "1", "--timeout-ms", "300", "--sockets", "1"],
            capture_output=True, text=True,
        )
        if r.returncode == 0 and json.loads(r.stdout)["answered"] == 1:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer on port {port}")


class Target:
    def __init__(self, name, kind, argv_for_port, needs_redis=False, reference=None,
                 needs_mysql=False, env=None):
        self.name = name
        self.kind = kind  # ceiling | ours | reference
        self.argv_for_port = argv_for_port
        self.needs_redis = needs_redis
        self.needs_mysql = needs_mysql
        self.env = env  # a function giving extra environment of the server
        self.reference = reference  # the reference target's name to compare with
        self.best = None

    def run(self, seconds, args, redis_port, extra=(), window=None):
        port = free_port()
        argv = self.argv_for_port(port, redis_port)
        p = start(argv, env=dict(os.environ, **self.env()) if self.env else None)
        try:
            wait_ready(port, p, self.name)
            return load(port, seconds, args, extra, window)
        finally:
            stop(p)


def start_redis(redis_server, directory):
    """Starts a redis-server without persistence on a free loopback port
    (stopped with the others); returns the port once it answers."""
    port = free_port()
    rp = start([redis_server, "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", directory])
    deadline = time.time() + 10
    while True:
        try:
            flush_redis(port)
            return port
        except OSError:
            if time.time() > deadline or rp.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)


MYSQL_TABLE = (
    "CREATE TABLE `public` (`digest` char(40) default NULL, `r_count` int(11) default NULL, "
    "`wl_count` int(11) default NULL, `r_entered` datetime default NULL, "
    "`wl_entered` datetime default NULL, `r_updated` datetime default NULL, "
    "`wl_updated` datetime default NULL, PRIMARY KEY (`digest`))")


def mysql_sql(port, sql):
    subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", "root",
                    "-e", sql], check=True, capture_output=True, timeout=60)


def start_mariadb(directory):
    """Starts a MariaDB of its own (Debian's mariadb-server) on a free
    loopback port, root without a password, with the reference's table
    pyzor.public (stopped with the others); returns the port."""
    data = os.path.join(directory, "mariadb")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                    "--auth-root-authentication-method=normal", "--skip-test-db"] + user,
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    mp = start(["mariadbd", "--no-defaults", f"--datadir={data}",
                f"--socket={os.path.join(directory, 'mariadb.sock')}", f"--port={port}",
                "--bind-address=127.0.0.1", f"--log-error={os.path.join(directory, 'mariadb.err')}",
                f"--pid-file={os.path.join(directory, 'mariadb.pid')}"] + user)
    deadline = time.time() + 30
    while True:
        try:
            mysql_sql(port, "SELECT 1")
            break
        except subprocess.CalledProcessError:
            if time.time() > deadline or mp.poll() is not None:
                raise RuntimeError("mariadbd did not start")
            time.sleep(0.2)
    mysql_sql(port, "CREATE DATABASE pyzor; USE pyzor; " + MYSQL_TABLE)
    return port


def machine_line():
    """`== machine: N CPUs (model), OS release`."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return f"== machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}"


def table(head, rows):
    """Rows as aligned text columns under a header."""
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(head))]
    lines += ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


def md(head, rows):
    """Rows as a Markdown table."""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def resp(port, *args):
    """One Redis command over a plain socket (RESP), so that no client is
    needed; the reply as text (a bulk string's payload after its header
    line). Simple, error, integer and bulk replies are read whole."""
    cmd = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(cmd.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n")
        if head[:1] == b"$" and int(head[1:]) >= 0:
            want = int(head[1:]) + 2
            while len(rest) < want:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        return (head + b"\r\n" + rest).decode(errors="replace")


def flush_redis(port):
    resp(port, "FLUSHALL")


def main():
    ap = argparse.ArgumentParser(prog="bench-server.sh")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--sockets", type=int, default=2)
    ap.add_argument("--ops", default="check=80,report=20")
    ap.add_argument("--keys", default="pool:100000")
    ap.add_argument("--markdown", help="also write the tables as Markdown to this file")
    ap.add_argument("--only", help="comma-separated target names to run")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="pyzor-bench-")
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    with open(os.path.join(home, "pyzord.passwd"), "w") as f:
        f.write(f"{BENCH_USER} : {BENCH_KEY}\n")
    with open(os.path.join(home, "pyzord.access"), "w") as f:
        f.write(f"all : {BENCH_USER} : allow\ncheck report ping pong info : anonymous : allow\n")
    refhome = os.path.join(tmp, "refhome")
    os.makedirs(refhome)

    ref_py = os.path.join(VENV, "bin", "python")
    ref_pyzord = os.path.join(VENV, "bin", "pyzord")
    have_ref = os.access(ref_py, os.X_OK) and os.path.exists(ref_pyzord)
    redis_server = shutil.which("redis-server")
    mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    have_mysqldb = subprocess.run(["/usr/bin/python3", "-c", "import MySQLdb"],
                                  capture_output=True).returncode == 0
    workers = os.cpu_count() or 2
    mysql_port = []  # filled once MariaDB is started

    def ours(engine, dsn=None):
        def argv(port, redis_port):
            a = [PYZORD, "--homedir", home, "-a", "127.0.0.1", "-p", str(port), "-e", engine]
            if engine == "redis":
                a += ["--dsn", f"127.0.0.1,{redis_port},,0"]
            elif engine == "mysql":
                a += ["--dsn", f"127.0.0.1:{mysql_port[0]},root,,pyzor,public"]
            elif dsn:
                a += ["--dsn", dsn]
            return a
        return argv

    def ref(engine):
        def argv(port, redis_port):
            a = [ref_py, ref_pyzord, "--homedir", refhome, "-a", "127.0.0.1", "-p", str(port), "-e", engine]
            if engine == "redis":
                a += ["--dsn", f"127.0.0.1,{redis_port},,0"]
            elif engine == "mysql":
                # MySQLdb takes the port from the environment (see the target)
                a += ["--dsn", "127.0.0.1,root,,pyzor,public"]
            else:
                a += ["--dsn", os.path.join(refhome, "pyzord.db")]
            return a
        return argv

    def mysql_env():
        # the reference's MySQLdb takes the port from the environment
        return {"MYSQL_TCP_PORT": str(mysql_port[0]),
                "PYTHONPATH": "/usr/lib/python3/dist-packages"}

    targets = [
        Target("echo ceiling", "ceiling",
               lambda port, _r: [LOAD, "echo", "--listen", f"127.0.0.1:{port}", "--workers", str(workers), "--duration", "600"]),
        Target("pyzor-rs memory", "ours", ours("memory"), reference="pyzord 1.1.2 gdbm"),
        Target("pyzor-rs file", "ours", ours("file", os.path.join(home, "pyzord.store")), reference="pyzord 1.1.2 gdbm"),
        Target("pyzor-rs redis", "ours", ours("redis"), needs_redis=True, reference="pyzord 1.1.2 redis"),
        Target("pyzor-rs mysql", "ours", ours("mysql"), needs_mysql=True,
               reference="pyzord 1.1.2 mysql"),
        Target("pyzord 1.1.2 gdbm", "reference", ref("gdbm")),
        Target("pyzord 1.1.2 redis", "reference", ref("redis"), needs_redis=True),
        Target("pyzord 1.1.2 mysql", "reference", ref("mysql"), needs_mysql=True, env=mysql_env),
    ]
    skipped = []
    if not have_ref:
        skipped.append(f"reference pyzord (not found in {VENV}; run scripts/install-peers.sh)")
        targets = [t for t in targets if t.kind != "reference"]
    if not redis_server:
        skipped.append("redis targets (redis-server not on PATH; run scripts/install-peers.sh)")
        targets = [t for t in targets if not t.needs_redis]
    if not mariadbd or not shutil.which("mariadb-install-db"):
        skipped.append("mysql targets (mariadb-server not installed; run scripts/install-peers.sh)")
        targets = [t for t in targets if not t.needs_mysql]
    elif not have_mysqldb:
        skipped.append("reference mysql (python3-mysqldb not installed; run scripts/install-peers.sh)")
        targets = [t for t in targets if not (t.needs_mysql and t.kind == "reference")]
    if args.only:
        keep = {n.strip() for n in args.only.split(",")}
        targets = [t for t in targets if t.name in keep]

    redis_port = None
    if any(t.needs_redis for t in targets):
        redis_port = start_redis(redis_server, tmp)
    if any(t.needs_mysql for t in targets):
        mysql_port.append(start_mariadb(tmp))

    print(machine_line())
    print(f"== load: pyzor-load --ops {args.ops} --keys {args.keys} --sockets {args.sockets} "
          f"--window {args.window}, {args.seconds:g} s per target, best of {args.rounds} rounds")
    for s in skipped:
        print(f"== skipped: {s}")
    sys.stdout.flush()

    for rnd in range(args.rounds):
        for t in targets:
            if t.needs_redis:
                flush_redis(redis_port)
            if t.needs_mysql:
                mysql_sql(mysql_port[0], "TRUNCATE TABLE pyzor.public")
            r = t.run(args.seconds, args, redis_port)
            print(f"   round {rnd + 1}: {t.name:<20} {r['requests_per_second']:>10.0f} req/s  "
                  f"p99 {r['p99_us'] / 1000:.2f} ms  lost {r['lost']}", flush=True)
            if t.best is None or r["requests_per_second"] > t.best["requests_per_second"]:
                t.best = r

    by_name = {t.name: t for t in targets}
    ceiling = by_name.get("echo ceiling")
    rows = []
    for t in targets:
        b = t.best
        vs_ref = ""
        if t.reference and t.reference in by_name:
            vs_ref = f"{b['requests_per_second'] / by_name[t.reference].best['requests_per_second']:.1f}x"
        vs_ceiling = ""
        if ceiling and t is not ceiling:
            vs_ceiling = f"{100 * b['requests_per_second'] / ceiling.best['requests_per_second']:.0f} %"
        codes = ", ".join(f"{c}: {n}" for c, n in b["codes"].items())
        rows.append([t.name, f"{b['requests_per_second']:.0f}", f"{b['p50_us'] / 1000:.2f}",
                     f"{b['p99_us'] / 1000:.2f}", str(b["lost"]), vs_ref, vs_ceiling, codes])
    head = ["target", "req/s", "p50 ms", "p99 ms", "lost", "vs reference", "of ceiling", "replies"]

    extra_rows = []
    extra_head = ["measurement", "req/s", "p50 ms", "p99 ms", "lost", "note"]
    file_t = by_name.get("pyzor-rs file")
    if file_t:
        peak = file_t.best["requests_per_second"]
        rate = 0.8 * peak
        paced = ["--rate", f"{rate:.0f}"]
        paced_window = max(args.window, 4096)
        best = None
        for _ in range(args.rounds):
            r = file_t.run(args.seconds, args, redis_port, paced, paced_window)
            if best is None or r["p99_us"] < best["p99_us"]:
                best = r
        by_op = "; ".join(f"{op} p99 {v['p99_us'] / 1000:.2f} ms" for op, v in best.get("ops", {}).items())
        extra_rows.append(["file store at 80 % of peak", f"{best['requests_per_second']:.0f}",
                           f"{best['p50_us'] / 1000:.2f}", f"{best['p99_us'] / 1000:.2f}", str(best["lost"]),
                           f"--rate {rate:.0f}; {by_op}"])
        if ceiling:
            best = None
            for _ in range(args.rounds):
                r = ceiling.run(args.seconds, args, redis_port, paced, paced_window)
                if best is None or r["p99_us"] < best["p99_us"]:
                    best = r
            extra_rows.append(["echo ceiling at the same rate", f"{best['requests_per_second']:.0f}",
                               f"{best['p50_us'] / 1000:.2f}", f"{best['p99_us'] / 1000:.2f}",
                               str(best["lost"]), "the machine's own tail"])
        anon = signed = None
        for _ in range(args.rounds):
            a = file_t.run(args.seconds, args, redis_port)
            s = file_t.run(args.seconds, args, redis_port, ["--user", BENCH_USER, "--key", BENCH_KEY])
            if anon is None or a["requests_per_second"] > anon["requests_per_second"]:
                anon = a
            if signed is None or s["requests_per_second"] > signed["requests_per_second"]:
                signed = s
        for name, r in (("file store, anonymous", anon), ("file store, signed", signed)):
            extra_rows.append([name, f"{r['requests_per_second']:.0f}", f"{r['p50_us'] / 1000:.2f}",
                               f"{r['p99_us'] / 1000:.2f}", str(r["lost"]), ", ".join(f"{c}: {n}" for c, n in r["codes"].items())])
        cost = anon["requests_per_second"] / signed["requests_per_second"] - 1
        extra_rows.append(["signed cost over anonymous", f"{100 * cost:+.1f} %", "", "", "", "throughput ratio - 1"])

    print()
    print(table(head, rows))
    if extra_rows:
        print()
        print(table(extra_head, extra_rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md(head, rows) + "\n")
            if extra_rows:
                f.write("\n" + md(extra_head, extra_rows) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: (stop_all(), sys.exit(130)))
    try:
        main()
    finally:
        stop_all()
