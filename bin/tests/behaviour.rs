//! Our pyzord as a process: bad datagrams over a real socket, reload on
//! SIGUSR1/SIGHUP, graceful SIGTERM, IPv6, the usage log, and the command
//! line's compatibility behaviour.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use pyzor_client::Client;
use pyzor_core::{Account, Digest, Op, Request, ServerAddr, ThreadId};

fn exchange(addr: std::net::SocketAddr, data: &[u8]) -> String {
    let s = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(data, addr).unwrap();
    let mut buf = [0u8; 9000];
    let (n, _) = s.recv_from(&mut buf).expect("a reply");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn check_count(port: u16, d: Digest) -> i64 {
    Client::new()
        .check(&ServerAddr::new("127.0.0.1", port), d)
        .unwrap()
        .count
}

#[test]
fn bad_datagrams_get_their_reply_and_change_nothing() {
    let home = tempfile::tempdir().unwrap();
    let server = common::start(home.path(), &[]);
    let d = Digest([5; 20]);
    Client::new()
        .report(&ServerAddr::new("127.0.0.1", server.port), &[d])
        .unwrap();
    let hex = d.to_string();
    let mut oversized = format!("Op: report\nOp-Digest: {hex}\nThread: 4000\nPV: 2.1\n");
    while oversized.len() < 9000 {
        oversized.push_str(&format!("Op-Digest: {hex}\n"));
    }
    oversized.push('\n');
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (oversized.into_bytes(), "Code: 400\nDiag: Bad request: Request exceeds 8192 bytes\nPV: 2.1\nThread: 4000\n\n"),
        (b"Op: report\nOp-Dig".to_vec(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\nPV: 2.1\nThread: \n\n"),
        ((0..=255u8).rev().collect(), "Code: 400\nDiag: Bad request: Protocol Version not specified in request\n"),
        (format!("Op: nuke\nOp-Digest: {hex}\nThread: 4001\nPV: 2.1\n\n").into_bytes(), "Code: 403\n"),
        (format!("Op: report\nOp-Digest: {hex}\nThread: 4002\nPV: 1.0\n\n").into_bytes(), "Code: 505\nDiag: Version Not Supported: \n"),
        (format!("Op: report\nOp-Digest: {hex}\nThread: 4003\nPV: 2.1\nUser: bob\nTime: 0\nSig: x\n\n").into_bytes(), "Code: 401\nDiag: Unauthorized: Signature Error: Unknown user.\n"),
        (b"Op: report\nOp-Digest: 12345\nThread: 4004\nPV: 2.1\n\n".to_vec(), "Code: 400\nDiag: Bad request: Invalid digest: '12345'\n"),
    ];
    for (data, want) in cases {
        let got = exchange(server.addr(), &data);
        assert!(got.starts_with(want), "reply {got:?}, wanted {want:?}");
    }
    assert_eq!(check_count(server.port, d), 1);
}

fn signed_ping(account: &Account) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut r = Request::new(Op::Ping, vec![], ThreadId(5000));
    r.sign(account, now);
    r.to_bytes()
}

#[test]
fn reload_on_sigusr1_and_sighup_keeps_old_rules_when_broken() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("pyzord.log");
    std::fs::write(home.path().join("pyzord.passwd"), "bob : abcd\n").unwrap();
    std::fs::write(
        home.path().join("pyzord.access"),
        "ping : anonymous : allow\n",
    )
    .unwrap();
    let server = common::start(home.path(), &["--log-file", log.to_str().unwrap()]);
    let bob = Account {
        user: "bob".into(),
        salt: String::new(),
        key: "abcd".into(),
    };
    assert!(exchange(server.addr(), &signed_ping(&bob)).starts_with("Code: 403\n"));
    // grant bob ping, reload with SIGUSR1
    std::fs::write(
        home.path().join("pyzord.access"),
        "ping : anonymous bob : allow\n",
    )
    .unwrap();
    server.signal("USR1");
    assert!(pyzor_testkit::wait_until(Duration::from_secs(5), || {
        exchange(server.addr(), &signed_ping(&bob)).starts_with("Code: 200\n")
    }));
    // a broken file: the old rules stay, the log names file and line
    std::fs::write(
        home.path().join("pyzord.access"),
        "ping : bob : deny\nthis is not an ACL line\n",
    )
    .unwrap();
    server.signal("HUP");
    assert!(pyzor_testkit::wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("pyzord.access:2:")
    }));
    assert!(exchange(server.addr(), &signed_ping(&bob)).starts_with("Code: 200\n"));
    // fixed: the new rules apply
    std::fs::write(
        home.path().join("pyzord.access"),
        "ping : anonymous : allow\n",
    )
    .unwrap();
    server.signal("HUP");
    assert!(pyzor_testkit::wait_until(Duration::from_secs(5), || {
        exchange(server.addr(), &signed_ping(&bob)).starts_with("Code: 403\n")
    }));
}

