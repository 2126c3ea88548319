//! The token rules: what of a token between whitespace is kept (rules 1
//! to 4 of the [module documentation](super)).

use super::*;

/// Tokens of this many code points or more are removed.
pub(super) const LONG_TOKEN: usize = 10;

/// Appends the characters of `piece` but its NULs.
pub(super) fn push_without_nuls(piece: &str, buf: &mut Vec<u8>) {
    if !swar::has_nul(piece.as_bytes()) {
        buf.extend_from_slice(piece.as_bytes());
        return;
    }
    for part in piece.split('\0') {
        buf.extend_from_slice(part.as_bytes());
    }
}

/// Applies the token rules to `token` (NULs included, to be skipped) and
/// appends what is kept to `buf`; returns the code points appended.
/// `plain`: known to be ASCII without NULs, so bytes are code points.
/// For [`Spans`], which never reads the text, nothing is appended: the
/// code points are only counted.
#[inline(never)]
pub(super) fn push_token<S: Sink>(token: &str, plain: bool, out: &mut S) -> usize {
    let bytes = token.as_bytes();
    // code points, NULs excluded (a code point is at most four bytes)
    let n = if plain {
        bytes.len()
    } else if bytes.len() >= 4 * LONG_TOKEN && !swar::has_nul(bytes) {
        return 0;
    } else {
        // the bytes that start a character, but NULs
        bytes
            .iter()
            .filter(|&&c| c & 0xc0 != 0x80 && c != 0)
            .count()
    };
    if n >= LONG_TOKEN || n == 0 {
        return 0;
    }
    // Without ':' or '@' (ASCII, so never inside a multi-byte character)
    // no rule applies: the common case.
    if !bytes.iter().any(|&c| c == b':' || c == b'@') {
        keep_piece(token, plain, out);
        return n;
    }
    let mut idx = 0;
    let mut at = None;
    let mut run: Option<(usize, usize)> = None; // (byte offset, char index)
    let mut cut: Option<(usize, usize)> = None; // (byte offset, char index) to keep up to
    for (off, c) in token.char_indices() {
        if c == '\0' {
            continue;
        }
        if is_url_letter(c) {
            if run.is_none() {
                run = Some((off, idx));
            }
        } else {
            if c == ':'
                && cut.is_none()
                && idx + 1 < n
                && let Some(r) = run
            {
                cut = Some(r);
            }
            if c == '@' && idx > 0 && at.is_none() {
                at = Some(idx);
            }
            run = None;
        }
        idx += 1;
    }
    if at.is_some_and(|a| a + 1 < n) {
        return 0;
    }
    let (end, kept) = cut.unwrap_or((token.len(), n));
    keep_piece(&token[..end], plain, out);
    kept
}

/// Appends the kept `piece` of a token (its NULs removed unless `plain`)
/// to the sink's text; nothing for [`Spans`], which never reads it.
#[inline(always)]
pub(super) fn keep_piece<S: Sink>(piece: &str, plain: bool, out: &mut S) {
    if S::SPANS_ONLY {
        return;
    }
    if plain {
        out.text().extend_from_slice(piece.as_bytes());
    } else {
        push_without_nuls(piece, out.text());
    }
}
