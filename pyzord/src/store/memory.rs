//! The `memory` store: sharded open-addressing tables of compact
//! records, for tests and ephemeral use. Nothing survives a restart.
//!
//! A record takes 44 bytes (the digest and [`Record::pack`]'s 24 bytes) in
//! a slot of a Robin Hood hash table filled to between 72 % and 90 %, so
//! that the store needs about 50-60 bytes a digest, at any size: tables
//! grow by a quarter, one shard at a time.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

use pyzor_core::Digest;

use super::{Bulk, Record, RecordMap, Store, StoreError, StoreGauges, StoreOp, Update, apply_to};

const SHARDS: usize = 256;

/// An in-memory store.
pub struct MemoryStore {
    shards: Vec<Mutex<Table>>,
}

/// Digests are SHA-1 outputs, nearly a hash already: the bytes are folded
/// and finished with a cheap 64-bit mixer (so that made-up digests, as in
/// tests and benches, spread as well).
#[derive(Clone, Copy, Default)]
pub struct DigestHash;

/// The hasher of [`DigestHash`].
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        // murmur3's fmix64
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut a = [0u8; 8];
            a[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(a);
        }
    }
}

impl BuildHasher for DigestHash {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher::default()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Table::default())).collect(),
        }
    }

    fn shard(&self, d: &Digest) -> (&Mutex<Table>, u64) {
        let h = hash(d);
        // The low bits choose the shard; the table's home slot comes from
        // the high bits (a multiply-high), so that a shard's keys spread
        // over its whole table.
        (&self.shards[(h as usize) % SHARDS], h)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|t| t.len).unwrap_or(0))
            .sum()
    }

    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The 64-bit hash of a digest ([`DigestHasher`]).
fn hash(d: &Digest) -> u64 {
    let mut h = DigestHasher::default();
    d.hash(&mut h);
    h.finish()
}

/// One slot: a digest and its packed record.
#[derive(Clone, Copy)]
struct Slot {
    key: [u8; 20],
    record: [u8; 24],
}

const EMPTY_SLOT: Slot = Slot {
    key: [0; 20],
    record: [0; 24],
};

/// A Robin Hood hash table with linear probing: every key sits at most as
/// far from its home slot as the keys it passed, so a lookup stops at the
/// first key nearer its own home than the sought one would be (a miss costs
/// a few probes even at 90 % load).
#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    /// One bit per slot: occupied.
    used: Vec<u64>,
    len: usize,
}

impl Table {
    fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn is_used(&self, i: usize) -> bool {
        self.used[i / 64] & (1 << (i % 64)) != 0
    }

    fn home(&self, h: u64) -> usize {
        ((u128::from(h) * self.capacity() as u128) >> 64) as usize
    }

    /// How far slot `i`'s key is from its home.
    fn distance(&self, i: usize) -> usize {
        let home = self.home(hash(&Digest(self.slots[i].key)));
        (i + self.capacity() - home) % self.capacity()
    }

    fn find(&self, key: &[u8; 20], h: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let cap = self.capacity();
        let mut i = self.home(h);
        for dist in 0..cap {
            if !self.is_used(i) {
                return None;
            }
            if self.slots[i].key == *key {
                return Some(i);
            }
            if self.distance(i) < dist {
                return None;
            }
            i = (i + 1) % cap;
        }
        None
    }

    fn get(&self, key: &[u8; 20], h: u64) -> Option<Record> {
        self.find(key, h)
            .map(|i| Record::unpack(&self.slots[i].record))
    }

    /// Places a key that is not in the table (there is room); returns its
    /// slot.
    fn place(&mut self, mut slot: Slot, h: u64) -> usize {
        let cap = self.capacity();
        let mut i = self.home(h);
        let mut dist = 0;
        let mut placed = None;
        loop {
            if !self.is_used(i) {
                self.slots[i] = slot;
                self.used[i / 64] |= 1 << (i % 64);
                self.len += 1;
                return placed.unwrap_or(i);
            }
            let theirs = self.distance(i);
            if theirs < dist {
                std::mem::swap(&mut self.slots[i], &mut slot);
                placed.get_or_insert(i);
                dist = theirs;
            }
            i = (i + 1) % cap;
            dist += 1;
        }
    }

    /// Room for one more key: the table grows by a quarter past 90 %.
    fn reserve_one(&mut self) {
        if (self.len + 1) * 10 > self.capacity() * 9 {
            self.rebuild((self.capacity() + self.capacity() / 4).max(64), |_| true);
        }
    }

    /// Moves the keys `keep` accepts into a table of `capacity` slots.
    fn rebuild(&mut self, capacity: usize, mut keep: impl FnMut(&Slot) -> bool) {
        let old = std::mem::replace(
            self,
            Table {
                slots: vec![EMPTY_SLOT; capacity],
                used: vec![0; capacity.div_ceil(64)],
                len: 0,
            },
        );
        for (i, slot) in old.slots.iter().enumerate() {
            if old.is_used(i) && keep(slot) {
                self.place(*slot, hash(&Digest(slot.key)));
            }
        }
    }

    fn put(&mut self, key: &[u8; 20], h: u64, record: &Record) {
        let packed = record.pack();
        match self.find(key, h) {
            Some(i) => self.slots[i].record = packed,
            None => {
                self.reserve_one();
                self.place(
                    Slot {
                        key: *key,
                        record: packed,
                    },
                    h,
                );
            }
        }
    }

