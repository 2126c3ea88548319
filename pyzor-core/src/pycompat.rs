//! Small pieces of CPython semantics that the Pyzor protocol leaks onto the wire:
//! `str.isspace()`, `str.strip()`, `int()`, `float()` and `repr()` of a string.
//!
//! They live here, in one place, because the codec, the signature check, the
//! file parsers and the CLI output all need the exact Python behaviour.

use std::fmt::Write as _;

/// `true` for exactly the code points CPython's `str.isspace()` (and the `\s`
/// class of `re` for `str` patterns) accepts: U+0009–U+000D, U+001C–U+001F,
/// U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
/// U+205F and U+3000.
///
/// This differs from [`char::is_whitespace`], which lacks U+001C–U+001F.
#[inline]
pub fn is_py_whitespace(c: char) -> bool {
    match c {
        '\u{9}'..='\u{d}' | '\u{1c}'..='\u{20}' => true,
        c if (c as u32) < 0x85 => false,
        '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' => true,
        '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => true,
        _ => false,
    }
}

/// Python's `str.strip()` with no argument.
pub fn py_strip(s: &str) -> &str {
    // ASCII whitespace byte by byte; the character-wise trim only when a
    // non-ASCII character is left at either end (it may be whitespace)
    let ascii_ws = |b: u8| matches!(b, 0x09..=0x0d | 0x1c..=0x20);
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !ascii_ws(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !ascii_ws(c))
        .map_or(start, |e| e + 1);
    let t = &s[start..end];
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if f >= 0x80 || l >= 0x80 => t.trim_matches(is_py_whitespace),
        _ => t,
    }
}

/// Python's `repr()` of a `str`: single quotes unless the text contains `'`
/// and no `"`, backslash escapes for `\\`, the quote, `\t`, `\n`, `\r`, other
/// non-printable characters as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
///
/// Used for the `(code, 'diag')` tuples the `pyzor` CLI prints and for the
/// `invalid literal` messages the server copies from Python.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_py_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// An approximation of CPython's `str.isprintable()` for single characters:
/// ASCII controls, DEL, C1 controls, unassigned-ish format and separator
/// characters are not printable; everything else is.
fn is_py_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return false;
    }
    if c == ' ' {
        return true;
    }
    // Zs/Zl/Zp other than the ASCII space, and the common Cf (format) code points.
    if is_py_whitespace(c) {
        return false;
    }
    !matches!(
        u,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x206f
            | 0xd800..=0xdfff
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xe0000..=0xe0fff
            | 0xf0000..
    )
}

/// Why a string is not a Python `int()` literal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid literal for int() with base 10: {}", py_repr_str(.0))]
pub struct PyIntError(pub String);

/// Python's `int(s)` for base 10: surrounding whitespace, one sign, ASCII digits
/// with single underscores between them. Values outside `i64` saturate (the
/// protocol only compares them against a 300 s window, where a saturated value
/// behaves like the huge one).
pub fn py_int(s: &str) -> Result<i64, PyIntError> {
    let err = || PyIntError(s.to_owned());
    let t = py_strip(s);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return Err(err());
    }
    let mut value: i64 = 0;
    let mut prev_underscore = false;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => {
                let d = i64::from(b - b'0');
                value = value
                    .saturating_mul(10)
                    .saturating_add(if neg { -d } else { d });
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return Err(err()),
        }
    }
    Ok(value)
}

/// Python's `float(s)`: surrounding whitespace, `inf`/`infinity`/`nan` in any
/// case with an optional sign, decimal literals with exponents, and single
/// underscores between digits. Returns `None` where Python raises `ValueError`.
pub fn py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    if t.is_empty() {
        return None;
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if ["inf", "infinity", "nan"]
        .iter()
        .any(|w| body.eq_ignore_ascii_case(w))
    {
        return t.parse::<f64>().ok();
    }
    // Underscores are only allowed between two digits. Nothing is
    // allocated unless there are some (a server parses one float per
    // request: the protocol version).
    let bytes = t.as_bytes();
    let mut underscores = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'_' => {
                let before = i > 0 && bytes[i - 1].is_ascii_digit();
                let after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                if !(before && after) {
                    return None;
                }
                underscores = true;
            }
            b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-' => {}
            _ => return None,
        }
    }
    if underscores {
        t.replace('_', "").parse::<f64>().ok()
    } else {
        t.parse::<f64>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn strip_is_a_trim_of_python_whitespace(
            s in proptest::string::string_regex("[ \t\n\u{1c}\u{1f}\u{85}\u{a0}\u{3000}a\u{e9}\u{4e2d}:]{0,12}").unwrap()
        ) {
            proptest::prop_assert_eq!(py_strip(&s), s.trim_matches(is_py_whitespace));
        }
    }

    #[test]
    fn whitespace_set_matches_python() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', ' ', '\u{85}',
        ] {
            assert!(is_py_whitespace(c), "{c:?}");
        }
        for c in [
            '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{2028}', '\u{3000}',
        ] {
            assert!(is_py_whitespace(c), "{c:?}");
        }
        for c in [
            'a', '\u{0}', '\u{8}', '\u{200b}', '\u{feff}', '\u{7f}', '\u{180e}',
        ] {
            assert!(!is_py_whitespace(c), "{c:?}");
        }
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr_str("OK"), "'OK'");
        assert_eq!(
            py_repr_str("doesn't have fields for a Response"),
            "\"doesn't have fields for a Response\""
        );
        assert_eq!(py_repr_str("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(py_repr_str("a\tb\n\\"), "'a\\tb\\n\\\\'");
        assert_eq!(py_repr_str("\u{1}\u{7f}\u{85}é"), "'\\x01\\x7f\\x85é'");
        assert_eq!(py_repr_str("\u{200b}"), "'\\u200b'");
    }

    #[test]
    fn int_like_python() {
        assert_eq!(py_int(" 12 "), Ok(12));
        assert_eq!(py_int("+7"), Ok(7));
        assert_eq!(py_int("-1_000"), Ok(-1000));
        assert_eq!(py_int("99999999999999999999999"), Ok(i64::MAX));
        assert!(py_int("").is_err());
        assert!(py_int("1__0").is_err());
        assert!(py_int("_1").is_err());
        assert!(py_int("0x10").is_err());
        assert_eq!(
            py_int("xyz").unwrap_err().to_string(),
            "invalid literal for int() with base 10: 'xyz'"
        );
    }

    #[test]
    fn float_like_python() {
        assert_eq!(py_float("2.1"), Some(2.1));
        assert_eq!(py_float(" 2.1"), Some(2.1));
        assert_eq!(py_float("2.1e0"), Some(2.1));
        assert_eq!(py_float("2_0.5"), Some(20.5));
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("5."), Some(5.0));
        assert!(py_float("inf").unwrap().is_infinite());
        assert!(py_float("-Infinity").unwrap().is_infinite());
        assert!(py_float("NaN").unwrap().is_nan());
        assert_eq!(py_float("2._1"), None);
        assert_eq!(py_float("abc"), None);
        assert_eq!(py_float(""), None);
        assert_eq!(py_float("0x2"), None);
    }
}
