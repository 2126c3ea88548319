//! Byte searches over 16 bytes at a time in one `u128`, without a branch
//! per byte (SWAR): where a token or a run ends depends on the data, and a
//! byte loop mispredicts once at every end.
//!
//! A mask has the high bit of each flagged byte set. The borrow of a
//! subtraction can only set false bits *above* a truly flagged byte, so
//! [`first`] — the lowest set bit — is exact.

const ONES: u128 = u128::from_le_bytes([1; 16]);
const HIGHS: u128 = u128::from_le_bytes([0x80; 16]);

/// The 16 bytes as one word (byte 0 lowest).
#[inline]
pub(crate) fn word(chunk: &[u8; 16]) -> u128 {
    u128::from_le_bytes(*chunk)
}

/// The index of the first flagged byte; 16 if none is.
#[inline]
pub(crate) fn first(mask: u128) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Whether `b` has a NUL byte, sixteen bytes at a time (for the short
/// slices of a token, where a call to `memchr` costs more than the search).
#[inline]
pub(crate) fn has_nul(b: &[u8]) -> bool {
    let (chunks, tail) = b.as_chunks::<16>();
    chunks.iter().any(|chunk| {
        let w = word(chunk);
        w.wrapping_sub(ONES) & !w & HIGHS != 0
    }) || tail.contains(&0)
}

/// The number of leading bytes of `b` below 0x80 (`high`: from 0x80
/// on), sixteen at a time.
#[inline]
pub(crate) fn run_of(b: &[u8], high: bool) -> usize {
    let flip = if high { HIGHS } else { 0 };
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        // the bytes whose high bit ends the run
        let k = first((word(chunk) ^ flip) & HIGHS);
        i += k;
        if k < 16 {
            return i;
        }
    }
    i + b[i..].iter().take_while(|&&c| (c >= 0x80) == high).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_anywhere() {
        for len in 0..40 {
            assert!(!has_nul(&vec![0x80; len]));
            assert!(!has_nul(&vec![1; len]));
            for pos in 0..len {
                for fill in [b'a', 0x80, 0xff, 1] {
                    let mut b = vec![fill; len];
                    b[pos] = 0;
                    assert!(has_nul(&b), "{b:?}");
                }
            }
        }
    }

    #[test]
    fn runs_of_ascii_and_of_high_bytes() {
        for len in 0..40 {
            for pos in 0..=len {
                for (fill, other) in [(b'a', 0x80u8), (0xffu8, 0x7f), (0, 0xc3)] {
                    let mut b = vec![fill; len];
                    if pos < len {
                        b[pos] = other;
                    }
                    for high in [false, true] {
                        let model = b.iter().take_while(|&&c| (c >= 0x80) == high).count();
                        assert_eq!(run_of(&b, high), model, "{b:?} {high}");
                    }
                }
            }
        }
    }
}
