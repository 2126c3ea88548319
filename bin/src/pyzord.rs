//! The `pyzord` command line: pyzord 1.1.2's options, config keys and
//! defaults, mapped onto this server.
//!
//! Options about Python's concurrency models are accepted and mapped onto
//! worker threads: `--max-threads N`, `--max-processes N` (with
//! `--processes True`) and `--pre-fork N` set the number of workers;
//! otherwise there is one per core (`--workers N` says so directly).
//! `--gevent` is accepted and has nothing to do; `--db-connections` sizes
//! the mysql engine's connection pool (at least one per worker).

use std::ffi::OsString;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pyzor_core::files::settings::{ServerSettings, expand_home_file};
use pyzord::admin::{Database, STATS_SOCKET, StatsSocket};
use pyzord::forward::{self, ForwardConfig, Forwarder};
use pyzord::guard::{GuardConfig, Network};
use pyzord::handler::{Hooks, NoHooks};
use pyzord::server::{Options, Server, ServerHandle};
use pyzord::stats::Stats;
use pyzord::store::Store;
use pyzord::store::file::{FileOptions, FileStore, SyncMode, looks_like_gdbm};
use pyzord::store::gdbm::GdbmStore;
use pyzord::store::memory::MemoryStore;
use pyzord::store::mysql::MysqlStore;
use pyzord::store::redis::RedisStore;
use pyzord::store::redis_cluster::RedisClusterStore;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::{Handle, Signals};

use crate::logging::{self, Output};
use crate::process;

