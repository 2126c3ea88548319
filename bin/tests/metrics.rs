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

/// The metric names in a text: every `pyzord_…` token.
fn named_metrics(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("pyzord_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The label names a PromQL text groups by: `by (a, b)`.
fn grouped_labels(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for part in text.split("by (").skip(1) {
        let inner = part.split(')').next().unwrap_or("");
        out.extend(inner.split(',').map(|l| l.trim().to_owned()));
    }
    out
}

/// The Grafana dashboard and the alert rules name only metrics and labels
/// a running pyzord (on its default file store, metrics enabled by the
/// `Metrics` setting of its config) exports, and between them show every
/// metric it exports: neither can drift from the code. The rules pass
/// `promtool check rules` and their unit tests (`promtool test rules`).
#[test]
fn dashboard_and_alert_rules_name_exported_metrics() {
    let root = pyzor_testkit::repo_root();
    let dashboard =
        std::fs::read_to_string(root.join("packaging/grafana/pyzord-dashboard.json")).unwrap();
    let rules_path = root.join("packaging/prometheus/pyzord-alerts.yml");
    let rules = std::fs::read_to_string(&rules_path).unwrap();

    let home = tempfile::tempdir().unwrap();
    let mport = free_port();
    std::fs::write(
        home.path().join("config"),
        format!("[server]\nMetrics = 127.0.0.1:{mport}\n"),
    )
    .unwrap();
    let ours = common::start(home.path(), &[]);
    let s = ServerAddr::new("127.0.0.1", ours.port);
    let c = Client::new().with_timeout(Duration::from_secs(3));
    c.report(&s, &[Digest([9; 20])]).unwrap();
    c.check(&s, Digest([9; 20])).unwrap();
    let mut text = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            text = http_get(mport, "/metrics").unwrap_or_default();
            !text.is_empty()
        }),
        "no metrics on the port the config's Metrics setting names"
    );

    // what is exported: families from `# TYPE`, with a histogram's series
    let mut exported = std::collections::BTreeSet::new();
    let mut labels: std::collections::BTreeSet<String> =
        ["instance", "job"].map(String::from).into();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let mut f = t.split_whitespace();
            let (name, kind) = (f.next().unwrap(), f.next().unwrap());
            exported.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    exported.insert(format!("{name}{suffix}"));
                }
            }
        } else if let Some((_, l)) = line.split_once('{') {
            let l = l.split('}').next().unwrap();
            labels.extend(
                l.split(',')
                    .filter_map(|kv| Some(kv.split_once('=')?.0.to_owned())),
            );
        }
    }
    for family in [
        "pyzord_store_records",
        "pyzord_store_size_bytes",
        "pyzord_store_queue_depth",
        "pyzord_store_errors_total",
    ] {
        assert!(exported.contains(family), "{family} not exported:\n{text}");
    }

    let named_dashboard = named_metrics(&dashboard);
    let named_rules = named_metrics(&rules);
    for (what, names) in [
        ("dashboard", &named_dashboard),
        ("alert rules", &named_rules),
    ] {
        let unknown: Vec<_> = names.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "the {what} name metrics pyzord does not export: {unknown:?}"
        );
    }
    for (what, text) in [("dashboard", &dashboard), ("alert rules", &rules)] {
        let unknown: Vec<_> = grouped_labels(text)
            .into_iter()
            .filter(|l| !labels.contains(l))
            .collect();
        assert!(
            unknown.is_empty(),
            "the {what} group by labels pyzord does not export: {unknown:?}"
        );
    }
    // every family is on the dashboard or in a rule
    let shown: std::collections::BTreeSet<_> =
        named_dashboard.union(&named_rules).cloned().collect();
    let families: Vec<_> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next())
        .filter(|f| {
            !shown.contains(*f)
                && !["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| shown.contains(&format!("{f}{s}")))
        })
        .collect();
    assert!(
        families.is_empty(),
        "exported but on no panel or rule: {families:?}"
    );
    // the dashboard is Grafana JSON: every panel but rows has a query
    assert!(dashboard.trim_start().starts_with('{') && dashboard.contains("\"panels\""));

    let Some(promtool) = pyzor_testkit::require_promtool() else {
        return;
    };
    let dir = rules_path.parent().unwrap();
    for args in [
        &["check", "rules", "pyzord-alerts.yml"][..],
        &["test", "rules", "pyzord-alerts.test.yml"][..],
    ] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
