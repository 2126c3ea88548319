//! The guards against replay and poisoning, through the binary: the
//! replay rule by default, the rate limit and one report per network from
//! options and from the config file, the metrics that count them, and
//! pyzord 1.1.2's behaviour back with `--replay-protection False`.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use pyzor_client::{Client, ClientError, Digest, ServerAddr};
use pyzor_core::{Account, Op, Request, ThreadId};
use pyzor_testkit::free_port;

fn exchange(port: u16, data: &[u8]) -> String {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(data, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("a reply");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A report of `d` signed by the fixture user bob, as one datagram.
fn bob_report(d: Digest) -> Vec<u8> {
    let bob = Account {
        user: "bob".into(),
        salt: pyzor_testkit::fixtures::BOB.0.into(),
        key: pyzor_testkit::fixtures::BOB.1.into(),
    };
    let now = pyzor_core::unix_secs(std::time::SystemTime::now());
    let mut r = Request::new(Op::Report, vec![d], ThreadId(4321));
    r.sign(&bob, now);
    r.to_bytes()
}

fn count(port: u16, d: Digest) -> i64 {
    Client::new()
        .check(&ServerAddr::new("127.0.0.1", port), d)
        .unwrap()
        .count
}

#[test]
fn a_replayed_signed_report_counts_once_by_default() {
    let home = tempfile::tempdir().unwrap();
    common::with_fixture_auth(home.path());
    let mport = free_port();
    let ours = common::start(home.path(), &["--metrics", &mport.to_string()]);
    let d = Digest([0x71; 20]);
    let report = bob_report(d);
    let first = exchange(ours.port, &report);
    assert!(first.starts_with("Code: 200\n"), "{first}");
    for _ in 0..3 {
        assert_eq!(exchange(ours.port, &report), first);
    }
    assert_eq!(count(ours.port, d), 1);
    assert_eq!(common::metric(mport, "pyzord_replays_total"), 3.0);
}

#[test]
fn replay_protection_false_is_the_reference() {
    let home = tempfile::tempdir().unwrap();
    common::with_fixture_auth(home.path());
    let ours = common::start(home.path(), &["--replay-protection", "False"]);
    let d = Digest([0x72; 20]);
    let report = bob_report(d);
    for _ in 0..3 {
        assert!(exchange(ours.port, &report).starts_with("Code: 200\n"));
    }
    assert_eq!(count(ours.port, d), 3);
}

#[test]
fn the_rate_limit_from_options_refuses_with_429() {
    let home = tempfile::tempdir().unwrap();
    let mport = free_port();
    let ours = common::start(
        home.path(),
        &[
            "--update-rate",
            "0.5",
            "--update-burst",
            "3",
            "--metrics",
            &mport.to_string(),
        ],
    );
    let s = ServerAddr::new("127.0.0.1", ours.port);
    let c = Client::new().with_timeout(Duration::from_secs(3));
    c.report(&s, &[Digest([1; 20]), Digest([2; 20])]).unwrap();
    c.report(&s, &[Digest([3; 20])]).unwrap();
    match c.report(&s, &[Digest([4; 20])]) {
        Err(ClientError::Server { code, diag }) => {
            assert_eq!(code.0, 429);
            assert_eq!(
                diag,
                "Too Many Requests: update rate limit exceeded for 127.0.0.0/24"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(ours.port, Digest([4; 20])), 0);
    assert_eq!(common::metric(mport, "pyzord_rate_limited_total"), 1.0);
    assert_eq!(
        common::metric(mport, "pyzord_requests_total{op=\"report\",code=\"429\"}"),
        1.0
    );
}

#[test]
fn config_keys_one_report_per_network_and_exemptions() {
    // (the exemption, the count after four reports of one digest)
    for (exempt, want) in [("10.0.0.0/8, nobody", 1), ("127.0.0.1", 4)] {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config"),
            format!(
                "[server]\nOneReportPerNetwork = 3600\nUpdateRate = 100\nRateLimitExempt = {exempt}\n"
            ),
        )
        .unwrap();
        let ours = common::start(home.path(), &[]);
        let s = ServerAddr::new("127.0.0.1", ours.port);
        let c = Client::new().with_timeout(Duration::from_secs(3));
        let d = Digest([0x73; 20]);
        for _ in 0..4 {
            c.report(&s, &[d]).unwrap();
        }
        assert_eq!(count(ours.port, d), want, "exempt: {exempt}");
    }
}

#[test]
fn a_bad_guard_setting_is_a_clear_error() {
    for (config, key) in [
        ("RateLimitIPv4Prefix = 40", "RateLimitIPv4Prefix"),
        ("UpdateRate = fast", "UpdateRate"),
        ("RateLimitExempt = 10.0.0.0/99", "RateLimitExempt"),
    ] {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config"), format!("[server]\n{config}\n")).unwrap();
        let out = std::process::Command::new(common::bin())
            .arg("--homedir")
            .arg(home.path())
            .args(["-a", "127.0.0.1", "-p", &free_port().to_string()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{config}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{config}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
