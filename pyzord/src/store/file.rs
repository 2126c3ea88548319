//! The `file` store, pyzord-rs' default: a directory in the homedir
//! (`pyzord.store`) holding a fjall log-structured merge tree of compact
//! records (a 20-byte digest → [`Record::pack`]'s 24 bytes).
//!
//! Why an LSM: a public server sees mostly digests it has never seen, so
//! most reports insert and most checks miss. An LSM appends inserts to a
//! journal and a memtable and sorts them into files in the background, and
//! answers a miss from Bloom filters, where a B-tree rewrites a random page
//! per insert (BENCHMARKS.md has the engines side by side).
//!
//! Durable: a batch with updates is answered only after its journal write
//! is synced (`fdatasync`). Concurrent batches share one sync (group
//! commit): workers hand their batches to a committer thread through a
//! bounded queue and go on receiving; the committer applies everything that
//! has queued up as one atomic write batch, syncs once, then completes the
//! batches (which sends their replies). Under load the groups grow by
//! themselves. Batches of reads only are served directly by the workers.
//! [`SyncMode::Interval`] trades that promise for the reference's and
//! Redis' `everysec` behaviour: answered at once, synced at an interval.
//!
//! Memory is bounded by [`FileOptions::cache_bytes`] (blocks, Bloom
//! filters and indexes) plus the memtables ([`MEMTABLE`] each: the one
//! being filled and the ones being written out), whatever the size of the
//! database.
//!
//! A write that fails (disk full, read-only, an I/O or fsync error) fails
//! its batches, which are not acknowledged; fjall then refuses every write
//! until the database is opened again, while reads go on. The committer
//! refuses write batches at once meanwhile, and at most once a second
//! checks whether the directory takes a 1 MiB file; when it does, it opens
//! the database again (fjall recovers it from its journal; readers wait for
//! that) and writing goes on.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use pyzor_core::Digest;

use super::{
    Bulk, Completion, Record, RecordMap, Store, StoreError, StoreOp, apply_to, has_updates,
};

/// The keyspace that holds the records.
const KEYSPACE: &str = "digests_v2";

/// How many queued batches one commit takes at most.
const MAX_GROUP: usize = 256;

/// How many batches may wait for the committer; workers block beyond
/// (and the kernel's socket buffers absorb, then drop, the excess). Deep
/// enough for large groups under overload, short enough that what waits
/// is answered within the reference client's 5 s (scripts/bench-overload.sh:
/// 1 024 gave p99 4.0 s, 128 lost throughput).
const QUEUE: usize = 256;

/// Records examined per expiry chunk (so commits are not held up).
const EXPIRY_CHUNK: usize = 20_000;

/// The size at which a memtable is sealed and written out as a table: the
/// store holds one being filled and at most a few being written, besides
/// its cache.
pub const MEMTABLE: u64 = 32 << 20;

/// The journals' bound: what a restart after a crash replays at most.
const JOURNALS: u64 = 64 << 20;

/// When a report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Once it is on disk (synced): a crash loses nothing answered. The
    /// default.
    Commit,
    /// At once; the journal is synced every interval (Redis' `appendfsync
    /// everysec`, the reference's gdbm): a crash of the machine loses what
    /// was answered in the last interval (a crash of pyzord alone loses
    /// nothing: the journal is handed to the kernel before the answer).
    Interval(Duration),
}

/// How the file store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// When a report is answered.
    pub sync: SyncMode,
    /// The block cache (data blocks, Bloom filters, indexes), in bytes.
    pub cache_bytes: u64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            sync: SyncMode::Commit,
            cache_bytes: 256 << 20,
        }
    }
}

/// The open database: fjall's handle and the records' keyspace.
struct Engine {
    db: Database,
    records: Keyspace,
}

impl Engine {
    fn open(path: &Path, options: &FileOptions) -> Result<Engine, StoreError> {
        let db = Database::builder(path)
            .manual_journal_persist(true)
            .cache_size(options.cache_bytes)
            .max_journaling_size(JOURNALS)
            .open()
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        // Lookups mostly miss: keep the last level's Bloom filters too.
        let records = db
            .keyspace(KEYSPACE, || {
                KeyspaceCreateOptions::default()
                    .expect_point_read_hits(false)
                    .max_memtable_size(MEMTABLE)
            })
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        Ok(Engine { db, records })
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

    /// Writes records as one atomic batch and syncs the journal (or only
    /// hands it to the kernel).
    fn write(&self, records: &[(Digest, Record)], mode: PersistMode) -> Result<(), StoreError> {
        let mut batch = self.db.batch().durability(None);
        for (d, r) in records {
            batch.insert(&self.records, d.0, r.pack());
        }
        batch.commit().map_err(db_err)?;
        self.db.persist(mode).map_err(db_err)
    }
}

/// Where a batch of records' reads and writes meet in one commit: the
/// records this group changed, over the database.
struct GroupMap<'a> {
    engine: &'a Engine,
    changed: HashMap<Digest, Record>,
}

