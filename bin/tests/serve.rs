//! `pyzor serve` spoken to as rspamd does (connect, send the message,
//! half-close, read until closed): the answer is byte for byte what the
//! reference `pyzor check` prints for the same message against the same
//! Python pyzord; limits give one error line; many connections at once
//! are all answered; SIGTERM stops it cleanly.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pyzor_testkit::{
    ChildGuard, RefEngine, RefPyzord, free_port, require_python_pyzor, wait_until,
};

const OURS: &str = env!("CARGO_BIN_EXE_pyzor");

const SPAM: &[u8] = b"From: x@example.org\nSubject: offer\n\nA once in a lifetime offer for cheap watches and pills.\nClick the link below to claim your reward today only.\n";

/// rspamd's way: send, shut down writing, read to the end.
fn ask(port: u16, message: &[u8], half_close: bool) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(message).unwrap();
    if half_close {
        c.shutdown(Shutdown::Write).unwrap();
    }
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

fn serve(homedir: &Path, port: u16, extra: &[&str]) -> ChildGuard {
    let mut cmd = Command::new(OURS);
    cmd.arg("--homedir")
        .arg(homedir)
        .args(extra)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let g = ChildGuard::spawn("pyzor serve", &mut cmd);
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_ok()));
    g
}

fn reference_check(homedir: &Path, message: &[u8]) -> String {
    let py = require_python_pyzor().unwrap();
    let mut child: Child = Command::new(&py.pyzor)
        .arg("--homedir")
        .arg(homedir)
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
fn answers_what_pyzor_check_prints() {
    let Some(server) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("servers"),
        format!("127.0.0.1:{}\n", server.port),
    )
    .unwrap();
    let port = free_port();
    let _serve = serve(home.path(), port, &[]);

    let before = ask(port, SPAM, true);
    assert_eq!(before, reference_check(home.path(), SPAM));
    assert!(before.ends_with("\t(200, 'OK')\t0\t0\n"), "{before:?}");
    // report it twice through the reference client, then ask again
    for _ in 0..2 {
        let py = require_python_pyzor().unwrap();
        let mut child = Command::new(&py.pyzor)
            .arg("--homedir")
            .arg(home.path())
            .arg("report")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(SPAM).unwrap();
        assert!(child.wait().unwrap().success());
    }
    let after = ask(port, SPAM, true);
    assert_eq!(after, reference_check(home.path(), SPAM));
    assert!(after.ends_with("\t(200, 'OK')\t2\t0\n"), "{after:?}");
    // any bytes are a message
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    assert_eq!(
        ask(port, &binary, true),
        reference_check(home.path(), &binary)
    );

    // many at once, with fewer workers than connections: all answered
    let port2 = free_port();
    let _serve2 = serve(home.path(), port2, &["--max-connections", "3"]);
    let threads: Vec<_> = (0..24)
        .map(|_| std::thread::spawn(move || ask(port2, SPAM, true)))
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), after);
    }
}

#[test]
fn limits_give_an_error_line_and_sigterm_stops_it() {
    let home = tempfile::tempdir().unwrap();
    // a server that never answers: the check times out, the service does not
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        home.path().join("servers"),
        format!("127.0.0.1:{}\n", silent.local_addr().unwrap().port()),
    )
    .unwrap();
    let port = free_port();
    let mut svc = Command::new(OURS)
        .arg("--homedir")
        .arg(home.path())
        .args(["-t", "1", "serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--max-message-size", "1000", "--read-timeout", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_ok()));

    let big = vec![b'a'; 5000];
    let r = ask(port, &big, true);
    assert_eq!(r, "error: message larger than 1000 bytes\n");
    // no half-close: an error after the read timeout, not a hang
    let t = Instant::now();
    let r = ask(port, SPAM, false);
    assert!(
        r.starts_with("error: no complete message within 1 s"),
        "{r:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // the upstream times out: the answer is the check's own timeout line
    let r = ask(port, SPAM, true);
    assert!(
        r.ends_with("\t(504, 'Reading response timed-out.')\n"),
        "{r:?}"
    );

    Command::new("kill")
        .args(["-TERM", &svc.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = svc.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "pyzor serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn serve_is_alone_and_needs_a_valid_address() {
    for args in [
        &["serve", "check"][..],
        &["serve", "--listen", "not an address"][..],
    ] {
        let out = Command::new(OURS).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
