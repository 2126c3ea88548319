//! Forwarding for real: our pyzord forwards reports and whitelists to a
//! Python pyzord named in a client homedir (signing with its accounts
//! file); a SIGTERM right after a report still gets it upstream.

mod common;

use std::time::Duration;

use pyzor_core::{Digest, ServerAddr};
use pyzor_testkit::{RefEngine, RefPyzord, fixtures, wait_until};

fn digest(b: u8) -> Digest {
    Digest([b; 20])
}

#[test]
fn reports_and_whitelists_reach_the_upstream_server() {
    let Some(upstream) = RefPyzord::start(RefEngine::Gdbm, true) else {
        return;
    };
    let up = ServerAddr::new("127.0.0.1", upstream.port);
    // the forwarding client homedir: upstream server, bob's account there
    let fwd = tempfile::tempdir().unwrap();
    std::fs::write(
        fwd.path().join("servers"),
        format!("127.0.0.1:{}\n", upstream.port),
    )
    .unwrap();
    std::fs::write(
        fwd.path().join("accounts"),
        fixtures::account_line(upstream.port, "bob", fixtures::BOB),
    )
    .unwrap();
    std::fs::write(fwd.path().join("config"), "[client]\nTimeout = 2\n").unwrap();

    let home = tempfile::tempdir().unwrap();
    common::with_fixture_auth(home.path());
    let fwd_arg = fwd.path().to_str().unwrap().to_owned();
    let mut ours = common::start(
        home.path(),
        &["-e", "memory", "--forward-client-homedir", &fwd_arg],
    );
    let here = ServerAddr::new("127.0.0.1", ours.port);
    let client = common::bob_client(ours.port);
    client
        .report(&here, &[digest(1), digest(1), digest(2)])
        .unwrap();
    client.whitelist(&here, &[digest(3)]).unwrap();
    // a check is not forwarded
    client.check(&here, digest(4)).unwrap();

    let upstream_client = common::bob_client(upstream.port);
    let counts = |d| upstream_client.check(&up, d).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || counts(digest(1)).count == 2),
        "{:?}",
        counts(digest(1))
    );
    assert_eq!(counts(digest(2)).count, 1);
    assert_eq!(counts(digest(3)).wl_count, 1);
    assert_eq!(
        upstream_client.info(&up, digest(4)).unwrap().counts.count,
        0
    );

    // reported, then stopped at once: the queue is flushed on shutdown
    client.report(&here, &[digest(5)]).unwrap();
    ours.signal("TERM");
    assert_eq!(ours.wait(Duration::from_secs(15)), Some(0));
    assert_eq!(counts(digest(5)).count, 1);
}

#[test]
fn a_missing_forwarding_homedir_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .arg("--homedir")
        .arg(home.path())
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &pyzor_testkit::free_port().to_string(),
        ])
        .args(["--forward-client-homedir", "/nonexistent/pyzor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/pyzor"), "{err}");
}
