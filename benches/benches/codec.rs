//! Codec and signature hot paths: parse, serialize, sign, verify.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pyzor_benches::{bench_account, signed_request};
use pyzor_core::{Account, Counts, Message, Op, Request, Response, auth, server_text};

fn codec(c: &mut Criterion) {
    let check = signed_request(Op::Check, &Account::anonymous());
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_request", |b| {
        b.iter(|| {
            let text = server_text(black_box(&check));
            let msg = Message::parse(&text);
            black_box(msg.len())
        })
    });
    g.bench_function("parse_typed_request", |b| {
        b.iter(|| {
            let text = server_text(black_box(&check));
            let msg = Message::parse(&text);
            black_box(Request::from_message(&msg).is_ok())
        })
    });
    let mut out = Vec::with_capacity(256);
    g.bench_function("serialize_check_reply", |b| {
        b.iter(|| {
            out.clear();
            Response::ok(black_box("26195"))
                .with_counts(Counts {
                    count: 12,
                    wl_count: 0,
                })
                .write_to(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

fn signing(c: &mut Criterion) {
    let account = bench_account();
    let signed = signed_request(Op::Report, &account);
    let text = std::str::from_utf8(&signed).expect("ascii").to_owned();
    let now = UNIX_EPOCH + Duration::from_secs(1_795_315_720);
    let mut g = c.benchmark_group("auth");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_request", |b| {
        let digest = pyzor_benches::DIGEST_HEX.parse().expect("digest");
        b.iter(|| {
            let mut req = Request::new(Op::Report, vec![digest], pyzor_core::ThreadId(4242));
            req.sign(black_box(&account), 1_795_315_720);
            black_box(req.to_bytes())
        })
    });
    g.bench_function("verify_request", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&text));
            black_box(auth::verify(&msg, &account.key, now).is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, codec, signing);
criterion_main!(benches);
