#!/usr/bin/env python3
"""Runs a systemd service's ExecStart the way systemd would start it, on a
machine where systemd is not PID 1, and checks the service's side of the
contract.

    as_service.py UNIT_FILE [--ready-timeout S] [--stop-timeout S] -- CHECK...

From the unit's [Service] section it takes ExecStart, User, Group, UMask,
WorkingDirectory and Environment. It starts ExecStart as User/Group (with
setpriv, supplementary groups cleared), with that umask and directory, an
environment of only PATH, LANG, the unit's Environment and NOTIFY_SOCKET: a
datagram socket this script listens on. It then

  1. waits for READY=1 on that socket (Type=notify), failing if the process
     exits or the timeout passes first;
  2. runs CHECK (a command, e.g. a shell script probing the service) and
     fails if it fails;
  3. sends SIGTERM (systemd's KillSignal) and waits for the process to exit
     with status 0, failing on a timeout (the process is then killed) or
     another status;
  4. reports whether STOPPING=1 arrived.

Exit status 0 only if every step passed. Prints one line per step.
"""

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time


def service_section(path):
    # systemd unit files allow repeated keys; the last one wins for the
    # keys used here, but Environment accumulates.
    env = []
    keys = {}
    section = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section != "Service" or "=" not in line:
                continue
            k, v = (x.strip() for x in line.split("=", 1))
            if k == "Environment":
                env.extend(shlex.split(v))
            else:
                keys[k] = v
    return keys, env


def receive(sock, deadline, want, proc):
    """Collects notify messages until `want` arrives, the deadline passes
    or the process exits; returns the set of KEY=VALUE lines seen."""
    seen = set()
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            if proc.poll() is not None:
                return seen
            continue
        for line in data.decode("utf-8", "replace").splitlines():
            seen.add(line.strip())
        if want in seen:
            return seen
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("unit")
    ap.add_argument("--ready-timeout", type=float, default=15.0)
    ap.add_argument("--stop-timeout", type=float, default=30.0)
    ap.add_argument("check", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    check = a.check[1:] if a.check[:1] == ["--"] else a.check

    keys, env_list = service_section(a.unit)
    if keys.get("Type") != "notify":
        print(f"FAIL {a.unit}: Type={keys.get('Type')}, not notify")
        return 1
    argv = shlex.split(keys["ExecStart"].lstrip("-@+!"))
    user = keys.get("User")
    group = keys.get("Group", user)
    umask = int(keys.get("UMask", "0022"), 8)
    workdir = keys.get("WorkingDirectory", "/")

    tmp = tempfile.mkdtemp(prefix="as-service-")
    os.chmod(tmp, 0o755)
    sock_path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    # the service's user must be able to send to it
    os.chmod(sock_path, 0o777)

    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "NOTIFY_SOCKET": sock_path,
    }
    for item in env_list:
        k, _, v = item.partition("=")
        env[k] = v
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", "--"] + argv

    def preexec():
        os.umask(umask)

    print(f"start: {' '.join(argv)} (umask {umask:04o}, in {workdir})")
    proc = subprocess.Popen(argv, env=env, cwd=workdir, preexec_fn=preexec)
    ok = True
    try:
        t0 = time.monotonic()
        seen = receive(sock, t0 + a.ready_timeout, "READY=1", proc)
        if "READY=1" not in seen:
            status = proc.poll()
            why = f"exited with {status}" if status is not None else "timed out"
            print(f"FAIL READY=1 not received ({why} after {time.monotonic() - t0:.1f} s)")
            return 1
        print(f"ok   READY=1 after {time.monotonic() - t0:.2f} s")

        if check:
            r = subprocess.run(check)
            if r.returncode != 0:
                print(f"FAIL check {' '.join(check)}: exit {r.returncode}")
                ok = False
            else:
                print("ok   check passed")

        proc.send_signal(15)
        t0 = time.monotonic()
        seen |= receive(sock, t0 + a.stop_timeout, "STOPPING=1", proc)
        try:
            status = proc.wait(timeout=max(0.1, a.stop_timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            print(f"FAIL still running {a.stop_timeout:.0f} s after SIGTERM")
            return 1
        if status != 0:
            print(f"FAIL exit status {status} after SIGTERM")
            ok = False
        else:
            print(f"ok   SIGTERM: exited with 0 after {time.monotonic() - t0:.2f} s")
        if "STOPPING=1" in seen:
            print("ok   STOPPING=1 received")
        else:
            print("FAIL STOPPING=1 not received")
            ok = False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        os.unlink(sock_path)
        os.rmdir(tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
