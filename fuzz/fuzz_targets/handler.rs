//! pyzord's request handler over arbitrary batches of datagrams (split at
//! `\xff\xfe`): one parsable reply each, nothing stored by a batch that
//! failed; and the gdbm record decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyzord::fuzzing::handler_batch(data);
});
