//! Redis going away under load: killed (kill -9) and started again,
//! paused (SIGSTOP, then DEBUG SLEEP), full (`maxmemory` with
//! `noeviction`). pyzord answers every datagram within the client's
//! timeout (an error reply, never silence), is back by itself within a
//! second of Redis, logs one line per outage, counts outages in its
//! metrics, and loses no acknowledged report (Redis here syncs every
//! write before answering).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyzor_client::{Client, ClientError, Digest, ServerAddr};
use pyzor_testkit::{Redis, free_port, wait_until};

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// Digests whose report was acknowledged (200).
    acked: Mutex<Vec<Digest>>,
    /// Requests with no reply within the timeout.
    silent: AtomicU64,
    /// Error replies (500).
    errors: AtomicU64,
    ok: AtomicU64,
}

/// Reports fresh digests and checks them, one after the other, until
/// `stop` (at most 200 000 requests).
fn load(server: ServerAddr, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let client = Client::new().with_timeout(Duration::from_secs(5));
    for i in 0u64..100_000 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut d = [0u8; 20];
        d[..8].copy_from_slice(&i.to_be_bytes());
        d[19] = 0x0d;
        let d = Digest(d);
        for r in [
            client.report(&server, &[d]).map(|()| true),
            client.check(&server, d).map(|_| false),
        ] {
            match r {
                Ok(report) => {
                    seen.ok.fetch_add(1, Ordering::Relaxed);
                    if report {
                        seen.acked.lock().unwrap().push(d);
                    }
                }
                Err(ClientError::Timeout) => {
                    seen.silent.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    seen.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Time from now until a check through pyzord succeeds.
fn time_to_recover(server: &ServerAddr) -> Duration {
    let client = Client::new().with_timeout(Duration::from_millis(500));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(15), || client
            .check(server, Digest([0xee; 20]))
            .is_ok()),
        "pyzord did not reconnect"
    );
    t.elapsed()
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn redis_outages_under_load() {
    let data = tempfile::tempdir().unwrap();
    let rport = free_port();
    let Some(redis) = Redis::start_durable(rport, data.path()) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mport = free_port();
    let (ours, log) = common::start_with_log_file(
        home.path(),
        &[
            "-e",
            "redis",
            "--dsn",
            &format!("127.0.0.1,{rport},,0"),
            "--metrics",
            &mport.to_string(),
        ],
    );
    let server = ServerAddr::new("127.0.0.1", ours.port);
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..2)
        .map(|_| {
            let (server, seen, stop) = (server.clone(), Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || load(server, seen, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // 1. killed, then started again on its data
    let mut redis = redis;
    signal(redis.guard.pid(), "KILL");
    let _ = redis.guard.child.wait();
    std::thread::sleep(Duration::from_millis(1500));
    let redis = Redis::start_durable(rport, data.path()).expect("redis again");
    let back = time_to_recover(&server);
    assert!(back < Duration::from_secs(1), "reconnected after {back:?}");

    // 2. paused by SIGSTOP for 3 s
    std::thread::sleep(Duration::from_millis(500));
    signal(redis.guard.pid(), "STOP");
    std::thread::sleep(Duration::from_secs(3));
    signal(redis.guard.pid(), "CONT");
    let back = time_to_recover(&server);
    assert!(
        back < Duration::from_secs(1),
        "back after SIGCONT in {back:?}"
    );

    // 3. paused by DEBUG SLEEP 3
    std::thread::sleep(Duration::from_millis(500));
    let sleeper = {
        let port = rport;
        std::thread::spawn(move || {
            std::process::Command::new("redis-cli")
                .args(["-p", &port.to_string(), "DEBUG", "SLEEP", "3"])
                .output()
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let _ = sleeper.join();
    let back = time_to_recover(&server);
    assert!(
        back < Duration::from_secs(1),
        "back after DEBUG SLEEP in {back:?}"
    );

    // 4. full: writes refused, reads answered; not an outage
    std::thread::sleep(Duration::from_millis(300));
    let used: u64 = redis
        .cli(&["INFO", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis.cli(&["CONFIG", "SET", "maxmemory", &used.to_string()]);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let full = wait_until(Duration::from_secs(10), || {
        matches!(
            client.report(&server, &[Digest([0xf0; 20])]),
            Err(ClientError::Server { code, .. }) if code.0 == 500
        )
    });
    assert!(full, "reports still accepted by a full Redis");
    client
        .check(&server, Digest([0xf1; 20]))
        .expect("checks still answered");
    redis.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    assert!(wait_until(Duration::from_secs(5), || client
        .report(&server, &[Digest([0xf2; 20])])
        .is_ok()));

    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().unwrap();
    }
    assert_eq!(
        seen.silent.load(Ordering::Relaxed),
        0,
        "requests with no reply"
    );
    assert!(
        seen.errors.load(Ordering::Relaxed) > 0,
        "no outage was seen"
    );
    assert!(seen.ok.load(Ordering::Relaxed) > 100);
    // every acknowledged report is there
    let acked = seen.acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "{} acked", acked.len());
    let lost: Vec<_> = acked
        .iter()
        .filter(|d| client.check(&server, **d).unwrap().count < 1)
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acked reports lost",
        lost.len(),
        acked.len()
    );
    // one line per outage (kill, SIGSTOP, DEBUG SLEEP; full is none)
    assert_eq!(common::metric(mport, "pyzord_store_outages_total"), 3.0);
    assert_eq!(common::metric(mport, "pyzord_store_unavailable"), 0.0);
    let text = std::fs::read_to_string(&log).unwrap();
    let down = text.matches("store is unavailable").count();
    let up = text.matches("store is back").count();
    assert_eq!((down, up), (3, 3), "{text}");
}
