//! Digest: arbitrary bytes → digest, never a panic, and the digest is the
//! hash of the predigest lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = pyzor_digest::predigest(data);
    assert!(lines.len() <= 6);
    assert_eq!(pyzor_digest::digest(data), pyzor_digest::digest_lines(&lines));
});
