//! Wire codec: decode → encode → decode over arbitrary datagrams.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyzor_core::fuzzing::codec_roundtrip(data);
});
