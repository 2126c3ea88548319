//! Line splitting and normalisation (pyzor's `DataDigester.normalize`),
//! with CPython's `str` semantics: `str.splitlines()` boundaries and the
//! `\s` class of `re` (which is `str.isspace()`).
//!
//! The reference splits each payload into lines and runs four regular
//! expressions over each line. Here one pass over the bytes does all of it:
//! it cuts lines at every `splitlines()` boundary, cuts tokens at every
//! whitespace character, and decides per token, when it ends, whether it
//! is kept (and how much of it). Long tokens — base64 lines, URLs — are
//! skipped 32 or 64 bytes at a time. The result is the same as the
//! reference's line-by-line regex substitution (see the tests and the
//! corpus), because every rule only ever looks inside one token:
//!
//! 1. delete NULs (before anything else, so they can join a token);
//! 2. delete tokens of 10 or more code points;
//! 3. delete tokens with an `@` that is neither first nor last;
//! 4. cut a token at the letter run before its first `:` that follows a
//!    letter and is not last (`[a-z]+:\S+`, case-insensitive, where `[a-z]`
//!    also matches U+0130, U+0131, U+017F and U+212A);
//! 5. delete whitespace.
//!
//! A CR LF pair is one boundary in `splitlines()` and two here; the empty
//! line between them is never kept, so the result is the same.

use pyzor_core::pycompat::is_py_whitespace;

use crate::{block, swar};

/// Lines shorter than this (in code points) are not digested.
pub(crate) const MIN_LINE_LENGTH: usize = 8;

/// Tokens of this many code points or more are removed.
const LONG_TOKEN: usize = 10;

/// First code point of the range that stands for lone UTF-16 surrogates
/// (U+D800 + k is held as `SURROGATE_BASE` + k). Only codecs that can
/// produce lone surrogates emit them; they are dropped when a kept line is
/// encoded as UTF-8, after the length test, as CPython's
/// `encode("utf8", "ignore")` does.
pub(crate) const SURROGATE_BASE: u32 = 0x10_F800;

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
fn is_url_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

const C_WS: u8 = 1; // whitespace (ends a token)
const C_BRK: u8 = 2; // line break (ends a line)
const C_HIGH: u8 = 8; // a byte of a non-ASCII character

