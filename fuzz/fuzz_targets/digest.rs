//! Digest: arbitrary bytes → digest, never a panic, the digest is the
//! hash of the predigest lines, and those are the selection over every
//! normalised line. One `Digester` lives across all inputs: what it keeps
//! from one input must not change the next one's digest.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

static DIGESTER: Mutex<Option<pyzor_digest::Digester>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let lines = pyzor_digest::predigest(data);
    assert!(lines.len() <= 6);
    let digest = pyzor_digest::digest(data);
    assert_eq!(digest, pyzor_digest::digest_lines(&lines));
    assert_eq!(lines, pyzor_digest::select(pyzor_digest::normalized_lines(data)));
    let mut reused = DIGESTER.lock().unwrap_or_else(|e| e.into_inner());
    let digester = reused.get_or_insert_with(pyzor_digest::Digester::new);
    assert_eq!(digester.digest(data), digest);
});
