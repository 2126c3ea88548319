//! What only the `pyzor` and `pyzord` binaries need: their command lines,
//! logging in the reference's format, and the process helpers both share
//! (umask, nice, daemonising, signals, systemd readiness). The libraries
//! are `pyzor-client` and `pyzord`; nothing here is a stable API.

#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod logging;
pub mod process;
pub mod pyzor;
pub mod pyzord;
