//! Content-Type parameters as CPython's `email.message.Message` reads them
//! (compat32): `_parseparam`, `utils.decode_params` (RFC 2231), `get_param`,
//! `get_content_charset`, `get_boundary`.
//!
//! The steps are ported one by one, including their quirks (double
//! unquoting of boundaries, plain parameters listed before RFC 2231 ones,
//! the content type itself taking part in name matching), because any
//! shortcut changes which charset or boundary a malformed header yields.

use std::borrow::Cow;

use pyzor_core::pycompat::is_py_whitespace;

use crate::strip::py_strip;

use crate::charset::{self, Errors};

/// A parameter value: plain, or RFC 2231 extended (`charset'lang'text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamValue<'a> {
    /// An ordinary (unquoted) value, borrowed from the header where
    /// unquoting leaves it as written.
    Plain(Cow<'a, str>),
    /// An RFC 2231 value whose pieces were `%`-decoded as Latin-1.
    Extended {
        charset: Option<String>,
        text: String,
    },
}

/// `email.utils.unquote`.
pub(crate) fn unquote(s: &str) -> Cow<'_, str> {
    // more than one character: a single multi-byte one is neither a quote
    // nor a bracket, so the byte length tells the same
    if s.len() > 1 {
        if s.starts_with('"') && s.ends_with('"') {
            let inner = &s[1..s.len() - 1];
            if !inner.contains('\\') {
                return Cow::Borrowed(inner);
            }
            return Cow::Owned(inner.replace("\\\\", "\\").replace("\\\"", "\""));
        }
        if s.starts_with('<') && s.ends_with('>') {
            return Cow::Borrowed(&s[1..s.len() - 1]);
        }
    }
    Cow::Borrowed(s)
}

/// [`unquote`] of an owned string, which is given back when unquoting
/// leaves it as it is (no copy).
fn unquote_owned(s: String) -> String {
    match unquote(&s) {
        Cow::Borrowed(t) if t.len() == s.len() => s,
        other => other.into_owned(),
    }
}

/// `email.utils.quote`.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `email.message._parseparam` followed by the split of
/// `_get_params_preserve`, as a lazy iterator: yields (name, value) per
/// piece, both stripped. The name is as written: `_parseparam` lower-cases
/// it when the piece has a `=`, which only the grouping of RFC 2231
/// continuations needs ([`lower_name`]); matching ignores case anyway.
/// Pieces split at `;` outside double quotes (quote parity is tracked
/// incrementally, so this is linear in the header).
fn param_pieces(header: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = header.as_bytes();
    let mut pos = Some(0);
    std::iter::from_fn(move || {
        let start = pos?;
        // The first ';' of the segment is accepted at once; a later one only
        // where the segment before it has an even number of unescaped quotes.
        let mut end = b.len();
        let mut odd = false;
        for j in start..b.len() {
            match b[j] {
                b'"' if !(j > start && b[j - 1] == b'\\') => odd = !odd,
                b';' if j == start || !odd => {
                    end = j;
                    break;
                }
                _ => {}
            }
        }
        pos = (end < b.len()).then_some(end + 1);
        let f = py_strip(&header[start..end]);
        Some(match f.bytes().position(|b| b == b'=') {
            Some(i) => (py_strip(&f[..i]), py_strip(&f[i + 1..])),
            None => (f, ""),
        })
    })
}

/// A parameter name as `_parseparam` keeps it: lower-cased (borrowed when
/// that changes nothing).
fn lower_name(name: &str) -> Cow<'_, str> {
    let changes = if name.is_ascii() {
        name.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        name.chars()
            .any(|c| c.to_lowercase().ne(std::iter::once(c)))
    };
    if changes {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// Whether a parameter name (as written) is `name` (lower-case ASCII)
/// once lower-cased as Python does: U+212A KELVIN SIGN lower-cases to
/// `k`, U+0130 to "i̇".
fn name_is(k: &str, name: &str) -> bool {
    if k.is_ascii() {
        k.eq_ignore_ascii_case(name)
    } else {
        k.to_lowercase() == name
    }
}

/// The RFC 2231 continuation syntax `^(\w+)\*(([0-9]+)\*?)?$` (ASCII).
fn rfc2231_continuation(name: &str) -> Option<(&str, Option<&str>)> {
    let star = name.bytes().position(|b| b == b'*')?;
    let base = &name[..star];
    if base.is_empty() || !base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let rest = &name[star + 1..];
    if rest.is_empty() {
        return Some((base, None));
    }
    let digits = rest.strip_suffix('*').unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, Some(digits)))
}

