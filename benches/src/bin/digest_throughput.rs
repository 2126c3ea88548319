//! In-process digest throughput over a set of messages, for
//! `scripts/bench-digest.sh` (which runs the reference the same way).
//!
//! ```text
//! digest-throughput [--seconds S | --passes P] [--per-file | --in-loop] FILE...
//! ```
//!
//! Digests every file once (warm-up), then loops over them until at least
//! S seconds (default 5) have passed, or exactly P times (a fixed amount
//! of work, for instruction and branch counts under valgrind); prints
//! `messages=N bytes=B seconds=T msgs_per_s=X mb_per_s=Y`.
//!
//! `--per-file` times each file alone, repeated for 20 ms (warm: its code
//! and branches trained on it); `--in-loop` times each file inside the
//! loop over all of them for S seconds (as the throughput loop digests
//! it). Both print `MICROSECONDSus BYTES PATH` per file.

use std::time::{Duration, Instant};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 5.0f64;
    let mut per_file = false;
    let mut in_loop = false;
    let mut passes: Option<u64> = None;
    loop {
        match args.first().map(String::as_str) {
            Some("--seconds") if args.len() >= 2 => {
                seconds = match args[1].parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 => s,
                    _ => usage(&format!("--seconds {}: not a positive number", args[1])),
                };
                args.drain(..2);
            }
            Some("--passes") if args.len() >= 2 => {
                passes = match args[1].parse::<u64>() {
                    Ok(p) if p > 0 => Some(p),
                    _ => usage(&format!(
                        "--passes {}: not a positive whole number",
                        args[1]
                    )),
                };
                args.drain(..2);
            }
            Some("--per-file") => {
                per_file = true;
                args.remove(0);
            }
            Some("--in-loop") => {
                in_loop = true;
                args.remove(0);
            }
            _ => break,
        }
    }
    let messages: Vec<Vec<u8>> = args
        .iter()
        .filter_map(|p| match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("{p}: {e}");
                None
            }
        })
        .collect();
    if messages.is_empty() {
        usage("no message read");
    }
    // one digester for the whole run, as a filter that digests a stream
    // of messages keeps one
    let mut digester = pyzor_digest::Digester::new();
    for m in &messages {
        std::hint::black_box(digester.digest(m));
    }
    if per_file {
        // microseconds per digest of each file, 20 ms of repetitions each
        for (path, m) in args.iter().zip(&messages) {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < Duration::from_millis(20) {
                std::hint::black_box(digester.digest(std::hint::black_box(m)));
                n += 1;
            }
            println!(
                "{:.1}us {} {path}",
                start.elapsed().as_secs_f64() * 1e6 / f64::from(n),
                m.len()
            );
        }
        return;
    }
    let budget = Duration::from_secs_f64(seconds);
    if in_loop {
        let mut spent = vec![Duration::ZERO; messages.len()];
        let start = Instant::now();
        let mut passes = 0u32;
        while start.elapsed() < budget {
            passes += 1;
            for (m, t) in messages.iter().zip(spent.iter_mut()) {
                let s = Instant::now();
                std::hint::black_box(digester.digest(std::hint::black_box(m)));
                *t += s.elapsed();
            }
        }
        for ((path, m), t) in args.iter().zip(&messages).zip(&spent) {
            println!(
                "{:.2}us {} {path}",
                t.as_secs_f64() * 1e6 / f64::from(passes),
                m.len()
            );
        }
        return;
    }
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut pass = 0;
    while passes.map_or(start.elapsed() < budget, |p| pass < p) {
        pass += 1;
        for m in &messages {
            std::hint::black_box(digester.digest(std::hint::black_box(m)));
            n += 1;
            bytes += m.len() as u64;
        }
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "messages={n} bytes={bytes} seconds={t:.3} msgs_per_s={:.1} mb_per_s={:.2}",
        n as f64 / t,
        bytes as f64 / 1e6 / t
    );
}

/// Prints `problem` and the usage line, and exits with status 2.
fn usage(problem: &str) -> ! {
    eprintln!("digest-throughput: {problem}");
    eprintln!(
        "usage: digest-throughput [--seconds S | --passes P] [--per-file | --in-loop] FILE..."
    );
    std::process::exit(2);
}
