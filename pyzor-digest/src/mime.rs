//! The MIME structure of a message as CPython's `email` feed parser
//! (compat32 policy) builds it, ported step by step from
//! `email.feedparser.FeedParser._parsegen` and `_parse_headers`.
//!
//! A general-purpose MIME parser (mail-parser and friends) cannot be used
//! here: the digest depends on compat32 quirks that such parsers rightly
//! do not have — the first header wins, unsplittable multiparts keep their
//! raw body, `message/*` bodies are parsed without undoing their transfer
//! encoding, boundaries of enclosing parts end inner parts, a `From ` line
//! in last header position is pushed back into the body, and so on.
//!
//! Lines end at CR LF, CR or LF. Everything borrows from the raw message;
//! nodes are stored in an arena in creation order, which is the pre-order
//! walk `Message.walk()` yields.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    start: usize,
    content_end: usize,
    end: usize,
}

impl Line {
    /// The line that starts at `start` (before the end of `raw`): it ends
    /// after the first CR LF, CR or LF, or at the end of `raw`.
    #[inline(always)]
    fn at(raw: &[u8], start: usize) -> Line {
        let rest = &raw[start..];
        let (content, end) = match crate::block::find_line_break(rest) {
            None => (rest.len(), rest.len()),
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => (i, i + 2),
            Some(i) => (i, i + 1),
        };
        Line {
            start,
            content_end: start + content,
            end: start + end,
        }
    }

    fn is_blank(&self) -> bool {
        self.start == self.content_end && self.end > self.start
    }
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Line(Line),
    /// A pushed-back empty string (`unreadline('')` after EOF).
    Empty,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// `NLCRE.match`: a line that is only a line end.
    Blank,
    /// `boundarymatch` of a multipart: `--boundary`, optional `--`, blanks.
    Boundary(Arc<[u8]>),
}

/// The two header names the walk records (compared ignoring ASCII case).
const CONTENT_TYPE: &[u8] = b"content-type";
const CONTENT_TRANSFER_ENCODING: &[u8] = b"content-transfer-encoding";

/// One MIME node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node<'a> {
    /// The first Content-Type value (8-bit bytes read as U+FFFD; borrowed
    /// from the message when ASCII).
    pub content_type: Option<Cow<'a, str>>,
    /// The first Content-Transfer-Encoding value.
    pub cte: Option<Cow<'a, str>>,
    /// Default type `message/rfc822` (inside `multipart/digest`) instead of
    /// `text/plain`.
    pub default_message: bool,
    /// How many children it has (multipart parts, the message of a
    /// `message/*` node, the blocks of a delivery status), which come
    /// after it in walk order. Non-zero means "is multipart".
    pub parts: usize,
    /// The payload of a leaf, as byte ranges of the raw message.
    pub payload: Ranges,
    /// `maintype/subtype` and the index of its `/`, computed once the
    /// headers are known.
    ctype: Option<(Cow<'a, str>, usize)>,
}

impl<'a> Node<'a> {
    /// (maintype, subtype) as `get_content_type()` gives them.
    pub(crate) fn content_type(&self) -> (&str, &str) {
        match &self.ctype {
            Some((t, slash)) => (&t[..*slash], &t[slash + 1..]),
            None => ("text", "plain"),
        }
    }

    fn compute_content_type(&self) -> (Cow<'a, str>, usize) {
        match &self.content_type {
            // borrowed from the message when the header is
            Some(Cow::Borrowed(v)) => params::content_type(v),
            Some(Cow::Owned(v)) => {
                let (t, slash) = params::content_type(v);
                (Cow::Owned(t.into_owned()), slash)
            }
            None if self.default_message => params::known_type("message/rfc822"),
            None => params::known_type("text/plain"),
        }
    }

    /// `true` when the payload is a list of parts.
    pub(crate) fn is_multipart(&self) -> bool {
        self.parts > 0
    }

