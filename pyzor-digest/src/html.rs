//! HTML to text as pyzor 1.1.2 does it: CPython's `html.parser.HTMLParser`
//! (the reference build, Debian's 3.11.2-6+deb12u9, with its 2025 security
//! fixes) fed the whole part once and never closed, with a collector that
//! keeps stripped text chunks outside `<script>`/`<style>` and joins them
//! with single spaces.
//!
//! html5ever cannot be used: an HTML5 tree builder closes what is left open
//! at the end, reports the text that the reference holds back (an unclosed
//! tag, comment or `&…` near the end is lost there), and splits or merges
//! text chunks differently, and every one of those changes the digest. The
//! tokenizer below follows `HTMLParser.goahead(end=False)` instead, with
//! each regular expression of the reference written out as a scanner.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use memchr::memchr;

use pyzor_core::pycompat::is_py_whitespace;

use crate::strip::py_strip;

use crate::block;
use crate::generated::entities::{ENTITIES, INVALID_CHARREFS, INVALID_CODEPOINTS};

/// `"script"` or `"style"` if the tag name `name` lowercases (Python's
/// `str.lower()`) to it. Comparing ASCII case-insensitively is the same
/// test: the only non-ASCII character that lowercases into ASCII is the
/// Kelvin sign (to `k`), which neither name holds.
fn raw_text_element(name: &str) -> Option<&'static str> {
    ["script", "style"]
        .into_iter()
        .find(|e| name.eq_ignore_ascii_case(e))
}

/// `[\t\n\r\f ]`, the HTML whitespace of the tokenizer's patterns.
#[inline]
fn is_html_space(b: u8) -> bool {
    class(b) & SPACE != 0
}

/// Byte classes of the tag patterns: `[\t\n\r\f ]`, `/`, `=`, `>`.
const SPACE: u8 = 1;
const SLASH: u8 = 2;
const EQUALS: u8 = 4;
const GT: u8 = 8;

/// The class bits of every byte: the tag walk tests a byte with one load
/// and one test, where a chain of compares gave a branch per compare (and
/// mispredicted ones at the end of every name and value).
static TAG_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0c] = SPACE;
    t[b' ' as usize] = SPACE;
    t[b'/' as usize] = SLASH;
    t[b'=' as usize] = EQUALS;
    t[b'>' as usize] = GT;
    t
};

#[inline(always)]
fn class(b: u8) -> u8 {
    TAG_CLASS[usize::from(b)]
}

/// The text of an HTML part: stripped data chunks joined by one space.
pub(crate) fn html_to_text(raw: &str) -> String {
    let mut p = Parser {
        raw,
        collect: true,
        cdata: None,
        text: String::with_capacity(raw.len() / 2),
        quotes: QuoteMemo::default(),
        scratch: String::new(),
    };
    p.goahead();
    p.text
}

struct Parser<'a> {
    raw: &'a str,
    collect: bool,
    /// The raw-text element we are inside (`script` or `style`).
    cdata: Option<&'static str>,
    /// The collected chunks joined by single spaces.
    text: String,
    quotes: QuoteMemo,
    /// Reused buffer for unescaped text.
    scratch: String,
}

