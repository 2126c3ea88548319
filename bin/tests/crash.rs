//! Durability of the file store: under report load, `kill -9` the server;
//! after a restart every report that was answered is counted.

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use pyzor_client::Client;
use pyzor_core::{Account, Digest, Op, Request, ServerAddr, ThreadId};

#[test]
fn answered_reports_survive_kill_9() {
    let home = tempfile::tempdir().unwrap();
    let mut server = common::start(home.path(), &[]);
    let addr = server.addr();
    // A few sockets keep many reports in flight; each acknowledged digest
    // is remembered.
    let socks: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for s in &socks {
        s.set_nonblocking(true).unwrap();
    }
    let mut acked: HashSet<Digest> = HashSet::new();
    let mut next: u32 = 0;
    let start = Instant::now();
    let mut killed = false;
    let mut buf = [0u8; 8192];
    let mut sent = std::collections::HashMap::new();
    while start.elapsed() < Duration::from_secs(6) {
        for (si, s) in socks.iter().enumerate() {
            // keep up to 32 reports in flight per socket
            for _ in 0..8 {
                if sent.len() >= 128 || killed {
                    break;
                }
                next += 1;
                let mut bytes = [0u8; 20];
                bytes[..4].copy_from_slice(&next.to_be_bytes());
                let d = Digest(bytes);
                let thread = ThreadId(1024 + (next % 60000) as u16);
                let mut req = Request::new(Op::Report, vec![d], thread);
                req.sign(&Account::anonymous(), 0);
                if s.send_to(&req.to_bytes(), addr).is_ok() {
                    sent.insert((si, thread.0), d);
                }
            }
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                let thread: u16 = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Thread: "))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if let Some(d) = sent.remove(&(si, thread))
                    && text.starts_with("Code: 200\n")
                {
                    acked.insert(d);
                }
            }
        }
        if !killed && start.elapsed() > Duration::from_secs(2) && acked.len() > 200 {
            server.signal("KILL");
            killed = true;
        }
        if killed && server.wait(Duration::from_millis(1)).is_some() {
            break;
        }
    }
    assert!(killed, "only {} reports answered in time", acked.len());
    server.wait(Duration::from_secs(5));
    let port = server.port;
    drop(server);
    // restart on the same database file
    let again = common::start_on(home.path(), "127.0.0.1", port, &[]);
    let client = Client::new();
    let jobs: Vec<pyzor_client::Job> = acked
        .iter()
        .map(|d| {
            pyzor_client::Job::new(
                ServerAddr::new("127.0.0.1", again.port),
                Op::Check,
                vec![*d],
            )
        })
        .collect();
    let results = client.batch(&jobs);
    let lost: Vec<String> = jobs
        .iter()
        .zip(results)
        .filter(|(_, r)| !matches!(r, Ok(resp) if resp.counts.map(|c| c.count) == Some(1)))
        .map(|(j, r)| format!("{}: {r:?}", j.digests[0]))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered reports lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
}