    /// The payload bytes (borrowed when contiguous, which is almost always).
    pub(crate) fn payload<'r>(&self, raw: &'r [u8]) -> Cow<'r, [u8]> {
        match (self.payload.first, self.payload.more.as_slice()) {
            (None, _) => Cow::Borrowed(&[]),
            (Some((s, e)), []) => Cow::Borrowed(&raw[s..e]),
            (Some(first), more) => {
                let ranges = std::iter::once(&first).chain(more);
                let mut v = Vec::with_capacity(ranges.clone().map(|(s, e)| e - s).sum());
                for (s, e) in ranges {
                    v.extend_from_slice(&raw[*s..*e]);
                }
                Cow::Owned(v)
            }
        }
    }
}

/// Active separators and how many matchers of the EOF stack have each.
type ActiveMap = HashMap<Arc<[u8]>, usize, foldhash::quality::RandomState>;

struct Parser<'a> {
    raw: &'a [u8],
    pos: usize,
    /// The working buffers (given back empty when the walk ends).
    bufs: Buffers,
    /// How many `Blank` matchers `bufs.eof` holds.
    blank_active: usize,
    nodes: Vec<Node<'a>>,
    /// The most recently created message (`_last`).
    last: usize,
}

/// Parses a raw message into its MIME nodes, in walk order.
#[cfg(test)]
pub(crate) fn parse(raw: &[u8]) -> Vec<Node<'_>> {
    parse_into(raw, &mut Buffers::default(), Vec::new())
}

/// The walk's working buffers, kept from one message to the next (see
/// [`crate::Digester`]): empty between walks.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// Reused buffer for a node's header lines, each with the position of
    /// its `:` (0 for envelope and continuation lines).
    scratch: Vec<(Line, usize)>,
    /// The message stack (`_msgstack`), innermost last.
    stack: Vec<usize>,
    /// The messages being parsed, each waiting for its child.
    frames: Vec<Frame>,
    pushback: Vec<Item>,
    eof: Vec<Matcher>,
    /// The separators (`--boundary`) of `eof`, counted, for a constant-time
    /// check of each line however deep the nesting. Hashed with foldhash
    /// (randomly seeded per map — one per [`crate::Digester`] — so crafted
    /// boundaries cannot be made to collide ahead of time), several times
    /// faster than SipHash on boundary-sized keys.
    active: ActiveMap,
}

impl Buffers {
    /// Empties every buffer, keeping its room.
    fn clear(&mut self) {
        self.scratch.clear();
        self.stack.clear();
        self.frames.clear();
        self.pushback.clear();
        self.eof.clear();
        self.active.clear();
    }

    /// Lets go of the buffers a large message grew past `limit` bytes.
    pub(crate) fn trim(&mut self, limit: usize) {
        crate::reuse::trim(&mut self.scratch, limit);
        crate::reuse::trim(&mut self.stack, limit);
        crate::reuse::trim(&mut self.frames, limit);
        crate::reuse::trim(&mut self.pushback, limit);
        crate::reuse::trim(&mut self.eof, limit);
        if self
            .active
            .capacity()
            .saturating_mul(std::mem::size_of::<(Arc<[u8]>, usize)>())
            > limit
        {
            self.active = ActiveMap::default();
        }
    }
}

/// [`parse`] in the buffers `bufs` (left empty), into `nodes` (empty; its
/// room reused).
pub(crate) fn parse_into<'a>(
    raw: &'a [u8],
    bufs: &mut Buffers,
    mut nodes: Vec<Node<'a>>,
) -> Vec<Node<'a>> {
    // first room: enough for most messages
    nodes.reserve(4);
    bufs.scratch.reserve(32);
    bufs.stack.reserve(4);
    bufs.frames.reserve(4);
    let mut p = Parser {
        raw,
        pos: 0,
        bufs: std::mem::take(bufs),
        blank_active: 0,
        nodes,
        last: 0,
    };
    p.parse_all();
    p.bufs.clear();
    *bufs = p.bufs;
    p.nodes
}

