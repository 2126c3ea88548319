//! An async mail filter on tokio: digests every message of a directory and
//! checks them all concurrently over one `AsyncClient` (one socket, the
//! requests told apart by their `Thread`), printing a verdict per message.
//!
//! ```text
//! cargo run -p pyzor-examples --example async_filter -- \
//!     --server 127.0.0.1:24441 [--concurrency 64] DIR
//! ```
//!
//! Without `--server`, the servers and accounts of the `~/.pyzor` homedir
//! are used.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyzor_client::{AsyncFilter, Config, ServerAddr, Verdict};
use tokio::sync::Semaphore;

struct Args {
    servers: Vec<ServerAddr>,
    concurrency: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut servers = Vec::new();
    let mut concurrency = 64;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => {
                let s = args.next().ok_or("--server needs HOST:PORT")?;
                servers.push(ServerAddr::parse(&s).map_err(|e| format!("--server: {e}"))?);
            }
            "--concurrency" => {
                let n = args.next().ok_or("--concurrency needs a number")?;
                concurrency = n.parse().map_err(|e| format!("--concurrency: {e}"))?;
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(Args {
        servers,
        concurrency: concurrency.max(1),
        dir: dir.ok_or("usage: async_filter [--server HOST:PORT]... [--concurrency N] DIR")?,
    })
}

/// The regular files of a directory, sorted by name.
fn messages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn describe(verdict: Verdict) -> String {
    match verdict {
        Verdict::Spam { count } => format!("spam (reported {count} times)"),
        Verdict::Welcome { wl_count } => format!("welcome (whitelisted {wl_count} times)"),
        Verdict::Clean => "clean".to_owned(),
        Verdict::Unknown => "unknown (no server answered)".to_owned(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("async_filter: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter = if args.servers.is_empty() {
        let home = std::env::var_os("HOME").unwrap_or_default();
        match Config::from_homedir(Path::new(&home).join(".pyzor")) {
            Ok(config) => AsyncFilter::from_config(&config),
            Err(e) => {
                eprintln!("async_filter: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    } else {
        AsyncFilter::new(args.servers)
    };
    let files = match messages(&args.dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("async_filter: {}: {e}", args.dir.display());
            return std::process::ExitCode::from(2);
        }
    };
    // at most `concurrency` messages read and checked at once
    let limit = Arc::new(Semaphore::new(args.concurrency));
    let mut tasks = Vec::with_capacity(files.len());
    for path in files {
        let (filter, limit) = (filter.clone(), Arc::clone(&limit));
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let raw = tokio::fs::read(&path).await?;
            // digesting is CPU work: off the async threads
            let digest = tokio::task::spawn_blocking(move || pyzor_digest::digest(&raw))
                .await
                .map_err(std::io::Error::other)?;
            let outcome = filter.check_digest(digest).await;
            Ok::<_, std::io::Error>((path, outcome))
        }));
    }
    let mut status = std::process::ExitCode::SUCCESS;
    let mut out = std::io::stdout().lock();
    for task in tasks {
        match task.await {
            Ok(Ok((path, outcome))) => {
                let mut text = format!(
                    "{}\t{}\t{}\n",
                    path.display(),
                    outcome.digest,
                    describe(outcome.verdict)
                );
                for (server, answer) in &outcome.answers {
                    if let Err(e) = answer {
                        text.push_str(&format!("\t{server}: {e}\n"));
                    }
                }
                // a closed stdout (`| head`) ends the listing quietly
                if out.write_all(text.as_bytes()).is_err() {
                    return status;
                }
            }
            Ok(Err(e)) => {
                eprintln!("async_filter: {e}");
                status = std::process::ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("async_filter: {e}");
                status = std::process::ExitCode::from(1);
            }
        }
    }
    status
}