impl Parser<'_> {
    fn handle_data(&mut self, data: &str) {
        if !self.collect {
            return;
        }
        let d = py_strip(data);
        if !d.is_empty() {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(d);
        }
    }

    /// `tag`: the raw-text element the tag names, if any (see
    /// [`raw_text_element`]); no other tag matters to the collector.
    fn handle_starttag(&mut self, tag: Option<&'static str>) {
        if tag.is_some() {
            self.collect = false;
        }
    }

    fn handle_endtag(&mut self, tag: Option<&'static str>) {
        if tag.is_some() {
            self.collect = true;
        }
    }

    fn goahead(&mut self) {
        let raw = self.raw;
        let b = raw.as_bytes();
        let n = b.len();
        let mut i = 0;
        while i < n {
            let j;
            if let Some(elem) = self.cdata {
                match find_cdata_end(b, i, elem) {
                    Some(pos) => j = pos,
                    None => break,
                }
                if i < j {
                    self.handle_data(&raw[i..j]);
                }
            } else {
                // text between tags is often only indentation: skipped
                // sixteen bytes at a time, it is no data at all
                let lead = block::ws_prefix(&b[i..]);
                let tag_next = b.get(i + lead) == Some(&b'<');
                if tag_next {
                    i += lead;
                } else if i + lead == n && lead > 0 {
                    break; // only whitespace is left: no data
                }
                // (a tag right here — most of the time — needs no search)
                match if tag_next {
                    Some(0)
                } else {
                    block::find_byte(b'<', &b[i..])
                } {
                    Some(off) => j = i + off,
                    None => {
                        // An '&' among the last 34 characters with no
                        // [\t\n\r\f ;] after it: the parser waits for more
                        // text that never comes.
                        let from = i.max(char_offset_from_end(raw, 34));
                        if let Some(amp) =
                            b[from..].iter().rposition(|&c| c == b'&').map(|p| p + from)
                            && !b[amp..].iter().any(|&c| is_html_space(c) || c == b';')
                        {
                            break;
                        }
                        j = n;
                    }
                }
                if i < j && self.collect {
                    let data = &raw[i..j];
                    match block::find_byte(b'&', data.as_bytes()) {
                        Some(amp) => {
                            let mut scratch = std::mem::take(&mut self.scratch);
                            scratch.clear();
                            unescape_into(data, amp, &mut scratch);
                            self.handle_data(&scratch);
                            self.scratch = scratch;
                        }
                        None => self.handle_data(data),
                    }
                }
            }
            i = j;
            if i == n {
                break;
            }
            // b[i] == b'<'
            let k: Option<usize> = if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
                self.parse_starttag(i)
            } else if b[i..].starts_with(b"</") {
                self.parse_endtag(i)
            } else if b[i..].starts_with(b"<!--") {
                find_comment_close(raw, i + 4)
            } else if b[i..].starts_with(b"<?") {
                memchr(b'>', &b[i + 2..]).map(|p| i + 2 + p + 1)
            } else if b[i..].starts_with(b"<!") {
                parse_html_declaration(raw, i)
            } else if i + 1 < n {
                self.handle_data("<");
                Some(i + 1)
            } else {
                None
            };
            match k {
                Some(k) => i = k,
                None => break, // unterminated construct: the rest is lost
            }
        }
    }

    /// `parse_starttag`; `None` if the tag is not terminated.
    fn parse_starttag(&mut self, i: usize) -> Option<usize> {
        let raw = self.raw;
        let b = raw.as_bytes();
        let TagEnd {
            end: endpos,
            name_end,
            attrs_end: k,
        } = locate_tag_end(b, i + 1, &mut self.quotes);
        if b[endpos - 1] != b'>' {
            return None;
        }
        let tag = raw_text_element(&raw[i + 1..name_end]);
        let end = if k <= endpos {
            // (almost always the `>` alone)
            match &raw[k..endpos] {
                ">" => ">",
                tail => py_strip(tail),
            }
        } else {
            ""
        };
        if end != ">" && end != "/>" {
            self.handle_data(&raw[i..endpos]);
            return Some(endpos);
        }
        if end.ends_with("/>") {
            self.handle_starttag(tag);
            self.handle_endtag(tag);
        } else {
            self.handle_starttag(tag);
            self.cdata = tag;
        }
        Some(endpos)
    }

    /// `parse_endtag`; `None` if not terminated.
    fn parse_endtag(&mut self, i: usize) -> Option<usize> {
        let raw = self.raw;
        let b = raw.as_bytes();
        if !b.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
            // (no '>' at all: not terminated)
            let gt = memchr(b'>', &b[i + 2..])?;
            if gt == 0 {
                return Some(i + 3); // "</>" is ignored
            }
            return Some(i + 2 + gt + 1); // bogus comment
        }
        // The reference first checks that a '>' follows at all. Without
        // one the walk below cannot end after a '>' either, and gives the
        // same `None`: the search is not needed.
        let TagEnd {
            end: j, name_end, ..
        } = locate_tag_end(b, i + 2, &mut self.quotes);
        if b[j - 1] != b'>' {
            return None;
        }
        let tag = raw_text_element(&raw[i + 2..name_end]);
        self.handle_endtag(tag);
        self.cdata = None;
        Some(j)
    }
}

