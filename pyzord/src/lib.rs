//! # pyzord
//!
//! The Pyzor server: a drop-in for pyzord 1.1.2 (same wire protocol, codes
//! and Diag texts, command line, config keys, passwd and access files,
//! Redis layout), built for throughput and durability.
//!
//! * [`handler`] — the sans-io request handler.
//! * [`store`] — the [`store::Store`] trait and its backends: `memory`,
//!   `file` (redb, durable, group commit; the default), `gdbm` (pyzord
//!   1.1.2's database, in place) and `redis`.
//! * [`admin`] — `pyzord migrate` and `pyzord stats`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod auth_files;
pub mod cli;
pub mod forward;
pub mod fuzzing;
pub mod handler;
pub mod metrics;
pub mod net;
pub mod server;
pub mod stats;
pub mod store;
