//! The file store's filter of the digests in its tables: a blocked Bloom
//! filter that answers most misses in memory, in one cache line, before
//! a lookup reaches fjall.
//!
//! fjall keeps a Bloom filter per table, and a miss probes one table of
//! each level (and every table of level 0), each probe several cache
//! misses plus the search for the table and its filter block. At 10^7
//! records that made a miss cost three times what it costs on a small
//! store (BENCHMARKS.md). This one filter covers every table: a key
//! selects one 32-byte block, in which it sets (and tests) eight bits,
//! one in each 32-bit word.
//!
//! Every key written into the tables is added before the write buffer
//! that held it stops being read, so the filter holds a superset of the
//! tables' keys: it can say "maybe" for a key that is absent (about
//! 0.2 % of misses at [`BITS_PER_KEY`]), never "no" for one that is
//! there. Removed and expired keys stay in it until it is rebuilt, which
//! happens when its keys outgrow it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use pyzor_core::Digest;

/// Bits per key at the filter's capacity (a false positive rate of about
/// 0.2 %; twice the keys would give about 2.5 %).
pub(super) const BITS_PER_KEY: u64 = 16;

/// The fewest keys a filter is made for (128 KiB).
pub(super) const MIN_CAPACITY: u64 = 1 << 16;

/// Odd multipliers that derive a block's eight bit positions from a key's
/// hash, one per word.
const SALT: [u32; 8] = [
    0x9e37_79b1,
    0x85eb_ca77,
    0xc2b2_ae3d,
    0x27d4_eb2f,
    0x1656_67b1,
    0xd3a2_646d,
    0xfd70_46c5,
    0xb55a_4f09,
];

/// One cache line's half: the eight words a key's bits go in.
#[repr(align(32))]
#[derive(Default)]
struct Block([AtomicU32; 8]);

/// A blocked Bloom filter of digests, shared by readers and writers
/// without a lock (bits are only ever set).
pub(super) struct KeyFilter {
    blocks: Box<[Block]>,
    seed: u64,
    capacity: u64,
    /// Keys that set at least one bit: distinct keys, but for false
    /// positives.
    keys: AtomicU64,
}

impl KeyFilter {
    /// An empty filter for `capacity` keys (at least [`MIN_CAPACITY`]) of
    /// at most `max_bytes` (at least one block); keys are hashed with
    /// `seed`, so that chosen digests cannot crowd one block.
    pub(super) fn new(capacity: u64, max_bytes: u64, seed: u64) -> KeyFilter {
        let capacity = capacity.max(MIN_CAPACITY);
        let want = capacity.saturating_mul(BITS_PER_KEY) / 256;
        let most = (max_bytes / 32).max(1);
        let n = usize::try_from(want.clamp(1, most)).unwrap_or(usize::MAX);
        let blocks: Box<[Block]> = (0..n).map(|_| Block::default()).collect();
        KeyFilter {
            capacity: blocks.len() as u64 * 256 / BITS_PER_KEY,
            blocks,
            seed,
            keys: AtomicU64::new(0),
        }
    }

    /// The keys it holds at [`BITS_PER_KEY`].
    pub(super) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The keys added (each counted once, but for false positives).
    pub(super) fn keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed)
    }

    /// Its size in bytes.
    pub(super) fn bytes(&self) -> u64 {
        self.blocks.len() as u64 * 32
    }

    /// The index of a key's block, and the 32 bits that place its bits in
    /// it.
    fn locate(&self, d: &Digest) -> (usize, u32) {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&d.0, self.seed);
        // the upper half picks the block (multiply-shift: any count of
        // blocks), the lower half the bits
        let i = ((h >> 32) * self.blocks.len() as u64) >> 32;
        (i as usize, h as u32)
    }

    /// Adds a key.
    pub(super) fn insert(&self, d: &Digest) {
        let (i, h) = self.locate(d);
        let block = &self.blocks[i];
        let mut new = false;
        for (word, salt) in block.0.iter().zip(SALT) {
            let bit = 1u32 << (h.wrapping_mul(salt) >> 27);
            new |= word.fetch_or(bit, Ordering::Relaxed) & bit == 0;
        }
        if new {
            self.keys.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `false` if the key was never added; `true` if it was, or by chance.
    pub(super) fn may_contain(&self, d: &Digest) -> bool {
        let (i, h) = self.locate(d);
        self.blocks[i].0.iter().zip(SALT).all(|(word, salt)| {
            let bit = 1u32 << (h.wrapping_mul(salt) >> 27);
            word.load(Ordering::Relaxed) & bit != 0
        })
    }

    /// Whether it holds more keys than it was made for.
    pub(super) fn is_full(&self) -> bool {
        self.keys() > self.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(i: u64, salt: u8) -> Digest {
        let mut d = [salt; 20];
        d[..8].copy_from_slice(&i.to_le_bytes());
        Digest(d)
    }

    #[test]
    fn holds_every_key_and_few_others() {
        let f = KeyFilter::new(200_000, u64::MAX, 7);
        assert_eq!(f.capacity(), 200_000 * 16 / 256 * 256 / 16);
        for i in 0..200_000 {
            f.insert(&digest(i, 1));
        }
        assert!((0..200_000).all(|i| f.may_contain(&digest(i, 1))));
        // distinct keys, each counted once; a key added again is not
        let counted = f.keys();
        assert!((199_000..=200_000).contains(&counted), "{counted}");
        f.insert(&digest(5, 1));
        assert_eq!(f.keys(), counted);
        assert!(!f.is_full());
        let others = (0..200_000)
            .filter(|&i| f.may_contain(&digest(i, 2)))
            .count();
        // about 0.2 % at 16 bits a key
        assert!(others < 1_000, "{others} false positives in 200 000");
    }

    #[test]
    fn a_bounded_filter_fills_and_says_so() {
        let f = KeyFilter::new(1 << 24, 64 << 10, 7);
        assert_eq!(f.bytes(), 64 << 10);
        assert_eq!(f.capacity(), (64 << 10) * 8 / 16);
        for i in 0..f.capacity() + 5_000 {
            f.insert(&digest(i, 1));
        }
        assert!(f.is_full());
        assert!((0..f.capacity()).all(|i| f.may_contain(&digest(i, 1))));
    }

    #[test]
    fn the_seed_moves_keys() {
        let a = KeyFilter::new(MIN_CAPACITY, u64::MAX, 1);
        let b = KeyFilter::new(MIN_CAPACITY, u64::MAX, 2);
        let same = (0..1_000)
            .filter(|&i| a.locate(&digest(i, 3)).0 == b.locate(&digest(i, 3)).0)
            .count();
        // one block in 4 096 by chance
        assert!(same < 10, "{same} of 1 000 keys in the same block");
    }
}
