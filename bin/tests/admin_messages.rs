//! What an administrator reads when something is wrong: the file or
//! address and the cause, on one line, with the right hint.

mod common;

use std::process::Command;

use pyzor_testkit::free_port;

/// Runs our pyzord with `args` in `home`; (status, stdout, stderr).
fn pyzord(home: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(common::bin())
        .arg("--homedir")
        .arg(home)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_directory_where_a_database_file_is_wanted_and_the_reverse() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("db");
    std::fs::create_dir(&dir).unwrap();
    let dir = dir.to_str().unwrap();
    let plain = home.path().join("plain");
    std::fs::write(&plain, "not a database").unwrap();
    let plain = plain.to_str().unwrap();
    let port = free_port().to_string();
    for (engine, dsn, says) in [
        ("gdbm", dir, "is a directory"),
        ("file", plain, "the file store is a directory"),
    ] {
        let (code, _, err) = pyzord(
            home.path(),
            &["-a", "127.0.0.1", "-p", &port, "-e", engine, "--dsn", dsn],
        );
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(says), "{engine}: {err}");
        assert!(!err.contains("serving it"), "{engine}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    for (from, says) in [
        (format!("file:{plain}"), "the file store is a directory"),
        (format!("gdbm:{dir}"), "is a directory"),
    ] {
        let (code, _, err) = pyzord(
            home.path(),
            &["migrate", "--from", &from, "--to", "file:copy.store"],
        );
        assert_ne!(code, Some(0), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("serving it"), "{err}");
    }
}

/// A homedir with a file store of the earlier format (redb): pyzord says
/// how to convert it and does not start; the command it names converts it,
/// and pyzord then serves the converted records.
#[test]
fn an_earlier_file_store_is_converted_by_the_command_pyzord_names() {
    use pyzord::store::Record;
    let home = tempfile::tempdir().unwrap();
    let earlier = home.path().join("pyzord.redb");
    // recent, or the server's expiry (CleanupAge) would take them
    let t = pyzor_core::unix_secs(std::time::SystemTime::now()) - 1000;
    let r = Record {
        r_count: 5,
        r_entered: t,
        r_updated: t + 100,
        wl_count: 2,
        wl_entered: t + 50,
        wl_updated: t + 60,
    };
    let records: Vec<_> = (0..1000u32)
        .map(|i| {
            let mut d = [0u8; 20];
            d[..4].copy_from_slice(&i.to_be_bytes());
            (pyzor_client::Digest(d), r)
        })
        .collect();
    pyzord::store::legacy::write_earlier_format(&earlier, &records).unwrap();
    let port = free_port().to_string();
    let (code, _, err) = pyzord(home.path(), &["-a", "127.0.0.1", "-p", &port]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // the command, as pyzord prints it between backquotes
    let command = err.split('`').nth(1).expect("a command in backquotes");
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "pyzord", "{command}");
    let out = Command::new(common::bin())
        .args(&words[1..])
        .arg("--verify")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1000 records copied, 0 skipped"), "{text}");
    assert!(text.contains("verified 1000 records: 0 differ"), "{text}");
    let server = common::start(home.path(), &[]);
    let client = pyzor_client::Client::new();
    let at = pyzor_client::ServerAddr::new("127.0.0.1", server.port);
    let info = client.info(&at, records[999].0).unwrap();
    let (counts, times) = (info.counts, info.times);
    assert_eq!((counts.count, counts.wl_count), (5, 2));
    assert_eq!((times.entered, times.updated), (t, t + 100));
    assert_eq!((times.wl_entered, times.wl_updated), (t + 50, t + 60));
}

#[test]
fn an_unreadable_passwd_file_is_not_a_listening_problem() {
    let home = tempfile::tempdir().unwrap();
    // a directory cannot be read as a file, even by root
    std::fs::create_dir(home.path().join("pyzord.passwd")).unwrap();
    let port = free_port().to_string();
    let (code, _, err) = pyzord(
        home.path(),
        &["-a", "127.0.0.1", "-p", &port, "-e", "memory"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("pyzord.passwd"), "{err}");
    assert!(!err.contains("cannot listen"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn stats_of_an_unreachable_redis_names_it_and_the_cause() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let dsn = format!("redis:127.0.0.1,{port},,0");
    let (code, _, err) = pyzord(home.path(), &["stats", &dsn]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&dsn), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn starting_says_where_it_listens_and_migrating_onto_records_says_so() {
    let home = tempfile::tempdir().unwrap();
    let mut server = common::start_logged(home.path(), &[]);
    server.signal("TERM");
    assert_eq!(server.wait(std::time::Duration::from_secs(10)), Some(0));
    let err = server.stderr();
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains(" INFO Starting pyzord server on 127.0.0.1:"),
        "{err}"
    );
    assert!(
        first.contains("file (") && first.contains(" workers."),
        "{err}"
    );

    // a store with a record, copied twice into another
    let src = home.path().join("pyzord.store");
    let client = pyzor_client::Client::new();
    let server = common::start(home.path(), &[]);
    client
        .report(
            &pyzor_client::ServerAddr::new("127.0.0.1", server.port),
            &[pyzor_client::Digest([3; 20])],
        )
        .unwrap();
    drop(server);
    let to = format!("file:{}", home.path().join("copy.store").display());
    let from = format!("file:{}", src.display());
    let (code, out, err) = pyzord(home.path(), &["migrate", "--from", &from, "--to", &to]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("held"), "{out}");
    let (code, out, err) = pyzord(home.path(), &["migrate", "--from", &from, "--to", &to]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("held 1 records before: 1 replaced by the copy, 0 kept"),
        "{out}"
    );
}

#[test]
fn stats_of_a_running_server_come_from_the_server() {
    for engine in ["file", "memory"] {
        let home = tempfile::tempdir().unwrap();
        let server = common::start(home.path(), &["-e", engine]);
        let at = pyzor_client::ServerAddr::new("127.0.0.1", server.port);
        let client = pyzor_client::Client::new();
        for i in 0..3u8 {
            client
                .report(&at, &[pyzor_client::Digest([i; 20])])
                .unwrap();
        }
        let (code, out, err) = pyzord(home.path(), &["-e", engine, "stats"]);
        assert_eq!(code, Some(0), "{engine}: {err}");
        assert!(out.contains("(live, from the running server)"), "{out}");
        assert!(out.contains("digests:      3\n"), "{engine}: {out}");
        assert!(home.path().join("pyzord.sock").exists());
        drop(server);
    }
}
