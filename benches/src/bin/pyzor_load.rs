//! `pyzor-load`: a UDP load generator for any Pyzor server, and an echo
//! server that measures what loopback UDP can do with no work per request.
//!
//! ```text
//! pyzor-load [OPTIONS] HOST:PORT          drive a server
//! pyzor-load echo --listen ADDR [--workers N]   the ceiling: answer every datagram
//! ```
//!
//! Requests are kept in flight per socket (a window), sent and received in
//! batches (`sendmmsg`/`recvmmsg`), so the tool is not the bottleneck. Every
//! run is bounded by a request count and a duration, and stops by itself;
//! only loopback targets are allowed unless `--allow-remote`.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use pyzor_core::{Account, Digest, Op, Request, ThreadId};
use pyzord::net::{self, RecvBatch};
use rand::RngExt;

/// Load generator for Pyzor servers (and an echo ceiling).
#[derive(Debug, Parser)]
#[command(name = "pyzor-load", args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The server to drive (loopback unless --allow-remote).
    target: Option<String>,
    /// A named workload, which sets --ops and --keys: `pool-mix` (check
    /// 80 / report 20 over 100 000 digests), `fresh-reports` (every report
    /// a new digest), `fresh-checks` (every check a digest never reported:
    /// all miss), `real-mix` (check 90 / report 10, all fresh: what a
    /// public server sees).
    #[arg(long, value_name = "NAME")]
    workload: Option<String>,
    /// Operation mix as op=weight pairs (check, report, whitelist, info, ping, pong).
    #[arg(long, default_value = "check=80,report=20")]
    ops: String,
    /// Digest key space: `fresh` (a new random digest per request) or
    /// `pool:N` (N fixed digests).
    #[arg(long, default_value = "pool:100000")]
    keys: String,
    /// Before the measured run, report N fresh digests, 100 to a request
    /// (a store of N records in N/100 requests); the time it took is
    /// printed on its own line.
    #[arg(long, value_name = "N", default_value_t = 0)]
    prefill: u64,
    /// Sign as this user (with --key); anonymous otherwise.
    #[arg(long)]
    user: Option<String>,
    /// The user's key.
    #[arg(long, default_value = "")]
    key: String,
    /// Sockets (one thread each).
    #[arg(long, default_value_t = 2)]
    sockets: usize,
    /// Requests in flight per socket.
    #[arg(long, default_value_t = 128)]
    window: usize,
    /// Total requests per second (default: as fast as the server answers).
    #[arg(long)]
    rate: Option<f64>,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Stop after this many seconds (at most 3600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// A request unanswered for this many milliseconds is lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Allow targets that are not loopback addresses.
    #[arg(long)]
    allow_remote: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Answer every datagram with a fixed valid reply (echoing Thread), as
    /// fast as possible: the ceiling of this machine's loopback UDP.
    Echo {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:24499")]
        listen: SocketAddr,
        /// Worker threads (one SO_REUSEPORT socket each).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Stop after this many seconds (at most 86400).
        #[arg(long, default_value_t = 3600.0)]
        duration: f64,
    },
}

/// Log-linear latency histogram in nanoseconds (about 1 % resolution).
#[derive(Clone)]
struct Hist {
    buckets: Vec<u64>,
}

const HIST_BUCKETS: usize = 2500;

impl Hist {
    fn new() -> Hist {
        Hist {
            buckets: vec![0; HIST_BUCKETS],
        }
    }
    fn index(ns: u64) -> usize {
        if ns <= 1 {
            return 0;
        }
        (((ns as f64).ln() / 1.01f64.ln()) as usize).min(HIST_BUCKETS - 1)
    }
    fn record(&mut self, ns: u64) {
        self.buckets[Hist::index(ns)] += 1;
    }
    fn merge(&mut self, other: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
    }
    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
    /// The value (ns) at quantile q.
    fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            acc += c;
            if acc >= want {
                return 1.01f64.powi(i as i32 + 1);
            }
        }
        1.01f64.powi(HIST_BUCKETS as i32)
    }
}