/// The scanner's byte table, from [`block::byte_class`].
const fn classes() -> [u8; 256] {
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
static CLASS: [u8; 256] = classes();

/// (length, classes) of the non-ASCII character at byte `i`. Only a few
/// lead bytes can start whitespace or a line break; every other character
/// is skipped by its length alone.
#[inline]
fn classify_high(payload: &str, i: usize) -> (usize, u8) {
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

/// The kept normalised lines of a message, in order, in one buffer.
///
/// The buffer only ever receives whole UTF-8 sequences (whole tokens, or
/// the characters of one), so every line is valid UTF-8; it is a byte
/// buffer so that short tokens can be copied by a fixed-size move.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Lines {
    /// No spans, in this value's buffers (the way back of
    /// [`Spans::into_lines`]).
    pub(crate) fn into_spans(mut self) -> Spans {
        self.buf.clear();
        self.spans.clear();
        Spans {
            spans: self.spans,
            scratch: self.buf,
        }
    }

    /// Room for `bytes` bytes of kept text (and the 16 that a short
    /// token's copy may write past it) and `lines` lines.
    pub(crate) fn with_capacity(bytes: usize, lines: usize) -> Lines {
        Lines {
            buf: Vec::with_capacity(bytes + 16),
            spans: Vec::with_capacity(lines),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes of kept line `i` (UTF-8).
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.buf[s..e]
    }

    /// Kept line `i` as a string.
    pub(crate) fn get_str(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }

    pub(crate) fn to_vec(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.get_str(i)).collect()
    }
}

/// Where the line scanner puts what it finds: the kept lines' text
/// ([`Lines`]), or only where they are in the payload ([`Spans`]).
pub(crate) trait Sink {
    /// The sink takes only where kept lines are, not their text. A line
    /// that holds 8 code points is then kept whatever follows in it, so
    /// the scanner skips to its end.
    const SPANS_ONLY: bool;

    /// The buffer the kept text of tokens is appended to.
    fn text(&mut self) -> &mut Vec<u8>;

    /// The line start of a line that begins at payload byte `at`.
    fn line_start(&self, at: usize) -> usize;

    /// Ends the current line at payload byte `at` (where the next one
    /// begins): keeps it if it has at least 8 code points.
    fn end_line(
        &mut self,
        line_start: &mut usize,
        line_chars: &mut usize,
        at: usize,
        surrogates: bool,
    );
}

impl Sink for Lines {
    const SPANS_ONLY: bool = false;

    #[inline(always)]
    fn text(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// A line start of [`Lines`] is where its text begins in the buffer.
    #[inline(always)]
    fn line_start(&self, _at: usize) -> usize {
        self.buf.len()
    }

    /// Inlined: most line ends drop a short or empty line, which is two
    /// stores (keeping one is out of line).
    #[inline(always)]
    fn end_line(
        &mut self,
        line_start: &mut usize,
        line_chars: &mut usize,
        _at: usize,
        surrogates: bool,
    ) {
        if *line_chars >= MIN_LINE_LENGTH {
            self.keep_line(*line_start, surrogates);
        } else {
            self.buf.truncate(*line_start);
        }
        *line_start = self.buf.len();
        *line_chars = 0;
    }
}

/// Where the kept lines of a payload are: for each, a byte range of the
/// payload that holds it and no other kept line (from its first token or
/// the line break before it, to the first token of the next line or the
/// line break after it), so that normalising the range again gives the
/// line alone. Finding them takes a fraction of the work of normalising
/// every line: most of a line is skipped once it holds 8 code points.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    spans: Vec<(usize, usize)>,
    /// Room for the text of the selected lines, which [`Spans::into_lines`]
    /// hands on. The scan itself writes no text (see [`keep_piece`]): it
    /// only counts code points.
    scratch: Vec<u8>,
}

/// The first room for the selected lines' text, when they are normalised
/// again in the buffers of [`Spans`].
const SCRATCH: usize = 512;

/// The first room for kept lines in [`Spans`].
const SPANS: usize = 64;

impl Spans {
    /// Room for the kept lines of most messages, if there is none yet.
    pub(crate) fn reserve(&mut self) {
        self.spans.reserve(SPANS);
        self.scratch.reserve(SCRATCH);
    }

    /// Lets go of the buffers a large message grew past `limit` bytes.
    pub(crate) fn trim(&mut self, limit: usize) {
        crate::trim(&mut self.spans, limit);
        crate::trim(&mut self.scratch, limit);
    }

    /// The room of the two buffers (spans, bytes of text).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> (usize, usize) {
        (self.spans.capacity(), self.scratch.capacity())
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The byte range of kept line `i` in its payload.
    pub(crate) fn get(&self, i: usize) -> (usize, usize) {
        self.spans[i]
    }

    /// No lines, in this value's buffers.
    pub(crate) fn into_lines(mut self) -> Lines {
        self.spans.clear();
        self.scratch.clear();
        Lines {
            buf: self.scratch,
            spans: self.spans,
        }
    }
}

impl Sink for Spans {
    const SPANS_ONLY: bool = true;

    /// (Never written to: the scan checks [`Sink::SPANS_ONLY`] first.)
    #[inline(always)]
    fn text(&mut self) -> &mut Vec<u8> {
        &mut self.scratch
    }

    /// A line start of [`Spans`] is the payload byte the line begins at.
    #[inline(always)]
    fn line_start(&self, at: usize) -> usize {
        at
    }

    #[inline(always)]
    fn end_line(
        &mut self,
        line_start: &mut usize,
        line_chars: &mut usize,
        at: usize,
        _surrogates: bool,
    ) {
        if *line_chars >= MIN_LINE_LENGTH {
            self.spans.push((*line_start, at));
        }
        *line_start = at;
        *line_chars = 0;
    }
}

/// Appends the characters of `piece` but its NULs.
fn push_without_nuls(piece: &str, buf: &mut Vec<u8>) {
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
fn push_token<S: Sink>(token: &str, plain: bool, out: &mut S) -> usize {
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
fn keep_piece<S: Sink>(piece: &str, plain: bool, out: &mut S) {
    if S::SPANS_ONLY {
        return;
    }
    if plain {
        out.text().extend_from_slice(piece.as_bytes());
    } else {
        push_without_nuls(piece, out.text());
    }
}

/// The end of the token that starts at byte `j` (the next whitespace or
/// the end of the payload), and whether it is plain (ASCII without NULs).
/// Long runs of graphic ASCII are skipped 32 bytes at a time
/// ([`block::graphic_run`]).
fn token_end(payload: &str, mut j: usize) -> (usize, bool) {
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
        // POPCNT, which `available` has just found on this CPU. (The
        // crate's other unsafe call is in `utf8::ascii_str`.)
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
fn collect_lines_avx2<S: Sink>(payload: &str, surrogates: bool, out: &mut S) {
    collect_lines_with(payload, surrogates, out, |b| block::avx2::masks(b));
}

/// [`collect_lines`] built for the baseline, whatever the CPU (for the
/// tests that compare the two builds).
#[cfg(test)]
fn collect_lines_baseline<S: Sink>(payload: &str, surrogates: bool, out: &mut S) {
    collect_lines_with(payload, surrogates, out, block::masks);
}

/// The masks of the 64 bytes of `b` from `base`; past its end, spaces:
/// they end the last token at the end of the payload and break no line.
#[inline(always)]
fn window(
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
fn collect_lines_with<S: Sink>(
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
fn skip<S: Sink>(
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
const ATTACHMENT_LINE: usize = 56;

/// From the end `p` of a dropped token on a line that holds nothing: the
/// lines after it that hold only one run of 10 or more ASCII graphic
/// characters each (a dropped token) between line breaks (CR LF, LF or
/// CR) — base64 or uuencoded attachments, long hashes. Such lines keep
/// nothing and end nothing that is kept, so they are passed 32 bytes at a
/// time instead of a block of masks and a token each. Returns the
/// end of the last such line's token (a line break), `None` if there is
/// none.
#[inline(never)]
fn long_token_lines(b: &[u8], mut p: usize) -> Option<usize> {
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
fn next_break(
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
fn next_break_far(
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
fn non_ascii_break(b: &[u8], base: usize, mut leads: u64) -> Result<(), usize> {
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
fn close_token<S: Sink>(
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

/// The scalar scanner, from byte `from` to the end of `payload`, adding to
/// the current line (`line_start`, `line_chars`) of `out`: every whitespace
/// character, line break and token rule, one token at a time
/// ([`token_end`], then [`push_token`]). It only sees tokens that may
/// hold non-ASCII whitespace (the block path takes the others), so it
/// needs no fast path of its own.
#[inline(never)]
fn scan_scalar<S: Sink>(
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

impl Lines {
    /// Keeps the line that starts at `line_start` (its lone-surrogate
    /// stand-ins dropped, if it may hold some).
    #[inline(never)]
    fn keep_line(&mut self, line_start: usize, surrogates: bool) {
        if surrogates {
            let kept: String = String::from_utf8_lossy(&self.buf[line_start..])
                .chars()
                .filter(|&c| (c as u32) < SURROGATE_BASE)
                .collect();
            self.buf.truncate(line_start);
            self.buf.extend_from_slice(kept.as_bytes());
        }
        self.spans.push((line_start, self.buf.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        let mut out = Lines::default();
        collect_lines(s, false, &mut out);
        out.to_vec()
    }

    fn norm(s: &str) -> String {
        // the whole normalised text of one line, however short
        let padded = format!("{s} 12345678");
        let v = lines(&padded);
        v.first()
            .map(|l| l.strip_suffix("12345678").unwrap_or(l).to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn splitlines_like_python() {
        let v = lines(
            "aaaaaaaa\r\nbbbbbbbb\rcccccccc\ndddddddd\u{b}eeeeeeee\u{c}ffffffff\u{1c}gggggggg\u{85}hhhhhhhh\u{2028}iiiiiiii\u{2029}jjjj\u{1f}kkkk",
        );
        assert_eq!(
            v,
            [
                "aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd", "eeeeeeee", "ffffffff", "gggggggg",
                "hhhhhhhh", "iiiiiiii", "jjjjkkkk"
            ]
        );
        assert!(lines("").is_empty());
    }

    #[test]
    fn normaliser_rules() {
        assert_eq!(norm("Test1 client check Test2"), "Test1clientcheckTest2");
        assert_eq!(norm("123456789 1234567890 x"), "123456789x");
        assert_eq!(norm("abcde\0fghij k"), "k");
        assert_eq!(norm("ab\0cd"), "abcd");
        assert_eq!(norm("a@b x@ @y @@ a@@ x@y@z"), "x@@y@@");
        assert_eq!(norm("http:x ab1cd:xyz 1http:foo 9:x x:"), "ab119:xx:");
        assert_eq!(norm("a1:b:c ab:c:d"), "a1:");
        assert_eq!(norm("\u{17f}:xy \u{212a}:ab"), "");
        assert_eq!(
            norm("a\u{a0}b\u{3000}c\u{200b}d\u{feff}"),
            "abc\u{200b}d\u{feff}"
        );
        assert_eq!(norm("\u{1f}x\u{1f}y"), "xy");
        assert_eq!(
            norm("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}\u{e9}\u{e9} b"),
            "b"
        );
        assert_eq!(norm("aaaaaaaaaaaaaaaaaaaaaaaa\u{3000}b"), "b");
    }

    #[test]
    fn kept_lines() {
        assert!(lines("1234567").is_empty());
        assert_eq!(lines("1234 5678"), ["12345678"]);
        assert_eq!(
            lines("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"),
            ["\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"]
        );
        let s = char::from_u32(SURROGATE_BASE).unwrap();
        let mut out = Lines::default();
        collect_lines(&format!("abcdefg{s}"), true, &mut out);
        assert_eq!(out.to_vec(), ["abcdefg"]);
    }

    /// The normaliser written the plain way, one `char` at a time: lines
    /// at every `splitlines()` boundary, tokens at every whitespace
    /// character, the token rules applied to the token's characters.
    fn model(payload: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in payload.split(is_line_break) {
            let mut kept: Vec<char> = Vec::new();
            for token in line.split(is_py_whitespace) {
                let t: Vec<char> = token.chars().filter(|&c| c != '\0').collect();
                let n = t.len();
                if n == 0 || n >= LONG_TOKEN {
                    continue;
                }
                if let Some(a) = (1..n).find(|&k| t[k] == '@')
                    && a + 1 < n
                {
                    continue;
                }
                let mut end = n;
                for k in 1..n.saturating_sub(1) {
                    if t[k] == ':' && is_url_letter(t[k - 1]) {
                        let mut r = k;
                        while r > 0 && is_url_letter(t[r - 1]) {
                            r -= 1;
                        }
                        end = r;
                        break;
                    }
                }
                kept.extend(&t[..end]);
            }
            if kept.len() >= MIN_LINE_LENGTH {
                out.push(kept.into_iter().collect());
            }
        }
        out
    }

    /// Each span of `spans` normalised alone: one line each.
    fn renormalised(text: &str, spans: &Spans) -> Vec<String> {
        (0..spans.len())
            .map(|i| {
                let (s, e) = spans.get(i);
                let v = lines(&text[s..e]);
                assert_eq!(v.len(), 1, "span {s}..{e} of {text:?} holds {v:?}");
                v.into_iter().next().unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn spans_hold_one_line_each() {
        let text = "first line here, long enough\n\
                    short\r\n\
                    a second kept line \u{2019}quoted\u{2019} and more\u{85}after a NEL break\n\
                    \n\n   tail line\u{2028}x  yyyyyyyy";
        let mut spans = Spans::default();
        collect_lines(text, false, &mut spans);
        assert_eq!(renormalised(text, &spans), lines(text));
        assert_eq!(spans.len(), 5);
        // a line that is full early is skipped to its end, across blocks
        let long = format!("12345678 {}\nnext line 12345678", "ab ".repeat(100));
        let mut spans = Spans::default();
        collect_lines(&long, false, &mut spans);
        assert_eq!(renormalised(&long, &spans), lines(&long));
        assert_eq!(spans.len(), 2);
        // a NEL after the line is full, blocks later
        let nel = format!("12345678 {}\u{85}next line 12345678\n", "ab ".repeat(40));
        let mut spans = Spans::default();
        collect_lines(&nel, false, &mut spans);
        assert_eq!(renormalised(&nel, &spans), lines(&nel));
        assert_eq!(spans.len(), 2);
    }

    /// Both builds of the scanner (AVX2 where the CPU has it, and the
    /// baseline), into both sinks, against the plain model. The model's
    /// split on '\r' and '\n' gives an empty line inside CR LF: never
    /// kept, so the same lines. For `Spans`: each span alone normalises
    /// to its line.
    fn both_builds_match_the_model(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let want = model(text);
        proptest::prop_assert_eq!(lines(text), want.clone());
        let mut baseline = Lines::default();
        collect_lines_baseline(text, false, &mut baseline);
        proptest::prop_assert_eq!(baseline.to_vec(), want.clone());
        // (the scan only counts: it writes no text)
        let mut spans = Spans::default();
        collect_lines(text, false, &mut spans);
        proptest::prop_assert!(spans.scratch.is_empty());
        proptest::prop_assert_eq!(renormalised(text, &spans), want.clone());
        let mut spans = Spans::default();
        collect_lines_baseline(text, false, &mut spans);
        proptest::prop_assert!(spans.scratch.is_empty());
        proptest::prop_assert_eq!(renormalised(text, &spans), want);
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The byte-level scanner (64-byte block masks, SWAR token search,
        /// fixed-size copies) against the plain model, on text made of the
        /// characters that matter: letters, digits, ':', '@', NUL, ASCII and
        /// Unicode whitespace and line breaks, other non-ASCII letters.
        #[test]
        fn scanner_matches_the_plain_model(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[a-zA-Z0-9]{1,20}").unwrap(),
                    // tokens across the scanner's 64-byte blocks
                    proptest::string::string_regex("[a-z]{40,140}").unwrap(),
                    // runs of 2-, 3- and 4-byte characters: short tokens
                    // of more than 16 bytes, long ones of few characters
                    proptest::string::string_regex("[a\u{e9}\u{4e2d}\u{10348}]{1,14}").unwrap(),
                    // characters whose lead byte (C2, E1, E2, E3) is also
                    // that of a whitespace character, next to others
                    proptest::string::string_regex(
                        "[a\u{ab}\u{1681}\u{2019}\u{200b}\u{3001}\u{4e2d}\u{2009}]{1,14}"
                    ).unwrap(),
                    proptest::prop_oneof![
                        proptest::strategy::Just(" ".to_owned()),
                        proptest::strategy::Just("\n".to_owned()),
                        proptest::strategy::Just("\r\n".to_owned()),
                        proptest::strategy::Just(":".to_owned()),
                        proptest::strategy::Just("@".to_owned()),
                        proptest::strategy::Just("\0".to_owned()),
                        proptest::strategy::Just("\t".to_owned()),
                        proptest::strategy::Just("\u{1f}".to_owned()),
                        proptest::strategy::Just("\u{1}".to_owned()),
                        proptest::strategy::Just("\u{a0}".to_owned()),
                        proptest::strategy::Just("\u{85}".to_owned()),
                        proptest::strategy::Just("\u{2028}".to_owned()),
                        proptest::strategy::Just("\u{2029}".to_owned()),
                        proptest::strategy::Just("\u{2019}".to_owned()),
                        proptest::strategy::Just("\u{3000}".to_owned()),
                        proptest::strategy::Just("\u{1680}".to_owned()),
                        proptest::strategy::Just("\u{202f}".to_owned()),
                        proptest::strategy::Just("\u{205f}".to_owned()),
                        proptest::strategy::Just("\u{e9}".to_owned()),
                        proptest::strategy::Just("\u{212a}".to_owned()),
                        proptest::strategy::Just("\u{4e2d}".to_owned()),
                        proptest::strategy::Just("~!#".to_owned()),
                    ],
                ],
                0..150,
            )
        ) {
            let text: String = parts.concat();
            both_builds_match_the_model(&text)?;
        }

        /// Attachment-like text, where lines of one long dropped token are
        /// passed at once (`long_token_lines`): such lines between other
        /// lines, line breaks of every kind, and lines that only look like
        /// them (a space, a NUL, a short word or a non-ASCII character in
        /// or after the token, a line break that is not CR or LF).
        #[test]
        fn attachment_lines_match_the_plain_model(
            lines_in in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        4 => proptest::string::string_regex("[A-Za-z0-9+/=]{50,90}").unwrap(),
                        1 => proptest::string::string_regex("[A-Za-z0-9+/]{1,12}").unwrap(),
                        1 => proptest::string::string_regex(
                            "[A-Za-z0-9+/]{50,70}[ \\x00:@\u{e9}\u{2028}\u{3000}][a-z0-9]{0,12}"
                        ).unwrap(),
                        1 => proptest::string::string_regex("([a-z]{1,7} ){1,6}").unwrap(),
                        1 => proptest::strategy::Just(String::new()),
                    ],
                    proptest::sample::select(
                        vec!["\n", "\r\n", "\r", "\n\n", "\u{b}", "\u{1c}", "\u{85}", "\u{2028}", " \n", ""],
                    ),
                ),
                0..40,
            )
        ) {
            let text: String = lines_in.iter().map(|(l, end)| format!("{l}{end}")).collect();
            both_builds_match_the_model(&text)?;
        }
    }
}
