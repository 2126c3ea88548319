//! systemd readiness (Type=notify): pyzord sends READY=1 to
//! `$NOTIFY_SOCKET` once it listens, and STOPPING=1 when it stops.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use pyzor_testkit::{ChildGuard, free_port, udp_ping};

#[test]
fn notifies_systemd_when_ready_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let port = free_port();
    let mut guard = ChildGuard::spawn(
        "pyzord",
        Command::new(env!("CARGO_BIN_EXE_pyzord"))
            .arg("--homedir")
            .arg(dir.path())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .env("NOTIFY_SOCKET", &sock_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 15 s");
    assert_eq!(&buf[..n], b"READY=1");
    // ready means answering
    assert!(udp_ping(
        ([127, 0, 0, 1], port).into(),
        Duration::from_secs(2)
    ));
    Command::new("kill")
        .args(["-TERM", &guard.pid().to_string()])
        .status()
        .unwrap();
    let n = sock.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let status = guard.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
