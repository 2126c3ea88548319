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
use crate::store::{Completion, Record, Store, StoreError, StoreOp};

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

/// Times the store's calls into the statistics.
struct TimedStore {
    inner: Arc<dyn Store>,
    stats: Arc<Stats>,
}

impl Store for TimedStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        let t = Instant::now();
        let r = self.inner.apply(ops, now);
        self.stats.store_latency.observe_duration(t.elapsed());
        r
    }
    fn apply_then(&self, ops: Vec<StoreOp>, now: i64, done: Completion) {
        let t = Instant::now();
        let stats = Arc::clone(&self.stats);
        self.inner.apply_then(
            ops,
            now,
            Box::new(move |r| {
                stats.store_latency.observe_duration(t.elapsed());
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
        let store: Arc<dyn Store> = Arc::new(TimedStore {
            inner: store,
            stats: Arc::clone(&stats),
        });
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
    while !shared.shutdown.load(Ordering::Relaxed) {
        let n = match batch.recv(sock, POLL) {
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
        // only the writes wait for the commit.
        if shared.store.defers_writes()
            && let Some(writes) = prepared.split_off_updates()
        {
            let (shared2, sock2) = (Arc::clone(shared), Arc::clone(sock));
            shared.store.apply_then(
                writes.ops(),
                writes.now(),
                Box::new(move |result| answer(&shared2, &sock2, writes, result, start, debug)),
            );
        }
        if prepared.is_empty() {
            continue;
        }
        if !prepared.needs_store() {
            answer(shared, sock, prepared, Ok(Vec::new()), start, debug);
            continue;
        }
        let (shared2, sock2) = (Arc::clone(shared), Arc::clone(sock));
        shared.store.apply_then(
            prepared.ops(),
            prepared.now(),
            Box::new(move |result| answer(&shared2, &sock2, prepared, result, start, debug)),
        );
    }
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
