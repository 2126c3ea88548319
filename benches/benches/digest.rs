//! Digest over the project's corpus (real and synthetic messages).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyzor-digest/tests/data/corpus");
    let mut out = Vec::new();
    for dir in ["messages", "synthetic"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("corpus directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_none_or(|e| e == "eml"))
            .collect();
        files.sort();
        out.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    out
}

fn digest(c: &mut Criterion) {
    let messages = corpus();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("digest");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(format!("corpus_{}_messages", messages.len()), |b| {
        let mut digester = pyzor_digest::Digester::new();
        b.iter(|| {
            for m in &messages {
                black_box(digester.digest(black_box(m)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, digest);
criterion_main!(benches);
