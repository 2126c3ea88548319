//! The running server: worker threads, each with its own `SO_REUSEPORT`
//! socket (the kernel spreads datagrams over them at random, see
//! `net::bind_group`), receiving a batch of datagrams (`recvmmsg`),
//! checking it, handing it to the store in one call, and sending the
//! replies (`sendmmsg`) when the store completes it — at once for reads,
//! after the group commit for the file store's writes, while the worker
//! goes on receiving; the expiry sweep; reload and graceful shutdown.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::auth_files::{self, AuthError};
use crate::guard::{Guard, GuardConfig};
use crate::handler::{Auth, Datagram, Hooks, Prepared, prepare};
use crate::net::{self, RecvBatch};
use crate::stats::Stats;
use crate::store::{Completion, Record, Store, StoreError, StoreGauges, StoreOp};

/// How often workers look at the shutdown flag while idle.
const POLL: Duration = Duration::from_millis(100);

/// How often the expiry sweep runs (the reference: at start, then daily).
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// What a server needs besides its store.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub address: SocketAddr,
    /// Worker threads (each with its own socket).
    pub workers: usize,
    /// `pyzord.passwd` (None: no file).
    pub passwd: Option<PathBuf>,
    /// `pyzord.access` (None: no file).
    pub access: Option<PathBuf>,
    /// Records not updated for this many seconds are deleted (0: never).
    pub cleanup_age: i64,
    /// The replay rule, rate limits and one report per network (see
    /// [`crate::guard`]); `GuardConfig::default()` is the replay rule
    /// alone.
    pub guard: GuardConfig,
}

struct Shared {
    store: Arc<dyn Store>,
    hooks: Arc<dyn Hooks + Send + Sync>,
    auth: RwLock<Arc<Auth>>,
    guard: Arc<Guard>,
    stats: Arc<Stats>,
    shutdown: AtomicBool,
    wake: (Mutex<()>, Condvar),
    opts: Options,
}

/// A bound server, not yet running.
pub struct Server {
    shared: Arc<Shared>,
    sockets: Vec<UdpSocket>,
}

/// Controls a running server from elsewhere (signal handling, tests).
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

/// How often a batch is let through to a store that is unavailable, to
/// find out whether it is back.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// How long a store that came back must keep working before its outage is
/// logged as over: a failure within this time continues the same outage
/// (a Redis Cluster failing over answers for some slots before others).
const SETTLE: Duration = Duration::from_millis(300);

/// Non-outage store errors are logged at most this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The store as the workers use it: its calls timed into the statistics,
/// and its outages watched. When it becomes unavailable
/// ([`StoreError::Unavailable`]: Redis down or paused), one line is logged
/// and the outage counted, and later batches are answered at once with
/// the same error instead of each waiting for a timeout, but for one
/// batch every [`PROBE_INTERVAL`] that is let through to find out when it
/// is back. Once a batch gets through, all do; when the store has worked
/// for [`SETTLE`], one line says it is back (a failure before that
/// continues the outage). Other store errors are logged at most once per
/// [`ERROR_LOG_INTERVAL`].
struct MonitoredStore {
    inner: Arc<dyn Store>,
    monitor: Monitor,
}

/// The health of a store, shared with the completions of its batches.
#[derive(Clone)]
struct Monitor {
    stats: Arc<Stats>,
    health: Arc<Mutex<Health>>,
    /// The store, as it describes itself.
    name: String,
}

#[derive(Default)]
struct Health {
    outage: Option<Outage>,
    /// Other errors since the last line about them.
    errors: u64,
    errors_logged: Option<Instant>,
}

struct Outage {
    since: Instant,
    last_probe: Instant,
    probing: bool,
    refused: u64,
    cause: String,
    /// When a batch got through again (the outage ends [`SETTLE`] later).
    recovered: Option<Instant>,
}

impl MonitoredStore {
    fn new(inner: Arc<dyn Store>, stats: Arc<Stats>) -> MonitoredStore {
        let name = inner.describe();
        MonitoredStore {
            inner,
            monitor: Monitor {
                stats,
                health: Arc::new(Mutex::new(Health::default())),
                name,
            },
        }
    }
}

impl Monitor {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// During an outage: the error to answer with at once, or `None` when
    /// this batch is the probe (or there is no outage).
    fn short_circuit(&self) -> Option<StoreError> {
        let mut h = self.health();
        let o = h.outage.as_mut()?;
        if o.recovered.is_some() {
            return None;
        }
        if !o.probing && o.last_probe.elapsed() >= PROBE_INTERVAL {
            o.probing = true;
            o.last_probe = Instant::now();
            return None;
        }
        o.refused += 1;
        Some(StoreError::unavailable(std::io::Error::other(
            o.cause.clone(),
        )))
    }

