//! The embedding example against a real pyzord on loopback (in-process,
//! memory store): verdicts follow reports and whitelists, a dead server
//! gives "unknown", and several servers are asked at once.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyzor_core::ServerAddr;
use pyzor_examples::{PyzorFilter, Verdict};
use pyzord::handler::NoHooks;
use pyzord::server::{Options, Server, ServerHandle};
use pyzord::stats::Stats;
use pyzord::store::memory::MemoryStore;

struct Running {
    addr: SocketAddr,
    _home: tempfile::TempDir,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A pyzord whose access file lets anonymous users whitelist too (the
/// default rules do not).
fn start() -> Running {
    let home = tempfile::tempdir().unwrap();
    let access = home.path().join("pyzord.access");
    std::fs::write(&access, "all : anonymous : allow\n").unwrap();
    let server = Server::bind(
        Options {
            address: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            passwd: None,
            access: Some(access),
            cleanup_age: 0,
        },
        Arc::new(MemoryStore::new()),
        Arc::new(NoHooks),
        Arc::new(Stats::new()),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let thread = Some(std::thread::spawn(move || server.run()));
    Running {
        addr,
        _home: home,
        handle,
        thread,
    }
}

fn server_addr(a: SocketAddr) -> ServerAddr {
    ServerAddr::new(a.ip().to_string(), a.port())
}

const SPAM: &[u8] = b"Subject: cheap meds\n\nBuy cheap meds online now, no prescription needed, discreet shipping.\n";
const HAM: &[u8] = b"Subject: minutes\n\nThe minutes of yesterday's meeting are attached; comments welcome by Friday.\n";

#[test]
fn verdicts_follow_reports_and_whitelists() {
    let a = start();
    let b = start();
    let filter = PyzorFilter::new(vec![server_addr(a.addr), server_addr(b.addr)])
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
    let filter = PyzorFilter::new(vec![server_addr(silent.local_addr().unwrap())])
        .with_timeout(Duration::from_millis(300));
    let t = Instant::now();
    let outcome = filter.check(SPAM);
    assert_eq!(outcome.verdict, Verdict::Unknown);
    assert!(outcome.answers[0].1.is_err());
    assert!(t.elapsed() < Duration::from_secs(2));

    // with one live server besides, its answer decides, and both servers
    // were asked at once (the wait is one timeout, not one per server)
    let live = start();
    let filter = PyzorFilter::new(vec![
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
