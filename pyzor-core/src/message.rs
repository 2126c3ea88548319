//! The Pyzor message codec: a header block without a body (protocol §1.2).
//!
//! Parsing follows what CPython's `email` feed parser (compat32 policy) does
//! with a datagram, because that is what every Pyzor peer in the field talks
//! to: lines end at CR LF, CR or LF; a header line is `Name:value` where the
//! name is printable ASCII without a space or a colon; a line starting with a
//! blank continues the previous header verbatim; the first line that is
//! neither ends the header block. Values lose their leading blanks and their
//! trailing line ends, nothing else. Lookups are case-insensitive and return
//! the first occurrence.
//!
//! Serializing writes `Name: value\n` for each header and a closing `\n`,
//! byte-identical to the reference.
//!
//! Everything here borrows from the input: parsing a request allocates one
//! small vector and copies no text.

use std::borrow::Cow;

/// The largest datagram either side reads (protocol §1.1).
pub const MAX_DATAGRAM: usize = 8192;

/// One header of a message, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name, spelled as received.
    pub name: &'a str,
    /// The value: leading spaces and tabs removed, trailing CR/LF removed,
    /// continuation lines included verbatim (with their line ends).
    pub value: &'a str,
}

/// A parsed message: its headers in received order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message<'a> {
    headers: Vec<Header<'a>>,
}

/// Why a datagram was refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The datagram is longer than [`MAX_DATAGRAM`]; the reference would have
    /// silently parsed a truncated prefix.
    #[error("datagram of {0} bytes exceeds the {MAX_DATAGRAM}-byte limit")]
    TooLong(usize),
}

impl<'a> Message<'a> {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a header block with the reference's leniency. Never fails:
    /// text that is not a header block yields a message with fewer (or no)
    /// headers, exactly as in the reference.
    pub fn parse(text: &'a str) -> Self {
        let mut headers = Vec::with_capacity(8);
        let mut lines = Lines { rest: text, pos: 0 };
        // (start of the header's first line, name end, start/end of the raw value)
        let mut current: Option<(usize, usize, usize, usize)> = None;
        while let Some((start, content_end, line_end)) = lines.next_line() {
            let line = &text[start..content_end];
            let is_continuation = line.starts_with([' ', '\t']);
            if is_continuation {
                if let Some(cur) = current.as_mut() {
                    cur.3 = line_end;
                }
                continue;
            }
            if let Some(cur) = current.take() {
                headers.push(make_header(text, cur));
            }
            if line.starts_with("From ") {
                // An mbox envelope line: ignored in first position, pushed back
                // into the (ignored) body in last position, skipped elsewhere.
                continue;
            }
            match header_name_len(line) {
                Some(0) => {
                    // A line starting with ':' is a defect and is skipped.
                }
                Some(n) => {
                    let value_start = start + n + 1;
                    current = Some((start, start + n, value_start, line_end));
                }
                None => break, // blank line or anything else: end of headers
            }
        }
        if let Some(cur) = current.take() {
            headers.push(make_header(text, cur));
        }
        Message { headers }
    }

    /// Refuses a datagram longer than [`MAX_DATAGRAM`] (the reference
    /// silently truncates it; we answer with an error instead).
    pub fn check_size(datagram: &[u8]) -> Result<(), CodecError> {
        if datagram.len() > MAX_DATAGRAM {
            Err(CodecError::TooLong(datagram.len()))
        } else {
            Ok(())
        }
    }

    /// All headers in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The value of the first header with this name (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The values of every header with this name, in order.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// `true` if a header with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header (names and values are written as given).
    pub fn push(&mut self, name: &'a str, value: &'a str) {
        self.headers.push(Header { name, value });
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// `true` if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Serializes as the reference does: `Name: value\n` per header, then an
    /// empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// Appends the serialized form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for h in &self.headers {
            write_header(out, h.name, h.value);
        }
        out.push(b'\n');
    }

    /// Length of [`Message::to_bytes`].
    pub fn encoded_len(&self) -> usize {
        self.headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 3)
            .sum::<usize>()
            + 1
    }
}

/// Appends `Name: value\n`.
#[inline]
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

fn make_header(
    text: &str,
    (start, name_end, value_start, end): (usize, usize, usize, usize),
) -> Header<'_> {
    let name = &text[start..name_end];
    let mut raw = &text[value_start..end];
    raw = raw.trim_start_matches([' ', '\t']);
    let value = raw.trim_end_matches(['\r', '\n']);
    Header { name, value }
}

/// Length of the header name if `line` starts with `[\x21-\x39\x3b-\x7e]*:`.
fn header_name_len(line: &str) -> Option<usize> {
    for (i, b) in line.bytes().enumerate() {
        match b {
            b':' => return Some(i),
            0x21..=0x7e => {}
            _ => return None,
        }
    }
    None
}

/// Splits text into lines the way the `email` feed parser does: CR LF, CR and
/// LF each end one line.
struct Lines<'a> {
    rest: &'a str,
    pos: usize,
}

