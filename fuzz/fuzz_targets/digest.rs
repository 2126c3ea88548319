//! Digest: arbitrary bytes → digest, never a panic, the digest is the
//! hash of the predigest lines, and those are the selection over every
//! normalised line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = pyzor_digest::predigest(data);
    assert!(lines.len() <= 6);
    assert_eq!(pyzor_digest::digest(data), pyzor_digest::digest_lines(&lines));
    assert_eq!(lines, pyzor_digest::select(pyzor_digest::normalized_lines(data)));
});
