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
//! ```
//! use pyzor_client::{Client, ServerAddr};
//! # // a stand-in server on loopback that answers one check with Count: 3
//! # let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
//! # let port = sock.local_addr()?.port();
//! # std::thread::spawn(move || {
//! #     let mut buf = [0u8; 4096];
//! #     let (n, from) = sock.recv_from(&mut buf).unwrap();
//! #     let req = String::from_utf8_lossy(&buf[..n]).into_owned();
//! #     let thread = req.lines().find_map(|l| l.strip_prefix("Thread: ")).unwrap();
//! #     let reply = format!("Code: 200\nDiag: OK\nPV: 2.1\nThread: {thread}\nCount: 3\nWL-Count: 0\n\n");
//! #     sock.send_to(reply.as_bytes(), from).unwrap();
//! # });
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("message.eml"), "Subject: hi\n\nBuy cheap meds online now\n")?;
//! # std::env::set_current_dir(dir.path())?;
//!
//! let message = std::fs::read("message.eml")?;
//! let digest = pyzor_digest::digest(&message);
//! # let server = ServerAddr::new("127.0.0.1", port);
//! # /*
//! let server = ServerAddr::new("127.0.0.1", 24441);
//! # */
//! let counts = Client::new().check(&server, digest)?;
//! println!("{digest}: reported {} times, whitelisted {}", counts.count, counts.wl_count);
//! # assert_eq!(counts.count, 3);
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