/// `urllib.parse.unquote(s, encoding="latin-1")`: `%XX` becomes the
/// character U+00XX; anything else is kept.
fn percent_decode_latin1(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(char::from(h * 16 + l));
            i += 3;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A numeric sort key for continuation numbers (Python compares ints).
fn num_key(n: Option<&str>) -> (u8, usize, String) {
    match n {
        None => (0, 0, String::new()),
        Some(d) => {
            let t = d.trim_start_matches('0');
            (1, t.len(), t.to_owned())
        }
    }
}

/// One RFC 2231 piece: (number, value, `%`-encoded).
type Continuation = (Option<String>, String, bool);

/// `Message.get_param(name)` on a Content-Type value: `_get_params_preserve`
/// and `utils.decode_params`, in one pass. The content type itself comes
/// first, then plain parameters in order, then RFC 2231 ones (grouped by
/// name, in first-seen order); the first whose name matches wins. So the
/// first plain parameter of that name is the answer wherever it stands,
/// and the RFC 2231 ones (rare) are only gathered, by
/// [`get_extended_param`], when there is none.
/// `name` is lower-case ASCII (`charset`, `boundary`).
pub(crate) fn get_param<'a>(header: &'a str, name: &str) -> Option<ParamValue<'a>> {
    debug_assert!(!name.bytes().any(|b| !b.is_ascii_lowercase()));
    let mut pieces = param_pieces(header);
    let (first_name, first_value) = pieces.next()?;
    if name_is(first_name, name) {
        return Some(ParamValue::Plain(unquote(first_value)));
    }
    let mut extended = false;
    for (pname, value) in pieces {
        // (a name with `*` is never `name`: continuation or nothing)
        if pname.contains('*') {
            let lower = lower_name(pname);
            extended |= rfc2231_continuation(&lower).is_some_and(|(base, _)| name_is(base, name));
        } else if name_is(pname, name) {
            // re-quoted by decode_params, unquoted again by get_param:
            // the same text unless it has a quote or a backslash
            let value = unquote(value);
            if !value.contains(['"', '\\']) {
                return Some(ParamValue::Plain(value));
            }
            return Some(ParamValue::Plain(Cow::Owned(requoted(&value))));
        }
    }
    if extended {
        get_extended_param(header, name)
    } else {
        None
    }
}

/// A plain value with a quote or a backslash, quoted by `decode_params`
/// and unquoted again by `get_param`.
#[cold]
fn requoted(value: &str) -> String {
    unquote(&format!("\"{}\"", quote(value))).into_owned()
}

