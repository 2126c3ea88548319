//! # pyzor-client
//!
//! The Pyzor client a mail filter embeds: ask Pyzor servers how often a
//! message's digest was reported as spam, and report spam and ham.
//!
//! * [`Client`]: blocking: check, report, whitelist, info, ping and pong
//!   over UDP with a timeout, signed with the account for each server;
//!   [`Client::batch`] sends many requests to many servers over one
//!   socket, pipelined, and [`Client::check_all`] asks several servers at
//!   once.
//! * `AsyncClient` (feature `tokio`): the same on tokio; one socket shared
//!   by every task, requests multiplexed by `Thread`, cancellation-safe.
//! * [`Filter`] (and `AsyncFilter`): digest a message, ask every server,
//!   and decide with SpamAssassin's Pyzor rules, in one call.
//! * [`Config`]: a client homedir (`config`, `servers`, `accounts`) with
//!   the `pyzor` command's defaults.
//! * [`proto`]: the sans-io core under both clients.
//!
//! Every method takes the server (or servers) first, then what to send.
//! The types a caller names are re-exported here, so `pyzor-client` and
//! `pyzor-digest` are all a filter depends on:
//!
//! ```no_run
//! use pyzor_client::{Client, ServerAddr};
//!
//! let message = std::fs::read("message.eml")?;
//! let digest = pyzor_digest::digest(&message);
//! let counts = Client::new().check(&ServerAddr::new("127.0.0.1", 24441), digest)?;
//! println!("{digest}: reported {} times, whitelisted {}", counts.count, counts.wl_count);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(feature = "tokio")]
mod async_client;
mod blocking;
mod config;
mod error;
mod filter;
mod net;
mod ops;
pub mod proto;

#[cfg(feature = "tokio")]
pub use async_client::{ASYNC_WINDOW, AsyncClient};
pub use blocking::Client;
pub use config::{Config, ConfigError, Notice, Severity, read_ini};
pub use error::ClientError;
#[cfg(feature = "tokio")]
pub use filter::AsyncFilter;
pub use filter::{FILTER_TIMEOUT, Filter, Outcome, Thresholds, Verdict, verdict};
pub use ops::{DEFAULT_TIMEOUT, Info, Job};
pub use pyzor_core::files::accounts::Accounts;
pub use pyzor_core::files::settings::ClientSettings;
pub use pyzor_core::{Account, Code, Counts, Digest, InfoTimes, Op, Response, ServerAddr};
