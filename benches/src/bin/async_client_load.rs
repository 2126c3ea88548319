//! `async-client-load`: how many checks one process sustains through one
//! `pyzor_client::AsyncClient` (what a tokio mail server embedding the
//! library gets), against any Pyzor server on loopback.
//!
//! ```text
//! async-client-load HOST:PORT [--tasks 256] [--threads 2] [--duration 5] [--json]
//! ```
//!
//! `--tasks` tasks each check digests of a pool in a loop, one request at
//! a time, so that many checks are in flight at once over the client's one
//! socket. Every run is bounded by a request count and a duration and
//! stops by itself; only loopback targets are allowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use pyzor_client::{AsyncClient, Digest, ServerAddr};

/// Checks through one AsyncClient, as fast as they are answered.
#[derive(Debug, Parser)]
#[command(name = "async-client-load")]
struct Args {
    /// The server to drive (a loopback address).
    target: std::net::SocketAddr,
    /// Concurrent tasks (each with one check in flight).
    #[arg(long, default_value_t = 256)]
    tasks: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Requests in flight per server at most (the client's window).
    #[arg(long, default_value_t = pyzor_client::ASYNC_WINDOW)]
    window: usize,
    /// Digests checked (a pool, as pyzor-load's `pool:N`).
    #[arg(long, default_value_t = 100_000)]
    pool: u64,
    /// Stop after this many seconds (at most 3600).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Stop after this many requests.
    #[arg(long, default_value_t = 100_000_000)]
    requests: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn digest(i: u64) -> Digest {
    let mut d = [0u8; 20];
    d[..8].copy_from_slice(&i.to_le_bytes());
    d[8..16].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    Digest(d)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if !args.target.ip().is_loopback() {
        eprintln!(
            "async-client-load: {} is not a loopback address",
            args.target
        );
        return std::process::ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("async-client-load: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(run(args));
    std::process::ExitCode::SUCCESS
}

async fn run(args: Args) {
    let server = ServerAddr::new(args.target.ip().to_string(), args.target.port());
    let client = AsyncClient::new()
        .with_timeout(Duration::from_secs(1))
        .with_window(args.window);
    // the socket and the task are made by the first request
    let _ = client.ping(&server).await;
    let duration = Duration::from_secs_f64(args.duration.clamp(0.1, 3600.0));
    let issued = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..args.tasks.max(1) as u64 {
        let (client, server) = (client.clone(), server.clone());
        let (issued, answered, failed) = (
            Arc::clone(&issued),
            Arc::clone(&answered),
            Arc::clone(&failed),
        );
        let (pool, cap) = (args.pool.max(1), args.requests);
        tasks.spawn(async move {
            let mut i = t.wrapping_mul(7919);
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < cap {
                i = i.wrapping_add(1);
                match client.check(&server, digest(i % pool)).await {
                    Ok(_) => answered.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let answered = answered.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let rps = answered as f64 / secs;
    if args.json {
        println!(
            "{{\"target\": \"{}\", \"seconds\": {secs:.3}, \"answered\": {answered}, \"failed\": {failed}, \"requests_per_second\": {rps:.1}, \"tasks\": {}, \"threads\": {}}}",
            args.target, args.tasks, args.threads
        );
    } else {
        println!(
            "target {}: {secs:.1} s, {answered} answered, {failed} failed; {rps:.0} checks/s ({} tasks, {} threads)",
            args.target, args.tasks, args.threads
        );
    }
}
