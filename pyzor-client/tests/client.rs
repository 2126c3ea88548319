//! The client library against scripted servers on loopback sockets: stray
//! datagrams are ignored, each kind of failure is its typed error, retries
//! resend the same request, IPv6 works, and a batch asks several servers
//! at once.

use std::net::{SocketAddr, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyzor_client::{Client, ClientError};
use pyzor_core::{Code, Counts, Digest, ServerAddr};

const DIGEST: Digest = Digest([0x5a; 20]);

/// One request as the scripted server received it.
struct Received {
    sock: UdpSocket,
    client: SocketAddr,
    thread: String,
    text: String,
}

/// Binds a server at `bind` (port 0) and runs `script` on the first
/// request it receives; the join handle gives back what the script
/// returns.
fn scripted<T: Send + 'static>(
    bind: &str,
    script: impl FnOnce(Received) -> T + Send + 'static,
) -> Option<(u16, JoinHandle<T>)> {
    let sock = UdpSocket::bind(bind).ok()?;
    let port = sock.local_addr().ok()?.port();
    let handle = thread::spawn(move || {
        let r = receive(sock, Duration::from_secs(10)).expect("no request arrived");
        script(r)
    });
    Some((port, handle))
}

fn receive(sock: UdpSocket, within: Duration) -> Option<Received> {
    sock.set_read_timeout(Some(within)).ok()?;
    let mut buf = [0u8; 8192];
    let (n, client) = sock.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let thread = text
        .lines()
        .find_map(|l| l.strip_prefix("Thread: "))
        .expect("a Thread header")
        .to_owned();
    Some(Received {
        sock,
        client,
        thread,
        text,
    })
}

fn reply(code: u16, diag: &str, thread: &str, extra: &str) -> Vec<u8> {
    format!("Code: {code}\nDiag: {diag}\nPV: 2.1\nThread: {thread}\n{extra}\n").into_bytes()
}

fn client() -> Client {
    Client::new().with_timeout(Duration::from_secs(5))
}

#[test]
fn stray_datagrams_are_ignored() {
    let (port, server) = scripted("127.0.0.1:0", |r| {
        let good = reply(200, "OK", &r.thread, "Count: 7\nWL-Count: 2\n");
        // the right thread from another address
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let spoofed = reply(200, "OK", &r.thread, "Count: 11\nWL-Count: 11\n");
        other.send_to(&spoofed, r.client).unwrap();
        // another thread from the right address
        let wrong: u32 = r.thread.parse::<u32>().unwrap() % 60000 + 2000;
        let stray = reply(200, "OK", &wrong.to_string(), "Count: 99\nWL-Count: 99\n");
        r.sock.send_to(&stray, r.client).unwrap();
        // noise without a thread
        r.sock.send_to(b"\xff\x00 not pyzor", r.client).unwrap();
        // then the answer
        r.sock.send_to(&good, r.client).unwrap();
    })
    .unwrap();
    let got = client().check(&ServerAddr::new("127.0.0.1", port), DIGEST);
    server.join().unwrap();
    assert_eq!(
        got.unwrap(),
        Counts {
            count: 7,
            wl_count: 2
        }
    );
}

