//! `--metrics ADDR`: the server's [`Stats`] as Prometheus text over HTTP
//! (`GET /metrics`). Off by default; a bare port listens on 127.0.0.1
//! only, another address only when it is given.
//!
//! One thread serves one connection at a time with short timeouts and a
//! bounded request size: a scraper is served in microseconds, and nothing
//! a client sends can hold the thread or grow its memory.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::stats::{Histogram, Stats};
use crate::store::Store;

/// Parses the `--metrics` value: `PORT` (on 127.0.0.1), `HOST:PORT` or
/// `[IPv6]:PORT`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("--metrics {s}: {e}"))?
        .next()
        .ok_or_else(|| format!("--metrics {s}: no address"))
}

/// Renders the statistics and the store's gauges in the Prometheus text
/// format (0.0.4). A gauge the store cannot tell is left out.
pub fn render(stats: &Stats, store: &dyn Store) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("# HELP pyzord_requests_total Requests answered, by operation and reply code.\n");
    out.push_str("# TYPE pyzord_requests_total counter\n");
    let requests = stats.requests();
    if requests.is_empty() {
        out.push_str("pyzord_requests_total{op=\"check\",code=\"200\"} 0\n");
    }
    for (op, code, n) in requests {
        let _ = writeln!(
            out,
            "pyzord_requests_total{{op=\"{op}\",code=\"{code}\"}} {n}"
        );
    }
    histogram(
        &mut out,
        "pyzord_request_duration_seconds",
        "Time from receiving a batch of requests to sending their replies.",
        &stats.latency,
    );
    histogram(
        &mut out,
        "pyzord_batch_size",
        "Datagrams received per batch (recvmmsg).",
        &stats.batch_size,
    );
    histogram(
        &mut out,
        "pyzord_store_duration_seconds",
        "Time of a batch in the store, the commit to disk included.",
        &stats.store_latency,
    );
    for (name, help, kind, v) in [
        (
            "pyzord_receive_dropped_total",
            "Datagrams the kernel dropped because a worker socket's receive buffer was full (overload, or net.core.rmem_max too small for the bursts).",
            "counter",
            &stats.receive_dropped,
        ),
        (
            "pyzord_forward_queue_depth",
            "Digests waiting to be forwarded.",
            "gauge",
            &stats.forward_queued,
        ),
        (
            "pyzord_forward_dropped_total",
            "Digests not forwarded because the queue was full.",
            "counter",
            &stats.forward_dropped,
        ),
        (
            "pyzord_forward_sent_total",
            "Digests forwarded and acknowledged upstream.",
            "counter",
            &stats.forward_sent,
        ),
        (
            "pyzord_forward_failed_total",
            "Digests whose forwarding request failed.",
            "counter",
            &stats.forward_failed,
        ),
        (
            "pyzord_replays_total",
            "Signed reports and whitelists seen again within their time window: answered, not applied again.",
            "counter",
            &stats.replays,
        ),
        (
            "pyzord_rate_limited_total",
            "Reports and whitelists refused by their source network's rate limit (429).",
            "counter",
            &stats.rate_limited,
        ),
        (
            "pyzord_deduplicated_total",
            "Reported digests not counted again from the same source network within the window.",
            "counter",
            &stats.deduplicated,
        ),
        (
            "pyzord_store_outages_total",
            "Times the store became unavailable (Redis down or paused).",
            "counter",
            &stats.store_outages,
        ),
        (
            "pyzord_store_unavailable",
            "1 while the store is unavailable: requests that need it are answered with an error at once.",
            "gauge",
            &stats.store_down,
        ),
        (
            "pyzord_store_errors_total",
            "Batches the store failed, answered with an error (outages included).",
            "counter",
            &stats.store_errors,
        ),
        (
            "pyzord_guard_table_full_total",
            "Requests a full guard table let through unrecorded.",
            "counter",
            &stats.guard_full,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
    }
    let g = store.gauges();
    for (name, help, v) in [
        (
            "pyzord_store_records",
            "Digests in the store (the file store's figure is approximate).",
            g.records,
        ),
        (
            "pyzord_store_size_bytes",
            "Bytes the store takes: on disk (file, gdbm) or in memory (memory).",
            g.bytes,
        ),
        (
            "pyzord_store_queue_depth",
            "Batches of writes waiting for their commit to disk.",
            g.queued,
        ),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
    out
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bound, n) in h.cumulative() {
        match bound {
            Some(b) => {
                let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {n}");
            }
            None => {
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
            }
        }
    }
    let _ = writeln!(out, "{name}_sum {}", h.sum());
    let _ = writeln!(out, "{name}_count {}", h.count());
}

