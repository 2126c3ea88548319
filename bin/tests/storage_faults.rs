//! The file store when the storage fails under it: fsync reporting EIO,
//! the file system turning read-only (every write and every open for
//! writing failing with EROFS), and a disk whose syncs hang. The faults
//! come from a small LD_PRELOAD library (`tests/data/faults.c`, built here
//! with `cc`) switched on and off through a control file, because this
//! kernel has no device-mapper (no dm-error, dm-flakey or dm-delay) and
//! refuses a read-only remount while the database is open for writing. In
//! each case reports that cannot be made durable get an error reply and are
//! not acknowledged, checks keep being answered, serving recovers once the
//! fault is gone, and every acknowledged report is there, also after a
//! restart without the injector.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyzor_client::{Client, ClientError, Digest, ServerAddr};
use pyzor_core::{Op, Request, ThreadId};
use pyzor_testkit::{ChildGuard, free_port, udp_ping, wait_until};

/// Builds the injector into `dir`; `None` (a skip, or a failure under
/// PYZOR_REQUIRE_PEERS=1) without a C compiler.
fn build_injector(dir: &Path) -> Option<PathBuf> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/faults.c");
    let out = dir.join("faults.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(src)
        .arg("-ldl")
        .status()
        .is_ok_and(|s| s.success());
    if built {
        Some(out)
    } else {
        pyzor_testkit::missing("a C compiler `cc` (Debian package gcc) to build the fault injector")
    }
}

/// pyzord on the file store `db`, with the injector loaded.
fn start_faulty(
    home: &Path,
    db: &Path,
    injector: &Path,
    ctl: &Path,
    extra: &[&str],
) -> (ChildGuard, u16) {
    let port = free_port();
    let mut cmd = Command::new(common::bin());
    cmd.arg("--homedir")
        .arg(home)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-e", "file"])
        .arg("--dsn")
        .arg(db)
        .args(extra)
        .env("LD_PRELOAD", injector)
        .env("PYZOR_FAULT_CTL", ctl)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn("pyzord (faults injected)", &mut cmd);
    assert!(
        wait_until(Duration::from_secs(15), || udp_ping(
            ([127, 0, 0, 1], port).into(),
            Duration::from_millis(200)
        )),
        "pyzord did not start"
    );
    (guard, port)
}

fn digest(i: u64, tag: u8) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&i.to_be_bytes());
    d[8] = tag;
    Digest(d)
}

fn session(fault: &str, tag: u8) {
    let home = tempfile::tempdir().unwrap();
    let Some(injector) = build_injector(home.path()) else {
        return;
    };
    let ctl = home.path().join("fault");
    let db = home.path().join("pyzord.store");
    let (mut guard, port) = start_faulty(home.path(), &db, &injector, &ctl, &[]);
    let at = ServerAddr::new("127.0.0.1", port);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let mut acked = Vec::new();
    for i in 0..20 {
        let batch: Vec<Digest> = (i * 10..i * 10 + 10).map(|j| digest(j, tag)).collect();
        client.report(&at, &batch).unwrap();
        acked.extend(batch);
    }

    // the fault: reports refused with an error reply, checks answered
    std::fs::write(&ctl, fault).unwrap();
    let mut refused = Vec::new();
    for i in 1000..1010 {
        let d = digest(i, tag);
        match client.report(&at, &[d]) {
            Err(ClientError::Server { code, .. }) => {
                assert_eq!(code.0, 500, "{fault}");
                refused.push(d);
            }
            Err(ClientError::Timeout) => panic!("{fault}: a report got no reply"),
            Err(e) => panic!("{fault}: {e}"),
            Ok(()) => panic!("{fault}: a report was acked while the storage fails"),
        }
    }
    for d in acked.iter().step_by(7) {
        assert_eq!(client.check(&at, *d).unwrap().count, 1, "{fault}");
    }
    for d in &refused {
        assert_eq!(client.check(&at, *d).unwrap().count, 0, "{fault}: {d}");
    }

    // the fault gone: reports are accepted again
    std::fs::remove_file(&ctl).unwrap();
    let d = digest(2000, tag);
    assert!(
        wait_until(Duration::from_secs(10), || client.report(&at, &[d]).is_ok()),
        "{fault}: no recovery once the storage works again"
    );
    acked.push(d);
    for i in 2001..2011 {
        client.report(&at, &[digest(i, tag)]).unwrap();
        acked.push(digest(i, tag));
    }

    // after a stop, pyzord without the injector has every acked report
    // and none of the refused ones
    assert_eq!(guard.terminate(), Some(0), "{fault}: stop");
    let ours = common::start(home.path(), &["-e", "file", "--dsn", db.to_str().unwrap()]);
    let at = ServerAddr::new("127.0.0.1", ours.port);
    for d in &acked {
        assert_eq!(client.check(&at, *d).unwrap().count, 1, "{fault}: {d}");
    }
    for d in &refused {
        assert_eq!(client.check(&at, *d).unwrap().count, 0, "{fault}: {d}");
    }
}

#[test]
fn fsync_errors_refuse_reports_and_recover() {
    session("eio", 0xe5);
}

#[test]
fn a_read_only_file_system_refuses_reports_and_recovers() {
    session("erofs", 0xe6);
}

/// A disk whose syncs hang: the reports that reach the commit queue wait
/// for it, but once it has been full for a while further reports are
/// refused at once (500) and checks go on being answered; when the disk
/// comes back the waiting reports are acknowledged, and after a restart
/// every acknowledged report is there and no refused one.
#[test]
fn a_hung_disk_holds_up_reports_not_checks() {
    hung_disk(&[], false);
}