/// Whether the feed parser takes `line` as part of the header block: an
/// envelope (`From `) or continuation line (`Some(0)`), or printable ASCII
/// up to a `:` (its `headerRE`; `Some` of the `:`'s position).
fn header_line(line: &[u8]) -> Option<usize> {
    if line.starts_with(b"From ") || line.starts_with(b" ") || line.starts_with(b"\t") {
        return Some(0);
    }
    // printable ASCII up to a ':'
    crate::block::find_colon_or_unprintable(line).filter(|&i| line[i] == b':')
}

/// Decodes header bytes the way compat32 reads them back: ASCII as is,
/// every byte >= 0x80 as U+FFFD.
fn header_text(bytes: &[u8]) -> Cow<'_, str> {
    match crate::utf8::ascii_str(bytes) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(
            bytes
                .iter()
                .map(|&b| if b < 0x80 { char::from(b) } else { '\u{fffd}' })
                .collect(),
        ),
    }
}

impl Parser<'_> {
    fn next_item(&mut self) -> Option<Item> {
        if let Some(item) = self.bufs.pushback.pop() {
            return Some(item);
        }
        if self.pos >= self.raw.len() {
            return None;
        }
        let line = Line::at(self.raw, self.pos);
        self.pos = line.end;
        Some(Item::Line(line))
    }

    /// `true` if any matcher of the EOF stack matches `line`: the line is
    /// blank (with a blank matcher active), or, without trailing blanks, is
    /// an active separator, optionally followed by `--`.
    #[inline(always)]
    fn at_false_eof(&self, line: Line) -> bool {
        if line.is_blank() {
            return self.blank_active > 0;
        }
        let mut text = &self.raw[line.start..line.content_end];
        if self.bufs.active.is_empty() || !text.starts_with(b"--") {
            return false;
        }
        while let [rest @ .., b' ' | b'\t'] = text {
            text = rest;
        }
        self.bufs.active.contains_key(text)
            || text
                .strip_suffix(b"--")
                .is_some_and(|t| self.bufs.active.contains_key(t))
    }

    fn push_eof(&mut self, m: Matcher) {
        match &m {
            Matcher::Blank => self.blank_active += 1,
            Matcher::Boundary(sep) => *self.bufs.active.entry(Arc::clone(sep)).or_default() += 1,
        }
        self.bufs.eof.push(m);
    }

    fn pop_eof(&mut self) {
        match self.bufs.eof.pop() {
            Some(Matcher::Blank) => self.blank_active -= 1,
            Some(Matcher::Boundary(sep)) => {
                if let Some(n) = self.bufs.active.get_mut(&sep) {
                    *n -= 1;
                    if *n == 0 {
                        self.bufs.active.remove(&sep);
                    }
                }
            }
            None => {}
        }
    }

    /// `BufferedSubFile.readline`: `None` at EOF or at a false EOF (a line
    /// matching an enclosing matcher, which stays unread).
    fn readline(&mut self) -> Option<Line> {
        match self.next_item()? {
            Item::Empty => None,
            Item::Line(line) => {
                if self.at_false_eof(line) {
                    self.bufs.pushback.push(Item::Line(line));
                    None
                } else {
                    Some(line)
                }
            }
        }
    }

    fn unread(&mut self, line: Option<Line>) {
        self.bufs
            .pushback
            .push(line.map_or(Item::Empty, Item::Line));
    }

    fn bytes(&self, line: Line) -> &[u8] {
        &self.raw[line.start..line.end]
    }

    fn new_message(&mut self) -> usize {
        let default_message = self
            .bufs
            .stack
            .last()
            .is_some_and(|&cur| self.nodes[cur].content_type() == ("multipart", "digest"));
        let idx = self.nodes.len();
        self.nodes.push(Node {
            default_message,
            ..Node::default()
        });
        if let Some(&parent) = self.bufs.stack.last() {
            self.nodes[parent].parts += 1;
        }
        self.bufs.stack.push(idx);
        self.last = idx;
        idx
    }

    fn pop_message(&mut self) {
        self.bufs.stack.pop();
    }

    /// Collects every remaining line (until EOF or a false EOF).
    fn rest(&mut self) -> Ranges {
        let mut ranges = Ranges::default();
        // Pushed-back lines first, one by one.
        while !self.bufs.pushback.is_empty() {
            match self.readline() {
                Some(line) => ranges.push(line),
                None => return ranges,
            }
        }
        if self.blank_active == 0 {
            // Only a line starting with "--" can be a false EOF: jump from
            // one such line to the next instead of reading every line.
            let start = self.pos;
            let end = self.next_false_eof(start);
            if end > start {
                ranges.push(Line {
                    start,
                    content_end: end,
                    end,
                });
            }
            self.pos = end; // the matching line (if any) stays unread
            return ranges;
        }
        while let Some(line) = self.readline() {
            ranges.push(line);
        }
        ranges
    }

    /// The start of the first line at or after `from` (a line start) that
    /// an active boundary matcher matches, or the end of the input.
    fn next_false_eof(&self, from: usize) -> usize {
        let raw = self.raw;
        if self.bufs.active.is_empty() {
            return raw.len();
        }
        // (built once: a searcher's set-up costs more than a short search)
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"--"));
        let finder = &*FINDER;
        let mut at = from;
        while let Some(off) = finder.find(&raw[at..]) {
            let p = at + off;
            if p == from || raw[p - 1] == b'\n' || raw[p - 1] == b'\r' {
                let line = Line::at(raw, p);
                // A CR LF pair ends one line: "\r\n--" starts a line after
                // the LF only, which the p-1 check above already covers.
                if self.at_false_eof(line) {
                    return p;
                }
            }
            at = p + 1;
        }
        raw.len()
    }

    fn set_payload(&mut self, node: usize, ranges: Ranges) {
        self.nodes[node].payload = ranges;
    }

    /// `_parse_headers`: records the first Content-Type and CTE, handles
    /// envelope lines.
    fn parse_headers(&mut self, node: usize, lines: &[(Line, usize)]) {
        // (name length, start of the first line, end of the last line):
        // a header's lines are consecutive
        let mut current: Option<(usize, usize, usize)> = None;
        let n = lines.len();
        let raw = self.raw;
        for (lineno, &(line, colon)) in lines.iter().enumerate() {
            let text = &raw[line.start..line.end];
            if text[0] == b' ' || text[0] == b'\t' {
                if let Some(cur) = current.as_mut() {
                    cur.2 = line.end;
                }
                continue;
            }
            if let Some((name_len, start, end)) = current.take() {
                self.set_raw(node, name_len, start, end);
            }
            if text.starts_with(b"From ") {
                if lineno == 0 {
                    continue;
                } else if lineno == n - 1 {
                    self.unread(Some(line));
                    return;
                } else {
                    continue;
                }
            }
            // (a field line: its first `:`, found by `header_line`; a
            // name cannot be empty). Only the two headers `set_raw`
            // records matter, and only names of their lengths can be them.
            if colon == CONTENT_TYPE.len() || colon == CONTENT_TRANSFER_ENCODING.len() {
                current = Some((colon, line.start, line.end));
            }
        }
        if let Some((name_len, start, end)) = current.take() {
            self.set_raw(node, name_len, start, end);
        }
    }

    /// Records a header spanning `first_start..end` (its lines) if it is
    /// the first Content-Type or Content-Transfer-Encoding.
    fn set_raw(&mut self, node: usize, name_len: usize, first_start: usize, end: usize) {
        let name = &self.raw[first_start..first_start + name_len];
        let is_ct = name.eq_ignore_ascii_case(CONTENT_TYPE);
        let is_cte = name.eq_ignore_ascii_case(CONTENT_TRANSFER_ENCODING);
        if !(is_ct && self.nodes[node].content_type.is_none()
            || is_cte && self.nodes[node].cte.is_none())
        {
            return;
        }
        // value: after ':' with leading blanks removed, continuation lines
        // verbatim, trailing CR/LF removed.
        let mut start = first_start + name_len + 1;
        while start < end && matches!(self.raw[start], b' ' | b'\t') {
            start += 1;
        }
        let mut stop = end;
        while stop > start && matches!(self.raw[stop - 1], b'\r' | b'\n') {
            stop -= 1;
        }
        let value = header_text(&self.raw[start..stop]);
        if is_ct {
            self.nodes[node].content_type = Some(value);
        } else {
            self.nodes[node].cte = Some(value);
        }
    }

    /// Reads a node's header block and records its first Content-Type and
    /// Content-Transfer-Encoding (the start of `_parsegen`).
    fn begin_node(&mut self) -> usize {
        let node = self.new_message();
        let mut headers = std::mem::take(&mut self.bufs.scratch);
        headers.clear();
        while let Some(line) = self.readline() {
            let Some(colon) = header_line(self.bytes(line)) else {
                if !line.is_blank() {
                    self.unread(Some(line));
                }
                break;
            };
            headers.push((line, colon));
        }
        self.parse_headers(node, &headers);
        self.bufs.scratch = headers;
        let ct = self.nodes[node].compute_content_type();
        self.nodes[node].ctype = Some(ct);
        node
    }

    /// `_parsegen` without recursion: each frame is a message being parsed,
    /// in the state where it waits for its child (or starts). Nesting is
    /// therefore unbounded (CPython stops near 980 levels with a
    /// RecursionError, and we simply go on).
    fn parse_all(&mut self) {
        let mut frames = std::mem::take(&mut self.bufs.frames);
        frames.push(Frame::Start);
        while let Some(frame) = frames.pop() {
            match frame {
                Frame::Start => {
                    let node = self.begin_node();
                    let (main, sub) = self.nodes[node].content_type();
                    let (delivery_status, message, multipart) = (
                        main == "message" && sub == "delivery-status",
                        main == "message",
                        main == "multipart",
                    );
                    if delivery_status {
                        self.push_eof(Matcher::Blank);
                        frames.push(Frame::DeliveryStatus);
                        frames.push(Frame::Start);
                    } else if message {
                        frames.push(Frame::Message);
                        frames.push(Frame::Start);
                    } else if multipart {
                        match params::boundary(self.nodes[node].content_type.as_deref()) {
                            // A boundary with non-ASCII characters never equals
                            // body text (CPython holds 8-bit body bytes as
                            // surrogate escapes): the body stays whole.
                            Some(b) if b.is_ascii() => {
                                // (one allocation: the length is known)
                                let sep: Arc<[u8]> =
                                    b"--".iter().chain(b.as_bytes()).copied().collect();
                                frames.push(Frame::Multipart(Multipart {
                                    node,
                                    sep,
                                    capturing_preamble: true,
                                    preamble: Ranges::default(),
                                    waiting: false,
                                }));
                            }
                            _ => {
                                let rest = self.rest();
                                self.set_payload(node, rest);
                            }
                        }
                    } else {
                        let rest = self.rest();
                        self.set_payload(node, rest);
                    }
                }
                Frame::DeliveryStatus => {
                    // a header block was parsed
                    self.pop_message();
                    self.pop_eof();
                    let _blank = self.readline();
                    let line = self.readline();
                    if line.is_some() {
                        self.unread(line);
                        self.push_eof(Matcher::Blank);
                        frames.push(Frame::DeliveryStatus);
                        frames.push(Frame::Start);
                    }
                }
                Frame::Message => self.pop_message(),
                Frame::Multipart(mut mp) => {
                    if std::mem::take(&mut mp.waiting) {
                        // RFC 2046: the line end before a boundary belongs to it
                        let last = self.last;
                        if self.nodes[last].content_type().0 != "multipart"
                            && !self.nodes[last].is_multipart()
                        {
                            self.nodes[last].payload.trim_line_end(self.raw);
                        }
                        self.pop_eof();
                        self.pop_message();
                        self.last = mp.node;
                    }
                    if self.multipart_step(&mut mp) {
                        mp.waiting = true;
                        self.push_eof(Matcher::Boundary(Arc::clone(&mp.sep)));
                        frames.push(Frame::Multipart(mp));
                        frames.push(Frame::Start);
                    }
                }
            }
        }
        // (its room, for the next walk)
        self.bufs.frames = frames;
    }

    /// Runs a multipart's loop until the next part starts (`true`: the
    /// caller parses it) or the multipart ends (`false`).
    fn multipart_step(&mut self, mp: &mut Multipart) -> bool {
        while let Some(line) = self.readline() {
            match boundary_match(self.raw, &mp.sep, line) {
                Some(true) => {
                    // the close delimiter
                    if mp.capturing_preamble {
                        break;
                    }
                    // everything after it is the epilogue (ignored)
                    while self.readline().is_some() {}
                    return false;
                }
                Some(false) => {
                    if mp.capturing_preamble {
                        mp.capturing_preamble = false;
                        self.unread(Some(line));
                        continue;
                    }
                    // consume repeated boundary lines
                    loop {
                        let l = self.readline();
                        let again =
                            l.is_some_and(|l| boundary_match(self.raw, &mp.sep, l).is_some());
                        if !again {
                            self.unread(l);
                            break;
                        }
                    }
                    return true;
                }
                None => mp.preamble.push(line),
            }
        }
        if mp.capturing_preamble {
            // The start boundary was never found: the body stays whole.
            let preamble = std::mem::take(&mut mp.preamble);
            self.set_payload(mp.node, preamble);
            while self.readline().is_some() {}
        }
        // Otherwise EOF without a close delimiter: nothing more to do.
        false
    }
}

