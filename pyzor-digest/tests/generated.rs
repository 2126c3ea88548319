//! Generated MIME messages: properties that hold for every input, and — when
//! the reference pyzor is installed — equality with its digests.

mod common;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn digest_is_the_hash_of_the_predigest(raw in common::message()) {
        let lines = pyzor_digest::predigest(&raw);
        prop_assert_eq!(pyzor_digest::digest(&raw), pyzor_digest::digest_lines(&lines));
        // the selected lines, found from where the kept lines are, are
        // those of the selection over every normalised line
        prop_assert_eq!(&lines, &pyzor_digest::select(pyzor_digest::normalized_lines(&raw)));
        prop_assert!(lines.len() <= 6);
        for l in &lines {
            prop_assert!(l.chars().count() >= 8);
            prop_assert!(!l.chars().any(pyzor_core::pycompat::is_py_whitespace));
        }
    }

    #[test]
    fn line_ends_do_not_matter(raw in common::message()) {
        // LF and CRLF messages parse alike (only for LF renderings, and not
        // for charsets where a line break inside the text is data: UTF-16
        // code units, UTF-7 after '+', ISO-2022 shift states)
        let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
        if !raw.contains(&b'\r') && !has(b"utf-16") && !has(b"utf-7") && !has(b"2022") {
            let crlf: Vec<u8> = raw.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
            prop_assert_eq!(pyzor_digest::digest(&raw), pyzor_digest::digest(&crlf));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = pyzor_digest::digest(&raw);
    }
}

/// Digests of a few thousand generated messages equal the reference's
/// (`PYZOR_DIFF_MESSAGES=N` for more; the run is seeded from the clock
/// unless `PROPTEST_RNG_SEED` is set, so each run explores new messages).
#[test]
fn generated_messages_match_the_reference() {
    let n: usize = std::env::var("PYZOR_DIFF_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut runner = TestRunner::new(Config {
        cases: 1,
        ..Config::default()
    });
    let strategy = common::message();
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("generate").current())
        .collect();
    let Some(reference) = common::reference_digests(&messages) else {
        return;
    };
    let mut crashed = 0;
    let mut bad = Vec::new();
    for (raw, want) in messages.iter().zip(&reference) {
        let Some(want) = want else {
            crashed += 1;
            continue;
        };
        let got = pyzor_digest::digest(raw).to_string();
        if &got != want {
            bad.push(format!(
                "ours {got}, reference {want}, message {:?}",
                String::from_utf8_lossy(raw)
            ));
        }
    }
    assert!(
        crashed < messages.len() / 10,
        "the reference crashed on {crashed} messages"
    );
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        messages.len(),
        bad[..bad.len().min(5)].join("\n\n")
    );
}
