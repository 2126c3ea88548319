//! Replays the `digest` fuzz target's corpus (`fuzz/corpus/digest`) on
//! stable, and — when the reference pyzor is installed — checks that every
//! input the fuzzer found interesting digests as the reference does.

mod common;

use std::path::Path;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/digest");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn digest_corpus_replays() {
    let inputs = corpus();
    assert!(
        inputs.len() >= 200,
        "corpus has only {} inputs",
        inputs.len()
    );
    for data in &inputs {
        let lines = pyzor_digest::predigest(data);
        assert!(lines.len() <= 6);
        assert_eq!(
            pyzor_digest::digest(data),
            pyzor_digest::digest_lines(&lines)
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
