#!/usr/bin/python3
"""Generate pyzor-digest's CJK decoding tables from the reference Python.

    /usr/bin/python3 scripts/gen-cjk-tables.py

For every stateless multibyte codec of CPython (big5, cp932, gbk, euc_jp,
shift_jis, ...) this enumerates what the decoder does with each lead byte,
each two-byte sequence and, where needed, each three-byte sequence: the
code point(s) produced, or the length of the error span. The result is
written run-length encoded to pyzor-digest/data/cjk/<codec>.bin, which the
decoder in pyzor-digest/src/charset/cjk.rs reads. GB18030's four-byte
sequences are decoded arithmetically from a range table written to
gb18030-ranges.bin. The stateful codecs (hz, iso2022_*) get the tables of
the character sets they switch between (jisx0208.bin, ...).
"""
import codecs
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyzor-digest", "data", "cjk")

# entry values
MORE = 0xFFFFFFF0
ERR = 0xFFFFFFF0  # + n for an error span of n bytes (1..=4)
LEAD = 0xFFFFFFFF  # level 1 only: needs more bytes
PAIR = 0x80000000  # + index into the pair list

rec = []


def handler(e):
    rec.append((e.start, e.end, e.reason))
    return ("", e.end)


codecs.register_error("pyzorrec", handler)


def run(codec, data):
    rec.clear()
    s = codec_decode[codec](data, "pyzorrec")[0]
    return s, list(rec)


codec_decode = {}


def classify(codec, prefix, pairs):
    """Outcome of decoding `prefix` at the start of the input, looking only
    at the first decision: char(s) consuming len(prefix), error span, or
    'needs more'."""
    s, r = run(codec, prefix)
    n = len(prefix)
    if not r:
        if len(s) == 1:
            return ord(s)
        if len(s) == 2 and n > 1:
            pairs.append((ord(s[0]), ord(s[1])))
            return PAIR + len(pairs) - 1
        raise AssertionError((codec, prefix, s))
    start, end, reason = r[0]
    assert start == 0, (codec, prefix, r)
    if reason.startswith("incomplete") and end == n:
        return MORE
    # an error span at the start; the decoder resumes after it
    return ERR + (end - start)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rle(values):
    """Runs of equal values (tag 0) or of values increasing by one (tag 1)."""
    out = bytearray()
    i = 0
    n = len(values)
    while i < n:
        j = i + 1
        while j < n and values[j] == values[i]:
            j += 1
        if j - i >= 2:
            out += b"\x00" + varint(j - i) + varint(values[i])
            i = j
            continue
        j = i + 1
        while j < n and values[j] == values[j - 1] + 1 and values[j] < 0x110000:
            j += 1
        out += b"\x01" + varint(j - i) + varint(values[i])
        i = j
    return bytes(out)


def gen_stateless(codec):
    codec_decode[codec] = codecs.getdecoder(codec)
    pairs = []
    level1 = []
    for b in range(256):
        v = classify(codec, bytes([b]), pairs)
        level1.append(LEAD if v == MORE else v)
    leads = [b for b in range(256) if level1[b] == LEAD]
    level2 = []
    more2 = []
    for l in leads:
        for t in range(256):
            v = classify(codec, bytes([l, t]), pairs)
            level2.append(v)
            if v == MORE:
                more2.append((l, t))
    level3 = []
    special4 = False
    if codec == "gb18030":
        # four-byte sequences: handled arithmetically; check the shape
        for l, t in more2:
            assert l >= 0x80 and 0x30 <= t <= 0x39, (l, t)
        more2 = []
        special4 = True
    if codec == "euc_kr":
        # the KS X 1001 Annex 3 make-up sequence A4 D4 ...: decoded in code
        assert more2 == [(0xA4, 0xD4)], more2
        more2 = []
    for l, t in more2:
        for u in range(256):
            v = classify(codec, bytes([l, t, u]), pairs)
            assert v != MORE, (codec, l, t, u)
            level3.append(v)
    blob = bytearray(b"PZCJK1")
    blob += struct.pack("<HHHH", len(leads), len(more2), len(pairs), 1 if special4 else 0)
    blob += bytes(leads)
    for l, t in more2:
        blob += bytes([l, t])
    for a, b in pairs:
        blob += struct.pack("<II", a, b)
    body = rle(level1 + level2 + level3)
    blob += struct.pack("<I", len(body)) + body
    with open(os.path.join(OUT, codec + ".bin"), "wb") as f:
        f.write(blob)
    return len(blob)


