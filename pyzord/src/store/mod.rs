//! Where digests are counted: the [`Store`] trait, the record it keeps per
//! digest, and the backends: `memory` (always there), `file` (fjall; Cargo
//! feature `file`, which also reads the earlier redb format in `legacy`),
//! `gdbm` (pyzord 1.1.2's database; feature `gdbm`), and `redis` and
//! `redis_cluster` (the reference's Redis layout on one Redis or a Redis
//! Cluster; feature `redis`), and `mysql` (the reference's MySQL/MariaDB
//! table; feature `mysql`).

use pyzor_core::{Counts, Digest, InfoTimes};

#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "gdbm")]
pub mod gdbm;
#[cfg(feature = "file")]
pub mod legacy;
pub mod memory;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
pub mod redis_cluster;

/// What the server knows about one digest. Times are Unix seconds, 0 for
/// never (the wire form of `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    /// Spam reports.
    pub r_count: i64,
    /// First report.
    pub r_entered: i64,
    /// Last report.
    pub r_updated: i64,
    /// Whitelist reports.
    pub wl_count: i64,
    /// First whitelist.
    pub wl_entered: i64,
    /// Last whitelist.
    pub wl_updated: i64,
}

impl Record {
    /// One more spam report at `now`: the count saturates at `i64::MAX`
    /// (pyzord's overflow guard), `r_entered` is set once, `r_updated`
    /// every time.
    pub fn report(&mut self, now: i64) {
        self.r_count = self.r_count.saturating_add(1);
        if self.r_entered == 0 {
            self.r_entered = now;
        }
        self.r_updated = now;
    }

    /// One more whitelist report at `now` (see [`Record::report`]).
    pub fn whitelist(&mut self, now: i64) {
        self.wl_count = self.wl_count.saturating_add(1);
        if self.wl_entered == 0 {
            self.wl_entered = now;
        }
        self.wl_updated = now;
    }

    /// Applies an update.
    pub fn apply(&mut self, kind: Update, now: i64) {
        match kind {
            Update::Report => self.report(now),
            Update::Whitelist => self.whitelist(now),
        }
    }

    /// The counts of a check.
    pub fn counts(&self) -> Counts {
        Counts {
            count: self.r_count,
            wl_count: self.wl_count,
        }
    }

    /// The timestamps of an info.
    pub fn times(&self) -> InfoTimes {
        InfoTimes {
            entered: self.r_entered,
            updated: self.r_updated,
            wl_entered: self.wl_entered,
            wl_updated: self.wl_updated,
        }
    }

    /// When the record was last updated (either kind), for expiry.
    pub fn last_update(&self) -> i64 {
        self.r_updated.max(self.wl_updated)
    }

    /// The six fields in their order: report count, first and last report,
    /// whitelist count, first and last whitelist.
    pub fn fields(&self) -> [i64; 6] {
        [
            self.r_count,
            self.r_entered,
            self.r_updated,
            self.wl_count,
            self.wl_entered,
            self.wl_updated,
        ]
    }

    /// A record from [`Record::fields`].
    pub fn from_fields(f: [i64; 6]) -> Record {
        let [
            r_count,
            r_entered,
            r_updated,
            wl_count,
            wl_entered,
            wl_updated,
        ] = f;
        Record {
            r_count,
            r_entered,
            r_updated,
            wl_count,
            wl_entered,
            wl_updated,
        }
    }

    /// The compact form our own stores keep (the file store on disk, the
    /// memory store in RAM): six little-endian `u32`, 24 bytes. Counts
    /// saturate at 4 294 967 295 and times (Unix seconds) are clamped to
    /// 0..=4 294 967 295 (year 2106); the reference's text formats live at
    /// the gdbm, Redis and migrate edges.
    pub fn pack(&self) -> [u8; 24] {
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        let mut out = [0u8; 24];
        for (i, v) in self.fields().into_iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&clamp(v).to_le_bytes());
        }
        out
    }

    /// Decodes [`Record::pack`].
    pub fn unpack(b: &[u8; 24]) -> Record {
        Record::from_fields(std::array::from_fn(|i| {
            i64::from(u32::from_le_bytes([
                b[i * 4],
                b[i * 4 + 1],
                b[i * 4 + 2],
                b[i * 4 + 3],
            ]))
        }))
    }

    /// The record as [`Record::pack`] keeps it (counts and times clamped
    /// to `u32`).
    pub fn clamped(&self) -> Record {
        Record::unpack(&self.pack())
    }
}

/// A counting operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Update {
    /// Spam.
    Report,
    /// Ham.
    Whitelist,
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Read a record (check, info): missing means all zeros, and a read
    /// never creates a record.
    Get(Digest),
    /// Count every digest once more (duplicates included), in order.
    Update(Update, Vec<Digest>),
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (Redis down, paused, unreachable).
    /// The text pyzord answers with is the reference's. The server then
    /// answers at once until the database is back (see `server`).
    #[error("Database temporarily unavailable.")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database is there but failed the operation (Redis full under
    /// `noeviction` or read-only; a file that cannot be written): the
    /// reference's text too, but other operations may still work.
    #[error("Database temporarily unavailable.")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record cannot be read.
    #[error("invalid record for {digest}: {reason}")]
    Corrupt {
        /// The digest.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Unavailable`].
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Unavailable(Box::new(e))
    }
}

/// An error and its causes, as one line (`Database temporarily
/// unavailable.: Connection refused (os error 111)`).
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{}: {more}", text.trim_end_matches('.'));
        }
        source = s.source();
    }
    text
}

/// What [`Store::apply_then`] calls with the batch's result.
pub type Completion = Box<dyn FnOnce(Result<Vec<Record>, StoreError>) + Send>;

