//! The byte classes of a 64-byte block as bit masks (bit `i` for byte
//! `i`), for the line scanner: where tokens start and end, where lines
//! break, and which bytes a token rule must look at, found for 64 bytes at
//! once so that a token costs a few bit operations and no branch per byte.
//!
//! On x86-64 the masks come from SSE2 compares (part of the x86-64
//! baseline), called through `safe_arch`'s safe wrappers; elsewhere from
//! a table lookup per byte. The two are checked against each other on
//! every byte value at every position.

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// The classes of one block's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Masks {
    /// ASCII whitespace (`str.isspace()`): TAB, LF, VT, FF, CR, FS, GS,
    /// RS, US and space.
    pub(crate) ws: u64,
    /// ASCII line breaks (`str.splitlines()`): LF, VT, FF, CR, FS, GS, RS.
    pub(crate) brk: u64,
    /// Bytes a token rule must look at: NUL, `:`, `@` and every byte from
    /// 0x80 on (a non-ASCII character counts as one code point for several
    /// bytes).
    pub(crate) special: u64,
    /// The lead bytes of the only characters that may be non-ASCII
    /// whitespace or line breaks (0xC2: U+0085, U+00A0; 0xE1: U+1680;
    /// 0xE2: U+2000 to U+205F; 0xE3: U+3000): a token without them is a
    /// whole token.
    pub(crate) lead: u64,
}

/// The classes of one byte: whitespace, line break, special, lead (the
/// fields of [`Masks`]). The one definition of these sets: the SIMD
/// version is checked against it and the scanner's byte table is built
/// from it.
pub(crate) const fn byte_class(c: u8) -> (bool, bool, bool, bool) {
    let brk = matches!(c, b'\n' | b'\r' | 0x0b | 0x0c | 0x1c | 0x1d | 0x1e);
    let ws = brk || matches!(c, b'\t' | 0x1f | b' ');
    let special = matches!(c, 0 | b':' | b'@') || c >= 0x80;
    let lead = matches!(c, 0xc2 | 0xe1 | 0xe2 | 0xe3);
    (ws, brk, special, lead)
}

/// The masks of `block`, one byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn masks_scalar(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        ws: 0,
        brk: 0,
        special: 0,
        lead: 0,
    };
    for (i, &c) in block.iter().enumerate() {
        let (ws, brk, special, lead) = byte_class(c);
        m.ws |= u64::from(ws) << i;
        m.brk |= u64::from(brk) << i;
        m.special |= u64::from(special) << i;
        m.lead |= u64::from(lead) << i;
    }
    m
}

/// SSE2 lane tests, through `safe_arch`'s safe wrappers.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i, m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, sub_i8_m128i,
    };

    fn splat(c: u8) -> m128i {
        set_splat_i8_m128i(c as i8)
    }

    /// Lanes in `lo..lo + len` (unsigned), in two instructions: lane - lo
    /// below len unsigned is lane - lo + 0x80 below len - 0x80 signed, and
    /// SSE2 compares bytes signed.
    #[inline(always)]
    pub(super) fn in_range(v: m128i, lo: u8, len: u8) -> m128i {
        let shifted = sub_i8_m128i(v, splat(lo.wrapping_sub(0x80)));
        cmp_gt_mask_i8_m128i(splat(len.wrapping_sub(0x80)), shifted)
    }

    #[inline(always)]
    pub(super) fn eq(v: m128i, c: u8) -> m128i {
        cmp_eq_mask_i8_m128i(v, splat(c))
    }

    /// ASCII whitespace lanes: TAB..CR, FS..space.
    #[inline(always)]
    pub(super) fn ws(v: m128i) -> m128i {
        bitor_m128i(in_range(v, 0x09, 5), in_range(v, 0x1c, 5))
    }

    /// The bits of a 16-lane mask (or of the lanes' high bits).
    #[inline(always)]
    pub(super) fn bits(v: m128i) -> u64 {
        u64::from(move_mask_i8_m128i(v) as u16)
    }
}

