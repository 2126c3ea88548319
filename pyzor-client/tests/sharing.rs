//! One `Client` shared by many threads, and a `Client` made before
//! `fork()` used in the child, against the real Python pyzord: every
//! thread's reports are counted exactly, and the child's report is seen by
//! the parent.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use pyzor_client::Client;
use pyzor_core::{Digest, ServerAddr};
use pyzor_testkit::{RefEngine, RefPyzord};

#[test]
fn one_client_shared_by_threads() {
    let Some(server) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let addr = ServerAddr::new("127.0.0.1", server.port);
    let client = Arc::new(Client::new().with_timeout(Duration::from_secs(10)));
    // thread t reports its own digest t + 1 times, all threads at once
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let (client, addr) = (Arc::clone(&client), addr.clone());
            thread::spawn(move || {
                let d = Digest([t + 1; 20]);
                for _ in 0..=t {
                    client.report(&addr, &[d]).expect("report");
                }
                client.check(&addr, d).expect("check").count
            })
        })
        .collect();
    for (t, handle) in threads.into_iter().enumerate() {
        assert_eq!(handle.join().expect("thread"), t as i64 + 1, "thread {t}");
    }
}

#[test]
fn a_client_made_before_fork_works_in_the_child() {
    let Some(server) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let addr = ServerAddr::new("127.0.0.1", server.port);
    let client = Client::new().with_timeout(Duration::from_secs(10));
    client.ping(&addr).expect("ping before fork");
    let d = Digest([0xab; 20]);
    // SAFETY: the child only uses the client (sockets, allocation: both
    // fork-safe in glibc) and leaves with _exit, running no destructors
    // and no test-harness code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = client.report(&addr, &[d]).is_ok()
            && client.check(&addr, d).map(|c| c.count).ok() == Some(1);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child's report or check failed (status {status:#x})"
    );
    // the parent's client still works and sees the child's report
    assert_eq!(client.check(&addr, d).expect("check").count, 1);
}