#[test]
fn a_server_error_is_its_code_and_diag() {
    let (port, server) = scripted("127.0.0.1:0", |r| {
        r.sock
            .send_to(&reply(403, "Forbidden", &r.thread, ""), r.client)
            .unwrap();
    })
    .unwrap();
    let got = client().check(&ServerAddr::new("127.0.0.1", port), DIGEST);
    server.join().unwrap();
    match got {
        Err(e @ ClientError::Server { .. }) => {
            assert_eq!(e.code(), Code::FORBIDDEN);
            assert_eq!(e.to_string(), "(403, \"Forbidden\")");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[test]
fn a_malformed_reply_and_a_missing_count_are_errors() {
    let (port, server) = scripted("127.0.0.1:0", |r| {
        let no_code = format!("Thread: {}\nDiag: OK\n\n", r.thread);
        r.sock.send_to(no_code.as_bytes(), r.client).unwrap();
    })
    .unwrap();
    let got = client().check(&ServerAddr::new("127.0.0.1", port), DIGEST);
    server.join().unwrap();
    assert!(
        matches!(got, Err(ClientError::MalformedReply(_))),
        "{got:?}"
    );

    let (port, server) = scripted("127.0.0.1:0", |r| {
        r.sock
            .send_to(&reply(200, "OK", &r.thread, ""), r.client)
            .unwrap();
    })
    .unwrap();
    let got = client().check(&ServerAddr::new("127.0.0.1", port), DIGEST);
    server.join().unwrap();
    assert!(
        matches!(got, Err(ClientError::MissingHeader { .. })),
        "{got:?}"
    );
}

#[test]
fn no_reply_is_a_timeout_after_the_timeout() {
    let (port, server) = scripted("127.0.0.1:0", |r| {
        // hold the socket open, answer nothing
        thread::sleep(Duration::from_millis(800));
        drop(r);
    })
    .unwrap();
    let start = Instant::now();
    let got = Client::new()
        .with_timeout(Duration::from_millis(300))
        .ping(&ServerAddr::new("127.0.0.1", port));
    let took = start.elapsed();
    server.join().unwrap();
    assert!(matches!(got, Err(ClientError::Timeout)), "{got:?}");
    assert_eq!(got.unwrap_err().code(), Code::TIMEOUT);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_retry_resends_the_same_request() {
    let (port, server) = scripted("127.0.0.1:0", |first| {
        // ignore the first datagram; answer its retransmission
        let Received { sock, text, .. } = first;
        let again = receive(sock, Duration::from_secs(10)).expect("no retry arrived");
        assert_eq!(again.text, text, "a retry is the same datagram");
        again
            .sock
            .send_to(&reply(200, "OK", &again.thread, ""), again.client)
            .unwrap();
    })
    .unwrap();
    let got = Client::new()
        .with_timeout(Duration::from_millis(300))
        .with_retries(1)
        .ping(&ServerAddr::new("127.0.0.1", port));
    server.join().unwrap();
    got.unwrap();
}

#[test]
fn an_unknown_host_is_a_resolve_error() {
    let got = client().check(&ServerAddr::new("no-such-host.invalid", 24441), DIGEST);
    assert!(matches!(got, Err(ClientError::Resolve { .. })), "{got:?}");
}

#[test]
fn ipv6_loopback() {
    let Some((port, server)) = scripted("[::1]:0", |r| {
        assert!(r.client.is_ipv6());
        r.sock
            .send_to(
                &reply(200, "OK", &r.thread, "Count: 1\nWL-Count: 0\n"),
                r.client,
            )
            .unwrap();
    }) else {
        eprintln!("skipped: this machine has no IPv6 loopback (::1)");
        return;
    };
    let got = client().check(&ServerAddr::new("::1", port), DIGEST);
    server.join().unwrap();
    assert_eq!(got.unwrap().count, 1);
}

#[test]
fn a_batch_asks_several_servers_at_once() {
    // each server waits for the other's request before answering: asked
    // one after another, the first would never be answered in time
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let servers: Vec<(u16, JoinHandle<()>)> = [3, 5]
        .into_iter()
        .map(|count| {
            let barrier = barrier.clone();
            scripted("127.0.0.1:0", move |r| {
                barrier.wait();
                let extra = format!("Count: {count}\nWL-Count: 0\n");
                r.sock
                    .send_to(&reply(200, "OK", &r.thread, &extra), r.client)
                    .unwrap();
            })
            .unwrap()
        })
        .collect();
    let addrs: Vec<ServerAddr> = servers
        .iter()
        .map(|(port, _)| ServerAddr::new("127.0.0.1", *port))
        .collect();
    let got = client().check_all(&addrs, DIGEST);
    for (_, s) in servers {
        s.join().unwrap();
    }
    let counts: Vec<i64> = got.into_iter().map(|r| r.unwrap().count).collect();
    assert_eq!(counts, [3, 5]);
}
