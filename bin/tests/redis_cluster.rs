//! pyzord on a real Redis Cluster (six redis-servers on loopback, three
//! masters with a replica each): the reference's key layout spread over
//! the masters; two pyzords sharing the cluster; a master killed under
//! load, its replica taking over; `migrate` and `stats` over every master.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyzor_client::{Client, Digest, ServerAddr};
use pyzor_testkit::{RedisCluster, wait_until};

fn digest(i: u64, tag: u8) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&i.to_be_bytes());
    d[19] = tag;
    Digest(d)
}

fn key(d: &Digest) -> String {
    format!("pyzord.digest_v1.{d}")
}

#[test]
fn two_pyzords_share_a_cluster_in_the_reference_layout() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let dsn = cluster.dsn();
    let (h1, h2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = common::start(h1.path(), &["-e", "redis-cluster", "--dsn", &dsn]);
    // the second one knows a single seed
    let seed = format!("127.0.0.1:{}", cluster.live()[3]);
    let b = common::start(h2.path(), &["-e", "redis-cluster", "--dsn", &seed]);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let (sa, sb) = (
        ServerAddr::new("127.0.0.1", a.port),
        ServerAddr::new("127.0.0.1", b.port),
    );
    // 300 digests: spread over the three masters
    let digests: Vec<Digest> = (0..300).map(|i| digest(i, 0xc1)).collect();
    for chunk in digests.chunks(50) {
        client.report(&sa, chunk).unwrap();
    }
    client.report(&sb, &digests[..10]).unwrap();
    client.whitelist(&sb, &digests[..1]).unwrap_err(); // anonymous: 403
    for (i, d) in digests.iter().enumerate() {
        let want = if i < 10 { 2 } else { 1 };
        assert_eq!(client.check(&sb, *d).unwrap().count, want, "{d}");
        assert_eq!(client.check(&sa, *d).unwrap().count, want, "{d}");
    }
    let info = client.info(&sa, digests[0]).unwrap();
    assert!(info.times.entered > 0 && info.times.updated >= info.times.entered);
    assert_eq!((info.times.wl_entered, info.times.wl_updated), (0, 0));
    assert_eq!(client.check(&sa, digest(999, 0xc1)).unwrap().count, 0);

    // the reference's layout on the masters: a hash per digest with its
    // fields and the 120-day TTL, and every master holds some
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "{masters:?}");
    let mut held = 0;
    for m in &masters {
        let n: usize = RedisCluster::cli(*m, &["dbsize"]).parse().unwrap();
        assert!(n > 30, "master {m} holds {n} of 300");
        held += n;
    }
    assert_eq!(held, 300);
    let k = key(&digests[0]);
    let home = cluster.master_of(&k).unwrap();
    let fields = RedisCluster::cli(home, &["hgetall", &k]);
    let names: Vec<&str> = fields.lines().step_by(2).collect();
    assert_eq!(names, ["r_count", "r_entered", "r_updated"], "{fields}");
    assert_eq!(fields.lines().nth(1), Some("2"));
    let ttl: i64 = RedisCluster::cli(home, &["ttl", &k]).parse().unwrap();
    assert!(ttl > 10_367_000 && ttl <= 10_368_000, "ttl {ttl}");

    // stats reads every master
    let out = common::run(h1.path(), &["stats", &format!("redis-cluster:{seed}")]);
    let text = common::text(&out.stdout);
    assert!(out.status.success(), "{text}{}", common::text(&out.stderr));
    assert!(text.contains("300"), "{text}");
}

#[test]
fn migrate_to_and_from_a_cluster_loses_nothing() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src.store");
    let dst = home.path().join("dst.store");
    // fill a file store through a running pyzord
    {
        let mut ours = common::start(home.path(), &["--dsn", src.to_str().unwrap()]);
        let client = Client::new().with_timeout(Duration::from_secs(5));
        let s = ServerAddr::new("127.0.0.1", ours.port);
        let digests: Vec<Digest> = (0..500).map(|i| digest(i, 0xc2)).collect();
        for chunk in digests.chunks(100) {
            client.report(&s, chunk).unwrap();
        }
        client.report(&s, &digests[..7]).unwrap();
        ours.signal("TERM");
        assert_eq!(ours.wait(Duration::from_secs(10)), Some(0));
    }
    let migrate = |from: &str, to: &str| {
        let out = common::run(
            home.path(),
            &["migrate", "--from", from, "--to", to, "--verify"],
        );
        let all = format!("{}{}", common::text(&out.stdout), common::text(&out.stderr));
        assert!(out.status.success(), "migrate {from} -> {to}: {all}");
        all
    };
    let cluster_db = format!("redis-cluster:{}", cluster.dsn());
    let text = migrate(&format!("file:{}", src.display()), &cluster_db);
    assert!(text.contains("500"), "{text}");
    let text = migrate(&cluster_db, &format!("file:{}", dst.display()));
    assert!(text.contains("500"), "{text}");
    // the copy serves the same counts
    let ours = common::start(home.path(), &["--dsn", dst.to_str().unwrap()]);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let s = ServerAddr::new("127.0.0.1", ours.port);
    assert_eq!(client.check(&s, digest(3, 0xc2)).unwrap().count, 2);
    assert_eq!(client.check(&s, digest(300, 0xc2)).unwrap().count, 1);
}