/// The metrics endpoint, serving until dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves `stats` and the gauges of `store`.
    pub fn start(
        addr: SocketAddr,
        stats: Arc<Stats>,
        store: Arc<dyn Store>,
    ) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pyzord-metrics".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            if let Err(e) = serve(conn, &stats, store.as_ref()) {
                                tracing::debug!("metrics: {e}");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => {
                            tracing::warn!("metrics: {e}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            })?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request head (at most 8 KiB, 2 s) and answers it.
fn serve(mut conn: TcpStream, stats: &Stats, store: &dyn Store) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 8192 {
            return respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                "too large\n",
            );
        }
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => respond(
            &mut conn,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            &render(stats, store),
        ),
        ("GET" | "HEAD", "/") => respond(
            &mut conn,
            "200 OK",
            "text/plain; charset=utf-8",
            "pyzord metrics: see /metrics\n",
        ),
        ("GET" | "HEAD", _) => respond(&mut conn, "404 Not Found", "text/plain", "not found\n"),
        _ => respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        ),
    }
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyzor_core::{Code, Op};

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_prometheus_text() {
        let stats = Arc::new(Stats::new());
        stats.request(Some(Op::Check), Code(200));
        stats.request(Some(Op::Report), Code(401));
        stats.latency.observe(0.0003);
        let store = Arc::new(crate::store::memory::MemoryStore::new());
        store
            .apply(
                &[crate::store::StoreOp::Update(
                    crate::store::Update::Report,
                    vec![pyzor_core::Digest([7; 20])],
                )],
                1,
            )
            .unwrap();
        let m = MetricsServer::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&stats), store)
            .unwrap();
        let r = get(m.local_addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(
            r.contains("pyzord_requests_total{op=\"check\",code=\"200\"} 1\n"),
            "{r}"
        );
        assert!(
            r.contains("pyzord_requests_total{op=\"report\",code=\"401\"} 1\n"),
            "{r}"
        );
        assert!(
            r.contains("pyzord_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{r}"
        );
        assert!(
            r.contains("pyzord_request_duration_seconds_bucket{le=\"+Inf\"} 1\n"),
            "{r}"
        );
        assert!(r.contains("pyzord_forward_queue_depth 0\n"), "{r}");
        assert!(r.contains("pyzord_store_records 1\n"), "{r}");
        assert!(r.contains("pyzord_store_errors_total 0\n"), "{r}");
        assert!(r.contains("pyzord_receive_dropped_total 0\n"), "{r}");
        assert!(
            !r.contains("pyzord_store_queue_depth"),
            "the memory store has no queue: {r}"
        );
        assert!(get(m.local_addr(), "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(m.local_addr(), "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        let mut c = TcpStream::connect(m.local_addr()).unwrap();
        let _ = c.write_all(huge.as_bytes());
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 431"), "{out}");
        // a client that connects and says nothing does not block the next
        let _idle = TcpStream::connect(m.local_addr()).unwrap();
        let r = get(m.local_addr(), "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("9124").unwrap(),
            "127.0.0.1:9124".parse().unwrap()
        );
        assert_eq!(
            parse_addr("[::1]:9124").unwrap(),
            "[::1]:9124".parse().unwrap()
        );
        assert_eq!(
            parse_addr("0.0.0.0:80").unwrap(),
            "0.0.0.0:80".parse().unwrap()
        );
        assert!(parse_addr("nonsense").is_err());
    }
}
