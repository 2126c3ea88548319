//! Prints the Pyzor digest of each file named on the command line, with
//! the time it took: `cargo run --release -p pyzor-digest --example
//! digest_files -- FILE...`.

use std::time::Instant;

fn main() {
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(raw) => {
                let start = Instant::now();
                let d = pyzor_digest::digest(&raw);
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{d}  {path}  {:.1} MB  {:.3} s  {:.0} MB/s",
                    raw.len() as f64 / 1e6,
                    secs,
                    raw.len() as f64 / 1e6 / secs
                );
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