/// The masks of `block`, sixteen bytes per SSE2 compare.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks_sse2(block: &[u8; BLOCK]) -> Masks {
    use safe_arch::{bitor_m128i, load_unaligned_m128i};
    use sse2::{bits, eq, in_range};
    let mut m = Masks {
        ws: 0,
        brk: 0,
        special: 0,
        lead: 0,
    };
    let mut high = 0;
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(chunk);
        // LF..CR, FS..RS
        let brk = bitor_m128i(in_range(v, 0x0a, 4), in_range(v, 0x1c, 3));
        let special = bitor_m128i(bitor_m128i(eq(v, 0), eq(v, b':')), eq(v, b'@'));
        let shift = 16 * k;
        m.ws |= bits(sse2::ws(v)) << shift;
        m.brk |= bits(brk) << shift;
        m.special |= bits(special) << shift;
        // the high bit of a lane is the byte's own high bit
        high |= bits(v) << shift;
    }
    if high != 0 {
        m.special |= high;
        m.lead = leads(block);
    }
    m
}

/// [`Masks::lead`] of `block` (not inlined: only blocks with non-ASCII
/// bytes need it).
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn leads(block: &[u8; BLOCK]) -> u64 {
    use safe_arch::{bitor_m128i, load_unaligned_m128i};
    use sse2::{bits, eq, in_range};
    let mut lead = 0;
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(chunk);
        lead |= bits(bitor_m128i(eq(v, 0xc2), in_range(v, 0xe1, 3))) << (16 * k);
    }
    lead
}

/// The block masks with AVX2, 32 bytes per compare, for the line
/// scanner's AVX2 build ([`crate::text::collect_lines`] picks it at run
/// time). Same sets and same results as [`masks`]; the tests check both
/// against [`byte_class`] on every byte at every position.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set_m128i, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_sub_epi8,
    };

    use super::{BLOCK, Masks};

    /// Whether this CPU has what the AVX2 build needs: AVX2, and the bit
    /// instructions (BMI1, BMI2, LZCNT, POPCNT) that build may use for the
    /// mask arithmetic. Detected once; the answer is kept in one flag
    /// (each payload asks, and one flag is cheaper than five cached
    /// feature tests).
    #[inline]
    pub(crate) fn available() -> bool {
        static AVAILABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
            std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
                && std::is_x86_feature_detected!("lzcnt")
                && std::is_x86_feature_detected!("popcnt")
        });
        *AVAILABLE
    }

    /// 32 bytes as one vector (two safe SSE2 loads, which the compiler
    /// merges into one 32-byte load).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn load(bytes: &[u8; 32]) -> __m256i {
        let [lo, hi] = bytes.as_chunks::<16>().0 else {
            unreachable!("32 bytes are two 16-byte halves")
        };
        _mm256_set_m128i(
            safe_arch::load_unaligned_m128i(hi).0,
            safe_arch::load_unaligned_m128i(lo).0,
        )
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn splat(c: u8) -> __m256i {
        _mm256_set1_epi8(c as i8)
    }

    /// Lanes in `lo..lo + len` (unsigned), as in the SSE2 version.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn in_range(v: __m256i, lo: u8, len: u8) -> __m256i {
        let shifted = _mm256_sub_epi8(v, splat(lo.wrapping_sub(0x80)));
        _mm256_cmpgt_epi8(splat(len.wrapping_sub(0x80)), shifted)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn eq(v: __m256i, c: u8) -> __m256i {
        _mm256_cmpeq_epi8(v, splat(c))
    }

    /// The bits of a 32-lane mask (or of the lanes' high bits).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn bits(v: __m256i) -> u64 {
        u64::from(_mm256_movemask_epi8(v) as u32)
    }

    /// The masks of `block` (see [`Masks`]).
    ///
    /// The bytes from 0x80 on are folded into `special` before the bits
    /// are taken (or-ing their bits in afterwards, as the SSE2 version
    /// does, makes LLVM rebuild the lanes one byte at a time).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn masks(block: &[u8; BLOCK]) -> Masks {
        let [lo, hi] = block.as_chunks::<32>().0 else {
            unreachable!("64 bytes are two 32-byte halves")
        };
        let (lo, hi) = (load(lo), load(hi));
        let ws = |v| _mm256_or_si256(in_range(v, 0x09, 5), in_range(v, 0x1c, 5));
        let brk = |v| _mm256_or_si256(in_range(v, 0x0a, 4), in_range(v, 0x1c, 3));
        let special = |v| {
            let named = _mm256_or_si256(_mm256_or_si256(eq(v, 0), eq(v, b':')), eq(v, b'@'));
            _mm256_or_si256(named, _mm256_cmpgt_epi8(_mm256_setzero_si256(), v))
        };
        let join = |lo, hi| bits(lo) | bits(hi) << 32;
        // The barrier keeps LLVM from carrying the caller's bit arithmetic
        // (shifts and tests of the masks) back into the vector lanes, where
        // it becomes byte-by-byte shuffles.
        std::hint::black_box(Masks {
            ws: join(ws(lo), ws(hi)),
            brk: join(brk(lo), brk(hi)),
            special: join(special(lo), special(hi)),
            // (the SSE2 search, out of line: only blocks with non-ASCII
            // bytes need it)
            lead: if bits(_mm256_or_si256(lo, hi)) != 0 {
                super::leads(block)
            } else {
                0
            },
        })
    }
}

