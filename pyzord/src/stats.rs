//! Counters and histograms of a running server (lock-free), read by the
//! metrics endpoint and `pyzord stats`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pyzor_core::{Code, Op};

/// Histogram bucket upper bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Batch-size bucket upper bounds.
pub const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// A fixed-bucket histogram (Prometheus style: cumulative on output).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    total: AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds (plus +Inf).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Records a value (seconds, or a plain number for sizes).
    pub fn observe(&self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a duration.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// (upper bound, cumulative count) per bucket, then (+Inf, total).
    pub fn cumulative(&self) -> Vec<(Option<f64>, u64)> {
        let mut acc = 0;
        let mut out = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            acc += c.load(Ordering::Relaxed);
            out.push((self.bounds.get(i).copied(), acc));
        }
        out
    }

    /// Sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// The codes counted separately (any other is counted as `other`).
pub const CODES: [u16; 8] = [200, 400, 401, 403, 429, 500, 501, 505];

/// Counters per operation: one per code of [`CODES`], and `other`.
const PER_OP: usize = CODES.len() + 1;

/// Everything counted.
#[derive(Debug)]
pub struct Stats {
    /// Requests by op (index of `Op::ALL`, 6 = other) and code (index of `CODES`, 7 = other).
    requests: Vec<AtomicU64>,
    /// Time from receiving a batch to sending its replies.
    pub latency: Histogram,
    /// Datagrams per batch.
    pub batch_size: Histogram,
    /// Time of the store's apply calls.
    pub store_latency: Histogram,
    /// Forwarded digests dropped because the queue was full.
    pub forward_dropped: AtomicU64,
    /// Digests waiting in the forwarding queue.
    pub forward_queued: AtomicU64,
    /// Forwarded digests the upstream servers acknowledged.
    pub forward_sent: AtomicU64,
    /// Forwarded digests whose request failed (timeout, error reply).
    pub forward_failed: AtomicU64,
    /// Signed updates answered as replays, not applied again.
    pub replays: AtomicU64,
    /// Updates refused by a source network's rate limit.
    pub rate_limited: AtomicU64,
    /// Reported digests not counted again from the same source network.
    pub deduplicated: AtomicU64,
    /// Times a guard's table was full and let a request through.
    pub guard_full: AtomicU64,
    /// Times the store became unavailable.
    pub store_outages: AtomicU64,
    /// 1 while the store is unavailable, else 0.
    pub store_down: AtomicU64,
    /// Batches the store failed (answered with an error), outages included.
    pub store_errors: AtomicU64,
    /// Datagrams the kernel dropped at the workers' full receive buffers.
    pub receive_dropped: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn op_index(op: Option<Op>) -> usize {
    op.and_then(|o| Op::ALL.iter().position(|x| *x == o))
        .unwrap_or(6)
}

fn code_index(code: Code) -> usize {
    CODES
        .iter()
        .position(|c| *c == code.0)
        .unwrap_or(CODES.len())
}

impl Stats {
    /// Zeroed statistics.
    pub fn new() -> Stats {
        Stats {
            requests: (0..7 * PER_OP).map(|_| AtomicU64::new(0)).collect(),
            latency: Histogram::new(&LATENCY_BUCKETS),
            batch_size: Histogram::new(&BATCH_BUCKETS),
            store_latency: Histogram::new(&LATENCY_BUCKETS),
            forward_dropped: AtomicU64::new(0),
            forward_queued: AtomicU64::new(0),
            forward_sent: AtomicU64::new(0),
            forward_failed: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            deduplicated: AtomicU64::new(0),
            guard_full: AtomicU64::new(0),
            store_outages: AtomicU64::new(0),
            store_down: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            receive_dropped: AtomicU64::new(0),
        }
    }

    /// Counts a request.
    pub fn request(&self, op: Option<Op>, code: Code) {
        self.requests[op_index(op) * PER_OP + code_index(code)].fetch_add(1, Ordering::Relaxed);
    }

    /// (op name, code, count) for every non-zero counter.
    pub fn requests(&self) -> Vec<(&'static str, String, u64)> {
        let mut out = Vec::new();
        for (i, c) in self.requests.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let op = Op::ALL.get(i / PER_OP).map_or("other", |o| o.as_str());
            let code = CODES
                .get(i % PER_OP)
                .map_or_else(|| "other".to_owned(), ToString::to_string);
            out.push((op, code, n));
        }
        out
    }

    /// All requests counted.
    pub fn total_requests(&self) -> u64 {
        self.requests
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}
