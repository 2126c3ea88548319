//! CPython's CJK codecs (`_codecs_cn`, `_codecs_jp`, `_codecs_kr`,
//! `_codecs_tw`, `_codecs_hk`, `_codecs_iso2022`) with their exact error
//! spans.
//!
//! The stateless codecs are driven by tables that enumerate what CPython's
//! decoder does with every lead byte, two-byte and (where needed)
//! three-byte sequence (`scripts/gen-cjk-tables.py`): a code point, a pair
//! of code points, or an error span of 1–3 bytes. An incomplete sequence
//! at the end is one error spanning the rest, as in CPython's
//! `multibytecodec`. GB18030's four-byte sequences and EUC-KR's KS X 1001
//! make-up sequences are decoded in code. The stateful HZ and ISO-2022
//! codecs are state machines over the 94×94 sets.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{DecodeError, Errors, Sink};

const MORE: u32 = 0xFFFF_FFF0;
const LEAD: u32 = 0xFFFF_FFFF;
const PAIR: u32 = 0x8000_0000;

/// Reads the run-length encoding written by the generator.
fn unrle(mut data: &[u8], expected: usize) -> Vec<u32> {
    fn varint(data: &mut &[u8]) -> u32 {
        let mut v: u32 = 0;
        let mut shift = 0;
        while let Some((&b, rest)) = data.split_first() {
            *data = rest;
            v |= u32::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let mut out = Vec::with_capacity(expected);
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let len = varint(&mut data);
        let value = varint(&mut data);
        for k in 0..len {
            out.push(if tag == 0 { value } else { value + k });
        }
    }
    out
}

fn u16le(d: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([d[at], d[at + 1]]))
}

fn u32le(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// A stateless multibyte codec.
struct Table {
    level1: Vec<u32>,
    /// lead byte → index of its 256-entry block in `level2`
    lead: [u16; 256],
    level2: Vec<u32>,
    /// (lead, second byte) → index of its 256-entry block in `level3`
    more: HashMap<(u8, u8), usize>,
    level3: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    /// Every byte below 0x80 decodes to itself, so a run of them is copied
    /// at once (all tables but Shift_JIS-2004/X0213, where 0x5C is `¥` and
    /// 0x7E is `‾`).
    ascii_identity: bool,
}

impl Table {
    fn parse(d: &[u8]) -> Table {
        assert_eq!(&d[..6], b"PZCJK1", "corrupt CJK table");
        let (nleads, nmore, npairs) = (u16le(d, 6), u16le(d, 8), u16le(d, 10));
        let mut at = 14;
        let leads = &d[at..at + nleads];
        at += nleads;
        let mores: Vec<(u8, u8)> = (0..nmore)
            .map(|i| (d[at + 2 * i], d[at + 2 * i + 1]))
            .collect();
        at += 2 * nmore;
        let pairs: Vec<(u32, u32)> = (0..npairs)
            .map(|i| (u32le(d, at + 8 * i), u32le(d, at + 8 * i + 4)))
            .collect();
        at += 8 * npairs;
        let body_len = u32le(d, at) as usize;
        at += 4;
        let total = 256 + 256 * nleads + 256 * nmore;
        let all = unrle(&d[at..at + body_len], total);
        assert_eq!(all.len(), total, "corrupt CJK table");
        let mut lead = [u16::MAX; 256];
        for (i, &l) in leads.iter().enumerate() {
            lead[usize::from(l)] = i as u16;
        }
        let more = mores
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i * 256))
            .collect();
        let ascii_identity = (0..0x80u32).all(|b| all[b as usize] == b);
        Table {
            ascii_identity,
            level1: all[..256].to_vec(),
            lead,
            level2: all[256..256 + 256 * nleads].to_vec(),
            more,
            level3: all[256 + 256 * nleads..].to_vec(),
            pairs,
        }
    }

    #[inline]
    fn emit(&self, v: u32, sink: &mut Sink) {
        if v & PAIR != 0 && v < MORE {
            let (a, b) = self.pairs[(v & !PAIR) as usize];
            sink.push_cp(a);
            sink.push_cp(b);
        } else {
            sink.push_cp(v);
        }
    }
}

macro_rules! tables {
    ($($name:literal),* $(,)?) => {
        /// The codecs with a table, by CPython name.
        #[cfg(test)]
        const TABLE_NAMES: &[&str] = &[$($name),*];

        fn table_bytes(name: &str) -> Option<&'static [u8]> {
            match name {
                $($name => Some(include_bytes!(concat!("../../data/cjk/", $name, ".bin"))),)*
                _ => None,
            }
        }
    };
}

