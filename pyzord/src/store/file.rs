//! The `file` store, pyzord-rs' default: a directory in the homedir
//! (`pyzord.store`) holding a write-ahead log and sorted tables.
//!
//! A public server sees mostly digests it has never seen: most reports
//! insert and most checks miss. So the store is log-structured:
//!
//! - **Write-ahead log** (`wal-N.log`): every group of changed records is
//!   appended as one checksummed frame of compact entries (the digest and
//!   [`Record::pack`]'s 24 bytes) and synced (`fdatasync`) before any of
//!   its reports is answered. Concurrent batches share one sync (group
//!   commit): workers hand their batches to a committer thread through a
//!   bounded queue and go on receiving; the committer applies everything
//!   that has queued up, appends one frame, syncs once, then completes the
//!   batches (a completer thread sends their replies). Batches of reads
//!   only are served directly by the workers. A worker that finds the
//!   queue full waits for room (the kernel's socket buffers absorb the
//!   excess meanwhile), but not once the committer has been writing and
//!   syncing one group for [`STALLED`] (a hung disk): its batch of writes
//!   is then refused at once, so that the reads of the batches after it
//!   are not held up.
//! - **Write buffer**: the records the log holds are also kept in a hash
//!   map in memory, where reads look first. When it reaches [`BUFFER`]
//!   records it is frozen, a new log is begun, and an ingester thread sorts
//!   the frozen records and writes them as tables into a fjall LSM tree
//!   (`tables/`, by fjall's bulk ingestion: no memtable, no second
//!   journal), then deletes the frozen log.
//! - **Tables**: fjall's sorted, Bloom-filtered, compacted table files.
//! - **Key filter**: one blocked Bloom filter in memory of every digest
//!   in the tables (`file/filter.rs`). A lookup that misses the buffers is
//!   answered there, in one cache line, unless the digest may be in the
//!   tables; fjall's per-table filters, found level by level, cost a
//!   miss three times as much at 10^7 records. A clean close saves it
//!   (`keys.filter`), and the next opening loads it and deletes the file
//!   (a store that then crashes has none, so a filter that misses keys
//!   written since is never loaded); otherwise it is built by a scan of
//!   the tables as the store opens (until then lookups go to fjall). It
//!   is rebuilt twice as large when its keys outgrow it; a scan leaves
//!   out expired records, and a filter full at its size cap is scanned
//!   again once the expiry cutoff has risen since its last scan, so on a
//!   server that expires as much as it takes in, expired keys do not
//!   fill it for good.
//!
//! A restart replays at most two logs (2 × [`BUFFER`] records). Memory is
//! bounded by the two buffers plus [`FileOptions::cache_bytes`] (fjall's
//! cache of blocks, filters and indexes, and a quarter of it for the key
//! filter), whatever the size of the database.
//!
//! **Expiry** costs nothing while serving: [`Store::expire`] raises a
//! cutoff below which a record's last update makes it absent to every
//! read, scan and update (a digest reported again starts a new record),
//! and fjall drops such records as its compactions rewrite the tables (a
//! compaction filter), which it does anyway as reports come in. A store
//! that takes no writes keeps its expired records on disk, hidden. Nothing
//! is scanned and no tombstone is written: deleting a tenth of a large
//! store through the log set off compactions that tripled the p99 of
//! checks (BENCHMARKS.md).
//!
//! [`SyncMode::Interval`] trades the sync per group for the reference's and
//! Redis' `everysec` behaviour: answered at once, synced at an interval.
//!
//! A log write that fails (disk full, read-only, an I/O or fsync error)
//! fails its batches, which are not acknowledged, and the log is cut back
//! to its last whole frame. Writes are then refused at once while reads go
//! on; at most once a second the committer checks whether the directory
//! takes a 1 MiB file, and when it does, writing goes on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use pyzor_core::Digest;

mod filter;
use filter::KeyFilter;

use super::memory::DigestHash;
use super::{
    Bulk, Completion, Record, RecordMap, Store, StoreError, StoreGauges, StoreOp, apply_to,
    has_updates,
};

/// The keyspace of the tables that holds the records.
const KEYSPACE: &str = "digests_v2";

/// Records a write buffer takes before it is frozen and written into the
/// tables (about 30-45 MiB of memory each).
pub const BUFFER: usize = 1 << 19;

/// How many queued batches one commit takes at most.
const MAX_GROUP: usize = 256;

/// How many batches may wait for the committer; workers block beyond
/// (and the kernel's socket buffers absorb, then drop, the excess). Deep
/// enough for large groups under overload, short enough that what waits
/// is answered within the reference client's 5 s (scripts/bench-overload.sh:
/// 1 024 gave p99 4.0 s, 128 lost throughput).
const QUEUE: usize = 256;

/// How long the committer may spend writing and syncing one group (or on
/// one interval's sync) before a worker that finds the queue full refuses
/// its batch of writes rather than wait: above a write's time under
/// overload (at most 53 ms in scripts/bench-overload.sh), short enough
/// that a hung disk holds up the workers' checks once, briefly. Applying
/// a group (its lookups, CPU work that grows with the group) is load, not
/// a stall, and is not counted.
pub const STALLED: Duration = Duration::from_millis(100);

/// Under load, the least time between the starts of two group commits
/// (see the committer).
const GROUP_INTERVAL: Duration = Duration::from_millis(1);

/// Records of the tables a row cache keeps, in all (about 50 bytes each):
/// a hot set spread over a large store is read from memory, not from a
/// table block each.
pub const ROW_CACHE: usize = 1 << 19;

/// Shards of the row cache.
const ROW_SHARDS: usize = 64;

/// The saved key filter, in the store directory.
const FILTER_FILE: &str = "keys.filter";

/// The first bytes of a log file.
const WAL_MAGIC: &[u8; 8] = b"PYZWAL01";

/// A log entry: the digest, 1 for a record or 0 for a deletion, and the
/// packed record.
const ENTRY: usize = 45;

/// The most entries a log frame may hold (a larger count is a torn tail).
const MAX_FRAME: usize = 1 << 20;

/// The step in which a log is filled with zeros ahead of its frames (and
/// synced with them). A sync after a frame written over those zeros
/// carries the data alone; after an append that grows the file it also
/// commits the file's new length through the file system's journal: on
/// ext4 with a journal, a group's write and sync take half the time and
/// under half the machine's CPU this way (BENCHMARKS.md). A frame never
/// has a count of 0, so the zeros read as the log's end.
const WAL_AHEAD: u64 = 1 << 20;

/// When a report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Once it is on disk (synced): a crash loses nothing answered. The
    /// default.
    Commit,
    /// At once; the log is synced every interval (Redis' `appendfsync
    /// everysec`, the reference's gdbm): a crash of the machine loses what
    /// was answered in the last interval (a crash of pyzord alone loses
    /// nothing: the log is handed to the kernel before the answer).
    Interval(Duration),
}

/// How the file store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// When a report is answered.
    pub sync: SyncMode,
    /// Memory for fjall's cache of blocks, Bloom filters and indexes and
    /// for the key filter (at most a quarter of it), in bytes.
    pub cache_bytes: u64,
    /// Records a write buffer takes before it is written into the tables
    /// (default [`BUFFER`]): with the cache, what bounds the memory; a
    /// restart reads at most twice as many from the logs.
    pub buffer_records: usize,
}

impl FileOptions {
    /// Records at which the active buffer is frozen (at least one).
    fn buffer_limit(&self) -> usize {
        self.buffer_records.max(1)
    }

    /// The most the key filter may take: a quarter of the cache (64 MiB,
    /// 2^25 keys at 16 bits each, by default). While a larger one is
    /// built, the smaller one in use stays until it is replaced.
    fn filter_bytes(&self) -> u64 {
        self.cache_bytes / 4
    }

    /// What is left for fjall's cache.
    fn fjall_cache_bytes(&self) -> u64 {
        self.cache_bytes - self.filter_bytes()
    }
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            sync: SyncMode::Commit,
            cache_bytes: 256 << 20,
            buffer_records: BUFFER,
        }
    }
}

/// A record of a write buffer, or its deletion.
type Entry = Option<[u8; 24]>;

/// Records written since the last ingestion.
type Buffer = HashMap<Digest, Entry, DigestHash>;

/// An empty buffer with room for `records`: it never grows (and rehashes)
/// while the committer holds the buffers' lock. The room is address
/// space until records are written into it.
fn new_buffer(records: usize) -> Buffer {
    Buffer::with_capacity_and_hasher(records, DigestHash)
}

/// A failure of the database (disk full, I/O error, read-only): the store
/// is there, and reads may still work where writes fail.
fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Rejected(Box::new(e))
}

/// The expiry state the readers and fjall's compactions share.
#[derive(Clone)]
struct Expiry {
    /// Records last updated before this (Unix seconds) are expired.
    cutoff: Arc<AtomicI64>,
    /// Expired records compactions dropped, since [`Store::expire`] last
    /// asked.
    dropped: Arc<AtomicU64>,
}