/// The masks of `block`.
#[inline]
pub(crate) fn masks(block: &[u8; BLOCK]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        masks_sse2(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        masks_scalar(block)
    }
}

/// The bits of the ASCII whitespace bytes of a 16-byte chunk.
#[inline(always)]
fn ws16(chunk: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::bits(sse2::ws(safe_arch::load_unaligned_m128i(chunk))) as u32
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        mask_scalar(chunk, |c| byte_class(c).0) as u32
    }
}

/// The bytes equal to `c` in `block`.
#[inline(always)]
pub(crate) fn eq_mask(block: &[u8; BLOCK], c: u8) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut m = 0;
        for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
            let v = safe_arch::load_unaligned_m128i(chunk);
            m |= sse2::bits(sse2::eq(v, c)) << (16 * k);
        }
        m
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        mask_scalar(block, |b| b == c)
    }
}

/// The index of the first CR or LF of `b`: the first 64 bytes by one
/// block mask, the rest by `memchr2`. For the lines of a header block
/// (some 50 bytes each), where the call and set-up of `memchr2` cost more
/// than the search. (Both bytes are tested on each 16-byte load: two
/// [`eq_mask`]s would load the block twice.)
#[inline(always)]
pub(crate) fn find_line_break(b: &[u8]) -> Option<usize> {
    if let Some(block) = b.first_chunk::<BLOCK>() {
        #[cfg(target_arch = "x86_64")]
        let m = {
            let mut m = 0;
            for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
                let v = safe_arch::load_unaligned_m128i(chunk);
                let breaks = safe_arch::bitor_m128i(sse2::eq(v, b'\n'), sse2::eq(v, b'\r'));
                m |= sse2::bits(breaks) << (16 * k);
            }
            m
        };
        #[cfg(not(target_arch = "x86_64"))]
        let m = mask_scalar(block, |c| c == b'\n' || c == b'\r');
        if m != 0 {
            return Some(m.trailing_zeros() as usize);
        }
        return memchr::memchr2(b'\n', b'\r', &b[BLOCK..]).map(|k| k + BLOCK);
    }
    memchr::memchr2(b'\n', b'\r', b)
}

/// The bits of the bytes of `chunk` (at most 64) for which `pred` holds,
/// one byte at a time: the searches' fallback off x86-64, and their model
/// in the tests.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn mask_scalar<const N: usize>(chunk: &[u8; N], pred: impl Fn(u8) -> bool) -> u64 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (k, &c)| m | u64::from(pred(c)) << k)
}

/// `:` or not printable ASCII (outside 0x21..=0x7E): where a header name
/// ends.
fn header_stop(c: u8) -> bool {
    c == b':' || !(0x21..=0x7e).contains(&c)
}

/// [`header_stop`] over a 16-byte chunk, as a bit mask.
#[inline(always)]
fn header_stops16(chunk: &[u8; 16]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let v = safe_arch::load_unaligned_m128i(chunk);
        sse2::bits(sse2::eq(v, b':')) | (!sse2::bits(sse2::in_range(v, 0x21, 0x5e)) & 0xffff)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        mask_scalar(chunk, header_stop)
    }
}

/// The index of the first byte of `b` that is `:` or not printable ASCII
/// (outside 0x21..=0x7E), sixteen bytes at a time: where a header name
/// ends. `None` if there is none.
pub(crate) fn find_colon_or_unprintable(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let m = header_stops16(chunk);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    b[i..].iter().position(|&c| header_stop(c)).map(|k| i + k)
}

