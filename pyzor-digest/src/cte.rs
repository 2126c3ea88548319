//! Content-Transfer-Encoding decoders with CPython's exact leniency
//! (`email.message.Message.get_payload(decode=True)`): `decode_b` over
//! `binascii.a2b_base64`, `binascii.a2b_qp`, and `email.message._decode_uu`
//! over `binascii.a2b_uu`. Off-the-shelf decoders stop, skip or fail in
//! other places, which changes digests of damaged mail.

use std::borrow::Cow;

use crate::block;

/// Undoes the transfer encoding named by `cte` (the first
/// Content-Transfer-Encoding value, not trimmed at the end). Unknown
/// encodings (`7bit`, `8bit`, `binary`, `base64 `…) give the body
/// unchanged.
///
/// The reference compares `str.lower()` of the value; an ASCII-only
/// case-insensitive comparison is the same here, because the value's only
/// non-ASCII character is U+FFFD (for 8-bit bytes), which lower-cases to
/// itself.
pub(crate) fn decode<'a>(cte: &str, body: &'a [u8]) -> Cow<'a, [u8]> {
    let is = |name: &str| cte.eq_ignore_ascii_case(name);
    if is("quoted-printable") {
        Cow::Owned(qp(body))
    } else if is("base64") {
        Cow::Owned(base64(body))
    } else if ["x-uuencode", "uuencode", "uue", "x-uue"]
        .into_iter()
        .any(is)
    {
        match uu(body) {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(body),
        }
    } else {
        Cow::Borrowed(body)
    }
}

/// base64 alphabet values; 0xFF outside the alphabet.
const B64: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// `decode_b(b''.join(body.splitlines()))`: line ends removed, then a
/// lenient decode that skips non-alphabet bytes, counts `=` as padding only
/// after two data characters of a quantum and stops once padding completes
/// it; a final quantum of 2 or 3 characters is flushed, a final quantum of
/// exactly 1 makes the whole decode fail and the joined text is returned.
/// (CR and LF are not in the alphabet, so skipping them is the same as
/// removing them first.)
pub(crate) fn base64(body: &[u8]) -> Vec<u8> {
    if let Some(out) = base64_well_formed(body) {
        return out;
    }
    base64_lenient(body)
}

/// The fast path of [`base64()`]: the body without its line ends, decoded by
/// a SIMD decoder when it is well formed — only alphabet characters, at
/// most two `=` and only at the end, no final quantum of one character.
/// Where that decoder accepts the text, the lenient decode gives the same
/// bytes (padding and the leftover bits of the last quantum ignored, as
/// the lenient decode ignores them); anything else (`None`) takes the
/// lenient decode. The tests compare the two on generated bodies.
fn base64_well_formed(body: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::GeneralPurposeConfig;
    // the SIMD engine where the crate has one (x86-64: AVX2 when the CPU
    // has it; AArch64: NEON), else its scalar engine
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    type Fast = base64::engine::simd::Simd;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    type Fast = base64::engine::GeneralPurpose;
    static ENGINE: std::sync::LazyLock<Fast> = std::sync::LazyLock::new(|| {
        let config = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        return Fast::standard(config);
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        return Fast::new(&base64::alphabet::STANDARD, config);
    });
    ENGINE.decode(without_line_ends(body)).ok()
}

/// `b''.join(body.splitlines())`: the body without its CR and LF bytes.
fn without_line_ends(body: &[u8]) -> Vec<u8> {
    let mut joined = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
        joined.extend_from_slice(&rest[..i]);
        rest = &rest[i + 1..];
    }
    joined.extend_from_slice(rest);
    joined
}

/// The lenient decode of [`base64()`], byte by byte where the text is not
/// four alphabet characters at a time.
fn base64_lenient(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    let mut quad = 0u8;
    let mut pads = 0u8;
    let mut left = 0u32;
    let mut i = 0;
    let n = body.len();
    while i < n {
        // fast path: four alphabet characters at the start of a quantum
        if quad == 0 && i + 4 <= n {
            let a = B64[usize::from(body[i])];
            let b = B64[usize::from(body[i + 1])];
            let c = B64[usize::from(body[i + 2])];
            let d = B64[usize::from(body[i + 3])];
            if (a | b | c | d) < 64 {
                let v = (u32::from(a) << 18)
                    | (u32::from(b) << 12)
                    | (u32::from(c) << 6)
                    | u32::from(d);
                out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
                pads = 0;
                i += 4;
                continue;
            }
        }
        let ch = body[i];
        i += 1;
        if ch == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return out;
                }
            }
            continue;
        }
        let v = B64[usize::from(ch)];
        if v >= 64 {
            continue;
        }
        pads = 0;
        let v = u32::from(v);
        match quad {
            0 => {
                left = v;
                quad = 1;
            }
            1 => {
                out.push(((left << 2) | (v >> 4)) as u8);
                left = v & 0x0f;
                quad = 2;
            }
            2 => {
                out.push(((left << 4) | (v >> 2)) as u8);
                left = v & 0x03;
                quad = 3;
            }
            _ => {
                out.push(((left << 6) | v) as u8);
                left = 0;
                quad = 0;
            }
        }
    }
    if quad == 1 {
        return without_line_ends(body);
    }
    out
}