#[derive(Clone)]
struct Tally {
    sent: u64,
    answered: u64,
    lost: u64,
    codes: BTreeMap<u16, u64>,
    latency: Hist,
    /// Latency by operation.
    by_op: BTreeMap<&'static str, Hist>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            sent: 0,
            answered: 0,
            lost: 0,
            codes: BTreeMap::new(),
            latency: Hist::new(),
            by_op: BTreeMap::new(),
        }
    }
    fn merge(&mut self, o: &Tally) {
        self.sent += o.sent;
        self.answered += o.answered;
        self.lost += o.lost;
        for (c, n) in &o.codes {
            *self.codes.entry(*c).or_default() += n;
        }
        self.latency.merge(&o.latency);
        for (op, h) in &o.by_op {
            self.by_op.entry(op).or_insert_with(Hist::new).merge(h);
        }
    }
}

struct Plan {
    target: SocketAddr,
    ops: Vec<(Op, u32)>,
    pool: Option<Vec<Digest>>,
    /// Digests in each request (but ping and pong).
    per_request: usize,
    account: Account,
    hashed_key: String,
    window: usize,
    rate_per_socket: Option<f64>,
    deadline: Instant,
    budget: Option<u64>,
    issued: AtomicU64,
    timeout: Duration,
    stop: AtomicBool,
}

fn parse_ops(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (name, w) = part.split_once('=').unwrap_or((part, "1"));
        let op = Op::from_wire(name.trim()).ok_or_else(|| format!("unknown op {name:?}"))?;
        let w: u32 = w
            .trim()
            .parse()
            .map_err(|_| format!("bad weight in {part:?}"))?;
        if w > 0 {
            v.push((op, w));
        }
    }
    if v.is_empty() {
        return Err("no operation in --ops".into());
    }
    Ok(v)
}