/// The index of the first byte of `b` equal to `c`: the first sixteen
/// bytes by one compare in line, the rest by `memchr`. For the short
/// distances of HTML (an attribute's closing quote, the next tag), where
/// the call and set-up of `memchr` cost more than the search.
#[inline]
pub(crate) fn find_byte(c: u8, b: &[u8]) -> Option<usize> {
    if let Some(chunk) = b.first_chunk::<16>() {
        #[cfg(target_arch = "x86_64")]
        let m = sse2::bits(sse2::eq(safe_arch::load_unaligned_m128i(chunk), c));
        #[cfg(not(target_arch = "x86_64"))]
        let m = mask_scalar(chunk, |x| x == c);
        if m != 0 {
            return Some(m.trailing_zeros() as usize);
        }
        return memchr::memchr(c, &b[16..]).map(|k| k + 16);
    }
    memchr::memchr(c, b)
}

/// The number of leading bytes of `b` that are ASCII graphic characters or
/// DEL (0x21..=0x7F), 32 at a time.
#[inline(always)]
pub(crate) fn graphic_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<32>) {
        #[cfg(target_arch = "x86_64")]
        let stops = {
            let [lo, hi] = chunk.as_chunks::<16>().0 else {
                unreachable!("32 bytes are two 16-byte halves")
            };
            // graphic lanes: above 0x20 as signed bytes (0x80 and up are
            // negative)
            let graphic = |h: &[u8; 16]| {
                let v = safe_arch::load_unaligned_m128i(h);
                sse2::bits(safe_arch::cmp_gt_mask_i8_m128i(
                    v,
                    safe_arch::set_splat_i8_m128i(0x20),
                ))
            };
            !(graphic(lo) | graphic(hi) << 16) & 0xffff_ffff
        };
        #[cfg(not(target_arch = "x86_64"))]
        let stops = mask_scalar(chunk, |c| !(0x21..=0x7f).contains(&c));
        if stops != 0 {
            return i + stops.trailing_zeros() as usize;
        }
        i += 32;
    }
    i + b[i..]
        .iter()
        .take_while(|&&c| (0x21..=0x7f).contains(&c))
        .count()
}

/// The number of leading ASCII whitespace bytes of `b` (the ASCII part
/// of `str.isspace()`), sixteen at a time.
pub(crate) fn ws_prefix(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let run = ws16(chunk).trailing_ones() as usize;
        i += run;
        if run < 16 {
            return i;
        }
    }
    i + b[i..].iter().take_while(|&&c| byte_class(c).0).count()
}

/// The number of trailing ASCII whitespace bytes of `b`.
pub(crate) fn ws_suffix(b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(chunk) = b[..b.len() - n].last_chunk::<16>() {
        let run = (ws16(chunk) << 16).leading_ones() as usize;
        n += run;
        if run < 16 {
            return n;
        }
    }
    n + b[..b.len() - n]
        .iter()
        .rev()
        .take_while(|&&c| byte_class(c).0)
        .count()
}