/// Listen for and process incoming Pyzor connections.
#[derive(Debug, Parser)]
#[command(name = "pyzord", disable_version_flag = true, about, long_about = None)]
pub struct Args {
    /// 'nice' level
    #[arg(
        short = 'n',
        long = "nice",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub nice: i32,
    /// enable debugging output
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// configuration directory
    #[arg(long = "homedir")]
    pub homedir: Option<PathBuf>,
    /// listen on this IP
    #[arg(short = 'a', long = "address")]
    pub address: Option<String>,
    /// listen on this port
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// select database backend (file, memory, redis, redis-cluster, mysql,
    /// gdbm)
    #[arg(short = 'e', long = "database-engine")]
    pub engine: Option<String>,
    /// data source name (a file name for file and gdbm,
    /// host,port,password,db for redis,
    /// HOST:PORT[,HOST:PORT...][,password=PASSWORD] for redis-cluster,
    /// host,user,password,db,table for mysql)
    #[arg(long = "dsn")]
    pub dsn: Option<String>,
    /// accepted for compatibility (Python's gevent; nothing to do here)
    #[arg(long = "gevent")]
    pub gevent: Option<String>,
    /// accepted for compatibility (workers are threads already)
    #[arg(long = "threads")]
    pub threads: Option<String>,
    /// number of worker threads (0: one per core)
    #[arg(long = "max-threads", allow_negative_numbers = true)]
    pub max_threads: Option<i64>,
    /// accepted for compatibility (with --max-processes: that many workers)
    #[arg(long = "processes")]
    pub processes: Option<String>,
    /// with --processes True: number of worker threads
    #[arg(long = "max-processes", allow_negative_numbers = true)]
    pub max_processes: Option<i64>,
    /// accepted for compatibility (each worker has its own connection)
    #[arg(long = "db-connections", allow_negative_numbers = true)]
    pub db_connections: Option<i64>,
    /// number of worker threads (at least 2)
    #[arg(long = "pre-fork")]
    pub pre_fork: Option<String>,
    /// name of password file
    #[arg(long = "password-file")]
    pub password_file: Option<String>,
    /// name of ACL file
    #[arg(long = "access-file")]
    pub access_file: Option<String>,
    /// time before digests expire (in seconds)
    #[arg(long = "cleanup-age")]
    pub cleanup_age: Option<String>,
    /// name of the log file
    #[arg(long = "log-file")]
    pub log_file: Option<String>,
    /// name of the usage log file
    #[arg(long = "usage-log-file")]
    pub usage_log_file: Option<String>,
    /// save the pid in this file after the server is daemonized
    #[arg(long = "pid-file")]
    pub pid_file: Option<String>,
    /// Specify a pyzor client configuration directory to forward received
    /// digests to a remote pyzor server
    #[arg(long = "forward-client-homedir")]
    pub forward_client_homedir: Option<String>,
    /// daemonizes the server and redirects any output to the specified file
    #[arg(long = "detach")]
    pub detach: Option<PathBuf>,
    /// number of worker threads (pyzor-rs; default: one per core)
    #[arg(long = "workers")]
    pub workers: Option<usize>,
    /// serve Prometheus metrics over HTTP at ADDR (pyzor-rs; setting
    /// Metrics; a bare port listens on 127.0.0.1; off by default)
    #[arg(long = "metrics", value_name = "ADDR")]
    pub metrics: Option<String>,
    /// answer a signed report or whitelist seen again within its time
    /// window without applying it again (pyzor-rs; True or False; default
    /// True)
    #[arg(long = "replay-protection", value_name = "BOOL")]
    pub replay_protection: Option<String>,
    /// digests of reports and whitelists a second per source network
    /// (pyzor-rs; default 0: no limit; over it, 429)
    #[arg(long = "update-rate", value_name = "RATE")]
    pub update_rate: Option<String>,
    /// the rate limit's burst, in digests (pyzor-rs; default: the rate)
    #[arg(long = "update-burst", value_name = "N")]
    pub update_burst: Option<String>,
    /// prefix length of an IPv4 source network (pyzor-rs; default 24)
    #[arg(long = "rate-limit-ipv4-prefix", value_name = "BITS")]
    pub rate_limit_ipv4_prefix: Option<String>,
    /// prefix length of an IPv6 source network (pyzor-rs; default 56)
    #[arg(long = "rate-limit-ipv6-prefix", value_name = "BITS")]
    pub rate_limit_ipv6_prefix: Option<String>,
    /// comma-separated users and networks (ADDR/BITS) exempt from the
    /// rate limit and --one-report-per-network (pyzor-rs)
    #[arg(long = "rate-limit-exempt", value_name = "LIST")]
    pub rate_limit_exempt: Option<String>,
    /// count one report of a digest per source network within this many
    /// seconds (pyzor-rs; default 0: off)
    #[arg(long = "one-report-per-network", value_name = "SECONDS")]
    pub one_report_per_network: Option<String>,
    /// with the file store, sync its journal every SECONDS and answer
    /// reports at once (pyzor-rs; default 0: answer a report once it is on
    /// disk; 1 is Redis' everysec)
    #[arg(long = "sync-interval", value_name = "SECONDS")]
    pub sync_interval: Option<String>,
    /// the file store's cache and key filter in MiB: with its two write
    /// buffers, what bounds its memory (pyzor-rs; default 256)
    #[arg(long = "cache-size", value_name = "MIB")]
    pub cache_size: Option<String>,
    /// print version and exit
    #[arg(short = 'V', long = "version")]
    pub version: bool,
    /// An operator command instead of serving (pyzor-rs).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator commands (pyzor-rs). A database is `ENGINE[:DSN]`:
/// `gdbm[:FILE]`, `file[:FILE]`, `redis[:HOST,PORT,PASSWORD,DB]`,
/// `redis-cluster:HOST:PORT[,HOST:PORT...][,password=PASSWORD]`,
/// `mysql:HOST,USER,PASSWORD,DB,TABLE`; without a
/// DSN the homedir's default file or Redis' default DSN.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy every record of one database into another (between gdbm, file,
    /// redis, redis-cluster and mysql; what pyzor-migrate does). Records that cannot be read
    /// are reported with their key and skipped.
    Migrate {
        /// The source database, ENGINE or ENGINE:DSN.
        #[arg(long = "from", value_name = "ENGINE[:DSN]")]
        from: String,
        /// The destination database, ENGINE or ENGINE:DSN (records with the same
        /// digest are replaced).
        #[arg(long = "to", value_name = "ENGINE[:DSN]")]
        to: String,
        /// Read every copied record back from the destination and compare.
        #[arg(long)]
        verify: bool,
    },
    /// Print the number of digests, report and whitelist totals, and
    /// histograms of counts and ages.
    Stats {
        /// The database, ENGINE or ENGINE:DSN (default: the one the homedir's
        /// configuration serves).
        #[arg(value_name = "ENGINE[:DSN]")]
        database: Option<String>,
    },
}