#[test]
fn sigterm_is_a_clean_exit_and_the_data_stays() {
    let home = tempfile::tempdir().unwrap();
    let mut server = common::start(home.path(), &[]);
    let d = Digest([9; 20]);
    let addr = ServerAddr::new("127.0.0.1", server.port);
    Client::new().report(&addr, &[d, d]).unwrap();
    server.signal("TERM");
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
    let port = server.port;
    drop(server);
    let again = common::start_on(home.path(), "127.0.0.1", port, &[]);
    assert_eq!(check_count(again.port, d), 2);
}

/// `--cleanup-age` on the default file store: digests last updated
/// longer ago than that are gone from the start, one reported again starts
/// from 1, and one reported since is kept.
#[test]
fn expired_digests_are_gone_and_start_again() {
    let home = tempfile::tempdir().unwrap();
    let mut server = common::start(home.path(), &[]);
    let (old, kept) = (Digest([0x0e; 20]), Digest([0x0f; 20]));
    let addr = ServerAddr::new("127.0.0.1", server.port);
    Client::new().report(&addr, &[old, old, old]).unwrap();
    server.signal("TERM");
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
    drop(server);
    // (times are whole seconds: 3 s later, the reports are over 1 s old)
    std::thread::sleep(Duration::from_secs(3));
    let server = common::start(home.path(), &["--cleanup-age", "2"]);
    let addr = ServerAddr::new("127.0.0.1", server.port);
    assert!(
        pyzor_testkit::wait_until(Duration::from_secs(5), || check_count(server.port, old)
            == 0),
        "the expired digest is still counted"
    );
    Client::new().report(&addr, &[old, kept, kept]).unwrap();
    assert_eq!(check_count(server.port, old), 1);
    assert_eq!(check_count(server.port, kept), 2);
}

#[test]
fn usage_log_lines_are_the_references() {
    let home = tempfile::tempdir().unwrap();
    let usage = home.path().join("usage.log");
    let server = common::start(home.path(), &["--usage-log-file", usage.to_str().unwrap()]);
    let addr = ServerAddr::new("127.0.0.1", server.port);
    let d1 = Digest([0x11; 20]);
    let d2 = Digest([0x22; 20]);
    Client::new().report(&addr, &[d1, d2]).unwrap();
    Client::new().ping(&addr).unwrap();
    let _ = Client::new().whitelist(&addr, &[d1]);
    // (the first line is the readiness ping of the test harness)
    assert!(pyzor_testkit::wait_until(
        Duration::from_secs(5),
        || std::fs::read_to_string(&usage)
            .unwrap_or_default()
            .lines()
            .count()
            >= 4
    ));
    let text = std::fs::read_to_string(&usage).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let body = |l: &str| {
        l.split_once(") ")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        body(lines[0]),
        format!("INFO anonymous,127.0.0.1,report,['{d1}', '{d2}'],200"),
        "{text}"
    );
    assert_eq!(body(lines[1]), "INFO anonymous,127.0.0.1,ping,None,200");
    assert_eq!(
        body(lines[2]),
        "ERROR 403: Forbidden: User is not authorized to request the operation."
    );
    // the line prefix: "YYYY-MM-DD HH:MM:SS,mmm (pid) "
    let prefix = lines[0].split(" (").next().unwrap();
    assert_eq!(prefix.len(), 23, "{prefix}");
}

#[test]
fn ipv6_and_dual_stack() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let port = pyzor_testkit::free_port();
    let server = common::start_on(home.path(), "::", port, &[]);
    let d = Digest([0x33; 20]);
    let client = Client::new();
    client
        .report(&ServerAddr::new("::1", server.port), &[d])
        .unwrap();
    client
        .report(&ServerAddr::new("127.0.0.1", server.port), &[d])
        .unwrap();
    assert_eq!(
        client
            .check(&ServerAddr::new("::1", server.port), d)
            .unwrap()
            .count,
        2
    );
}

fn run(args: &[&str]) -> (String, String, i32) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .arg("--homedir")
        .arg(home.path())
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn command_line_compatibility() {
    let (out, err, code) = run(&["-V"]);
    assert_eq!((out.as_str(), code), ("", 0));
    assert!(err.contains(" 1.1.2 (pyzor-rs "), "{err}");
    let (_, err, code) = run(&["--threads", "True", "--processes", "True"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("You cannot use both processes and threads at the same time"),
        "{err}"
    );
    let (_, err, code) = run(&["--pre-fork", "1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Pre-fork value cannot be lower than 2."),
        "{err}"
    );
    let (_, err, code) = run(&["-e", "oracle"]);
    assert_eq!(code, 1);
    assert!(err.contains("supported engines: file"), "{err}");
    let (_, err, code) = run(&["-e", "mysql"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the mysql DSN is host,user,password,db,table"),
        "{err}"
    );
    let (_, err, code) = run(&["-p", "notaport"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn python_concurrency_options_are_accepted() {
    let home = tempfile::tempdir().unwrap();
    for extra in [
        &["--threads", "True", "--max-threads", "3"][..],
        &[
            "--processes",
            "True",
            "--max-processes",
            "2",
            "--db-connections",
            "4",
        ][..],
        &["--pre-fork", "2", "--gevent", "False"][..],
    ] {
        let server = common::start(home.path(), extra);
        Client::new()
            .ping(&ServerAddr::new("127.0.0.1", server.port))
            .unwrap();
    }
}