tables!(
    "big5",
    "big5hkscs",
    "cp932",
    "cp949",
    "cp950",
    "euc_jis_2004",
    "euc_jisx0213",
    "euc_jp",
    "euc_kr",
    "gb18030",
    "gb2312",
    "gbk",
    "johab",
    "shift_jis",
    "shift_jis_2004",
    "shift_jisx0213",
);

fn table(name: &str) -> Option<&'static Table> {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<&'static str, &'static Table>>> =
        OnceLock::new();
    let bytes = table_bytes(name)?;
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = map.get(name) {
        return Some(t);
    }
    let t: &'static Table = Box::leak(Box::new(Table::parse(bytes)));
    let key: &'static str = Box::leak(name.to_owned().into_boxed_str());
    map.insert(key, t);
    Some(t)
}

/// Decodes with a CJK codec (CPython canonical name).
pub(crate) fn decode(name: &str, input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    match name {
        "hz" => return hz(input, errors),
        n if n.starts_with("iso2022_") => return iso2022(n, input, errors),
        _ => {}
    }
    let Some(t) = table(name) else {
        // Every text codec of the registry is handled somewhere; an
        // unknown name here is treated like a codec that raises.
        return Err(DecodeError::Unicode);
    };
    // CJK text grows from two bytes to three in UTF-8
    let mut sink = Sink::new(errors, input.len() * 3 / 2);
    let n = input.len();
    let mut i = 0;
    while i < n && !sink.failed() {
        let b0 = input[i];
        if b0 < 0x80 && t.ascii_identity {
            let run = crate::swar::run_of(&input[i..], false);
            sink.push_ascii(&input[i..i + run]);
            i += run;
            continue;
        }
        let v1 = t.level1[usize::from(b0)];
        if v1 != LEAD {
            if v1 > MORE {
                sink.error();
            } else {
                t.emit(v1, &mut sink);
            }
            i += 1;
            continue;
        }
        if i + 1 >= n {
            sink.error(); // incomplete: the rest
            break;
        }
        let b1 = input[i + 1];
        let v2 = t.level2[usize::from(t.lead[usize::from(b0)]) * 256 + usize::from(b1)];
        if v2 < PAIR {
            // one code point: the common case, pushed inline
            sink.push_cp(v2);
            i += 2;
            continue;
        }
        if v2 > MORE {
            sink.error();
            i += (v2 - MORE) as usize;
        } else if v2 == MORE {
            match name {
                "gb18030" => i += gb18030_four(&input[i..], &mut sink),
                "euc_kr" => i += euckr_makeup(&input[i..], &mut sink),
                _ => {
                    if i + 2 >= n {
                        sink.error();
                        break;
                    }
                    let block = t.more.get(&(b0, b1)).copied().unwrap_or(0);
                    let v3 = t.level3[block + usize::from(input[i + 2])];
                    if v3 >= MORE {
                        sink.error();
                        i += (v3 - MORE).max(1) as usize;
                    } else {
                        t.emit(v3, &mut sink);
                        i += 3;
                    }
                }
            }
        } else {
            t.emit(v2, &mut sink);
            i += 2;
        }
    }
    sink.finish()
}

/// GB18030 four-byte sequence at the start of `s` (the second byte is a
/// digit). Returns the bytes consumed (the rest of the input when it is
/// incomplete).
fn gb18030_four(s: &[u8], sink: &mut Sink) -> usize {
    static RANGES: OnceLock<Vec<u32>> = OnceLock::new();
    if s.len() < 4 {
        sink.error();
        return s.len();
    }
    let (c, c2, c3, c4) = (s[0], s[1], s[2], s[3]);
    if !(0x81..=0xfe).contains(&c) || !(0x81..=0xfe).contains(&c3) || !(0x30..=0x39).contains(&c4) {
        sink.error();
        return 1;
    }
    let (c, c2, c3, c4) = (
        u32::from(c - 0x81),
        u32::from(c2 - 0x30),
        u32::from(c3 - 0x81),
        u32::from(c4 - 0x30),
    );
    if c < 4 {
        let lseq = (c * 10 + c2) * 1260 + c3 * 10 + c4;
        if lseq < 39420 {
            let ranges = RANGES.get_or_init(|| {
                let d: &[u8] = include_bytes!("../../data/cjk/gb18030-ranges.bin");
                let len = u32le(d, 6) as usize;
                unrle(&d[10..10 + len], 39420)
            });
            sink.push_cp(ranges[lseq as usize]);
            return 4;
        }
    } else if c >= 15 {
        let lseq = 0x10000 + ((c - 15) * 10 + c2) * 1260 + c3 * 10 + c4;
        if lseq <= 0x10ffff {
            sink.push_cp(lseq);
            return 4;
        }
    }
    sink.error();
    1
}

