//! Forwarding (`--forward-client-homedir`): every digest a report or
//! whitelist counted is also sent to the servers of a client homedir
//! (its `config`, `servers` and `accounts`, read as `pyzor` reads them).
//!
//! Off the request path: the handler's hook puts digests on a bounded
//! queue and returns; a forwarder thread sends them in batches — up to
//! [`PER_REQUEST`] digests per request, all servers at once over one
//! socket — as soon as some are waiting, at the latest [`MAX_DELAY`]
//! after the first. A full queue drops digests, counted and logged; what
//! is queued is sent on shutdown. Unlike pyzord 1.1.2, nothing waits for a
//! tenth digest (its remainder only left at shutdown), drops are not
//! silent, and replies are awaited and failures counted.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyzor_client::{Accounts, Client, Config, Job, Severity};
use pyzor_core::{Digest, Op, ServerAddr};

use crate::handler::Hooks;
use crate::stats::Stats;
use crate::store::Update;

/// Digests per forwarded request (a datagram of about 3.5 KB).
pub const PER_REQUEST: usize = 64;

/// How long a digest may wait for companions before it is sent.
pub const MAX_DELAY: Duration = Duration::from_millis(200);

/// Digests the queue holds (the reference's limit).
pub const QUEUE: usize = 10_000;

/// Where to forward to, read from a client homedir.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// The upstream servers.
    pub servers: Vec<ServerAddr>,
    /// Accounts to sign with.
    pub accounts: Accounts,
    /// Time to wait for each reply.
    pub timeout: Duration,
}

impl ForwardConfig {
    /// Reads `homedir/config` (`[client]`), its servers and accounts
    /// files, as `pyzor` reads them; what was skipped is logged.
    pub fn load(homedir: &Path) -> Result<ForwardConfig, String> {
        if !homedir.is_dir() {
            return Err(format!(
                "{}: the forwarding client homedir does not exist",
                homedir.display()
            ));
        }
        let config = Config::from_homedir(homedir).map_err(|e| e.to_string())?;
        for notice in &config.notices {
            match notice.severity {
                Severity::Info => tracing::info!("{}", notice.message),
                Severity::Warning => tracing::warn!("{}", notice.message),
            }
        }
        Ok(ForwardConfig {
            timeout: Duration::from_secs(config.settings.timeout.clamp(1, 3600) as u64),
            servers: config.servers,
            accounts: config.accounts,
        })
    }
}

/// The forwarder: the hook that queues, and the thread that sends.
pub struct Forwarder {
    tx: Mutex<Option<SyncSender<(Update, Digest)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Stats>,
    last_drop_log: Mutex<Option<Instant>>,
}

impl Forwarder {
    /// Starts the forwarder thread with a queue of `capacity` digests.
    pub fn start(
        config: ForwardConfig,
        stats: Arc<Stats>,
        capacity: usize,
    ) -> std::io::Result<Forwarder> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("pyzord-forward".into())
            .spawn(move || run(&config, &rx, &thread_stats))?;
        Ok(Forwarder {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            stats,
            last_drop_log: Mutex::new(None),
        })
    }

    /// Stops taking digests, sends what is queued, and waits for that.
    pub fn shutdown(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut t) = self.thread.lock()
            && let Some(t) = t.take()
        {
            let _ = t.join();
        }
    }

    fn dropped(&self, n: u64) {
        let total = self.stats.forward_dropped.fetch_add(n, Ordering::Relaxed) + n;
        // at most one line a second
        if let Ok(mut last) = self.last_drop_log.lock()
            && last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            *last = Some(Instant::now());
            tracing::warn!("Forwarding queue full: {total} digests dropped so far");
        }
    }
}

