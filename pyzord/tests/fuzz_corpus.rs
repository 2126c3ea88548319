//! Replays the `handler` fuzz target's corpus (`fuzz/corpus/handler`) on
//! stable: every batch the fuzzer kept gets its replies, and nothing
//! panics.

use std::path::Path;

#[test]
fn handler_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/handler");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        pyzord::fuzzing::handler_batch(&data);
        n += 1;
    }
    assert!(n >= 100, "corpus has only {n} inputs");
}