impl RecordMap for GroupMap<'_> {
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError> {
        match self.changed.get(d) {
            Some(r) => Ok(Some(*r)),
            None => self.engine.get(d),
        }
    }

    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError> {
        // What is written is what will be read back: packed.
        self.changed.insert(*d, r.clamped());
        Ok(())
    }
}

/// Records deleted by one expiry chunk, and the key to go on from.
type ExpiryReply = SyncSender<Result<(u64, Option<[u8; 20]>), StoreError>>;

enum Job {
    Apply {
        ops: Vec<StoreOp>,
        now: i64,
        done: Completion,
    },
    /// Expire records not updated since `cutoff`, starting at `from`;
    /// replies with how many were deleted and where to go on.
    Expire {
        cutoff: i64,
        from: [u8; 20],
        reply: ExpiryReply,
    },
}

/// The open database, which the committer may open again after a failed
/// write (see the module documentation).
struct Slot {
    engine: RwLock<Option<Arc<Engine>>>,
    path: PathBuf,
    options: FileOptions,
}

impl Slot {
    /// The database, for one operation.
    fn get(&self) -> Result<Arc<Engine>, StoreError> {
        let engine = self.engine.read().unwrap_or_else(|e| e.into_inner());
        engine.clone().ok_or_else(|| {
            StoreError::Other(format!(
                "{}: the database could not be opened again after a failed write",
                self.path.display()
            ))
        })
    }

    /// Closes the database and opens it again (fjall recovers from its
    /// journal). New readers wait meanwhile; the ones in progress are
    /// waited for, at most 10 s.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.engine.write().unwrap_or_else(|e| e.into_inner());
        if let Some(mut old) = slot.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match Arc::try_unwrap(old) {
                    Ok(engine) => {
                        drop(engine);
                        break;
                    }
                    Err(again) if Instant::now() < deadline => {
                        old = again;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(again) => {
                        *slot = Some(again);
                        return Err(StoreError::Other(
                            "readers held the database for 10 s; not opened again".into(),
                        ));
                    }
                }
            }
        }
        *slot = Some(Arc::new(Engine::open(&self.path, &self.options)?));
        Ok(())
    }

    /// Whether the database's directory takes a 1 MiB file now (written,
    /// synced and removed): worth opening the database again.
    fn writable(&self) -> bool {
        let probe = self
            .path
            .join(format!(".pyzord-space-probe-{}", std::process::id()));
        let ok = std::fs::File::create(&probe)
            .and_then(|mut f| {
                f.write_all(&vec![0u8; 1 << 20])?;
                f.sync_all()
            })
            .is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    }
}

/// The durable file store.
pub struct FileStore {
    slot: Arc<Slot>,
    jobs: Mutex<Option<SyncSender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

/// A failure of the database (disk full, I/O error, read-only): the store
/// is there, and reads may still work where writes fail.
fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Rejected(Box::new(e))
}

