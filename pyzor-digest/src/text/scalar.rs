//! The scalar scanner: the characters of tokens that may hold non-ASCII
//! whitespace or line breaks, one at a time.

use super::*;

/// The scalar scanner, from byte `from` to the end of `payload`, adding to
/// the current line (`line_start`, `line_chars`) of `out`: every whitespace
/// character, line break and token rule, one token at a time
/// ([`token_end`], then [`push_token`]). It only sees tokens that may
/// hold non-ASCII whitespace (the block path takes the others), so it
/// needs no fast path of its own.
#[inline(never)]
pub(super) fn scan_scalar<S: Sink>(
    payload: &str,
    from: usize,
    (line_start, line_chars): (&mut usize, &mut usize),
    surrogates: bool,
    out: &mut S,
) {
    let b = payload.as_bytes();
    let n = b.len();
    let mut i = from;
    while i < n {
        let k = CLASS[usize::from(b[i])];
        if k & C_WS != 0 {
            if k & C_BRK != 0 {
                out.end_line(line_start, line_chars, i, surrogates);
            }
            i += 1;
            continue;
        }
        if k & C_HIGH != 0 {
            let (len, cls) = classify_high(payload, i);
            if cls & C_WS != 0 {
                if cls & C_BRK != 0 {
                    out.end_line(line_start, line_chars, i, surrogates);
                }
                i += len;
                continue;
            }
        }
        let (j, plain) = token_end(payload, i);
        *line_chars += push_token(&payload[i..j], plain, out);
        i = j;
    }
}
