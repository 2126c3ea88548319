//! Our pyzord against the real clients: the reference Python `pyzor` CLI
//! (anonymous and authenticated, every operation, every refusal) and
//! SpamAssassin's Perl client, with each store.

mod common;

use std::path::Path;
use std::process::Command;

use pyzor_testkit::fixtures::{self, account_line};
use pyzor_testkit::{Redis, require_perl_client, require_python_pyzor};

const MSG: &[u8] = b"Subject: interop\n\nThis message is used by the interop test of pyzord.\nIt has a few lines,\nlong enough to be digested.\n";

fn python_cli(
    home: &Path,
    port: u16,
    accounts: &str,
    args: &[&str],
    stdin: &[u8],
) -> Option<(String, i32)> {
    let py = require_python_pyzor()?;
    std::fs::write(home.join("servers"), format!("127.0.0.1:{port}\n")).unwrap();
    std::fs::write(home.join("accounts"), accounts).unwrap();
    let mut child = Command::new(py.pyzor)
        .arg("--homedir")
        .arg(home)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

fn perl(op: &str, port: u16, digest: &str) -> Option<(String, i32)> {
    let perl = require_perl_client()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/perl_pyzor.pl");
    let out = Command::new(perl)
        .args([script, op, "127.0.0.1", &port.to_string(), digest])
        .output()
        .unwrap();
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

fn session(engine_args: &[&str]) {
    let home = tempfile::tempdir().unwrap();
    common::with_fixture_auth(home.path());
    let server = common::start(home.path(), engine_args);
    let port = server.port;
    let client_home = tempfile::tempdir().unwrap();
    let c = client_home.path();
    let anon = |args: &[&str]| python_cli(c, port, "", args, MSG);
    let Some((out, code)) = anon(&["ping"]) else {
        return;
    };
    assert_eq!(
        (out.as_str(), code),
        (format!("127.0.0.1:{port}\t(200, 'OK')\n").as_str(), 0)
    );
    let prefix = format!("127.0.0.1:{port}\t");
    assert_eq!(
        anon(&["check"]).unwrap(),
        (format!("{prefix}(200, 'OK')\t0\t0\n"), 1)
    );
    assert_eq!(
        anon(&["report"]).unwrap(),
        (format!("{prefix}(200, 'OK')\n"), 0)
    );
    assert_eq!(
        anon(&["check"]).unwrap(),
        (format!("{prefix}(200, 'OK')\t1\t0\n"), 0)
    );
    assert_eq!(
        anon(&["pong"]).unwrap(),
        (format!("{prefix}(200, 'OK')\t9223372036854775807\t0\n"), 0)
    );
    let (info, code) = anon(&["info"]).unwrap();
    assert_eq!(code, 0);
    assert!(
        info.starts_with(&format!("{prefix}(200, 'OK')\n\tCount: 1\n\tEntered: ")),
        "{info}"
    );
    assert!(info.contains("\tWL-Count: 0\n"), "{info}");
    assert_eq!(
        anon(&["whitelist"]).unwrap(),
        (
            format!(
                "{prefix}(403, 'Forbidden: User is not authorized to request the operation.')\n"
            ),
            1
        )
    );
    // authenticated users of the fixtures: bob may do everything
    let bob = account_line(port, "bob", fixtures::BOB);
    assert_eq!(
        python_cli(c, port, &bob, &["whitelist"], MSG).unwrap(),
        (format!("{prefix}(200, 'OK')\n"), 0)
    );
    assert_eq!(
        python_cli(c, port, &bob, &["check"], MSG).unwrap(),
        (format!("{prefix}(200, 'OK')\t1\t1\n"), 1)
    );
    // alice may do nothing, dan may not whitelist, chuck has a wrong key
    let alice = account_line(port, "alice", fixtures::ALICE);
    assert_eq!(python_cli(c, port, &alice, &["ping"], b"").unwrap().1, 1);
    let dan = account_line(port, "dan", fixtures::DAN);
    assert_eq!(python_cli(c, port, &dan, &["report"], MSG).unwrap().1, 0);
    assert!(
        python_cli(c, port, &dan, &["whitelist"], MSG)
            .unwrap()
            .0
            .contains("(403, ")
    );
    let chuck = account_line(port, "bob", fixtures::CHUCK_KEY);
    assert_eq!(
        python_cli(c, port, &chuck, &["check"], MSG).unwrap().0,
        format!("{prefix}(401, 'Unauthorized: Signature Error: Invalid signature.')\t\n")
    );
    let mallory = account_line(port, "mallory", fixtures::BOB);
    assert!(
        python_cli(c, port, &mallory, &["ping"], b"")
            .unwrap()
            .0
            .contains("(401, 'Unauthorized: Signature Error: Unknown user.')")
    );
    // refused requests changed nothing: 2 reports (anonymous, dan), 1 whitelist
    assert_eq!(
        anon(&["check"]).unwrap().0,
        format!("{prefix}(200, 'OK')\t2\t1\n")
    );
    // SpamAssassin's Perl client
    let digest = pyzor_digest::digest(MSG).to_string();
    if let Some((out, code)) = perl("report", port, &digest) {
        assert_eq!(code, 0, "{out}");
        let (out, code) = perl("check", port, &digest).unwrap();
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("Count: 3\n") && out.contains("WL-Count: 1\n"),
            "{out}"
        );
    }
}

#[test]
fn python_and_perl_clients_against_the_file_store() {
    session(&[]);
}

#[test]
fn python_and_perl_clients_against_the_memory_store() {
    session(&["-e", "memory"]);
}

#[test]
fn python_and_perl_clients_against_the_redis_store() {
    let Some(redis) = Redis::start() else { return };
    let dsn = format!("127.0.0.1,{},,0", redis.port);
    session(&["-e", "redis", "--dsn", &dsn]);
}

#[test]
fn python_and_perl_clients_against_the_redis_cluster_store() {
    let Some(cluster) = pyzor_testkit::RedisCluster::start() else {
        return;
    };
    session(&["-e", "redis-cluster", "--dsn", &cluster.dsn()]);
}

#[test]
fn python_and_perl_clients_against_the_mysql_store() {
    let Some(db) = pyzor_testkit::MariaDb::start() else {
        return;
    };
    session(&["-e", "mysql", "--dsn", &db.dsn()]);
}
