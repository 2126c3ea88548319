//! The handler without a network: the reference's captured exchanges
//! replayed at their capture times, every kind of bad input, and the
//! order of checks.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::{Account, Digest, Op, Request, ThreadId};

use super::*;
use crate::store::Record;
use crate::store::memory::MemoryStore;

const INTEROP_KEY: &str = "9ece6d41cca07a2a0ca9ce51139dea05f088061f";

fn interop_auth() -> Auth {
    let passwd = Passwd::parse(
        Path::new("pyzord.passwd"),
        &format!("interop : {INTEROP_KEY}\n"),
    )
    .value;
    let acl = Acl::parse(
        Path::new("pyzord.access"),
        "check report ping pong info : anonymous : allow\nall : all : allow\n",
        &passwd,
    )
    .value;
    Auth { passwd, acl }
}

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

/// No guard: pyzord 1.1.2's behaviour, which the captures record.
fn off() -> Arc<Guard> {
    Arc::new(Guard::new(
        crate::guard::GuardConfig::off(),
        Arc::new(crate::stats::Stats::new()),
    ))
}

fn at(secs: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(secs)
}

fn one(auth: &Auth, store: &dyn Store, now: SystemTime, data: &[u8]) -> String {
    let mut replies = Vec::new();
    let d = Datagram {
        data: &data[..data.len().min(MAX_DATAGRAM)],
        len: data.len(),
        peer: peer(),
    };
    handle_batch(auth, &off(), store, &NoHooks, now, &[d], &mut replies);
    String::from_utf8(replies.remove(0)).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The reference's reply as ours reads where the README's table documents
/// a difference: bad input the reference answers with a 500 (its uncaught
/// Python exception) is a 400 naming the field.
fn documented(theirs: String) -> String {
    let bad = [
        (
            "Code: 500\nDiag: Internal Server Error: cannot convert float infinity to integer\n",
            "Code: 400\nDiag: Bad request: Invalid Protocol Version\n".to_owned(),
        ),
        (
            "Code: 500\nDiag: Internal Server Error: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'\n",
            "Code: 400\nDiag: Bad request: Time not specified in signed request\n".to_owned(),
        ),
    ];
    for (from, to) in bad {
        if let Some(rest) = theirs.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    let literal =
        "Code: 500\nDiag: Internal Server Error: invalid literal for int() with base 10: ";
    if let Some(rest) = theirs.strip_prefix(literal) {
        return format!("Code: 400\nDiag: Bad request: Invalid Time: {rest}");
    }
    theirs
}

/// The reference's replies to every captured request, byte for byte (but
/// for the [`documented`] differences), with the clock set to the capture
/// time.
fn replay(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pyzor-core/tests/data/captures")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let auth = interop_auth();
    let store = MemoryStore::new();
    let mut n = 0;
    while let (Some(req), Some(resp)) = (lines.next(), lines.next()) {
        let field = |l: &str, k: &str| -> String {
            let start = l.find(&format!("\"{k}\": ")).unwrap() + k.len() + 4;
            let rest = &l[start..];
            if let Some(r) = rest.strip_prefix('"') {
                r[..r.find('"').unwrap()].to_owned()
            } else {
                rest[..rest.find([',', '}']).unwrap()].to_owned()
            }
        };
        assert_eq!(field(req, "dir"), "c2s");
        assert_eq!(field(resp, "dir"), "s2c");
        let t: f64 = field(req, "t").parse().unwrap();
        let ours = one(&auth, &store, at(t), &hex(&field(req, "hex")));
        let theirs = documented(String::from_utf8(hex(&field(resp, "hex"))).unwrap());
        assert_eq!(
            ours,
            theirs,
            "{file}: reply to {:?}",
            String::from_utf8_lossy(&hex(&field(req, "hex")))
        );
        n += 1;
    }
    assert!(n >= 20, "{n} exchanges");
}

#[test]
fn captured_gdbm_exchanges_replay_identically() {
    replay("pyzord-gdbm.jsonl");
}

#[test]
fn captured_redis_exchanges_replay_identically() {
    replay("pyzord-redis.jsonl");
}

fn signed(op: Op, digests: Vec<Digest>, account: &Account, time: i64) -> Vec<u8> {
    let mut r = Request::new(op, digests, ThreadId(4242));
    r.sign(account, time);
    r.to_bytes()
}

fn digest(b: u8) -> Digest {
    Digest([b; 20])
}

fn snapshot(store: &MemoryStore) -> Vec<Record> {
    (0..=255u8)
        .map(|b| store.apply(&[StoreOp::Get(digest(b))], 0).unwrap()[0])
        .collect()
}

#[test]
fn bad_input_gets_its_reply_and_changes_nothing() {
    let auth = interop_auth();
    let store = MemoryStore::new();
    let now = 1_800_000_000;
    let anon = Account::anonymous();
    // one good report first, so "unchanged" is not "empty"
    assert!(
        one(
            &auth,
            &store,
            at(now as f64),
            &signed(Op::Report, vec![digest(1)], &anon, now)
        )
        .starts_with("Code: 200\n")
    );
    let before = snapshot(&store);
    let interop = Account {
        user: "interop".into(),
        salt: String::new(),
        key: INTEROP_KEY.into(),
    };
    let good = signed(Op::Report, vec![digest(2)], &interop, now);
    let good_text = String::from_utf8(good.clone()).unwrap();
    let mut oversized = good_text.replace("\n\n", "\n");
    oversized.push_str(&format!("X-Pad: {}\n\n", "x".repeat(9000)));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..40].to_vec(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\n"),
        ("oversized", oversized.into_bytes(), "Code: 400\nDiag: Bad request: Request exceeds 8192 bytes\n"),
        ("binary", (0..=255u8).collect(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\n"),
        ("empty", Vec::new(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\nPV: 2.1\nThread: \n\n"),
        ("unknown op", b"Op: frobnicate\nOp-Digest: 0000000000000000000000000000000000000001\nThread: 5000\nPV: 2.1\n\n".to_vec(), "Code: 403\nDiag: Forbidden: User is not authorized to request the operation.\n"),
        ("missing op", b"Thread: 5000\nPV: 2.1\n\n".to_vec(), "Code: 403\n"),
        ("missing PV", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\n\n".to_vec(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\n"),
        ("bad PV", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\nPV: two\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid Protocol Version\n"),
        ("PV 3", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\nPV: 3.0\n\n".to_vec(), "Code: 505\nDiag: Version Not Supported: \n"),
        ("PV inf", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\nPV: inf\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid Protocol Version\n"),
        ("bad signature", good_text.replace(&interop.hashed_key()[..0], "").replacen("Sig: ", "Sig: 0", 1).into_bytes(), "Code: 401\nDiag: Unauthorized: Signature Error: Invalid signature.\n"),
        ("stale time", signed(Op::Report, vec![digest(2)], &interop, now - 301), "Code: 401\nDiag: Unauthorized: Signature Error: Timestamp not within allowed range.\n"),
        ("future time", signed(Op::Report, vec![digest(2)], &interop, now + 301), "Code: 401\nDiag: Unauthorized: Signature Error: Timestamp not within allowed range.\n"),
        ("unknown user", good_text.replace("User: interop", "User: mallory").into_bytes(), "Code: 401\nDiag: Unauthorized: Signature Error: Unknown user.\n"),
        ("missing time", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\nPV: 2.1\nUser: interop\nSig: 00\n\n".to_vec(), "Code: 400\nDiag: Bad request: Time not specified in signed request\n"),
        ("garbled time", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nThread: 5000\nPV: 2.1\nUser: interop\nTime: xyz\nSig: 00\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid Time: 'xyz'\n"),
        ("bad digest", b"Op: report\nOp-Digest: not-a-digest at all\nThread: 5000\nPV: 2.1\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid digest: 'not-a-digest at all'\n"),
        ("one bad digest of two", b"Op: report\nOp-Digest: 0202020202020202020202020202020202020202\nOp-Digest: zz\nThread: 5000\nPV: 2.1\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid digest: 'zz'\n"),
        ("anonymous whitelist", signed(Op::Whitelist, vec![digest(2)], &anon, now), "Code: 403\n"),
    ];
    for (name, data, want) in cases {
        let got = one(&auth, &store, at(now as f64 + 0.5), &data);
        assert!(got.starts_with(want), "{name}: got {got:?}");
        assert!(got.ends_with("\n\n"), "{name}: {got:?}");
        assert_eq!(snapshot(&store), before, "{name} changed the store");
    }
    // the same good request is accepted
    assert!(one(&auth, &store, at(now as f64), &good).starts_with("Code: 200\n"));
    assert_ne!(snapshot(&store), before);
}

#[test]
fn order_of_checks() {
    let auth = interop_auth();
    let store = MemoryStore::new();
    // an unknown user wins over a bad PV
    let r = one(
        &auth,
        &store,
        at(0.0),
        b"Op: ping\nThread: 1\nUser: mallory\nPV: 9\n\n",
    );
    assert!(r.starts_with("Code: 401\n"), "{r}");
    // a bad PV wins over an unknown op
    let r = one(&auth, &store, at(0.0), b"Op: frob\nThread: 1\nPV: 9\n\n");
    assert!(r.starts_with("Code: 505\n"), "{r}");
    // an op the ACL grants but the server does not know: 501
    let passwd = Passwd::empty();
    let acl = Acl::parse(
        Path::new("access"),
        "frob ping : anonymous : allow\n",
        &passwd,
    )
    .value;
    let auth2 = Auth { passwd, acl };
    let r = one(&auth2, &store, at(0.0), b"Op: frob\nThread: 1\nPV: 2.1\n\n");
    assert!(
        r.starts_with(
            "Code: 501\nDiag: Not implemented: Requested operation is not implemented.\n"
        ),
        "{r}"
    );
    // check without a digest: a bare 200
    let r = one(
        &auth,
        &store,
        at(0.0),
        b"Op: check\nThread: 77\nPV: 2.1\n\n",
    );
    assert_eq!(r, "Code: 200\nDiag: OK\nPV: 2.1\nThread: 77\n\n");
    // the thread is echoed verbatim, even when odd
    let r = one(
        &auth,
        &store,
        at(0.0),
        b"Op: ping\nThread: abc \nPV: 2.1\n\n",
    );
    assert!(r.contains("Thread: abc \n"), "{r:?}");
    // "\n\n" inside a request is collapsed: the PV after it still counts
    let r = one(
        &auth,
        &store,
        at(0.0),
        b"Op: ping\nThread: 9\n\nPV: 2.1\n\n",
    );
    assert!(r.starts_with("Code: 200\n"), "{r}");
}

#[test]
fn batches_count_every_digest_and_read_their_own_writes() {
    let auth = Auth::default();
    let store = MemoryStore::new();
    let anon = Account::anonymous();
    let now = 1_800_000_000;
    let reqs = [
        signed(
            Op::Report,
            vec![digest(7), digest(8), digest(7)],
            &anon,
            now,
        ),
        signed(Op::Check, vec![digest(7)], &anon, now),
        signed(Op::Info, vec![digest(8), digest(7)], &anon, now),
        signed(Op::Pong, vec![digest(9)], &anon, now),
        signed(Op::Ping, vec![], &anon, now),
    ];
    let batch: Vec<Datagram<'_>> = reqs
        .iter()
        .map(|r| Datagram {
            data: r,
            len: r.len(),
            peer: peer(),
        })
        .collect();
    let mut replies = Vec::new();
    let outcomes = handle_batch(
        &auth,
        &off(),
        &store,
        &NoHooks,
        at(now as f64),
        &batch,
        &mut replies,
    );
    let text: Vec<String> = replies
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert_eq!(text[0], "Code: 200\nDiag: OK\nPV: 2.1\nThread: 4242\n\n");
    assert!(
        text[1].ends_with("Count: 2\nWL-Count: 0\n\n"),
        "{}",
        text[1]
    );
    assert!(
        text[2].ends_with(&format!("Entered: {now}\nUpdated: {now}\nWL-Entered: 0\nWL-Updated: 0\nCount: 1\nWL-Count: 0\n\n")),
        "{}",
        text[2]
    );
    assert!(text[3].ends_with("Count: 9223372036854775807\nWL-Count: 0\n\n"));
    assert_eq!(
        outcomes[0].counted,
        Some((Update::Report, vec![digest(7), digest(8), digest(7)]))
    );
    assert!(outcomes.iter().all(|o| o.code == Code::OK));
}

/// A store that is down.
struct Down;

impl Store for Down {
    fn apply(&self, _: &[StoreOp], _: i64) -> Result<Vec<Record>, crate::store::StoreError> {
        Err(crate::store::StoreError::unavailable(
            std::io::Error::other("connection refused"),
        ))
    }
    fn expire(&self, _: i64) -> Result<u64, crate::store::StoreError> {
        Ok(0)
    }
    fn flush(&self) -> Result<(), crate::store::StoreError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "down".into()
    }
}

#[test]
fn a_store_failure_is_a_500_for_the_requests_that_need_it() {
    let auth = Auth::default();
    let anon = Account::anonymous();
    let r = one(
        &auth,
        &Down,
        at(0.0),
        &signed(Op::Check, vec![digest(1)], &anon, 0),
    );
    assert!(
        r.starts_with(
            "Code: 500\nDiag: Internal Server Error: Database temporarily unavailable.\n"
        ),
        "{r}"
    );
    // ping and pong do not touch the store
    let r = one(
        &auth,
        &Down,
        at(0.0),
        &signed(Op::Pong, vec![digest(1)], &anon, 0),
    );
    assert!(r.starts_with("Code: 200\n"), "{r}");
}

/// Splitting a batch for a group-committing store: the writes, and the
/// reads of what they write earlier in the batch, wait; the rest is
/// answered at once; together they answer exactly what one call would.
#[test]
fn split_batches_answer_like_whole_ones() {
    let auth = Auth::default();
    let anon = Account::anonymous();
    let now = 1_795_315_720;
    let reqs = [
        signed(Op::Check, vec![digest(1)], &anon, now), // before any write: stays
        signed(Op::Report, vec![digest(1)], &anon, now), // write
        signed(Op::Check, vec![digest(1)], &anon, now), // reads the write: waits
        signed(Op::Check, vec![digest(2)], &anon, now), // unrelated: stays
        signed(Op::Info, vec![digest(1)], &anon, now),  // reads the write: waits
        signed(Op::Ping, vec![], &anon, now),           // no store: stays
        b"Op: check\nThread: 7\n\n".to_vec(),           // an error: stays
    ];
    let batch: Vec<Datagram<'_>> = reqs
        .iter()
        .map(|r| Datagram {
            data: r,
            len: r.len(),
            peer: peer(),
        })
        .collect();

    // the whole batch in one call
    let whole_store = MemoryStore::new();
    let mut whole = Vec::new();
    handle_batch(
        &auth,
        &off(),
        &whole_store,
        &NoHooks,
        at(now as f64),
        &batch,
        &mut whole,
    );

    // split
    let split_store = MemoryStore::new();
    let mut stay = prepare(&auth, &off(), at(now as f64), &batch);
    let wait = stay.split_off_updates().expect("there is a write");
    assert_eq!(stay.len(), 4);
    assert_eq!(wait.len(), 3);
    assert_eq!(
        wait.ops(),
        vec![
            StoreOp::Update(Update::Report, vec![digest(1)]),
            StoreOp::Get(digest(1)),
            StoreOp::Get(digest(1)),
        ]
    );
    assert_eq!(
        stay.ops(),
        vec![StoreOp::Get(digest(1)), StoreOp::Get(digest(2))]
    );
    let mut first = Vec::new();
    let r = split_store.apply(&stay.ops(), stay.now());
    stay.finish(r, &NoHooks, &mut first);
    let mut second = Vec::new();
    let r = split_store.apply(&wait.ops(), wait.now());
    wait.finish(r, &NoHooks, &mut second);

    let mut split: Vec<String> = first
        .iter()
        .chain(&second)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    let mut whole: Vec<String> = whole
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert!(whole[2].contains("Count: 1\n"), "{}", whole[2]);
    split.sort();
    whole.sort();
    assert_eq!(split, whole);

    // a batch without writes is not split
    let mut reads = prepare(&auth, &off(), at(now as f64), &batch[3..]);
    assert!(reads.split_off_updates().is_none());
    assert_eq!(reads.len(), 4);
}

/// One datagram through the handler with `guard`, from `peer`.
fn guarded_one(guard: &Arc<Guard>, store: &dyn Store, now: f64, from: &str, data: &[u8]) -> String {
    let auth = interop_auth();
    let mut replies = Vec::new();
    let d = Datagram {
        data,
        len: data.len(),
        peer: from.parse().unwrap(),
    };
    handle_batch(&auth, guard, store, &NoHooks, at(now), &[d], &mut replies);
    String::from_utf8(replies.remove(0)).unwrap()
}

#[test]
fn a_replayed_signed_report_counts_once_and_is_answered_alike() {
    let now = 1_795_315_720;
    let interop = Account {
        user: "interop".into(),
        salt: String::new(),
        key: INTEROP_KEY.into(),
    };
    let report = signed(Op::Report, vec![digest(3)], &interop, now);
    let check = || {
        let mut r = Request::new(Op::Check, vec![digest(3)], ThreadId(5000));
        r.sign(&Account::anonymous(), now);
        r.to_bytes()
    };
    // the default guard: the replay rule
    let stats = Arc::new(crate::stats::Stats::new());
    let guard = Arc::new(Guard::new(
        crate::guard::GuardConfig::default(),
        Arc::clone(&stats),
    ));
    let store = MemoryStore::new();
    let first = guarded_one(&guard, &store, now as f64, "192.0.2.1:1000", &report);
    let again = guarded_one(
        &guard,
        &store,
        now as f64 + 5.0,
        "198.51.100.7:2000",
        &report,
    );
    assert_eq!(first, "Code: 200\nDiag: OK\nPV: 2.1\nThread: 4242\n\n");
    assert_eq!(again, first);
    let counted = guarded_one(&guard, &store, now as f64 + 6.0, "192.0.2.1:1000", &check());
    assert!(counted.ends_with("Count: 1\nWL-Count: 0\n\n"), "{counted}");
    assert_eq!(stats.replays.load(std::sync::atomic::Ordering::Relaxed), 1);
    // a report the store failed to apply is forgotten: its retry applies
    let down = guarded_one(
        &guard,
        &Down,
        now as f64,
        "192.0.2.1:1000",
        &signed(Op::Report, vec![digest(4)], &interop, now),
    );
    assert!(down.starts_with("Code: 500\n"), "{down}");
    let retried = signed(Op::Report, vec![digest(4)], &interop, now);
    let r = guarded_one(&guard, &store, now as f64 + 1.0, "192.0.2.1:1000", &retried);
    assert!(r.starts_with("Code: 200\n"), "{r}");
    assert_eq!(
        stats.replays.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the retry was not taken for a replay"
    );
    // pyzord 1.1.2 applies it twice
    let store = MemoryStore::new();
    for _ in 0..2 {
        guarded_one(&off(), &store, now as f64, "192.0.2.1:1000", &report);
    }
    let counted = guarded_one(&off(), &store, now as f64, "192.0.2.1:1000", &check());
    assert!(counted.ends_with("Count: 2\nWL-Count: 0\n\n"), "{counted}");
}

#[test]
fn over_the_rate_limit_is_a_429_naming_the_network() {
    let now = 1_795_315_720.0;
    let guard = Arc::new(Guard::new(
        crate::guard::GuardConfig {
            rate: 1.0,
            burst: 2.0,
            ..crate::guard::GuardConfig::default()
        },
        Arc::new(crate::stats::Stats::new()),
    ));
    let store = MemoryStore::new();
    let report = |d: u8| {
        let mut r = Request::new(Op::Report, vec![digest(d)], ThreadId(4000 + u16::from(d)));
        r.sign(&Account::anonymous(), now as i64);
        r.to_bytes()
    };
    for d in 1..=2 {
        let r = guarded_one(&guard, &store, now, "192.0.2.1:1", &report(d));
        assert!(r.starts_with("Code: 200\n"), "{r}");
    }
    let r = guarded_one(&guard, &store, now, "192.0.2.99:1", &report(3));
    assert_eq!(
        r,
        "Code: 429\nDiag: Too Many Requests: update rate limit exceeded for 192.0.2.0/24\nPV: 2.1\nThread: 4003\n\n"
    );
    // checks are not limited, and nothing of the refused report is stored
    let mut c = Request::new(Op::Check, vec![digest(3)], ThreadId(6000));
    c.sign(&Account::anonymous(), now as i64);
    let r = guarded_one(&guard, &store, now, "192.0.2.1:1", &c.to_bytes());
    assert!(r.ends_with("Count: 0\nWL-Count: 0\n\n"), "{r}");
}