/// Hex digit values (either case); 0xFF for other bytes.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// `binascii.a2b_qp(data, header=False)`.
///
/// The `=` bytes of 64 input bytes are found at once (a bit mask), so
/// finding the next one is a bit operation that waits for no load. Each
/// `=` then costs no branch that depends on the text, as a rule: the two
/// bytes after it are read, and an escape (two hex digits), a CR LF soft
/// break or an LF soft break each give, by arithmetic, where the text
/// goes on and whether the decoded byte is kept. The block's output is
/// built in a small stack buffer: the text before each `=` (less than 64
/// bytes) by one fixed-size move of [`COPY`] bytes whose excess the next
/// write covers, then the decoded byte. Encoded text (a `=` every three
/// bytes, as in CJK or accented words) is decoded four escapes at a time.
/// Anything else after a `=` (a lone `=`, `==`, a CR without LF, the end
/// of the data) takes [`qp_equals`].
/// The output never outgrows the input, so the moves into it never
/// reallocate.
pub(crate) fn qp(data: &[u8]) -> Vec<u8> {
    let n = data.len();
    // room for the fixed-size moves past the output's end (the output
    // before a block is never longer than the input before it, and a
    // block reads at most 11 bytes past its end)
    let mut out = Vec::with_capacity(n + 2 * FLUSH);
    let mut i = 0;
    // a block's output (at most 67 bytes: the text before its last `=`,
    // and four escapes decoded there), and room for one more move
    let mut stage = [0u8; 3 * block::BLOCK];
    while let Some(chunk) = data
        .get(i..)
        .and_then(<[u8]>::first_chunk::<{ block::BLOCK }>)
    {
        let base = i;
        let mut eqs = block::eq_mask(chunk, b'=');
        if eqs == 0 {
            out.extend_from_slice(chunk);
            i += block::BLOCK;
            continue;
        }
        let mut o = 0;
        // a `=` every three bytes from bit k on: four escapes in a row
        let fours = eqs & eqs >> 3 & eqs >> 6 & eqs >> 9;
        while eqs != 0 {
            let k = eqs.trailing_zeros();
            let p = base + k as usize;
            eqs &= eqs - 1;
            if p < i {
                // consumed by the `=` before (a soft break that runs to a
                // later LF, `==`)
                continue;
            }
            // encoded text (CJK, accented words): four escapes at once
            if fours >> k & 1 != 0
                && let (Some(text), Some(run)) = (
                    data[i..].first_chunk::<COPY>(),
                    data[p..].first_chunk::<12>(),
                )
            {
                let d = |j: usize| HEX[usize::from(run[j])];
                let digits = [d(1), d(2), d(4), d(5), d(7), d(8), d(10), d(11)];
                if digits.iter().fold(0, |a, &v| a | v) < 16 {
                    stage[o..o + COPY].copy_from_slice(text);
                    o += p - i;
                    let bytes = [
                        digits[0] << 4 | digits[1],
                        digits[2] << 4 | digits[3],
                        digits[4] << 4 | digits[5],
                        digits[6] << 4 | digits[7],
                    ];
                    stage[o..o + 4].copy_from_slice(&bytes);
                    o += 4;
                    i = p + 12;
                    // (k + 9 < 64: `fours` has no bit above 54)
                    eqs &= !(0x249 << k);
                    continue;
                }
            }
            if let (Some(text), Some(&[h, l])) =
                (data[i..].first_chunk::<COPY>(), data.get(p + 1..p + 3))
            {
                let (hv, lv) = (HEX[usize::from(h)], HEX[usize::from(l)]);
                // 1 for an escape, 2 for a CR LF, 4 for an LF (the hex
                // value 0xFF is never below 16)
                let escape = u8::from((hv | lv) < 16);
                let crlf = u8::from(h == b'\r') & u8::from(l == b'\n');
                let lf = u8::from(h == b'\n');
                if escape | crlf << 1 | lf << 2 != 0 {
                    // the text before the `=` (less than 64 bytes) in one
                    // move, then the decoded byte, kept for an escape
                    stage[o..o + COPY].copy_from_slice(text);
                    o += p - i;
                    stage[o] = hv << 4 | lv;
                    o += usize::from(escape);
                    i = p + 3 - usize::from(lf);
                    continue;
                }
            }
            out.extend_from_slice(&stage[..o]);
            o = 0;
            out.extend_from_slice(&data[i..p]);
            i = qp_equals(data, p, &mut out);
        }
        // the block's output (at most 67 bytes) by one fixed-size move
        // too, the excess cut off
        if let Some(head) = stage.first_chunk::<FLUSH>() {
            out.extend_from_slice(head);
            out.truncate(out.len() - FLUSH + o);
        }
        if i < base + block::BLOCK {
            copy_text(data, i, base + block::BLOCK, &mut out);
            i = base + block::BLOCK;
        }
    }
    // the last bytes
    while i < n {
        let p = data[i..]
            .iter()
            .position(|&c| c == b'=')
            .map_or(n, |k| i + k);
        out.extend_from_slice(&data[i..p]);
        if p == n {
            break;
        }
        i = qp_equals(data, p, &mut out);
    }
    out
}

