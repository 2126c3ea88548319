//! Operator commands on a digest database: `pyzord migrate` (what the
//! reference's `pyzor-migrate` does, between gdbm, file, redis,
//! redis-cluster and mysql) and `pyzord stats`.
//!
//! A database is named `ENGINE[:DSN]`: `gdbm:/var/lib/pyzor/pyzord.db`,
//! `file:pyzord.store`, `redis:127.0.0.1,6379,,0`,
//! `redis-cluster:10.0.0.1:7000,10.0.0.2:7000`,
//! `mysql:localhost,pyzor,PASSWORD,pyzor,public`; without a DSN, gdbm and
//! file use their default in the homedir and redis its default DSN. A
//! `file:` that names a file of the file store's earlier format (redb,
//! `pyzord.redb`) is read as such: a source of `migrate` and `stats`.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use pyzor_core::Digest;

use crate::store::file::FileStore;
use crate::store::gdbm::GdbmStore;
use crate::store::legacy::{LegacyFileStore, looks_like_redb};
use crate::store::mysql::MysqlStore;
use crate::store::redis::RedisStore;
use crate::store::redis_cluster::RedisClusterStore;
use crate::store::{Bulk, Record, Store, StoreError, StoreOp};

/// A store that can also be read and written as a whole.
pub trait Database: Store + Bulk {}

impl<T: Store + Bulk> Database for T {}

/// A database named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSpec {
    /// A gdbm file.
    Gdbm(PathBuf),
    /// A file store's directory (or a file of its earlier format).
    File(PathBuf),
    /// A Redis DSN (`host,port,password,db`).
    Redis(String),
    /// A Redis Cluster DSN (`HOST:PORT[,HOST:PORT…][,password=PASSWORD]`).
    RedisCluster(String),
    /// A MySQL/MariaDB DSN (`host,user,password,db,table`).
    Mysql(String),
}

impl DbSpec {
    /// Parses `ENGINE[:DSN]`; relative file names are taken against
    /// `homedir` when the DSN is omitted, against the current directory
    /// otherwise.
    pub fn parse(s: &str, homedir: &Path) -> Result<DbSpec, String> {
        let (engine, dsn) = match s.split_once(':') {
            Some((e, d)) => (e, Some(d)),
            None => (s, None),
        };
        let file = |default: &str| match dsn {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => homedir.join(default),
        };
        match engine {
            "gdbm" => Ok(DbSpec::Gdbm(file("pyzord.db"))),
            "file" => Ok(DbSpec::File(file("pyzord.store"))),
            "redis" => Ok(DbSpec::Redis(
                dsn.filter(|d| !d.is_empty())
                    .unwrap_or("localhost,6379,,0")
                    .to_owned(),
            )),
            "redis-cluster" => match dsn.filter(|d| !d.is_empty()) {
                Some(d) => Ok(DbSpec::RedisCluster(d.to_owned())),
                None => Err(
                    "redis-cluster needs its seed nodes: redis-cluster:HOST:PORT[,HOST:PORT...]"
                        .to_owned(),
                ),
            },
            "mysql" => match dsn.filter(|d| !d.is_empty()) {
                Some(d) => Ok(DbSpec::Mysql(d.to_owned())),
                None => Err("mysql needs its DSN: mysql:HOST,USER,PASSWORD,DB,TABLE".to_owned()),
            },
            other => Err(format!(
                "unknown database {other:?}: use gdbm[:FILE], file[:FILE], redis[:HOST,PORT,PASSWORD,DB], redis-cluster:HOST:PORT[,HOST:PORT...] or mysql:HOST,USER,PASSWORD,DB,TABLE"
            )),
        }
    }

