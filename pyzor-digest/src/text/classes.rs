//! Character classes of the line scan: `str.splitlines()` boundaries,
//! the `[a-z]` of the URL rule, and the byte table of the scalar scanner.

use super::*;

/// `true` for `str.splitlines()` boundaries: LF, CR, VT, FF, FS, GS, RS,
/// NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR (CR LF is one boundary).
#[inline]
pub(crate) fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// `[a-z]` under `re.IGNORECASE` for `str` patterns: ASCII letters and the
/// four code points whose case folding reaches them.
#[inline]
pub(super) fn is_url_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

pub(super) const C_WS: u8 = 1; // whitespace (ends a token)
pub(super) const C_BRK: u8 = 2; // line break (ends a line)
pub(super) const C_HIGH: u8 = 8; // a byte of a non-ASCII character

/// The scanner's byte table, from [`block::byte_class`].
pub(super) const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let (ws, brk, _, _) = block::byte_class(c);
        t[b] = if c >= 0x80 {
            C_HIGH
        } else if brk {
            C_WS | C_BRK
        } else if ws {
            C_WS
        } else {
            0
        };
        b += 1;
    }
    t
}

/// Byte classes of the scalar scanner: whitespace, line break, or a byte
/// of a non-ASCII character.
pub(super) static CLASS: [u8; 256] = classes();

/// (length, classes) of the non-ASCII character at byte `i`. Only a few
/// lead bytes can start whitespace or a line break; every other character
/// is skipped by its length alone.
#[inline]
pub(super) fn classify_high(payload: &str, i: usize) -> (usize, u8) {
    let lead = payload.as_bytes()[i];
    let len = match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1, // not a lead byte (cannot happen in a str)
    };
    if !matches!(lead, 0xc2 | 0xe1 | 0xe2 | 0xe3) {
        return (len, 0);
    }
    let c = payload[i..].chars().next().unwrap_or('\u{fffd}');
    let k = if is_line_break(c) {
        C_WS | C_BRK
    } else if is_py_whitespace(c) {
        C_WS
    } else {
        0
    };
    (len, k)
}
