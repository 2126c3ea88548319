"""`pyzor digest` over an mbox: our CLI against the reference's CLI and
against our in-process digest of the same messages, and where the CLI's
time goes besides digesting (`perf record`, when perf is installed).

Run through scripts/bench-mbox.sh, which builds the binaries."""

import argparse
import mailbox
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

PYZOR = "target/release/pyzor"
THROUGHPUT = "target/release/digest-throughput"


def build_mbox(path, messages, copies):
    """An mbox of `copies` copies of the messages, written by Python's
    mailbox module (the `From ` lines and `>From` quoting the reference
    reads)."""
    box = mailbox.mbox(path, create=True)
    box.lock()
    try:
        for _ in range(copies):
            for m in messages:
                box.add(m)
        box.flush()
    finally:
        box.unlock()
        box.close()


def run_timed(argv, stdin_path, stdout):
    """Runs argv with stdin from a file and stdout to `stdout`; returns
    (wall s, CPU s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(stdin_path, "rb") as f:
        r = subprocess.run(argv, stdin=f, stdout=stdout, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def perf_shares(argv, stdin_path, tmp):
    """Shares of the CLI's samples, each with what it calls (`perf record`
    with DWARF call graphs): reading stdin, splitting the mbox, digesting,
    and the rest (start-up, formatting and writing the digests)."""
    data = os.path.join(tmp, "perf.data")
    with open(stdin_path, "rb") as f:
        r = subprocess.run(["perf", "record", "-q", "-F", "2999", "--call-graph", "dwarf,32768",
                            "-o", data, "--"] + argv,
                           stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        return None
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "sym",
                          "-g", "none", "--percent-limit", "0"],
                         capture_output=True, text=True)
    if rep.returncode != 0:
        return None
    parts = {"read stdin": "std::io::default_read_to_end",
             "split the mbox": "pyzor::input::split_mbox",
             "digest": "pyzor_digest::Digester::digest"}
    shares = dict.fromkeys(parts, 0.0)
    for line in rep.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "%" not in line:
            continue
        try:
            pct = float(line.split("%", 1)[0])
        except ValueError:
            continue
        for k, sym in parts.items():
            # a function inlined in several places is listed for each: the
            # largest is the one that includes the others
            if sym in line:
                shares[k] = max(shares[k], pct)
    shares["the rest: start-up, formatting and writing the digests"] = \
        max(0.0, 100 - sum(shares.values()))
    return shares


def main():
    ap = argparse.ArgumentParser(prog="bench-mbox.sh")
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--venv", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    messages = []
    for p in args.files:
        with open(p, "rb") as f:
            messages.append(f.read())
    tmp = tempfile.mkdtemp(prefix="pyzor-mbox-")
    try:
        full = os.path.join(tmp, "all.mbox")
        tenth_copies = max(1, args.copies // 10)
        tenth = os.path.join(tmp, "tenth.mbox")
        build_mbox(full, messages, args.copies)
        build_mbox(tenth, messages, tenth_copies)
        n = len(messages) * args.copies
        size = os.path.getsize(full)
        print(f"== {n} messages ({len(messages)} × {args.copies}), {size / 1e6:.1f} MB; "
              f"the reference CLI over a tenth ({len(messages) * tenth_copies} messages); "
              f"best of {args.rounds}, CPU time (user + system)")
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        ref_argv = [os.path.join(args.venv, "bin", "python"), os.path.join(args.venv, "bin", "pyzor"),
                    "--homedir", home, "-s", "mbox", "digest"]
        ours_argv = [PYZOR, "--homedir", home, "-s", "mbox", "digest"]

        # the outputs agree (the same digests, line for line)
        with open(tenth, "rb") as f:
            ours_out = subprocess.run(ours_argv, stdin=f, capture_output=True, check=True).stdout
        with open(tenth, "rb") as f:
            r = subprocess.run(ref_argv, stdin=f, capture_output=True)
        if r.returncode != 0:
            sys.exit("the reference CLI failed on the mbox: "
                     + r.stderr.decode(errors="replace").strip().splitlines()[-1])
        ref_out = r.stdout
        if ours_out != ref_out:
            sys.exit("the two CLIs' digests differ on the mbox (scripts/digest-diff.sh lists where)")
        print(f"== the two CLIs print the same {len(ours_out.splitlines())} digests over the tenth")

        ours, ours_file, ref, inproc = [], [], [], []
        out_path = os.path.join(tmp, "digests.txt")
        for _ in range(args.rounds):
            ours.append(run_timed(ours_argv, full, subprocess.DEVNULL))
            with open(out_path, "wb") as out:
                ours_file.append(run_timed(ours_argv, full, out))
            w, c = run_timed(ref_argv, tenth, subprocess.DEVNULL)
            ref.append((w * args.copies / tenth_copies, c * args.copies / tenth_copies))
            r = subprocess.run([THROUGHPUT, "--passes", str(args.copies)] + args.files,
                               capture_output=True, text=True, check=True)
            rate = float(r.stdout.split("msgs_per_s=")[1].split()[0])
            inproc.append((n / rate, n / rate))

        def best(xs):
            return min(x[1] for x in xs), min(x[0] for x in xs)

        rows = [
            ("reference CLI, `pyzor -s mbox digest` (scaled from the tenth)", best(ref)),
            ("ours, `pyzor -s mbox digest > /dev/null`", best(ours)),
            ("ours, `pyzor -s mbox digest > file`", best(ours_file)),
            ("ours, in-process digest of the same messages (`digest-throughput`)", best(inproc)),
        ]
        ref_cpu = rows[0][1][0]
        print(f"{'':<70} {'CPU s':>8} {'wall s':>8} {'msgs/s':>10} {'vs ref CLI':>10}")
        for label, (cpu, wall) in rows:
            print(f"{label:<70} {cpu:>8.3f} {wall:>8.3f} {n / cpu:>10.0f} {ref_cpu / cpu:>9.1f}x")
        cli_cpu, dig_cpu = rows[1][1][0], rows[3][1][0]
        print(f"== the CLI besides digesting: {cli_cpu - dig_cpu:.3f} s of CPU "
              f"({100 * (cli_cpu - dig_cpu) / cli_cpu:.0f} % of the CLI's)")
        if shutil.which("perf"):
            shares = perf_shares(ours_argv, full, tmp)
            if shares:
                print("== where our CLI's samples go (perf record):")
                for k, v in shares.items():
                    print(f"   {k:<42} {v:5.1f} %")
            else:
                print("== perf record failed (perf_event_paranoid?); no breakdown")
        else:
            print("== perf not installed (apt-get install linux-perf); no breakdown")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