/// Byte offset of the character `count` characters before the end (0 if
/// the text is shorter).
fn char_offset_from_end(s: &str, count: usize) -> usize {
    s.char_indices().rev().nth(count - 1).map_or(0, |(i, _)| i)
}

/// The raw-text end `</script` (or `</style`), ASCII case-insensitive,
/// followed by one of `\t\n\r\f />`.
fn find_cdata_end(b: &[u8], from: usize, elem: &str) -> Option<usize> {
    let e = elem.as_bytes();
    let mut i = from;
    while let Some(off) = memchr(b'<', &b[i..]) {
        let p = i + off;
        let rest = &b[p..];
        if rest.len() > 2 + e.len()
            && rest[1] == b'/'
            && rest[2..2 + e.len()].eq_ignore_ascii_case(e)
            && matches!(
                rest[2 + e.len()],
                b'\t' | b'\n' | b'\r' | 0x0c | b' ' | b'/' | b'>'
            )
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// `true` if the character before `k` allows an attribute name to start
/// (the look-behind `(?<=['"\t\n\r\f /])`).
fn attr_may_start(b: &[u8], k: usize) -> bool {
    k > 0
        && matches!(
            b[k - 1],
            b'\'' | b'"' | b'\t' | b'\n' | b'\r' | 0x0c | b' ' | b'/'
        )
}

/// An attribute name `[^\t\n\r\f />][^\t\n\r\f /=>]*` at `k`.
fn attr_name(b: &[u8], k: usize) -> Option<usize> {
    let c = *b.get(k)?;
    if class(c) & (SPACE | SLASH | GT) != 0 {
        return None;
    }
    let mut e = k + 1;
    while e < b.len() && class(b[e]) & (SPACE | SLASH | EQUALS | GT) == 0 {
        e += 1;
    }
    Some(e)
}

/// Remembers, per quote character, a position from which the text holds no
/// such quote, so that a tag full of unclosed quotes is not rescanned
/// (which would make the scan quadratic).
#[derive(Default)]
struct QuoteMemo {
    /// Per quote (`'`, `"`): a position from which there is none.
    none_from: [Option<usize>; 2],
}

impl QuoteMemo {
    fn find(&mut self, b: &[u8], q: u8, from: usize) -> Option<usize> {
        let slot = &mut self.none_from[usize::from(q == b'"')];
        if slot.is_some_and(|none| from >= none) {
            return None;
        }
        let found = block::find_byte(q, &b[from..]).map(|off| from + off);
        if found.is_none() {
            *slot = Some(from);
        }
        found
    }
}

/// The optional value part `[\t\n\r\f ]*=[\t\n\r\f ]*('…'|"…"|(?!['"])[^>\t\n\r\f ]*)`
/// at `k`, with the regex engine's backtracking: where a quote has no
/// partner, one blank before it is given back and the value is empty.
fn attr_value(b: &[u8], k: usize, memo: &mut QuoteMemo) -> Option<usize> {
    let mut p = k;
    while p < b.len() && is_html_space(b[p]) {
        p += 1;
    }
    if b.get(p) != Some(&b'=') {
        return None;
    }
    let eq = p;
    p += 1;
    while p < b.len() && is_html_space(b[p]) {
        p += 1;
    }
    match b.get(p) {
        Some(&q @ (b'\'' | b'"')) => match memo.find(b, q, p + 1) {
            Some(close) => Some(close + 1),
            None if p > eq + 1 => Some(p - 1),
            None => None,
        },
        _ => {
            while p < b.len() && class(b[p]) & (SPACE | GT) == 0 {
                p += 1;
            }
            Some(p)
        }
    }
}

/// What the tokenizer's tag patterns find in the tag whose name starts at
/// `i` (see [`locate_tag_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TagEnd {
    /// The end of the `locatetagend` match (after the `>`, when there is
    /// one).
    end: usize,
    /// The end of the tag name (`tagfind_tolerant`'s group).
    name_end: usize,
    /// Where `parse_starttag`'s `attrfind_tolerant` loop stops.
    attrs_end: usize,
}

/// `locatetagend` at `i` (an ASCII letter), with the end of the tag name
/// and of the attributes found on the same pass.
///
/// The reference matches each tag twice: `locatetagend` for its end, then
/// `tagfind_tolerant` and `attrfind_tolerant` from the start again for
/// the name and the attributes. Both walk the same name and attributes;
/// they differ only in the blanks they skip between them: `[\t\n\r\f /]*`
/// for the first, `(?:[\t\n\r\f ]|/(?!>))*` for the others, which stop
/// at a `/` just before `>` — and after such a `/` the first stops too,
/// since `>` can start no attribute. So one walk gives all three ends
/// (checked against the two-walk model in the tests).
fn locate_tag_end(b: &[u8], i: usize, memo: &mut QuoteMemo) -> TagEnd {
    let mut k = i + 1;
    while k < b.len() && class(b[k]) & (SPACE | SLASH | GT) == 0 {
        k += 1;
    }
    let name_end = k;
    // (where `[\t\n\r\f /]*` stops, where `(?:[\t\n\r\f ]|/(?!>))*` does)
    let skip = |from: usize| {
        let mut k = from;
        while k < b.len() && class(b[k]) & (SPACE | SLASH) != 0 {
            k += 1;
        }
        if k > from && b[k - 1] == b'/' && b.get(k) == Some(&b'>') {
            (k, k - 1)
        } else {
            (k, k)
        }
    };
    let (mut k, mut attrs_end) = skip(k);
    while attr_may_start(b, k) {
        let Some(mut e) = attr_name(b, k) else { break };
        if let Some(v) = attr_value(b, e, memo) {
            e = v;
        }
        (k, attrs_end) = skip(e);
    }
    if b.get(k) == Some(&b'>') {
        k += 1;
    }
    TagEnd {
        end: k,
        name_end,
        attrs_end,
    }
}

/// `parse_comment`: searches `--\s*>` from `from` (Unicode `\s`);
/// returns the end of the match.
fn find_comment_close(text: &str, from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = text[i..].find("--") {
        let p = i + off + 2;
        let rest = &text[p..];
        let trimmed = rest.trim_start_matches(is_py_whitespace);
        if trimmed.starts_with('>') {
            return Some(p + (rest.len() - trimmed.len()) + 1);
        }
        i = i + off + 1;
    }
    None
}

/// `parse_html_declaration` at `i` (`<!`, not a comment).
fn parse_html_declaration(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b[i..].starts_with(b"<![CDATA[") {
        // parse_marked_section: the name "CDATA" always scans, then look
        // for `]\s*]\s*>`.
        let mut p = i + 3;
        while let Some(off) = text[p..].find(']') {
            let q = p + off + 1;
            let rest = text[q..].trim_start_matches(is_py_whitespace);
            if let Some(r) = rest.strip_prefix(']') {
                let r2 = r.trim_start_matches(is_py_whitespace);
                if r2.starts_with('>') {
                    return Some(text.len() - r2.len() + 1);
                }
            }
            p = q;
        }
        None
    } else if b.len() >= i + 9 && b[i..i + 9].eq_ignore_ascii_case(b"<!doctype") {
        memchr(b'>', &b[i + 9..]).map(|p| i + 9 + p + 1)
    } else {
        memchr(b'>', &b[i + 2..]).map(|p| i + 2 + p + 1)
    }
}

/// `html.unescape`: numeric and named character references, HTML5 rules
/// (the parser itself unescapes into a reused buffer).
#[cfg(test)]
fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(amp) = s.find('&') else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    unescape_into(s, amp, &mut out);
    std::borrow::Cow::Owned(out)
}

