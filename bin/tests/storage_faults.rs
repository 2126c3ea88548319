//! The file store when the storage fails under it: fsync reporting EIO, and
//! the file system turning read-only (every write and every open for
//! writing failing with EROFS). The faults come from a small LD_PRELOAD
//! library (`tests/data/faults.c`, built here with `cc`) switched on and
//! off through a control file, because this kernel has no device-mapper
//! (no dm-error or dm-flakey) and refuses a read-only remount while the
//! database is open for writing. In both cases reports get an error reply
//! and are not acknowledged, checks keep being answered, serving recovers
//! once the fault is gone, and every acknowledged report is there, also
//! after a restart without the injector.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pyzor_client::{Client, ClientError, Digest, ServerAddr};
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
fn start_faulty(home: &Path, db: &Path, injector: &Path, ctl: &Path) -> (ChildGuard, u16) {
    let port = free_port();
    let mut cmd = Command::new(common::bin());
    cmd.arg("--homedir")
        .arg(home)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-e", "file"])
        .arg("--dsn")
        .arg(db)
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
    let (mut guard, port) = start_faulty(home.path(), &db, &injector, &ctl);
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
