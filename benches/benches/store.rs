//! Store and handler hot paths: one batch of 64 operations applied to each
//! backend (memory, file with its fsync'ed commit, Redis when a
//! redis-server is on PATH), and the sans-io handler over a batch of
//! datagrams.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pyzor_benches::bench_account;
use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::{Account, Digest, Op, Request, ThreadId};
use pyzord::guard::{Guard, GuardConfig};
use pyzord::handler::{Auth, Datagram, NoHooks, handle_batch};
use pyzord::stats::Stats;
use pyzord::store::file::FileStore;
use pyzord::store::memory::MemoryStore;
use pyzord::store::redis::RedisStore;
use pyzord::store::{Store, StoreOp, Update};

const BATCH: usize = 64;
const POOL: usize = 10_000;
const NOW: i64 = 1_795_315_720;

fn pool() -> Vec<Digest> {
    (0..POOL as u32)
        .map(|i| {
            let mut d = [0u8; 20];
            d[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
            d[4..8].copy_from_slice(&i.to_le_bytes());
            Digest(d)
        })
        .collect()
}

/// Batch `n` of the pool: 80 % checks, 20 % reports.
fn mixed(pool: &[Digest], n: usize) -> Vec<StoreOp> {
    (0..BATCH)
        .map(|i| {
            let d = pool[(n * BATCH + i * 7919) % pool.len()];
            if i % 5 == 0 {
                StoreOp::Update(Update::Report, vec![d])
            } else {
                StoreOp::Get(d)
            }
        })
        .collect()
}

fn reads(pool: &[Digest], n: usize) -> Vec<StoreOp> {
    (0..BATCH)
        .map(|i| StoreOp::Get(pool[(n * BATCH + i * 7919) % pool.len()]))
        .collect()
}

fn bench_store(c: &mut Criterion, name: &str, store: &dyn Store) {
    let pool = pool();
    // fill the store once
    let fill: Vec<StoreOp> = pool
        .iter()
        .map(|d| StoreOp::Update(Update::Report, vec![*d]))
        .collect();
    for chunk in fill.chunks(1000) {
        store.apply(chunk, NOW).expect("fill");
    }
    let mixed_batches: Vec<Vec<StoreOp>> = (0..64).map(|n| mixed(&pool, n)).collect();
    let read_batches: Vec<Vec<StoreOp>> = (0..64).map(|n| reads(&pool, n)).collect();
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(BATCH as u64));
    if name == "file" {
        // each batch with a write is an fsync'ed commit
        g.sample_size(20).measurement_time(Duration::from_secs(4));
    }
    let mut n = 0;
    g.bench_with_input(BenchmarkId::new("apply_64_reads", name), &(), |b, _| {
        b.iter(|| {
            n += 1;
            black_box(store.apply(&read_batches[n % 64], NOW).expect("apply"))
        })
    });
    g.bench_with_input(
        BenchmarkId::new("apply_64_mixed_80_20", name),
        &(),
        |b, _| {
            b.iter(|| {
                n += 1;
                black_box(store.apply(&mixed_batches[n % 64], NOW).expect("apply"))
            })
        },
    );
    g.finish();
}

fn stores(c: &mut Criterion) {
    bench_store(c, "memory", &MemoryStore::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = FileStore::open(&dir.path().join("bench.store")).expect("file store");
    bench_store(c, "file", &file);
    drop(file);
    match pyzor_testkit::Redis::start() {
        Some(redis) => {
            let store =
                RedisStore::open(&format!("127.0.0.1,{},,0", redis.port), 0).expect("redis store");
            bench_store(c, "redis", &store);
        }
        None => eprintln!("store/redis: skipped (no redis-server)"),
    }
}

fn handler(c: &mut Criterion) {
    let account = bench_account();
    let passwd = Passwd::parse(
        std::path::Path::new("pyzord.passwd"),
        &format!("{} : {}\n", account.user, account.key),
    )
    .value;
    let acl = Acl::parse(
        std::path::Path::new("pyzord.access"),
        &format!(
            "all : {} : allow\ncheck report ping pong info : anonymous : allow\n",
            account.user
        ),
        &passwd,
    )
    .value;
    let auth = Auth { passwd, acl };
    let store = Arc::new(MemoryStore::new());
    let pool = pool();
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let mut g = c.benchmark_group("handler");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, acct) in [
        ("anonymous", Account::anonymous()),
        ("signed", account.clone()),
    ] {
        let datagrams: Vec<Vec<u8>> = (0..BATCH)
            .map(|i| {
                let op = if i % 5 == 0 { Op::Report } else { Op::Check };
                let mut r = Request::new(op, vec![pool[i * 31]], ThreadId(1024 + i as u16));
                r.sign(&acct, NOW);
                r.to_bytes()
            })
            .collect();
        let batch: Vec<Datagram<'_>> = datagrams
            .iter()
            .map(|d| Datagram {
                data: d,
                len: d.len(),
                peer,
            })
            .collect();
        let mut replies = Vec::new();
        // no guard: the same signed requests every iteration would
        // otherwise be replays after the first
        let guard = std::sync::Arc::new(Guard::new(
            GuardConfig::off(),
            std::sync::Arc::new(Stats::new()),
        ));
        g.bench_function(BenchmarkId::new("batch_64_mixed", name), |b| {
            b.iter(|| {
                black_box(handle_batch(
                    &auth,
                    &guard,
                    &*store,
                    &NoHooks,
                    black_box(now) as SystemTime,
                    &batch,
                    &mut replies,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, stores, handler);
criterion_main!(benches);