    /// Opens it: for reading only where the engine allows (`writable` =
    /// false), else for reading and writing. Redis keys get `cleanup_age`
    /// as their TTL.
    pub fn open(&self, writable: bool, cleanup_age: i64) -> Result<Box<dyn Database>, String> {
        let busy = "; is a pyzord serving it? stop it first";
        if let DbSpec::Gdbm(p) = self
            && p.is_dir()
        {
            return Err(format!(
                "{}: is a directory; a gdbm database is a file (name one)",
                p.display()
            ));
        }
        Ok(match self {
            DbSpec::Gdbm(p) => {
                if !writable && !p.exists() {
                    return Err(format!("{}: no such file", p.display()));
                }
                let s = if writable {
                    GdbmStore::open(p)
                } else {
                    GdbmStore::open_read_only(p)
                };
                Box::new(s.map_err(|e| format!("{e}{busy}"))?)
            }
            DbSpec::File(p) => {
                if !writable && !p.exists() {
                    return Err(format!("{}: no such directory", p.display()));
                }
                if let Some(e) = FileStore::not_a_store(p) {
                    return Err(e.to_string());
                }
                let s = if writable {
                    FileStore::open(p)
                } else {
                    FileStore::open_read_only(p)
                };
                Box::new(s.map_err(|e| format!("{e}{busy}"))?)
            }
            DbSpec::Redis(dsn) => Box::new(
                RedisStore::open(dsn, cleanup_age)
                    .map_err(|e| format!("{self}: {}", crate::store::causes(&e)))?,
            ),
            DbSpec::RedisCluster(dsn) => Box::new(
                RedisClusterStore::open(dsn, cleanup_age)
                    .map_err(|e| format!("{self}: {}", crate::store::causes(&e)))?,
            ),
            DbSpec::Mysql(dsn) => Box::new(
                MysqlStore::open(dsn, 1)
                    .map_err(|e| format!("{self}: {}", crate::store::causes(&e)))?,
            ),
        })
    }
}

impl DbSpec {
    /// Opens it to be read as a whole (the source of `migrate`, `stats`):
    /// also a file of the file store's earlier format.
    pub fn open_source(&self) -> Result<Box<dyn Bulk>, String> {
        if let DbSpec::File(p) = self
            && looks_like_redb(p)
        {
            return Ok(Box::new(LegacyFileStore::open(p).map_err(|e| {
                format!("{e}; is an earlier pyzord-rs serving it? stop it first")
            })?));
        }
        Ok(self.open(false, 0)?)
    }
}

impl std::fmt::Display for DbSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbSpec::Gdbm(p) => write!(f, "gdbm:{}", p.display()),
            DbSpec::File(p) => write!(f, "file:{}", p.display()),
            // a password given in the DSN is not shown
            DbSpec::Redis(d) => match crate::store::redis::Dsn::parse(d) {
                Ok(x) if x.password.is_some() => {
                    write!(f, "redis:{},{},***,{}", x.host, x.port, x.db)
                }
                _ => write!(f, "redis:{d}"),
            },
            DbSpec::RedisCluster(d) => match crate::store::redis_cluster::ClusterDsn::parse(d) {
                Ok(x) => write!(f, "redis-cluster:{x}"),
                Err(_) => write!(f, "redis-cluster:{d}"),
            },
            DbSpec::Mysql(d) => match crate::store::mysql::Dsn::parse(d) {
                Ok(dsn) => write!(f, "mysql:{dsn}"),
                Err(_) => write!(f, "mysql:{d}"),
            },
        }
    }
}

/// What a migration did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Records written to the destination.
    pub copied: u64,
    /// Records of the source that could not be read (reported and left out).
    pub skipped: u64,
    /// With verification: records read back from the destination.
    pub verified: u64,
    /// With verification: records that differ (digest and why).
    pub mismatches: Vec<String>,
}

const CHUNK: usize = 1000;

fn bar(total: u64, what: &str) -> ProgressBar {
    // Drawn only when stderr is a terminal.
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta} left)",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}