/// EUC-KR's KS X 1001:1998 Annex 3 make-up sequence `A4 D4 A4 x A4 y A4 z`.
fn euckr_makeup(s: &[u8], sink: &mut Sink) -> usize {
    const JAMO: &[u8; 60] = include_bytes!("../../data/cjk/euc_kr-jamo.bin");
    if s.len() < 8 {
        sink.error();
        return s.len();
    }
    if s[2] != 0xa4 || s[4] != 0xa4 || s[6] != 0xa4 {
        sink.error();
        return 1;
    }
    let cho = (0xa1..=0xbe)
        .contains(&s[3])
        .then(|| JAMO[usize::from(s[3] - 0xa1)])
        .filter(|&v| v != 0xff);
    let jung = (0xbf..=0xd3).contains(&s[5]).then(|| s[5] - 0xbf);
    let jong = if s[7] == 0xd4 {
        Some(0)
    } else {
        (0xa1..=0xbe)
            .contains(&s[7])
            .then(|| JAMO[30 + usize::from(s[7] - 0xa1)])
            .filter(|&v| v != 0xff)
    };
    match (cho, jung, jong) {
        (Some(a), Some(b), Some(c)) => {
            sink.push_cp(0xac00 + u32::from(a) * 588 + u32::from(b) * 28 + u32::from(c));
            8
        }
        _ => {
            sink.error();
            1
        }
    }
}

/// A 94×94 character set: rows and columns 0x21..=0x7E.
struct Set94 {
    cells: Vec<u32>,
    pairs: Vec<(u32, u32)>,
}

impl Set94 {
    fn parse(d: &[u8]) -> Set94 {
        assert_eq!(&d[..6], b"PZ94x1", "corrupt character set table");
        let npairs = u16le(d, 6);
        let mut at = 8;
        let pairs = (0..npairs)
            .map(|i| (u32le(d, at + 8 * i), u32le(d, at + 8 * i + 4)))
            .collect();
        at += 8 * npairs;
        let len = u32le(d, at) as usize;
        at += 4;
        let cells = unrle(&d[at..at + len], 94 * 94);
        assert_eq!(cells.len(), 94 * 94, "corrupt character set table");
        Set94 { cells, pairs }
    }

    /// Decodes (row, column); `false` if not in the set.
    fn decode(&self, r: u8, c: u8, sink: &mut Sink) -> bool {
        if !(0x21..=0x7e).contains(&r) || !(0x21..=0x7e).contains(&c) {
            return false;
        }
        let v = self.cells[usize::from(r - 0x21) * 94 + usize::from(c - 0x21)];
        if v >= MORE {
            return false;
        }
        if v & PAIR != 0 {
            let (a, b) = self.pairs[(v & !PAIR) as usize];
            sink.push_cp(a);
            sink.push_cp(b);
        } else {
            sink.push_cp(v);
        }
        true
    }
}

macro_rules! sets {
    ($($fn:ident => $file:literal),* $(,)?) => {
        $(fn $fn() -> &'static Set94 {
            static S: OnceLock<Set94> = OnceLock::new();
            S.get_or_init(|| Set94::parse(include_bytes!(concat!("../../data/cjk/cs-", $file, ".bin"))))
        })*
    };
}

sets!(
    gb2312_set => "gb2312",
    jisx0208_set => "jisx0208",
    jisx0212_set => "jisx0212",
    ksx1001_set => "ksx1001",
    jisx0213_2000_1 => "jisx0213-2000-1",
    jisx0213_2000_2 => "jisx0213-2000-2",
    jisx0213_2004_1 => "jisx0213-2004-1",
    jisx0213_2004_2 => "jisx0213-2004-2",
);

