//! `--metrics`: an HTTP GET of the running server's Prometheus text shows
//! the requests it answered.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pyzor_client::Client;
use pyzor_core::{Digest, ServerAddr};
use pyzor_testkit::{free_port, wait_until};

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    c.read_to_string(&mut out).ok()?;
    Some(out)
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} not in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_what_the_server_did() {
    let home = tempfile::tempdir().unwrap();
    let mport = free_port();
    let ours = common::start(home.path(), &["--metrics", &mport.to_string()]);
    assert!(wait_until(Duration::from_secs(5), || http_get(
        mport, "/metrics"
    )
    .is_some()));
    let s = ServerAddr::new("127.0.0.1", ours.port);
    let c = Client::new().with_timeout(Duration::from_secs(3));
    for i in 0..5u8 {
        c.report(&s, &[Digest([i; 20])]).unwrap();
    }
    for i in 0..7u8 {
        c.check(&s, Digest([i; 20])).unwrap();
    }
    // anonymous may not whitelist: a 403
    assert!(c.whitelist(&s, &[Digest([1; 20])]).is_err());

    let text = http_get(mport, "/metrics").unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("Content-Type: text/plain; version=0.0.4"),
        "{text}"
    );
    assert_eq!(
        value(&text, "pyzord_requests_total{op=\"report\",code=\"200\"}"),
        5.0
    );
    assert_eq!(
        value(&text, "pyzord_requests_total{op=\"check\",code=\"200\"}"),
        7.0
    );
    assert_eq!(
        value(
            &text,
            "pyzord_requests_total{op=\"whitelist\",code=\"403\"}"
        ),
        1.0
    );
    // the startup ping(s) of the test harness count too
    assert!(value(&text, "pyzord_request_duration_seconds_count") >= 13.0);
    assert!(value(&text, "pyzord_batch_size_count") >= 13.0);
    // the five reports were committed to the file store
    assert!(value(&text, "pyzord_store_duration_seconds_count") >= 5.0);
    assert_eq!(value(&text, "pyzord_forward_dropped_total"), 0.0);
    assert!(
        http_get(mport, "/other")
            .unwrap()
            .starts_with("HTTP/1.1 404")
    );
}
