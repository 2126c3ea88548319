//! `unicode_escape` and `raw_unicode_escape` with CPython 3.11's error spans.
//!
//! Known difference: `\N{name}` needs the Unicode name database; it is
//! treated as an unknown name (an error span), which the reference only
//! does for names it does not know.

use super::{DecodeError, Errors, Sink};

fn hex(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// `codecs.unicode_escape_decode`: bytes are Latin-1, backslash escapes
/// as in Python string literals.
pub(crate) fn unicode_escape(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let mut sink = Sink::new(errors, input.len());
    let end = input.len();
    let mut s = 0;
    while s < end && !sink.failed() {
        let c = input[s];
        s += 1;
        if c != b'\\' {
            sink.push_cp(u32::from(c));
            continue;
        }
        if s >= end {
            sink.error(); // "\ at end of string"
            break;
        }
        let c = input[s];
        s += 1;
        let simple = match c {
            b'\n' => Some(None),
            b'\\' => Some(Some(b'\\')),
            b'\'' => Some(Some(b'\'')),
            b'"' => Some(Some(b'"')),
            b'b' => Some(Some(0x08)),
            b'f' => Some(Some(0x0c)),
            b't' => Some(Some(b'\t')),
            b'n' => Some(Some(b'\n')),
            b'r' => Some(Some(b'\r')),
            b'v' => Some(Some(0x0b)),
            b'a' => Some(Some(0x07)),
            _ => None,
        };
        if let Some(out) = simple {
            if let Some(o) = out {
                sink.push_cp(u32::from(o));
            }
            continue;
        }
        match c {
            b'0'..=b'7' => {
                let mut ch = u32::from(c - b'0');
                for _ in 0..2 {
                    if s < end && (b'0'..=b'7').contains(&input[s]) {
                        ch = (ch << 3) + u32::from(input[s] - b'0');
                        s += 1;
                    } else {
                        break;
                    }
                }
                sink.push_cp(ch);
            }
            b'x' | b'u' | b'U' => {
                let mut count = match c {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let mut ch: u32 = 0;
                let mut bad = false;
                while count > 0 {
                    if s >= end {
                        bad = true; // incomplete: the span runs to the end
                        break;
                    }
                    match hex(input[s]) {
                        Some(v) => ch = (ch << 4) | v,
                        None => {
                            bad = true;
                            break;
                        }
                    }
                    s += 1;
                    count -= 1;
                }
                if bad || ch > 0x10ffff {
                    sink.error();
                } else {
                    sink.push_cp(ch);
                }
            }
            b'N' => {
                // "\N{...}": without a name database every name is unknown.
                if s < end && input[s] == b'{' {
                    match input[s + 1..].iter().position(|&b| b == b'}') {
                        Some(off) => {
                            s = s + 1 + off + if off > 0 { 1 } else { 0 };
                        }
                        None => s = end,
                    }
                }
                sink.error();
            }
            other => {
                sink.push_cp(u32::from(b'\\'));
                sink.push_cp(u32::from(other));
            }
        }
    }
    sink.finish()
}

/// `codecs.raw_unicode_escape_decode`: only `\uXXXX` and `\UXXXXXXXX`
/// after an odd number of backslashes are escapes.
pub(crate) fn raw_unicode_escape(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let mut sink = Sink::new(errors, input.len());
    let end = input.len();
    let mut s = 0;
    while s < end && !sink.failed() {
        let c = input[s];
        s += 1;
        if c != b'\\' || s >= end {
            sink.push_cp(u32::from(c));
            continue;
        }
        let c = input[s];
        s += 1;
        let mut count = match c {
            b'u' => 4,
            b'U' => 8,
            _ => {
                sink.push_cp(u32::from(b'\\'));
                sink.push_cp(u32::from(c));
                continue;
            }
        };
        let mut ch: u32 = 0;
        while count > 0 && s < end {
            match hex(input[s]) {
                Some(v) => ch = (ch << 4) | v,
                None => break,
            }
            s += 1;
            count -= 1;
        }
        if count == 0 && ch <= 0x10ffff {
            sink.push_cp(ch);
        } else {
            sink.error();
        }
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            unicode_escape(b"a\\tb\\x41\\u00e9\\101\\\n\xe9", Errors::Strict).unwrap(),
            "a\tbA\u{e9}A\u{e9}"
        );
        assert_eq!(
            unicode_escape(b"x\\x4gy", Errors::Replace).unwrap(),
            "x\u{fffd}gy"
        );
        assert_eq!(
            unicode_escape(b"\\q\\", Errors::Replace).unwrap(),
            "\\q\u{fffd}"
        );
        assert_eq!(
            unicode_escape(b"\\ud800", Errors::Strict)
                .unwrap()
                .chars()
                .count(),
            1
        );
        assert_eq!(
            raw_unicode_escape(b"\\u0041\\\\u0041\\x", Errors::Strict).unwrap(),
            "A\\\\u0041\\x"
        );
        assert_eq!(
            raw_unicode_escape(b"\\u00", Errors::Replace).unwrap(),
            "\u{fffd}"
        );
    }
}
