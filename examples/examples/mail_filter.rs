//! A mail filter's Pyzor step: checks each message named on the command
//! line (or the one on stdin) against Pyzor servers and prints the digest,
//! each server's counts and SpamAssassin's verdict.
//!
//! ```text
//! cargo run -p pyzor-examples --example mail_filter -- \
//!     --server 127.0.0.1:24441 message.eml ...
//! ```
//!
//! Without `--server`, the servers and accounts of the `~/.pyzor` homedir
//! are used (the public server when it names none).

use std::io::Read;
use std::path::Path;

use pyzor_client::{Config, Filter, ServerAddr, Verdict};

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
    let filter = if servers.is_empty() {
        match home_config() {
            Ok(config) => Filter::from_config(&config),
            Err(e) => {
                eprintln!("mail_filter: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    } else {
        Filter::new(servers)
    };
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

/// The `~/.pyzor` homedir's configuration (its defaults where it is
/// missing).
fn home_config() -> Result<Config, pyzor_client::ConfigError> {
    let home = std::env::var_os("HOME").unwrap_or_default();
    let config = Config::from_homedir(Path::new(&home).join(".pyzor"))?;
    for notice in &config.notices {
        eprintln!("mail_filter: {}", notice.message);
    }
    Ok(config)
}
