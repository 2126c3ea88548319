//! Charset decoding with CPython's semantics: label resolution through the
//! codec registry's rules and alias table, and each codec's own tables and
//! error granularity, under the `strict`, `ignore` and `replace` handlers.
//!
//! `encoding_rs` is not used: it implements the WHATWG Encoding Standard,
//! whose labels and tables differ from Python's exactly where it matters
//! for spam (`iso-8859-1` is windows-1252 there, `gb2312` is GBK, undefined
//! bytes become controls instead of vanishing, and `utf-7`, EBCDIC and many
//! more do not exist).

mod cjk;
mod escape;
mod punycode;
mod utf;

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::generated::labels::{ALIASES, CODEC_IS_TEXT, CODEC_NAMES, MODULES};
use crate::generated::sbcs::TABLES;

/// First code point of the range that stands for lone UTF-16 surrogates
/// (U+D800 + k is held as `SURROGATE_BASE` + k). Only codecs that can
/// produce lone surrogates emit them; they are dropped when a kept line is
/// encoded as UTF-8, after the length test, as CPython's
/// `encode("utf8", "ignore")` does.
pub(crate) const SURROGATE_BASE: u32 = 0x10_F800;

/// The error handler of a decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errors {
    /// Fail on the first error.
    Strict,
    /// Drop undecodable input.
    Ignore,
    /// One U+FFFD per error.
    Replace,
}

/// Why a decode failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The label names no codec (`LookupError`).
    UnknownLabel,
    /// The codec is not a text encoding (`LookupError` in `bytes.decode`).
    NotText,
    /// The codec raised `UnicodeError`.
    Unicode,
}

/// Collects decoded text, applying the error handler to error spans.
pub(crate) struct Sink {
    pub(crate) out: String,
    errors: Errors,
    failed: bool,
}

impl Sink {
    pub(crate) fn new(errors: Errors, capacity: usize) -> Sink {
        Sink {
            out: String::with_capacity(capacity),
            errors,
            failed: false,
        }
    }

    /// Records one error span.
    #[inline]
    pub(crate) fn error(&mut self) {
        match self.errors {
            Errors::Strict => self.failed = true,
            Errors::Ignore => {}
            Errors::Replace => self.out.push('\u{fffd}'),
        }
    }

    /// Records `n` error spans of one byte each.
    #[inline]
    fn errors(&mut self, n: usize) {
        if n > 0 {
            match self.errors {
                Errors::Strict => self.failed = true,
                Errors::Ignore => {}
                Errors::Replace => self.out.extend(std::iter::repeat_n('\u{fffd}', n)),
            }
        }
    }

    /// `true` once a strict decode has failed (decoders may stop early).
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Pushes bytes below 0x80 (each its own code point), copied as they
    /// are (ASCII is UTF-8).
    #[inline]
    pub(crate) fn push_ascii(&mut self, bytes: &[u8]) {
        match crate::utf8::ascii_str(bytes) {
            Some(s) => self.out.push_str(s),
            // (not reached: callers pass ASCII only)
            None => self.out.extend(bytes.iter().map(|&b| char::from(b))),
        }
    }

    /// Pushes a code point; lone surrogates become their stand-ins.
    #[inline(always)]
    pub(crate) fn push_cp(&mut self, cp: u32) {
        if cp < 0x80 {
            // ASCII: one byte, always a valid char
            self.out.push(cp as u8 as char);
            return;
        }
        match char::from_u32(cp) {
            Some(c) => self.out.push(c),
            // a lone surrogate or out of range: rare, out of line
            None => self.push_non_char(cp),
        }
    }

    /// A code point that is no `char`: a lone surrogate (its stand-in) or
    /// one past U+10FFFF (an error).
    #[inline(never)]
    fn push_non_char(&mut self, cp: u32) {
        if (0xd800..0xe000).contains(&cp) {
            let stand_in = SURROGATE_BASE + (cp - 0xd800);
            self.out
                .push(char::from_u32(stand_in).unwrap_or('\u{fffd}'));
        } else {
            self.error();
        }
    }

    pub(crate) fn finish(self) -> Result<String, DecodeError> {
        if self.failed {
            Err(DecodeError::Unicode)
        } else {
            Ok(self.out)
        }
    }
}

/// A codec of the registry (index into the generated tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Codec(u16);