/// Bytes per fixed-size move of a block's staged output: more than the
/// most it can hold (67).
const FLUSH: usize = 128;

/// Bytes per fixed-size move of text: the text before a `=` in a 64-byte
/// block is shorter, so one move copies it.
const COPY: usize = 64;

/// Appends `data[from..to]`, [`COPY`] bytes at a time (a fixed-size move
/// each, the excess cut off at the end).
#[inline(always)]
fn copy_text(data: &[u8], from: usize, to: usize, out: &mut Vec<u8>) {
    let mut j = from;
    while j < to {
        match data[j..].first_chunk::<COPY>() {
            Some(c) => out.extend_from_slice(c),
            None => {
                out.extend_from_slice(&data[j..to]);
                return;
            }
        }
        j += COPY;
    }
    out.truncate(out.len() - (j - to));
}

/// The byte of the escape at `data[p]`, if there is one: `=` and two hex
/// digits (either case).
#[inline(always)]
fn hex_escape(data: &[u8], p: usize) -> Option<u8> {
    let &[b'=', h, l] = data.get(p..)?.first_chunk::<3>()? else {
        return None;
    };
    let (h, l) = (HEX[usize::from(h)], HEX[usize::from(l)]);
    (h | l < 16).then_some(h << 4 | l)
}

/// Decodes the `=` at `data[p]`: an escape of two hex digits, a soft line
/// break, `==`, or a lone `=` (kept). Returns where the text goes on.
#[inline(always)]
fn qp_equals(data: &[u8], p: usize, out: &mut Vec<u8>) -> usize {
    if let Some(byte) = hex_escape(data, p) {
        out.push(byte);
        return p + 3;
    }
    let n = data.len();
    let mut i = p + 1;
    if i >= n {
        return n;
    }
    match data[i] {
        b'\n' | b'\r' => {
            if data[i] != b'\n' {
                while i < n && data[i] != b'\n' {
                    i += 1;
                }
            }
            if i < n {
                i += 1;
            }
        }
        b'=' => {
            out.push(b'=');
            i += 1;
        }
        // not an escape: the '=' is kept, what follows is copied
        _ => out.push(b'='),
    }
    i
}

/// Python `int(s, 8)` on bytes: surrounding ASCII whitespace, a sign, an
/// optional `0o` prefix, octal digits with single underscores between them.
fn is_py_octal(s: &[u8]) -> bool {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    let t = &s[start..end];
    let t = t
        .strip_prefix(b"+")
        .or_else(|| t.strip_prefix(b"-"))
        .unwrap_or(t);
    let t = match t.get(..2) {
        Some(b"0o") | Some(b"0O") => {
            let rest = &t[2..];
            // "0o_7" is valid: an underscore may follow the prefix
            rest.strip_prefix(b"_").unwrap_or(rest)
        }
        _ => t,
    };
    if t.is_empty() || t[0] == b'_' || t[t.len() - 1] == b'_' {
        return false;
    }
    let mut prev_us = false;
    for &c in t {
        match c {
            b'0'..=b'7' => prev_us = false,
            b'_' if !prev_us => prev_us = true,
            _ => return false,
        }
    }
    true
}

