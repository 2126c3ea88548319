//! pyzord and a mail filter in one process, on loopback: the server runs
//! on a thread with the in-memory store, the filter reports a spam message
//! five times and checks it again. Self-contained:
//!
//! ```text
//! cargo run -p pyzor-examples --example embedded_server
//! ```

use std::sync::Arc;
use std::time::Duration;

use pyzor_client::{Filter, ServerAddr, Verdict};
use pyzord::handler::NoHooks;
use pyzord::server::{Options, Server};
use pyzord::stats::Stats;
use pyzord::store::memory::MemoryStore;

const SPAM: &[u8] = b"From: winner@example.com\nTo: you@example.org\nSubject: You have won\n\n\
Congratulations! You have been selected to receive a free cruise.\n\
Reply with your bank details to claim your prize today.\n";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::bind(
        Options {
            address: "127.0.0.1:0".parse()?,
            workers: 2,
            passwd: None,
            access: None,
            cleanup_age: 0,
            guard: Default::default(),
        },
        Arc::new(MemoryStore::new()),
        Arc::new(NoHooks),
        Arc::new(Stats::new()),
    )?;
    let addr = server.local_addr()?;
    let handle = server.handle();
    let running = std::thread::spawn(move || server.run());
    println!("pyzord listening on {addr}");

    let filter = Filter::new(vec![ServerAddr::new(addr.ip().to_string(), addr.port())])
        .with_timeout(Duration::from_secs(2));
    let before = filter.check(SPAM);
    println!("digest {}: {:?}", before.digest, before.verdict);
    for _ in 0..5 {
        let failures = filter.report(&[SPAM], true);
        if let Some((server, e)) = failures.first() {
            return Err(format!("report to {server}: {e}").into());
        }
    }
    let after = filter.check(SPAM);
    println!("after 5 reports: {:?}", after.verdict);
    assert_eq!(after.verdict, Verdict::Spam { count: 5 });

    handle.shutdown();
    running.join().map_err(|_| "the server thread panicked")??;
    Ok(())
}