impl Args {
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = Vec::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                o.push((k, v));
            }
        };
        put("ListenAddress", self.address.clone());
        put("Port", self.port.map(|p| p.to_string()));
        put("Engine", self.engine.clone());
        put("DigestDB", self.dsn.clone());
        put("Gevent", self.gevent.clone());
        put("Threads", self.threads.clone());
        put("MaxThreads", self.max_threads.map(|v| v.to_string()));
        put("Processes", self.processes.clone());
        put("MaxProcesses", self.max_processes.map(|v| v.to_string()));
        put("DBConnections", self.db_connections.map(|v| v.to_string()));
        put("PreFork", self.pre_fork.clone());
        put("PasswdFile", self.password_file.clone());
        put("AccessFile", self.access_file.clone());
        put("CleanupAge", self.cleanup_age.clone());
        put("LogFile", self.log_file.clone());
        put("UsageLogFile", self.usage_log_file.clone());
        put("PidFile", self.pid_file.clone());
        put("ForwardClientHomeDir", self.forward_client_homedir.clone());
        put("ReplayProtection", self.replay_protection.clone());
        put("UpdateRate", self.update_rate.clone());
        put("UpdateBurst", self.update_burst.clone());
        put("RateLimitIPv4Prefix", self.rate_limit_ipv4_prefix.clone());
        put("RateLimitIPv6Prefix", self.rate_limit_ipv6_prefix.clone());
        put("RateLimitExempt", self.rate_limit_exempt.clone());
        put("OneReportPerNetwork", self.one_report_per_network.clone());
        put("SyncInterval", self.sync_interval.clone());
        put("CacheSize", self.cache_size.clone());
        put("Metrics", self.metrics.clone());
        o
    }
}

/// A fatal start-up problem: the message and the exit status.
pub struct Fatal(pub String, pub i32);

fn fatal(msg: impl Into<String>) -> Fatal {
    Fatal(msg.into(), 1)
}

/// The log target of the fatal error that ends the server.
const FATAL: &str = "pyzord::fatal";

/// The log target of the line that says the server listens, which stderr
/// shows without `-d` too.
const START: &str = "pyzord::start";

/// The file store's directory in the homedir.
pub const FILE_STORE: &str = "pyzord.store";

/// The engines this server has.
pub const ENGINES: &str = "file (the default), memory, redis, redis-cluster, mysql, gdbm";

/// A resolved start-up configuration.
pub struct Setup {
    /// The settings after defaults, config file and options.
    pub settings: ServerSettings,
    /// The homedir (absolute).
    pub homedir: PathBuf,
    /// The store to open.
    pub engine: Engine,
    /// Where to listen.
    pub address: SocketAddr,
    /// Worker threads.
    pub workers: usize,
    /// The guards against replay and poisoning.
    pub guard: GuardConfig,
    /// How the file store syncs and caches.
    pub file_options: FileOptions,
}

/// A store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The file store at this path.
    File(PathBuf),
    /// In memory.
    Memory,
    /// Redis with this DSN.
    Redis(String),
    /// A Redis Cluster with this DSN (seed nodes).
    RedisCluster(String),
    /// A MySQL/MariaDB table (`host,user,password,db,table`).
    Mysql(String),
    /// A gdbm database of the reference at this path.
    Gdbm(PathBuf),
}

fn default_homedir() -> PathBuf {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".pyzor"),
        None => PathBuf::from("/etc/pyzor"),
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p)
    }
}