/// Copies every record of `from` into `to` (replacing records with the
/// same digest), reporting invalid source records on `log` with their key
/// and leaving them out; with `verify`, reads every copied record back
/// and compares.
pub fn migrate(
    from: &dyn Bulk,
    to: &dyn Database,
    verify: bool,
    log: &mut dyn Write,
) -> Result<MigrationReport, StoreError> {
    let mut report = MigrationReport::default();
    let total = from.count()?;
    let pb = bar(total, "copying");
    let mut chunk: Vec<(Digest, Record)> = Vec::with_capacity(CHUNK);
    let mut failure: Option<StoreError> = None;
    from.scan(&mut |item| {
        if failure.is_some() {
            return;
        }
        pb.inc(1);
        match item {
            Ok(r) => {
                chunk.push(r);
                if chunk.len() == CHUNK {
                    match to.put_all(&chunk) {
                        Ok(()) => report.copied += chunk.len() as u64,
                        Err(e) => failure = Some(e),
                    }
                    chunk.clear();
                }
            }
            Err(e) => {
                report.skipped += 1;
                let line = format!("skipped {e}");
                pb.suspend(|| {
                    let _ = writeln!(log, "{line}");
                });
            }
        }
    })?;
    if let Some(e) = failure {
        pb.abandon();
        return Err(e);
    }
    if !chunk.is_empty() {
        to.put_all(&chunk)?;
        report.copied += chunk.len() as u64;
    }
    pb.finish_and_clear();
    if verify {
        let pb = bar(report.copied, "verifying");
        let mut pending: Vec<(Digest, Record)> = Vec::with_capacity(CHUNK);
        let check = |pending: &mut Vec<(Digest, Record)>,
                     report: &mut MigrationReport|
         -> Result<(), StoreError> {
            let ops: Vec<StoreOp> = pending.iter().map(|(d, _)| StoreOp::Get(*d)).collect();
            let got = to.apply(&ops, 0)?;
            for ((d, want), got) in pending.iter().zip(got) {
                report.verified += 1;
                let want = to.stored(want);
                if got != want {
                    report
                        .mismatches
                        .push(format!("{d}: source {want:?}, destination {got:?}"));
                }
            }
            pb.inc(pending.len() as u64);
            pending.clear();
            Ok(())
        };
        let mut failure = None;
        from.scan(&mut |item| {
            if failure.is_some() {
                return;
            }
            if let Ok(r) = item {
                pending.push(r);
                if pending.len() == CHUNK
                    && let Err(e) = check(&mut pending, &mut report)
                {
                    failure = Some(e);
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if !pending.is_empty() {
            check(&mut pending, &mut report)?;
        }
        pb.finish_and_clear();
    }
    Ok(report)
}

/// Counts, totals and histograms of a database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statistics {
    /// Records.
    pub digests: u64,
    /// Records that cannot be read.
    pub invalid: u64,
    /// Sum of the report counts.
    pub reports: u128,
    /// Sum of the whitelist counts.
    pub whitelists: u128,
    /// Records with at least one report.
    pub reported: u64,
    /// Records with at least one whitelist.
    pub whitelisted: u64,
    /// Records by report count: 0, 1, 2–3, 4–7, … (powers of two).
    pub count_histogram: Vec<u64>,
    /// Records by age of the last update, in [`AGE_BUCKETS`].
    pub age_histogram: Vec<u64>,
}

/// The age buckets of [`Statistics::age_histogram`]: (upper bound in
/// seconds, label); the last takes everything older.
pub const AGE_BUCKETS: [(i64, &str); 8] = [
    (3600, "< 1 hour"),
    (86_400, "< 1 day"),
    (7 * 86_400, "< 1 week"),
    (30 * 86_400, "< 30 days"),
    (90 * 86_400, "< 90 days"),
    (120 * 86_400, "< 120 days"),
    (365 * 86_400, "< 1 year"),
    (i64::MAX, ">= 1 year"),
];

fn count_bucket(n: i64) -> usize {
    if n <= 0 {
        0
    } else {
        64 - (n as u64).leading_zeros() as usize
    }
}

fn count_label(i: usize) -> String {
    match i {
        0 => "0".into(),
        1 => "1".into(),
        _ => {
            let lo = 1u128 << (i - 1);
            format!("{lo}-{}", (lo << 1) - 1)
        }
    }
}

/// Gathers [`Statistics`] at time `now` (Unix seconds).
pub fn statistics(db: &dyn Bulk, now: i64) -> Result<Statistics, StoreError> {
    let mut s = Statistics {
        age_histogram: vec![0; AGE_BUCKETS.len()],
        ..Statistics::default()
    };
    db.scan(&mut |item| match item {
        Ok((_, r)) => {
            s.digests += 1;
            s.reports += r.r_count.max(0) as u128;
            s.whitelists += r.wl_count.max(0) as u128;
            s.reported += u64::from(r.r_count > 0);
            s.whitelisted += u64::from(r.wl_count > 0);
            let b = count_bucket(r.r_count);
            if s.count_histogram.len() <= b {
                s.count_histogram.resize(b + 1, 0);
            }
            s.count_histogram[b] += 1;
            let age = now.saturating_sub(r.last_update()).max(0);
            let i = AGE_BUCKETS
                .iter()
                .position(|(limit, _)| age < *limit)
                .unwrap_or(AGE_BUCKETS.len() - 1);
            s.age_histogram[i] += 1;
        }
        Err(_) => s.invalid += 1,
    })?;
    Ok(s)
}

fn histogram(out: &mut dyn Write, rows: &[(String, u64)]) -> std::io::Result<()> {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (label, n) in rows {
        let bar = "#".repeat(((*n as f64 / max as f64) * 40.0).ceil() as usize);
        writeln!(out, "  {label:>width$}  {n:>12}  {bar}")?;
    }
    Ok(())
}

/// Prints [`Statistics`] for people.
pub fn print_statistics(
    out: &mut dyn Write,
    what: &str,
    s: &Statistics,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    writeln!(out, "database:     {what}")?;
    writeln!(out, "digests:      {}", s.digests)?;
    if s.invalid > 0 {
        writeln!(
            out,
            "invalid:      {} (records that cannot be read)",
            s.invalid
        )?;
    }
    writeln!(
        out,
        "reports:      {} in total, on {} digests",
        s.reports, s.reported
    )?;
    writeln!(
        out,
        "whitelists:   {} in total, on {} digests",
        s.whitelists, s.whitelisted
    )?;
    writeln!(out, "digests by report count:")?;
    let rows: Vec<(String, u64)> = s
        .count_histogram
        .iter()
        .enumerate()
        .map(|(i, n)| (count_label(i), *n))
        .collect();
    histogram(out, &rows)?;
    writeln!(out, "digests by age of the last report or whitelist:")?;
    let rows: Vec<(String, u64)> = AGE_BUCKETS
        .iter()
        .zip(&s.age_histogram)
        .map(|((_, label), n)| ((*label).to_owned(), *n))
        .collect();
    histogram(out, &rows)?;
    writeln!(out, "(read in {:.1} s)", elapsed.as_secs_f64())
}

/// Runs `pyzord migrate`; returns the exit status.
pub fn run_migrate(
    from: &DbSpec,
    to: &DbSpec,
    verify: bool,
    cleanup_age: i64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if from == to {
        let _ = writeln!(
            err,
            "pyzord migrate: {from} is both the source and the destination"
        );
        return 2;
    }
    let opened = from
        .open_source()
        .and_then(|f| to.open(true, cleanup_age).map(|t| (f, t)));
    let (source, dest) = match opened {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "pyzord migrate: {e}");
            return 1;
        }
    };
    let start = Instant::now();
    let before = match dest.count() {
        Ok(n) => n,
        Err(e) => {
            let _ = writeln!(err, "pyzord migrate: {to}: {}", crate::store::causes(&e));
            return 1;
        }
    };
    match migrate(&*source, &*dest, verify, err) {
        Ok(r) => {
            let _ = writeln!(
                out,
                "{from} -> {to}: {} records copied, {} skipped, in {:.1} s",
                r.copied,
                r.skipped,
                start.elapsed().as_secs_f64()
            );
            if before > 0 {
                // records with a digest the destination had are replaced
                let after = dest.count().unwrap_or(before + r.copied);
                let replaced = (before + r.copied).saturating_sub(after);
                let _ = writeln!(
                    out,
                    "{to} held {before} records before: {replaced} replaced by the copy, {} kept",
                    before - replaced.min(before)
                );
            }
            if verify {
                let _ = writeln!(
                    out,
                    "verified {} records: {} differ",
                    r.verified,
                    r.mismatches.len()
                );
                for m in r.mismatches.iter().take(20) {
                    let _ = writeln!(err, "differs: {m}");
                }
                if !r.mismatches.is_empty() {
                    return 1;
                }
            }
            let _ = dest.flush();
            0
        }
        Err(e) => {
            let _ = writeln!(err, "pyzord migrate: {}", crate::store::causes(&e));
            1
        }
    }
}

/// The local socket through which a running pyzord answers `pyzord stats`
/// (its database is locked by it, or in its memory): a Unix socket in the
/// homedir, `pyzord.sock`, readable by its user only. A client connects,
/// writes `stats` and a newline, and reads the statistics as `pyzord
/// stats` prints them, until the server closes the connection. One
/// connection at a time, each with a 5 s read timeout.
#[cfg(unix)]
pub struct StatsSocket {
    path: PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The statistics socket's file name in the homedir.
pub const STATS_SOCKET: &str = "pyzord.sock";

#[cfg(unix)]
impl StatsSocket {
    /// Listens at `path` for stats requests about `db` (described as
    /// `name`). A socket file left by a server that is gone is replaced;
    /// one a running server answers on is an error.
    pub fn start(path: &Path, db: Arc<dyn Database>, name: String) -> std::io::Result<StatsSocket> {
        use std::os::unix::net::{UnixListener, UnixStream};
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{}: another pyzord answers there", path.display()),
            ));
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pyzord-stats".into())
            .spawn(move || {
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => answer_stats(conn, &*db, &name),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        Err(e) => {
                            tracing::warn!("stats socket: {e}");
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                    }
                }
            })?;
        Ok(StatsSocket {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }
}

#[cfg(unix)]
impl Drop for StatsSocket {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers one connection of the stats socket.
#[cfg(unix)]
fn answer_stats(conn: std::os::unix::net::UnixStream, db: &dyn Database, name: &str) {
    use std::io::BufRead as _;
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(&conn).take(64);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut out = &conn;
    if line.trim() != "stats" {
        let _ = writeln!(
            out,
            "error: unknown request {:?} (say \"stats\")",
            line.trim()
        );
        return;
    }
    let start = Instant::now();
    let now = pyzor_core::unix_secs(std::time::SystemTime::now());
    match statistics(db, now) {
        Ok(s) => {
            let _ = print_statistics(
                &mut out,
                &format!("{name} (live, from the running server)"),
                &s,
                start.elapsed(),
            );
        }
        Err(e) => {
            let _ = writeln!(out, "error: {}", crate::store::causes(&e));
        }
    }
}

/// Asks the server listening at `socket` for its statistics; `None` when
/// no server answers there.
#[cfg(unix)]
pub fn ask_stats(socket: &Path) -> Option<std::io::Result<String>> {
    use std::io::Read as _;
    let mut conn = std::os::unix::net::UnixStream::connect(socket).ok()?;
    let r = (|| {
        conn.set_read_timeout(Some(std::time::Duration::from_secs(600)))?;
        conn.write_all(b"stats\n")?;
        let mut text = String::new();
        conn.read_to_string(&mut text)?;
        Ok(text)
    })();
    Some(r)
}

/// Runs `pyzord stats`; returns the exit status.
pub fn run_stats(db: &DbSpec, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let store = match db.open_source() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "pyzord stats: {e}");
            return 1;
        }
    };
    let start = Instant::now();
    let now = pyzor_core::unix_secs(std::time::SystemTime::now());
    match statistics(&*store, now) {
        Ok(s) => {
            let _ = print_statistics(out, &db.to_string(), &s, start.elapsed());
            0
        }
        Err(e) => {
            let _ = writeln!(err, "pyzord stats: {db}: {}", crate::store::causes(&e));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Update;
    use crate::store::memory::MemoryStore;

    #[test]
    fn specs() {
        let home = Path::new("/home/p");
        assert_eq!(
            DbSpec::parse("gdbm", home).unwrap(),
            DbSpec::Gdbm("/home/p/pyzord.db".into())
        );
        assert_eq!(
            DbSpec::parse("file:/x/y.store", home).unwrap(),
            DbSpec::File("/x/y.store".into())
        );
        assert_eq!(
            DbSpec::parse("redis", home).unwrap(),
            DbSpec::Redis("localhost,6379,,0".into())
        );
        assert_eq!(
            DbSpec::parse("redis:10.0.0.1,6380,pw,2", home).unwrap(),
            DbSpec::Redis("10.0.0.1,6380,pw,2".into())
        );
        assert_eq!(
            DbSpec::parse("redis-cluster:10.0.0.1:7000,10.0.0.2:7000", home).unwrap(),
            DbSpec::RedisCluster("10.0.0.1:7000,10.0.0.2:7000".into())
        );
        assert!(DbSpec::parse("redis-cluster", home).is_err());
        // passwords are not shown
        assert_eq!(
            DbSpec::parse("redis:h,1,secret,2", home)
                .unwrap()
                .to_string(),
            "redis:h,1,***,2"
        );
        assert_eq!(
            DbSpec::parse("redis-cluster:h:1,password=secret", home)
                .unwrap()
                .to_string(),
            "redis-cluster:h:1"
        );
        assert_eq!(
            DbSpec::parse("mysql:h:3306,u,secret,db,t", home)
                .unwrap()
                .to_string(),
            "mysql:u@h:3306/db.t"
        );
        assert_eq!(
            DbSpec::parse("redis-cluster:h:1", home)
                .unwrap()
                .to_string(),
            "redis-cluster:h:1"
        );
        assert_eq!(
            DbSpec::parse("mysql:h,u,p,db,t", home).unwrap(),
            DbSpec::Mysql("h,u,p,db,t".into())
        );
        assert!(DbSpec::parse("mysql", home).is_err());
        assert!(DbSpec::parse("oracle:x", home).is_err());
    }

    #[test]
    fn histograms() {
        let m = MemoryStore::new();
        let now = 1_000_000_000;
        let d = |b: u8| Digest([b; 20]);
        m.apply(
            &[
                StoreOp::Update(Update::Report, vec![d(1)]),
                StoreOp::Update(Update::Report, vec![d(2), d(2), d(2)]),
                StoreOp::Update(Update::Whitelist, vec![d(3)]),
            ],
            now - 7200,
        )
        .unwrap();
        let s = statistics(&m, now).unwrap();
        assert_eq!((s.digests, s.reports, s.whitelists), (3, 4, 1));
        assert_eq!((s.reported, s.whitelisted), (2, 1));
        assert_eq!(s.count_histogram, vec![1, 1, 1]);
        assert_eq!(s.age_histogram[1], 3);
        let mut out = Vec::new();
        print_statistics(&mut out, "memory", &s, std::time::Duration::ZERO).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("digests:      3\n"), "{text}");
        assert!(text.contains("2-3"), "{text}");
        assert_eq!(count_label(4), "8-15");
    }
}