impl Expiry {
    fn new() -> Expiry {
        Expiry {
            cutoff: Arc::new(AtomicI64::new(i64::MIN)),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// `r`, unless it is expired.
    fn live(&self, r: Record) -> Option<Record> {
        (r.last_update() >= self.cutoff.load(Ordering::Relaxed)).then_some(r)
    }
}

impl fjall::compaction::filter::Factory for Expiry {
    fn name(&self) -> &str {
        "pyzord-expiry"
    }

    fn make_filter(
        &self,
        ctx: &fjall::compaction::filter::Context,
    ) -> Box<dyn fjall::compaction::filter::CompactionFilter> {
        Box::new(ExpiryFilter {
            cutoff: self.cutoff.load(Ordering::Relaxed),
            last_level: ctx.is_last_level,
            dropped: 0,
            total: Arc::clone(&self.dropped),
        })
    }
}

/// One compaction's filter: drops the records expired when it began.
struct ExpiryFilter {
    cutoff: i64,
    last_level: bool,
    dropped: u64,
    total: Arc<AtomicU64>,
}

impl fjall::compaction::filter::CompactionFilter for ExpiryFilter {
    fn filter_item(
        &mut self,
        item: fjall::compaction::filter::ItemAccessor<'_>,
        _: &fjall::compaction::filter::Context,
    ) -> fjall::compaction::filter::CompactionFilterResult {
        use fjall::compaction::filter::Verdict;
        let value = item.value()?;
        // a record that cannot be read is kept, for `migrate` to report
        let Ok(b) = <&[u8; 24]>::try_from(value.as_ref()) else {
            return Ok(Verdict::Keep);
        };
        if Record::unpack(b).last_update() >= self.cutoff {
            return Ok(Verdict::Keep);
        }
        self.dropped += 1;
        // Older versions of the record are older still, so expired too:
        // in the last level nothing lies below to shadow; above it, a
        // tombstone keeps them shadowed until they are compacted away.
        Ok(if self.last_level {
            Verdict::Destroy
        } else {
            Verdict::Remove
        })
    }

    fn finish(self: Box<Self>) {
        self.total.fetch_add(self.dropped, Ordering::Relaxed);
    }
}

/// The sorted tables: fjall's database and the records' keyspace.
struct Tables {
    /// Held for as long as the keyspace is used: it owns fjall's journal
    /// and background workers.
    db: Database,
    records: Keyspace,
}

impl Tables {
    fn open(dir: &Path, options: &FileOptions, expiry: &Expiry) -> Result<Tables, StoreError> {
        let fail = |e: fjall::Error| StoreError::Other(format!("{}: {e}", dir.display()));
        let filter = expiry.clone();
        let db = Database::builder(dir)
            .manual_journal_persist(true)
            .cache_size(options.fjall_cache_bytes())
            .with_compaction_filter_factories(Arc::new(move |keyspace| {
                (keyspace == KEYSPACE).then(|| {
                    Arc::new(filter.clone()) as Arc<dyn fjall::compaction::filter::Factory>
                })
            }))
            .open()
            .map_err(fail)?;
        let records = db
            .keyspace(KEYSPACE, || {
                KeyspaceCreateOptions::default().expect_point_read_hits(false)
            })
            .map_err(fail)?;
        Ok(Tables { db, records })
    }

    fn get(&self, d: &Digest) -> Result<Option<Record>, StoreError> {
        match self.records.get(d.0).map_err(db_err)? {
            None => Ok(None),
            Some(v) => match <&[u8; 24]>::try_from(v.as_ref()) {
                Ok(b) => Ok(Some(Record::unpack(b))),
                Err(_) => Err(StoreError::Corrupt {
                    digest: d.to_string(),
                    reason: format!("a record of {} bytes, not 24", v.len()),
                }),
            },
        }
    }

    /// Writes a frozen buffer into new tables (sorted; fjall syncs them).
    fn ingest(&self, frozen: &Buffer) -> Result<(), StoreError> {
        let mut entries: Vec<(&Digest, &Entry)> = frozen.iter().collect();
        entries.sort_unstable_by_key(|e| e.0.0);
        let mut ingestion = self.records.start_ingestion().map_err(db_err)?;
        for (d, e) in entries {
            match e {
                Some(r) => ingestion.write(d.0, *r).map_err(db_err)?,
                None => ingestion.write_tombstone(d.0).map_err(db_err)?,
            }
        }
        ingestion.finish().map_err(db_err)
    }
}

/// The write buffers: the one being filled, and the one being written
/// into the tables (with the logs that hold it); and the key filters,
/// which change under the same lock as the buffers, so that a key leaves
/// the frozen buffer only once it is in the filter readers consult.
#[derive(Default)]
struct Buffers {
    active: Buffer,
    frozen: Option<Arc<Frozen>>,
    /// What readers consult: every key of the tables is in it. `None`
    /// until the first one is built (readers then go to the tables).
    filter: Option<Arc<KeyFilter>>,
    /// The filter a scan of the tables is filling: the ingester adds what
    /// it writes to it too, since the scan may not see it.
    building: Option<Arc<KeyFilter>>,
}

impl Buffers {
    fn get(&self, d: &Digest) -> Option<Entry> {
        if let Some(e) = self.active.get(d) {
            return Some(*e);
        }
        self.frozen.as_ref().and_then(|f| f.records.get(d).copied())
    }
}

/// A buffer being written into the tables.
struct Frozen {
    records: Buffer,
    /// The logs to delete once it is in the tables.
    logs: Vec<PathBuf>,
}

/// Records read from the tables, by digest. Reads consult the write
/// buffers first, so an entry only has to be right for the tables: the
/// cache is cleared whenever a buffer is written into them, and a read
/// that began before such a clear does not fill it (a generation count).
/// A full shard is cleared too (crude, but bounded and cheap).
struct RowCache {
    shards: Vec<Mutex<HashMap<Digest, [u8; 24], DigestHash>>>,
    per_shard: usize,
    generation: std::sync::atomic::AtomicU64,
}

impl RowCache {
    fn new(records: usize) -> RowCache {
        RowCache {
            shards: (0..ROW_SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(DigestHash)))
                .collect(),
            per_shard: records / ROW_SHARDS,
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The generation a lookup starts in (before it reads the buffers).
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn shard(&self, d: &Digest) -> &Mutex<HashMap<Digest, [u8; 24], DigestHash>> {
        // the digest's last byte: SHA-1 output, spread already
        &self.shards[usize::from(d.0[19]) % ROW_SHARDS]
    }

    fn get(&self, d: &Digest) -> Option<[u8; 24]> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(d).lock().ok()?.get(d).copied()
    }

    /// Keeps a record read in `generation`, unless the cache was cleared
    /// since.
    fn put(&self, d: &Digest, r: [u8; 24], generation: u64) {
        if self.per_shard == 0 {
            return;
        }
        if let Ok(mut m) = self.shard(d).lock() {
            if self.generation() != generation {
                return;
            }
            if m.len() >= self.per_shard {
                m.clear();
            }
            m.insert(*d, r);
        }
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for s in &self.shards {
            if let Ok(mut m) = s.lock() {
                m.clear();
            }
        }
    }
}

/// How the workers hand batches to the committer: whether it is stalled,
/// and the signal of room in its queue (see [`Shared::hand_over`]).
struct Handoff {
    /// When the committer began writing a group, or a sync (µs since
    /// `epoch`); 0 while it does neither.
    busy_since: AtomicU64,
    epoch: Instant,
    /// Batches of writes are refused because the committer is stalled
    /// (logged once a stall).
    stalled: AtomicBool,
    /// Signalled when the committer has taken the queue, for the
    /// `waiting` workers that found it full.
    room: (Mutex<()>, Condvar),
    waiting: AtomicUsize,
}

impl Handoff {
    fn new() -> Handoff {
        Handoff {
            busy_since: AtomicU64::new(0),
            epoch: Instant::now(),
            stalled: AtomicBool::new(false),
            room: (Mutex::new(()), Condvar::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Wakes the workers that wait for room in the queue, if any.
    fn signal_room(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.room.0.lock().unwrap_or_else(|e| e.into_inner());
            self.room.1.notify_all();
        }
    }

    /// How long the committer has been on the group it is writing (zero
    /// while it writes none).
    fn busy_for(&self) -> Duration {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => Duration::from_micros(self.micros().saturating_sub(since)),
        }
    }

    /// Notes that the committer of the store in `dir` begins writing a
    /// group or a sync (and that a stall, if there was one, has ended).
    fn busy(&self, dir: &Path) {
        self.busy_since
            .store(self.micros().max(1), Ordering::Relaxed);
        if self.stalled.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "{}: commits go on; reports are accepted again",
                dir.display()
            );
        }
    }

    /// Notes that the committer's write or sync has ended.
    fn idle(&self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }
}

/// What the committer, the ingester and the readers share.
struct Shared {
    dir: PathBuf,
    options: FileOptions,
    tables: Tables,
    buffers: RwLock<Buffers>,
    /// Signalled when a frozen buffer is in the tables.
    ingested: (Mutex<()>, Condvar),
    /// The store is closing: the ingester stops retrying (what it could
    /// not write stays in the logs).
    closing: AtomicBool,
    rows: RowCache,
    /// Batches of writes sent to the committer and not yet written.
    queued: AtomicU64,
    /// Between the workers and the committer: its stall clock and the
    /// signal of room in its queue.
    handoff: Handoff,
    expiry: Expiry,
    /// The key filters' hash seed, random per opening.
    seed: u64,
    /// A filter build was asked for and has not ended.
    build_asked: AtomicBool,
    /// The expiry cutoff when the last successful filter build began: the
    /// filter holds no key expired before it (but may hold keys expired
    /// since).
    filter_cutoff: AtomicI64,
    /// A buffer the ingester has emptied, kept for the next log: its
    /// memory is mapped already, so the committer's first writes into it
    /// do not fault in a page each (up to 15–71 ms of a large group's
    /// write at the start of a buffer under overload, BENCHMARKS.md).
    spare: Mutex<Option<Buffer>>,
}

impl Shared {
    fn buffers(&self) -> std::sync::RwLockReadGuard<'_, Buffers> {
        self.buffers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn buffers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Buffers> {
        self.buffers.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The buffer the ingester emptied last, if it left one (and none
    /// from now on until it leaves another).
    fn take_spare(&self) -> Option<Buffer> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Whether `f` is full and may grow (it is below its size cap).
    fn outgrows(&self, f: &KeyFilter) -> bool {
        f.is_full() && f.bytes() < self.options.filter_bytes()
    }

    /// The capacity to build a filter for in place of one holding `keys`:
    /// twice those or the tables' (approximate) records, whichever is more.
    fn grown_capacity(&self, keys: u64) -> u64 {
        let stored = self.tables.records.approximate_len() as u64;
        keys.max(stored).saturating_mul(2)
    }

    /// Queues a job for the committer, waiting while the queue is full
    /// unless the committer has been writing one group for [`STALLED`]; then,
    /// or if the committer has stopped, gives the job back with the error
    /// to complete it with.
    fn hand_over(&self, tx: &SyncSender<Job>, mut job: Job) -> Result<(), (Job, StoreError)> {
        let try_send = |job| match tx.try_send(job) {
            Ok(()) => Ok(None),
            Err(mpsc::TrySendError::Full(j)) => Ok(Some(j)),
            Err(mpsc::TrySendError::Disconnected(j)) => Err((j, committer_stopped())),
        };
        loop {
            job = match try_send(job)? {
                None => return Ok(()),
                Some(j) => j,
            };
            let busy = self.handoff.busy_for();
            if busy >= STALLED {
                if !self.handoff.stalled.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "{}: a commit has taken {} ms (a hung disk?): reports are refused until it ends; checks go on",
                        self.dir.display(),
                        busy.as_millis()
                    );
                }
                let e = std::io::Error::other(format!(
                    "{}: a commit has taken over {} ms; reports are refused until it ends",
                    self.dir.display(),
                    STALLED.as_millis()
                ));
                return Err((job, StoreError::Rejected(Box::new(e))));
            }
            // Wait for the committer to take the queue (it signals under
            // the lock once it has, if anyone waits: trying again under
            // the lock loses no signal), or for the stall limit.
            let (lock, signal) = &self.handoff.room;
            self.handoff.waiting.fetch_add(1, Ordering::SeqCst);
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let tried = try_send(job);
            let job_back = match tried {
                Ok(Some(j)) => {
                    let _ = signal.wait_timeout(guard, STALLED - busy);
                    Ok(Some(j))
                }
                other => other,
            };
            self.handoff.waiting.fetch_sub(1, Ordering::SeqCst);
            job = match job_back? {
                None => return Ok(()),
                Some(j) => j,
            };
        }
    }