/// CPython's `encodings.normalize_encoding` after the C-level lowering:
/// ASCII letters (lower-cased), digits and `.` are kept; every run of other
/// characters between kept ones becomes one `_`.
pub(crate) fn normalize_label(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut punct = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if punct && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            punct = false;
        } else {
            punct = true;
        }
    }
    out
}

fn find(table: &[(&str, u16)], key: &str) -> Option<u16> {
    table
        .binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| table[i].1)
}

impl Codec {
    /// Resolves a charset label as `codecs.lookup` does (the few labels
    /// most mail uses skip the normalisation and search). ASCII case does
    /// not matter: the normalisation lower-cases ASCII letters.
    pub(crate) fn lookup(label: &str) -> Option<Codec> {
        static COMMON: OnceLock<[(&str, Option<Codec>); 12]> = OnceLock::new();
        let common = COMMON.get_or_init(|| {
            [
                "utf-8",
                "us-ascii",
                "iso-8859-1",
                "windows-1252",
                "iso-8859-15",
                "ascii",
                "utf8",
                "gb2312",
                "iso-8859-2",
                "windows-1251",
                "koi8-r",
                "iso-2022-jp",
            ]
            .map(|l| (l, Codec::lookup_slow(l)))
        });
        if let Some((_, c)) = common.iter().find(|(l, _)| l.eq_ignore_ascii_case(label)) {
            return *c;
        }
        Codec::lookup_slow(label)
    }

    fn lookup_slow(label: &str) -> Option<Codec> {
        let n = normalize_label(label);
        if let Some(i) = find(&ALIASES, &n).or_else(|| find(&ALIASES, &n.replace('.', "_"))) {
            return Some(Codec(i));
        }
        if n.is_empty() || n.contains('.') {
            return None;
        }
        find(&MODULES, &n).map(Codec)
    }

    /// CPython's canonical name of the codec.
    pub(crate) fn name(self) -> &'static str {
        CODEC_NAMES[usize::from(self.0)]
    }

    /// `true` for text encodings.
    pub(crate) fn is_text(self) -> bool {
        CODEC_IS_TEXT[usize::from(self.0)]
    }

    /// The single-byte table of the codec, if it has one, and how its
    /// ASCII half maps.
    fn table(self) -> Option<(&'static [u16; 256], Ascii)> {
        // per codec: its table in TABLES (found by name once)
        static INDEX: OnceLock<[Option<(u16, Ascii)>; CODEC_NAMES.len()]> = OnceLock::new();
        let index = INDEX.get_or_init(|| {
            CODEC_NAMES.map(|name| {
                let i = TABLES.binary_search_by(|(k, _)| (*k).cmp(name)).ok()?;
                let table = &TABLES[i].1;
                let ascii = if !(0..0x80u16).all(|b| table[usize::from(b)] == b) {
                    Ascii::Mapped
                } else if table[0x80..].iter().all(|&cp| cp == UNDEFINED) {
                    Ascii::Only
                } else {
                    Ascii::Identity
                };
                Some((u16::try_from(i).ok()?, ascii))
            })
        });
        index[usize::from(self.0)].map(|(i, ascii)| (&TABLES[usize::from(i)].1, ascii))
    }

    /// `bytes.decode(codec, errors)`.
    pub(crate) fn decode(self, input: &[u8], errors: Errors) -> Result<String, DecodeError> {
        if !self.is_text() {
            return Err(DecodeError::NotText);
        }
        if let Some((table, ascii)) = self.table() {
            return decode_table(table, ascii, input, errors);
        }
        let name = self.name();
        match name {
            "charmap" => Ok(input.iter().map(|&b| char::from(b)).collect()),
            "utf-8" => utf::utf8(input, errors),
            "utf-8-sig" => utf::utf8(input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input), errors),
            "utf-16" => utf::utf16(input, None, errors),
            "utf-16-le" => utf::utf16(input, Some(false), errors),
            "utf-16-be" => utf::utf16(input, Some(true), errors),
            "utf-32" => utf::utf32(input, None, errors),
            "utf-32-le" => utf::utf32(input, Some(false), errors),
            "utf-32-be" => utf::utf32(input, Some(true), errors),
            "utf-7" => utf::utf7(input, errors),
            "unicode-escape" => escape::unicode_escape(input, errors),
            "raw-unicode-escape" => escape::raw_unicode_escape(input, errors),
            "punycode" => punycode::decode(input, errors),
            "idna" => idna(input, errors),
            "undefined" => Err(DecodeError::Unicode),
            other => cjk::decode(other, input, errors),
        }
    }
}

