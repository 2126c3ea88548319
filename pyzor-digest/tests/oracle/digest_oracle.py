#!/usr/bin/env python3
"""Oracle for pyzor-digest's differential tests: the reference pyzor 1.1.2
digest (the library path the `pyzor digest` command uses).

Reads messages framed as <decimal length>\\n<bytes> on stdin and prints one
line per message: the 40-hex digest, or ERROR:<exception name> where the
reference raises.
"""
import email
import sys
import warnings

warnings.simplefilter("ignore")

import pyzor.digest  # noqa: E402


def main():
    inp = sys.stdin.buffer
    out = sys.stdout
    while True:
        header = inp.readline()
        if not header:
            break
        n = int(header)
        raw = inp.read(n)
        try:
            value = pyzor.digest.DataDigester(email.message_from_bytes(raw)).value
        except Exception as e:  # the reference prints a traceback here
            value = "ERROR:" + type(e).__name__
        out.write(value + "\n")
        out.flush()


if __name__ == "__main__":
    main()
