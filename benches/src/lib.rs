//! Shared inputs for the pyzor-rs benchmarks (`cargo bench -p pyzor-benches`).

use pyzor_core::{Account, Digest, Op, Request, ThreadId};

/// A fixed digest used by the benches.
pub const DIGEST_HEX: &str = "8cc3769958948319b31ad22608fe39e576608808";

/// A signed request as the reference client sends it.
pub fn signed_request(op: Op, account: &Account) -> Vec<u8> {
    let digest: Digest = DIGEST_HEX.parse().expect("valid digest");
    let digests = if op == Op::Ping { vec![] } else { vec![digest] };
    let mut req = Request::new(op, digests, ThreadId(26195));
    req.sign(account, 1_795_315_720);
    req.to_bytes()
}

/// An authenticated account for the benches.
pub fn bench_account() -> Account {
    Account {
        user: "bench".into(),
        salt: String::new(),
        key: "8a5e7c2b41d9f0e3a6b5c4d3e2f1a0b9c8d7e6f5".into(),
    }
}