/// How a single-byte table maps the bytes below 0x80.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ascii {
    /// To themselves (nearly every code page).
    Identity,
    /// To themselves, and every byte from 0x80 on is undefined (`ascii`).
    Only,
    /// Otherwise (EBCDIC and the like).
    Mapped,
}

/// A table entry that marks an undefined byte.
const UNDEFINED: u16 = 0xfffe;

/// A single-byte code page: [`UNDEFINED`] marks an undefined byte. Where
/// the table maps ASCII to itself (nearly every code page), runs of ASCII
/// bytes are copied whole; where it is ASCII only, the runs of bytes from
/// 0x80 on are errors whole.
fn decode_table(
    table: &[u16; 256],
    ascii: Ascii,
    input: &[u8],
    errors: Errors,
) -> Result<String, DecodeError> {
    if ascii == Ascii::Only && errors == Errors::Ignore {
        return Ok(ascii_ignore(input));
    }
    let mut sink = Sink::new(errors, input.len());
    let mut rest = input;
    if ascii == Ascii::Mapped {
        push_table(table, rest, &mut sink);
        return sink.finish();
    }
    while !rest.is_empty() {
        let run = crate::swar::run_of(rest, false);
        sink.push_ascii(&rest[..run]);
        rest = &rest[run..];
        let high = crate::swar::run_of(rest, true);
        if ascii == Ascii::Only {
            sink.errors(high);
            if sink.failed() {
                break;
            }
        } else if !push_table(table, &rest[..high], &mut sink) {
            break;
        }
        rest = &rest[high..];
    }
    sink.finish()
}

/// `bytes.decode('ascii', 'ignore')`, the decoding of a text part without
/// a charset (or labelled ASCII) that has 8-bit bytes: the bytes below
/// 0x80, in order. Sixteen at a time: copied whole when all are ASCII,
/// else gathered without a branch per byte (8-bit text mixes the two
/// byte by byte, as Shift_JIS does, where runs would be one byte long).
fn ascii_ignore(input: &[u8]) -> String {
    let mut kept = Vec::with_capacity(input.len());
    let mut chunks = input.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk.is_ascii() {
            kept.extend_from_slice(chunk);
            continue;
        }
        let mut staged = [0u8; 16];
        let mut n = 0;
        for &b in chunk {
            // (n is at most the number of bytes before b: below 16)
            staged[n & 15] = b;
            n += usize::from(b < 0x80);
        }
        kept.extend_from_slice(&staged[..n]);
    }
    kept.extend(chunks.remainder().iter().filter(|b| b.is_ascii()));
    match String::from_utf8(kept) {
        Ok(text) => text,
        // (not reached: every byte kept is ASCII)
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Pushes the code points of `bytes` by `table`; `false` once a strict
/// decode has failed.
fn push_table(table: &[u16; 256], bytes: &[u8], sink: &mut Sink) -> bool {
    for &b in bytes {
        let cp = table[usize::from(b)];
        if cp == UNDEFINED {
            sink.error();
            if sink.failed() {
                return false;
            }
        } else {
            sink.push_cp(u32::from(cp));
        }
    }
    true
}

/// The `idna` codec: only `strict` is supported (anything else raises).
/// Strictly decoding ASCII labels without an `xn--` prefix gives them back
/// unchanged; anything else is treated as an error.
fn idna(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    if errors != Errors::Strict || !input.is_ascii() {
        return Err(DecodeError::Unicode);
    }
    let text = String::from_utf8_lossy(input).into_owned();
    if text
        .split('.')
        .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--"))
    {
        return Err(DecodeError::Unicode);
    }
    Ok(text)
}

/// Decodes with a label (`bytes.decode(label, errors)`). Like CPython,
/// empty input decodes to the empty string whatever the label.
pub(crate) fn decode_label(
    label: &str,
    input: &[u8],
    errors: Errors,
) -> Result<String, DecodeError> {
    if input.is_empty() {
        return Ok(String::new());
    }
    Codec::lookup(label)
        .ok_or(DecodeError::UnknownLabel)?
        .decode(input, errors)
}

/// Decoded text, and whether it may hold lone-surrogate stand-ins.
pub(crate) struct Decoded<'a> {
    pub(crate) text: Cow<'a, str>,
    pub(crate) surrogates: bool,
}

/// `true` for the codecs that can produce lone surrogates.
fn makes_surrogates(codec: Codec) -> bool {
    matches!(
        codec.name(),
        "utf-7" | "unicode-escape" | "raw-unicode-escape" | "punycode"
    )
}