/// What a message being parsed waits for.
#[derive(Debug)]
enum Frame {
    /// Parse a new message at the current position.
    Start,
    /// A `message/delivery-status` whose current block was just parsed.
    DeliveryStatus,
    /// A `message/*` whose inner message was just parsed.
    Message,
    /// A multipart, starting or having just parsed a part.
    Multipart(Multipart),
}

#[derive(Debug)]
struct Multipart {
    node: usize,
    /// `--boundary`, shared with the EOF matchers of its parts.
    sep: Arc<[u8]>,
    capturing_preamble: bool,
    preamble: Ranges,
    /// Set while a part is being parsed.
    waiting: bool,
}

/// Byte ranges of the raw message, adjacent ones merged: the first held
/// in place (most payloads are one range), the others on the heap.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranges {
    first: Option<(usize, usize)>,
    more: Vec<(usize, usize)>,
}

impl Ranges {
    /// How many ranges there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn last_mut(&mut self) -> Option<&mut (usize, usize)> {
        match self.more.last_mut() {
            Some(last) => Some(last),
            None => self.first.as_mut(),
        }
    }

    fn pop(&mut self) {
        if self.more.pop().is_none() {
            self.first = None;
        }
    }

    /// Appends a line's bytes (merged into the last range when adjacent).
    fn push(&mut self, line: Line) {
        match self.last_mut() {
            Some(last) if last.1 == line.start => last.1 = line.end,
            Some(_) => self.more.push((line.start, line.end)),
            None => self.first = Some((line.start, line.end)),
        }
    }

    /// `NLCRE_eol`: removes one trailing CR LF, CR or LF.
    fn trim_line_end(&mut self, raw: &[u8]) {
        while let Some(last) = self.last_mut() {
            let (s, e) = *last;
            if s == e {
                self.pop();
                continue;
            }
            last.1 -= if raw[e - 1] == b'\n' {
                if e - s >= 2 && raw[e - 2] == b'\r' {
                    2
                } else {
                    1
                }
            } else if raw[e - 1] == b'\r' {
                1
            } else {
                0
            };
            if last.0 == last.1 {
                self.pop();
            }
            return;
        }
    }
}

