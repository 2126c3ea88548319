//! The file store on a disk that fills: reports get an error reply and are
//! not acknowledged, checks keep being answered, the database stays
//! readable, and serving recovers when space is freed. The disk is a small
//! tmpfs the test mounts (it needs root, as CI has; elsewhere it is
//! skipped). fsync errors and a read-only file system are tested in
//! `storage_faults.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pyzor_client::{Client, ClientError, Digest, ServerAddr};
use pyzor_testkit::wait_until;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "skipping: cannot mount a tmpfs (the disk-full test needs root)"
            );
            return None;
        }
        Some(Tmpfs {
            dir: dir.to_owned(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn digest(i: u64) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&i.to_be_bytes());
    d[8] = 0xd1;
    Digest(d)
}

/// Whether a report was refused with an error reply (not silence).
fn refused(r: &Result<(), ClientError>) -> bool {
    match r {
        Err(ClientError::Server { code, .. }) => code.0 == 500,
        Err(ClientError::Timeout) => panic!("a report got no reply"),
        _ => false,
    }
}

#[test]
fn a_full_disk_refuses_reports_answers_checks_and_recovers() {
    let home = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&home.path().join("disk"), "6m") else {
        return;
    };
    // ballast to free later
    std::fs::write(disk.dir.join("ballast"), vec![0u8; 1 << 20]).unwrap();
    let db = disk.dir.join("pyzord.store");
    let server = common::start(
        home.path(),
        &[
            "-e",
            "file",
            "--dsn",
            db.to_str().unwrap(),
            "--workers",
            "2",
        ],
    );
    let at = ServerAddr::new("127.0.0.1", server.port);
    let client = Client::new().with_timeout(Duration::from_secs(5));

    // fill: reports of 32 fresh digests each until the disk refuses
    let mut acked = Vec::new();
    let mut next = 0u64;
    let start = Instant::now();
    let mut full = false;
    while start.elapsed() < Duration::from_secs(120) && next < 2_000_000 {
        let batch: Vec<Digest> = (next..next + 32).map(digest).collect();
        next += 32;
        let r = client.report(&at, &batch);
        if refused(&r) {
            full = true;
            break;
        }
        r.unwrap();
        acked.extend(batch);
    }
    assert!(
        full,
        "the disk never filled ({} digests acked)",
        acked.len()
    );
    // full: reports refused with an error, checks answered
    for i in 0..5 {
        assert!(refused(&client.report(&at, &[digest(next + i)])));
    }
    for d in acked.iter().step_by(97) {
        assert_eq!(client.check(&at, *d).unwrap().count, 1);
    }
    // space freed: reports are accepted again
    std::fs::remove_file(disk.dir.join("ballast")).unwrap();
    let d = digest(next + 100);
    assert!(
        wait_until(Duration::from_secs(10), || client.report(&at, &[d]).is_ok()),
        "no recovery after space was freed"
    );
    acked.push(d);

    // every acknowledged report is there, and the file reads back after a stop
    let missing = acked
        .iter()
        .filter(|d| client.check(&at, **d).unwrap().count < 1)
        .count();
    assert_eq!(missing, 0, "of {} acked", acked.len());
    let mut server = server;
    server.signal("TERM");
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0));
    let out = Command::new(common::bin())
        .arg("--homedir")
        .arg(home.path())
        .args(["stats", &format!("file:{}", db.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let n: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("digests:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        n >= acked.len(),
        "{n} digests stored, {} acked",
        acked.len()
    );
    drop(disk);
}