/// Decodes with a label, borrowing the input where it already is the
/// decoded text (ASCII and UTF-8 text that needs no repair).
pub(crate) fn decode_label_cow<'a>(
    label: &str,
    input: &'a [u8],
    errors: Errors,
) -> Result<Decoded<'a>, DecodeError> {
    if input.is_empty() {
        return Ok(Decoded {
            text: Cow::Borrowed(""),
            surrogates: false,
        });
    }
    let codec = Codec::lookup(label).ok_or(DecodeError::UnknownLabel)?;
    let whole = match codec.name() {
        "utf-8" => crate::utf8::as_str(input),
        "ascii" => crate::utf8::ascii_str(input),
        _ => None,
    };
    if let Some(s) = whole {
        return Ok(Decoded {
            text: Cow::Borrowed(s),
            surrogates: false,
        });
    }
    Ok(Decoded {
        text: Cow::Owned(codec.decode(input, errors)?),
        surrogates: makes_surrogates(codec),
    })
}

/// pyzor's text-part decode: the label (NULs removed; none means ascii)
/// with `ignore`; on any lookup or decoding failure, ASCII with `ignore`.
pub(crate) fn decode_text_part<'a>(label: Option<&str>, input: &'a [u8]) -> Decoded<'a> {
    let label = label
        .map(|l| {
            if l.contains('\0') {
                Cow::Owned(l.replace('\0', ""))
            } else {
                Cow::Borrowed(l)
            }
        })
        .filter(|l| !l.is_empty());
    if let Some(label) = label
        && let Ok(d) = decode_label_cow(&label, input, Errors::Ignore)
    {
        return d;
    }
    let text = match crate::utf8::ascii_str(input) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(
            input
                .iter()
                .filter(|b| b.is_ascii())
                .map(|&b| char::from(b))
                .collect(),
        ),
    };
    Decoded {
        text,
        surrogates: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(label: &str) -> Option<&'static str> {
        Codec::lookup(label).map(Codec::name)
    }

    #[test]
    fn label_resolution() {
        for (label, codec) in [
            ("UTF 8", "utf-8"),
            ("'utf-8'", "utf-8"),
            ("\"utf-8", "utf-8"),
            ("utf;8", "utf-8"),
            ("ISO_8859-1", "iso8859-1"),
            ("cp65001", "utf-8"),
            ("l1", "iso8859-1"),
            ("8859", "iso8859-1"),
            ("646", "ascii"),
            ("us", "ascii"),
            ("latin-1", "iso8859-1"),
            ("windows-1252", "cp1252"),
            ("gb2312", "gb2312"),
            ("iso8859.1", "iso8859-1"),
        ] {
            assert_eq!(name(label), Some(codec), "{label}");
        }
        for label in [
            "utf.8",
            "latin.1",
            "cp-1252",
            "x-cp1252",
            "windows-874",
            "windows-31j",
            "x-sjis",
            "x-gbk",
            "iso-8859-8-i",
            "x-mac-roman",
            "latin-9",
            "utf-8 (comment)",
            "unicode",
            "ucs-2",
            "",
            "x-unknown",
        ] {
            assert_eq!(name(label), None, "{label}");
        }
        assert!(!Codec::lookup("base64").unwrap().is_text());
        assert!(!Codec::lookup("rot13").unwrap().is_text());
    }

    #[test]
    fn python_tables_not_whatwg() {
        assert_eq!(
            decode_label("iso-8859-1", b"\x80\x85", Errors::Strict).unwrap(),
            "\u{80}\u{85}"
        );
        assert_eq!(
            decode_label("windows-1252", b"a\x81b\x80", Errors::Ignore).unwrap(),
            "ab\u{20ac}"
        );
        assert!(decode_label("windows-1252", b"\x81", Errors::Strict).is_err());
        assert_eq!(
            decode_label("ascii", b"a\xffb", Errors::Replace).unwrap(),
            "a\u{fffd}b"
        );
        let text = |l: Option<&str>, b: &[u8]| decode_text_part(l, b).text.into_owned();
        assert_eq!(text(None, b"caf\xc3\xa9"), "caf");
        assert_eq!(text(Some("x-unknown"), b"caf\xc3\xa9"), "caf");
        assert_eq!(text(Some("utf-8\0"), b"caf\xc3\xa9"), "caf\u{e9}");
        assert_eq!(text(Some("base64"), b"caf\xc3\xa9"), "caf");
        assert!(decode_text_part(Some("utf-7"), b"+2D3eAA-").surrogates);
    }

    mod ascii_runs {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// The ASCII codec's runs of 8-bit bytes taken whole (and, with
            /// `ignore`, its 16-byte gather) give what the table gives byte
            /// by byte.
            #[test]
            fn match_the_table(
                bytes in proptest::collection::vec(
                    prop_oneof![0u8..0x80, 0x80u8..=0xff, Just(b'a')],
                    0..80,
                ),
            ) {
                let codec = Codec::lookup("ascii").unwrap();
                let (table, ascii) = codec.table().unwrap();
                prop_assert_eq!(ascii, Ascii::Only);
                for errors in [Errors::Ignore, Errors::Replace, Errors::Strict] {
                    let mut sink = Sink::new(errors, 0);
                    push_table(table, &bytes, &mut sink);
                    let by_byte = sink.finish().ok();
                    prop_assert_eq!(codec.decode(&bytes, errors).ok(), by_byte);
                }
                let kept: String = bytes
                    .iter()
                    .filter(|&&b| b < 0x80)
                    .map(|&b| char::from(b))
                    .collect();
                prop_assert_eq!(ascii_ignore(&bytes), kept);
            }
        }
    }
}

