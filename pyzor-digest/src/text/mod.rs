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

mod classes;
mod rules;
mod scalar;
mod scan;
mod sinks;

use pyzor_core::pycompat::is_py_whitespace;

pub(crate) use self::scan::collect_lines;
pub(crate) use self::sinks::{Lines, Sink, Spans};
use self::{classes::*, rules::*, scalar::*, scan::*};
use crate::charset::SURROGATE_BASE;
use crate::{block, swar};

/// Lines shorter than this (in code points) are not digested.
pub(crate) const MIN_LINE_LENGTH: usize = 8;

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