/// HZ (RFC 1843): `~{` enters GB2312, `~}` leaves it, `~~` is `~` and
/// `~\n` a line continuation in ASCII mode.
fn hz(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let mut sink = Sink::new(errors, input.len());
    let n = input.len();
    let mut gb = false;
    let mut i = 0;
    while i < n && !sink.failed() {
        let c = input[i];
        if c == b'~' {
            if i + 1 >= n {
                sink.error();
                break;
            }
            match (input[i + 1], gb) {
                (b'~', false) => sink.push_cp(u32::from(b'~')),
                (b'{', false) => gb = true,
                (b'\n', false) => {}
                (b'}', true) => gb = false,
                _ => {
                    sink.error();
                    i += 1;
                    continue;
                }
            }
            i += 2;
            continue;
        }
        if c & 0x80 != 0 {
            sink.error();
            i += 1;
            continue;
        }
        if !gb {
            sink.push_cp(u32::from(c));
            i += 1;
        } else if i + 1 >= n {
            sink.error();
            break;
        } else if gb2312_set().decode(c, input[i + 1], &mut sink) {
            i += 2;
        } else {
            sink.error();
            i += 1;
        }
    }
    sink.finish()
}

/// A graphic character set an ISO-2022 variant can designate.
#[derive(Clone, Copy)]
enum Cs {
    Ascii,
    /// One byte sets.
    JisX0201Roman,
    JisX0201Kana,
    Iso8859_1,
    Iso8859_7,
    /// 94×94 sets.
    Dbcs(fn() -> &'static Set94),
}

/// The designations of each variant: (mark, double-byte, set).
fn designations(name: &str) -> &'static [(u8, bool, Cs)] {
    const KR: &[(u8, bool, Cs)] = &[(b'C', true, Cs::Dbcs(ksx1001_set))];
    const JP: &[(u8, bool, Cs)] = &[
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'J', false, Cs::JisX0201Roman),
        (b'@', true, Cs::Dbcs(jisx0208_set)),
    ];
    const JP1: &[(u8, bool, Cs)] = &[
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'D', true, Cs::Dbcs(jisx0212_set)),
        (b'J', false, Cs::JisX0201Roman),
        (b'@', true, Cs::Dbcs(jisx0208_set)),
    ];
    const JP2: &[(u8, bool, Cs)] = &[
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'D', true, Cs::Dbcs(jisx0212_set)),
        (b'C', true, Cs::Dbcs(ksx1001_set)),
        (b'A', true, Cs::Dbcs(gb2312_set)),
        (b'J', false, Cs::JisX0201Roman),
        (b'@', true, Cs::Dbcs(jisx0208_set)),
        (b'A', false, Cs::Iso8859_1),
        (b'F', false, Cs::Iso8859_7),
    ];
    const JP2004: &[(u8, bool, Cs)] = &[
        (b'Q', true, Cs::Dbcs(jisx0213_2004_1)),
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'P', true, Cs::Dbcs(jisx0213_2004_2)),
    ];
    const JP3: &[(u8, bool, Cs)] = &[
        (b'O', true, Cs::Dbcs(jisx0213_2000_1)),
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'P', true, Cs::Dbcs(jisx0213_2000_2)),
    ];
    const JPEXT: &[(u8, bool, Cs)] = &[
        (b'B', true, Cs::Dbcs(jisx0208_set)),
        (b'D', true, Cs::Dbcs(jisx0212_set)),
        (b'J', false, Cs::JisX0201Roman),
        (b'I', false, Cs::JisX0201Kana),
        (b'@', true, Cs::Dbcs(jisx0208_set)),
    ];
    match name {
        "iso2022_kr" => KR,
        "iso2022_jp" => JP,
        "iso2022_jp_1" => JP1,
        "iso2022_jp_2" => JP2,
        "iso2022_jp_2004" => JP2004,
        "iso2022_jp_3" => JP3,
        _ => JPEXT,
    }
}

/// ISO-8859-7's upper half as the ISO-2022-JP-2 G2 set decodes it.
fn iso8859_7(c: u8) -> Option<u32> {
    let c32 = u32::from(c);
    if c < 0xa0 {
        return Some(c32);
    }
    if c < 0xc0 && (0x288f_3bc9u32 & (1 << (c - 0xa0))) != 0 {
        return Some(c32);
    }
    if (0xb4..=0xfe).contains(&c) && (c >= 0xd4 || (0xbfff_fd77u32 & (1 << (c - 0xb4))) != 0) {
        return Some(0x02d0 + c32);
    }
    match c {
        0xa1 => Some(0x2018),
        0xa2 => Some(0x2019),
        0xaf => Some(0x2015),
        _ => None,
    }
}