/// Bits `0..k` set (`k` < 64).
#[inline]
pub(crate) fn below(k: u32) -> u64 {
    (1u64 << k) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_classes() {
        let m = masks_scalar(&[b'a'; BLOCK]);
        assert_eq!((m.ws, m.brk, m.special, m.lead), (0, 0, 0, 0));
        let mut block = [b'a'; BLOCK];
        block[..10].copy_from_slice(b" \t\n:@\0\x80\x1f\xe2\xe4");
        let m = masks_scalar(&block);
        assert_eq!(m.ws, 0b00_1000_0111);
        assert_eq!(m.brk, 0b00_0000_0100);
        assert_eq!(m.special, 0b11_0111_1000);
        assert_eq!(m.lead, 0b01_0000_0000);
        assert_eq!(below(0), 0);
        assert_eq!(below(3), 0b111);
        assert_eq!(below(63), u64::MAX >> 1);
    }

    #[test]
    fn searches_match_the_byte_model_on_every_byte_at_every_position() {
        for pos in 0..16 {
            for v in 0..=255u8 {
                for fill in [b'a', b':', 0x80] {
                    let mut chunk = [fill; 16];
                    chunk[pos] = v;
                    assert_eq!(header_stops16(&chunk), mask_scalar(&chunk, header_stop));
                    let ws = mask_scalar(&chunk, |c| byte_class(c).0);
                    assert_eq!(u64::from(ws16(&chunk)), ws);
                    let mut block = [fill; BLOCK];
                    block[pos * 4] = v;
                    for c in [b'=', v, fill] {
                        assert_eq!(eq_mask(&block, c), mask_scalar(&block, |b| b == c));
                    }
                    // the first 16 bytes in line, then memchr, on slices of
                    // every length around the edge
                    let mut bytes = [fill; 40];
                    bytes[pos] = v;
                    bytes[pos + 17] = v;
                    for len in 0..=bytes.len() {
                        let b = &bytes[..len];
                        for c in [v, fill, b'<'] {
                            assert_eq!(find_byte(c, b), b.iter().position(|&x| x == c));
                        }
                        let graphic = b.iter().take_while(|&&c| (0x21..=0x7f).contains(&c));
                        assert_eq!(graphic_run(b), graphic.count());
                    }
                }
            }
        }
    }

    #[test]
    fn line_breaks_match_memchr2_at_every_position_and_length() {
        // a break in the first block, past it, or none; every length
        // around the block's edge
        for fill in [b'a', b'\t', 0x8d, 0x0a ^ 0x80] {
            for first in (0..140).chain([usize::MAX]) {
                for brk in [b'\n', b'\r'] {
                    let mut bytes = [fill; 140];
                    if first < bytes.len() {
                        bytes[first] = brk;
                    }
                    for len in [0, 1, 15, 16, 63, 64, 65, 100, 140] {
                        let b = &bytes[..len];
                        assert_eq!(
                            find_line_break(b),
                            memchr::memchr2(b'\n', b'\r', b),
                            "{fill:#x} {first} {len}"
                        );
                    }
                }
            }
        }
    }

    /// The AVX2 masks, in a context with AVX2 (see [`avx2_masks`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn avx2_masks_checked(block: &[u8; BLOCK]) -> Masks {
        avx2::masks(block)
    }

    /// The AVX2 masks; the caller checks [`avx2::available`].
    #[cfg(target_arch = "x86_64")]
    fn avx2_masks(block: &[u8; BLOCK]) -> Masks {
        assert!(avx2::available());
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2 (asserted just above).
        unsafe {
            avx2_masks_checked(block)
        }
    }

    #[test]
    fn every_byte_at_every_position_both_ways() {
        #[cfg(target_arch = "x86_64")]
        if !avx2::available() {
            eprintln!("this CPU has no AVX2: only the SSE2 and scalar masks are checked");
        }
        for pos in 0..BLOCK {
            for v in 0..=255u8 {
                for fill in [b'a', b' ', 0xe3] {
                    let mut block = [fill; BLOCK];
                    block[pos] = v;
                    let m = masks(&block);
                    assert_eq!(m, masks_scalar(&block), "{v:#x} at {pos} in {fill:#x}");
                    #[cfg(target_arch = "x86_64")]
                    if avx2::available() {
                        assert_eq!(avx2_masks(&block), m, "AVX2: {v:#x} at {pos} in {fill:#x}");
                    }
                    let (ws, brk, special, lead) = byte_class(v);
                    assert_eq!(m.ws >> pos & 1 == 1, ws);
                    assert_eq!(m.brk >> pos & 1 == 1, brk);
                    assert_eq!(m.special >> pos & 1 == 1, special);
                    assert_eq!(m.lead >> pos & 1 == 1, lead);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn header_name_end(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"aZ-:~ \x7f\x20\x21\x7e\x80\xba\t".to_vec()),
                0..60,
            )
        ) {
            proptest::prop_assert_eq!(
                find_colon_or_unprintable(&bytes),
                bytes.iter().position(|&c| c == b':' || !(0x21..=0x7e).contains(&c))
            );
        }

        #[test]
        fn whitespace_runs_at_both_ends(
            bytes in proptest::collection::vec(
                proptest::sample::select(b" \t\n\r\x0b\x0c\x1c\x1f\x08\x0ea\x85\xa0".to_vec()),
                0..80,
            )
        ) {
            let ws = |c: &u8| byte_class(*c).0;
            let prefix = bytes.iter().take_while(|c| ws(c)).count();
            let suffix = bytes.iter().rev().take_while(|c| ws(c)).count();
            proptest::prop_assert_eq!(ws_prefix(&bytes), prefix);
            proptest::prop_assert_eq!(ws_suffix(&bytes), suffix);
        }

        #[test]
        fn simd_matches_scalar(bytes in proptest::collection::vec(proptest::num::u8::ANY, BLOCK)) {
            let block: [u8; BLOCK] = bytes.try_into().unwrap();
            proptest::prop_assert_eq!(masks(&block), masks_scalar(&block));
            #[cfg(target_arch = "x86_64")]
            if avx2::available() {
                proptest::prop_assert_eq!(avx2_masks(&block), masks_scalar(&block));
            }
        }
    }
}