/// `bytes.splitlines()`: lines without their ends (`\n`, `\r`, `\r\n`).
fn bytes_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => (rest, &rest[rest.len()..]),
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => {
                (&rest[..i], &rest[i + 2..])
            }
            Some(i) => (&rest[..i], &rest[i + 1..]),
        };
        rest = next;
        Some(line)
    })
}

/// `binascii.a2b_uu` of one line; `None` where it raises.
fn a2b_uu(line: &[u8]) -> Option<Vec<u8>> {
    // CPython reads the first byte; for an empty buffer that is the
    // terminating NUL.
    let first = line.first().copied().unwrap_or(0);
    let mut bin_len = usize::from(first.wrapping_sub(b' ') & 0o77);
    let data = line.get(1..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(bin_len);
    let mut left: u32 = 0;
    let mut bits = 0;
    let mut idx = 0;
    while bin_len > 0 {
        let c = data.get(idx).copied();
        idx += 1;
        let v = match c {
            None | Some(b'\n') | Some(b'\r') => 0,
            Some(c) if !(b' '..=b' ' + 64).contains(&c) => return None,
            Some(c) => u32::from((c - b' ') & 0o77),
        };
        left = (left << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((left >> bits) as u8);
            left &= (1 << bits) - 1;
            bin_len -= 1;
        }
    }
    for &c in data.get(idx..).unwrap_or(&[]) {
        if !matches!(c, b' ' | b'`' | b'\n' | b'\r') {
            return None;
        }
    }
    Some(out)
}

/// `email.message._decode_uu`; `None` where it raises (no valid `begin`
/// line, an empty line before `end`, an undecodable line).
pub(crate) fn uu(data: &[u8]) -> Option<Vec<u8>> {
    let mut lines = bytes_lines(data);
    loop {
        let line = lines.next()?;
        if let Some(rest) = line.strip_prefix(b"begin ") {
            let mode = rest.split(|&b| b == b' ').next().unwrap_or(&[]);
            if is_py_octal(mode) {
                break;
            }
        }
    }
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            return None;
        }
        if strip_uu_ws(line) == b"end" {
            break;
        }
        let decoded = match a2b_uu(line) {
            Some(d) => d,
            None => {
                let nbytes = ((usize::from(line[0].wrapping_sub(32) & 63)) * 4 + 5) / 3;
                a2b_uu(&line[..nbytes.min(line.len())])?
            }
        };
        out.extend_from_slice(&decoded);
    }
    Some(out)
}