def gen_gb18030_ranges():
    dec = codecs.getdecoder("gb18030")
    vals = []
    # lseq = ((c * 10 + c2) * 1260) + c3 * 10 + c4
    for lseq in range(39420):
        hi, lo = divmod(lseq, 1260)
        c, c2 = divmod(hi, 10)
        c3, c4 = divmod(lo, 10)
        seq = bytes([0x81 + c, 0x30 + c2, 0x81 + c3, 0x30 + c4])
        s = dec(seq, "pyzorrec")[0]
        assert len(s) == 1, (lseq, s)
        vals.append(ord(s))
    body = rle(vals)
    with open(os.path.join(OUT, "gb18030-ranges.bin"), "wb") as f:
        f.write(b"PZGB18" + struct.pack("<I", len(body)) + body)
    # the supplementary planes are linear from 90 30 81 30; check a few
    for cp in (0x10000, 0x1F600, 0x10FFFF):
        off = cp - 0x10000
        b4 = off % 10
        off //= 10
        b3 = off % 126
        off //= 126
        b2 = off % 10
        b1 = off // 10
        seq = bytes([0x90 + b1, 0x30 + b2, 0x81 + b3, 0x30 + b4])
        assert seq.decode("gb18030") == chr(cp), hex(cp)


# The 94x94 character sets of the ISO-2022 codecs, each generated through
# the codec that uses it (the JIS X 0213:2000 planes differ from 2004's).
CHARSETS = {
    "jisx0208": ("iso2022_jp", b"\x1b$B"),
    "jisx0212": ("iso2022_jp_1", b"\x1b$(D"),
    "gb2312": ("iso2022_jp_2", b"\x1b$A"),
    "ksx1001": ("iso2022_kr", b"\x1b$)C\x0e"),
    "jisx0213-2000-1": ("iso2022_jp_3", b"\x1b$(O"),
    "jisx0213-2000-2": ("iso2022_jp_3", b"\x1b$(P"),
    "jisx0213-2004-1": ("iso2022_jp_2004", b"\x1b$(Q"),
    "jisx0213-2004-2": ("iso2022_jp_2004", b"\x1b$(P"),
}


def gen_jamo():
    """The choseong/jongseong tables of EUC-KR's make-up sequences."""
    cho = []
    for c in range(0xA1, 0xBF):
        seq = bytes([0xA4, 0xD4, 0xA4, c, 0xA4, 0xBF, 0xA4, 0xD4])
        rec.clear()
        s = seq.decode("euc_kr", "pyzorrec")
        cho.append(0xFF if rec else (ord(s) - 0xAC00) // 588)
    jong = []
    for c in range(0xA1, 0xBF):
        seq = bytes([0xA4, 0xD4, 0xA4, 0xA1, 0xA4, 0xBF, 0xA4, c])
        rec.clear()
        s = seq.decode("euc_kr", "pyzorrec")
        jong.append(0xFF if rec else (ord(s) - 0xAC00) % 28)
    with open(os.path.join(OUT, "euc_kr-jamo.bin"), "wb") as f:
        f.write(bytes(cho) + bytes(jong))


def gen_charset(name, codec, esc):
    """A 94x94 character set as the stateful codec decodes it: for rows and
    columns 0x21..0x7E, the code point(s) or an error marker."""
    dec = codecs.getdecoder(codec)
    pairs = []
    vals = []
    for r in range(0x21, 0x7F):
        for c in range(0x21, 0x7F):
            rec.clear()
            s = dec(esc + bytes([r, c]), "pyzorrec")[0]
            if rec:
                vals.append(ERR + 1)  # not in the set
            elif len(s) == 1:
                vals.append(ord(s))
            elif len(s) == 2:
                pairs.append((ord(s[0]), ord(s[1])))
                vals.append(PAIR + len(pairs) - 1)
            else:
                raise AssertionError((name, r, c, s))
    body = rle(vals)
    blob = bytearray(b"PZ94x1") + struct.pack("<H", len(pairs))
    for a, b in pairs:
        blob += struct.pack("<II", a, b)
    blob += struct.pack("<I", len(body)) + body
    with open(os.path.join(OUT, "cs-" + name + ".bin"), "wb") as f:
        f.write(blob)
    return len(blob)


STATELESS = [
    "big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213", "euc_jp",
    "euc_kr", "gb18030", "gb2312", "gbk", "johab", "shift_jis", "shift_jis_2004", "shift_jisx0213",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for c in STATELESS:
        n = gen_stateless(c)
        total += n
        print(c, n)
    gen_gb18030_ranges()
    gen_jamo()
    for name, (codec, esc) in CHARSETS.items():
        n = gen_charset(name, codec, esc)
        total += n
        print(name, n)
    print("total", total, "python", sys.version.split()[0])


if __name__ == "__main__":
    main()
