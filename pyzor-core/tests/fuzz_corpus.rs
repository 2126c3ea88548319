//! Replays the `codec` fuzz target's corpus (`fuzz/corpus/codec`) on stable,
//! so every input the fuzzer ever kept is checked by `cargo test`.

use std::path::Path;

#[test]
fn codec_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/codec");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        pyzor_core::fuzzing::codec_roundtrip(&data);
        n += 1;
    }
    assert!(n >= 40, "corpus has only {n} inputs");
}
