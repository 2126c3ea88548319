//! # pyzor-core
//!
//! The sans-io core of pyzor-rs: everything about the Pyzor 2.1 protocol
//! that does not touch a socket, a file or a clock.
//!
//! * [`Message`] — the wire codec: a header block parsed with the
//!   reference's leniency and serialized byte-identically to it.
//! * [`Request`] and [`Response`] — typed messages, built, signed and read
//!   as pyzor 1.1.2 does; [`Op`], [`Code`], [`ServerError`] (the exact
//!   `Diag` texts), [`ThreadId`], [`Digest`].
//! * [`auth`] — key hashing, request signing and verification with the
//!   300-second window (the current time is a parameter), `genkey`.
//! * [`files`] — the `accounts`, `servers`, `passwd`, `access` and `config`
//!   formats, with errors that name the file and the line.
//!
//! ```
//! use pyzor_core::{Account, Digest, Message, Op, Request, Response, ThreadId};
//!
//! let digest: Digest = "8cc3769958948319b31ad22608fe39e576608808".parse()?;
//! let mut request = Request::new(Op::Check, vec![digest], ThreadId(26195));
//! request.sign(&Account::anonymous(), 1795315720);
//! let bytes = request.to_bytes();
//! assert!(bytes.ends_with(b"Sig: 1be8e17699cbb0632c8324b618b5b506280f407c\n\n"));
//!
//! let reply = b"Code: 200\nDiag: OK\nPV: 2.1\nThread: 26195\nCount: 3\nWL-Count: 0\n\n";
//! let text = std::str::from_utf8(reply)?;
//! let response = Response::from_message(&Message::parse(text))?;
//! assert_eq!(response.counts.unwrap().count, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod auth;
mod code;
mod digest;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
mod message;
mod op;
mod pv;
pub mod pycompat;
pub mod recv;
mod request;
mod response;
mod thread;
mod time;

pub use auth::{Account, GeneratedKey, genkey};
pub use code::{Code, DIAG_OK, ServerError};
pub use digest::{Digest, DigestError};
pub use files::servers::{DEFAULT_PORT, ServerAddr};
pub use message::{CodecError, Header, MAX_DATAGRAM, Message, server_text};
pub use op::{Op, PONG_COUNT, UnknownOp};
pub use pv::{PROTOCOL_VERSION, check_protocol_version};
pub use request::{OP_SPEC, Request, RequestError};
pub use response::{Counts, InfoTimes, Response, ResponseError};
pub use thread::{ThreadId, ThreadIdError};
pub use time::unix_secs;
