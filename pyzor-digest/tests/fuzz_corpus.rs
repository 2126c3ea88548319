//! Replays the `digest` fuzz target's corpus (`fuzz/corpus/digest`) on
//! stable, and — when the reference pyzor is installed — checks that every
//! input the fuzzer found interesting digests as the reference does.

mod common;

fn corpus() -> Vec<Vec<u8>> {
    pyzor_testkit::fuzz_corpus("digest", 200)
}

#[test]
fn digest_corpus_replays() {
    // one digester for every input: what it keeps from one input must not
    // change the next one's digest
    let mut digester = pyzor_digest::Digester::new();
    for data in &corpus() {
        let lines = pyzor_digest::predigest(data);
        assert!(lines.len() <= 6);
        assert_eq!(
            pyzor_digest::digest(data),
            pyzor_digest::digest_lines(&lines)
        );
        assert_eq!(digester.digest(data), pyzor_digest::digest(data));
        assert_eq!(digester.predigest(data), lines);
        assert_eq!(
            lines,
            pyzor_digest::select(pyzor_digest::normalized_lines(data))
        );
    }
}

#[test]
fn digest_corpus_matches_the_reference() {
    let inputs = corpus();
    let Some(reference) = common::reference_digests(&inputs) else {
        return;
    };
    let mut bad = Vec::new();
    for (data, want) in inputs.iter().zip(&reference) {
        // None: the reference raises (see the README's compatibility table)
        if let Some(want) = want {
            let got = pyzor_digest::digest(data).to_string();
            if &got != want {
                bad.push(format!(
                    "ours {got}, reference {want}: {:?}",
                    String::from_utf8_lossy(data)
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        inputs.len(),
        bad[..bad.len().min(5)].join("\n")
    );
}