/// The RFC 2231 parameter `name` of a header that has no plain one: its
/// continuations (grouped by lower-cased base name, the first group that
/// matches wins), sorted as Python sorts them, `%`-decoded and joined.
#[cold]
#[inline(never)]
fn get_extended_param<'a>(header: &'a str, name: &str) -> Option<ParamValue<'a>> {
    // base name (lower-cased) -> continuations
    let mut conts: Vec<(String, Vec<Continuation>)> = Vec::new();
    for (pname, value) in param_pieces(header).skip(1) {
        let encoded = pname.ends_with('*');
        let pname = lower_name(pname);
        let Some((base, num)) = rfc2231_continuation(&pname) else {
            continue;
        };
        if !name_is(base, name) {
            continue;
        }
        let entry = (num.map(str::to_owned), unquote(value).into_owned(), encoded);
        match conts.iter_mut().find(|(n, _)| n == base) {
            Some((_, v)) => v.push(entry),
            None => conts.push((base.to_owned(), vec![entry])),
        }
    }
    let (_, mut continuations) = conts.into_iter().next()?;
    // Python sorts (num, value, encoded) tuples; None sorts first here
    // (where mixing None with numbers makes CPython raise TypeError).
    continuations.sort_by(|a, b| {
        num_key(a.0.as_deref())
            .cmp(&num_key(b.0.as_deref()))
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut extended = false;
    let mut joined = String::new();
    for (_, s, encoded) in continuations {
        if encoded {
            joined.push_str(&percent_decode_latin1(&s));
            extended = true;
        } else {
            joined.push_str(&s);
        }
    }
    let value = quote(&joined);
    if !extended {
        return Some(ParamValue::Plain(Cow::Owned(
            unquote(&format!("\"{value}\"")).into_owned(),
        )));
    }
    let parts: Vec<&str> = value.splitn(3, '\'').collect();
    Some(if parts.len() <= 2 {
        ParamValue::Extended {
            charset: None,
            text: unquote(&format!("\"{value}\"")).into_owned(),
        }
    } else {
        ParamValue::Extended {
            charset: Some(parts[0].to_owned()),
            text: unquote(&format!("\"{}\"", parts[2])).into_owned(),
        }
    })
}

/// `str.encode('raw-unicode-escape')`.
pub(crate) fn raw_unicode_escape_encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        if u < 0x100 {
            out.push(u as u8);
        } else if u < 0x10000 {
            out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
        } else {
            out.extend_from_slice(format!("\\U{u:08x}").as_bytes());
        }
    }
    out
}

/// `Message.get_content_charset()`: lower-cased, `None` when absent or not
/// ASCII. An RFC 2231 value is decoded with its own charset (strictly),
/// falling back to the raw text. Borrowed from the header when it is
/// written in lower case and needs no unquoting.
pub(crate) fn content_charset(content_type: Option<&str>) -> Option<Cow<'_, str>> {
    let value = get_param(content_type?, "charset")?;
    let cs = match value {
        ParamValue::Plain(s) => s,
        ParamValue::Extended { charset, text } => {
            let pcharset = charset
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "us-ascii".to_owned());
            let bytes = raw_unicode_escape_encode(&text);
            Cow::Owned(
                match charset::decode_label(&pcharset, &bytes, Errors::Strict) {
                    Ok(s) => s,
                    Err(_) => text,
                },
            )
        }
    };
    if !cs.is_ascii() {
        return None;
    }
    if cs.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(Cow::Owned(cs.to_ascii_lowercase()));
    }
    Some(cs)
}

/// What `get_param('charset', 'ascii')` gives the non-decoding payload path.
pub(crate) enum RawCharset {
    /// A label (may be unknown to the codec registry).
    Label(String),
    /// An RFC 2231 value, where CPython raises `TypeError`.
    Extended,
}

/// The raw `charset` parameter (unquoted, not lower-cased), default `ascii`.
pub(crate) fn raw_charset(content_type: Option<&str>) -> RawCharset {
    match content_type.and_then(|ct| get_param(ct, "charset")) {
        None => RawCharset::Label("ascii".to_owned()),
        Some(ParamValue::Plain(s)) => RawCharset::Label(s.into_owned()),
        Some(ParamValue::Extended { .. }) => RawCharset::Extended,
    }
}

/// `Message.get_boundary()`: the unquoted value (unquoted a second time by
/// `collapse_rfc2231_value`), trailing whitespace removed.
pub(crate) fn boundary(content_type: Option<&str>) -> Option<String> {
    let value = get_param(content_type?, "boundary")?;
    let mut collapsed = match value {
        ParamValue::Plain(s) => unquote_owned(s.into_owned()),
        ParamValue::Extended { charset, text } => {
            let cs = charset.unwrap_or_else(|| "us-ascii".to_owned());
            let raw = raw_unicode_escape_encode(&text);
            match charset::decode_label(&cs, &raw, Errors::Replace) {
                Ok(s) => s,
                Err(_) => unquote_owned(text),
            }
        }
    };
    let kept = collapsed.trim_end_matches(is_py_whitespace).len();
    collapsed.truncate(kept);
    Some(collapsed)
}

