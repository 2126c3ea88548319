//! The UTF codecs with CPython's error spans.

use super::{DecodeError, Errors, Sink};

/// UTF-8: each maximal invalid subsequence is one error (CPython and Rust
/// agree on the spans: invalid lead byte, truncated or broken sequence,
/// surrogates and overlongs rejected).
pub(crate) fn utf8(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let mut sink = Sink::new(errors, input.len());
    for chunk in input.utf8_chunks() {
        sink.out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            sink.error();
            if sink.failed() {
                break;
            }
        }
    }
    sink.finish()
}

/// The byte order of a UTF-16/32 text and the text after its byte-order
/// mark: `big_endian` when fixed by the codec name, else sniffed from the
/// little- or big-endian mark (which is skipped), else little-endian.
fn byte_order<'a>(
    input: &'a [u8],
    big_endian: Option<bool>,
    le_mark: &[u8],
    be_mark: &[u8],
) -> (bool, &'a [u8]) {
    match big_endian {
        Some(be) => (be, input),
        None => match (input.strip_prefix(le_mark), input.strip_prefix(be_mark)) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => (false, input),
        },
    }
}

/// UTF-16 with `big_endian` fixed, or (None) a byte-order mark sniffed and
/// skipped (little-endian without one).
pub(crate) fn utf16(
    input: &[u8],
    big_endian: Option<bool>,
    errors: Errors,
) -> Result<String, DecodeError> {
    let (be, data) = byte_order(input, big_endian, b"\xff\xfe", b"\xfe\xff");
    let unit = |i: usize| -> u32 {
        let (a, b) = (u32::from(data[i]), u32::from(data[i + 1]));
        if be { a << 8 | b } else { b << 8 | a }
    };
    let mut sink = Sink::new(errors, data.len() / 2);
    // the units of ASCII characters, read as little-endian u16 lanes: the
    // high byte zero and the low byte below 0x80, in either byte order
    let lane: u128 = if be { 0x80ff } else { 0xff80 };
    let not_ascii = lane * (u128::MAX / 0xffff);
    let low = usize::from(be);
    let mut i = 0;
    while i + 1 < data.len() && !sink.failed() {
        // ASCII text (markup, Latin text): eight units at a time into a
        // stack buffer, pushed 64 characters at a time
        let mut ascii = [0u8; 64];
        let mut len = 0;
        while len < ascii.len()
            && let Some(chunk) = data[i..].first_chunk::<16>()
            && u128::from_le_bytes(*chunk) & not_ascii == 0
        {
            for k in 0..8 {
                ascii[len + k] = chunk[2 * k + low];
            }
            len += 8;
            i += 16;
        }
        if len > 0 {
            sink.push_ascii(&ascii[..len]);
            continue;
        }
        let u = unit(i);
        if !(0xd800..0xe000).contains(&u) {
            sink.push_cp(u);
            i += 2;
        } else if u >= 0xdc00 {
            // a low surrogate alone: "illegal encoding"
            sink.error();
            i += 2;
        } else if i + 3 < data.len() {
            let v = unit(i + 2);
            if (0xdc00..0xe000).contains(&v) {
                sink.push_cp(0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00));
                i += 4;
            } else {
                // "illegal UTF-16 surrogate": only the high unit
                sink.error();
                i += 2;
            }
        } else {
            // "unexpected end of data": the high unit and what follows
            sink.error();
            i = data.len();
        }
    }
    if i < data.len() && !sink.failed() {
        sink.error(); // "truncated data"
    }
    sink.finish()
}

/// UTF-32 with `big_endian` fixed, or (None) a byte-order mark sniffed and
/// skipped (little-endian without one).
pub(crate) fn utf32(
    input: &[u8],
    big_endian: Option<bool>,
    errors: Errors,
) -> Result<String, DecodeError> {
    let (be, data) = byte_order(input, big_endian, b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff");
    let mut sink = Sink::new(errors, data.len() / 4);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let cp = if be {
            u32::from_be_bytes([c[0], c[1], c[2], c[3]])
        } else {
            u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        };
        if cp > 0x10ffff || (0xd800..0xe000).contains(&cp) {
            sink.error();
        } else {
            sink.push_cp(cp);
        }
        if sink.failed() {
            return sink.finish();
        }
    }
    if !chunks.remainder().is_empty() {
        sink.error(); // "truncated data"
    }
    sink.finish()
}