/// `boundarymatch`: `Some(true)` for a close delimiter, `Some(false)` for a
/// separator, `None` otherwise. After `--boundary`: optional `--`, then
/// spaces/tabs, then the line end (or the end of input).
fn boundary_match(raw: &[u8], sep: &[u8], line: Line) -> Option<bool> {
    let text = &raw[line.start..line.content_end];
    let rest = text.strip_prefix(sep)?;
    if rest.iter().all(|&b| b == b' ' || b == b'\t') {
        return Some(false);
    }
    let after = rest.strip_prefix(b"--")?;
    after
        .iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(raw: &[u8]) -> Vec<(String, String)> {
        parse(raw)
            .iter()
            .map(|n| {
                let (m, s) = n.content_type();
                (
                    format!("{m}/{s}{}", if n.is_multipart() { "*" } else { "" }),
                    String::from_utf8_lossy(&n.payload(raw)).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn simple_message() {
        let p = payloads(b"Subject: x\nContent-Type: text/html\n\nbody\nline\n");
        assert_eq!(p, [("text/html".to_owned(), "body\nline\n".to_owned())]);
        let p = payloads(b"no header line\nsecond\n");
        assert_eq!(p[0].1, "no header line\nsecond\n");
        let p = payloads(b"Subject: x\nNote: swallowed\nbody\n");
        assert_eq!(p[0].1, "body\n");
    }

    #[test]
    fn multipart_parts_and_trimming() {
        let raw = b"Content-Type: multipart/mixed; boundary=B\n\npreamble\n--B\nContent-Type: text/plain\n\none\n--B\n\ntwo\r\n--B--\nepilogue\n";
        let p = payloads(raw);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].0, "multipart/mixed*");
        assert_eq!(p[1], ("text/plain".to_owned(), "one".to_owned()));
        assert_eq!(p[2], ("text/plain".to_owned(), "two".to_owned()));
    }

    #[test]
    fn unsplittable_multiparts_keep_their_body() {
        let p = payloads(b"Content-Type: multipart/mixed\n\n--B\nx\n");
        assert_eq!(p, [("multipart/mixed".to_owned(), "--B\nx\n".to_owned())]);
        let p = payloads(b"Content-Type: multipart/mixed; boundary=Q\n\n--B\nx\n");
        assert_eq!(p, [("multipart/mixed".to_owned(), "--B\nx\n".to_owned())]);
    }

    #[test]
    fn nested_and_outer_boundaries() {
        let raw = b"Content-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/alternative; boundary=I\n\n--I\n\ninner\n--O\n\nouter\n--O--\n";
        let p = payloads(raw);
        let kinds: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "multipart/mixed*",
                "multipart/alternative*",
                "text/plain",
                "text/plain"
            ]
        );
        assert_eq!(p[2].1, "inner");
        assert_eq!(p[3].1, "outer");
    }

    #[test]
    fn message_rfc822_and_digest_defaults() {
        let raw = b"Content-Type: multipart/digest; boundary=D\n\n--D\n\nSubject: inner\n\nhello\n--D--\n";
        let p = payloads(raw);
        let kinds: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            kinds,
            ["multipart/digest*", "message/rfc822*", "text/plain"]
        );
        assert_eq!(p[2].1, "hello");
    }

    #[test]
    fn from_line_in_last_header_position() {
        let p = payloads(b"Subject: x\nFrom nobody\n\nbody\n");
        assert_eq!(p[0].1, "From nobody\nbody\n");
        assert_eq!(
            parse(b"Subject: x\nFrom nobody\n\nbody\n")[0].payload.len(),
            2
        );
    }

    #[test]
    fn delivery_status_blocks() {
        let raw = b"Content-Type: message/delivery-status\n\nReporting-MTA: x\n\nAction: failed\nnot a header\nmore\n\n";
        let p = payloads(raw);
        let texts: Vec<&str> = p.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(texts, ["", "", "not a header\nmore\n"]);
    }

    #[test]
    fn deep_nesting_needs_no_stack() {
        // far deeper than CPython (RecursionError near 980 levels)
        let mut raw = Vec::new();
        for i in 0..20_000 {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        raw.extend_from_slice(b"\ntext here\n");
        let nodes = parse(&raw);
        assert_eq!(nodes.len(), 20_001);
        assert_eq!(nodes[20_000].payload(&raw).as_ref(), b"text here");
        let mut raw = b"Content-Type: message/rfc822\n\n".repeat(20_000);
        raw.extend_from_slice(b"\nbody\n");
        assert_eq!(parse(&raw).len(), 20_001);
    }
}
