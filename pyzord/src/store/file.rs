//! The `file` store, pyzord-rs' default: one redb database file in the
//! homedir.
//!
//! Durable: a batch with updates is answered only after its write
//! transaction is committed (fsync'ed). Concurrent batches share one
//! commit (group commit): workers hand their batches to a committer
//! thread through a bounded queue and go on receiving; the committer
//! applies everything that has queued up in one transaction, commits, and
//! then completes the batches (which sends their replies). Under load the
//! groups grow by themselves: what arrives during one fsync is committed
//! by the next. Batches of reads only are served directly by the workers
//! from a read transaction (redb is MVCC: readers never wait for the
//! writer).
//!
//! A write that fails (disk full, read-only, an I/O or fsync error) fails
//! its batches, which are not acknowledged; redb then refuses every write
//! until the database is opened again, while reads go on. The committer
//! refuses write batches at once meanwhile, and at most once a second
//! checks whether the directory takes a 1 MiB file; when it does, it opens
//! the database again (redb repairs it from its last commit; readers wait
//! for that) and writing goes on.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyzor_core::Digest;
use redb::{
    Database, Key, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TypeName, Value,
};

use super::{
    Bulk, Completion, Record, RecordMap, Store, StoreError, StoreOp, apply_to, has_updates,
};

/// Digest → record (six little-endian i64, see [`Record::to_bytes`]).
const DIGESTS: TableDefinition<DigestKey, [u8; 48]> = TableDefinition::new("digests_v1");

/// A digest as a redb key: 20 bytes compared with one `memcmp` (redb's
/// `[u8; 20]` compares byte by byte through a call each, which showed at
/// the top of the committer's profile).
#[derive(Debug)]
struct DigestKey;

impl Value for DigestKey {
    type SelfType<'a> = [u8; 20];
    type AsBytes<'a> = [u8; 20];

    fn fixed_width() -> Option<usize> {
        Some(20)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> [u8; 20]
    where
        Self: 'a,
    {
        let mut k = [0u8; 20];
        // redb hands back what as_bytes gave it: always 20 bytes
        let n = data.len().min(20);
        k[..n].copy_from_slice(&data[..n]);
        k
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a [u8; 20]) -> [u8; 20]
    where
        Self: 'b,
    {
        *value
    }

    fn type_name() -> TypeName {
        TypeName::new("pyzord::Digest")
    }
}

impl Key for DigestKey {
    fn compare(data1: &[u8], data2: &[u8]) -> std::cmp::Ordering {
        data1.cmp(data2)
    }
}

/// How many queued batches one commit takes at most.
const MAX_GROUP: usize = 256;

/// How many batches may wait for the committer; workers block beyond
/// (and the kernel's socket buffers absorb, then drop, the excess). Deep
/// enough for large groups under overload, short enough that what waits
/// is answered within the reference client's 5 s (scripts/bench-overload.sh:
/// 1 024 gave p99 4.0 s, 128 lost throughput).
const QUEUE: usize = 256;

/// Records examined per expiry transaction (so commits are not held up).
const EXPIRY_CHUNK: usize = 20_000;

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
    db: RwLock<Option<Arc<Database>>>,
    path: PathBuf,
}

impl Slot {
    /// The database, for one transaction.
    fn get(&self) -> Result<Arc<Database>, StoreError> {
        let db = self.db.read().unwrap_or_else(|e| e.into_inner());
        db.clone().ok_or_else(|| {
            StoreError::Other(format!(
                "{}: the database could not be opened again after a failed write",
                self.path.display()
            ))
        })
    }

    /// Closes the database and opens it again (redb repairs a database
    /// whose last write failed). New readers wait meanwhile; the ones in
    /// progress are waited for, at most 10 s.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        if let Some(mut old) = slot.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
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
        let db = Database::create(&self.path)
            .map_err(|e| StoreError::Other(format!("{}: {e}", self.path.display())))?;
        *slot = Some(Arc::new(db));
        Ok(())
    }

    /// Whether the database's directory takes a 1 MiB file now (written,
    /// synced and removed): worth opening the database again.
    fn writable(&self) -> bool {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let probe = dir.join(format!(".pyzord-space-probe-{}", std::process::id()));
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
    db: Arc<Slot>,
    path: PathBuf,
    jobs: Mutex<Option<SyncSender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

/// A failure of the database file (disk full, I/O error, read-only): the
/// store is there, and reads may still work where writes fail.
fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Rejected(Box::new(e))
}

/// `true` if the file starts like a GNU dbm database (either byte order,
/// either magic of GDBM's formats), which the file store must not touch.
pub fn looks_like_gdbm(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path).map(|b| b.into_iter().take(4).collect::<Vec<u8>>()) else {
        return false;
    };
    if bytes.len() < 4 {
        return false;
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let magic_be = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    const GDBM: [u32; 6] = [
        0x13579ace, 0x13579acd, 0x13579acf, 0x13579ad0, 0x13579ad1, 0x13579acc,
    ];
    GDBM.contains(&magic) || GDBM.contains(&magic_be)
}

