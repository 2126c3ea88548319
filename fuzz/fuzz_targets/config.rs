//! Every configuration file parser (servers, accounts, passwd, access,
//! ini config) over arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyzor_core::fuzzing::config_files(data);
});