/// Resolves options, `<homedir>/config` and defaults into a [`Setup`].
pub fn resolve(args: &Args) -> Result<Setup, Fatal> {
    let homedir = absolute(args.homedir.clone().unwrap_or_else(default_homedir));
    if !homedir.exists() {
        std::fs::create_dir(&homedir)
            .map_err(|e| fatal(format!("cannot create homedir {}: {e}", homedir.display())))?;
    }
    let config_path = homedir.join("config");
    let ini = pyzor_client::read_ini(&config_path).map_err(|e| fatal(e.to_string()))?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let overrides = args.overrides();
    let overrides: Vec<(&str, String)> = overrides.iter().map(|(k, v)| (*k, v.clone())).collect();
    let settings = ServerSettings::resolve(
        &homedir,
        home.as_deref(),
        &config_path,
        ini.as_ref(),
        &overrides,
    )
    .map_err(|e| fatal(e.to_string()))?;

    if settings.threads && settings.processes {
        return Err(fatal(
            "You cannot use both processes and threads at the same time",
        ));
    }
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if settings.max_threads > 0 {
        workers = settings.max_threads as usize;
    }
    if settings.processes && settings.max_processes > 0 {
        workers = settings.max_processes as usize;
    }
    if settings.pre_fork != 0 {
        if settings.pre_fork < 2 {
            return Err(fatal("Pre-fork value cannot be lower than 2."));
        }
        workers = settings.pre_fork as usize;
    }
    if let Some(w) = args.workers {
        workers = w.max(1);
    }
    workers = workers.min(256);

    let port = u16::try_from(settings.port)
        .map_err(|_| fatal(format!("invalid port {}", settings.port)))?;
    let address = listen_address(&settings.listen_address, port)?;
    let engine = engine(&settings, &homedir, home.as_deref())?;
    let guard = guard_config(&settings)?;
    let file_options = file_options(&settings)?;
    Ok(Setup {
        settings,
        homedir,
        engine,
        address,
        workers,
        guard,
        file_options,
    })
}

/// The file store's options, checked.
fn file_options(s: &ServerSettings) -> Result<FileOptions, Fatal> {
    let sync = if s.sync_interval == 0.0 {
        SyncMode::Commit
    } else if s.sync_interval > 0.0 && s.sync_interval <= 3600.0 {
        SyncMode::Interval(Duration::from_secs_f64(s.sync_interval))
    } else {
        return Err(fatal(format!(
            "SyncInterval: {} is not a number of seconds from 0 to 3600",
            s.sync_interval
        )));
    };
    let cache_mib = u64::try_from(s.cache_size)
        .ok()
        .filter(|m| (1..=1 << 20).contains(m))
        .ok_or_else(|| {
            fatal(format!(
                "CacheSize: {} is not a size in MiB from 1 to 1048576",
                s.cache_size
            ))
        })?;
    Ok(FileOptions {
        sync,
        cache_bytes: cache_mib << 20,
        ..FileOptions::default()
    })
}

/// The guards' settings, checked.
fn guard_config(s: &ServerSettings) -> Result<GuardConfig, Fatal> {
    let prefix = |key: &str, v: i64, max: u8| {
        u8::try_from(v)
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| fatal(format!("{key}: {v} is not a prefix length (0 to {max})")))
    };
    if s.update_rate < 0.0 || s.update_burst < 0.0 {
        return Err(fatal("UpdateRate and UpdateBurst cannot be negative"));
    }
    if s.one_report_per_network < 0 {
        return Err(fatal("OneReportPerNetwork cannot be negative"));
    }
    let mut config = GuardConfig {
        replay: s.replay_protection,
        rate: s.update_rate,
        burst: if s.update_burst > 0.0 {
            s.update_burst
        } else {
            s.update_rate.max(1.0)
        },
        v4_prefix: prefix("RateLimitIPv4Prefix", s.rate_limit_ipv4_prefix, 32)?,
        v6_prefix: prefix("RateLimitIPv6Prefix", s.rate_limit_ipv6_prefix, 128)?,
        exempt_users: Vec::new(),
        exempt_networks: Vec::new(),
        one_report_window: s.one_report_per_network,
    };
    for item in s.rate_limit_exempt.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        // an address or a network, else a user name
        let looks_like_address = item.contains('/')
            || item.contains(':')
            || item.chars().all(|c| c.is_ascii_digit() || c == '.');
        if looks_like_address {
            let n = Network::parse(item).map_err(|e| fatal(format!("RateLimitExempt: {e}")))?;
            config.exempt_networks.push(n);
        } else {
            config.exempt_users.push(item.to_owned());
        }
    }
    Ok(config)
}

fn listen_address(addr: &str, port: u16) -> Result<SocketAddr, Fatal> {
    let host = addr.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| fatal(format!("cannot resolve the listen address {addr:?}")))
}

