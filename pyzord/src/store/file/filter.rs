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
//! 0.13 % of misses at [`BITS_PER_KEY`]), never "no" for one that is
//! there. Removed and expired keys stay in it until it is rebuilt by a
//! scan (which leaves expired records out): when its keys outgrow it, or,
//! at its size cap, once more keys have expired since the last scan.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use pyzor_core::Digest;

/// Bits per key at the filter's capacity (a false positive rate of about
/// 0.13 %; twice the keys would give about 3.3 %).
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

/// The first bytes of a saved filter.
const MAGIC: &[u8; 8] = b"PYZKF001";

/// The saved filter's header: magic, seed, blocks, keys.
const HEADER: usize = 32;

/// One cache line's half: the eight words a key's bits go in.
#[repr(align(32))]
#[derive(Default)]
struct Block([AtomicU32; 8]);

/// A blocked Bloom filter of digests, shared by readers and writers
/// without a lock (bits are only ever set).
pub(super) struct KeyFilter {
    blocks: Box<[Block]>,
    seed: u64,
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
            blocks,
            seed,
            keys: AtomicU64::new(0),
        }
    }

    /// The keys it holds at [`BITS_PER_KEY`].
    pub(super) fn capacity(&self) -> u64 {
        self.blocks.len() as u64 * 256 / BITS_PER_KEY
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

    /// A key's block, and its bit in each of the block's words.
    fn bits(&self, d: &Digest) -> impl Iterator<Item = (&AtomicU32, u32)> {
        let (i, h) = self.locate(d);
        self.blocks[i]
            .0
            .iter()
            .zip(SALT)
            .map(move |(word, salt)| (word, 1u32 << (h.wrapping_mul(salt) >> 27)))
    }

    /// Adds a key.
    pub(super) fn insert(&self, d: &Digest) {
        let mut new = false;
        for (word, bit) in self.bits(d) {
            new |= word.fetch_or(bit, Ordering::Relaxed) & bit == 0;
        }
        if new {
            self.keys.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `false` if the key was never added; `true` if it was, or by chance.
    pub(super) fn may_contain(&self, d: &Digest) -> bool {
        self.bits(d)
            .all(|(word, bit)| word.load(Ordering::Relaxed) & bit != 0)
    }

    /// Writes the filter to `path` (through a temporary file renamed over
    /// it), with a checksum: a torn or stale-format file is refused by
    /// [`KeyFilter::load`].
    pub(super) fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut data = Vec::with_capacity(HEADER + self.blocks.len() * 32 + 8);
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&self.seed.to_le_bytes());
        data.extend_from_slice(&(self.blocks.len() as u64).to_le_bytes());
        data.extend_from_slice(&self.keys().to_le_bytes());
        for block in &self.blocks {
            for word in &block.0 {
                data.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
            }
        }
        let sum = xxhash_rust::xxh3::xxh3_64(&data);
        data.extend_from_slice(&sum.to_le_bytes());
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    }

    /// Reads a filter [`KeyFilter::save`] wrote. `Ok(None)` if the file is
    /// not a whole filter (torn, corrupt, another format) or is larger
    /// than `max_bytes`.
    pub(super) fn load(path: &Path, max_bytes: u64) -> std::io::Result<Option<KeyFilter>> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let blocks = len.saturating_sub(HEADER as u64 + 8) / 32;
        if len != HEADER as u64 + blocks * 32 + 8 || blocks == 0 || blocks * 32 > max_bytes {
            return Ok(None);
        }
        let mut data = Vec::with_capacity(len as usize);
        file.read_to_end(&mut data)?;
        let (body, sum) = data.split_at(data.len() - 8);
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(b)
        };
        if &body[..8] != MAGIC
            || word(16) != blocks
            || xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() != sum
        {
            return Ok(None);
        }
        let blocks: Box<[Block]> = body[HEADER..]
            .chunks_exact(32)
            .map(|b| {
                let mut block = Block::default();
                for (w, bytes) in block.0.iter_mut().zip(b.chunks_exact(4)) {
                    *w.get_mut() = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                }
                block
            })
            .collect();
        Ok(Some(KeyFilter {
            blocks,
            seed: word(8),
            keys: AtomicU64::new(word(24)),
        }))
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
        // about 0.13 % at 16 bits a key
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
    fn a_saved_filter_loads_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.filter");
        let f = KeyFilter::new(MIN_CAPACITY, u64::MAX, 9);
        for i in 0..10_000 {
            f.insert(&digest(i, 1));
        }
        f.save(&path).unwrap();
        let g = KeyFilter::load(&path, u64::MAX).unwrap().unwrap();
        assert_eq!(
            (g.seed, g.keys(), g.capacity()),
            (9, f.keys(), f.capacity())
        );
        assert!((0..10_000).all(|i| g.may_contain(&digest(i, 1))));
        let same = (0..10_000)
            .filter(|&i| f.may_contain(&digest(i, 2)) == g.may_contain(&digest(i, 2)))
            .count();
        assert_eq!(same, 10_000);
        // larger than allowed now
        assert!(KeyFilter::load(&path, f.bytes() - 32).unwrap().is_none());
        // a bit flipped, then a torn tail
        let mut data = std::fs::read(&path).unwrap();
        data[HEADER + 100] ^= 4;
        std::fs::write(&path, &data).unwrap();
        assert!(KeyFilter::load(&path, u64::MAX).unwrap().is_none());
        data[HEADER + 100] ^= 4;
        std::fs::write(&path, &data[..data.len() - 40]).unwrap();
        assert!(KeyFilter::load(&path, u64::MAX).unwrap().is_none());
        std::fs::write(&path, b"").unwrap();
        assert!(KeyFilter::load(&path, u64::MAX).unwrap().is_none());
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