/// The same with a sync every 50 ms instead of one a commit: reports are
/// answered before their sync, so those written before the sync that
/// hangs are acknowledged meanwhile; then the queue fills as above.
#[test]
fn a_hung_disk_holds_up_reports_not_checks_with_a_sync_interval() {
    hung_disk(&["--sync-interval", "0.05"], true);
}

fn hung_disk(extra: &[&str], answers_before_sync: bool) {
    let home = tempfile::tempdir().unwrap();
    let Some(injector) = build_injector(home.path()) else {
        return;
    };
    let ctl = home.path().join("fault");
    let db = home.path().join("pyzord.store");
    let (mut guard, port) = start_faulty(home.path(), &db, &injector, &ctl, extra);
    let at = ServerAddr::new("127.0.0.1", port);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let before: Vec<Digest> = (0..10).map(|i| digest(i, 0xe7)).collect();
    client.report(&at, &before).unwrap();

    std::fs::write(&ctl, "stall").unwrap();
    // one report a datagram, spaced so that the workers take each as a
    // batch of its own: more batches than the commit queue holds (256);
    // and slowly enough that what waits in a worker's socket while it
    // waits (up to STALLED, 100 ms) stays within the socket's buffer
    // (about 200 datagrams at net.core.rmem_max's default; at 0.3 ms a
    // datagram the kernel sometimes dropped one). A thread takes the
    // replies as they come (report number -> code), on a socket with
    // pyzord's own receive buffer: when the disk is back, the replies of
    // the reports that waited (up to 256) come in one burst, more than a
    // default buffer holds.
    let sock = pyzord::net::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let codes = Arc::new(Mutex::new(HashMap::<u16, u16>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (sock, codes, done) = (
            sock.try_clone().unwrap(),
            Arc::clone(&codes),
            Arc::clone(&done),
        );
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                let text = String::from_utf8_lossy(&buf[..n]);
                let field = |name: &str| -> u16 {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or_else(|| panic!("no {name} in {text:?}"))
                };
                let (thread, code) = (field("Thread:"), field("Code:"));
                let first = codes
                    .lock()
                    .unwrap()
                    .insert(thread - 10_000, code)
                    .is_none();
                assert!(first, "two replies to {thread}");
            }
        })
    };
    // until the first refusal (a worker that takes several datagrams at
    // once makes fewer batches), at most 20 000
    let mut reports = 0u16;
    while reports < 20_000 && !codes.lock().unwrap().values().any(|&c| c == 500) {
        for _ in 0..50 {
            let r = Request::new(
                Op::Report,
                vec![digest(u64::from(reports) + 100, 0xe7)],
                ThreadId(10_000 + reports),
            );
            sock.send(&r.to_bytes()).unwrap();
            reports += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // checks are answered while the disk hangs
    for d in before.iter().chain([&digest(5000, 0xe7)]) {
        let t = Instant::now();
        let count = client
            .check(&at, *d)
            .expect("a check while the disk hangs")
            .count;
        assert_eq!(count, i64::from(before.contains(d)));
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a check waited {:?} behind the hung disk",
            t.elapsed()
        );
    }
    // the reports beyond the queue were refused without waiting for the disk
    std::thread::sleep(Duration::from_millis(500));
    let hung = codes.lock().unwrap().clone();
    assert!(
        hung.values().any(|&c| c == 500),
        "no report was refused while the disk hung"
    );
    assert!(
        answers_before_sync || hung.values().all(|&c| c == 500),
        "a report was acknowledged while the disk hung: {hung:?}"
    );
    assert!(
        hung.len() < usize::from(reports),
        "every report was answered: none waited for the disk ({reports} reports, {} refused)",
        hung.values().filter(|&&c| c == 500).count()
    );

    // the disk back: the reports that waited are acknowledged
    std::fs::remove_file(&ctl).unwrap();
    let all = wait_until(Duration::from_secs(10), || {
        codes.lock().unwrap().len() == usize::from(reports)
    });
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let codes = codes.lock().unwrap().clone();
    let unanswered: Vec<u16> = (0..reports).filter(|i| !codes.contains_key(i)).collect();
    assert!(
        all,
        "every report gets one reply; none for {unanswered:?} of {reports}"
    );
    let acked = codes.values().filter(|&&c| c == 200).count();
    assert!(acked > 0, "no waiting report was acknowledged");
    assert_eq!(
        acked + codes.values().filter(|&&c| c == 500).count(),
        codes.len(),
        "codes: {codes:?}"
    );
    client.report(&at, &[digest(6000, 0xe7)]).unwrap();

    // after a stop, pyzord without the injector has exactly the acked reports
    assert_eq!(guard.terminate(), Some(0), "stop");
    let ours = common::start(home.path(), &["-e", "file", "--dsn", db.to_str().unwrap()]);
    let at = ServerAddr::new("127.0.0.1", ours.port);
    for d in before.iter().chain([&digest(6000, 0xe7)]) {
        assert_eq!(client.check(&at, *d).unwrap().count, 1, "{d}");
    }
    for (i, code) in &codes {
        let d = digest(u64::from(*i) + 100, 0xe7);
        let want = i64::from(*code == 200);
        assert_eq!(
            client.check(&at, d).unwrap().count,
            want,
            "{d}: replied {code}"
        );
    }
}
