//! pyzor-load against real servers on loopback: its echo ceiling, and an
//! in-process pyzord whose store shows what the load really did.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyzor_testkit::{ChildGuard, free_port, udp_ping, wait_until};
use pyzord::handler::NoHooks;
use pyzord::server::{Options, Server};
use pyzord::stats::Stats;
use pyzord::store::memory::MemoryStore;

const LOAD: &str = env!("CARGO_BIN_EXE_pyzor-load");

/// Runs pyzor-load with `args`; returns its JSON result as text.
fn load(args: &[&str]) -> String {
    let out = Command::new(LOAD)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyzor-load {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The number after `"key": ` in a JSON text.
fn field(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].trim().parse().unwrap()
}

#[test]
fn drives_the_echo_ceiling() {
    let port = free_port();
    let _echo = ChildGuard::spawn(
        "pyzor-load echo",
        Command::new(LOAD).args([
            "echo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--duration",
            "60",
        ]),
    );
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || udp_ping(
        addr.parse().unwrap(),
        Duration::from_millis(200)
    )));
    let json = load(&[&addr, "--requests", "5000", "--duration", "30"]);
    assert_eq!(field(&json, "answered"), 5000.0, "{json}");
    assert_eq!(field(&json, "lost"), 0.0, "{json}");
    assert_eq!(field(&json, "200"), 5000.0, "{json}");
    assert!(field(&json, "requests_per_second") > 0.0);
    assert!(field(&json, "p99_us") >= field(&json, "p50_us"));
}

#[test]
fn reports_reach_the_store_and_bad_signatures_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("pyzord.passwd");
    std::fs::write(
        &passwd,
        "loader : 0123456789abcdef0123456789abcdef01234567\n",
    )
    .unwrap();
    let access = dir.path().join("pyzord.access");
    std::fs::write(
        &access,
        "all : loader : allow\ncheck report ping pong info : anonymous : allow\n",
    )
    .unwrap();
    let server = Server::bind(
        Options {
            address: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            passwd: Some(passwd),
            access: Some(access),
            cleanup_age: 0,
            guard: Default::default(),
        },
        store.clone(),
        Arc::new(NoHooks),
        Arc::new(Stats::new()),
    )
    .unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let handle = server.handle();
    let running = std::thread::spawn(move || server.run());

    // 3000 reports over a pool of 7 digests: 7 records
    let json = load(&[
        &addr,
        "--ops",
        "report=1",
        "--keys",
        "pool:7",
        "--requests",
        "3000",
    ]);
    assert_eq!(field(&json, "answered"), 3000.0, "{json}");
    assert_eq!(field(&json, "200"), 3000.0, "{json}");
    assert_eq!(store.len(), 7);

    // fresh keys: one record per report
    let json = load(&[
        &addr,
        "--ops",
        "report=1",
        "--keys",
        "fresh",
        "--requests",
        "500",
    ]);
    assert_eq!(field(&json, "200"), 500.0, "{json}");
    assert_eq!(store.len(), 507);

    // checks never create records
    let json = load(&[
        &addr,
        "--ops",
        "check=1,info=1,ping=1,pong=1",
        "--keys",
        "fresh",
        "--requests",
        "800",
    ]);
    assert_eq!(field(&json, "200"), 800.0, "{json}");
    assert_eq!(store.len(), 507);

    // a known user with the wrong key: 401 for every request, nothing stored
    let json = load(&[
        &addr,
        "--ops",
        "report=1",
        "--keys",
        "fresh",
        "--requests",
        "300",
        "--user",
        "loader",
        "--key",
        "ffffffffffffffffffffffffffffffffffffffff",
    ]);
    assert_eq!(field(&json, "401"), 300.0, "{json}");
    assert_eq!(store.len(), 507);

    // the right key
    let json = load(&[
        &addr,
        "--ops",
        "report=1",
        "--keys",
        "fresh",
        "--requests",
        "300",
        "--user",
        "loader",
        "--key",
        "0123456789abcdef0123456789abcdef01234567",
    ]);
    assert_eq!(field(&json, "200"), 300.0, "{json}");
    assert_eq!(store.len(), 807);

    handle.shutdown();
    running.join().unwrap().unwrap();
}

#[test]
fn stops_by_itself_and_counts_losses() {
    // nobody listens there: every request is lost, and the run still ends
    let port = free_port();
    let t = Instant::now();
    let json = load(&[
        &format!("127.0.0.1:{port}"),
        "--duration",
        "1",
        "--timeout-ms",
        "200",
        "--window",
        "4",
    ]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(field(&json, "answered"), 0.0, "{json}");
    assert!(field(&json, "lost") > 0.0, "{json}");
    assert_eq!(field(&json, "lost"), field(&json, "sent"), "{json}");
}

#[test]
fn refuses_remote_targets_and_bad_options() {
    for args in [
        vec!["192.0.2.1:24441"],
        vec!["127.0.0.1:24441", "--ops", "frob=1"],
        vec!["127.0.0.1:24441", "--keys", "pool:0"],
        vec!["echo", "--listen", "192.0.2.1:24499"],
    ] {
        let out = Command::new(LOAD).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
