//! Replays the `handler` fuzz target's corpus (`fuzz/corpus/handler`) on
//! stable: every batch the fuzzer kept gets its replies, and nothing
//! panics.

#[test]
fn handler_corpus_replays() {
    for data in pyzor_testkit::fuzz_corpus("handler", 100) {
        pyzord::fuzzing::handler_batch(&data);
    }
}