/// `html.unescape` of `s`, appended to `out`: numeric and named character
/// references, HTML5 rules. `amp` is the position of the first `&` (the
/// caller found it deciding whether to call): references are often a few
/// bytes apart (`&nbsp;&nbsp;`), so each next one is searched sixteen
/// bytes in line first.
fn unescape_into(s: &str, amp: usize, out: &mut String) {
    let b = s.as_bytes();
    let mut copied = 0;
    let mut next = Some(amp);
    while let Some(amp) = next {
        let i = match charref(s, amp) {
            Some((end, repl)) => {
                out.push_str(&s[copied..amp]);
                repl.push_to(out);
                copied = end;
                end
            }
            None => amp + 1,
        };
        next = block::find_byte(b'&', &b[i..]).map(|off| i + off);
    }
    out.push_str(&s[copied..]);
}

/// What a character reference stands for.
enum Repl<'a> {
    /// A fixed text (an entity's value; U+FFFD; nothing).
    Str(&'static str),
    /// One code point.
    Char(char),
    /// An entity that is a prefix of the name, then the rest of the name.
    Prefix(&'static str, &'a str),
    /// No entity: `&` and the name as written.
    Amp(&'a str),
}

impl Repl<'_> {
    fn push_to(&self, out: &mut String) {
        match *self {
            Repl::Str(v) => out.push_str(v),
            Repl::Char(c) => out.push(c),
            Repl::Prefix(v, rest) => {
                out.push_str(v);
                out.push_str(rest);
            }
            Repl::Amp(name) => {
                out.push('&');
                out.push_str(name);
            }
        }
    }
}

