#!/usr/bin/env python3
"""In-process digest throughput of the reference pyzor 1.1.2 (the library
path `pyzor digest` uses), for scripts/bench-digest.sh.

    ref_digest_throughput.py [--seconds S] FILE...
"""
import email
import sys
import time
import warnings

warnings.simplefilter("ignore")

import pyzor.digest  # noqa: E402


def digest(raw):
    try:
        return pyzor.digest.DataDigester(email.message_from_bytes(raw)).value
    except Exception:  # the reference crashes on a few inputs; count them anyway
        return None


def main():
    args = sys.argv[1:]
    seconds = 5.0
    if args[:1] == ["--seconds"]:
        seconds = float(args[1])
        args = args[2:]
    messages = [open(p, "rb").read() for p in args]
    for m in messages:
        digest(m)
    n = nbytes = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for m in messages:
            digest(m)
            n += 1
            nbytes += len(m)
    t = time.perf_counter() - start
    print("messages=%d bytes=%d seconds=%.3f msgs_per_s=%.1f mb_per_s=%.2f" % (n, nbytes, t, n / t, nbytes / 1e6 / t))


if __name__ == "__main__":
    main()
