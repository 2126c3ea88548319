//! A Python pyzord and ours share one Redis and see each other's reports:
//! the same key layout, fields and TTL.

mod common;

use std::time::Duration;

use pyzor_client::Client;
use pyzor_core::{Digest, ServerAddr};
use pyzor_testkit::{Redis, RefEngine, RefPyzord};

#[test]
fn python_and_ours_share_one_redis() {
    let Some(redis) = Redis::start() else { return };
    let Some(theirs) = RefPyzord::start(RefEngine::Redis(redis.port, 3), false) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dsn = format!("127.0.0.1,{},,3", redis.port);
    let ours = common::start(home.path(), &["-e", "redis", "--dsn", &dsn]);
    let client = Client::new().with_timeout(Duration::from_secs(5));
    let ours_addr = ServerAddr::new("127.0.0.1", ours.port);
    let theirs_addr = ServerAddr::new("127.0.0.1", theirs.port);
    let d1: Digest = "1111111111111111111111111111111111111111".parse().unwrap();
    let d2: Digest = "2222222222222222222222222222222222222222".parse().unwrap();

    client.report(&ours_addr, &[d1]).unwrap();
    client.report(&theirs_addr, &[d1]).unwrap();
    client.report(&theirs_addr, &[d2]).unwrap();
    client.report(&ours_addr, &[d2, d2]).unwrap();
    for server in [&ours_addr, &theirs_addr] {
        assert_eq!(client.check(server, d1).unwrap().count, 2, "{server}");
        assert_eq!(client.check(server, d2).unwrap().count, 3, "{server}");
    }
    let a = client.info(&ours_addr, d1).unwrap();
    let b = client.info(&theirs_addr, d1).unwrap();
    assert_eq!(a, b);
    assert!(a.times.entered > 0 && a.times.updated >= a.times.entered);
    assert_eq!((a.times.wl_entered, a.times.wl_updated), (0, 0));

    // the layout: one hash per digest, the reference's fields, TTL 120 days
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "-n",
            "3",
            "hgetall",
            &format!("pyzord.digest_v1.{d1}"),
        ])
        .output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.lines().step_by(2).collect();
        assert_eq!(fields, ["r_count", "r_entered", "r_updated"], "{text}");
        let ttl = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "-n",
                "3",
                "ttl",
                &format!("pyzord.digest_v1.{d1}"),
            ])
            .output()
            .unwrap();
        let ttl: i64 = String::from_utf8_lossy(&ttl.stdout).trim().parse().unwrap();
        assert!(ttl > 10_367_000 && ttl <= 10_368_000, "ttl {ttl}");
    }
}

#[test]
fn redis_down_is_a_clear_error_and_then_recovers() {
    let Some(redis) = Redis::start() else { return };
    let port = redis.port;
    let home = tempfile::tempdir().unwrap();
    let dsn = format!("127.0.0.1,{port},,0");
    let ours = common::start(home.path(), &["-e", "redis", "--dsn", &dsn]);
    let addr = ServerAddr::new("127.0.0.1", ours.port);
    let client = Client::new().with_timeout(Duration::from_secs(8));
    let d: Digest = "3333333333333333333333333333333333333333".parse().unwrap();
    client.report(&addr, &[d]).unwrap();
    drop(redis); // Redis goes away
    let err = client.check(&addr, d).unwrap_err();
    assert_eq!(
        err.to_string(),
        "(500, \"Internal Server Error: Database temporarily unavailable.\")"
    );
    // ping does not need the database
    client.ping(&addr).unwrap();
    // a new Redis on the same port: the server reconnects by itself
    let Some(_redis2) = Redis::start_on(port) else {
        return;
    };
    assert!(pyzor_testkit::wait_until(Duration::from_secs(10), || {
        client.check(&addr, d).is_ok()
    }));
    assert_eq!(client.check(&addr, d).unwrap().count, 0);
}