impl Lines<'_> {
    /// Returns (start, end of content, end including the line end).
    fn next_line(&mut self) -> Option<(usize, usize, usize)> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest.as_bytes();
        let start = self.pos;
        let (content, with_end) = match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => (bytes.len(), bytes.len()),
            Some(i) if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') => (i, i + 2),
            Some(i) => (i, i + 1),
        };
        self.rest = &self.rest[with_end..];
        self.pos += with_end;
        Some((start, start + content, start + with_end))
    }
}

/// A received datagram turned into text the way pyzord 1.1.2 prepares it:
/// invalid UTF-8 is replaced by U+FFFD, and every `\n\n` is collapsed into a
/// single `\n` (a compatibility rule for old clients that put a blank line
/// after the signature, protocol §1.2). Borrows when nothing changes, which
/// is the case for every well-formed request.
pub fn server_text(datagram: &[u8]) -> Cow<'_, str> {
    // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy` goes
    // byte by byte, and is only needed for the rare invalid datagram
    let text = match std::str::from_utf8(datagram) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(datagram),
    };
    // A single trailing "\n\n" collapses to "\n" and the reference then
    // appends "\n": the bytes are unchanged. Any other "\n\n" changes them.
    let body = text.strip_suffix("\n\n").unwrap_or(&text);
    if !body.contains("\n\n") {
        return text;
    }
    let mut collapsed = text.replace("\n\n", "\n");
    collapsed.push('\n');
    Cow::Owned(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request() {
        let m = Message::parse(
            "Op: check\nOp-Digest: 8cc3769958948319b31ad22608fe39e576608808\nThread: 26195\nPV: 2.1\nUser: anonymous\nTime: 1795315720\nSig: 1be8e17699cbb0632c8324b618b5b506280f407c\n\n",
        );
        assert_eq!(m.len(), 7);
        assert_eq!(m.get("op"), Some("check"));
        assert_eq!(m.get("THREAD"), Some("26195"));
        assert_eq!(m.get("Nope"), None);
    }

    #[test]
    fn leniency_rules() {
        // leading blanks stripped, trailing kept, CRLF, first wins, all digests kept
        let m = Message::parse(
            "op:    check   \r\nOp-Digest: a\r\nOp-Digest: b\r\nPV: 2.1\r\nPV: 9\r\nThread: 1\r\n continued\r\n\r\nIgnored: x\r\n",
        );
        assert_eq!(m.get("Op"), Some("check   "));
        assert_eq!(m.get_all("op-digest").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.get("pv"), Some("2.1"));
        assert_eq!(m.get("thread"), Some("1\r\n continued"));
        assert_eq!(m.get("Ignored"), None);
    }

    #[test]
    fn non_header_line_ends_the_block() {
        let m = Message::parse("Op: ping\nhello world\nPV: 2.1\n");
        assert_eq!(m.len(), 1);
        let m = Message::parse("hello world");
        assert!(m.is_empty());
        // a space before the colon is not a header name
        let m = Message::parse("Op : ping\nPV: 2.1\n");
        assert!(m.is_empty());
        // ':' first is skipped, envelope lines are skipped
        let m = Message::parse("From x\n:bad\nOp: ping\nFrom y\nPV: 2.1\n");
        assert_eq!(
            m.headers().iter().map(|h| h.name).collect::<Vec<_>>(),
            ["Op", "PV"]
        );
        // a continuation line before any header is ignored
        let m = Message::parse(" x\nOp: ping\n");
        assert_eq!(m.get("op"), Some("ping"));
        // a blank-only line is a continuation, not a separator
        let m = Message::parse("Op: ping\n  \nPV: 2.1\n");
        assert_eq!(m.get("op"), Some("ping\n  "));
        assert_eq!(m.get("pv"), Some("2.1"));
    }

    #[test]
    fn bare_cr_lines() {
        let m = Message::parse("Op: ping\rPV: 2.1\r\rX: y");
        assert_eq!(m.get("pv"), Some("2.1"));
        assert_eq!(m.get("x"), None);
    }

    #[test]
    fn value_may_start_with_line_end() {
        let m = Message::parse("A:\n b\nC:   \n");
        assert_eq!(m.get("a"), Some("\n b"));
        assert_eq!(m.get("c"), Some(""));
    }

    #[test]
    fn serializes_like_the_reference() {
        let mut m = Message::new();
        m.push("Code", "200");
        m.push("Diag", "OK");
        assert_eq!(m.to_bytes(), b"Code: 200\nDiag: OK\n\n");
        assert_eq!(m.encoded_len(), m.to_bytes().len());
    }

    #[test]
    fn server_text_collapses_blank_lines() {
        let plain = b"Op: ping\nPV: 2.1\n\n";
        assert!(matches!(server_text(plain), Cow::Borrowed(_)));
        let t = server_text(b"Op: ping\n\nPV: 2.1\n\n");
        assert_eq!(t, "Op: ping\nPV: 2.1\n\n");
        assert_eq!(Message::parse(&t).get("pv"), Some("2.1"));
        let t = server_text(b"Op: ping\n\n\nPV: 2.1\n");
        assert_eq!(Message::parse(&t).get("pv"), None);
        assert_eq!(server_text(b"a\xffb"), "a\u{fffd}b");
    }
}