fn from_base64(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// `DECODE_DIRECT`: ASCII other than `+` decodes as itself.
fn direct(c: u8) -> bool {
    c <= 127 && c != b'+'
}

/// UTF-7 as CPython decodes it (`PyUnicode_DecodeUTF7Stateful`, final):
/// shift sequences `+…-`, `+-` for `+`, errors for stray 8-bit bytes,
/// partial characters and non-zero padding; unpaired surrogates are kept.
pub(crate) fn utf7(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let mut sink = Sink::new(errors, input.len());
    let e = input.len();
    let mut s = 0;
    let mut in_shift = false;
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut surrogate: u32 = 0;
    'outer: loop {
        while s < e {
            if sink.failed() {
                break 'outer;
            }
            let ch = input[s];
            if in_shift {
                if let Some(v) = from_base64(ch) {
                    buffer = (buffer << 6) | v;
                    bits += 6;
                    s += 1;
                    if bits >= 16 {
                        let out = buffer >> (bits - 16);
                        bits -= 16;
                        buffer &= (1 << bits) - 1;
                        if surrogate != 0 {
                            if (0xdc00..0xe000).contains(&out) {
                                sink.push_cp(
                                    0x10000 + ((surrogate - 0xd800) << 10) + (out - 0xdc00),
                                );
                                surrogate = 0;
                                continue;
                            }
                            sink.push_cp(surrogate);
                            surrogate = 0;
                        }
                        if (0xd800..0xdc00).contains(&out) {
                            surrogate = out;
                        } else {
                            sink.push_cp(out);
                        }
                    }
                } else {
                    in_shift = false;
                    if bits > 0 {
                        if bits >= 6 {
                            s += 1;
                            sink.error(); // partial character in shift sequence
                            continue;
                        } else if buffer != 0 {
                            s += 1;
                            sink.error(); // non-zero padding bits
                            continue;
                        }
                    }
                    if surrogate != 0 && direct(ch) {
                        sink.push_cp(surrogate);
                    }
                    surrogate = 0;
                    if ch == b'-' {
                        s += 1;
                    }
                }
            } else if ch == b'+' {
                s += 1;
                if s < e && input[s] == b'-' {
                    s += 1;
                    sink.push_cp(u32::from(b'+'));
                } else if s < e && from_base64(input[s]).is_none() {
                    s += 1;
                    sink.error(); // ill-formed sequence
                } else {
                    in_shift = true;
                    surrogate = 0;
                    bits = 0;
                    buffer = 0;
                }
            } else if direct(ch) {
                s += 1;
                sink.push_cp(u32::from(ch));
            } else {
                s += 1;
                sink.error(); // unexpected special character
            }
        }
        if in_shift {
            in_shift = false;
            if surrogate != 0 || bits >= 6 || (bits > 0 && buffer != 0) {
                sink.error(); // unterminated shift sequence
                if s < e {
                    continue 'outer;
                }
            }
        }
        break;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UTF-16 of `s` in either byte order, without a byte-order mark.
    fn encode_utf16(s: &str, be: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
            .collect()
    }

    #[test]
    fn utf16_ascii_runs_of_every_length() {
        // ASCII runs around the 8-unit step and the 64-character push,
        // between non-ASCII characters, a pair, and an unpaired surrogate
        for run in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 130] {
            let ascii: String = (0..run)
                .map(|k| char::from(b'a' + (k % 26) as u8))
                .collect();
            for s in [
                ascii.clone(),
                format!("{ascii}\u{e9}{ascii}"),
                format!("\u{4e2d}{ascii}\u{1f600}{ascii}\u{7f}"),
            ] {
                for be in [false, true] {
                    let data = encode_utf16(&s, be);
                    assert_eq!(utf16(&data, Some(be), Errors::Strict).unwrap(), s);
                    let mut marked = if be {
                        b"\xfe\xff".to_vec()
                    } else {
                        b"\xff\xfe".to_vec()
                    };
                    marked.extend_from_slice(&data);
                    assert_eq!(utf16(&marked, None, Errors::Strict).unwrap(), s);
                    // a lone low surrogate after the run, and an odd byte
                    let mut bad = data.clone();
                    bad.extend_from_slice(&encode_utf16("x", be));
                    bad.extend_from_slice(if be { b"\xdc\x00" } else { b"\x00\xdc" });
                    bad.extend_from_slice(&data);
                    bad.push(b'z');
                    assert_eq!(
                        utf16(&bad, Some(be), Errors::Replace).unwrap(),
                        format!("{s}x\u{fffd}{s}\u{fffd}")
                    );
                }
            }
        }
    }

    #[test]
    fn utf16_and_32() {
        assert_eq!(
            utf16(b"\xff\xfeh\x00i\x00", None, Errors::Strict).unwrap(),
            "hi"
        );
        assert_eq!(
            utf16(b"\xfe\xff\x00h\x00i", None, Errors::Strict).unwrap(),
            "hi"
        );
        assert_eq!(utf16(b"h\x00i\x00", None, Errors::Strict).unwrap(), "hi");
        assert_eq!(
            utf16(b"h\x00\x00\xdci\x00", None, Errors::Replace).unwrap(),
            "h\u{fffd}i"
        );
        assert_eq!(
            utf16(b"h\x00\x00\xd8i\x00x", None, Errors::Replace).unwrap(),
            "h\u{fffd}i\u{fffd}"
        );
        assert_eq!(
            utf16(b"=\xd8\x00\xde", None, Errors::Strict).unwrap(),
            "\u{1f600}"
        );
        assert_eq!(
            utf32(b"\xff\xfe\x00\x00h\x00\x00\x00", None, Errors::Strict).unwrap(),
            "h"
        );
        assert_eq!(
            utf32(b"\x00\x00\xfe\xff\x00\x00\x00h", None, Errors::Strict).unwrap(),
            "h"
        );
        // a fixed byte order keeps the mark as U+FEFF
        assert_eq!(
            utf16(b"\xff\xfeh\x00", Some(false), Errors::Strict).unwrap(),
            "\u{feff}h"
        );
        assert_eq!(
            utf32(b"\x00\xd8\x00\x00h\x00\x00\x00\x01", None, Errors::Replace).unwrap(),
            "\u{fffd}h\u{fffd}"
        );
    }

    #[test]
    fn utf7_cases() {
        assert_eq!(
            utf7(b"Hi Mom -+Jjo--!", Errors::Strict).unwrap(),
            "Hi Mom -\u{263a}-!"
        );
        assert_eq!(utf7(b"1 +- 1", Errors::Strict).unwrap(), "1 + 1");
        assert_eq!(
            utf7(b"+ZeVnLIqe-", Errors::Strict).unwrap(),
            "\u{65e5}\u{672c}\u{8a9e}"
        );
        assert_eq!(utf7(b"a\xffb", Errors::Replace).unwrap(), "a\u{fffd}b");
        assert_eq!(utf7(b"+2D3eAA-", Errors::Strict).unwrap(), "\u{1f600}");
    }
}
