//! Python's `str.strip()` as the digest uses it: on HTML text (long runs
//! of blanks) and on header parameters.

use crate::block::{self, byte_class};

/// Python's `str.strip()` ([`pyzor_core::pycompat::py_strip`], which gives
/// the same result) for long text: ASCII whitespace sixteen bytes at a time from
/// both ends, and U+00A0 NO-BREAK SPACE (HTML's `&nbsp;`, the one
/// non-ASCII blank frequent in mail) by its two bytes; the character-wise
/// strip only when another non-ASCII character is left at an end (it may
/// be whitespace).
pub(crate) fn py_strip(s: &str) -> &str {
    const NBSP: &[u8] = "\u{a0}".as_bytes();
    let ws = |c: u8| byte_class(c).0;
    let b = s.as_bytes();
    let mut start = block::ws_prefix(b);
    if b[start..].starts_with(NBSP) {
        // a run of blanks with no-break spaces: byte by byte
        loop {
            match b[start..] {
                [0xc2, 0xa0, ..] => start += 2,
                [c, ..] if ws(c) => start += 1,
                _ => break,
            }
        }
    }
    let mut end = b.len() - block::ws_suffix(&b[start..]);
    if b[start..end].ends_with(NBSP) {
        loop {
            match b[start..end] {
                [.., 0xc2, 0xa0] => end -= 2,
                [.., c] if ws(c) => end -= 1,
                _ => break,
            }
        }
    }
    let t = &s[start..end];
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if f >= 0x80 || l >= 0x80 => pyzor_core::pycompat::py_strip(t),
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn strip_is_python_strip(
            s in proptest::string::string_regex("[ \t\n\u{1c}\u{85}\u{a0}\u{3000}a\u{e9}]{0,40}").unwrap()
        ) {
            proptest::prop_assert_eq!(py_strip(&s), pyzor_core::pycompat::py_strip(&s));
        }
    }
}