    /// The record of a digest: the buffers first, then the tables
    /// (through the row cache); `None` if it is absent or expired.
    fn lookup(&self, d: &Digest) -> Result<Option<Record>, StoreError> {
        let generation = self.rows.generation();
        let buffered = {
            let b = self.buffers();
            match b.get(d) {
                Some(e) => Some(e),
                // not in the tables either
                None if b.filter.as_ref().is_some_and(|f| !f.may_contain(d)) => Some(None),
                None => None,
            }
        };
        let found = if let Some(e) = buffered {
            e.map(|r| Record::unpack(&r))
        } else if let Some(r) = self.rows.get(d) {
            Some(Record::unpack(&r))
        } else {
            let r = self.tables.get(d)?;
            if let Some(r) = &r {
                self.rows.put(d, r.pack(), generation);
            }
            r
        };
        Ok(found.and_then(|r| self.expiry.live(r)))
    }
}

/// The log being appended to.
struct Wal {
    file: File,
    path: PathBuf,
    seq: u64,
    /// The length up to the last whole frame.
    len: u64,
    /// The file's length: zeros from `len` on.
    zeroed: u64,
}

fn wal_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:016}.log"))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Wal {
    /// Begins log number `seq`.
    fn create(dir: &Path, seq: u64) -> std::io::Result<Wal> {
        let path = wal_path(dir, seq);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.write_all(WAL_MAGIC)?;
        let mut wal = Wal {
            file,
            path,
            seq,
            len: WAL_MAGIC.len() as u64,
            zeroed: WAL_MAGIC.len() as u64,
        };
        wal.zero_ahead(wal.len)?;
        wal.file.sync_all()?;
        sync_dir(dir)?;
        Ok(wal)
    }

    /// Fills the file with zeros to the next multiple of [`WAL_AHEAD`]
    /// after `end`, unless its zeros reach past `end` already.
    fn zero_ahead(&mut self, end: u64) -> std::io::Result<()> {
        static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
        if end < self.zeroed {
            return Ok(());
        }
        let target = (end / WAL_AHEAD + 1) * WAL_AHEAD;
        while self.zeroed < target {
            let n = (target - self.zeroed).min(ZEROS.len() as u64) as usize;
            self.file.write_all_at(&ZEROS[..n], self.zeroed)?;
            self.zeroed += n as u64;
        }
        Ok(())
    }

    /// Appends one frame (count, entries, checksum), zeroing more of the
    /// file first where it would reach past the zeros. On failure part of
    /// the frame may be in the file: the caller cuts it back
    /// ([`Wal::cut_back`]).
    fn append(&mut self, changed: &[(Digest, Entry)]) -> std::io::Result<()> {
        let mut frame = Vec::with_capacity(4 + changed.len() * ENTRY + 8);
        frame.extend_from_slice(&(changed.len() as u32).to_le_bytes());
        for (d, e) in changed {
            frame.extend_from_slice(&d.0);
            match e {
                Some(r) => {
                    frame.push(1);
                    frame.extend_from_slice(r);
                }
                None => {
                    frame.push(0);
                    frame.extend_from_slice(&[0; 24]);
                }
            }
        }
        let sum = xxhash_rust::xxh3::xxh3_64(&frame);
        frame.extend_from_slice(&sum.to_le_bytes());
        let end = self.len + frame.len() as u64;
        self.zero_ahead(end)?;
        self.file.write_all_at(&frame, self.len)?;
        self.len = end;
        Ok(())
    }

    /// Cuts the file back to its last whole frame (the next append zeroes
    /// the space ahead again).
    fn cut_back(&mut self) -> std::io::Result<()> {
        self.file.set_len(self.len)?;
        self.zeroed = self.len;
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

/// Reads a log's whole frames into `buffer` (later entries win); a torn
/// or corrupt tail ends it. Returns the entries read.
fn replay(path: &Path, buffer: &mut Buffer) -> std::io::Result<u64> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    if data.len() < WAL_MAGIC.len() || &data[..WAL_MAGIC.len()] != WAL_MAGIC {
        return Ok(0);
    }
    let mut at = WAL_MAGIC.len();
    let mut n = 0;
    while let Some(head) = data.get(at..at + 4) {
        let count = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        // 0: the zeros ahead of the last frame
        if count == 0 || count > MAX_FRAME {
            break;
        }
        let end = at + 4 + count * ENTRY;
        let (Some(body), Some(sum)) = (data.get(at..end), data.get(end..end + 8)) else {
            break;
        };
        let mut want = [0u8; 8];
        want.copy_from_slice(sum);
        if xxhash_rust::xxh3::xxh3_64(body) != u64::from_le_bytes(want) {
            break;
        }
        for e in body[4..].chunks_exact(ENTRY) {
            let mut d = [0u8; 20];
            d.copy_from_slice(&e[..20]);
            let entry = match e[20] {
                0 => None,
                _ => {
                    let mut r = [0u8; 24];
                    r.copy_from_slice(&e[21..]);
                    Some(r)
                }
            };
            buffer.insert(Digest(d), entry);
            n += 1;
        }
        at = end + 8;
    }
    Ok(n)
}

/// The key filter a clean close saved in `dir`, if it is there whole and
/// fits the options; the file is deleted either way, before anything is
/// written: the filter is only right for the tables as they were when it
/// was saved.
fn take_saved_filter(dir: &Path, options: &FileOptions) -> std::io::Result<Option<KeyFilter>> {
    let path = dir.join(FILTER_FILE);
    let filter = match KeyFilter::load(&path, options.filter_bytes()) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => None,
    };
    std::fs::remove_file(&path)?;
    sync_dir(dir)?;
    Ok(filter)
}

/// The logs in a store directory, oldest first.
fn wal_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("wal-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            logs.push((seq, path));
        }
    }
    logs.sort();
    Ok(logs)
}

/// The durable file store.
pub struct FileStore {
    shared: Arc<Shared>,
    jobs: Mutex<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

enum Job {
    Apply {
        ops: Vec<StoreOp>,
        now: i64,
        done: Completion,
    },
    /// Write these records as they are.
    Put {
        records: Vec<(Digest, Record)>,
        reply: SyncSender<Result<(), StoreError>>,
    },
}

/// `true` if the file starts like a GNU dbm database (either byte order,
/// either magic of GDBM's formats), which the file store must not touch.
pub fn looks_like_gdbm(path: &Path) -> bool {
    let mut b = [0u8; 4];
    if File::open(path)
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        return false;
    }
    let magic = u32::from_le_bytes(b);
    let magic_be = u32::from_be_bytes(b);
    const GDBM: [u32; 6] = [
        0x13579ace, 0x13579acd, 0x13579acf, 0x13579ad0, 0x13579ad1, 0x13579acc,
    ];
    GDBM.contains(&magic) || GDBM.contains(&magic_be)
}

impl FileStore {
    /// Why `path` cannot be a file store, if it is a file: a gdbm database,
    /// the earlier format (which `migrate` converts), or something else.
    /// (A path that does not exist yet can be.)
    pub fn not_a_store(path: &Path) -> Option<StoreError> {
        if !path.is_file() {
            return None;
        }
        let what = if looks_like_gdbm(path) {
            "a gdbm database (pyzord 1.1.2's default engine); serve it with -e gdbm or copy it with `pyzord migrate --from gdbm:FILE --to file:DIR`".to_owned()
        } else if super::legacy::looks_like_redb(path) {
            format!(
                "a file store of pyzord-rs' earlier format (redb); convert it with `pyzord migrate --from file:{} --to file:DIR`",
                path.display()
            )
        } else {
            "a file; the file store is a directory".to_owned()
        };
        Some(StoreError::Other(format!("{} is {what}", path.display())))
    }

