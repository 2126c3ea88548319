//! A taken port: a second pyzord on the port of a running one fails with
//! "Address already in use" and exits, whatever holds the port (our
//! pyzord, the reference pyzord, a plain socket), instead of joining the
//! first one's SO_REUSEPORT group and taking part of its traffic.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use pyzor_client::{Client, Digest, ServerAddr};
use pyzor_testkit::{RefEngine, RefPyzord, free_port};

/// Runs our pyzord on `port` in a fresh homedir and expects it to fail at
/// once: its exit status and its stderr.
fn second_pyzord(port: u16) -> (Option<i32>, String) {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::bin())
        .arg("--homedir")
        .arg(home.path())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-e", "memory"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the second pyzord kept running on a taken port");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(port: u16) {
    let (code, stderr) = second_pyzord(port);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_port_held_by_our_pyzord_is_refused_and_the_first_keeps_all_traffic() {
    let home = tempfile::tempdir().unwrap();
    let first = common::start(home.path(), &["-e", "memory", "--workers", "2"]);
    let server = ServerAddr::new("127.0.0.1", first.port);
    let client = Client::new().with_timeout(Duration::from_secs(3));
    let d = Digest([0x5e; 20]);
    for _ in 0..5 {
        client.report(&server, &[d]).unwrap();
    }
    assert_refused(first.port);
    // every check still reaches the first server's store
    for _ in 0..20 {
        assert_eq!(client.check(&server, d).unwrap().count, 5);
    }
}

#[test]
fn a_port_held_by_a_plain_socket_is_refused() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_refused(sock.local_addr().unwrap().port());
}

#[test]
fn a_port_held_by_the_reference_pyzord_is_refused() {
    let Some(reference) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    assert_refused(reference.port);
}

#[test]
fn a_free_port_still_serves_with_several_workers() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let ours = common::start_on(
        home.path(),
        "127.0.0.1",
        port,
        &["-e", "memory", "--workers", "3"],
    );
    let client = Client::new().with_timeout(Duration::from_secs(3));
    client
        .ping(&ServerAddr::new("127.0.0.1", ours.port))
        .unwrap();
}