/// One reference at `amp` (`&`): (end of the match, replacement).
fn charref(s: &str, amp: usize) -> Option<(usize, Repl<'_>)> {
    let b = s.as_bytes();
    let p = amp + 1;
    if b.get(p) == Some(&b'#') {
        let (digits_start, radix) = match b.get(p + 1) {
            Some(b'x' | b'X') if b.get(p + 2).is_some_and(u8::is_ascii_hexdigit) => (p + 2, 16),
            Some(c) if c.is_ascii_digit() => (p + 1, 10),
            _ => return None,
        };
        let mut e = digits_start;
        while e < b.len()
            && (if radix == 16 {
                b[e].is_ascii_hexdigit()
            } else {
                b[e].is_ascii_digit()
            })
        {
            e += 1;
        }
        let digits = &s[digits_start..e];
        if b.get(e) == Some(&b';') {
            e += 1;
        }
        let num = u32::from_str_radix(digits.trim_start_matches('0'), radix)
            .ok()
            .or_else(|| {
                // empty after trimming zeros means 0; otherwise it overflowed
                digits.trim_start_matches('0').is_empty().then_some(0)
            });
        let repl = match num {
            None => Repl::Str("\u{fffd}"),
            Some(n) => numeric_replacement(n),
        };
        return Some((e, repl));
    }
    // [^\t\n\f <&#;]{1,32};?
    let mut e = p;
    let mut count = 0;
    for (off, c) in s[p..].char_indices() {
        if count == 32 || matches!(c, '\t' | '\n' | '\u{c}' | ' ' | '<' | '&' | '#' | ';') {
            e = p + off;
            break;
        }
        count += 1;
        e = p + off + c.len_utf8();
    }
    if count == 0 {
        return None;
    }
    let semi = b.get(e) == Some(&b';');
    let name_end = if semi { e + 1 } else { e };
    let name = &s[p..name_end];
    if let Some(v) = entity(name) {
        return Some((name_end, Repl::Str(v)));
    }
    // the longest prefix (of at least 2 characters) that is an entity;
    // only names without ';' can be prefixes, and none is longer than
    // max_legacy_len()
    let ends: Vec<usize> = name
        .char_indices()
        .map(|(i, _)| i)
        .take(max_legacy_len() + 1)
        .collect();
    for x in (2..ends.len()).rev() {
        if let Some(v) = entity(&name[..ends[x]]) {
            return Some((name_end, Repl::Prefix(v, &name[ends[x]..])));
        }
    }
    Some((name_end, Repl::Amp(name)))
}

/// The value of the entity `name` (with its `;`, if it has one).
fn entity(name: &str) -> Option<&'static str> {
    // the names of most references in mail, without hashing (the test
    // `frequent_entities_match_the_table` checks them against the table)
    match name {
        "nbsp;" => return Some("\u{a0}"),
        "amp;" => return Some("&"),
        "lt;" => return Some("<"),
        "gt;" => return Some(">"),
        "quot;" => return Some("\""),
        _ => {}
    }
    static MAP: OnceLock<HashMap<&'static str, &'static str, BuildHasherDefault<FnvHasher>>> =
        OnceLock::new();
    MAP.get_or_init(|| ENTITIES.iter().copied().collect())
        .get(name)
        .copied()
}

