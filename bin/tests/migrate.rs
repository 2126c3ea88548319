//! `pyzord migrate` and `pyzord stats` for real: a database written by the
//! Python pyzord (gdbm) goes to our file store, from there to Redis (which
//! the Python pyzord then serves), and from Redis back to a new gdbm file
//! (which the Python pyzord serves too). Invalid records are reported
//! with their key and skipped; `--verify` reads everything back.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pyzor_client::Job;
use pyzor_core::{Digest, Op, ServerAddr};
use pyzor_testkit::{ChildGuard, Redis, RefEngine, RefPyzord, free_port, udp_ping, wait_until};

const N: u32 = 300;

fn digest(i: u32) -> Digest {
    let mut d = [0x5au8; 20];
    d[..4].copy_from_slice(&i.to_be_bytes());
    Digest(d)
}

/// Digest i has (i % 4 + 1) reports, and one whitelist when i.is_multiple_of(5).
fn populate(port: u16) {
    let s = ServerAddr::new("127.0.0.1", port);
    let mut jobs = Vec::new();
    for i in 0..N {
        let d = digest(i);
        jobs.push(Job::new(
            s.clone(),
            Op::Report,
            vec![d; (i % 4 + 1) as usize],
        ));
        if i.is_multiple_of(5) {
            jobs.push(Job::new(s.clone(), Op::Whitelist, vec![d]));
        }
    }
    for r in common::bob_client(port).batch(&jobs) {
        r.unwrap();
    }
}

/// Asserts what `populate` stored, through a server.
fn assert_served(port: u16) {
    let s = ServerAddr::new("127.0.0.1", port);
    let jobs: Vec<Job> = (0..N)
        .map(|i| Job::new(s.clone(), Op::Check, vec![digest(i)]))
        .collect();
    for (i, r) in common::bob_client(port)
        .batch(&jobs)
        .into_iter()
        .enumerate()
    {
        let r = r.unwrap();
        let i = i as u32;
        let c = r.counts.unwrap();
        assert_eq!(c.count, i64::from(i % 4 + 1), "digest {i}");
        assert_eq!(c.wl_count, i64::from(i.is_multiple_of(5)), "digest {i}");
    }
}

use common::{run as pyzord, text};

/// Starts the reference pyzord on `home` with extra arguments.
fn reference(home: &Path, args: &[&str]) -> (ChildGuard, u16) {
    let py = pyzor_testkit::require_python_pyzor().unwrap();
    let port = free_port();
    let mut cmd = Command::new(&py.pyzord);
    cmd.arg("--homedir")
        .arg(home)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--cleanup-age",
            "0",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn("reference pyzord", &mut cmd);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    assert!(wait_until(Duration::from_secs(15), || udp_ping(
        addr,
        Duration::from_millis(200)
    )));
    (guard, port)
}

#[test]
fn gdbm_to_file_to_redis_to_gdbm() {
    let Some(reference_gdbm) = RefPyzord::start(RefEngine::Gdbm, true) else {
        return;
    };
    let Some(redis) = Redis::start() else {
        return;
    };
    populate(reference_gdbm.port);
    let homedir = reference_gdbm.stop();
    let home = homedir.path();
    common::with_fixture_auth(home);
    // two records the reference's own code could not read
    {
        let mut db = gdbm_native::OpenOptions::new()
            .write(true)
            .open(home.join("pyzord.db"))
            .unwrap();
        db.insert(&b"not-a-digest"[..], &b"1,1,None,None,0,None,None"[..])
            .unwrap();
        db.insert(digest(10_000).to_hex().as_bytes(), &b"1,x,None"[..])
            .unwrap();
        db.close().unwrap();
    }

    // statistics of the reference's database
    let out = pyzord(home, &["stats", "gdbm"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats = text(&out.stdout);
    assert!(stats.contains(&format!("digests:      {N}\n")), "{stats}");
    assert!(stats.contains("invalid:      2"), "{stats}");
    let reports: u32 = (0..N).map(|i| i % 4 + 1).sum();
    assert!(
        stats.contains(&format!("reports:      {reports} in total")),
        "{stats}"
    );
    assert!(
        stats.contains(&format!("whitelists:   {} in total", N / 5)),
        "{stats}"
    );

    // gdbm -> file
    let out = pyzord(
        home,
        &["migrate", "--from", "gdbm", "--to", "file", "--verify"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{N} records copied, 2 skipped")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("verified {N} records: 0 differ")),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not-a-digest"), "{stderr}");
    assert!(stderr.contains(&digest(10_000).to_hex()), "{stderr}");
    let mut ours = common::start(home, &["-e", "file"]);
    assert_served(ours.port);
    ours.signal("TERM");
    assert_eq!(ours.wait(Duration::from_secs(10)), Some(0));

    // file -> redis, served by the reference's redis engine
    let dsn = format!("127.0.0.1,{},,0", redis.port);
    let out = pyzord(
        home,
        &[
            "migrate",
            "--from",
            "file",
            "--to",
            &format!("redis:{dsn}"),
            "--verify",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("{N} records copied, 0 skipped")));
    let (guard, port) = reference(home, &["-e", "redis", "--dsn", &dsn]);
    assert_served(port);
    drop(guard);

    // redis -> a new gdbm file, served by the reference's gdbm engine
    let fresh = tempfile::tempdir().unwrap();
    common::with_fixture_auth(fresh.path());
    let target = fresh.path().join("pyzord.db");
    let out = pyzord(
        home,
        &[
            "migrate",
            "--from",
            &format!("redis:{dsn}"),
            "--to",
            &format!("gdbm:{}", target.display()),
            "--verify",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("verified {N} records: 0 differ")));
    let (_guard, port) = reference(fresh.path(), &["-e", "gdbm"]);
    assert_served(port);
}

#[test]
fn refuses_what_cannot_work() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for (args, code, needle) in [
        (
            &["migrate", "--from", "file", "--to", "file"][..],
            2,
            "both the source and the destination",
        ),
        (
            &["migrate", "--from", "oracle", "--to", "file"][..],
            2,
            "unknown database",
        ),
        (
            &["migrate", "--from", "mysql", "--to", "file"][..],
            2,
            "mysql needs its DSN",
        ),
        (
            &["migrate", "--from", "gdbm", "--to", "file"][..],
            1,
            "no such file",
        ),
        (&["stats", "file"][..], 1, "no such directory"),
        (&["stats", "-e"][..], 2, ""),
    ] {
        let out = pyzord(h, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // a running server holds its file store: migrate says so
    let ours = common::start(h, &[]);
    let out = pyzord(h, &["migrate", "--from", "file", "--to", "gdbm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("stop it first"),
        "{}",
        text(&out.stderr)
    );
    drop(ours);
}
