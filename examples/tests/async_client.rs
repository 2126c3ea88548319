//! The async client against real servers on loopback: ours (in-process,
//! memory store) and the reference pyzord 1.1.2. Ten thousand concurrent
//! checks from a hundred tasks over one client, every answer right; every
//! operation; a silent server times out on time; replies from a wrong
//! address or with a wrong thread are ignored; a dropped future gives its
//! place up.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use pyzor_client::{AsyncClient, AsyncFilter, ClientError, Digest, Job, Op, ServerAddr, Verdict};
use pyzor_examples::{LocalServer, server_addr};
use pyzor_testkit::{RefEngine, RefPyzord};

/// Digest `i` of the load test; it was reported `i % 7` times.
fn digest(i: usize) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    d[19] = 0xa5;
    Digest(d)
}

/// Reports digest `i` `i % 7` times for `i` in `0..n`, then has 100 tasks
/// check each of the `n` digests `per_task / n` times, every task's checks
/// all in flight at once; asserts every count.
async fn hundred_tasks(client: &AsyncClient, server: &ServerAddr, n: usize, per_task: usize) {
    let reports: Vec<Job> = (0..n)
        .flat_map(|i| (0..i % 7).map(move |_| i))
        .map(|i| Job::new(server.clone(), Op::Report, vec![digest(i)]))
        .collect();
    for r in client.batch(&reports).await {
        r.expect("report");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..100 {
        let (client, server) = (client.clone(), server.clone());
        tasks.spawn(async move {
            let mut checks = tokio::task::JoinSet::new();
            for k in 0..per_task {
                let (client, server) = (client.clone(), server.clone());
                let i = (t * per_task + k) % n;
                checks.spawn(async move { (i, client.check(&server, digest(i)).await) });
            }
            let mut done = 0;
            while let Some(r) = checks.join_next().await {
                let (i, counts) = r.expect("the check task");
                let counts = counts.unwrap_or_else(|e| panic!("check of digest {i}: {e}"));
                assert_eq!(counts.count, (i % 7) as i64, "digest {i}");
                assert_eq!(counts.wl_count, 0, "digest {i}");
                done += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r.expect("a task");
    }
    assert_eq!(total, 100 * per_task);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_checks_against_ours() {
    let server = LocalServer::start();
    let client = AsyncClient::new().with_timeout(Duration::from_secs(5));
    hundred_tasks(&client, &server.server(), 500, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_checks_against_the_reference() {
    let Some(reference) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let server = ServerAddr::new("127.0.0.1", reference.port);
    // the reference answers one datagram at a time: a narrower window
    // keeps its socket's queue from overflowing
    let client = AsyncClient::new()
        .with_timeout(Duration::from_secs(10))
        .with_window(32);
    hundred_tasks(&client, &server, 200, 100).await;
}

#[tokio::test]
async fn every_operation_against_ours() {
    let server = LocalServer::start();
    let s = server.server();
    let client = AsyncClient::new().with_timeout(Duration::from_secs(3));
    let d = Digest([0x42; 20]);
    client.ping(&s).await.unwrap();
    assert_eq!(client.check(&s, d).await.unwrap().count, 0);
    client.report(&s, &[d, d]).await.unwrap();
    client.whitelist(&s, &[d]).await.unwrap();
    let counts = client.check(&s, d).await.unwrap();
    assert_eq!((counts.count, counts.wl_count), (2, 1));
    let info = client.info(&s, d).await.unwrap();
    assert_eq!(info.counts, counts);
    assert!(info.times.entered > 0 && info.times.wl_updated >= info.times.wl_entered);
    assert_eq!(
        client.pong(&s, d).await.unwrap().count,
        pyzor_core::PONG_COUNT
    );
    // check_all: one answer per server, in order; the second server is dead
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = server_addr(silent.local_addr().unwrap());
    let short = client.clone().with_timeout(Duration::from_millis(300));
    let all = short.check_all(&[s.clone(), dead.clone()], d).await;
    assert_eq!(all[0].as_ref().unwrap().count, 2);
    assert!(matches!(all[1], Err(ClientError::Timeout)));
    // raw requests give the reply whatever its code
    let raw = client.request(&s, Op::Ping, &[]).await.expect("a reply");
    assert!(raw.code.is_ok(), "{raw:?}");
    // the filter API on the async client
    let filter = AsyncFilter::with_client(vec![s.clone()], client.clone());
    let spam = b"Subject: win\n\nYou have won a prize, send your bank details today.\n";
    for _ in 0..5 {
        assert!(filter.report(&[spam], true).await.is_empty());
    }
    let outcome = filter.check(spam).await;
    assert_eq!(outcome.verdict, Verdict::Spam { count: 5 });
    assert_eq!(outcome.digest, pyzor_digest::digest(spam));
}

#[tokio::test]
async fn a_silent_server_times_out_within_timeout_and_50ms() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = server_addr(silent.local_addr().unwrap());
    let timeout = Duration::from_millis(300);
    let client = AsyncClient::new().with_timeout(timeout);
    // the socket is made by the first request: time a second one
    client
        .ping(&server_addr("127.0.0.1:9".parse().unwrap()))
        .await
        .ok();
    // the best of three, so that a busy machine's scheduling does not
    // decide (every one must time out, and none early)
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = client.check(&dead, Digest([1; 20])).await;
        let took = t.elapsed();
        assert!(matches!(r, Err(ClientError::Timeout)), "{r:?}");
        assert!(took >= timeout, "{took:?}");
        best = best.min(took);
    }
    assert!(best <= timeout + Duration::from_millis(50), "{best:?}");
    // the silent server did get the request
    let mut buf = [0u8; 2048];
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let (n, _) = silent.recv_from(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("Op: check"));
}

/// The `Thread` of a request.
fn thread_of(request: &[u8]) -> String {
    let text = String::from_utf8_lossy(request);
    text.lines()
        .find_map(|l| l.strip_prefix("Thread: "))
        .expect("a Thread header")
        .to_owned()
}

fn reply(thread: &str, count: u32) -> String {
    format!("Code: 200\nDiag: OK\nPV: 2.1\nThread: {thread}\nCount: {count}\nWL-Count: 0\n\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_from_a_wrong_address_or_thread_are_ignored() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let impostor = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server_addr(server.local_addr().unwrap());
    let script = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (n, client) = server.recv_from(&mut buf).unwrap();
        let thread = thread_of(&buf[..n]);
        // the right thread from the wrong address, a wrong thread from the
        // right address, then the real reply
        impostor
            .send_to(reply(&thread, 666).as_bytes(), client)
            .unwrap();
        let wrong: u32 = thread.parse::<u32>().unwrap() % 60000 + 1100;
        server
            .send_to(reply(&wrong.to_string(), 667).as_bytes(), client)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        server
            .send_to(reply(&thread, 7).as_bytes(), client)
            .unwrap();
    });
    let client = AsyncClient::new().with_timeout(Duration::from_secs(3));
    let counts = client.check(&addr, Digest([2; 20])).await.unwrap();
    assert_eq!(counts.count, 7);
    script.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_gives_its_place_up() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let dead = server_addr(silent.local_addr().unwrap());
    // one request in flight per server at most, and a long timeout
    let client = AsyncClient::new()
        .with_timeout(Duration::from_secs(30))
        .with_window(1);
    let c2 = client.clone();
    let d2 = dead.clone();
    let first = tokio::spawn(async move { c2.check(&d2, Digest([3; 20])).await });
    let mut buf = [0u8; 2048];
    let (n, _) = silent.recv_from(&mut buf).unwrap();
    let first_thread = thread_of(&buf[..n]);
    // the second waits for the first's place ...
    let c3 = client.clone();
    let d3 = dead.clone();
    let second = tokio::spawn(async move { c3.check(&d3, Digest([4; 20])).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    silent.set_nonblocking(true).unwrap();
    assert!(
        silent.recv_from(&mut buf).is_err(),
        "sent beyond the window"
    );
    silent.set_nonblocking(false).unwrap();
    // ... and is sent as soon as the first is dropped
    first.abort();
    let (n, client_addr) = silent.recv_from(&mut buf).unwrap();
    let second_thread = thread_of(&buf[..n]);
    assert!(String::from_utf8_lossy(&buf[..n]).contains(&Digest([4; 20]).to_string()));
    // a late reply to the dropped request is ignored; the second's is not
    silent
        .send_to(reply(&first_thread, 1).as_bytes(), client_addr)
        .unwrap();
    silent
        .send_to(reply(&second_thread, 2).as_bytes(), client_addr)
        .unwrap();
    let counts = second.await.unwrap().unwrap();
    assert_eq!(counts.count, 2);
}