fn engine(s: &ServerSettings, homedir: &Path, home: Option<&Path>) -> Result<Engine, Fatal> {
    let file =
        |name: &str| expand_home_file(name, homedir, home).unwrap_or_else(|| homedir.join(name));
    let name = if s.engine_explicit {
        s.engine.as_str()
    } else {
        ""
    };
    let file_store = || {
        Engine::File(file(if s.digest_db_explicit {
            &s.digest_db
        } else {
            FILE_STORE
        }))
    };
    match name {
        "file" => Ok(file_store()),
        "memory" => Ok(Engine::Memory),
        "redis" => Ok(Engine::Redis(s.digest_db.clone())),
        "redis-cluster" => Ok(Engine::RedisCluster(s.digest_db.clone())),
        "mysql" => Ok(Engine::Mysql(s.digest_db.clone())),
        "gdbm" => Ok(Engine::Gdbm(file(&s.digest_db))),
        "" => {
            // Not chosen: serve an existing gdbm database of pyzord 1.1.2
            // (whose default engine is gdbm) in place; else the file store.
            let gdbm = file(&s.digest_db);
            if looks_like_gdbm(&gdbm) {
                tracing::info!(
                    "{} is a gdbm database of pyzord 1.1.2: serving it with the gdbm engine",
                    gdbm.display()
                );
                Ok(Engine::Gdbm(gdbm))
            } else {
                Ok(file_store())
            }
        }
        other => Err(fatal(format!(
            "database engine {other:?} is not supported; supported engines: {ENGINES}"
        ))),
    }
}

/// Opens the store of an engine.
pub fn open_store(
    engine: &Engine,
    cleanup_age: i64,
    file_options: FileOptions,
    connections: usize,
) -> Result<Arc<dyn Database>, Fatal> {
    Ok(match engine {
        Engine::Gdbm(p) if p.is_dir() => {
            return Err(fatal(format!(
                "{}: is a directory; a gdbm database is a file (name one with --dsn)",
                p.display()
            )));
        }
        Engine::File(p) if let Some(e) = FileStore::not_a_store(p) => {
            return Err(fatal(e.to_string()));
        }
        Engine::File(p) => Arc::new(FileStore::open_with(p, file_options).map_err(|e| {
            fatal(format!(
                "{e}; is another pyzord serving it? (the file store has one writer)"
            ))
        })?),
        Engine::Memory => Arc::new(MemoryStore::new()) as Arc<dyn Database>,
        Engine::Redis(dsn) => Arc::new(
            RedisStore::open(dsn, cleanup_age).map_err(|e| fatal(pyzord::store::causes(&e)))?,
        ),
        Engine::RedisCluster(dsn) => Arc::new(
            RedisClusterStore::open(dsn, cleanup_age)
                .map_err(|e| fatal(pyzord::store::causes(&e)))?,
        ),
        Engine::Mysql(dsn) => Arc::new(
            MysqlStore::open(dsn, connections).map_err(|e| fatal(pyzord::store::causes(&e)))?,
        ),
        Engine::Gdbm(p) => Arc::new(GdbmStore::open(p).map_err(|e| {
            fatal(format!(
                "{e}; is another pyzord serving it? (gdbm allows one writer)"
            ))
        })?),
    })
}

fn setup_logging(s: &ServerSettings, debug: bool) -> Result<(), Fatal> {
    // a fatal error is printed on stderr once, plainly (see `run`); the
    // log file gets it as a CRITICAL line
    let mut outputs = vec![Output::stderr(debug).except(FATAL).also(START)];
    if let Some(f) = &s.log_file {
        outputs.push(
            Output::file(f, debug)
                .map_err(|e| fatal(format!("{}: {e}", f.display())))?
                .except("pyzord::usage"),
        );
    }
    if let Some(f) = &s.usage_log_file {
        outputs.push(
            Output::file(f, debug)
                .map_err(|e| fatal(format!("{}: {e}", f.display())))?
                .only("pyzord::usage"),
        );
    }
    let _ = logging::init(outputs);
    Ok(())
}

