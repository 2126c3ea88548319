//! pyzord on a real MariaDB (Debian's mariadb-server, started here on a
//! private data directory and port): one table shared with the reference
//! pyzord 1.1.2's mysql engine; the database restarted under load;
//! malformed rows; `migrate` gdbm -> mysql -> file with `--verify`.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyzor_client::{Client, Digest, Job, ServerAddr};
use pyzor_core::Op;
use pyzor_testkit::{MariaDb, RefEngine, RefPyzord, wait_until};

fn digest(i: u64, tag: u8) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&i.to_be_bytes());
    d[19] = tag;
    Digest(d)
}

#[test]
fn python_and_ours_share_one_table() {
    let Some(db) = MariaDb::start() else { return };
    let Some(theirs) = RefPyzord::start(RefEngine::Mysql(db.port), false) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let ours = common::start(home.path(), &["-e", "mysql", "--dsn", &db.dsn()]);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let (o, t) = (
        ServerAddr::new("127.0.0.1", ours.port),
        ServerAddr::new("127.0.0.1", theirs.port),
    );
    let (d1, d2) = (digest(1, 0x71), digest(2, 0x71));
    client.report(&o, &[d1]).unwrap();
    client.report(&t, &[d1]).unwrap();
    client.report(&t, &[d2]).unwrap();
    client.report(&o, &[d2, d2]).unwrap();
    for server in [&o, &t] {
        assert_eq!(client.check(server, d1).unwrap().count, 2, "{server}");
        assert_eq!(client.check(server, d2).unwrap().count, 3, "{server}");
        assert_eq!(client.check(server, digest(3, 0x71)).unwrap().count, 0);
    }
    // info as the reference's mysql engine gives it: a report-only row
    // has its WL times set too
    let a = client.info(&o, d1).unwrap();
    let b = client.info(&t, d1).unwrap();
    assert_eq!(a, b);
    assert!(a.times.entered > 0 && a.times.wl_entered == a.times.entered);
    // the rows are the reference's: one per digest, counts and datetimes
    let row = db.sql(&format!(
        "SELECT r_count, wl_count, r_entered IS NOT NULL, wl_updated IS NOT NULL \
         FROM pyzor.public WHERE digest='{d2}'"
    ));
    assert_eq!(row, "3\t0\t1\t1");
    assert_eq!(db.sql("SELECT COUNT(*) FROM pyzor.public"), "2");
}