/// `true` if the file starts like a GNU dbm database (either byte order,
/// either magic of GDBM's formats), which the file store must not touch.
pub fn looks_like_gdbm(path: &Path) -> bool {
    use std::io::Read as _;
    let mut b = [0u8; 4];
    if std::fs::File::open(path)
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
    /// Opens (or creates) the database directory with the default options.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        FileStore::open_with(path, FileOptions::default())
    }

    /// Opens (or creates) the database directory.
    pub fn open_with(path: &Path, options: FileOptions) -> Result<FileStore, StoreError> {
        if path.is_file() {
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
            return Err(StoreError::Other(format!("{} is {what}", path.display())));
        }
        let engine = Engine::open(path, &options)?;
        let slot = Arc::new(Slot {
            engine: RwLock::new(Some(Arc::new(engine))),
            path: path.to_owned(),
            options,
        });
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let committer_slot = Arc::clone(&slot);
        let committer = std::thread::Builder::new()
            .name("pyzord-commit".into())
            .spawn(move || committer(&committer_slot, &rx))
            .map_err(|e| StoreError::Other(format!("cannot start the committer thread: {e}")))?;
        Ok(FileStore {
            slot,
            jobs: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
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
            .ok_or_else(|| StoreError::Other("file store is closed".into()))?;
        tx.send(job)
            .map_err(|_| StoreError::Other("the committer thread has stopped".into()))
    }

    /// Serves a batch of reads.
    fn read(&self, ops: &[StoreOp]) -> Result<Vec<Record>, StoreError> {
        let engine = self.slot.get()?;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if let StoreOp::Get(d) = op {
                out.push(engine.get(d)?.unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// Bytes the database takes on disk (tables and journals).
    pub fn disk_space(&self) -> Result<u64, StoreError> {
        self.slot.get()?.db.disk_space().map_err(db_err)
    }
}

impl Bulk for FileStore {
    /// Exact, by a scan of the keys (fjall keeps no count).
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.slot.get()?.records.len().map_err(db_err)? as u64)
    }

    fn stored(&self, r: &Record) -> Record {
        r.clamped()
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let engine = self.slot.get()?;
        for item in engine.records.iter() {
            let (k, v) = item.into_inner().map_err(db_err)?;
            let key = <[u8; 20]>::try_from(k.as_ref());
            let value = <&[u8; 24]>::try_from(v.as_ref());
            f(match (key, value) {
                (Ok(k), Ok(v)) => Ok((Digest(k), Record::unpack(v))),
                _ => Err(StoreError::Corrupt {
                    digest: k.iter().map(|b| format!("{b:02x}")).collect(),
                    reason: format!("a key of {} bytes and a record of {}", k.len(), v.len()),
                }),
            });
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        self.slot.get()?.write(records, PersistMode::SyncData)
    }
}

/// Completions of one commit, for the completer thread.
type Completed = Vec<(Completion, Result<Vec<Record>, StoreError>)>;

/// The committer: applies every queued batch as one write batch, syncs
/// once, then hands the batches to the completer thread (which sends their
/// replies) and goes on with the next group at once.
fn committer(slot: &Slot, rx: &Receiver<Job>) {
    // a write failed: fjall refuses writes until the database is opened
    // again (when the disk takes writes again)
    let mut failed: Option<Instant> = None;
    // with SyncMode::Interval: when the journal was last synced, and
    // whether anything was written since
    let mut synced = Instant::now();
    let mut unsynced = false;
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
    let interval = match slot.options.sync {
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
                let wait = if unsynced {
                    i.saturating_sub(synced.elapsed())
                } else {
                    Duration::from_secs(3600)
                };
                match rx.recv_timeout(wait) {
                    Ok(j) => j,
                    Err(RecvTimeoutError::Timeout) => {
                        sync_now(slot, &mut synced, &mut unsynced);
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
        if let Some(at) = failed
            && at.elapsed() >= Duration::from_secs(1)
        {
            if slot.writable() {
                match slot.reopen() {
                    Ok(()) => {
                        tracing::warn!(
                            "{}: opened again after a failed write; writing goes on",
                            slot.path.display()
                        );
                        failed = None;
                    }
                    Err(e) => {
                        tracing::error!("{e}");
                        failed = Some(Instant::now());
                    }
                }
            } else {
                failed = Some(Instant::now());
            }
        }
        let engine = slot.get();
        let mut applies = Vec::new();
        for job in group {
            match job {
                Job::Apply { ops, now, done } => applies.push((ops, now, done)),
                Job::Expire {
                    cutoff,
                    from,
                    reply,
                } => {
                    let r = match (&engine, failed) {
                        (Ok(engine), None) => expire_chunk(engine, cutoff, from),
                        _ => Err(not_writable(&slot.path)),
                    };
                    let _ = reply.send(r);
                }
            }
        }
        if applies.is_empty() {
            continue;
        }
        let mode = match interval {
            None => PersistMode::SyncData,
            Some(_) => PersistMode::Buffer,
        };
        let result = (|| -> Result<Vec<Result<Vec<Record>, StoreError>>, StoreError> {
            if failed.is_some() {
                return Err(not_writable(&slot.path));
            }
            let engine = engine?;
            let mut map = GroupMap {
                engine: &engine,
                changed: HashMap::new(),
            };
            let results: Vec<_> = applies
                .iter()
                .map(|(ops, now, _)| apply_to(ops, *now, &mut map))
                .collect();
            let changed: Vec<(Digest, Record)> = map.changed.into_iter().collect();
            engine.write(&changed, mode)?;
            Ok(results)
        })();
        let completed: Completed = match result {
            Ok(results) => {
                unsynced = true;
                if interval.is_some_and(|i| synced.elapsed() >= i) {
                    sync_now(slot, &mut synced, &mut unsynced);
                }
                applies
                    .into_iter()
                    .zip(results)
                    .map(|((_, _, done), r)| (done, r))
                    .collect()
            }
            Err(e) => {
                if failed.is_none() {
                    failed = Some(Instant::now());
                }
                let text = match &e {
                    StoreError::Rejected(cause) => crate::store::causes(cause.as_ref()),
                    other => other.to_string(),
                };
                applies
                    .into_iter()
                    .map(|(_, _, done)| {
                        (
                            done,
                            Err(StoreError::Rejected(Box::new(std::io::Error::other(
                                text.clone(),
                            )))),
                        )
                    })
                    .collect()
            }
        };
        complete(completed);
    }
    if unsynced {
        sync_now(slot, &mut synced, &mut unsynced);
    }
    drop(done_tx);
    if let Ok(h) = completer {
        let _ = h.join();
    }
}

/// Syncs the journal (with [`SyncMode::Interval`]).
fn sync_now(slot: &Slot, synced: &mut Instant, unsynced: &mut bool) {
    let r = slot
        .get()
        .and_then(|e| e.db.persist(PersistMode::SyncData).map_err(db_err));
    if let Err(e) = r {
        tracing::error!(
            "{}: sync failed: {}",
            slot.path.display(),
            crate::store::causes(&e)
        );
    }
    *synced = Instant::now();
    *unsynced = false;
}

/// The error of a write while the database refuses writes.
fn not_writable(path: &Path) -> StoreError {
    StoreError::Rejected(Box::new(std::io::Error::other(format!(
        "{}: a write failed (disk full, read-only or an I/O error); writes are refused until the disk takes them again",
        path.display()
    ))))
}

fn expire_chunk(
    engine: &Engine,
    cutoff: i64,
    from: [u8; 20],
) -> Result<(u64, Option<[u8; 20]>), StoreError> {
    let mut doomed = Vec::new();
    let mut next = None;
    for (seen, item) in engine.records.range(from..).enumerate() {
        let (k, v) = item.into_inner().map_err(db_err)?;
        let Ok(key) = <[u8; 20]>::try_from(k.as_ref()) else {
            continue;
        };
        if seen >= EXPIRY_CHUNK {
            next = Some(key);
            break;
        }
        // a record that cannot be read is left for `migrate` to report
        if let Ok(b) = <&[u8; 24]>::try_from(v.as_ref())
            && Record::unpack(b).last_update() < cutoff
        {
            doomed.push(key);
        }
    }
    if !doomed.is_empty() {
        let mut batch = engine.db.batch().durability(None);
        for k in &doomed {
            batch.remove(&engine.records, *k);
        }
        batch.commit().map_err(db_err)?;
        engine.db.persist(PersistMode::SyncData).map_err(db_err)?;
    }
    Ok((doomed.len() as u64, next))
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
        answer
            .recv()
            .map_err(|_| StoreError::Other("the committer thread has stopped".into()))?
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
            return done(Err(StoreError::Other("file store is closed".into())));
        };
        if let Err(mpsc::SendError(job)) = tx.send(Job::Apply { ops, now, done })
            && let Job::Apply { done, .. } = job
        {
            done(Err(StoreError::Other(
                "the committer thread has stopped".into(),
            )));
        }
    }

    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        let mut from = [0u8; 20];
        loop {
            let (reply, answer) = mpsc::sync_channel(1);
            self.send(Job::Expire {
                cutoff,
                from,
                reply,
            })?;
            let (n, next) = answer
                .recv()
                .map_err(|_| StoreError::Other("the committer thread has stopped".into()))??;
            total += n;
            match next {
                Some(k) => from = k,
                None => return Ok(total),
            }
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every commit is durable already (or is synced as the committer
        // stops); stop the committer cleanly.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Ok(mut handle) = self.committer.lock()
            && let Some(h) = handle.take()
            // (the last reference may go away in a completion, on the
            // committer itself, which then ends by itself)
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file ({})", self.slot.path.display())
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
        assert_eq!(s.expire(200).unwrap(), 2);
        let mut left = Vec::new();
        s.scan(&mut |r| left.push(r.unwrap().0)).unwrap();
        assert_eq!(left, vec![d(3)]);
        let r = s.apply(&[StoreOp::Get(d(1))], 0).unwrap();
        assert_eq!(r[0], Record::default());
    }

    /// Expiry goes chunk by chunk over more records than one chunk holds.
    #[test]
    fn expires_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::open(&dir.path().join("s")).unwrap();
        let records: Vec<(Digest, Record)> = (0..50_000u32)
            .map(|i| {
                let mut k = [0u8; 20];
                k[..4].copy_from_slice(&i.to_be_bytes());
                let mut r = Record::default();
                r.report(if i % 3 == 0 { 10 } else { 1000 });
                (Digest(k), r)
            })
            .collect();
        s.put_all(&records).unwrap();
        assert_eq!(s.expire(500).unwrap(), 16_667);
        let mut n = 0;
        s.scan(&mut |r| {
            assert_eq!(r.unwrap().1.r_updated, 1000);
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 33_333);
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