/// `Message.get_content_type()` split into (maintype, subtype), from the
/// first Content-Type value; `None` when the header is absent.
/// A known type (`text/plain`, `message/rfc822`) as [`content_type`]
/// gives types: the string and the index of its `/`.
pub(crate) fn known_type(t: &'static str) -> (Cow<'static, str>, usize) {
    (Cow::Borrowed(t), t.find('/').unwrap_or(t.len()))
}

/// Returns the lower-cased `maintype/subtype` and the index of its `/`
/// (borrowed from `value` when it is lower case already).
pub(crate) fn content_type(value: &str) -> (Cow<'_, str>, usize) {
    let head = match value.bytes().position(|b| b == b';') {
        Some(i) => &value[..i],
        None => value,
    };
    let head = py_strip(head);
    let ctype = if head.is_ascii() {
        if head.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(head.to_ascii_lowercase())
        } else {
            Cow::Borrowed(head)
        }
    } else {
        Cow::Owned(head.to_lowercase())
    };
    let mut slashes = ctype.bytes().enumerate().filter(|&(_, b)| b == b'/');
    match (slashes.next(), slashes.next()) {
        (Some((slash, _)), None) => (ctype, slash),
        _ => known_type("text/plain"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets() {
        assert_eq!(
            content_charset(Some("text/plain; charset=UTF-8")).as_deref(),
            Some("utf-8")
        );
        assert_eq!(
            content_charset(Some("text/plain; charset=\"iso-8859-1\"")).as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(
            content_charset(Some("text/plain; charset='utf-8'")).as_deref(),
            Some("'utf-8'")
        );
        assert_eq!(content_charset(Some("text/plain charset=utf-8")), None);
        assert_eq!(content_charset(Some("text/plain")), None);
        assert_eq!(
            content_charset(Some("text/plain; charset*0=\"utf\"; charset*1=\"-8\"")).as_deref(),
            Some("utf-8")
        );
        assert_eq!(
            content_charset(Some("text/plain; charset*=utf-8''ISO-8859-1")).as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(
            content_charset(Some("text/plain; charset=\"a;b\"; x=1")).as_deref(),
            Some("a;b")
        );
        assert_eq!(content_charset(Some("text/plain; charset=\u{fffd}")), None);
        // the first parameter wins, plain before RFC 2231
        assert_eq!(
            content_charset(Some("text/plain; charset*=utf-8''x; charset=y")).as_deref(),
            Some("y")
        );
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary(Some("multipart/mixed; boundary=\"abc \"")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary(Some("multipart/mixed; boundary=\"<abc>\"")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary(Some("multipart/mixed; BOUNDARY=x")).as_deref(),
            Some("x")
        );
        assert_eq!(boundary(Some("multipart/mixed")), None);
    }

    #[test]
    fn content_types() {
        let split = |v: &str| {
            let (t, slash) = content_type(v);
            (t[..slash].to_owned(), t[slash + 1..].to_owned())
        };
        let pair = |m: &str, s: &str| (m.to_owned(), s.to_owned());
        assert_eq!(split("TEXT/HTML; x=y"), pair("text", "html"));
        assert_eq!(split("text/ html"), pair("text", " html"));
        assert_eq!(split("html"), pair("text", "plain"));
        assert_eq!(split("a/b/c"), pair("text", "plain"));
        assert_eq!(split(" \u{130}MAGE/PNG "), pair("i\u{307}mage", "png"));
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode_latin1("a%41%e9%4"), "aA\u{e9}%4");
        assert_eq!(percent_decode_latin1("%"), "%");
        assert_eq!(percent_decode_latin1("%4"), "%4");
    }
}
