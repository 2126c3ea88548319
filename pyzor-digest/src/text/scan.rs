//! The block scanner: a payload cut into lines and tokens 64 bytes at a
//! time from the bit masks of [`block::masks`], built for the baseline and
//! for AVX2.

use super::*;

/// The end of the token that starts at byte `j` (the next whitespace or
/// the end of the payload), and whether it is plain (ASCII without NULs).
/// Long runs of graphic ASCII are skipped 32 bytes at a time
/// ([`block::graphic_run`]).
pub(super) fn token_end(payload: &str, mut j: usize) -> (usize, bool) {
    let b = payload.as_bytes();
    let n = b.len();
    let mut plain = true;
    loop {
        j += block::graphic_run(&b[j..]);
        if j >= n {
            break;
        }
        let c = b[j];
        if c < 0x80 {
            if CLASS[usize::from(c)] & C_WS != 0 {
                break;
            }
            plain &= c != 0;
            j += 1;
        } else {
            let (len, k) = classify_high(payload, j);
            if k & C_WS != 0 {
                break;
            }
            plain = false;
            j += len;
        }
    }
    (j, plain)
}

/// Normalises every line of `payload` and gives those of at least 8 code
/// points to `out` (their text for [`Lines`], where they are for
/// [`Spans`]). `surrogates`: the payload may hold lone-surrogate
/// stand-ins, to be dropped from kept lines.
///
/// The payload is cut into ASCII tokens — runs between ASCII whitespace —
/// 64 bytes at a time from the bit masks of [`block::masks`]: token starts
/// and ends are the edges of the whitespace mask, so a token costs a few
/// bit operations wherever it ends. A token without special bytes (NUL,
/// `:`, `@`, non-ASCII) is one code point per byte: kept whole (one
/// fixed-size move) below ten bytes, dropped from ten on. A token with a
/// special byte goes to [`push_token`], which applies the rules — or, if
/// it has a byte that may start non-ASCII whitespace or a line break
/// (0xC2, 0xE1, 0xE2, 0xE3: rare outside CJK punctuation and typographic
/// quotes), to [`scan_scalar`], which also splits it there. A line ends before the
/// first token that follows an ASCII line break (the empty lines between
/// several breaks are never kept, so one end is enough).
///
/// For [`Spans`], a line is kept as soon as it holds 8 code points: the
/// scanner then jumps to the line's end ([`next_break`]) instead of
/// walking its other tokens.
///
/// The loop is built twice: for the x86-64 baseline (SSE2 masks) and, on
/// x86-64 CPUs that have them, with AVX2 and the BMI bit instructions
/// (AVX2 masks, and shorter code for the bit arithmetic of every token),
/// picked at run time. The two builds give the same lines; the tests
/// check it.
pub(crate) fn collect_lines<S: Sink>(payload: &str, surrogates: bool, out: &mut S) {
    #[cfg(target_arch = "x86_64")]
    if block::avx2::available() {
        #[allow(unsafe_code)]
        // SAFETY: `collect_lines_avx2` needs AVX2, BMI1, BMI2, LZCNT and
        // POPCNT, which `available` has just found on this CPU.
        unsafe {
            collect_lines_avx2(payload, surrogates, out);
        }
        return;
    }
    collect_lines_with(payload, surrogates, out, block::masks);
}

/// [`collect_lines`] built for AVX2 (the caller checks the CPU).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
pub(super) fn collect_lines_avx2<S: Sink>(payload: &str, surrogates: bool, out: &mut S) {
    collect_lines_with(payload, surrogates, out, |b| block::avx2::masks(b));
}

/// [`collect_lines`] built for the baseline, whatever the CPU (for the
/// tests that compare the two builds).
#[cfg(test)]
pub(super) fn collect_lines_baseline<S: Sink>(payload: &str, surrogates: bool, out: &mut S) {
    collect_lines_with(payload, surrogates, out, block::masks);
}

/// The masks of the 64 bytes of `b` from `base`; past its end, spaces:
/// they end the last token at the end of the payload and break no line.
#[inline(always)]
pub(super) fn window(
    b: &[u8],
    base: usize,
    masks: &impl Fn(&[u8; block::BLOCK]) -> block::Masks,
) -> block::Masks {
    match b[base..].first_chunk::<{ block::BLOCK }>() {
        Some(chunk) => masks(chunk),
        None => {
            let mut tail = [b' '; block::BLOCK];
            tail[..b.len() - base].copy_from_slice(&b[base..]);
            masks(&tail)
        }
    }
}