    /// Opens (or creates) the store directory with the default options.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        FileStore::open_with(path, FileOptions::default())
    }

    /// Opens (or creates) the store directory: the tables, then the logs,
    /// whose records are read into a buffer that is written into the tables
    /// in the background.
    pub fn open_with(path: &Path, options: FileOptions) -> Result<FileStore, StoreError> {
        if let Some(e) = FileStore::not_a_store(path) {
            return Err(e);
        }
        let io = |e: std::io::Error| StoreError::Other(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(path).map_err(io)?;
        // fjall locks its directory: a second pyzord fails here, before
        // it touches the logs
        let expiry = Expiry::new();
        let tables = Tables::open(&path.join("tables"), &options, &expiry)?;
        let logs = wal_files(path).map_err(io)?;
        let mut recovered = Buffer::default();
        for (_, log) in &logs {
            replay(log, &mut recovered).map_err(io)?;
        }
        let next = logs.last().map_or(1, |(seq, _)| seq + 1);
        let wal = Wal::create(path, next).map_err(io)?;
        // The filter the last clean close saved, or an empty one for an
        // empty store; otherwise one is built from the tables in the
        // background.
        let seed =
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8);
        let stored = tables.records.approximate_len() as u64;
        let filter = take_saved_filter(path, &options)
            .map_err(io)?
            .or_else(|| {
                (stored == 0)
                    .then(|| KeyFilter::new(filter::MIN_CAPACITY, options.filter_bytes(), seed))
            })
            .map(Arc::new);
        let build = filter.is_none();
        let mut buffers = Buffers {
            active: new_buffer(options.buffer_limit()),
            frozen: None,
            filter,
            building: None,
        };
        let logs: Vec<PathBuf> = logs.into_iter().map(|(_, p)| p).collect();
        let frozen = if recovered.is_empty() {
            for log in &logs {
                let _ = std::fs::remove_file(log);
            }
            None
        } else {
            let f = Arc::new(Frozen {
                records: recovered,
                logs,
            });
            buffers.frozen = Some(Arc::clone(&f));
            Some(f)
        };
        let shared = Arc::new(Shared {
            dir: path.to_owned(),
            options,
            tables,
            buffers: RwLock::new(buffers),
            ingested: (Mutex::new(()), Condvar::new()),
            closing: AtomicBool::new(false),
            rows: RowCache::new(ROW_CACHE),
            queued: AtomicU64::new(0),
            handoff: Handoff::new(),
            expiry,
            seed,
            build_asked: AtomicBool::new(build),
            filter_cutoff: AtomicI64::new(i64::MIN),
            spare: Mutex::new(None),
        });
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| StoreError::Other(format!("cannot start the {name} thread: {e}")))
        };
        let (to_build, build_rx) = mpsc::channel::<u64>();
        if build {
            let _ = to_build.send(stored.saturating_mul(2));
        }
        let builder_shared = Arc::clone(&shared);
        let builder = spawn(
            "pyzord-filter",
            Box::new(move || builder(&builder_shared, &build_rx)),
        )?;
        let (to_ingest, ingest_rx) = mpsc::channel::<Arc<Frozen>>();
        if let Some(f) = frozen {
            let _ = to_ingest.send(f);
        }
        let ingester_shared = Arc::clone(&shared);
        let ingester = spawn(
            "pyzord-ingest",
            Box::new(move || ingester(&ingester_shared, &ingest_rx, &to_build)),
        )?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let committer_shared = Arc::clone(&shared);
        let committer = spawn(
            "pyzord-commit",
            Box::new(move || committer(&committer_shared, wal, &rx, &to_ingest)),
        )?;
        Ok(FileStore {
            shared,
            jobs: Mutex::new(Some(tx)),
            // joined in this order: each ends once the one before has
            threads: Mutex::new(vec![committer, ingester, builder]),
        })
    }

    /// Opens an existing store for reading only (`pyzord stats`, the source
    /// of `pyzord migrate`): the tables and the logs' records, with no
    /// thread and nothing written, so that it works on a full disk too.
    pub fn open_read_only(path: &Path) -> Result<FileStore, StoreError> {
        let io = |e: std::io::Error| StoreError::Other(format!("{}: {e}", path.display()));
        if let Some(e) = FileStore::not_a_store(path) {
            return Err(e);
        }
        if !path.is_dir() {
            return Err(StoreError::Other(format!(
                "{}: no such directory",
                path.display()
            )));
        }
        let options = FileOptions::default();
        let expiry = Expiry::new();
        let tables = Tables::open(&path.join("tables"), &options, &expiry)?;
        let mut buffers = Buffers::default();
        for (_, log) in wal_files(path).map_err(io)? {
            replay(&log, &mut buffers.active).map_err(io)?;
        }
        Ok(FileStore {
            shared: Arc::new(Shared {
                dir: path.to_owned(),
                options,
                tables,
                buffers: RwLock::new(buffers),
                ingested: (Mutex::new(()), Condvar::new()),
                closing: AtomicBool::new(true),
                rows: RowCache::new(0),
                queued: AtomicU64::new(0),
                handoff: Handoff::new(),
                expiry,
                seed: 0,
                build_asked: AtomicBool::new(false),
                filter_cutoff: AtomicI64::new(i64::MIN),
                spare: Mutex::new(None),
            }),
            jobs: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        // Clone the sender out of the lock: a full queue blocks this worker
        // only, not the others.
        let tx = self
            .jobs
            .lock()
            .map_err(|_| StoreError::Other("file store lock poisoned".into()))?
            .clone()
            .ok_or_else(|| {
                StoreError::Other("the file store is closed or open for reading only".into())
            })?;
        tx.send(job).map_err(|_| committer_stopped())
    }

    /// Serves a batch of reads.
    fn read(&self, ops: &[StoreOp]) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if let StoreOp::Get(d) = op {
                out.push(self.shared.lookup(d)?.unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// Bytes the store takes on disk: the blocks allocated to its files
    /// (tables, journal and logs). Sparse files count what they hold, not
    /// their length: fjall's journal is a 64 MiB file that is mostly holes.
    pub fn disk_space(&self) -> Result<u64, StoreError> {
        allocated_bytes(&self.shared.dir, 8).map_err(db_err)
    }

    /// Waits, at most `timeout`, until the background work that earlier
    /// writes set off is done: no frozen buffer waits for the tables, no
    /// key filter is being built and fjall runs no compaction. (The active
    /// buffer stays in memory, as it does while serving.) For benchmarks
    /// that measure from a settled store. Returns whether it settled.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let idle = self.shared.buffers().frozen.is_none()
                && !self.shared.build_asked.load(Ordering::SeqCst)
                && self.shared.tables.db.active_compactions() == 0;
            if idle {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Bulk for FileStore {
    fn count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        self.scan(&mut |r| n += u64::from(r.is_ok()))?;
        Ok(n)
    }

    /// The tables, with what the buffers hold over them, then the records
    /// only the buffers hold; expired records are left out.
    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let mut over: Buffer = {
            let b = self.shared.buffers();
            let mut over = b
                .frozen
                .as_ref()
                .map(|f| f.records.clone())
                .unwrap_or_default();
            over.extend(b.active.iter().map(|(d, e)| (*d, *e)));
            over
        };
        let expiry = &self.shared.expiry;
        let live =
            |f: &mut dyn FnMut(Result<(Digest, Record), StoreError>), d: Digest, r: &[u8; 24]| {
                if let Some(r) = expiry.live(Record::unpack(r)) {
                    f(Ok((d, r)));
                }
            };
        for item in self.shared.tables.records.iter() {
            let (k, v) = item.into_inner().map_err(db_err)?;
            let key = <[u8; 20]>::try_from(k.as_ref());
            let value = <&[u8; 24]>::try_from(v.as_ref());
            match (key, value) {
                (Ok(k), Ok(v)) => match over.remove(&Digest(k)) {
                    Some(Some(r)) => live(f, Digest(k), &r),
                    Some(None) => {}
                    None => live(f, Digest(k), v),
                },
                _ => f(Err(StoreError::Corrupt {
                    digest: k.iter().map(|b| format!("{b:02x}")).collect(),
                    reason: format!("a key of {} bytes and a record of {}", k.len(), v.len()),
                })),
            }
        }
        for (d, e) in over {
            if let Some(r) = e {
                live(f, d, &r);
            }
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Job::Put {
            records: records.to_vec(),
            reply,
        })?;
        answer.recv().map_err(|_| committer_stopped())?
    }

    fn stored(&self, r: &Record) -> Record {
        r.clamped()
    }
}

/// Writes frozen buffers into the tables, one after the other, and their
/// keys into the key filters (asking for a larger filter when they
/// outgrow it); a failure is retried every second (the buffer and its
/// logs stay meanwhile).
fn ingester(shared: &Shared, rx: &Receiver<Arc<Frozen>>, to_build: &Sender<u64>) {
    while let Ok(frozen) = rx.recv() {
        let mut failures = 0u32;
        loop {
            match shared.tables.ingest(&frozen.records) {
                Ok(()) => break,
                Err(_) if shared.closing.load(Ordering::SeqCst) => return,
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::error!(
                            "{}: cannot write {} records into the tables (retried every second): {}",
                            shared.dir.display(),
                            frozen.records.len(),
                            crate::store::causes(&e)
                        );
                    }
                    for _ in 0..10 {
                        if shared.closing.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
        if failures > 0 {
            tracing::warn!("{}: the tables take writes again", shared.dir.display());
        }
        // the tables changed under the cached rows (the frozen buffer,
        // still consulted first, covers the change until it is dropped)
        shared.rows.clear();
        let (filter, building) = {
            let b = shared.buffers();
            (b.filter.clone(), b.building.clone())
        };
        for f in filter.iter().chain(building.iter()) {
            for (d, e) in &frozen.records {
                if e.is_some() {
                    f.insert(d);
                }
            }
        }
        let rebuild = match &filter {
            None => building.is_none(),
            Some(f) if shared.outgrows(f) => true,
            // Full at its size cap, a new scan can only drop the expired
            // keys the filter holds: worth it once the cutoff has risen
            // since the last scan (a scan a day at most), not at every
            // buffer.
            Some(f) => {
                f.is_full()
                    && shared.filter_cutoff.load(Ordering::SeqCst)
                        < shared.expiry.cutoff.load(Ordering::SeqCst)
            }
        };
        if rebuild && !shared.build_asked.swap(true, Ordering::SeqCst) {
            let keys = filter.as_ref().map_or(0, |f| f.keys());
            let _ = to_build.send(shared.grown_capacity(keys));
        }
        for log in &frozen.logs {
            let _ = std::fs::remove_file(log);
        }
        let _ = sync_dir(&shared.dir);
        {
            let mut b = shared.buffers_mut();
            if b.frozen.as_ref().is_some_and(|f| Arc::ptr_eq(f, &frozen)) {
                b.frozen = None;
            }
        }
        // no reader holds it now: empty it for the next log
        if let Ok(Frozen { mut records, .. }) = Arc::try_unwrap(frozen) {
            records.clear();
            if records.capacity() >= shared.options.buffer_limit() {
                *shared.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(records);
            }
        }
        let _guard = shared.ingested.0.lock();
        shared.ingested.1.notify_all();
    }
}

/// Builds key filters from a scan of the tables, for the capacities asked,
/// and puts each in place of the one readers consult. A filter that the
/// ingestion during its scan filled past its capacity is built again,
/// twice as large. A scan that fails leaves the filter as it was (or none:
/// readers go to the tables); the next ingestion asks again.
fn builder(shared: &Shared, rx: &Receiver<u64>) {
    while let Ok(asked) = rx.recv() {
        let mut capacity = asked;
        loop {
            let built = build_filter(shared, capacity);
            if shared.closing.load(Ordering::SeqCst) {
                return;
            }
            shared.build_asked.store(false, Ordering::SeqCst);
            // The ingester asks only while no build is asked; what it
            // ingested during the scan may have filled this one already.
            // (If it asked meanwhile, its request is in the channel.)
            let Some(f) = built else { break };
            if !shared.outgrows(&f) || shared.build_asked.swap(true, Ordering::SeqCst) {
                break;
            }
            capacity = shared.grown_capacity(f.keys());
        }
    }
}

/// One filter of `capacity` keys from a scan of the tables, in place once
/// built; `None` if the scan failed or the store is closing.
fn build_filter(shared: &Shared, capacity: u64) -> Option<Arc<KeyFilter>> {
    let started = Instant::now();
    // the scan leaves out what this cutoff (or a later one) expires
    let cutoff = shared.expiry.cutoff.load(Ordering::SeqCst);
    let f = Arc::new(KeyFilter::new(
        capacity,
        shared.options.filter_bytes(),
        shared.seed,
    ));
    // registered before the scan begins: what the ingester writes after
    // this goes into it directly, what it wrote before is in the tables
    // the scan reads
    shared.buffers_mut().building = Some(Arc::clone(&f));
    let mut scanned = 0u64;
    let mut failed = None;
    for item in shared.tables.records.iter() {
        if scanned.is_multiple_of(4096) && shared.closing.load(Ordering::SeqCst) {
            return None;
        }
        match item.into_inner() {
            Ok((k, v)) => {
                // an expired record is absent to every lookup and update
                // whether the filter has it or not (and a digest reported
                // again is a new record, which the ingester adds)
                let live = <&[u8; 24]>::try_from(v.as_ref())
                    .map_or(true, |v| shared.expiry.live(Record::unpack(v)).is_some());
                if let (true, Ok(k)) = (live, <[u8; 20]>::try_from(k.as_ref())) {
                    f.insert(&Digest(k));
                }
                scanned += 1;
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    {
        let mut b = shared.buffers_mut();
        b.building = None;
        if failed.is_none() {
            b.filter = Some(Arc::clone(&f));
            shared.filter_cutoff.fetch_max(cutoff, Ordering::SeqCst);
        }
    }
    match failed {
        None => {
            tracing::debug!(
                "{}: key filter of {} MiB built from {scanned} records in {:.2} s",
                shared.dir.display(),
                f.bytes() >> 20,
                started.elapsed().as_secs_f64()
            );
            Some(f)
        }
        Some(e) => {
            tracing::error!(
                "{}: cannot read the tables to build the key filter (lookups read the tables meanwhile): {e}",
                shared.dir.display()
            );
            None
        }
    }
}

/// Where a group's reads and writes meet: the records it changed, over the
/// buffers and tables.
struct GroupMap<'a> {
    shared: &'a Shared,
    changed: HashMap<Digest, Entry, DigestHash>,
}

impl RecordMap for GroupMap<'_> {
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError> {
        match self.changed.get(d) {
            Some(e) => Ok(e.map(|r| Record::unpack(&r))),
            None => self.shared.lookup(d),
        }
    }

    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError> {
        self.changed.insert(*d, Some(r.pack()));
        Ok(())
    }
}

/// Completions of one commit, for the completer thread.
type Completed = Vec<(Completion, Result<Vec<Record>, StoreError>)>;

/// The committer's log and failure state.
struct Writer<'a> {
    shared: &'a Shared,
    wal: Wal,
    /// A log write failed: writes are refused until the directory takes a
    /// file again (checked at most once a second).
    failed: Option<Instant>,
    synced: Instant,
    unsynced: bool,
    to_ingest: &'a Sender<Arc<Frozen>>,
    /// The log and the empty buffer that take over at the next freeze,
    /// made when the active buffer is about to fill, outside the buffers'
    /// lock: a freeze under that lock is then a swap, and reads are not
    /// held up by a log's creation (two syncs) or a buffer's growth.
    next: Option<(Wal, Buffer)>,
}

impl Writer<'_> {
    fn refused(&self) -> StoreError {
        StoreError::Rejected(Box::new(std::io::Error::other(format!(
            "{}: a write failed (disk full, read-only or an I/O error); writes are refused until the disk takes them again",
            self.shared.dir.display()
        ))))
    }

    /// Whether writes may go on; after a failure, at most once a second,
    /// whether the directory takes a 1 MiB file (and the log its cut).
    fn ready(&mut self) -> bool {
        let Some(at) = self.failed else {
            return true;
        };
        if at.elapsed() < Duration::from_secs(1) {
            return false;
        }
        if self.writable() && self.wal.cut_back().is_ok() {
            tracing::warn!(
                "{}: the disk takes writes again; writing goes on",
                self.shared.dir.display()
            );
            self.failed = None;
            true
        } else {
            self.failed = Some(Instant::now());
            false
        }
    }

    fn writable(&self) -> bool {
        let probe = self
            .shared
            .dir
            .join(format!(".pyzord-space-probe-{}", std::process::id()));
        let ok = File::create(&probe)
            .and_then(|mut f| {
                f.write_all(&vec![0u8; 1 << 20])?;
                f.sync_all()
            })
            .is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    }

    /// Makes `changed` durable (or, with an interval, hands it to the
    /// kernel) and puts it in the buffer.
    fn write(&mut self, changed: Vec<(Digest, Entry)>) -> Result<(), StoreError> {
        if changed.is_empty() {
            return Ok(());
        }
        if !self.ready() {
            return Err(self.refused());
        }
        self.make_room()?;
        let synced = match self.shared.options.sync {
            SyncMode::Commit => true,
            SyncMode::Interval(_) => false,
        };
        let whole = self.wal.len;
        let r = self
            .wal
            .append(&changed)
            .and_then(|()| if synced { self.wal.sync() } else { Ok(()) });
        if let Err(e) = r {
            self.failed = Some(Instant::now());
            // the frame may be in the file in part, or whole but not
            // synced (and refused, so it must not be replayed): cut the
            // file back to where it was (a failure here is retried by
            // ready())
            self.wal.len = whole;
            let _ = self.wal.cut_back();
            return Err(db_err(e));
        }
        if !synced {
            self.unsynced = true;
        }
        self.prepare_next(changed.len());
        {
            let mut b = self.shared.buffers_mut();
            b.active.extend(changed);
            if b.active.len() >= self.shared.options.buffer_limit() && b.frozen.is_none() {
                self.freeze(&mut b)?;
            }
        }
        if self.next.is_some() {
            // emptied after the next buffer was made (the tables were
            // behind): kept, it would be a third buffer in memory
            drop(self.shared.take_spare());
        }
        Ok(())
    }

    /// Makes the next log and buffer ahead of a freeze, once `incoming`
    /// records would fill the active buffer. A failure here is left to
    /// the freeze, which then makes them itself and reports it.
    fn prepare_next(&mut self, incoming: usize) {
        if self.next.is_some()
            || self.shared.buffers().active.len() + incoming < self.shared.options.buffer_limit()
        {
            return;
        }
        if let Ok(next) = self.make_next() {
            self.next = Some(next);
        }
    }

    /// The log that follows the current one, and an empty buffer (the
    /// spare one if the ingester has left one).
    fn make_next(&self) -> std::io::Result<(Wal, Buffer)> {
        let wal = Wal::create(&self.shared.dir, self.wal.seq + 1)?;
        let buffer = self
            .shared
            .take_spare()
            .unwrap_or_else(|| new_buffer(self.shared.options.buffer_limit()));
        Ok((wal, buffer))
    }

    /// Freezes the active buffer: a new log takes the writes from now on,
    /// and the ingester writes the frozen buffer into the tables.
    fn freeze(&mut self, b: &mut Buffers) -> Result<(), StoreError> {
        if self.unsynced {
            self.wal.sync().map_err(db_err)?;
            self.unsynced = false;
            self.synced = Instant::now();
        }
        let (wal, active) = match self.next.take() {
            Some(next) => next,
            None => self.make_next().map_err(db_err)?,
        };
        let old = std::mem::replace(&mut self.wal, wal);
        let frozen = Arc::new(Frozen {
            records: std::mem::replace(&mut b.active, active),
            logs: vec![old.path],
        });
        b.frozen = Some(Arc::clone(&frozen));
        let _ = self.to_ingest.send(frozen);
        Ok(())
    }

    /// With both buffers full (the tables are behind), waits up to 5 s for
    /// the ingester; then refuses the write rather than grow without bound.
    fn make_room(&mut self) -> Result<(), StoreError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            {
                let mut b = self.shared.buffers_mut();
                if b.active.len() < self.shared.options.buffer_limit() {
                    return Ok(());
                }
                if b.frozen.is_none() {
                    return self.freeze(&mut b);
                }
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Rejected(Box::new(std::io::Error::other(
                    "the write buffers are full: the tables are not taking writes",
                ))));
            }
            let (lock, cv) = &self.shared.ingested;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = cv.wait_timeout(guard, Duration::from_millis(100));
        }
    }

    fn sync_now(&mut self) {
        if let Err(e) = self.wal.sync() {
            tracing::error!("{}: sync failed: {e}", self.wal.path.display());
        }
        self.synced = Instant::now();
        self.unsynced = false;
    }
}

fn committer_stopped() -> StoreError {
    StoreError::Other("the committer thread has stopped".into())
}

/// The bytes allocated to the files under `dir`, at most `depth` levels
/// down (symbolic links are not followed).
fn allocated_bytes(dir: &Path, depth: u32) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(meta) = entry.metadata() else {
            continue; // removed meanwhile (a table compacted away)
        };
        if meta.is_dir() && depth > 0 {
            total += allocated_bytes(&entry.path(), depth - 1).unwrap_or(0);
        } else if meta.is_file() {
            total += meta.blocks() * 512;
        }
    }
    Ok(total)
}