/// The ISO-2022 family as CPython's `_codecs_iso2022` decodes it.
fn iso2022(name: &str, input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let desig = designations(name);
    let shift = name == "iso2022_kr"; // the Japanese variants are NO_SHIFT
    let use_g2 = name == "iso2022_jp_2";
    let jisx0208_ext = !shift;
    let mut sink = Sink::new(errors, input.len());
    // G0..G2 as (mark, double-byte); (b'B', false) is ASCII.
    let mut g = [(b'B', false); 3];
    let mut shifted = false;
    let mut esc_throughout = false;
    let n = input.len();
    let mut i = 0;
    let is_escend = |c: u8| c.is_ascii_uppercase() || c == b'@';
    'main: while i < n && !sink.failed() {
        let c = input[i];
        if esc_throughout {
            sink.push_cp(u32::from(c));
            i += 1;
            if is_escend(c) {
                esc_throughout = false;
            }
            continue;
        }
        match c {
            0x1b => {
                if i + 1 >= n {
                    sink.error();
                    break;
                }
                let c2 = input[i + 1];
                if matches!(c2, b'(' | b')' | b'$' | b'.' | b'&') {
                    // iso2022processesc
                    let s = &input[i..];
                    let mut k = 1;
                    let mut esclen = 0;
                    while k < 16 {
                        if k >= s.len() {
                            sink.error(); // incomplete: the rest
                            break 'main;
                        }
                        if is_escend(s[k]) {
                            esclen = k + 1;
                            break;
                        } else if jisx0208_ext
                            && k + 1 < s.len()
                            && s[k] == b'&'
                            && s[k + 1] == b'@'
                        {
                            k += 2;
                        }
                        k += 1;
                    }
                    if k >= 16 {
                        sink.error();
                        i += 1;
                        continue;
                    }
                    let designation = match esclen {
                        3 if s[1] == b'$' => Some((0, s[2], true)),
                        3 if s[1] == b'(' => Some((0, s[2], false)),
                        3 if s[1] == b')' => Some((1, s[2], false)),
                        3 if use_g2 && s[1] == b'.' => Some((2, s[2], false)),
                        4 if s[1] == b'$' && s[2] == b'(' => Some((0, s[3], true)),
                        4 if s[1] == b'$' && s[2] == b')' => Some((1, s[3], true)),
                        6 if jisx0208_ext && s[3] == 0x1b && s[4] == b'$' && s[5] == b'B' => {
                            Some((0, b'B', true))
                        }
                        _ => None,
                    };
                    let Some((slot, mark, dbcs)) = designation else {
                        sink.error();
                        i += esclen;
                        continue;
                    };
                    let known = (mark == b'B' && !dbcs)
                        || desig.iter().any(|&(m, d, _)| m == mark && d == dbcs);
                    if !known {
                        sink.error();
                        i += esclen;
                        continue;
                    }
                    g[slot] = (mark, dbcs);
                    i += esclen;
                } else if use_g2 && c2 == b'N' {
                    if i + 2 >= n {
                        sink.error();
                        break;
                    }
                    let c3 = input[i + 2];
                    let out = match g[2] {
                        (b'A', false) => (c3 < 0x80).then(|| u32::from(c3) + 0x80),
                        (b'F', false) => iso8859_7(c3 ^ 0x80),
                        (b'B', false) => (c3 & 0x80 == 0).then(|| u32::from(c3)),
                        _ => None,
                    };
                    match out {
                        Some(cp) => sink.push_cp(cp),
                        None => sink.error(),
                    }
                    i += 3;
                } else {
                    sink.push_cp(0x1b);
                    esc_throughout = true;
                    i += 1;
                }
            }
            0x0f if shift => {
                shifted = false;
                i += 1;
            }
            0x0e if shift => {
                shifted = true;
                i += 1;
            }
            b'\n' => {
                shifted = false;
                sink.push_cp(u32::from(b'\n'));
                i += 1;
            }
            c if c < 0x20 => {
                sink.push_cp(u32::from(c));
                i += 1;
            }
            c if c >= 0x80 => {
                sink.error();
                i += 1;
            }
            c => {
                let (mark, dbcs) = if shifted { g[1] } else { g[0] };
                if mark == b'B' && !dbcs {
                    sink.push_cp(u32::from(c));
                    i += 1;
                    continue;
                }
                let cs = desig
                    .iter()
                    .find(|&&(m, d, _)| m == mark && d == dbcs)
                    .map(|&(_, _, cs)| cs)
                    .unwrap_or(Cs::Ascii);
                match cs {
                    Cs::Ascii => {
                        sink.push_cp(u32::from(c));
                        i += 1;
                    }
                    Cs::JisX0201Roman => {
                        sink.push_cp(match c {
                            0x5c => 0xa5,
                            0x7e => 0x203e,
                            c => u32::from(c),
                        });
                        i += 1;
                    }
                    Cs::JisX0201Kana => {
                        let k = c ^ 0x80;
                        if (0xa1..=0xdf).contains(&k) {
                            sink.push_cp(0xff61 + u32::from(k - 0xa1));
                        } else {
                            sink.error();
                        }
                        i += 1;
                    }
                    Cs::Iso8859_1 | Cs::Iso8859_7 => {
                        // designated to G0 only through a quirk: unmappable
                        sink.error();
                        i += 1;
                    }
                    Cs::Dbcs(set) => {
                        if i + 1 >= n {
                            sink.error();
                            break;
                        }
                        if !set().decode(c, input[i + 1], &mut sink) {
                            sink.error();
                        }
                        i += 2;
                    }
                }
            }
        }
    }
    sink.finish()
}

