//! # pyzor-client
//!
//! The Pyzor client that mail filters embed, and the `pyzor` command line
//! built on it (a drop-in for pyzor 1.1.2's).
//!
//! * [`Client`] — check, report, whitelist, info, ping and pong over UDP
//!   with a timeout, signed with the account for each server; [`Client::batch`]
//!   sends many requests to many servers over one socket, pipelined, and
//!   [`Client::check_all`] asks several servers at once.
//! * [`cli`] — the `pyzor` command (also usable in-process).
//!
//! ```no_run
//! use pyzor_client::Client;
//! use pyzor_core::ServerAddr;
//!
//! let raw = std::fs::read("message.eml")?;
//! let digest = pyzor_digest::digest(&raw);
//! let client = Client::new();
//! let servers = [ServerAddr::new("127.0.0.1", 24441), ServerAddr::new("::1", 24441)];
//! for (server, result) in servers.iter().zip(client.check_all(digest, &servers)) {
//!     match result {
//!         Ok(counts) => println!("{server}: {} reports, {} whitelists", counts.count, counts.wl_count),
//!         Err(e) => println!("{server}: {e}"),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
mod client;
mod error;
pub mod logging;
pub mod sd_notify;

pub use client::{Client, DEFAULT_TIMEOUT, Info, Job};
pub use error::ClientError;
