//! The fuzz targets' bodies (`fuzz/fuzz_targets/handler.rs`), here so that
//! their corpus replays as an ordinary test on stable.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::{MAX_DATAGRAM, Response};

use crate::guard::{Guard, GuardConfig};
use crate::handler::{Auth, Datagram, NoHooks, handle_batch};
use crate::stats::Stats;
use crate::store::gdbm::GdbmRecord;
use crate::store::memory::MemoryStore;
use crate::store::{Bulk, Store};

/// Splits `data` at `\xff\xfe` into up to 16 datagrams and hands them to
/// the handler as one batch (a signed-user account exists, so signatures
/// are checked). Checks that every datagram gets one reply that parses
/// and is not a 500 (the memory store cannot fail, so a 500 would be bad
/// input taken for a server failure), and that a batch where nothing
/// succeeded left the store unchanged.
/// Also decodes `data` as a gdbm record and checks the round trip.
pub fn handler_batch(data: &[u8]) {
    let passwd = Passwd::parse(
        Path::new("pyzord.passwd"),
        "fuzz : 9ece6d41cca07a2a0ca9ce51139dea05f088061f\n",
    )
    .value;
    let acl = Acl::parse(
        Path::new("pyzord.access"),
        "all : fuzz : allow\ncheck report ping pong info : anonymous : allow\n",
        &passwd,
    )
    .value;
    let auth = Auth { passwd, acl };
    let store = MemoryStore::new();
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let now = UNIX_EPOCH + Duration::from_secs(1_795_315_720);

    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while parts.len() < 15 {
        match rest.windows(2).position(|w| w == b"\xff\xfe") {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + 2..];
            }
            None => break,
        }
    }
    parts.push(rest);
    let batch: Vec<Datagram<'_>> = parts
        .iter()
        .map(|p| Datagram {
            data: &p[..p.len().min(MAX_DATAGRAM)],
            len: p.len(),
            peer,
        })
        .collect();
    let mut replies = Vec::new();
    // every guard on, with limits the fuzzer can reach
    let guard = Arc::new(Guard::new(
        GuardConfig {
            rate: 50.0,
            burst: 20.0,
            one_report_window: 600,
            ..GuardConfig::default()
        },
        Arc::new(Stats::new()),
    ));
    let outcomes = handle_batch(&auth, &guard, &store, &NoHooks, now, &batch, &mut replies);
    assert_eq!(outcomes.len(), batch.len());
    assert!(replies.len() >= batch.len());
    for r in &replies[..batch.len()] {
        let text = std::str::from_utf8(r).expect("replies are text");
        let msg = pyzor_core::Message::parse(text);
        let reply = Response::from_message(&msg).expect("replies parse");
        assert_ne!(reply.code.0, 500, "a 500 for bad input: {text:?}");
    }
    if outcomes.iter().all(|o| !o.code.is_ok()) {
        assert_eq!(
            store.count().unwrap_or(0),
            0,
            "a failed batch stored something"
        );
    }

    if let Ok(r) = GdbmRecord::decode(data) {
        assert_eq!(GdbmRecord::decode(r.encode().as_bytes()), Ok(r));
    }
    let _ = store.describe();
}