#[test]
fn a_master_killed_under_load_fails_over_without_silence() {
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (ours, log) = common::start_with_log_file(
        home.path(),
        &["-e", "redis-cluster", "--dsn", &cluster.dsn()],
    );
    let server = ServerAddr::new("127.0.0.1", ours.port);
    let load = common::Load::start(&server, &[0xd0, 0xd1], digest);
    std::thread::sleep(Duration::from_secs(1));
    let before = load.seen.acked.lock().unwrap().len();
    assert!(before > 100, "only {before} reports acked before the kill");

    // kill the master of the first digest's slot
    let victim = cluster.master_of(&key(&digest(0, 0xd0))).unwrap();
    let killed_at = Instant::now();
    cluster.kill(victim);
    assert!(
        wait_until(Duration::from_secs(20), || cluster.masters().len() == 3),
        "no replica took over"
    );
    assert!(cluster.wait_ok(Duration::from_secs(20)));
    let failed_over = Instant::now();
    // pyzord serves the victim's slots again, through the new master
    let client = Client::new().with_timeout(Duration::from_secs(2));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || client
            .check(&server, digest(0, 0xd0))
            .is_ok()),
        "pyzord did not find the new master"
    );
    let back_after = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let seen = load.finish();

    let acked = seen.acked.lock().unwrap().clone();
    let after: Vec<Digest> = acked
        .iter()
        .filter(|(when, _)| *when > failed_over)
        .map(|(_, d)| *d)
        .collect();
    let errors = seen.errors.load(Ordering::Relaxed);
    eprintln!(
        "failover: {} reports acked ({before} before the kill, {} after the failover), \
         {errors} error replies, failover {:.1} s, pyzord back {:.0} ms after it",
        acked.len(),
        after.len(),
        failed_over.duration_since(killed_at).as_secs_f64(),
        back_after.as_secs_f64() * 1000.0
    );
    assert_eq!(
        seen.silent.load(Ordering::Relaxed),
        0,
        "requests unanswered"
    );
    assert!(
        errors > 0,
        "the failover went unnoticed: was a master killed?"
    );
    assert!(
        after.len() > 100,
        "only {} acked after the failover",
        after.len()
    );
    // every report acked after the failover is there
    for d in &after {
        assert_eq!(client.check(&server, *d).unwrap().count, 1, "{d}");
    }
    // reports acked before it: Redis replicates asynchronously, so the
    // killed master may have acked writes its replica never got
    let mut lost = 0;
    for (_, d) in acked.iter().filter(|(when, _)| *when <= killed_at) {
        if client.check(&server, *d).unwrap().count != 1 {
            lost += 1;
        }
    }
    eprintln!("failover: {lost} reports acked before the kill are missing");
    // the outage is logged as such, naming the store, not once per request
    let log = std::fs::read_to_string(&log).unwrap();
    let outages = log.matches("store is unavailable").count();
    eprintln!("failover: {outages} outage lines in the log");
    assert!((1..=2).contains(&outages), "{log}");
    assert!(log.contains("The redis-cluster (127.0.0.1:"), "{log}");
}

#[test]
fn slots_moving_under_load_are_followed() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (ours, log) = common::start_with_log_file(
        home.path(),
        &["-e", "redis-cluster", "--dsn", &cluster.dsn()],
    );
    let server = ServerAddr::new("127.0.0.1", ours.port);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let before: Vec<Digest> = (0..300).map(|i| digest(i, 0xe0)).collect();
    for chunk in before.chunks(50) {
        client.report(&server, chunk).unwrap();
    }
    let load = common::Load::start(&server, &[0xe1], digest);
    // move a third of one master's slots to another, keys and all
    // (MIGRATE: ASK while a slot moves, MOVED once it has)
    let masters = cluster.masters();
    let id = |port: u16| RedisCluster::cli(port, &["cluster", "myid"]);
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "reshard", &format!("127.0.0.1:{}", masters[0])])
        .args(["--cluster-from", &id(masters[0])])
        .args(["--cluster-to", &id(masters[1])])
        .args(["--cluster-slots", "1800", "--cluster-yes"])
        .args(["--cluster-pipeline", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reshard: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(Duration::from_millis(500));
    let seen = load.finish();
    let acked = seen.acked();
    eprintln!(
        "reshard: {} reports acked under load, {} error replies",
        acked.len(),
        seen.errors.load(Ordering::Relaxed)
    );
    assert_eq!(
        seen.silent.load(Ordering::Relaxed),
        0,
        "requests unanswered"
    );
    assert_eq!(
        seen.errors.load(Ordering::Relaxed),
        0,
        "redirections failed: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(acked.len() > 100, "only {} acked", acked.len());
    for d in before.iter().chain(&acked) {
        assert_eq!(client.check(&server, *d).unwrap().count, 1, "{d}");
    }
    // the moved slots hold keys on their new master
    let n: usize = RedisCluster::cli(masters[1], &["dbsize"]).parse().unwrap();
    let total: usize = masters
        .iter()
        .map(|m| RedisCluster::cli(*m, &["dbsize"]).parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, before.len() + acked.len());
    assert!(n * 5 > total * 2, "{n} of {total} on the receiving master");
}
