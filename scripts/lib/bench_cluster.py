"""Orchestration of scripts/bench-cluster.sh (see there for the options).

Standard library only; shares the process handling of bench_server.py.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_server import (  # noqa: E402
    LOAD, PYZORD, free_port, machine_line, md, resp, running, start, start_redis, stop_all,
    table, wait_ready,
)

WORKLOADS = ["fresh-reports", "real-mix", "pool-mix"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def info_field(port, section, field):
    for line in resp(port, "INFO", section).splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def start_cluster(redis_server, directory):
    """Six nodes (three masters with a replica each), joined by redis-cli;
    returns (ports, {port: Popen})."""
    ports, procs = [], {}
    while len(ports) < 6:
        p = free_port()
        if p > 55535 or p in ports:
            continue
        try:
            with socket.socket() as t:
                t.bind(("127.0.0.1", p + 10000))
        except OSError:
            continue
        d = os.path.join(directory, str(p))
        os.makedirs(d)
        procs[p] = start([redis_server, "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--cluster-enabled", "yes",
                          "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
                          "--repl-diskless-sync-delay", "0", "--dir", d])
        ports.append(p)
    for p in ports:
        deadline = time.time() + 10
        while True:
            try:
                resp(p, "PING")
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"cluster node {p} did not start")
                time.sleep(0.1)
    subprocess.run(["redis-cli", "--cluster", "create"] + [f"127.0.0.1:{p}" for p in ports]
                   + ["--cluster-replicas", "1", "--cluster-yes"],
                   check=True, capture_output=True, timeout=60)
    deadline = time.time() + 30
    while not all("cluster_state:ok" in resp(p, "CLUSTER", "INFO") for p in ports):
        if time.time() > deadline:
            raise RuntimeError("the cluster did not reach cluster_state:ok")
        time.sleep(0.2)
    return ports, procs


def masters(ports):
    return [p for p in ports if info_field(p, "replication", "role") == "master"]


def start_pyzord(home, engine, dsn):
    port = free_port()
    os.makedirs(home, exist_ok=True)
    p = start([PYZORD, "--homedir", home, "-a", "127.0.0.1", "-p", str(port),
               "-e", engine, "--dsn", dsn])
    wait_ready(port, p, f"pyzord -e {engine}")
    return port, p


def drive(ports, workload, seconds):
    """One pyzor-load per pyzord, all at once; the summed rate."""
    procs = [subprocess.Popen(
        [LOAD, f"127.0.0.1:{port}", "--json", "--duration", str(seconds), "--workload", workload,
         "--sockets", "2", "--window", "128"], stdout=subprocess.PIPE, text=True)
        for port in ports]
    results = [json.loads(p.communicate(timeout=seconds + 60)[0]) for p in procs]
    return sum(r["requests_per_second"] for r in results), sum(r["answered"] for r in results)


def measure(setup, pyzord_ports, pyzord_procs, masters, replicas, seconds, rounds):
    """Best rate of each workload, and CPU per request (redis masters,
    redis replicas, pyzords) in that round."""
    row = {}
    for w in WORKLOADS:
        best = None
        for _ in range(rounds):
            groups = [masters, replicas, [p.pid for p in pyzord_procs]]
            before = [sum(cpu_seconds(p) for p in g) for g in groups]
            rate, answered = drive(pyzord_ports, w, seconds)
            after = [sum(cpu_seconds(p) for p in g) for g in groups]
            us = [(a - b) / max(answered, 1) * 1e6 for a, b in zip(after, before)]
            cell = (rate, *us)
            print(f"   {setup:32} {w:14} {rate:9.0f} req/s  CPU per request: masters "
                  f"{us[0]:5.1f} us, replicas {us[1]:5.1f} us, pyzord {us[2]:5.1f} us", flush=True)
            if best is None or cell[0] > best[0]:
                best = cell
        row[w] = best
    return row


def main():
    ap = argparse.ArgumentParser(prog="bench-cluster.sh")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fill", type=int, default=1_000_000,
                    help="digests reported into the cluster to measure its memory per digest")
    ap.add_argument("--markdown", help="also write the tables as Markdown to this file")
    args = ap.parse_args()
    redis_server = shutil.which("redis-server")
    if not redis_server or not shutil.which("redis-cli"):
        sys.exit("bench-cluster.sh needs redis-server and redis-cli (apt-get install redis-server)")
    tmp = tempfile.mkdtemp(prefix="pyzor-bench-cluster-")
    print(machine_line())
    print(f"== load: pyzor-load --workload W --sockets 2 --window 128 per pyzord, "
          f"{args.seconds:g} s a cell, best of {args.rounds}; CPU per request from /proc "
          f"(every redis-server of the setup, every pyzord)")
    rows = {}
    try:
        rport = start_redis(redis_server, tmp)
        single = [p.pid for p in running if p.args[0] == redis_server]
        zport, zproc = start_pyzord(os.path.join(tmp, "h1"), "redis", f"127.0.0.1,{rport},,0")
        rows["1 pyzord, 1 redis-server"] = measure(
            "1 pyzord, 1 redis-server", [zport], [zproc], single, [], args.seconds, args.rounds)
        stop_all()

        ports, procs = start_cluster(redis_server, os.path.join(tmp, "cluster"))
        dsn = ",".join(f"127.0.0.1:{p}" for p in ports)
        m = masters(ports)
        mpids = [procs[p].pid for p in m]
        rpids = [procs[p].pid for p in ports if p not in m]
        z1, p1 = start_pyzord(os.path.join(tmp, "h2"), "redis-cluster", dsn)
        name = "1 pyzord, cluster of 3 masters"
        rows[name] = measure(name, [z1], [p1], mpids, rpids, args.seconds, args.rounds)
        z2, p2 = start_pyzord(os.path.join(tmp, "h3"), "redis-cluster", dsn)
        name = "2 pyzords, cluster of 3 masters"
        rows[name] = measure(name, [z1, z2], [p1, p2], mpids, rpids, args.seconds,
                             args.rounds)

        # memory per digest on the masters
        used0 = sum(int(info_field(p, "memory", "used_memory")) for p in m)
        keys0 = sum(int(resp(p, "DBSIZE").strip().lstrip(":")) for p in m)
        subprocess.run([LOAD, f"127.0.0.1:{z1}", "--ops", "ping=1", "--requests", "1",
                        "--duration", "3600", "--prefill", str(args.fill), "--sockets", "2",
                        "--timeout-ms", "5000"], check=True, capture_output=True, timeout=7200)
        used1 = sum(int(info_field(p, "memory", "used_memory")) for p in m)
        keys1 = sum(int(resp(p, "DBSIZE").strip().lstrip(":")) for p in m)
        per_key = (used1 - used0) / max(keys1 - keys0, 1)
        spread = [int(resp(p, "DBSIZE").strip().lstrip(":")) for p in m]
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    head = ["setup"] + [f"{w} req/s" for w in WORKLOADS] + [
        f"CPU per {w} request: masters + replicas, pyzords" for w in WORKLOADS[:2]]
    out = []
    for name, row in rows.items():
        out.append([name] + [f"{row[w][0] / 1000:.0f} k" for w in WORKLOADS] + [
            f"{row[w][1]:.1f} + {row[w][2]:.1f} us, {row[w][3]:.1f} us" for w in WORKLOADS[:2]])
    print()
    print(table(head, out))
    mem_head = ["digests added", "keys on the masters", "used_memory per digest (masters)"]
    mem = [[f"{keys1 - keys0:,}", " / ".join(f"{k:,}" for k in spread), f"{per_key:.0f} B"]]
    print()
    print(table(mem_head, mem))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(machine_line() + "\n\n" + md(head, out) + "\n\n" + md(mem_head, mem) + "\n")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
