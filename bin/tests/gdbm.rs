//! The reference's gdbm database, served in place: a database written by
//! the Python pyzord is served by ours (found by itself, and with
//! `-e gdbm`), and what ours writes is served by the Python pyzord again.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pyzor_core::{Digest, ServerAddr};
use pyzor_testkit::{RefEngine, RefPyzord, wait_until};

fn digest(b: u8) -> Digest {
    Digest([b; 20])
}

fn server(port: u16) -> ServerAddr {
    ServerAddr::new("127.0.0.1", port)
}

fn stored_value(db: &Path, d: Digest) -> String {
    let db = gdbm_native::OpenOptions::new().open(db).unwrap();
    let v: Option<String> = db.get(d.to_hex().as_bytes()).unwrap();
    v.unwrap_or_default()
}

#[test]
fn a_python_pyzord_database_is_served_in_place_and_back() {
    let Some(reference) = RefPyzord::start(RefEngine::Gdbm, true) else {
        return;
    };
    let c = common::bob_client(reference.port);
    let s = server(reference.port);
    for _ in 0..3 {
        c.report(&s, &[digest(1)]).unwrap();
    }
    c.report(&s, &[digest(2)]).unwrap();
    c.whitelist(&s, &[digest(3), digest(3)]).unwrap();
    let python_info = c.info(&s, digest(1)).unwrap();
    let home = reference.stop();
    let db = home.path().join("pyzord.db");
    let written_by_python = stored_value(&db, digest(1));
    assert!(written_by_python.starts_with("1,3,"), "{written_by_python}");

    for engine_args in [&[][..], &["-e", "gdbm"][..]] {
        let mut ours = common::start(home.path(), engine_args);
        let c = common::bob_client(ours.port);
        let s = server(ours.port);
        let counts = c.check(&s, digest(1)).unwrap();
        assert_eq!((counts.count, counts.wl_count), (3, 0));
        let info = c.info(&s, digest(1)).unwrap();
        assert_eq!(info, python_info, "{engine_args:?}");
        let counts = c.check(&s, digest(3)).unwrap();
        assert_eq!((counts.count, counts.wl_count), (0, 2));
        ours.signal("TERM");
        assert_eq!(ours.wait(Duration::from_secs(10)), Some(0));
    }
    // nothing was rewritten by reads
    assert_eq!(stored_value(&db, digest(1)), written_by_python);

    // ours writes: a report on Python's record keeps its first-report time
    // to the microsecond, a new whitelist is added
    let mut ours = common::start(home.path(), &[]);
    let c = common::bob_client(ours.port);
    let s = server(ours.port);
    c.report(&s, &[digest(1)]).unwrap();
    c.whitelist(&s, &[digest(2), digest(9)]).unwrap();
    ours.signal("TERM");
    assert_eq!(ours.wait(Duration::from_secs(10)), Some(0));
    let ours_value = stored_value(&db, digest(1));
    let python_fields: Vec<&str> = written_by_python.split(',').collect();
    let our_fields: Vec<&str> = ours_value.split(',').collect();
    assert_eq!(
        our_fields[0..3],
        ["1", "4", python_fields[2]],
        "{ours_value}"
    );

    // and the reference serves what ours wrote (with --cleanup-age 0: its
    // start-up expiry crashes on whitelist-only records, protocol §7.9)
    let port = pyzor_testkit::free_port();
    let py = pyzor_testkit::require_python_pyzor().unwrap();
    let mut cmd = Command::new(&py.pyzord);
    cmd.arg("--homedir")
        .arg(home.path())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-e", "gdbm"])
        .args(["--cleanup-age", "0"]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _guard = pyzor_testkit::ChildGuard::spawn("reference pyzord", &mut cmd);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    assert!(wait_until(Duration::from_secs(15), || {
        pyzor_testkit::udp_ping(addr, Duration::from_millis(200))
    }));
    let c = common::bob_client(port);
    let s = server(port);
    let counts = c.check(&s, digest(1)).unwrap();
    assert_eq!((counts.count, counts.wl_count), (4, 0));
    let counts = c.check(&s, digest(2)).unwrap();
    assert_eq!((counts.count, counts.wl_count), (1, 1));
    let info = c.info(&s, digest(9)).unwrap();
    assert_eq!((info.counts.count, info.counts.wl_count), (0, 1));
    assert!(info.times.wl_entered > 0);
    assert_eq!(info.times.entered, 0);
}