#[test]
fn the_database_restarted_under_load() {
    let Some(mut db) = MariaDb::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (ours, log) =
        common::start_with_log_file(home.path(), &["-e", "mysql", "--dsn", &db.dsn()]);
    let server = ServerAddr::new("127.0.0.1", ours.port);
    let load = common::Load::start(&server, &[0x80, 0x81], digest);
    std::thread::sleep(Duration::from_secs(1));
    db.kill();
    std::thread::sleep(Duration::from_secs(2));
    db.resume();
    let client = Client::new().with_timeout(Duration::from_millis(500));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || client
            .check(&server, digest(0, 0x80))
            .is_ok()),
        "pyzord did not reconnect"
    );
    let back = t.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let seen = load.finish();
    let acked = seen.acked();
    eprintln!(
        "mysql restart: {} reports acked, {} error replies, back {:.0} ms after the server",
        acked.len(),
        seen.errors.load(Ordering::Relaxed),
        back.as_secs_f64() * 1000.0
    );
    assert_eq!(
        seen.silent.load(Ordering::Relaxed),
        0,
        "requests unanswered"
    );
    assert!(seen.errors.load(Ordering::Relaxed) > 0, "no outage seen");
    assert!(back < Duration::from_secs(1), "back after {back:?}");
    // InnoDB syncs each commit: nothing acked is lost
    let client = Client::new().with_timeout(Duration::from_secs(5));
    for d in &acked {
        assert_eq!(client.check(&server, *d).unwrap().count, 1, "{d}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("store is unavailable").count(), 1, "{text}");
}

#[test]
fn malformed_rows_are_read_without_a_crash() {
    let Some(db) = MariaDb::start() else { return };
    let good = digest(7, 0x72);
    db.sql(&format!(
        "INSERT INTO pyzor.public VALUES \
         ('{good}', 4, 1, NOW(), NOW(), NOW(), NOW()), \
         ('{}', NULL, NULL, NULL, NULL, NULL, NULL), \
         ('abc', 1, 0, NOW(), NOW(), NOW(), NOW()), \
         ('{}', -3, 2, '1970-01-01 00:00:00', NULL, NOW(), NULL), \
         ('{}', 2, 0, '2001-01-01', '2001-01-01', '2001-01-01', '2001-01-01')",
        digest(8, 0x72),
        digest(9, 0x72),
        digest(10, 0x72)
    ));
    let home = tempfile::tempdir().unwrap();
    let ours = common::start(home.path(), &["-e", "mysql", "--dsn", &db.dsn()]);
    let s = ServerAddr::new("127.0.0.1", ours.port);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    assert_eq!(client.check(&s, good).unwrap().count, 4);
    // the reference's reorganisation at start: a row last reported longer
    // than the cleanup age ago (120 days by default) is deleted
    assert!(
        wait_until(Duration::from_secs(10), || db.sql(&format!(
            "SELECT COUNT(*) FROM pyzor.public WHERE digest='{}'",
            digest(10, 0x72)
        )) == "0"),
        "the expired row is still there"
    );
    assert_eq!(client.check(&s, digest(10, 0x72)).unwrap().count, 0);
    // NULLs read as 0
    let c = client.check(&s, digest(8, 0x72)).unwrap();
    assert_eq!((c.count, c.wl_count), (0, 0));
    let i = client.info(&s, digest(8, 0x72)).unwrap();
    assert_eq!(i.times.entered, 0);
    // a negative count is answered as stored
    assert_eq!(client.check(&s, digest(9, 0x72)).unwrap().count, -3);
    // a report of a NULL-count row leaves it NULL, as the reference's SQL does
    client.report(&s, &[digest(8, 0x72)]).unwrap();
    assert_eq!(client.check(&s, digest(8, 0x72)).unwrap().count, 0);

    // stats and migrate report the row that is not a digest and go on
    let out = common::run(home.path(), &["stats", &format!("mysql:{}", db.dsn())]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert!(
        common::text(&out.stdout).contains("digests:"),
        "{}",
        common::text(&out.stdout)
    );
    let out = common::run(
        home.path(),
        &[
            "migrate",
            "--from",
            &format!("mysql:{}", db.dsn()),
            "--to",
            "file",
        ],
    );
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert!(
        common::text(&out.stderr).contains("abc"),
        "{}",
        common::text(&out.stderr)
    );
    assert!(
        common::text(&out.stdout).contains("3 records copied, 1 skipped"),
        "{}",
        common::text(&out.stdout)
    );
}

#[test]
fn migrate_gdbm_to_mysql_to_file_loses_nothing() {
    let Some(db) = MariaDb::start() else { return };
    // a gdbm database written by the reference
    let Some(reference) = RefPyzord::start(RefEngine::Gdbm, true) else {
        return;
    };
    let s = ServerAddr::new("127.0.0.1", reference.port);
    let mut jobs = Vec::new();
    for i in 0..200u64 {
        jobs.push(Job::new(
            s.clone(),
            Op::Report,
            vec![digest(i, 0x73); (i % 3 + 1) as usize],
        ));
        if i % 5 == 0 {
            jobs.push(Job::new(s.clone(), Op::Whitelist, vec![digest(i, 0x73)]));
        }
    }
    for r in common::bob_client(reference.port).batch(&jobs) {
        r.unwrap();
    }
    let home = reference.stop();
    let home = home.path();
    let mysql = format!("mysql:{}", db.dsn());
    for (from, to) in [("gdbm", mysql.as_str()), (mysql.as_str(), "file")] {
        let out = common::run(home, &["migrate", "--from", from, "--to", to, "--verify"]);
        let stdout = common::text(&out.stdout);
        assert!(
            out.status.success(),
            "{from} -> {to}: {}",
            common::text(&out.stderr)
        );
        assert!(
            stdout.contains("200 records copied"),
            "{from} -> {to}: {stdout}"
        );
        assert!(
            stdout.contains("verified 200 records: 0 differ"),
            "{from} -> {to}: {stdout}"
        );
    }
    assert_eq!(db.sql("SELECT COUNT(*) FROM pyzor.public"), "200");
    let ours = common::start(home, &["-e", "file"]);
    let s = ServerAddr::new("127.0.0.1", ours.port);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    for i in 0..200u64 {
        let c = client.check(&s, digest(i, 0x73)).unwrap();
        assert_eq!(c.count, (i % 3 + 1) as i64, "{i}");
        assert_eq!(c.wl_count, i64::from(i % 5 == 0), "{i}");
    }
}
