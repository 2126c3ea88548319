//! The `memory` store: a sharded concurrent map, for tests and ephemeral
//! use. Nothing survives a restart.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

use pyzor_core::Digest;

use super::{Bulk, Record, RecordMap, Store, StoreError, StoreOp, Update, apply_to};

const SHARDS: usize = 64;

/// An in-memory store.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<Digest, Record, DigestHash>>>,
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
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(DigestHash)))
                .collect(),
        }
    }

    fn shard(&self, d: &Digest) -> &Mutex<HashMap<Digest, Record, DigestHash>> {
        let mut h = DigestHasher::default();
        d.hash(&mut h);
        // Not the low bits (the map's bucket index) nor the top seven (its
        // tags): a shard whose keys shared those would crowd its buckets.
        &self.shards[((h.finish() >> 32) as usize) % SHARDS]
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Bulk for MemoryStore {
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.len() as u64)
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        for shard in &self.shards {
            let records: Vec<(Digest, Record)> = shard
                .lock()
                .map_err(poisoned)?
                .iter()
                .map(|(d, r)| (*d, *r))
                .collect();
            for r in records {
                f(Ok(r));
            }
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        for (d, r) in records {
            self.shard(d).lock().map_err(poisoned)?.insert(*d, *r);
        }
        Ok(())
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Other("memory store lock poisoned".into())
}

impl RecordMap for &MemoryStore {
    fn get(&mut self, d: &Digest) -> Result<Option<Record>, StoreError> {
        Ok(self.shard(d).lock().map_err(poisoned)?.get(d).copied())
    }

    fn put(&mut self, d: &Digest, r: Record) -> Result<(), StoreError> {
        self.shard(d).lock().map_err(poisoned)?.insert(*d, r);
        Ok(())
    }

    /// Under the shard's lock: workers updating one digest at once each
    /// count.
    fn update(&mut self, d: &Digest, kind: Update, now: i64) -> Result<(), StoreError> {
        self.shard(d)
            .lock()
            .map_err(poisoned)?
            .entry(*d)
            .or_default()
            .apply(kind, now);
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
            let mut m = shard.lock().map_err(poisoned)?;
            let before = m.len();
            m.retain(|_, r| r.last_update() >= cutoff);
            n += (before - m.len()) as u64;
        }
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
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
}
