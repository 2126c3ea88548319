//! The embedding example against a real pyzord on loopback (in-process,
//! memory store): verdicts follow reports and whitelists, a dead server
//! gives "unknown", and several servers are asked at once.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use pyzor_client::{Filter, Verdict};
use pyzor_examples::{LocalServer, server_addr};

const SPAM: &[u8] = b"Subject: cheap meds\n\nBuy cheap meds online now, no prescription needed, discreet shipping.\n";
const HAM: &[u8] = b"Subject: minutes\n\nThe minutes of yesterday's meeting are attached; comments welcome by Friday.\n";

#[test]
fn verdicts_follow_reports_and_whitelists() {
    let a = LocalServer::start();
    let b = LocalServer::start();
    let filter = Filter::new(vec![server_addr(a.addr), server_addr(b.addr)])
        .with_timeout(Duration::from_secs(2));
    assert_eq!(filter.check(SPAM).verdict, Verdict::Clean);
    for _ in 0..4 {
        assert!(filter.report(&[SPAM], true).is_empty());
    }
    assert_eq!(filter.check(SPAM).verdict, Verdict::Clean);
    assert!(filter.report(&[SPAM], true).is_empty());
    let outcome = filter.check(SPAM);
    assert_eq!(outcome.verdict, Verdict::Spam { count: 5 });
    assert_eq!(outcome.digest, pyzor_digest::digest(SPAM));
    assert_eq!(outcome.answers.len(), 2);
    for (_, answer) in &outcome.answers {
        assert_eq!(answer.as_ref().unwrap().count, 5);
    }
    // the other message is untouched
    assert_eq!(filter.check(HAM).verdict, Verdict::Clean);
    // ten whitelists outweigh five reports
    for _ in 0..10 {
        assert!(filter.report(&[HAM, SPAM], false).is_empty());
    }
    assert_eq!(
        filter.check(SPAM).verdict,
        Verdict::Welcome { wl_count: 10 }
    );
}

#[test]
fn a_dead_server_means_no_opinion_not_a_failure() {
    // a bound socket that never answers
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filter = Filter::new(vec![server_addr(silent.local_addr().unwrap())])
        .with_timeout(Duration::from_millis(300));
    let t = Instant::now();
    let outcome = filter.check(SPAM);
    assert_eq!(outcome.verdict, Verdict::Unknown);
    assert!(outcome.answers[0].1.is_err());
    assert!(t.elapsed() < Duration::from_secs(2));

    // with one live server besides, its answer decides, and both servers
    // were asked at once (the wait is one timeout, not one per server)
    let live = LocalServer::start();
    let filter = Filter::new(vec![
        server_addr(silent.local_addr().unwrap()),
        server_addr(live.addr),
    ])
    .with_timeout(Duration::from_millis(300));
    for _ in 0..5 {
        let failures = filter.report(&[SPAM], true);
        assert_eq!(failures.len(), 1, "{failures:?}");
    }
    let t = Instant::now();
    assert_eq!(filter.check(SPAM).verdict, Verdict::Spam { count: 5 });
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}