#[cfg(test)]
mod tests {

    #[test]
    fn ascii_decodes_to_itself_but_in_shift_jis_2004() {
        assert_eq!(TABLE_NAMES.len(), 16);
        for &name in TABLE_NAMES {
            let identity = !matches!(name, "shift_jis_2004" | "shift_jisx0213");
            assert_eq!(table(name).expect(name).ascii_identity, identity, "{name}");
        }
        let d = |name: &str, input: &[u8]| decode(name, input, Errors::Strict).unwrap();
        assert_eq!(d("gb2312", b"ab\xd6\xd0cd\xd6\xd0"), "ab\u{4e2d}cd\u{4e2d}");
        assert_eq!(d("shift_jis_2004", b"a\\~"), "a\u{a5}\u{203e}");
        assert_eq!(d("shift_jis", b"a\\~"), "a\\~");
    }

    use super::*;

    #[test]
    fn stateless() {
        assert_eq!(
            decode("gb2312", b"\xc4\xe3\xba\xc3", Errors::Strict).unwrap(),
            "\u{4f60}\u{597d}"
        );
        // GBK-only double byte in gb2312: lead dropped, ASCII trail kept
        assert_eq!(decode("gb2312", b"\x81\x40", Errors::Ignore).unwrap(), "@");
        assert_eq!(
            decode("gbk", b"\x81\x40", Errors::Strict).unwrap(),
            "\u{4e02}"
        );
        assert_eq!(
            decode("shift_jis", b"\x82\xa0", Errors::Strict).unwrap(),
            "\u{3042}"
        );
        assert_eq!(
            decode("big5", b"\xa4\x40x\xa4", Errors::Replace).unwrap(),
            "\u{4e00}x\u{fffd}"
        );
        assert_eq!(
            decode("euc_jp", b"\x8f\xb0\xa1", Errors::Strict).unwrap(),
            "\u{4e02}"
        );
        assert_eq!(
            decode(
                "gb18030",
                b"\x81\x30\x81\x30\x90\x30\x81\x30",
                Errors::Strict
            )
            .unwrap(),
            "\u{80}\u{10000}"
        );
        assert_eq!(
            decode(
                "euc_kr",
                b"\xa4\xd4\xa4\xa1\xa4\xbf\xa4\xd4",
                Errors::Strict
            )
            .unwrap(),
            "\u{ac00}"
        );
    }

    #[test]
    fn stateful() {
        assert_eq!(
            decode("iso2022_jp", b"\x1b$B$\"\x1b(Bx", Errors::Strict).unwrap(),
            "\u{3042}x"
        );
        assert_eq!(
            decode("iso2022_kr", b"\x1b$)C\x0e\x30\x21\x0fx", Errors::Strict).unwrap(),
            "\u{ac00}x"
        );
        assert_eq!(
            decode("hz", b"a~{<:Ky2;S{#,NpJ)l6HK!#~}b", Errors::Strict)
                .unwrap()
                .chars()
                .count(),
            12
        );
        assert_eq!(
            decode("iso2022_jp_2", b"\x1b.A\x1bNi", Errors::Strict).unwrap(),
            "\u{e9}"
        );
    }
}
