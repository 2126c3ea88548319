//! # pyzord
//!
//! The Pyzor server as a library: a drop-in for pyzord 1.1.2 (same wire
//! protocol, codes and Diag texts, config keys, passwd and access files,
//! Redis layout), built for throughput and durability. The `pyzord`
//! command (package `pyzor-rs`) is a thin binary on it.
//!
//! * [`handler`]: the sans-io request handler.
//! * [`server`]: the UDP server loop (worker threads over one port).
//! * [`store`]: the [`store::Store`] trait and its backends, each behind a
//!   Cargo feature (all on by default): `memory` (always), `file` (a log,
//!   a write buffer and fjall tables; durable, group commit; feature
//!   `file`), `gdbm` (pyzord 1.1.2's database, in place; feature `gdbm`),
//!   `mysql` (the reference's MySQL/MariaDB table; feature `mysql`), and
//!   `redis` and `redis_cluster` (feature `redis`).
//! * [`admin`]: `migrate` and `stats` (feature `admin`).
//! * [`forward`], [`metrics`], [`auth_files`]: forwarding upstream,
//!   Prometheus metrics, the passwd and access files.
//!
//! A server on the memory store, in-process, answering a client:
//!
//! ```
//! use std::sync::Arc;
//! use pyzor_client::{Client, Digest, ServerAddr};
//! use pyzord::handler::NoHooks;
//! use pyzord::server::{Options, Server};
//! use pyzord::stats::Stats;
//! use pyzord::store::memory::MemoryStore;
//!
//! let options = Options {
//!     address: "127.0.0.1:0".parse()?,
//!     workers: 2,
//!     passwd: None,
//!     access: None,
//!     cleanup_age: 0,
//!     guard: Default::default(),
//! };
//! let store = Arc::new(MemoryStore::new());
//! let server = Server::bind(options, store, Arc::new(NoHooks), Arc::new(Stats::new()))?;
//! let addr = server.local_addr()?;
//! let handle = server.handle();
//! let running = std::thread::spawn(move || server.run());
//!
//! let at = ServerAddr::new("127.0.0.1", addr.port());
//! let client = Client::new();
//! client.report(&at, &[Digest([7; 20])])?;
//! assert_eq!(client.check(&at, Digest([7; 20]))?.count, 1);
//!
//! handle.shutdown();
//! running.join().expect("the server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(feature = "admin")]
pub mod admin;
pub mod auth_files;
mod background;
pub mod forward;
#[cfg(feature = "gdbm")]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod handler;
pub mod metrics;
// batched UDP I/O (recvmmsg/sendmmsg); public for the load tool only
#[doc(hidden)]
pub mod net;
pub mod server;
pub mod stats;
pub mod store;
