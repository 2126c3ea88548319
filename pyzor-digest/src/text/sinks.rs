//! Where the line scan puts what it finds: [`Lines`], the kept lines'
//! text, or [`Spans`], only where they are in the payload.

use super::*;

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
    pub(super) scratch: Vec<u8>,
}

/// The first room for the selected lines' text, when they are normalised
/// again in the buffers of [`Spans`].
pub(super) const SCRATCH: usize = 512;

/// The first room for kept lines in [`Spans`].
pub(super) const SPANS: usize = 64;

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