/// The longest entity name without the trailing `;` (the only kind a
/// prefix can match).
fn max_legacy_len() -> usize {
    static LEN: OnceLock<usize> = OnceLock::new();
    *LEN.get_or_init(|| {
        ENTITIES
            .iter()
            .filter(|(k, _)| !k.ends_with(';'))
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
    })
}

/// FNV-1a, for the entity table (short keys, no untrusted flooding concern:
/// the table is fixed).
#[derive(Default)]
struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

fn numeric_replacement(n: u32) -> Repl<'static> {
    if let Ok(i) = INVALID_CHARREFS.binary_search_by(|(k, _)| k.cmp(&n)) {
        return Repl::Char(INVALID_CHARREFS[i].1);
    }
    if (0xd800..=0xdfff).contains(&n) || n > 0x10ffff {
        return Repl::Str("\u{fffd}");
    }
    if INVALID_CODEPOINTS.binary_search(&n).is_ok() {
        return Repl::Str("");
    }
    char::from_u32(n).map_or(Repl::Str("\u{fffd}"), Repl::Char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_entities_match_the_table() {
        for name in ["nbsp;", "amp;", "lt;", "gt;", "quot;"] {
            let table = ENTITIES.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            assert!(table.is_some());
            assert_eq!(entity(name), table, "{name}");
        }
        assert_eq!(entity("nbsp"), Some("\u{a0}"));
        assert_eq!(entity("nbspx;"), None);
    }

    // The reference's two walks over a tag, as the tokenizer did them
    // before they became one (see `locate_tag_end`): the model of the
    // one-walk scanner.
    /// `tagfind_tolerant` at `i` (which holds an ASCII letter):
    /// `([a-zA-Z][^\t\n\r\f />]*)(?:[\t\n\r\f ]|/(?!>))*`. Returns (end of the
    /// name, end of the match).
    fn tagfind(b: &[u8], i: usize) -> (usize, usize) {
        let mut k = i + 1;
        while k < b.len() && !is_html_space(b[k]) && b[k] != b'/' && b[k] != b'>' {
            k += 1;
        }
        let name_end = k;
        while k < b.len() && (is_html_space(b[k]) || (b[k] == b'/' && b.get(k + 1) != Some(&b'>')))
        {
            k += 1;
        }
        (name_end, k)
    }

    /// `attrfind_tolerant` at `k`; `None` when it does not match.
    fn attrfind(b: &[u8], k: usize, memo: &mut QuoteMemo) -> Option<usize> {
        if !attr_may_start(b, k) {
            return None;
        }
        let mut e = attr_name(b, k)?;
        if let Some(v) = attr_value(b, e, memo) {
            e = v;
        }
        while e < b.len() && (is_html_space(b[e]) || (b[e] == b'/' && b.get(e + 1) != Some(&b'>')))
        {
            e += 1;
        }
        Some(e)
    }

    /// `locatetagend` at `i` (an ASCII letter): the end of the match.
    fn locatetagend(b: &[u8], i: usize, memo: &mut QuoteMemo) -> usize {
        let mut k = i + 1;
        while k < b.len() && !is_html_space(b[k]) && b[k] != b'/' && b[k] != b'>' {
            k += 1;
        }
        let skip = |mut k: usize| {
            while k < b.len() && (is_html_space(b[k]) || b[k] == b'/') {
                k += 1;
            }
            k
        };
        k = skip(k);
        while attr_may_start(b, k) {
            let Some(mut e) = attr_name(b, k) else { break };
            if let Some(v) = attr_value(b, e, memo) {
                e = v;
            }
            k = skip(e);
        }
        if b.get(k) == Some(&b'>') {
            k += 1;
        }
        k
    }

    /// `locate_tag_end`'s three ends by the two-walk model: the end of
    /// `locatetagend`, then `tagfind_tolerant` and the `attrfind_tolerant`
    /// loop of `parse_starttag` (up to that end).
    fn two_walks(b: &[u8], i: usize) -> TagEnd {
        let end = locatetagend(b, i, &mut QuoteMemo::default());
        let mut memo = QuoteMemo::default();
        let (name_end, mut k) = tagfind(b, i);
        while k < end {
            match attrfind(b, k, &mut memo) {
                Some(e) => k = e,
                None => break,
            }
        }
        TagEnd {
            end,
            name_end,
            attrs_end: k,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// One walk over a tag finds what the reference's two walks find,
        /// on tags made of the bytes its patterns look at.
        #[test]
        fn one_walk_is_the_two_walks(
            tail in proptest::collection::vec(
                proptest::sample::select(b"ab=/>'\" \t\n<".to_vec()),
                0..40,
            )
        ) {
            let mut b = b"<a".to_vec();
            b.extend_from_slice(&tail);
            let one = locate_tag_end(&b, 1, &mut QuoteMemo::default());
            let two = two_walks(&b, 1);
            proptest::prop_assert_eq!(one.end, two.end);
            proptest::prop_assert_eq!(one.name_end, two.name_end);
            // the attribute end only matters for a tag that is closed
            if b[one.end - 1] == b'>' {
                proptest::prop_assert_eq!(one.attrs_end, two.attrs_end);
            }
        }
    }

    #[test]
    fn text_and_tags() {
        assert_eq!(html_to_text("<p>a</p><p>b</p>"), "a b");
        assert_eq!(html_to_text("<b>abcd</b>efghij"), "abcd efghij");
        assert_eq!(
            html_to_text("x<script>var a = '<p>';</script>y<style>p{}</style>z"),
            "x y z"
        );
        assert_eq!(html_to_text("a<SCRIPT>s</script foo>b"), "a b");
        assert_eq!(html_to_text("a<script/>b"), "a b");
        assert_eq!(html_to_text("a < b <1> c"), "a < b < 1> c");
        assert_eq!(
            html_to_text("a<!-- c -->b<!x>c<?pi>d<!DOCTYPE html>e</>f</ 3>g"),
            "a b c d e f g"
        );
        assert_eq!(
            html_to_text("a<![CDATA[ x ]]>b<![if !mso]>c<![endif]>d"),
            "a b c d"
        );
        assert_eq!(html_to_text("<title>T</title><img alt='x'>body"), "T body");
    }

    #[test]
    fn indentation_between_tags_is_no_data() {
        let indent = " \t\r\n".repeat(20);
        let html = format!("{indent}<p>{indent}a{indent}</p>{indent}<p>b c</p>{indent}");
        assert_eq!(html_to_text(&html), "a b c");
        // whitespace then an entity, then whitespace only at the end
        assert_eq!(html_to_text(&format!("<p>{indent}&amp;{indent}</p>")), "&");
        assert_eq!(html_to_text(&format!("x{indent}")), "x");
        assert_eq!(html_to_text(&format!("x</p>{indent}")), "x");
        // non-ASCII whitespace (NBSP, ideographic space) is stripped too
        assert_eq!(
            html_to_text("<p>\u{a0} a \u{3000}</p> \u{a0} <p>&nbsp;b</p>"),
            "a b"
        );
        // an unterminated '&' after indentation still holds back the end
        assert_eq!(html_to_text(&format!("a<p>{indent}&b")), "a");
    }

    #[test]
    fn held_back_and_unterminated() {
        assert_eq!(html_to_text("<p>kept</p>Tom&Jerry"), "kept");
        assert_eq!(html_to_text("<p>kept</p>Tom&Jerry ok"), "kept Tom&Jerry ok");
        assert_eq!(html_to_text("a<b"), "a");
        assert_eq!(html_to_text("a<!-- never closed"), "a");
        assert_eq!(html_to_text("a<style>never closed"), "a");
        assert_eq!(html_to_text("a<!-- x --!> b"), "a");
        assert_eq!(html_to_text("a<"), "a");
    }

    #[test]
    fn entities() {
        assert_eq!(
            unescape(
                "&amp; &lt;&gt &copy2024 &notit; &ampx &bogus; &#65;&#x42;&#0;&#13;&#128;&#129;&#1;&#xD800;&#99999999999;"
            ),
            "& <> \u{a9}2024 \u{ac}it; &x &bogus; AB\u{fffd}\r\u{20ac}\u{81}\u{fffd}\u{fffd}"
        );
        assert_eq!(unescape("&#10;&nbsp;"), "\n\u{a0}");
        assert_eq!(unescape("a & b &# &#x; &"), "a & b &# &#x; &");
    }
}