/// The body of [`collect_lines`], with the block classifier `masks`;
/// always inlined, so that each caller compiles it for its own target
/// features.
#[inline(always)]
pub(super) fn collect_lines_with<S: Sink>(
    payload: &str,
    surrogates: bool,
    out: &mut S,
    masks: impl Fn(&[u8; block::BLOCK]) -> block::Masks,
) {
    let b = payload.as_bytes();
    let n = b.len();
    let mut line_start = out.line_start(0);
    let mut line_chars = 0usize;
    // the token open across a block edge: its start and whether it has a
    // special byte and a whitespace lead byte so far
    let mut open: Option<(usize, bool, bool)> = None;
    // a line break since the last token ended
    let mut brk_pending = false;
    // whether the byte before the block is a token byte
    let mut carry = 0u64;
    // (spans only) no jump to a line's end before this byte: a non-ASCII
    // line break comes first
    let mut hold = 0usize;
    let mut base = 0;
    // one more block at the end when a token is open there
    'blocks: while base < n || open.is_some() {
        let m = window(b, base, &masks);
        let token = !m.ws;
        let prev = token << 1 | carry;
        carry = token >> 63;
        let mut starts = token & !prev;
        let mut ends = !token & prev;
        // breaks from this bit on are after the last token end
        let mut after = 0u32;
        if let Some((s, special, lead)) = open {
            if ends == 0 {
                // the token goes on through the whole block
                open = Some((s, special || m.special != 0, lead || m.lead != 0));
                base += block::BLOCK;
                continue;
            }
            let e = ends.trailing_zeros();
            ends &= ends - 1;
            let special = special || m.special & block::below(e) != 0;
            let lead = lead || m.lead & block::below(e) != 0;
            close_token(
                payload,
                (s, base + e as usize),
                (special, lead),
                (&mut line_start, &mut line_chars),
                surrogates,
                out,
            );
            open = None;
            after = e;
            // (a token across a block edge: how lines of attachments
            // start, see `long_token_lines`)
            let long = !special && base + e as usize - s >= ATTACHMENT_LINE;
            match skip::<S>(b, (base, &m, e), (line_chars, long), &mut hold, &masks) {
                Some(Ok(k)) => (starts, ends) = (starts & k, ends & k),
                Some(Err(next)) => {
                    // after a line break: no token goes on into `next`
                    (base, carry, brk_pending) = (next, 0, true);
                    continue 'blocks;
                }
                None => {}
            }
        }
        while starts != 0 {
            let s = starts.trailing_zeros();
            starts &= starts - 1;
            if brk_pending || m.brk & block::below(s) & !block::below(after) != 0 {
                out.end_line(
                    &mut line_start,
                    &mut line_chars,
                    base + s as usize,
                    surrogates,
                );
                brk_pending = false;
            }
            if ends == 0 {
                let rest = !block::below(s);
                open = Some((base + s as usize, m.special & rest != 0, m.lead & rest != 0));
                break;
            }
            let e = ends.trailing_zeros();
            ends &= ends - 1;
            let inside = block::below(e) & !block::below(s);
            close_token(
                payload,
                (base + s as usize, base + e as usize),
                (m.special & inside != 0, m.lead & inside != 0),
                (&mut line_start, &mut line_chars),
                surrogates,
                out,
            );
            after = e;
            match skip::<S>(b, (base, &m, e), (line_chars, false), &mut hold, &masks) {
                Some(Ok(k)) => (starts, ends) = (starts & k, ends & k),
                Some(Err(next)) => {
                    (base, carry, brk_pending) = (next, 0, true);
                    continue 'blocks;
                }
                None => {}
            }
        }
        if open.is_none() {
            brk_pending |= m.brk & !block::below(after) != 0;
        }
        base += block::BLOCK;
    }
    out.end_line(&mut line_start, &mut line_chars, n, surrogates);
}

/// What may be skipped after the token that ends at bit `e` of the block
/// at `base` (whose masks are `m`), `long` if it was a plain token of at
/// least [`ATTACHMENT_LINE`] bytes (dropped, and maybe a line of an
/// attachment):
/// - when the line holds nothing and that token is followed by lines that
///   hold only such a token each (attachments): those lines
///   ([`long_token_lines`]);
/// - (Spans only) once the line holds 8 code points: the rest of it,
///   unless a non-ASCII line break comes first (`hold`: no skip before
///   that byte).
///
/// When the rest of a kept line is skipped and its line break is byte q
/// of this block: `Ok` with the mask of the token edges after q. Else
/// `Err` with the byte to go on from: the one after that line break, or
/// the line break that ends the last line of dropped tokens; no token
/// goes on there, and a line break comes before the next one.
#[inline(always)]
pub(super) fn skip<S: Sink>(
    b: &[u8],
    (base, m, e): (usize, &block::Masks, u32),
    (line_chars, long): (usize, bool),
    hold: &mut usize,
    masks: &impl Fn(&[u8; block::BLOCK]) -> block::Masks,
) -> Option<Result<u64, usize>> {
    if long && line_chars == 0 {
        return long_token_lines(b, base + e as usize).map(Err);
    }
    if !S::SPANS_ONLY || line_chars < MIN_LINE_LENGTH || base + (e as usize) < *hold {
        return None;
    }
    match next_break(b, base, m, e, masks) {
        Ok(q) if q - base < block::BLOCK => Some(Ok(!block::below((q - base) as u32) << 1)),
        Ok(q) => Some(Err((q + 1).min(b.len()))),
        Err(l) => {
            *hold = l + 1;
            None
        }
    }
}