    /// Notes how a batch went.
    fn observe<T>(&self, result: &Result<T, StoreError>) {
        if result.is_err() {
            self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut h = self.health();
        match result {
            Err(StoreError::Unavailable(cause)) => match h.outage.as_mut() {
                Some(o) => {
                    o.probing = false;
                    if o.recovered.take().is_some() {
                        // down again before it settled: the same outage
                        o.last_probe = Instant::now();
                        self.stats.store_down.store(1, Ordering::Relaxed);
                    }
                }
                None => {
                    let cause = crate::store::causes(cause.as_ref());
                    tracing::error!(
                        "The {} store is unavailable: {cause}. Requests that need it get \
                         \"Database temporarily unavailable.\" until it is back.",
                        self.name
                    );
                    self.stats.store_outages.fetch_add(1, Ordering::Relaxed);
                    self.stats.store_down.store(1, Ordering::Relaxed);
                    let now = Instant::now();
                    h.outage = Some(Outage {
                        since: now,
                        last_probe: now,
                        probing: false,
                        refused: 0,
                        cause,
                        recovered: None,
                    });
                }
            },
            other => {
                if let Some(o) = h.outage.as_mut() {
                    match o.recovered {
                        None => {
                            o.recovered = Some(Instant::now());
                            self.stats.store_down.store(0, Ordering::Relaxed);
                        }
                        Some(at) if at.elapsed() >= SETTLE => {
                            tracing::warn!(
                                "The {} store is back after {:.1} s ({} batches answered with an error meanwhile).",
                                self.name,
                                at.duration_since(o.since).as_secs_f64(),
                                o.refused
                            );
                            h.outage = None;
                        }
                        Some(_) => {}
                    }
                }
                if let Err(e) = other {
                    h.errors += 1;
                    if h.errors_logged
                        .is_none_or(|t| t.elapsed() >= ERROR_LOG_INTERVAL)
                    {
                        tracing::error!(
                            "store error ({} since the last such line): {}",
                            h.errors,
                            crate::store::causes(e)
                        );
                        h.errors = 0;
                        h.errors_logged = Some(Instant::now());
                    }
                }
            }
        }
    }
}

impl Store for MonitoredStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        if let Some(e) = self.monitor.short_circuit() {
            return Err(e);
        }
        let t = Instant::now();
        let r = self.inner.apply(ops, now);
        self.monitor
            .stats
            .store_latency
            .observe_duration(t.elapsed());
        self.monitor.observe(&r);
        r
    }
    fn apply_then(&self, ops: Vec<StoreOp>, now: i64, done: Completion) {
        if let Some(e) = self.monitor.short_circuit() {
            return done(Err(e));
        }
        let t = Instant::now();
        let monitor = self.monitor.clone();
        self.inner.apply_then(
            ops,
            now,
            Box::new(move |r| {
                monitor.stats.store_latency.observe_duration(t.elapsed());
                monitor.observe(&r);
                done(r);
            }),
        );
    }
    fn defers_writes(&self) -> bool {
        self.inner.defers_writes()
    }
    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.inner.expire(cutoff)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn gauges(&self) -> StoreGauges {
        self.inner.gauges()
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The passwd or access file cannot be read.
    #[error(transparent)]
    Auth(#[from] auth_files::AuthError),
    /// The address cannot be bound (in use, not local, not permitted).
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The binding error.
        #[source]
        source: io::Error,
    },
}

impl Server {
    /// Loads the passwd and access files (invalid lines are logged and
    /// skipped; an unreadable file is an error) and binds the sockets.
    pub fn bind(
        opts: Options,
        store: Arc<dyn Store>,
        hooks: Arc<dyn Hooks + Send + Sync>,
        stats: Arc<Stats>,
    ) -> Result<Server, StartError> {
        let auth = auth_files::load(opts.passwd.as_deref(), opts.access.as_deref(), false)?;
        let workers = opts.workers.max(1);
        let sockets =
            net::bind_group(opts.address, workers).map_err(|source| StartError::Listen {
                address: opts.address,
                source,
            })?;
        let store: Arc<dyn Store> = Arc::new(MonitoredStore::new(store, Arc::clone(&stats)));
        Ok(Server {
            shared: Arc::new(Shared {
                store,
                hooks,
                auth: RwLock::new(Arc::new(auth)),
                guard: Arc::new(Guard::new(opts.guard.clone(), Arc::clone(&stats))),
                stats,
                shutdown: AtomicBool::new(false),
                wake: (Mutex::new(()), Condvar::new()),
                opts,
            }),
            sockets,
        })
    }

    /// The address the sockets are bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }

    /// A handle to stop or reload the server once it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs until [`ServerHandle::shutdown`]: then stops reading, answers
    /// the batches in hand, flushes the store and returns.
    pub fn run(self) -> io::Result<()> {
        if let Some(got) = self.sockets.first().and_then(net::recv_buffer)
            && got < net::RECV_BUFFER
        {
            tracing::warn!(
                "Receive buffers of {} KiB a socket, not the {} KiB asked for (net.core.rmem_max): the kernel drops what a burst brings beyond them (pyzord_receive_dropped_total); raise net.core.rmem_max to {} or more",
                got / 1024,
                net::RECV_BUFFER / 1024,
                net::RECV_BUFFER
            );
        }
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        for (i, sock) in self.sockets.into_iter().enumerate() {
            let shared = Arc::clone(&self.shared);
            let sock = Arc::new(sock);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("pyzord-worker-{i}"))
                    .spawn(move || worker(&sock, &shared))?,
            );
        }
        let expiry = if self.shared.opts.cleanup_age > 0 {
            let shared = Arc::clone(&self.shared);
            Some(
                std::thread::Builder::new()
                    .name("pyzord-expiry".into())
                    .spawn(move || expiry(&shared))?,
            )
        } else {
            None
        };
        for t in threads {
            let _ = t.join();
        }
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.wake.1.notify_all();
        if let Some(t) = expiry {
            let _ = t.join();
        }
        self.shared.store.flush().map_err(io::Error::other)?;
        Ok(())
    }
}

impl ServerHandle {
    /// Asks the server to stop (graceful).
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.wake.1.notify_all();
    }

    /// `true` once shutdown was asked for.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown.load(Ordering::SeqCst)
    }

    /// Re-reads the passwd and access files. A file that cannot be read or
    /// has an invalid line leaves the current rules in place; the error
    /// names the file and line.
    pub fn reload(&self) -> Result<(), AuthError> {
        let o = &self.shared.opts;
        let auth = auth_files::load(o.passwd.as_deref(), o.access.as_deref(), true)?;
        if let Ok(mut a) = self.shared.auth.write() {
            *a = Arc::new(auth);
        }
        Ok(())
    }

    /// The statistics.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

