//! Replays the `codec` fuzz target's corpus (`fuzz/corpus/codec`) on stable,
//! so every input the fuzzer ever kept is checked by `cargo test`.

#[test]
fn codec_corpus_replays() {
    for data in pyzor_testkit::fuzz_corpus("codec", 40) {
        pyzor_core::fuzzing::codec_roundtrip(&data);
    }
}

#[test]
fn config_corpus_replays() {
    for data in pyzor_testkit::fuzz_corpus("config", 20) {
        pyzor_core::fuzzing::config_files(&data);
    }
}