/// The committer: applies every queued batch, writes the changed records
/// as one log frame, syncs once, then hands the batches to the completer
/// thread (which sends their replies) and goes on with the next group.
fn committer(shared: &Shared, wal: Wal, rx: &Receiver<Job>, to_ingest: &Sender<Arc<Frozen>>) {
    let mut w = Writer {
        shared,
        wal,
        failed: None,
        synced: Instant::now(),
        unsynced: false,
        to_ingest,
        next: None,
    };
    // when the last group's write began
    let mut last_sync = Instant::now();
    let (done_tx, done_rx) = mpsc::sync_channel::<Completed>(64);
    let completer = std::thread::Builder::new()
        .name("pyzord-complete".into())
        .spawn(move || {
            while let Ok(group) = done_rx.recv() {
                for (done, r) in group {
                    done(r);
                }
            }
        });
    // Without a completer thread, complete here.
    let done_tx = completer.as_ref().ok().map(|_| done_tx);
    let complete = |group: Completed| match &done_tx {
        Some(tx) => {
            if let Err(mpsc::SendError(group)) = tx.send(group) {
                for (done, r) in group {
                    done(r);
                }
            }
        }
        None => {
            for (done, r) in group {
                done(r);
            }
        }
    };
    let interval = match shared.options.sync {
        SyncMode::Commit => None,
        SyncMode::Interval(i) => Some(i),
    };
    loop {
        let first = match interval {
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => break,
            },
            Some(i) => {
                let wait = if w.unsynced {
                    i.saturating_sub(w.synced.elapsed())
                } else {
                    Duration::from_secs(3600)
                };
                match rx.recv_timeout(wait) {
                    Ok(j) => j,
                    Err(RecvTimeoutError::Timeout) => {
                        shared.handoff.busy(&shared.dir);
                        w.sync_now();
                        shared.handoff.idle();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        shared.handoff.signal_room();
        // Under load (more than one batch waiting), let the group grow
        // until GROUP_INTERVAL after the last sync began: fewer, larger
        // syncs, each of which costs the machine far more than a batch.
        // Alone, a batch is committed at once.
        // (One sleep, rather than a wake-up per batch that arrives.)
        if group.len() > 1 {
            let left = GROUP_INTERVAL.saturating_sub(last_sync.elapsed());
            if !left.is_zero() {
                std::thread::sleep(left);
            }
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => group.push(j),
                    Err(_) => break,
                }
            }
            shared.handoff.signal_room();
        }
        last_sync = Instant::now();

        let mut map = GroupMap {
            shared,
            changed: HashMap::with_hasher(DigestHash),
        };
        let mut applies = Vec::new();
        let mut puts = Vec::new();
        for job in group {
            match job {
                Job::Apply { ops, now, done } => {
                    let r = apply_to(&ops, now, &mut map);
                    applies.push((done, r));
                }
                Job::Put { records, reply } => {
                    for (d, rec) in records {
                        map.changed.insert(d, Some(rec.pack()));
                    }
                    puts.push(reply);
                }
            }
        }
        shared.handoff.busy(&shared.dir);
        let written = w.write(map.changed.into_iter().collect());
        shared
            .queued
            .fetch_sub(applies.len() as u64, Ordering::Relaxed);
        if interval.is_some_and(|i| w.unsynced && w.synced.elapsed() >= i) {
            w.sync_now();
        }
        // (the completions may wait for the completer below: that is
        // load, which workers wait for, not a stall)
        shared.handoff.idle();
        let failure = |e: &StoreError| {
            let text = match e {
                StoreError::Rejected(cause) => crate::store::causes(cause.as_ref()),
                other => other.to_string(),
            };
            StoreError::Rejected(Box::new(std::io::Error::other(text)))
        };
        for reply in puts {
            let _ = reply.send(match &written {
                Ok(()) => Ok(()),
                Err(e) => Err(failure(e)),
            });
        }
        let completed: Completed = applies
            .into_iter()
            .map(|(done, r)| {
                let r = match &written {
                    Ok(()) => r,
                    Err(e) => Err(failure(e)),
                };
                (done, r)
            })
            .collect();
        complete(completed);
    }
    if w.unsynced {
        w.sync_now();
    }
    drop(done_tx);
    if let Ok(h) = completer {
        let _ = h.join();
    }
}

impl Store for FileStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        if !has_updates(ops) {
            return self.read(ops);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.apply_then(
            ops.to_vec(),
            now,
            Box::new(move |r| {
                let _ = reply.send(r);
            }),
        );
        answer.recv().map_err(|_| committer_stopped())?
    }

    fn defers_writes(&self) -> bool {
        true
    }

    fn apply_then(&self, ops: Vec<StoreOp>, now: i64, done: Completion) {
        if !has_updates(&ops) {
            return done(self.read(&ops));
        }
        // On failure the job (and its completion) comes back in the error.
        let tx = match self.jobs.lock() {
            Ok(g) => g.clone(),
            Err(_) => None,
        };
        let Some(tx) = tx else {
            return done(Err(StoreError::Other(
                "the file store is closed or open for reading only".into(),
            )));
        };
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        if let Err((Job::Apply { done, .. }, e)) =
            self.shared.hand_over(&tx, Job::Apply { ops, now, done })
        {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            done(Err(e));
        }
    }

    /// Raises the cutoff below which records are expired: from now on
    /// they are absent to reads, scans and updates, and compactions drop
    /// them. Returns how many compactions dropped since the last call.
    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.shared
            .expiry
            .cutoff
            .fetch_max(cutoff, Ordering::SeqCst);
        Ok(self.shared.expiry.dropped.swap(0, Ordering::SeqCst))
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every commit is durable already (or is synced as the committer
        // stops); stop the committer, then the ingester, cleanly.
        self.shared.closing.store(true, Ordering::SeqCst);
        let was_open = match self.jobs.lock() {
            Ok(mut jobs) => jobs.take().is_some(),
            Err(_) => false,
        };
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        let mut joined = true;
        for h in threads {
            // (the last reference may go away in a completion, on the
            // committer itself, which then ends by itself)
            if h.thread().id() == std::thread::current().id() {
                joined = false;
            } else {
                let _ = h.join();
            }
        }
        // With the ingester stopped, the filter holds every key of the
        // tables: the next opening loads it instead of scanning them.
        if was_open && joined {
            let filter = self.shared.buffers().filter.clone();
            if let Some(f) = filter
                && let Err(e) = f.save(&self.shared.dir.join(FILTER_FILE))
            {
                tracing::warn!(
                    "{}: cannot save the key filter (the next start builds it from the tables): {e}",
                    self.shared.dir.display()
                );
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file ({})", self.shared.dir.display())
    }

    fn gauges(&self) -> StoreGauges {
        let buffered = {
            let b = self.shared.buffers();
            b.active.len() + b.frozen.as_ref().map_or(0, |f| f.records.len())
        };
        StoreGauges {
            records: Some((self.shared.tables.records.approximate_len() + buffered) as u64),
            bytes: self.disk_space().ok(),
            queued: Some(self.shared.queued.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Update;

    fn d(b: u8) -> Digest {
        Digest([b; 20])
    }

    /// A store in a temporary directory (kept while the handle lives)
    /// whose write buffer holds `records`.
    fn store_with_buffer(records: usize) -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let options = FileOptions {
            buffer_records: records,
            ..FileOptions::default()
        };
        let s = FileStore::open_with(&dir.path().join("s"), options).unwrap();
        (dir, s)
    }

    fn key(i: u32) -> Digest {
        let mut k = [0u8; 20];
        k[..4].copy_from_slice(&i.to_be_bytes());
        Digest(k)
    }

    #[test]
    fn persists_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.store");
        {
            let s = FileStore::open(&path).unwrap();
            let r = s
                .apply(
                    &[
                        StoreOp::Update(Update::Report, vec![d(1), d(2), d(1)]),
                        StoreOp::Get(d(1)),
                    ],
                    100,
                )
                .unwrap();
            assert_eq!(r[0].r_count, 2);
            s.apply(&[StoreOp::Update(Update::Whitelist, vec![d(3)])], 500)
                .unwrap();
            s.flush().unwrap();
        }
        let s = FileStore::open(&path).unwrap();
        let r = s
            .apply(
                &[StoreOp::Get(d(1)), StoreOp::Get(d(2)), StoreOp::Get(d(9))],
                0,
            )
            .unwrap();
        assert_eq!(
            (r[0].r_count, r[0].r_entered, r[0].r_updated),
            (2, 100, 100)
        );
        assert_eq!(r[1].r_count, 1);
        assert_eq!(r[2], Record::default());
        assert_eq!(s.count().unwrap(), 3);
        // nothing was compacted yet: none dropped, but d(1) and d(2) are gone
        assert_eq!(s.expire(200).unwrap(), 0);
        let mut left = Vec::new();
        s.scan(&mut |r| left.push(r.unwrap().0)).unwrap();
        assert_eq!(left, vec![d(3)]);
        let r = s.apply(&[StoreOp::Get(d(1))], 0).unwrap();
        assert_eq!(r[0], Record::default());
        // reported again, an expired digest starts a new record
        let r = s
            .apply(
                &[
                    StoreOp::Update(Update::Report, vec![d(1)]),
                    StoreOp::Get(d(1)),
                ],
                300,
            )
            .unwrap();
        assert_eq!(
            (r[0].r_count, r[0].r_entered, r[0].r_updated),
            (1, 300, 300)
        );
        assert_eq!(s.count().unwrap(), 2);
    }

    /// More records than two buffers hold: buffers are frozen and written
    /// into the tables while writing goes on; every record reads back,
    /// before and after a restart (from the tables and the logs), and
    /// expiry reaches the tables and the buffers.
    /// Key number `i`, spread like a digest.
    fn hashed(i: u64) -> Digest {
        let mut d = [0u8; 20];
        d[..8].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()).to_le_bytes());
        d[8..16].copy_from_slice(&i.to_le_bytes());
        Digest(d)
    }

    #[test]
    fn the_key_filter_keeps_every_stored_key_as_it_grows_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let options = FileOptions {
            buffer_records: 4_000,
            ..FileOptions::default()
        };
        // past the first filter's capacity (2^16), twice: rebuilt while
        // buffers keep going into the tables
        let n = 200_000;
        assert!(n > 3 * filter::MIN_CAPACITY);
        let mut r = Record::default();
        r.report(1000);
        {
            let s = Arc::new(FileStore::open_with(&path, options).unwrap());
            let written = Arc::new(AtomicU64::new(0));
            let reader = {
                let (s, written) = (Arc::clone(&s), Arc::clone(&written));
                std::thread::spawn(move || {
                    let mut checked = 0u64;
                    while written.load(Ordering::SeqCst) < n {
                        let upto = written.load(Ordering::SeqCst);
                        // the newest keys, which move from buffer to tables
                        for i in upto.saturating_sub(3_000)..upto {
                            let found = s.shared.lookup(&hashed(i)).unwrap();
                            assert!(found.is_some(), "key {i} of {upto} written is missing");
                            checked += 1;
                        }
                    }
                    checked
                })
            };
            for start in (0..n).step_by(1_000) {
                let chunk: Vec<(Digest, Record)> =
                    (start..start + 1_000).map(|i| (hashed(i), r)).collect();
                s.put_all(&chunk).unwrap();
                written.store(start + 1_000, Ordering::SeqCst);
            }
            assert!(reader.join().unwrap() > 0);
            assert!(s.wait_idle(Duration::from_secs(60)));
            for i in 0..n {
                assert!(s.shared.lookup(&hashed(i)).unwrap().is_some(), "key {i}");
            }
            let f = s.shared.buffers().filter.clone().unwrap();
            assert!(f.capacity() >= n - 4_000, "{}", f.capacity());
            assert!(f.keys() >= n - 4_000 - n / 100, "{}", f.keys());
        }
        // a clean close saved the filter; the next opening takes it (and
        // deletes the file), with nothing to build, then saves it again
        let saved = path.join(FILTER_FILE);
        assert!(saved.is_file());
        {
            let s = FileStore::open_with(&path, options).unwrap();
            assert!(!saved.exists());
            assert!(!s.shared.build_asked.load(Ordering::SeqCst));
            let f = s.shared.buffers().filter.clone().unwrap();
            assert!(f.keys() >= n - 4_000 - n / 100, "{}", f.keys());
            assert!((0..n).all(|i| s.shared.lookup(&hashed(i)).unwrap().is_some()));
            // one more buffer of keys after the load: the saved filter
            // must hold them too
            let more: Vec<(Digest, Record)> = (n..n + 5_000).map(|i| (hashed(i), r)).collect();
            s.put_all(&more).unwrap();
            assert!(s.wait_idle(Duration::from_secs(60)));
        }
        let n = n + 5_000;
        {
            let s = FileStore::open_with(&path, options).unwrap();
            assert!(!s.shared.build_asked.load(Ordering::SeqCst));
            assert!((0..n).all(|i| s.shared.lookup(&hashed(i)).unwrap().is_some()));
        }
        // without a saved filter (a crash, or a torn file) the tables are
        // scanned: lookups are right before the filter is built (they go
        // to the tables) and after
        for torn in [false, true] {
            if torn {
                let data = std::fs::read(&saved).unwrap();
                std::fs::write(&saved, &data[..data.len() / 2]).unwrap();
            } else {
                std::fs::remove_file(&saved).unwrap();
            }
            let s = FileStore::open_with(&path, options).unwrap();
            assert!(!saved.exists());
            for i in (0..n).step_by(97) {
                assert!(s.shared.lookup(&hashed(i)).unwrap().is_some(), "key {i}");
            }
            assert!(s.wait_idle(Duration::from_secs(60)));
            let f = s.shared.buffers().filter.clone().unwrap();
            assert!(f.capacity() >= n, "{}", f.capacity());
            assert!((0..n).all(|i| s.shared.lookup(&hashed(i)).unwrap().is_some()));
            let passed = (n..2 * n).filter(|&i| f.may_contain(&hashed(i))).count();
            assert!(
                passed < n as usize / 200,
                "{passed} absent keys passed the filter"
            );
            assert!((n..n + 1_000).all(|i| s.shared.lookup(&hashed(i)).unwrap().is_none()));
        }
    }

    /// A filter at its size cap is not scanned again at every buffer, but
    /// once the expiry cutoff has risen, a scan drops the expired keys
    /// from it (which would otherwise fill it for good on a server that
    /// expires as much as it takes in).
    #[test]
    fn a_key_filter_at_its_cap_drops_expired_keys_once_the_cutoff_rises() {
        let dir = tempfile::tempdir().unwrap();
        let options = FileOptions {
            buffer_records: 4_000,
            // a cap of 128 KiB: the smallest filter, 2^16 keys
            cache_bytes: 512 << 10,
            ..FileOptions::default()
        };
        let s = FileStore::open_with(&dir.path().join("s"), options).unwrap();
        let put = |keys: std::ops::Range<u64>, at: i64| {
            let mut r = Record::default();
            r.report(at);
            for start in keys.clone().step_by(1_000) {
                let chunk: Vec<(Digest, Record)> = (start..(start + 1_000).min(keys.end))
                    .map(|i| (hashed(i), r))
                    .collect();
                s.put_all(&chunk).unwrap();
            }
            assert!(s.wait_idle(Duration::from_secs(120)));
        };
        let filter = || s.shared.buffers().filter.clone().unwrap();
        let old = filter::MIN_CAPACITY + 4_000;
        put(0..old, 1_000);
        let full = filter();
        assert_eq!(full.bytes(), options.filter_bytes());
        assert!(full.is_full(), "{} keys", full.keys());
        // full at its cap, nothing expired: no scan
        put(old..old + 4_000, 1_000);
        assert!(
            Arc::ptr_eq(&full, &filter()),
            "scanned again with nothing expired"
        );

        // all of it expires; the next buffers set off one scan, which
        // records the cutoff it applied (no further scan until it rises)
        s.expire(2_000).unwrap();
        let new = old + 4_000..old + 16_000;
        put(new.clone(), 3_000);
        let clean = filter();
        assert!(!Arc::ptr_eq(&full, &clean), "no scan after the cutoff rose");
        assert_eq!(s.shared.filter_cutoff.load(Ordering::SeqCst), 2_000);
        assert!(
            (6_000..=12_000).contains(&clean.keys()),
            "{} keys in the filter, 12 000 live",
            clean.keys()
        );
        assert!(
            new.clone()
                .all(|i| s.shared.lookup(&hashed(i)).unwrap().is_some())
        );
        assert!(
            (0..old)
                .step_by(13)
                .all(|i| s.shared.lookup(&hashed(i)).unwrap().is_none())
        );
        let passed = (0..old).filter(|&i| clean.may_contain(&hashed(i))).count();
        assert!(
            passed < old as usize / 100,
            "{passed} expired keys pass the filter"
        );
    }

    #[test]
    fn buffers_go_into_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let options = FileOptions {
            buffer_records: 5_000,
            ..FileOptions::default()
        };
        let n = 12_500u32;
        {
            let s = FileStore::open_with(&path, options).unwrap();
            let records: Vec<(Digest, Record)> = (0..n)
                .map(|i| {
                    let mut r = Record::default();
                    r.report(if i % 3 == 0 { 10 } else { 1000 });
                    (key(i), r)
                })
                .collect();
            for chunk in records.chunks(1_000) {
                s.put_all(chunk).unwrap();
            }
            // two buffers were frozen; both reach the tables
            assert!(s.wait_idle(Duration::from_secs(20)));
            assert!(s.shared.buffers().frozen.is_none());
            assert_eq!(s.shared.tables.records.len().unwrap(), 10_000);
            // an update of a record in the tables
            s.apply(&[StoreOp::Update(Update::Report, vec![key(0)])], 2000)
                .unwrap();
            assert!(
                wal_files(&path).unwrap().len() <= 2,
                "{:?}",
                wal_files(&path)
            );
        }
        let s = FileStore::open_with(&path, options).unwrap();
        let r = s
            .apply(&[StoreOp::Get(key(0)), StoreOp::Get(key(n - 1))], 0)
            .unwrap();
        assert_eq!((r[0].r_count, r[0].r_updated), (2, 2000));
        assert_eq!(r[1].r_count, 1);
        assert_eq!(s.count().unwrap(), u64::from(n));
        // the metrics' gauges: key(0) is in the tables and in the buffer
        // (once the logs' records are in the tables, not also in a buffer)
        assert!(s.wait_idle(Duration::from_secs(20)));
        let g = s.gauges();
        assert!(
            (u64::from(n)..=u64::from(n) + 1).contains(&g.records.unwrap()),
            "{g:?}"
        );
        assert!(g.bytes.unwrap() > u64::from(n) * 24, "{g:?}");
        assert_eq!(g.queued, Some(0));
        // every third record is expired, but key(0), which was reported again
        assert_eq!(s.expire(500).unwrap(), 0);
        let expired = u64::from(n.div_ceil(3)) - 1;
        let mut live = 0u64;
        s.scan(&mut |r| {
            let (_, r) = r.unwrap();
            assert!(r.last_update() >= 500);
            live += 1;
        })
        .unwrap();
        assert_eq!(live, u64::from(n) - expired);
        assert_eq!(s.count().unwrap(), u64::from(n) - expired);
        let r = s
            .apply(&[StoreOp::Get(key(3)), StoreOp::Get(key(0))], 0)
            .unwrap();
        assert_eq!(r[0], Record::default());
        assert_eq!(r[1].r_count, 2);
        // once the replayed logs are in the tables, a compaction drops every
        // expired record (key(0)'s older version is merged away under its
        // newer one)
        assert!(s.wait_idle(Duration::from_secs(20)));
        s.shared.tables.records.major_compact().unwrap();
        assert_eq!(s.expire(500).unwrap(), expired);
        assert_eq!(s.count().unwrap(), u64::from(n) - expired);
        let r = s.apply(&[StoreOp::Get(key(0))], 0).unwrap();
        assert_eq!((r[0].r_count, r[0].r_updated), (2, 2000));
    }

    /// A record read from the tables (and kept by the row cache), then
    /// updated, reads back updated after its buffer went into the tables.
    #[test]
    fn the_row_cache_follows_the_tables() {
        let (_dir, s) = store_with_buffer(100);
        let fill = |from: u32| {
            let records: Vec<(Digest, Record)> = (from..from + 100)
                .map(|i| (key(i), Record::default()))
                .collect();
            s.put_all(&records).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while s.shared.buffers().frozen.is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        s.apply(&[StoreOp::Update(Update::Report, vec![d(7)])], 1)
            .unwrap();
        fill(1000);
        // from the tables, now in the row cache
        assert!(s.shared.buffers().get(&d(7)).is_none());
        assert_eq!(s.apply(&[StoreOp::Get(d(7))], 0).unwrap()[0].r_count, 1);
        assert!(s.shared.rows.get(&d(7)).is_some());
        s.apply(&[StoreOp::Update(Update::Report, vec![d(7)])], 2)
            .unwrap();
        fill(2000);
        assert!(s.shared.buffers().get(&d(7)).is_none());
        assert_eq!(s.apply(&[StoreOp::Get(d(7))], 0).unwrap()[0].r_count, 2);
    }

    /// The next log takes the buffer the ingester emptied (its memory
    /// stays mapped), and the ingester leaves the one it wrote, emptied.
    #[test]
    fn an_emptied_buffer_goes_to_the_next_log() {
        let (_dir, s) = store_with_buffer(5_000);
        // a spare that no fresh buffer of 5 000 records looks like
        let spare = new_buffer(50_000);
        let capacity = spare.capacity();
        assert!(capacity > 2 * new_buffer(5_000).capacity());
        *s.shared.spare.lock().unwrap() = Some(spare);
        let mut reported = Record::default();
        reported.report(7);
        let records: Vec<(Digest, Record)> = (0..5_000).map(|i| (key(i), reported)).collect();
        for chunk in records.chunks(1_000) {
            s.put_all(chunk).unwrap();
        }
        // frozen at 5 000: the active buffer is the spare
        assert_eq!(s.shared.buffers().active.capacity(), capacity);
        assert!(s.shared.buffers().active.is_empty());
        let deadline = Instant::now() + Duration::from_secs(20);
        let left = loop {
            if let Some(b) = s.shared.spare.lock().unwrap().as_ref() {
                break (b.len(), b.capacity());
            }
            assert!(Instant::now() < deadline, "no spare after the ingestion");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(left.0, 0);
        assert!(left.1 >= 5_000 && left.1 < capacity, "{left:?}");
        let gets: Vec<_> = (0..5_000).map(|i| StoreOp::Get(key(i))).collect();
        let got = s.apply(&gets, 0).unwrap();
        assert!(got.iter().all(|r| r.r_count == 1 && r.r_updated == 7));
        assert_eq!(s.count().unwrap(), 5_000);
    }

    /// A buffer emptied after the next one was made is not kept: with the
    /// active and the next, it would be a third in memory.
    #[test]
    fn a_spare_beside_a_made_next_buffer_is_let_go() {
        let (_dir, s) = store_with_buffer(5_000);
        let put = |keys: std::ops::Range<u32>| {
            let records: Vec<(Digest, Record)> =
                keys.map(|i| (key(i), Record::default())).collect();
            s.put_all(&records).unwrap();
        };
        put(0..4_000);
        // a spare with no next buffer made is kept
        *s.shared.spare.lock().unwrap() = Some(new_buffer(5_000));
        put(0..1);
        assert!(s.shared.spare.lock().unwrap().is_some());
        // 1 000 records would fill the buffer: the next one is made (from
        // the spare); as they are rewrites, the buffer does not freeze
        put(0..1_000);
        assert!(s.shared.spare.lock().unwrap().is_none());
        assert_eq!(s.shared.buffers().active.len(), 4_000);
        // a spare that comes now is let go at the next write
        *s.shared.spare.lock().unwrap() = Some(new_buffer(5_000));
        put(0..1);
        assert!(s.shared.spare.lock().unwrap().is_none());
    }

    /// A torn last frame (a crash in the middle of a write) is left out,
    /// whether its last bytes are still the zeros ahead or the file ends
    /// there; the frames before it are read.
    #[test]
    fn a_torn_log_tail_is_left_out() {
        for cut in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s");
            {
                let s = FileStore::open(&path).unwrap();
                s.apply(&[StoreOp::Update(Update::Report, vec![d(1)])], 1)
                    .unwrap();
                s.apply(&[StoreOp::Update(Update::Report, vec![d(2)])], 1)
                    .unwrap();
            }
            let (_, log) = wal_files(&path).unwrap().pop().unwrap();
            // the magic and two frames of one entry
            let end = (WAL_MAGIC.len() + 2 * (4 + ENTRY + 8)) as u64;
            assert_eq!(std::fs::metadata(&log).unwrap().len(), WAL_AHEAD);
            let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
            if cut {
                f.set_len(end - 3).unwrap();
            } else {
                use std::os::unix::fs::FileExt as _;
                f.write_all_at(&[0; 3], end - 3).unwrap();
            }
            drop(f);
            let s = FileStore::open(&path).unwrap();
            let r = s
                .apply(&[StoreOp::Get(d(1)), StoreOp::Get(d(2))], 0)
                .unwrap();
            assert_eq!((r[0].r_count, r[1].r_count), (1, 0), "cut: {cut}");
        }
    }

    /// A log is filled with zeros ahead of its frames, a step at a time,
    /// so that most syncs do not change its length; frames that cross
    /// into the next step are written whole and read back.
    #[test]
    fn a_log_grows_by_zeroed_steps_and_replays_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let per = 1000;
        // past the first step: 30 frames of 1 000 entries
        let n = 30 * per;
        assert!((n * ENTRY) as u64 > WAL_AHEAD);
        {
            let s = FileStore::open(&path).unwrap();
            let (_, log) = wal_files(&path).unwrap().pop().unwrap();
            let mut lengths = std::collections::BTreeSet::new();
            for b in 0..n / per {
                let ds = (b * per..(b + 1) * per).map(|i| key(i as u32)).collect();
                s.apply(&[StoreOp::Update(Update::Report, ds)], 5).unwrap();
                lengths.insert(std::fs::metadata(&log).unwrap().len());
            }
            assert_eq!(
                lengths.into_iter().collect::<Vec<_>>(),
                [WAL_AHEAD, 2 * WAL_AHEAD]
            );
        }
        let s = FileStore::open(&path).unwrap();
        let gets: Vec<_> = (0..n).map(|i| StoreOp::Get(key(i as u32))).collect();
        let r = s.apply(&gets, 0).unwrap();
        assert!(r.iter().all(|r| r.r_count == 1 && r.r_updated == 5));
    }

    /// Open for reading only: the tables and the logs are read, nothing is
    /// written (no new log), and writes are refused with an error.
    #[test]
    fn read_only_reads_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        {
            let s = FileStore::open(&path).unwrap();
            s.apply(&[StoreOp::Update(Update::Report, vec![d(1), d(2)])], 7)
                .unwrap();
        }
        let logs = wal_files(&path).unwrap();
        let s = FileStore::open_read_only(&path).unwrap();
        assert_eq!(s.apply(&[StoreOp::Get(d(2))], 0).unwrap()[0].r_count, 1);
        assert_eq!(s.count().unwrap(), 2);
        assert!(s.put_all(&[(d(3), Record::default())]).is_err());
        assert!(
            s.apply(&[StoreOp::Update(Update::Report, vec![d(3)])], 8)
                .is_err()
        );
        drop(s);
        assert_eq!(wal_files(&path).unwrap(), logs);
        assert!(FileStore::open_read_only(&dir.path().join("none")).is_err());
    }

    #[test]
    fn refuses_a_gdbm_file_and_an_earlier_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.db");
        std::fs::write(&path, 0x13579acfu32.to_le_bytes()).unwrap();
        let err = FileStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("gdbm"), "{err}");
        let path = dir.path().join("pyzord.redb");
        std::fs::write(&path, b"redb\x1A\x0A\xA9\x0D\x0A and the rest").unwrap();
        let err = FileStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("pyzord migrate --from file:"), "{err}");
    }

    /// With an interval, reports are answered before the sync and are
    /// there after the store is closed and opened again.
    #[test]
    fn interval_sync_keeps_what_was_answered_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let options = FileOptions {
            sync: SyncMode::Interval(Duration::from_secs(1)),
            ..FileOptions::default()
        };
        {
            let s = FileStore::open_with(&path, options).unwrap();
            for i in 0..100 {
                s.apply(&[StoreOp::Update(Update::Report, vec![d(5)])], i)
                    .unwrap();
            }
        }
        let s = FileStore::open(&path).unwrap();
        assert_eq!(s.apply(&[StoreOp::Get(d(5))], 0).unwrap()[0].r_count, 100);
    }

    /// Batches handed over from many threads at once are all completed,
    /// after their commit, each with its own reads; nothing is lost, and
    /// the store reopens with every count.
    #[test]
    fn concurrent_batches_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.store");
        {
            let s = Arc::new(FileStore::open(&path).unwrap());
            let (tx, rx) = mpsc::channel();
            let threads: Vec<_> = (0..8u8)
                .map(|t| {
                    let s = Arc::clone(&s);
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            let tx = tx.clone();
                            s.apply_then(
                                vec![
                                    StoreOp::Update(Update::Report, vec![d(t), d(200)]),
                                    StoreOp::Get(d(t)),
                                ],
                                1000 + i,
                                Box::new(move |r| tx.send((t, r)).unwrap()),
                            );
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            drop(tx);
            let mut seen = [0i64; 8];
            for (t, r) in rx {
                let r = r.unwrap();
                assert_eq!(r.len(), 1);
                // each thread's own reads grow one by one
                seen[usize::from(t)] += 1;
                assert_eq!(r[0].r_count, seen[usize::from(t)]);
            }
            assert_eq!(seen, [50; 8]);
            s.flush().unwrap();
            // after flush, the store refuses work with an error, not a hang
            let (tx, rx) = mpsc::channel();
            s.apply_then(
                vec![StoreOp::Update(Update::Report, vec![d(1)])],
                0,
                Box::new(move |r| tx.send(r.is_err()).unwrap()),
            );
            assert!(rx.recv().unwrap());
        }
        let s = FileStore::open(&path).unwrap();
        let r = s
            .apply(&[StoreOp::Get(d(200)), StoreOp::Get(d(3))], 0)
            .unwrap();
        assert_eq!(r[0].r_count, 400);
        assert_eq!(r[1].r_count, 50);
    }
}