/// Receives batches and hands them to the store; the replies are sent
/// when the store completes the batch (at once for reads and for the
/// memory store, after the group commit for the file store), so the
/// worker goes on receiving while a commit is under way.
fn worker(sock: &Arc<UdpSocket>, shared: &Arc<Shared>) {
    let mut batch = RecvBatch::new();
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    let mut drops = DropCounter::default();
    while !shared.shutdown.load(Ordering::Relaxed) {
        let received = batch.recv(sock, POLL);
        drops.count(sock, &shared.stats);
        let n = match received {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("receive: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        let start = Instant::now();
        shared.stats.batch_size.observe(n as f64);
        let datagrams: Vec<Datagram<'_>> = (0..n)
            .map(|i| Datagram {
                data: batch.data(i),
                len: batch.received[i].len,
                peer: batch.received[i].peer,
            })
            .collect();
        if debug {
            for d in &datagrams {
                tracing::debug!(
                    "Received: {:?} from {}",
                    String::from_utf8_lossy(d.data),
                    d.peer
                );
            }
        }
        let auth = shared
            .auth
            .read()
            .map(|a| Arc::clone(&a))
            .unwrap_or_default();
        let mut prepared = prepare(&auth, &shared.guard, SystemTime::now(), &datagrams);
        // With a group-committing store, the reads are answered at once and
        // only the writes wait for the commit; the reads go first, so that
        // handing the writes over (which may wait for room in the
        // committer's queue) never delays them.
        let writes = if shared.store.defers_writes() {
            prepared.split_off_updates()
        } else {
            None
        };
        if !prepared.is_empty() {
            if prepared.needs_store() {
                let (shared2, sock2) = (Arc::clone(shared), Arc::clone(sock));
                shared.store.apply_then(
                    prepared.ops(),
                    prepared.now(),
                    Box::new(move |result| {
                        answer_or_split(&shared2, &sock2, prepared, result, start, debug)
                    }),
                );
            } else {
                answer(shared, sock, prepared, Ok(Vec::new()), start, debug);
            }
        }
        if let Some(writes) = writes {
            let (shared2, sock2) = (Arc::clone(shared), Arc::clone(sock));
            shared.store.apply_then(
                writes.ops(),
                writes.now(),
                Box::new(move |result| answer(&shared2, &sock2, writes, result, start, debug)),
            );
        }
    }
}

/// How often a worker reads its socket's count of dropped datagrams.
const DROPS_EVERY: Duration = Duration::from_secs(1);

/// A worker's view of its socket's dropped datagrams: at most every
/// [`DROPS_EVERY`], what the kernel dropped since the last look is added
/// to [`Stats::receive_dropped`].
#[derive(Default)]
struct DropCounter {
    seen: u64,
    looked: Option<Instant>,
}

impl DropCounter {
    fn count(&mut self, sock: &UdpSocket, stats: &Stats) {
        if self.looked.is_some_and(|t| t.elapsed() < DROPS_EVERY) {
            return;
        }
        self.looked = Some(Instant::now());
        if let Some(total) = net::dropped(sock) {
            stats
                .receive_dropped
                .fetch_add(total.saturating_sub(self.seen), Ordering::Relaxed);
            self.seen = total;
        }
    }
}

/// Finishes a batch, but when the store refused a batch that both reads
/// and writes (a full Redis refuses the whole transaction, so nothing of
/// it was applied), answers its reads on their own and only its writes
/// with the error: a full database still answers checks.
fn answer_or_split(
    shared: &Shared,
    sock: &UdpSocket,
    mut prepared: Prepared,
    result: Result<Vec<Record>, StoreError>,
    start: Instant,
    debug: bool,
) {
    if let Err(StoreError::Rejected(cause)) = &result
        && let Some(writes) = prepared.split_off_updates()
    {
        if prepared.is_empty() {
            // writes only
            return answer(shared, sock, writes, result, start, debug);
        }
        let again = StoreError::Rejected(Box::new(io::Error::other(crate::store::causes(
            cause.as_ref(),
        ))));
        answer(shared, sock, writes, Err(again), start, debug);
        let reads = if prepared.needs_store() {
            shared.store.apply(&prepared.ops(), prepared.now())
        } else {
            Ok(Vec::new())
        };
        return answer(shared, sock, prepared, reads, start, debug);
    }
    answer(shared, sock, prepared, result, start, debug)
}

/// Finishes a batch: replies, statistics, hooks.
fn answer(
    shared: &Shared,
    sock: &UdpSocket,
    prepared: Prepared,
    result: Result<Vec<Record>, StoreError>,
    start: Instant,
    debug: bool,
) {
    let n = prepared.len();
    let peers: Vec<SocketAddr> = (0..n).map(|i| prepared.peer(i)).collect();
    let mut replies = Vec::with_capacity(n);
    let outcomes = prepared.finish(result, &*shared.hooks, &mut replies);
    let out: Vec<(&[u8], SocketAddr)> = replies
        .iter()
        .zip(peers)
        .map(|(r, peer)| (r.as_slice(), peer))
        .collect();
    if debug {
        for (r, peer) in &out {
            tracing::debug!("Sending: {:?} to {peer}", String::from_utf8_lossy(r));
        }
    }
    if let Err(e) = net::send_batch(sock, &out) {
        tracing::error!("send: {e}");
    }
    let elapsed = start.elapsed();
    for o in &outcomes {
        shared.stats.request(o.op, o.code);
        shared.stats.latency.observe_duration(elapsed);
    }
}

fn expiry(shared: &Shared) {
    crate::background::lower_thread_priority();
    let age = shared.opts.cleanup_age;
    loop {
        let now = pyzor_core::unix_secs(SystemTime::now());
        match shared.store.expire(now - age) {
            Ok(n) => tracing::info!("Expired {n} records not updated for {age} seconds."),
            Err(e) => tracing::error!("expiry: {e}"),
        }
        let (lock, cv) = &shared.wake;
        let Ok(guard) = lock.lock() else { return };
        let deadline = Instant::now() + EXPIRY_INTERVAL;
        let mut guard = guard;
        while !shared.shutdown.load(Ordering::SeqCst) && Instant::now() < deadline {
            guard = match cv.wait_timeout(guard, deadline.saturating_duration_since(Instant::now()))
            {
                Ok((g, _)) => g,
                Err(_) => return,
            };
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A worker adds what its socket dropped to the statistics, at most
    /// once every `DROPS_EVERY`.
    #[test]
    fn a_worker_counts_its_sockets_drops_at_most_once_a_second() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stats = Stats::new();
        let mut drops = DropCounter::default();
        let first = net::tests::overflow(&rx, 100);
        assert!(first > 0);
        drops.count(&rx, &stats);
        assert_eq!(stats.receive_dropped.load(Ordering::Relaxed), first);
        // the buffer is still full: all of these are dropped
        let second = net::tests::overflow(&rx, 50);
        assert_eq!(second, first + 50);
        drops.count(&rx, &stats);
        assert_eq!(stats.receive_dropped.load(Ordering::Relaxed), first);
        // as if a second had passed
        drops.looked = Some(Instant::now() - DROPS_EVERY);
        drops.count(&rx, &stats);
        assert_eq!(stats.receive_dropped.load(Ordering::Relaxed), second);
    }
}