/// A digest database. Implementations are shared by all worker threads.
///
/// [`Store::apply`] takes a whole batch (the requests one worker received
/// at once) and applies it in order — a read sees the updates before it —
/// and durably before it returns: pyzord answers only afterwards. It
/// returns one record per [`StoreOp::Get`], in order.
pub trait Store: Send + Sync {
    /// Applies a batch at time `now` (Unix seconds); returns the records
    /// read.
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError>;

    /// Applies a batch like [`Store::apply`] and calls `done` with the
    /// result once it is durable — possibly later and on another thread,
    /// so that the caller can go on receiving while a commit is under way
    /// (the file store's group commit). A store that queues batches bounds
    /// its queue: this call blocks while the queue is full. The default
    /// applies synchronously.
    fn apply_then(&self, ops: Vec<StoreOp>, now: i64, done: Completion) {
        done(self.apply(&ops, now));
    }

    /// `true` if [`Store::apply_then`] completes batches with writes later
    /// (a group commit) while it serves reads at once: the server then
    /// answers a batch's reads without waiting for its writes.
    fn defers_writes(&self) -> bool {
        false
    }

    /// Expires the records not updated since `cutoff`: from this call on
    /// they are absent. Returns how many were deleted. The file store
    /// deletes lazily, as its tables are compacted: it returns how many
    /// it dropped since the last call.
    fn expire(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Makes everything durable (on shutdown).
    fn flush(&self) -> Result<(), StoreError>;

    /// A short description for the logs.
    fn describe(&self) -> String;

    /// The store's size and backlog, for the metrics endpoint. Called on
    /// every scrape, so it is cheap: counters and file sizes, never a
    /// network round trip (a Redis or MySQL server is watched by its own
    /// exporter). The default knows nothing.
    fn gauges(&self) -> StoreGauges {
        StoreGauges::default()
    }
}

/// What [`Store::gauges`] knows; `None` where a store cannot tell cheaply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// Digests stored. The file store's figure is approximate: the records
    /// in its tables plus those in its write buffers, so a digest updated
    /// since its buffer was last ingested counts twice, and an expired
    /// record counts, until a compaction rewrites its table.
    pub records: Option<u64>,
    /// Bytes the store takes: on disk for the file and gdbm stores, in
    /// memory for the memory store.
    pub bytes: Option<u64>,
    /// Batches of writes taken but not yet committed (the file store's
    /// group-commit queue).
    pub queued: Option<u64>,
}

/// Whole-database access, for migration and statistics.
pub trait Bulk {
    /// Number of records (for a progress bar: may count invalid ones too).
    fn count(&self) -> Result<u64, StoreError>;

    /// Calls `f` with every record; a record that cannot be read comes as
    /// an error naming its key ([`StoreError::Corrupt`]) and the scan goes
    /// on. An error returned stops the scan (the database failed).
    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError>;

    /// Writes records as they are (replacing any with the same digest),
    /// durably.
    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError>;

    /// The record as this database keeps it (what reading back a record
    /// written with [`Bulk::put_all`] gives): ours keep counts and times in
    /// `u32` ([`Record::pack`]).
    fn stored(&self, r: &Record) -> Record {
        *r
    }
}

/// A map from digests to records that a batch is applied to (the memory
/// store's shards, a file store transaction).
pub(crate) trait RecordMap {
    /// The record of a digest, if any.
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError>;
    /// Stores a record.
    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError>;
    /// Applies one update to a digest's record. The default reads, changes
    /// and writes back, which is right for a map one writer holds (a
    /// transaction); a map shared by workers does it under one lock, or
    /// concurrent updates of one digest would be lost.
    fn update(&mut self, d: &Digest, kind: Update, now: i64) -> Result<(), StoreError> {
        let mut r = self.get(d)?.unwrap_or_default();
        r.apply(kind, now);
        self.put(d, r)
    }
}

/// Applies a batch to a [`RecordMap`], in order; returns the records read.
pub(crate) fn apply_to(
    ops: &[StoreOp],
    now: i64,
    map: &mut impl RecordMap,
) -> Result<Vec<Record>, StoreError> {
    let mut reads = Vec::new();
    for op in ops {
        match op {
            StoreOp::Get(d) => reads.push(map.get(d)?.unwrap_or_default()),
            StoreOp::Update(kind, digests) => {
                for d in digests {
                    map.update(d, *kind, now)?;
                }
            }
        }
    }
    Ok(reads)
}

/// `true` if the batch changes anything.
#[cfg(feature = "file")]
pub(crate) fn has_updates(ops: &[StoreOp]) -> bool {
    ops.iter().any(|o| matches!(o, StoreOp::Update(..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_semantics() {
        let mut r = Record::default();
        r.report(100);
        r.report(200);
        assert_eq!((r.r_count, r.r_entered, r.r_updated), (2, 100, 200));
        assert_eq!((r.wl_count, r.wl_entered, r.wl_updated), (0, 0, 0));
        r.whitelist(300);
        assert_eq!(r.last_update(), 300);
        r.r_count = i64::MAX;
        r.report(400);
        assert_eq!(r.r_count, i64::MAX);
        // packed, counts saturate and times clamp to u32
        let packed = Record::unpack(&r.pack());
        assert_eq!(packed.r_count, i64::from(u32::MAX));
        assert_eq!((packed.r_entered, packed.wl_updated), (100, 300));
        let odd = Record {
            r_entered: -5,
            wl_updated: 1 << 40,
            ..Record::default()
        };
        assert_eq!(
            (odd.clamped().r_entered, odd.clamped().wl_updated),
            (0, i64::from(u32::MAX))
        );
    }
}
