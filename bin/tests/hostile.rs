//! A hostile mix against our pyzord (durable file store): random bytes,
//! truncations and byte mutations of valid requests, odd PV, Time, Thread
//! and User values, header floods, oversize datagrams, CR LF line ends.
//! Every datagram is answered with a parsable reply, none with a 500 (a
//! 500 means "the server failed"), and nothing is stored: reports and
//! whitelists in the mix are either anonymous (which the ACL does not
//! allow to update) or signed by a known user with a key the server does
//! not have for it.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use pyzor_core::{Account, Digest, Message, Op, Request, Response, ThreadId};
use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};

/// The server's rules: anonymous may read but not update; bob may do
/// everything (but the mix never has bob's key).
const ACCESS: &str = "check ping pong info : anonymous : allow\nall : bob : allow\n";

/// Requests a client could send, before the mix spoils them.
fn valid_requests(rng: &mut SmallRng) -> Vec<Vec<u8>> {
    let impostor = Account {
        user: "bob".into(),
        salt: String::new(),
        key: "0000000000000000000000000000000000000000".into(),
    };
    let now = pyzor_core::unix_secs(std::time::SystemTime::now());
    let mut out = Vec::new();
    for op in [
        Op::Ping,
        Op::Pong,
        Op::Check,
        Op::Info,
        Op::Report,
        Op::Whitelist,
    ] {
        let n = if matches!(op, Op::Report | Op::Whitelist) {
            3
        } else {
            1
        };
        let digests: Vec<Digest> = (0..n).map(|_| Digest(rng.random())).collect();
        let digests = if op == Op::Ping { vec![] } else { digests };
        let thread = ThreadId::generate(rng);
        let mut anonymous = Request::new(op, digests.clone(), thread);
        anonymous.sign(&Account::anonymous(), now);
        out.push(anonymous.to_bytes());
        let mut signed = Request::new(op, digests, thread);
        signed.sign(&impostor, now);
        out.push(signed.to_bytes());
    }
    out
}

/// One header replaced in a request's text.
fn with_header(req: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(req);
    let mut out = String::new();
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(&format!("{name}:")) && !done {
            out.push_str(&format!("{name}: {value}\n"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if !done {
        out = out.trim_end_matches('\n').to_owned() + &format!("\n{name}: {value}\n\n");
    }
    out.into_bytes()
}

/// The mix: every class, deterministic.
fn mix() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let valid = valid_requests(&mut rng);
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    // random bytes, of every length class
    for _ in 0..300 {
        let len = match rng.random_range(0..3) {
            0 => rng.random_range(0..16),
            1 => rng.random_range(16..512),
            _ => rng.random_range(512..8192),
        };
        let mut b = vec![0u8; len];
        rng.fill_bytes(&mut b);
        out.push(("random bytes", b));
    }
    // truncations of every valid request
    for req in &valid {
        for cut in (0..req.len()).step_by(7) {
            out.push(("truncation", req[..cut].to_vec()));
        }
    }
    // byte mutations: flips, insertions, deletions
    for _ in 0..1500 {
        let mut req = valid[rng.random_range(0..valid.len())].clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..req.len());
            match rng.random_range(0..3) {
                0 => req[i] ^= 1 << rng.random_range(0..8),
                1 => req.insert(i, rng.random()),
                _ => {
                    req.remove(i);
                }
            }
            if req.is_empty() {
                break;
            }
        }
        out.push(("mutation", req));
    }
    // odd header values
    let odd = [
        "",
        " ",
        "inf",
        "-inf",
        "+inf",
        "nan",
        "NaN",
        "1e309",
        "-1e309",
        "infinity",
        "2.1.1",
        "0",
        "-0",
        "-1",
        "65535",
        "65536",
        "99999999999999999999999999",
        "1e3",
        "0x10",
        "12abc",
        " 12 ",
        "\u{a0}2\u{a0}",
        "２",
        "٢",
        "\t",
        "anonymous",
        "ANONYMOUS",
        "bob ",
        "\u{fffd}",
    ];
    let long = "9".repeat(4000);
    for req in &valid {
        for header in ["PV", "Time", "Thread", "User", "Op", "Sig"] {
            for v in odd.iter().copied().chain([long.as_str()]) {
                out.push(("odd value", with_header(req, header, v)));
            }
        }
    }
    // header floods (under and over the size limit)
    for n in [50usize, 200, 400, 1000] {
        let mut text = String::from_utf8_lossy(&valid[2]).trim_end().to_owned();
        for i in 0..n {
            text.push_str(&format!("\nX-Flood-{i}: {}", "y".repeat(i % 7)));
        }
        text.push_str("\n\n");
        out.push(("header flood", text.into_bytes()));
        let mut digests = String::from_utf8_lossy(&valid[8]).trim_end().to_owned();
        for _ in 0..n {
            digests.push_str(&format!("\nOp-Digest: {}", Digest(rng.random())));
        }
        digests.push_str("\n\n");
        out.push(("digest flood", digests.into_bytes()));
    }
    // oversize datagrams
    for len in [8193usize, 9000, 16384, 65000] {
        let mut req = valid[8].clone();
        req.resize(len, b'A');
        out.push(("oversize", req));
    }
    // CR LF, lone CR, mixed line ends
    for req in &valid {
        let text = String::from_utf8_lossy(req);
        out.push(("crlf", text.replace('\n', "\r\n").into_bytes()));
        out.push(("cr", text.replace('\n', "\r").into_bytes()));
        out.push(("mixed", text.replacen('\n', "\r\n", 2).into_bytes()));
    }
    out
}

fn stored_digests(home: &std::path::Path) -> u64 {
    let out = Command::new(common::bin())
        .arg("--homedir")
        .arg(home)
        .arg("stats")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("digests:"))
        .unwrap_or_else(|| panic!("no digest count in {text:?}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn every_datagram_is_answered_none_with_500_nothing_stored() {
    let home = tempfile::tempdir().unwrap();
    common::with_fixture_auth(home.path());
    std::fs::write(home.path().join("pyzord.access"), ACCESS).unwrap();
    let mut server = common::start(home.path(), &["--workers", "2"]);
    let addr: SocketAddr = server.addr();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 65536];
    let cases = mix();
    let mut by_code: std::collections::BTreeMap<u16, usize> = Default::default();
    for (class, data) in &cases {
        sock.send_to(data, addr).unwrap();
        let (n, from) = sock.recv_from(&mut buf).unwrap_or_else(|e| {
            panic!(
                "no reply to a {class} datagram ({e}): {:?}",
                String::from_utf8_lossy(data)
            )
        });
        assert_eq!(from, addr);
        let text = String::from_utf8_lossy(&buf[..n]);
        let reply = Response::from_message(&Message::parse(&text))
            .unwrap_or_else(|e| panic!("unparsable reply {text:?} to a {class} datagram: {e}"));
        assert_ne!(
            reply.code.0,
            500,
            "a 500 for a {class} datagram {:?}: {text:?}",
            String::from_utf8_lossy(data)
        );
        *by_code.entry(reply.code.0).or_default() += 1;
    }
    assert!(cases.len() > 3000, "{} datagrams", cases.len());
    // the mix reaches past the first checks: signatures, ACL, versions
    for code in [200, 400, 401, 403, 505] {
        assert!(by_code.contains_key(&code), "no {code} in {by_code:?}");
    }
    server.signal("TERM");
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
    assert_eq!(stored_digests(home.path()), 0, "replies: {by_code:?}");
}