/// `bytes.strip(b' \t\r\n\f')`.
fn strip_uu_ws(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c);
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn base64_leniency() {
        assert_eq!(base64(b"QUJD"), b"ABC");
        assert_eq!(base64(b"QUI"), b"AB");
        assert_eq!(base64(b"QQ"), b"A");
        assert_eq!(base64(b"QU\r\nJD"), b"ABC");
        assert_eq!(base64(b"Q!U*J D"), b"ABC");
        assert_eq!(base64(b"QQ==QUJD"), b"A");
        assert_eq!(base64(b"QUJDR"), b"QUJDR");
        assert_eq!(base64(b"QUJD\nR\n"), b"QUJDR");
        assert_eq!(base64(b"=QUJD"), b"ABC");
        assert_eq!(base64(b"Q=Q=="), b"A");
        assert_eq!(base64(b""), b"");
    }

    #[test]
    fn qp_edges() {
        assert_eq!(qp(b"a=\nb"), b"ab");
        assert_eq!(qp(b"a=\r\nb"), b"ab");
        assert_eq!(qp(b"a=\rXYZ\nb"), b"ab");
        assert_eq!(qp(b"==41"), b"=41");
        assert_eq!(qp(b"=41=4a=4A"), b"AJJ");
        assert_eq!(qp(b"=ZZ"), b"=ZZ");
        assert_eq!(qp(b"= \n"), b"= \n");
        assert_eq!(qp(b"end="), b"end");
        assert_eq!(qp(b"=4"), b"=4");
    }

    /// `binascii.a2b_qp` one byte at a time, as CPython writes it.
    fn qp_model(data: &[u8]) -> Vec<u8> {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let (mut out, mut i, n) = (Vec::new(), 0, data.len());
        while i < n {
            if data[i] != b'=' {
                out.push(data[i]);
                i += 1;
            } else if i + 1 >= n {
                break;
            } else if data[i + 1] == b'\n' || data[i + 1] == b'\r' {
                // soft line break: up to and including the next LF
                i += 1;
                while i < n && data[i] != b'\n' {
                    i += 1;
                }
                i += 1;
            } else if data[i + 1] == b'=' {
                out.push(b'=');
                i += 2;
            } else if let (Some(h), Some(l)) =
                (hex(data[i + 1]), data.get(i + 2).and_then(|&c| hex(c)))
            {
                out.push(h << 4 | l);
                i += 3;
            } else {
                out.push(b'=');
                i += 1;
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn qp_matches_the_plain_model(
            data in proptest::collection::vec(
                proptest::sample::select(b"==\r\n0aAfFgz \t\x80".to_vec()),
                0..200,
            )
        ) {
            proptest::prop_assert_eq!(qp(&data), qp_model(&data));
        }

        /// Longer text with sparser `=`: blocks without one, text runs
        /// across blocks, runs of escapes, escapes and soft breaks across
        /// a block edge.
        #[test]
        fn qp_blocks_match_the_plain_model(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[a-z \t]{0,90}").unwrap(),
                    proptest::string::string_regex("(=[0-9A-Fa-f]{2}){1,20}").unwrap(),
                    proptest::strategy::Strategy::prop_map(
                        proptest::sample::select(
                            vec!["=", "==", "=\n", "=\r\n", "= \r\n", "=\rx\n", "=4", "=G1", "\r\n"],
                        ),
                        str::to_owned,
                    ),
                ],
                0..40,
            )
        ) {
            let data = parts.concat().into_bytes();
            proptest::prop_assert_eq!(qp(&data), qp_model(&data));
        }
    }

    /// A well-formed body: the base64 of `bytes` (padded or not), cut into
    /// lines of `width` characters by CR LF, LF or CR.
    fn wrapped_base64(bytes: &[u8], width: usize, end: &str, padded: bool) -> Vec<u8> {
        use base64::Engine as _;
        let text = if padded {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        } else {
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
        };
        let lines: Vec<&[u8]> = text.as_bytes().chunks(width.max(1)).collect();
        lines.join(end.as_bytes())
    }

    proptest::proptest! {
        /// The SIMD path gives what the lenient decode gives, on well-formed
        /// bodies of every length and line width, and on such bodies with
        /// one byte changed, inserted or removed (which mostly sends them
        /// to the lenient decode, but not always: a changed character may
        /// still be in the alphabet).
        #[test]
        fn base64_fast_path_matches_the_lenient_decode(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            width in 1usize..100,
            end in proptest::sample::select(vec!["\r\n", "\n", "\r", ""]),
            padded in proptest::bool::ANY,
            edit in proptest::option::of((
                0usize..500,
                proptest::sample::select(b"=A/+z9 \t\r\n!\x80-".to_vec()),
                0u8..3,
            )),
            tail in proptest::sample::select(vec!["", "\r\n", "\n\n", "=", "==", "A", "AB", " "]),
        ) {
            let mut body = wrapped_base64(&bytes, width, end, padded);
            if let Some((at, byte, how)) = edit {
                let at = at % (body.len() + 1);
                match how {
                    0 => body.insert(at, byte),
                    1 if at < body.len() => body[at] = byte,
                    _ if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {}
                }
            } else {
                proptest::prop_assert_eq!(base64(&body), bytes.clone());
            }
            body.extend_from_slice(tail.as_bytes());
            proptest::prop_assert_eq!(base64(&body), base64_lenient(&body));
        }
    }

    #[test]
    fn uuencode() {
        let data = b"noise\nbegin 644 f.txt\n#0V%T\n`\nend\n";
        assert_eq!(uu(data).unwrap(), b"Cat");
        assert_eq!(uu(b"begin 644 f\n#0V%T\n\nend\n"), None);
        assert_eq!(uu(b"no begin here\n"), None);
        assert_eq!(uu(b"begin 999 f\n#0V%T\nend\n"), None);
        assert_eq!(uu(b"begin 0o644 f\n#0V%T\nend\n").unwrap(), b"Cat");
        assert!(is_py_octal(b"6_4_4") && !is_py_octal(b"6__4") && !is_py_octal(b""));
    }
}