/// Differential tests against vectors produced by the reference CPython
/// (`tests/oracle/codec_oracle.py`).
#[cfg(test)]
pub(crate) mod differential {
    use super::*;

    /// Checks `codec \t errors \t input-hex \t expected` lines; returns the
    /// mismatches.
    pub(crate) fn check_lines(text: &str) -> (usize, Vec<String>) {
        let mut bad = Vec::new();
        let mut n = 0;
        for line in text.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let [codec, errors, hex, want] = cols[..] else {
                continue;
            };
            n += 1;
            let input: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let mode = match errors {
                "strict" => Errors::Strict,
                "ignore" => Errors::Ignore,
                _ => Errors::Replace,
            };
            let got = match decode_label(codec, &input, mode) {
                Err(_) => "ERR".to_owned(),
                Ok(s) => s
                    .chars()
                    .map(|c| format!("{:x}", c as u32))
                    .collect::<Vec<_>>()
                    .join("."),
            };
            if got != want {
                bad.push(format!("{codec} {errors} {hex}: got {got}, want {want}"));
            }
        }
        (n, bad)
    }

    #[test]
    fn committed_vectors_match_cpython() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/codec-vectors.tsv");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (n, bad) = check_lines(&text);
        assert!(n > 10_000, "only {n} vectors");
        assert!(
            bad.is_empty(),
            "{} of {n} differ:\n{}",
            bad.len(),
            bad[..bad.len().min(40)].join("\n")
        );
    }

    /// Fresh random cases decoded by the reference CPython right now (a new
    /// seed each run; the seed is printed on failure).
    #[test]
    fn live_cpython_agrees() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Some(python) = pyzor_testkit::require_reference_python() else {
            return;
        };
        let oracle = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/codec_oracle.py");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let cases = Command::new(&python)
            .args([oracle, "gen", &seed.to_string(), "300", "48"])
            .output()
            .expect("oracle gen");
        assert!(cases.status.success(), "oracle gen failed");
        let mut child = Command::new(&python)
            .args([oracle, "decode"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("oracle decode");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = cases.stdout;
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("oracle output");
        writer.join().expect("writer").expect("write cases");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let (n, bad) = check_lines(&text);
        assert!(n > 30_000, "only {n} cases");
        assert!(
            bad.is_empty(),
            "seed {seed}: {} of {n} differ:\n{}",
            bad.len(),
            bad[..bad.len().min(40)].join("\n")
        );
    }

    #[test]
    #[ignore = "development aid: PYZOR_CODEC_VECTORS=<file from codec_oracle.py>"]
    fn vectors_from_file() {
        let path = std::env::var("PYZOR_CODEC_VECTORS").expect("PYZOR_CODEC_VECTORS");
        let text = std::fs::read_to_string(&path).unwrap();
        let (n, bad) = check_lines(&text);
        let mut by_codec = std::collections::BTreeMap::new();
        for b in &bad {
            *by_codec
                .entry(b.split(' ').next().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        assert!(
            bad.is_empty(),
            "{} of {n} differ: {by_codec:?}\n{}",
            bad.len(),
            bad[..bad.len().min(60)].join("\n")
        );
    }
}
