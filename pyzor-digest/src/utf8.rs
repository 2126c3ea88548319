//! Bytes as text on the hot paths. UTF-8 text parts: `simdutf8`'s check,
//! which picks AVX2 or SSE4.2 at run time and falls back to the standard
//! library's check for inputs shorter than 64 bytes (same answer as
//! `std::str::from_utf8`, several times faster on long text). Undecoded
//! attachments, header values and ASCII runs: the ASCII check alone.

/// `bytes` as a string, if it is valid UTF-8.
#[inline]
pub(crate) fn as_str(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

/// `bytes` as a string, if every byte is ASCII: one pass over them (the
/// ASCII check), where a UTF-8 check after it would read them again.
#[inline]
#[allow(unsafe_code)]
pub(crate) fn ascii_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, so each is a one-byte UTF-8
        // sequence and the whole is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std() {
        let long_ascii = "plain text line, ".repeat(20);
        let long_utf8 = "caf\u{e9} \u{4e2d}\u{6587} \u{1f600} ".repeat(20);
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"short".to_vec(),
            long_ascii.clone().into_bytes(),
            long_utf8.clone().into_bytes(),
        ];
        // invalid sequences at the start, in the middle and at the end of
        // long inputs, and in short ones
        for bad in [
            &[0xffu8][..],
            &[0xc3],
            &[0xe4, 0xb8],
            &[0xed, 0xa0, 0x80],
            &[0x80],
        ] {
            for base in [&long_ascii, &long_utf8, &"ab".to_owned()] {
                for at in [0, base.len() / 2, base.len()] {
                    let at = (0..=at)
                        .rev()
                        .find(|&i| base.is_char_boundary(i))
                        .unwrap_or(0);
                    let mut v = base.as_bytes()[..at].to_vec();
                    v.extend_from_slice(bad);
                    v.extend_from_slice(&base.as_bytes()[at..]);
                    cases.push(v);
                }
            }
        }
        for c in &cases {
            assert_eq!(as_str(c), std::str::from_utf8(c).ok(), "{c:?}");
            let ascii = std::str::from_utf8(c).ok().filter(|s| s.is_ascii());
            assert_eq!(ascii_str(c), ascii, "{c:?}");
        }
        assert!(ascii_str(long_ascii.as_bytes()).is_some());
        assert!(ascii_str(long_utf8.as_bytes()).is_none());
        assert!(as_str(long_utf8.as_bytes()).is_some());
    }
}
