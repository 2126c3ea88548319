//! A mail filter's Pyzor step: checks each message named on the command
//! line (or the one on stdin) against Pyzor servers and prints the digest,
//! each server's counts and SpamAssassin's verdict.
//!
//! ```text
//! cargo run -p pyzor-examples --example mail_filter -- \
//!     --server 127.0.0.1:24441 message.eml ...
//! ```
//!
//! Without `--server`, the servers of `~/.pyzor/servers` are asked (the
//! public server when there is no such file).

use std::io::Read;
use std::path::Path;

use pyzor_core::ServerAddr;
use pyzor_core::files::servers::parse_servers;
use pyzor_examples::{PyzorFilter, Verdict};

fn main() -> std::process::ExitCode {
    let mut servers = Vec::new();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--server" {
            match args.next().map(|s| ServerAddr::parse(&s)) {
                Some(Ok(s)) => servers.push(s),
                Some(Err(e)) => {
                    eprintln!("mail_filter: --server: {e}");
                    return std::process::ExitCode::from(2);
                }
                None => {
                    eprintln!("mail_filter: --server needs HOST:PORT");
                    return std::process::ExitCode::from(2);
                }
            }
        } else {
            files.push(a);
        }
    }
    if servers.is_empty() {
        servers = home_servers();
    }
    let filter = PyzorFilter::new(servers);
    let mut messages = Vec::new();
    if files.is_empty() {
        let mut raw = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
            eprintln!("mail_filter: stdin: {e}");
            return std::process::ExitCode::from(2);
        }
        messages.push(("-".to_owned(), raw));
    }
    for f in files {
        match std::fs::read(&f) {
            Ok(raw) => messages.push((f, raw)),
            Err(e) => eprintln!("mail_filter: {f}: {e}"),
        }
    }
    for (name, raw) in &messages {
        let outcome = filter.check(raw);
        println!("{name}: digest {}", outcome.digest);
        for (server, answer) in &outcome.answers {
            match answer {
                Ok(c) => println!("  {server}: count {} wl-count {}", c.count, c.wl_count),
                Err(e) => println!("  {server}: {e}"),
            }
        }
        let verdict = match outcome.verdict {
            Verdict::Spam { count } => format!("spam (reported {count} times)"),
            Verdict::Welcome { wl_count } => format!("welcome (whitelisted {wl_count} times)"),
            Verdict::Clean => "clean".to_owned(),
            Verdict::Unknown => "unknown (no server answered)".to_owned(),
        };
        println!("  verdict: {verdict}");
    }
    std::process::ExitCode::SUCCESS
}

/// The servers of `~/.pyzor/servers`, or the public server.
fn home_servers() -> Vec<ServerAddr> {
    let Some(home) = std::env::var_os("HOME") else {
        return vec![ServerAddr::public()];
    };
    let path = Path::new(&home).join(".pyzor").join("servers");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let parsed = parse_servers(&path, &text);
            for w in &parsed.skipped {
                eprintln!("mail_filter: {w}");
            }
            if parsed.value.is_empty() {
                vec![ServerAddr::public()]
            } else {
                parsed.value
            }
        }
        Err(_) => vec![ServerAddr::public()],
    }
}