impl FileStore {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        if looks_like_gdbm(path) {
            return Err(StoreError::Other(format!(
                "{} is a gdbm database (pyzord 1.1.2's default engine), not a file-store database",
                path.display()
            )));
        }
        let db = Database::create(path)
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        // make sure the table exists, so that readers can open it
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(DIGESTS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        let db = Arc::new(Slot {
            db: RwLock::new(Some(Arc::new(db))),
            path: path.to_owned(),
        });
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let committer_db = Arc::clone(&db);
        let committer = std::thread::Builder::new()
            .name("pyzord-commit".into())
            .spawn(move || committer(&committer_db, &rx))
            .map_err(|e| StoreError::Other(format!("cannot start the committer thread: {e}")))?;
        Ok(FileStore {
            db,
            path: path.to_owned(),
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

    /// Serves a batch of reads from a read transaction.
    fn read(&self, ops: &[StoreOp]) -> Result<Vec<Record>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(db_err)?;
        let table = txn.open_table(DIGESTS).map_err(db_err)?;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if let StoreOp::Get(d) = op {
                out.push(
                    table
                        .get(d.0)
                        .map_err(db_err)?
                        .map(|v| Record::from_bytes(&v.value()))
                        .unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}

impl Bulk for FileStore {
    fn count(&self) -> Result<u64, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(db_err)?;
        let table = txn.open_table(DIGESTS).map_err(db_err)?;
        table.len().map_err(db_err)
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let txn = self.db.get()?.begin_read().map_err(db_err)?;
        let table = txn.open_table(DIGESTS).map_err(db_err)?;
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            f(Ok((Digest(k.value()), Record::from_bytes(&v.value()))));
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        let txn = self.db.get()?.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(DIGESTS).map_err(db_err)?;
            for (d, r) in records {
                table.insert(d.0, r.to_bytes()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }
}

struct TxnMap<'a>(redb::Table<'a, DigestKey, [u8; 48]>);

impl RecordMap for TxnMap<'_> {
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError> {
        Ok(self
            .0
            .get(d.0)
            .map_err(db_err)?
            .map(|v| Record::from_bytes(&v.value())))
    }

    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError> {
        self.0.insert(d.0, r.to_bytes()).map_err(db_err)?;
        Ok(())
    }
}

/// Completions of one commit, for the completer thread.
type Completed = Vec<(Completion, Result<Vec<Record>, StoreError>)>;

/// The committer: applies every queued batch in one write transaction,
/// commits once, then hands the batches to the completer thread (which
/// sends their replies) and goes on with the next group at once.
fn committer(slot: &Slot, rx: &Receiver<Job>) {
    // a write failed: redb refuses writes until the database is opened
    // again (when the disk takes writes again)
    let mut failed: Option<Instant> = None;
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
    while let Ok(first) = rx.recv() {
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
        let db = slot.get();
        let mut applies = Vec::new();
        for job in group {
            match job {
                Job::Apply { ops, now, done } => applies.push((ops, now, done)),
                Job::Expire {
                    cutoff,
                    from,
                    reply,
                } => {
                    let r = match (&db, failed) {
                        (Ok(db), None) => expire_chunk(db, cutoff, from),
                        _ => Err(not_writable(&slot.path)),
                    };
                    let _ = reply.send(r);
                }
            }
        }
        if applies.is_empty() {
            continue;
        }
        let result = (|| -> Result<Vec<Result<Vec<Record>, StoreError>>, StoreError> {
            if failed.is_some() {
                return Err(not_writable(&slot.path));
            }
            let db = db?;
            let txn = db.begin_write().map_err(db_err)?;
            let mut results = Vec::with_capacity(applies.len());
            {
                let mut map = TxnMap(txn.open_table(DIGESTS).map_err(db_err)?);
                for (ops, now, _) in &applies {
                    results.push(apply_to(ops, *now, &mut map));
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(results)
        })();
        let completed: Completed = match result {
            Ok(results) => applies
                .into_iter()
                .zip(results)
                .map(|((_, _, done), r)| (done, r))
                .collect(),
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
    drop(done_tx);
    if let Ok(h) = completer {
        let _ = h.join();
    }
}

/// The error of a write while the database refuses writes.
fn not_writable(path: &Path) -> StoreError {
    StoreError::Rejected(Box::new(std::io::Error::other(format!(
        "{}: a write failed (disk full, read-only or an I/O error); writes are refused until the disk takes them again",
        path.display()
    ))))
}

fn expire_chunk(
    db: &Database,
    cutoff: i64,
    from: [u8; 20],
) -> Result<(u64, Option<[u8; 20]>), StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    let mut deleted = 0;
    let next;
    {
        let mut table = txn.open_table(DIGESTS).map_err(db_err)?;
        let mut doomed = Vec::new();
        let mut last = None;
        let mut seen = 0;
        for item in table.range(from..).map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            seen += 1;
            if seen > EXPIRY_CHUNK {
                last = Some(k.value());
                break;
            }
            if Record::from_bytes(&v.value()).last_update() < cutoff {
                doomed.push(k.value());
            }
        }
        for k in doomed {
            table.remove(k).map_err(db_err)?;
            deleted += 1;
        }
        next = last;
    }
    txn.commit().map_err(db_err)?;
    Ok((deleted, next))
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
        // Every commit is durable already; stop the committer cleanly.
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
        format!("file ({})", self.path.display())
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
        let path = dir.path().join("db.redb");
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
        assert_eq!(s.count().unwrap(), 1);
    }

    #[test]
    fn refuses_a_gdbm_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.db");
        std::fs::write(&path, 0x13579acfu32.to_le_bytes()).unwrap();
        let err = FileStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("gdbm"), "{err}");
    }

    /// Batches handed over from many threads at once are all completed,
    /// after their commit, each with its own reads; nothing is lost, and
    /// the store reopens with every count.
    #[test]
    fn concurrent_batches_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
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