    fn update(&mut self, key: &[u8; 20], h: u64, kind: Update, now: i64) {
        let i = match self.find(key, h) {
            Some(i) => i,
            None => {
                self.reserve_one();
                self.place(
                    Slot {
                        key: *key,
                        record: [0; 24],
                    },
                    h,
                )
            }
        };
        let mut r = Record::unpack(&self.slots[i].record);
        r.apply(kind, now);
        self.slots[i].record = r.pack();
    }

    /// Deletes records not updated since `cutoff`; returns how many.
    fn expire(&mut self, cutoff: i64) -> usize {
        let before = self.len;
        let keep = |s: &Slot| Record::unpack(&s.record).last_update() >= cutoff;
        let survivors = (0..self.capacity())
            .filter(|&i| self.is_used(i) && keep(&self.slots[i]))
            .count();
        if survivors < before {
            let capacity = if survivors == 0 {
                0
            } else {
                (survivors * 100 / 85).max(64)
            };
            self.rebuild(capacity, keep);
        }
        before - self.len
    }

    fn iter(&self) -> impl Iterator<Item = (Digest, Record)> + '_ {
        (0..self.capacity()).filter(|&i| self.is_used(i)).map(|i| {
            (
                Digest(self.slots[i].key),
                Record::unpack(&self.slots[i].record),
            )
        })
    }
}

impl Bulk for MemoryStore {
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.len() as u64)
    }

    fn stored(&self, r: &Record) -> Record {
        r.clamped()
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        for shard in &self.shards {
            let records: Vec<(Digest, Record)> = shard.lock().map_err(poisoned)?.iter().collect();
            for r in records {
                f(Ok(r));
            }
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        for (d, r) in records {
            let (shard, h) = self.shard(d);
            shard.lock().map_err(poisoned)?.put(&d.0, h, r);
        }
        Ok(())
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Other("memory store lock poisoned".into())
}

impl RecordMap for &MemoryStore {
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError> {
        let (shard, h) = self.shard(d);
        Ok(shard.lock().map_err(poisoned)?.get(&d.0, h))
    }

    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError> {
        let (shard, h) = self.shard(d);
        shard.lock().map_err(poisoned)?.put(&d.0, h, &r);
        Ok(())
    }

    /// Under the shard's lock: workers updating one digest at once each
    /// count.
    fn update(&mut self, d: &Digest, kind: Update, now: i64) -> Result<(), StoreError> {
        let (shard, h) = self.shard(d);
        shard.lock().map_err(poisoned)?.update(&d.0, h, kind, now);
        Ok(())
    }
}

impl Store for MemoryStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        apply_to(ops, now, &mut &*self)
    }

    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for shard in &self.shards {
            n += shard.lock().map_err(poisoned)?.expire(cutoff) as u64;
        }
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }

    fn gauges(&self) -> StoreGauges {
        let (mut records, mut bytes) = (0u64, 0u64);
        for shard in &self.shards {
            if let Ok(t) = shard.lock() {
                records += t.len as u64;
                bytes += (t.slots.capacity() * std::mem::size_of::<Slot>() + t.used.capacity() * 8)
                    as u64;
            }
        }
        StoreGauges {
            records: Some(records),
            bytes: Some(bytes),
            queued: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Update;

    #[test]
    fn concurrent_updates_of_one_digest_all_count() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let d = Digest([9; 20]);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        store
                            .apply(&[StoreOp::Update(Update::Report, vec![d])], 1)
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let got = store.apply(&[StoreOp::Get(d)], 2).unwrap();
        assert_eq!(got[0].r_count, 20_000);
    }

    /// Many keys (through several growths of every shard), some updated
    /// twice, misses, puts over existing keys, expiry and a scan agree with
    /// a std HashMap doing the same.
    #[test]
    fn agrees_with_a_hash_map() {
        use std::collections::HashMap;
        let store = MemoryStore::new();
        let mut model: HashMap<Digest, Record> = HashMap::new();
        let key = |i: u32| {
            let mut k = [0u8; 20];
            // made-up digests that share most bytes, as tests and benches
            // use, spread by the hash
            k[16..].copy_from_slice(&i.to_le_bytes());
            Digest(k)
        };
        for i in 0..200_000u32 {
            let d = key(i % 150_000);
            let now = i64::from(i);
            store
                .apply(&[StoreOp::Update(Update::Report, vec![d])], now)
                .unwrap();
            model.entry(d).or_default().report(now);
        }
        let put = Record {
            wl_count: 7,
            ..Record::default()
        };
        store
            .put_all(&[(key(3), put), (key(999_999), put)])
            .unwrap();
        model.insert(key(3), put);
        model.insert(key(999_999), put);
        assert_eq!(store.len(), model.len());
        for i in (0..160_000u32).step_by(7).chain([999_999]) {
            let got = store.apply(&[StoreOp::Get(key(i))], 0).unwrap()[0];
            assert_eq!(got, model.get(&key(i)).copied().unwrap_or_default(), "{i}");
        }
        let expired = store.expire(120_000).unwrap();
        let before = model.len();
        model.retain(|_, r| r.last_update() >= 120_000);
        assert_eq!(expired as usize, before - model.len());
        let mut scanned = HashMap::new();
        store
            .scan(&mut |r| {
                let (d, r) = r.unwrap();
                assert!(scanned.insert(d, r).is_none());
            })
            .unwrap();
        assert_eq!(scanned, model);
        // after expiry, lookups (hits and misses) still find their way
        for i in (0..160_000u32).step_by(5) {
            let got = store.apply(&[StoreOp::Get(key(i))], 0).unwrap()[0];
            assert_eq!(got, model.get(&key(i)).copied().unwrap_or_default(), "{i}");
        }
    }
}
