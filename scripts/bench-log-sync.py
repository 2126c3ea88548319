#!/usr/bin/env python3
"""What a group commit's write and sync cost on a file system, two ways.

The file store writes each group's frame to its log and syncs it
(`fdatasync`). Appending grows the file, so the sync also commits the new
length (on ext4 with a journal: a journal commit); writing over zeros the
log was filled with ahead (what the store does, 1 MiB at a time) carries
the data alone. This times both, alternating, in DIR (which must be on the
file system to judge), and prints the median and p99 of a write + sync and
the CPU the machine spent per sync (user + system + kernel threads, from
/proc/stat).

    scripts/bench-log-sync.py DIR [--frame BYTES] [--syncs N] [--rounds R]
"""

import argparse
import os
import time


def cpu_busy():
    """Jiffies the machine has spent busy, and all jiffies."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run(path, zeroed_ahead, frame, syncs):
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        if zeroed_ahead:
            os.write(fd, b"\0" * (frame * syncs))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        data = os.urandom(frame)
        busy0, all0 = cpu_busy()
        start = time.perf_counter()
        took = []
        for _ in range(syncs):
            t = time.perf_counter()
            os.write(fd, data)
            os.fdatasync(fd)
            took.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        busy1, all1 = cpu_busy()
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()
    cpus = os.cpu_count() or 1
    busy_share = (busy1 - busy0) / max(1, all1 - all0)
    cpu_per_sync = busy_share * cpus * elapsed / syncs
    return took[len(took) // 2], took[int(len(took) * 0.99)], cpu_per_sync


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="a directory on the file system to measure")
    p.add_argument(
        "--frame",
        type=int,
        default=5500,
        help="bytes a group writes (5 500: 122 records of 45 bytes, "
        "a group at about 100 k reports/s)",
    )
    p.add_argument("--syncs", type=int, default=3000, help="syncs a run")
    p.add_argument("--rounds", type=int, default=2, help="rounds of both")
    a = p.parse_args()
    path = os.path.join(a.dir, ".bench-log-sync")
    print(f"{a.frame}-byte writes, {a.syncs} syncs a run, in {a.dir}")
    for r in range(1, a.rounds + 1):
        for zeroed_ahead in (False, True):
            p50, p99, cpu = run(path, zeroed_ahead, a.frame, a.syncs)
            what = "over zeros" if zeroed_ahead else "appending "
            print(
                f"round {r} {what}: write + fdatasync p50 {p50 * 1e6:.0f} us, "
                f"p99 {p99 * 1e6:.0f} us; CPU {cpu * 1e6:.0f} us a sync"
            )


if __name__ == "__main__":
    main()
