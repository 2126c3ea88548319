#!/usr/bin/python3
"""Oracle for pyzor-digest's codec tests: decodes what it is told with the
reference CPython and prints the result.

    codec_oracle.py gen SEED N [MAXLEN]  # N random cases per codec: codec, errors, input hex
    codec_oracle.py decode       # read such lines on stdin, print the expected results

Results are code points in hex separated by '.', lone surrogates mapped to
U+10F800 + (cp - 0xD800) as pyzor-digest holds them, or ERR when CPython
raises.
"""
import codecs
import random
import sys
import warnings

warnings.simplefilter("ignore")

ERRORS = ("strict", "ignore", "replace")
MAXLEN = 16


def text_codecs():
    import encodings.aliases
    import pkgutil
    import encodings
    names = set()
    for m in pkgutil.iter_modules(encodings.__path__):
        try:
            mod = __import__("encodings." + m.name, fromlist=["x"])
        except ImportError:
            continue
        if not hasattr(mod, "getregentry"):
            continue
        info = codecs.lookup(m.name)
        if info._is_text_encoding:
            names.add(info.name)
    return sorted(names)


def cases_for(codec, rng, n):
    """Random inputs biased towards what the codec cares about."""
    specials = {
        "utf-7": b"+-/AZaz09 \x80\xff.~",
        "unicode-escape": b"\\xuUN{}01789aAfFgG \n\x80\xff'\"",
        "raw-unicode-escape": b"\\uU0189aAfF \x80",
        "punycode": b"-abcxyz019AZ\x80",
        "hz": b"~{}\n!\"#$%&'()0123456789ABJ_`a~\x7f\x80\xc4",
        "utf-16": b"\x00\xd8\xdc\xff\xfeAa\x00",
        "utf-16-le": b"\x00\xd8\xdc\xff\xfeAa\x00",
        "utf-16-be": b"\x00\xd8\xdc\xff\xfeAa\x00",
        "utf-32": b"\x00\x01\x10\x11\xd8\xff\xfeA",
        "utf-32-le": b"\x00\x01\x10\x11\xd8\xff\xfeA",
        "utf-32-be": b"\x00\x01\x10\x11\xd8\xff\xfeA",
        "utf-8": b"\xc0\xc2\xe0\xe2\xed\xf0\xf4\xf5\x80\x90\xa0\xbfA",
        "utf-8-sig": b"\xef\xbb\xbf\xc2\xe2\x80\xa0A",
    }
    if codec.startswith("iso2022"):
        alphabet = b"\x1b$()B@JDACIOPQF.N&\x0e\x0f\n !\"#0Aa~\x7f\x80"
    else:
        alphabet = specials.get(codec)
    out = []
    for i in range(n):
        kind = i % 4
        length = rng.randint(0, MAXLEN)
        if kind == 0 or alphabet is None and kind == 1:
            data = bytes(rng.randrange(256) for _ in range(length))
        elif kind == 1:
            data = bytes(rng.choice(alphabet) for _ in range(length))
        else:
            # valid text in the codec, then mutated
            s = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xa0, 0x3000), rng.randrange(0x4e00, 0x9fff), rng.randrange(0xac00, 0xd7a3), rng.randrange(0x10000, 0x2ffff)])) for _ in range(rng.randint(0, 8)))
            try:
                data = bytearray(s.encode(codec, "ignore"))
            except Exception:
                data = bytearray(s.encode("utf-8"))
            if kind == 3 and data:
                for _ in range(rng.randint(1, 3)):
                    op = rng.randrange(3)
                    p = rng.randrange(len(data) + 1)
                    if op == 0:
                        data.insert(p, rng.randrange(256))
                    elif op == 1 and p < len(data):
                        del data[p]
                    elif p < len(data):
                        data[p] ^= 1 << rng.randrange(8)
            data = bytes(data)
        out.append((codec, ERRORS[i % 3], data))
    return out


def decode(codec, errors, data):
    try:
        s = data.decode(codec, errors)
    except (UnicodeError, LookupError, AssertionError, RuntimeError):
        return "ERR"
    cps = []
    for ch in s:
        c = ord(ch)
        if 0xD800 <= c <= 0xDFFF:
            c = 0x10F800 + (c - 0xD800)
        cps.append("%x" % c)
    return ".".join(cps)


def main():
    if sys.argv[1] == "gen":
        global MAXLEN
        rng = random.Random(int(sys.argv[2]))
        n = int(sys.argv[3])
        if len(sys.argv) > 4:
            MAXLEN = int(sys.argv[4])
        for codec in text_codecs():
            for c, e, d in cases_for(codec, rng, n):
                print("%s\t%s\t%s" % (c, e, d.hex()))
    else:
        for line in sys.stdin:
            c, e, h = line.rstrip("\n").split("\t")
            print("%s\t%s\t%s\t%s" % (c, e, h, decode(c, e, bytes.fromhex(h))))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