/// The shortest plain token (across a block edge, on a line that holds
/// nothing else) after which the scanner looks for lines of dropped
/// tokens to pass at once ([`long_token_lines`]): shorter than the lines
/// of base64 (76) and uuencoded (61) attachments, longer than most URLs,
/// after which the look is mostly wasted.
pub(super) const ATTACHMENT_LINE: usize = 56;

/// From the end `p` of a dropped token on a line that holds nothing: the
/// lines after it that hold only one run of 10 or more ASCII graphic
/// characters each (a dropped token) between line breaks (CR LF, LF or
/// CR) — base64 or uuencoded attachments, long hashes. Such lines keep
/// nothing and end nothing that is kept, so they are passed 32 bytes at a
/// time instead of a block of masks and a token each. Returns the
/// end of the last such line's token (a line break), `None` if there is
/// none.
#[inline(never)]
pub(super) fn long_token_lines(b: &[u8], mut p: usize) -> Option<usize> {
    let mut next = None;
    loop {
        let q = match b.get(p..) {
            Some([b'\r', b'\n', ..]) => p + 2,
            Some([b'\n' | b'\r', ..]) => p + 1,
            _ => return next,
        };
        let t = q + block::graphic_run(&b[q..]);
        if t - q < LONG_TOKEN || !matches!(b.get(t), Some(b'\n' | b'\r')) {
            return next;
        }
        // (the line from q is one such token: go on after it)
        next = Some(t);
        p = t;
    }
}

/// For a line that is kept whatever follows: the first ASCII line break
/// at or after bit `from` of the block at `base` (whose masks are `m`),
/// or the payload's length if there is none — or `Err` with the position
/// of a non-ASCII line break (U+0085, U+2028, U+2029) that comes before
/// it. Every token before that break belongs to the line.
#[inline(always)]
pub(super) fn next_break(
    b: &[u8],
    base: usize,
    m: &block::Masks,
    from: u32,
    masks: &impl Fn(&[u8; block::BLOCK]) -> block::Masks,
) -> Result<usize, usize> {
    let rest = !block::below(from);
    let brk = m.brk & rest;
    if brk != 0 {
        let q = brk.trailing_zeros();
        non_ascii_break(b, base, m.lead & rest & block::below(q))?;
        return Ok(base + q as usize);
    }
    non_ascii_break(b, base, m.lead & rest)?;
    next_break_far(b, base + block::BLOCK, masks)
}

/// [`next_break`] from byte `base` on, a block at a time.
#[inline(always)]
pub(super) fn next_break_far(
    b: &[u8],
    mut base: usize,
    masks: &impl Fn(&[u8; block::BLOCK]) -> block::Masks,
) -> Result<usize, usize> {
    while base < b.len() {
        let m = window(b, base, masks);
        if m.brk != 0 {
            let q = m.brk.trailing_zeros();
            non_ascii_break(b, base, m.lead & block::below(q))?;
            return Ok(base + q as usize);
        }
        non_ascii_break(b, base, m.lead)?;
        base += block::BLOCK;
    }
    Ok(b.len())
}

/// `Err` with the position of the first of the lead bytes `leads` (bits
/// from `base`) that starts a non-ASCII line break: U+0085 (C2 85),
/// U+2028 (E2 80 A8) or U+2029 (E2 80 A9).
#[inline(always)]
pub(super) fn non_ascii_break(b: &[u8], base: usize, mut leads: u64) -> Result<(), usize> {
    while leads != 0 {
        let p = base + leads.trailing_zeros() as usize;
        leads &= leads - 1;
        if let [0xc2, 0x85, ..] | [0xe2, 0x80, 0xa8 | 0xa9, ..] = b[p..] {
            return Err(p);
        }
    }
    Ok(())
}

/// Adds the token `payload[s..e]` (between ASCII whitespace) to the
/// current line: `special` if it has a byte of [`block::Masks::special`],
/// `lead` if it has one of [`block::Masks::lead`] (it may hold non-ASCII
/// whitespace or line breaks: the scalar scanner splits it). A plain
/// token is one code point per byte: sixteen bytes are copied whatever
/// its length and only those of a short token are kept, so the length
/// decides no branch.
#[inline(always)]
pub(super) fn close_token<S: Sink>(
    payload: &str,
    (s, e): (usize, usize),
    (special, lead): (bool, bool),
    (line_start, line_chars): (&mut usize, &mut usize),
    surrogates: bool,
    out: &mut S,
) {
    let b = payload.as_bytes();
    if special {
        if lead {
            scan_scalar(&payload[..e], s, (line_start, line_chars), surrogates, out);
        } else {
            *line_chars += push_token(&payload[s..e], false, out);
        }
        return;
    }
    let len = e - s;
    let keep = if len < LONG_TOKEN { len } else { 0 };
    *line_chars += keep;
    if S::SPANS_ONLY {
        return;
    }
    let buf = out.text();
    match b[s..].first_chunk::<16>() {
        Some(chunk) => {
            buf.extend_from_slice(chunk);
            buf.truncate(buf.len() - 16 + keep);
        }
        None => buf.extend_from_slice(&b[s..s + keep]),
    }
}
