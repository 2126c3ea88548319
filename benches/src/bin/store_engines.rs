//! The embedded engines the file store could sit on, side by side on the
//! file store's own access pattern, in process (no UDP): redb (a B-tree,
//! the earlier file store), fjall (an LSM, today's) and LMDB through heed;
//! and `file`, pyzord's file store itself (its log, write buffers and row
//! cache in front of fjall), which shows what growth costs a request
//! without the UDP path and the load tool sharing the CPU.
//!
//! ```sh
//! cargo run --release -p pyzor-benches --bin store-engines -- fjall 10000000
//! ```
//!
//! The store is prefilled with N random 20-byte keys (100 000 of them the
//! pool) in large non-durable batches, then four workloads run for S
//! seconds each (each from a settled store: no flush or compaction
//! running), one thread, groups of 128 requests with a durable commit
//! per group (as the committer does): fresh reports (read, then write a
//! new key), fresh checks (reads that miss), the pool mix (80 % reads /
//! 20 % writes over the pool) and the real mix (90 % reads / 10 % writes,
//! all fresh). Prints operations per second and bytes per key on disk.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, RngExt, SeedableRng, rngs::SmallRng};

type Key = [u8; 20];
type Val = [u8; 24];

/// Engines compared on the file store's workloads.
#[derive(Debug, Parser)]
#[command(name = "store-engines")]
struct Args {
    /// redb, fjall, lmdb or file.
    engine: String,
    /// Keys stored before the measured runs.
    records: u64,
    /// Seconds each workload runs.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Where the database goes (a fresh directory is made in it).
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
}

trait Engine {
    fn get(&self, k: &Key) -> Option<Val>;
    /// Writes a group; `durable`: synced before returning.
    fn commit(&self, kv: &[(Key, Val)], durable: bool);
    /// Waits for background work (flushes, compactions) to end.
    fn settle(&self) {}
}

struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl Engine for Fjall {
    fn get(&self, k: &Key) -> Option<Val> {
        let v = self.ks.get(k).expect("fjall get")?;
        v.as_ref().try_into().ok()
    }
    fn commit(&self, kv: &[(Key, Val)], durable: bool) {
        let mut b = self.db.batch().durability(None);
        for (k, v) in kv {
            b.insert(&self.ks, *k, *v);
        }
        b.commit().expect("fjall commit");
        if durable {
            self.db
                .persist(fjall::PersistMode::SyncData)
                .expect("fjall persist");
        }
    }
    fn settle(&self) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(120)
            && (self.db.active_compactions() > 0 || self.db.outstanding_flushes() > 0)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

const TABLE: redb::TableDefinition<&[u8; 20], [u8; 24]> = redb::TableDefinition::new("d");

struct Redb {
    db: redb::Database,
}

impl Engine for Redb {
    fn get(&self, k: &Key) -> Option<Val> {
        use redb::ReadableDatabase;
        let t = self.db.begin_read().expect("redb read");
        let t = t.open_table(TABLE).expect("redb table");
        t.get(k).expect("redb get").map(|v| v.value())
    }
    fn commit(&self, kv: &[(Key, Val)], durable: bool) {
        let mut t = self.db.begin_write().expect("redb write");
        if !durable {
            t.set_durability(redb::Durability::None)
                .expect("redb durability");
        }
        {
            let mut table = t.open_table(TABLE).expect("redb table");
            for (k, v) in kv {
                table.insert(k, *v).expect("redb insert");
            }
        }
        t.commit().expect("redb commit");
    }
}

struct Lmdb {
    env: heed::Env,
    db: heed::Database<heed::types::Bytes, heed::types::Bytes>,
}

impl Engine for Lmdb {
    fn get(&self, k: &Key) -> Option<Val> {
        let t = self.env.read_txn().expect("lmdb read");
        let v = self.db.get(&t, k).expect("lmdb get")?;
        v.try_into().ok()
    }
    // LMDB syncs every commit (the environment's default flags)
    fn commit(&self, kv: &[(Key, Val)], _durable: bool) {
        let mut t = self.env.write_txn().expect("lmdb write");
        for (k, v) in kv {
            self.db.put(&mut t, k, v).expect("lmdb put");
        }
        t.commit().expect("lmdb commit");
    }
}

/// pyzord's file store: reads through `apply` (the workers' path), and a
/// group written as one durable commit (a group of reports, as the
/// committer writes them); the prefill goes through `put_all`.
struct File {
    store: pyzord::store::file::FileStore,
}

impl Engine for File {
    fn get(&self, k: &Key) -> Option<Val> {
        use pyzord::store::{Store, StoreOp};
        let r = self
            .store
            .apply(&[StoreOp::Get(pyzor_core::Digest(*k))], 1_765_000_000)
            .expect("file store get");
        (r[0].r_count > 0).then(|| r[0].pack())
    }
    fn commit(&self, kv: &[(Key, Val)], durable: bool) {
        use pyzord::store::{Bulk, Store, StoreOp, Update};
        if kv.is_empty() {
            return;
        }
        if durable {
            let digests = kv.iter().map(|(k, _)| pyzor_core::Digest(*k)).collect();
            self.store
                .apply(&[StoreOp::Update(Update::Report, digests)], 1_765_000_000)
                .expect("file store report");
        } else {
            let records: Vec<_> = kv
                .iter()
                .map(|(k, v)| (pyzor_core::Digest(*k), pyzord::store::Record::unpack(v)))
                .collect();
            self.store.put_all(&records).expect("file store put");
        }
    }
    fn settle(&self) {
        // the logs' records into the tables, then fjall's compactions
        self.store.wait_idle(Duration::from_secs(300));
    }
}

fn open(engine: &str, dir: &Path) -> Result<Box<dyn Engine>, String> {
    Ok(match engine {
        "fjall" => {
            let db = fjall::Database::builder(dir)
                .manual_journal_persist(true)
                .cache_size(256 << 20)
                .open()
                .map_err(|e| e.to_string())?;
            let ks = db
                .keyspace("d", || {
                    fjall::KeyspaceCreateOptions::default().expect_point_read_hits(false)
                })
                .map_err(|e| e.to_string())?;
            Box::new(Fjall { db, ks })
        }
        "redb" => Box::new(Redb {
            db: redb::Database::create(dir.join("db.redb")).map_err(|e| e.to_string())?,
        }),
        "lmdb" => {
            // SAFETY: the environment is opened once, by this process only.
            let env = unsafe { heed::EnvOpenOptions::new().map_size(16 << 30).open(dir) }
                .map_err(|e| e.to_string())?;
            let mut t = env.write_txn().map_err(|e| e.to_string())?;
            let db = env
                .create_database(&mut t, None)
                .map_err(|e| e.to_string())?;
            t.commit().map_err(|e| e.to_string())?;
            Box::new(Lmdb { env, db })
        }
        "file" => Box::new(File {
            store: pyzord::store::file::FileStore::open(&dir.join("pyzord.store"))
                .map_err(|e| e.to_string())?,
        }),
        other => {
            return Err(format!(
                "unknown engine {other:?}: redb, fjall, lmdb or file"
            ));
        }
    })
}

fn key(r: &mut SmallRng) -> Key {
    let mut k = [0u8; 20];
    r.fill_bytes(&mut k);
    k
}

fn value(count: u32) -> Val {
    let mut v = [0u8; 24];
    v[..4].copy_from_slice(&count.to_le_bytes());
    v[4..8].copy_from_slice(&1_765_000_000u32.to_le_bytes());
    v
}

fn disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        disk(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let dir = args.dir.join(format!(
        "pyzor-store-engines-{}-{}",
        args.engine,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(args: &Args, dir: &Path) -> Result<(), String> {
    let e = open(&args.engine, dir)?;
    let n = args.records.max(100_000);
    let mut r = SmallRng::seed_from_u64(1);
    let pool: Vec<Key> = (0..100_000).map(|_| key(&mut r)).collect();
    let t0 = Instant::now();
    for c in pool.chunks(10_000) {
        let kv: Vec<_> = c.iter().map(|k| (*k, value(1))).collect();
        e.commit(&kv, false);
    }
    let mut left = n - 100_000;
    while left > 0 {
        let m = left.min(10_000);
        let kv: Vec<_> = (0..m).map(|_| (key(&mut r), value(1))).collect();
        e.commit(&kv, false);
        left -= m;
    }
    e.commit(&[], true);
    e.settle();
    let fill = t0.elapsed().as_secs_f64();
    println!(
        "{} with {n} keys: filled in {fill:.1} s ({:.0} keys/s), {} bytes/key on disk",
        args.engine,
        n as f64 / fill,
        disk(dir) / n
    );
    let group = 128;
    let run = |name: &str, f: &mut dyn FnMut() -> u64| {
        // each workload from a settled store, not paying for the
        // compactions the one before it set off
        e.settle();
        let t = Instant::now();
        let mut ops = 0;
        while t.elapsed() < Duration::from_secs_f64(args.seconds) {
            ops += f();
        }
        println!(
            "  {name:<14} {:>9.0} ops/s",
            ops as f64 / t.elapsed().as_secs_f64()
        );
    };
    let mut r = SmallRng::seed_from_u64(2);
    run("fresh reports", &mut || {
        let kv: Vec<_> = (0..group)
            .map(|_| {
                let k = key(&mut r);
                let v = e.get(&k).map_or(value(1), |_| value(2));
                (k, v)
            })
            .collect();
        e.commit(&kv, true);
        group
    });
    run("fresh checks", &mut || {
        for _ in 0..group {
            std::hint::black_box(e.get(&key(&mut r)));
        }
        group
    });
    run("pool mix", &mut || {
        let mut kv = Vec::new();
        for _ in 0..group {
            let k = pool[r.random_range(0..pool.len())];
            let v = e.get(&k);
            if r.random_range(0..100) < 20 {
                kv.push((k, v.unwrap_or(value(0))));
            }
        }
        e.commit(&kv, true);
        group
    });
    run("real mix", &mut || {
        let mut kv = Vec::new();
        for _ in 0..group {
            let k = key(&mut r);
            let v = e.get(&k);
            if r.random_range(0..100) < 10 {
                kv.push((k, v.unwrap_or(value(0))));
            }
        }
        e.commit(&kv, true);
        group
    });
    println!("  after the runs: {} bytes/key on disk", disk(dir) / n);
    Ok(())
}