/// Runs `pyzord`; returns the exit status.
pub fn run(argv: Vec<OsString>) -> i32 {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pyzord".into());
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if args.version {
        eprintln!("{argv0} 1.1.2 (pyzor-rs {})", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    process::set_umask_077();
    if let Some(command) = &args.command {
        return admin(&args, command);
    }
    if args.nice != 0 {
        process::nice(args.nice);
    }
    match serve(&args) {
        Ok(()) => 0,
        Err(Fatal(msg, code)) => {
            eprintln!("pyzord: {msg}");
            tracing::error!(target: FATAL, critical = true, "{msg}");
            code
        }
    }
}

/// `pyzord migrate` and `pyzord stats`.
fn admin(args: &Args, command: &Command) -> i32 {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let setup = match resolve(args) {
        Ok(s) => s,
        Err(Fatal(msg, code)) => {
            let _ = writeln!(err, "pyzord: {msg}");
            return code;
        }
    };
    let parse = |s: &str| pyzord::admin::DbSpec::parse(s, &setup.homedir);
    match command {
        Command::Migrate { from, to, verify } => match (parse(from), parse(to)) {
            (Ok(f), Ok(t)) => pyzord::admin::run_migrate(
                &f,
                &t,
                *verify,
                setup.settings.cleanup_age,
                &mut out,
                &mut err,
            ),
            (Err(e), _) | (_, Err(e)) => {
                let _ = writeln!(err, "pyzord migrate: {e}");
                2
            }
        },
        Command::Stats { database } => {
            // the homedir's own database: a running server answers for it
            // (it holds the file's lock, or the data is in its memory)
            if database.is_none()
                && let Some(answer) = pyzord::admin::ask_stats(&setup.homedir.join(STATS_SOCKET))
            {
                return match answer {
                    Ok(text) if !text.starts_with("error:") => {
                        let _ = out.write_all(text.as_bytes());
                        0
                    }
                    Ok(text) => {
                        let _ = write!(err, "pyzord stats: {}", text.trim_start_matches("error: "));
                        1
                    }
                    Err(e) => {
                        let _ = writeln!(err, "pyzord stats: the running server: {e}");
                        1
                    }
                };
            }
            let spec = match database {
                Some(d) => parse(d),
                None => match &setup.engine {
                    Engine::File(p) => Ok(pyzord::admin::DbSpec::File(p.clone())),
                    Engine::Gdbm(p) => Ok(pyzord::admin::DbSpec::Gdbm(p.clone())),
                    Engine::Redis(d) => Ok(pyzord::admin::DbSpec::Redis(d.clone())),
                    Engine::RedisCluster(d) => {
                        Ok(pyzord::admin::DbSpec::RedisCluster(d.clone()))
                    }
                    Engine::Mysql(d) => Ok(pyzord::admin::DbSpec::Mysql(d.clone())),
                    Engine::Memory => Err(
                        "the memory engine keeps nothing on disk, and no server runs in this homedir"
                            .to_owned(),
                    ),
                },
            };
            match spec {
                Ok(s) => pyzord::admin::run_stats(&s, &mut out, &mut err),
                Err(e) => {
                    let _ = writeln!(err, "pyzord stats: {e}");
                    2
                }
            }
        }
    }
}

/// Refuses to start a new file store beside one of the earlier format
/// (redb) in the homedir, which the operator converts first.
fn earlier_file_store(setup: &Setup) -> Result<(), Fatal> {
    let earlier = setup.homedir.join("pyzord.redb");
    match &setup.engine {
        Engine::File(store)
            if !setup.settings.digest_db_explicit && !store.exists() && earlier.is_file() =>
        {
            Err(fatal(format!(
                "{} is a file store of pyzord-rs' earlier format (redb); convert it with `pyzord --homedir {} migrate --from file:{} --to file:{}`, or serve it as it is with an earlier pyzord-rs",
                earlier.display(),
                setup.homedir.display(),
                earlier.display(),
                store.display()
            )))
        }
        _ => Ok(()),
    }
}

fn serve(args: &Args) -> Result<(), Fatal> {
    let setup = resolve(args)?;
    earlier_file_store(&setup)?;
    if let Some(out) = &args.detach {
        process::detach(&absolute(out.clone()), setup.settings.pid_file.as_deref())
            .map_err(fatal)?;
    }
    setup_logging(&setup.settings, args.debug)?;
    // database connections: one per worker, the expiry thread and the
    // stats socket, or --db-connections if more
    let connections =
        (setup.workers + 2).max(usize::try_from(setup.settings.db_connections).unwrap_or(0));
    let store = open_store(
        &setup.engine,
        setup.settings.cleanup_age,
        setup.file_options,
        connections,
    )?;
    // `pyzord stats` in this homedir asks the running server
    let _stats_socket = match StatsSocket::start(
        &setup.homedir.join(STATS_SOCKET),
        Arc::clone(&store),
        store.describe(),
    ) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("no live statistics for `pyzord stats`: {e}");
            None
        }
    };
    let store: Arc<dyn Store> = store;
    let stats = Arc::new(Stats::new());
    let metrics = setup.settings.metrics.trim();
    let _metrics = match (!metrics.is_empty()).then_some(metrics) {
        Some(a) => {
            let addr = pyzord::metrics::parse_addr(a).map_err(fatal)?;
            let m =
                pyzord::metrics::MetricsServer::start(addr, Arc::clone(&stats), Arc::clone(&store))
                    .map_err(|e| fatal(format!("cannot serve metrics on {addr}: {e}")))?;
            tracing::info!("Serving metrics on http://{}/metrics", m.local_addr());
            Some(m)
        }
        None => None,
    };
    let forwarder = match &setup.settings.forward_client_homedir {
        Some(dir) => {
            let config = ForwardConfig::load(dir).map_err(fatal)?;
            tracing::info!(
                "Forwarding reports and whitelists to {}",
                config
                    .servers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Some(Arc::new(
                Forwarder::start(config, Arc::clone(&stats), forward::QUEUE)
                    .map_err(|e| fatal(format!("cannot start the forwarder: {e}")))?,
            ))
        }
        None => None,
    };
    let hooks: Arc<dyn Hooks + Send + Sync> = match &forwarder {
        Some(f) => Arc::clone(f) as Arc<dyn Hooks + Send + Sync>,
        None => Arc::new(NoHooks),
    };
    let opts = Options {
        address: setup.address,
        workers: setup.workers,
        passwd: setup.settings.passwd_file.clone(),
        access: setup.settings.access_file.clone(),
        cleanup_age: setup.settings.cleanup_age,
        guard: setup.guard.clone(),
    };
    let server =
        Server::bind(opts, Arc::clone(&store), hooks, stats).map_err(|e| fatal(e.to_string()))?;
    let handle = server.handle();
    let signals = handle_signals(handle.clone()).map_err(|e| fatal(format!("signals: {e}")))?;
    tracing::info!(
        target: START,
        "Starting pyzord server on {} with the {} store, {} workers.",
        server
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        store.describe(),
        setup.workers
    );
    // systemd (Type=notify): the socket is bound, the store open
    let _ = process::sd_notify::notify("READY=1");
    let result = server.run();
    let _ = process::sd_notify::notify("STOPPING=1");
    signals.close();
    if let Some(f) = &forwarder {
        // sends what is still queued
        f.shutdown();
    }
    tracing::info!("Server shutdown.");
    if args.detach.is_some()
        && let Some(p) = &setup.settings.pid_file
        && let Err(e) = std::fs::remove_file(p)
    {
        tracing::warn!("Unable to remove pidfile {}: {e}", p.display());
    }
    result.map_err(|e| fatal(e.to_string()))
}

/// SIGTERM/SIGINT: graceful shutdown. SIGUSR1/SIGHUP: reload the passwd
/// and access files (a broken file keeps the old rules).
fn handle_signals(server: ServerHandle) -> std::io::Result<Handle> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGHUP])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("pyzord-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                match sig {
                    SIGTERM | SIGINT => {
                        let name = if sig == SIGTERM { "SIGTERM" } else { "SIGINT" };
                        tracing::info!("{name} received. Shutting down.");
                        server.shutdown();
                        break;
                    }
                    _ => {
                        let name = if sig == SIGUSR1 { "SIGUSR1" } else { "SIGHUP" };
                        tracing::info!("{name} received. Reloading configuration.");
                        if let Err(e) = server.reload() {
                            tracing::error!(
                                "Reload failed, keeping the previous accounts and rules: {e}"
                            );
                        }
                    }
                }
            }
        })?;
    Ok(handle)
}