impl Hooks for Forwarder {
    fn counted(&self, kind: Update, digests: &[Digest]) {
        let Some(tx) = self.tx.lock().ok().and_then(|t| t.clone()) else {
            self.dropped(digests.len() as u64);
            return;
        };
        for (i, d) in digests.iter().enumerate() {
            match tx.try_send((kind, *d)) {
                Ok(()) => {
                    self.stats.forward_queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.dropped((digests.len() - i) as u64);
                    return;
                }
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(config: &ForwardConfig, rx: &Receiver<(Update, Digest)>, stats: &Stats) {
    let client = Client::new()
        .with_accounts(config.accounts.clone())
        .with_timeout(config.timeout);
    let mut reports: Vec<Digest> = Vec::new();
    let mut whitelists: Vec<Digest> = Vec::new();
    let mut first: Option<Instant> = None;
    let mut open = true;
    while open {
        let wait = first.map_or(Duration::from_secs(3600), |t| {
            MAX_DELAY.saturating_sub(t.elapsed())
        });
        match rx.recv_timeout(wait) {
            Ok((kind, d)) => {
                first.get_or_insert_with(Instant::now);
                match kind {
                    Update::Report => reports.push(d),
                    Update::Whitelist => whitelists.push(d),
                }
                stats.forward_queued.fetch_sub(1, Ordering::Relaxed);
                // take what else is there, up to a full round of requests
                while reports.len() + whitelists.len() < PER_REQUEST * 16 {
                    match rx.try_recv() {
                        Ok((Update::Report, d)) => reports.push(d),
                        Ok((Update::Whitelist, d)) => whitelists.push(d),
                        Err(_) => break,
                    }
                    stats.forward_queued.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        let due = first.is_some_and(|t| t.elapsed() >= MAX_DELAY)
            || reports.len() + whitelists.len() >= PER_REQUEST * 16
            || !open;
        if due && (!reports.is_empty() || !whitelists.is_empty()) {
            send(config, &client, &mut reports, &mut whitelists, stats);
            first = None;
        }
    }
}

fn send(
    config: &ForwardConfig,
    client: &Client,
    reports: &mut Vec<Digest>,
    whitelists: &mut Vec<Digest>,
    stats: &Stats,
) {
    let mut jobs = Vec::new();
    for (op, digests) in [(Op::Report, &*reports), (Op::Whitelist, &*whitelists)] {
        for chunk in digests.chunks(PER_REQUEST) {
            for server in &config.servers {
                jobs.push(Job::new(server.clone(), op, chunk.to_vec()));
            }
        }
    }
    let results = client.batch(&jobs);
    for (job, r) in jobs.iter().zip(results) {
        let n = job.digests.len() as u64;
        match r {
            Ok(_) => {
                stats.forward_sent.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                stats.forward_failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(
                    "Forwarding {n} digests ({}) to {}: {e}",
                    job.op.as_str(),
                    job.server
                );
            }
        }
    }
    reports.clear();
    whitelists.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full queue drops (and counts) instead of blocking the caller; what
    /// was queued is tried on shutdown, and a dead upstream is counted as
    /// failures.
    #[test]
    fn bounded_queue_drops_and_shutdown_flushes() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let stats = Arc::new(Stats::new());
        let config = ForwardConfig {
            servers: vec![ServerAddr::new("127.0.0.1", port)],
            accounts: Accounts::empty(),
            timeout: Duration::from_millis(200),
        };
        let f = Forwarder::start(config, Arc::clone(&stats), 10).unwrap();
        let digests: Vec<Digest> = (0..5000u32)
            .map(|i| {
                let mut d = [0u8; 20];
                d[..4].copy_from_slice(&i.to_be_bytes());
                Digest(d)
            })
            .collect();
        let t = Instant::now();
        f.counted(Update::Report, &digests);
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        let dropped = stats.forward_dropped.load(Ordering::Relaxed);
        assert!(dropped >= 5000 - 10 - PER_REQUEST as u64 * 16, "{dropped}");
        f.shutdown();
        let sent = stats.forward_sent.load(Ordering::Relaxed);
        let failed = stats.forward_failed.load(Ordering::Relaxed);
        assert_eq!(sent, 0);
        assert_eq!(failed + dropped, 5000);
        assert_eq!(stats.forward_queued.load(Ordering::Relaxed), 0);
        // after shutdown, everything is dropped (counted)
        f.counted(Update::Whitelist, &digests[..3]);
        assert_eq!(stats.forward_dropped.load(Ordering::Relaxed), dropped + 3);
    }
}