fn pick_op(ops: &[(Op, u32)], r: u32) -> Op {
    let total: u32 = ops.iter().map(|(_, w)| w).sum();
    let mut x = r % total;
    for (op, w) in ops {
        if x < *w {
            return *op;
        }
        x -= w;
    }
    ops[0].0
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Finds `Thread: N` and the code in a reply.
fn parse_reply(data: &[u8]) -> Option<(u16, u16)> {
    let text = std::str::from_utf8(data).ok()?;
    let code = text.strip_prefix("Code: ")?.get(..3)?.parse().ok()?;
    let t = text.find("\nThread: ")? + 9;
    let end = text[t..].find('\n')? + t;
    let thread = text[t..end].parse().ok()?;
    Some((thread, code))
}

fn drive(plan: &Plan, sock: &UdpSocket) -> Tally {
    let mut rng = rand::rng();
    let mut tally = Tally::new();
    // send time per thread id (index = id); None = free
    let mut slots: Vec<Option<(Instant, Op)>> = vec![None; 65536];
    // FIFO reuse of thread ids, so a late reply rarely meets a reused id
    let mut free: VecDeque<u16> = (1024..=65535u16).collect();
    let mut in_flight = 0usize;
    let mut batch = RecvBatch::new();
    let mut out: Vec<Vec<u8>> = Vec::new();
    // (thread id, send time) in send order, for expiry
    let mut order: VecDeque<(u16, Instant)> = VecDeque::new();
    let start = Instant::now();
    loop {
        let now = Instant::now();
        let time = unix_now();
        let stopping = plan.stop.load(Ordering::Relaxed) || now >= plan.deadline;
        // send up to the window, the rate and the budget allow
        out.clear();
        if !stopping {
            let allowed = plan
                .rate_per_socket
                .map(|r| (start.elapsed().as_secs_f64() * r) as u64);
            while in_flight + out.len() < plan.window && out.len() < net::BATCH {
                if allowed.is_some_and(|a| tally.sent + out.len() as u64 >= a) {
                    break;
                }
                if let Some(b) = plan.budget
                    && plan.issued.fetch_add(1, Ordering::Relaxed) >= b
                {
                    plan.stop.store(true, Ordering::Relaxed);
                    break;
                }
                let Some(id) = free.pop_front() else { break };
                let op = pick_op(&plan.ops, rng.random());
                let digests = match op {
                    Op::Ping | Op::Pong => vec![],
                    _ => (0..plan.per_request)
                        .map(|_| match &plan.pool {
                            Some(pool) => pool[rng.random_range(0..pool.len())],
                            None => Digest(rng.random()),
                        })
                        .collect(),
                };
                let mut req = Request::new(op, digests, ThreadId(id));
                req.sign_hashed(&plan.account.user, &plan.hashed_key, time);
                out.push(req.to_bytes());
                let sent = Instant::now();
                slots[usize::from(id)] = Some((sent, op));
                order.push_back((id, sent));
            }
        }
        if !out.is_empty() {
            let msgs: Vec<(&[u8], SocketAddr)> =
                out.iter().map(|b| (b.as_slice(), plan.target)).collect();
            let _ = net::send_batch(sock, &msgs);
            tally.sent += out.len() as u64;
            in_flight += out.len();
        }
        if stopping && in_flight == 0 {
            break;
        }
        // receive what has come (the socket does not block); wait for
        // replies only when there is nothing to send
        let mut got_any = false;
        while let Ok(n) = batch.recv(sock, Duration::ZERO)
            && n > 0
        {
            got_any = true;
            let t = Instant::now();
            for i in 0..n {
                if let Some((thread, code)) = parse_reply(batch.data(i))
                    && let Some((sent, op)) = slots[usize::from(thread)].take()
                {
                    let ns = t.duration_since(sent).as_nanos() as u64;
                    tally.latency.record(ns);
                    tally
                        .by_op
                        .entry(op.as_str())
                        .or_insert_with(Hist::new)
                        .record(ns);
                    tally.answered += 1;
                    *tally.codes.entry(code).or_default() += 1;
                    free.push_back(thread);
                    in_flight -= 1;
                }
            }
        }
        if !got_any {
            // until the next request is due (paced sending), or a while
            let next_due = plan.rate_per_socket.map(|r| {
                let due = start + Duration::from_secs_f64((tally.sent + 1) as f64 / r);
                due.saturating_duration_since(Instant::now())
            });
            let idle = if stopping || in_flight >= plan.window {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(1)
            };
            wait_readable(sock, next_due.map_or(idle, |d| d.min(idle)));
        }
        // expire lost requests: the oldest first, in send order (entries
        // whose request was answered, or whose id was reused, are skipped)
        let now = Instant::now();
        while let Some(&(id, sent)) = order.front() {
            if now.duration_since(sent) <= plan.timeout {
                break;
            }
            order.pop_front();
            if slots[usize::from(id)].is_some_and(|(t, _)| t == sent) {
                slots[usize::from(id)] = None;
                free.push_back(id);
                in_flight -= 1;
                tally.lost += 1;
            }
        }
        if stopping && now > plan.deadline + plan.timeout * 2 {
            break;
        }
    }
    tally
}

/// Waits until the socket is readable or `timeout` has passed, with the
/// precision of a high-resolution timer (`ppoll`); a socket receive
/// timeout would round up to the kernel's tick.
#[allow(unsafe_code)]
fn wait_readable(sock: &UdpSocket, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: one valid pollfd and a timespec, both live for the call.
    unsafe {
        libc::ppoll(&mut pfd, 1, &ts, std::ptr::null());
    }
}

fn resolve(target: &str) -> Result<SocketAddr, String> {
    target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: {e}"))?
        .next()
        .ok_or_else(|| format!("{target}: no address"))
}

fn echo(listen: SocketAddr, workers: usize, duration: f64) -> Result<(), String> {
    let first = net::bind(listen, true).map_err(|e| format!("{listen}: {e}"))?;
    let addr = first.local_addr().map_err(|e| e.to_string())?;
    let mut socks = vec![first];
    for _ in 1..workers.max(1) {
        socks.push(net::bind(addr, true).map_err(|e| e.to_string())?);
    }
    eprintln!("echo: listening on {addr} with {} workers", socks.len());
    let deadline = Instant::now() + Duration::from_secs_f64(duration.clamp(0.0, 86400.0));
    let handles: Vec<_> = socks
        .into_iter()
        .map(|sock| {
            std::thread::spawn(move || {
                let mut batch = RecvBatch::new();
                let mut replies: Vec<Vec<u8>> = Vec::new();
                while Instant::now() < deadline {
                    let Ok(n) = batch.recv(&sock, Duration::from_millis(100)) else {
                        continue;
                    };
                    replies.resize_with(n, Vec::new);
                    for (i, r) in replies.iter_mut().enumerate().take(n) {
                        r.clear();
                        let data = batch.data(i);
                        let text = String::from_utf8_lossy(data);
                        let thread = text.find("\nThread: ").map(|t| {
                            let rest = &text[t + 9..];
                            rest[..rest.find('\n').unwrap_or(rest.len())].to_owned()
                        });
                        pyzor_core::Response::ok(thread.unwrap_or_default())
                            .with_counts(pyzor_core::Counts {
                                count: 0,
                                wl_count: 0,
                            })
                            .write_to(r);
                    }
                    let out: Vec<(&[u8], SocketAddr)> = (0..n)
                        .map(|i| (replies[i].as_slice(), batch.received[i].peer))
                        .collect();
                    let _ = net::send_batch(&sock, &out);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // Output piped into `head` that closes early ends the tool quietly, as
    // for any command-line tool, instead of a panic in println! (Rust
    // ignores SIGPIPE by default; the load goes over UDP, which raises
    // none).
    // SAFETY: setting a signal's disposition to the default before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pyzor-load: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The `--ops` and `--keys` of a named workload.
fn workload(name: &str) -> Result<(&'static str, &'static str), String> {
    Ok(match name {
        "pool-mix" => ("check=80,report=20", "pool:100000"),
        "fresh-reports" => ("report=1", "fresh"),
        "fresh-checks" => ("check=1", "fresh"),
        "real-mix" => ("check=90,report=10", "fresh"),
        other => {
            return Err(format!(
                "--workload: pool-mix, fresh-reports, fresh-checks or real-mix, not {other:?}"
            ));
        }
    })
}

/// Drives a plan from `sockets` sockets (a thread each) until it ends.
fn run_plan(plan: &Arc<Plan>, sockets: usize) -> Result<Tally, String> {
    let handles: Vec<_> = (0..sockets)
        .map(|_| {
            let plan = Arc::clone(plan);
            std::thread::spawn(move || {
                let sock = net::bind(
                    if plan.target.is_ipv4() {
                        "0.0.0.0:0".parse().unwrap()
                    } else {
                        "[::]:0".parse().unwrap()
                    },
                    false,
                )
                .expect("bind a client socket");
                drive(&plan, &sock)
            })
        })
        .collect();
    let mut total = Tally::new();
    for h in handles {
        total.merge(&h.join().map_err(|_| "a worker panicked")?);
    }
    Ok(total)
}

fn run(args: Args) -> Result<(), String> {
    if let Some(Mode::Echo {
        listen,
        workers,
        duration,
    }) = args.mode
    {
        if !listen.ip().is_loopback() && !args.allow_remote {
            return Err(format!(
                "{listen} is not a loopback address (use --allow-remote)"
            ));
        }
        return echo(listen, workers, duration);
    }
    let target = resolve(
        args.target
            .as_deref()
            .ok_or("a target HOST:PORT is needed")?,
    )?;
    if !target.ip().is_loopback() && !args.allow_remote {
        return Err(format!(
            "{target} is not a loopback address (use --allow-remote)"
        ));
    }
    let (ops, keys) = match args.workload.as_deref() {
        None => (args.ops.as_str(), args.keys.as_str()),
        Some(name) => workload(name)?,
    };
    let ops = parse_ops(ops)?;
    let pool = match keys {
        "fresh" => None,
        k => {
            let n: usize = k
                .strip_prefix("pool:")
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("--keys: fresh or pool:N, got {k:?}"))?;
            let mut rng = rand::rng();
            Some((0..n).map(|_| Digest(rng.random())).collect())
        }
    };
    let account = match &args.user {
        Some(u) => Account {
            user: u.clone(),
            salt: String::new(),
            key: args.key.clone(),
        },
        None => Account::anonymous(),
    };
    let duration = Duration::from_secs_f64(args.duration.clamp(0.0, 3600.0));
    let sockets = args.sockets.clamp(1, 64);
    if args.prefill > 0 {
        let per_request = 100;
        let plan = Arc::new(Plan {
            target,
            ops: vec![(Op::Report, 1)],
            pool: None,
            per_request,
            hashed_key: account.hashed_key(),
            account: account.clone(),
            window: 64,
            rate_per_socket: None,
            deadline: Instant::now() + Duration::from_secs(3600),
            budget: Some(args.prefill.div_ceil(per_request as u64)),
            issued: AtomicU64::new(0),
            timeout: Duration::from_millis(args.timeout_ms.max(1000)),
            stop: AtomicBool::new(false),
        });
        let start = Instant::now();
        let total = run_plan(&plan, sockets)?;
        let secs = start.elapsed().as_secs_f64();
        let stored = total.codes.get(&200).copied().unwrap_or(0) * per_request as u64;
        println!(
            "prefill: {stored} digests stored in {secs:.1} s ({:.0} digests/s), {} requests lost",
            stored as f64 / secs.max(1e-9),
            total.lost
        );
    }
    let plan = Arc::new(Plan {
        target,
        ops,
        pool,
        per_request: 1,
        hashed_key: account.hashed_key(),
        account,
        window: args.window.clamp(1, 60000),
        rate_per_socket: args.rate.map(|r| r / sockets as f64),
        deadline: Instant::now() + duration,
        budget: args.requests,
        issued: AtomicU64::new(0),
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        stop: AtomicBool::new(false),
    });
    let start = Instant::now();
    let total = run_plan(&plan, sockets)?;
    let secs = start
        .elapsed()
        .as_secs_f64()
        .min(duration.as_secs_f64().max(1e-9))
        .max(1e-9);
    let rps = total.answered as f64 / secs;
    let (p50, p99, p999) = (
        total.latency.quantile(0.5) / 1e3,
        total.latency.quantile(0.99) / 1e3,
        total.latency.quantile(0.999) / 1e3,
    );
    if args.json {
        let codes: Vec<String> = total
            .codes
            .iter()
            .map(|(c, n)| format!("\"{c}\": {n}"))
            .collect();
        let ops: Vec<String> = total
            .by_op
            .iter()
            .map(|(op, h)| {
                format!(
                    "\"{op}\": {{\"answered\": {}, \"p50_us\": {:.1}, \"p99_us\": {:.1}}}",
                    h.count(),
                    h.quantile(0.5) / 1e3,
                    h.quantile(0.99) / 1e3
                )
            })
            .collect();
        println!(
            "{{\"target\": \"{target}\", \"seconds\": {secs:.3}, \"sent\": {}, \"answered\": {}, \"lost\": {}, \"requests_per_second\": {rps:.1}, \"p50_us\": {p50:.1}, \"p99_us\": {p99:.1}, \"p999_us\": {p999:.1}, \"codes\": {{{}}}, \"ops\": {{{}}}}}",
            total.sent,
            total.answered,
            total.lost,
            codes.join(", "),
            ops.join(", ")
        );
    } else {
        println!(
            "target {target}: {:.1} s, {} sent, {} answered, {} lost",
            secs, total.sent, total.answered, total.lost
        );
        println!(
            "{rps:.0} requests/s; latency p50 {p50:.0} us, p99 {p99:.0} us, p99.9 {p999:.0} us"
        );
        let codes: Vec<String> = total
            .codes
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        println!("replies by code: {}", codes.join(", "));
        for (op, h) in &total.by_op {
            println!(
                "  {op:<9} {:>10} answered; p50 {:.0} us, p99 {:.0} us",
                h.count(),
                h.quantile(0.5) / 1e3,
                h.quantile(0.99) / 1e3
            );
        }
    }
    Ok(())
}
