//! The `redis-cluster` store: the reference's Redis layout
//! (`pyzord.digest_v1.<digest>` hashes, see [`super::redis`]) on a Redis
//! Cluster, so that the digests spread over the cluster's masters and a
//! deployment outgrows one Redis server.
//!
//! The DSN names seed nodes and an optional password:
//! `HOST:PORT[,HOST:PORT…][,password=PASSWORD]`; the cluster's topology is
//! read from the first seed that answers (`CLUSTER SLOTS`).
//!
//! A batch is one cluster pipeline: its commands are split by slot,
//! pipelined to each master in one round trip, and answered in order (the
//! `redis` crate's cluster support, which follows `MOVED` and `ASK`
//! redirections and refreshes the slot map when the topology changes). A
//! cross-slot `MULTI` is refused by a cluster, so each digest's update is
//! one Lua script (`EVAL`, atomic on the digest's master) doing what the
//! reference does: `HINCRBY` the count, `HSETNX` the first time, `HSET` the
//! last, `EXPIRE` the cleanup age. Reads and updates of one digest go to
//! one master, in order, so a read sees the batch's updates before it.
//! When slots move under a batch (`MOVED`, `ASK`), the redirected commands
//! and the batch's reads are run again one at a time, following the
//! redirection; updates that were applied are not run twice.
//!
//! A failed connection (a master killed, paused or failing over) gives
//! [`StoreError::Unavailable`], and the connection is dropped with every
//! idle one: the next batch connects anew and reads the topology again,
//! so that a promoted replica is found without restarting pyzord. Every
//! network operation has a timeout and the crate's retries are few, so a
//! batch is answered (with an error during a failover) well within a
//! client's timeout.
//!
//! `migrate` and `stats` read the cluster master by master (`SCAN` on each,
//! through [`RedisStore`]).

use std::sync::Mutex;
use std::time::Duration;

use pyzor_core::Digest;
use redis::cluster::{
    ClusterClient, ClusterClientBuilder, ClusterConnection, ClusterPipeline, cluster_pipe,
};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ConnectionAddr, IntoConnectionInfo, Value};

use super::redis::{Dsn, RedisStore, classify, decode, hash_fields, key, ttl_left, update_fields};
use super::{Bulk, Record, Store, StoreError, StoreOp};

/// How long to wait for a node (connect, read, write).
const TIMEOUT: Duration = Duration::from_secs(2);

/// One digest's update, atomic on its master: KEYS[1] the digest's key;
/// ARGV the count, first-time and last-time fields, now, and the TTL (0:
/// none).
const UPDATE: &str = "redis.call('HINCRBY', KEYS[1], ARGV[1], 1) \
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[4]) \
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) \
if ARGV[5] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[5]) end \
return 1";

/// One record written as it is (migrate), atomic on its master: KEYS[1]
/// the key; ARGV[1] the TTL (0: none), then field, value pairs.
const PUT: &str = "redis.call('DEL', KEYS[1]) \
redis.call('HSET', KEYS[1], unpack(ARGV, 2)) \
if ARGV[1] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
return 1";

/// A parsed cluster DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDsn {
    /// Seed nodes (host, port).
    pub nodes: Vec<(String, u16)>,
    /// The cluster's password, if any.
    pub password: Option<String>,
}

impl ClusterDsn {
    /// Parses `HOST:PORT[,HOST:PORT…][,password=PASSWORD]` (an IPv6
    /// address in brackets: `[::1]:7000`; the password is the rest of the
    /// DSN after `password=`, commas included).
    pub fn parse(dsn: &str) -> Result<ClusterDsn, String> {
        let usage = "the redis-cluster DSN is HOST:PORT[,HOST:PORT...][,password=PASSWORD]";
        let (nodes_part, password) = match dsn.find("password=") {
            Some(i) if i == 0 || dsn[..i].ends_with(',') => (
                dsn[..i].trim_end_matches(','),
                Some(dsn[i + "password=".len()..].to_owned()),
            ),
            _ => (dsn, None),
        };
        let mut nodes = Vec::new();
        for node in nodes_part
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let (host, port) = node
                .rsplit_once(':')
                .ok_or_else(|| format!("{usage}; {node:?} has no port"))?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() || (host.contains(':') && !node.starts_with('[')) {
                return Err(format!("{usage}; got the node {node:?}"));
            }
            let port = port
                .parse()
                .map_err(|_| format!("invalid port in the redis-cluster node {node:?}"))?;
            nodes.push((host.to_owned(), port));
        }
        if nodes.is_empty() {
            return Err(format!("{usage}; got {dsn:?}"));
        }
        Ok(ClusterDsn {
            nodes,
            password: password.filter(|p| !p.is_empty()),
        })
    }
}

impl std::fmt::Display for ClusterDsn {
    /// The nodes as `host:port,…` (without the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (host, port)) in self.nodes.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            if host.contains(':') {
                write!(f, "{sep}[{host}]:{port}")?;
            } else {
                write!(f, "{sep}{host}:{port}")?;
            }
        }
        Ok(())
    }
}

/// The Redis Cluster store.
pub struct RedisClusterStore {
    client: ClusterClient,
    dsn: ClusterDsn,
    cleanup_age: i64,
    idle: Mutex<Vec<ClusterConnection>>,
}

impl RedisClusterStore {
    /// A store on the cluster these seed nodes belong to; records expire
    /// `cleanup_age` seconds after their last update (0: never). Connects
    /// lazily.
    pub fn open(dsn: &str, cleanup_age: i64) -> Result<RedisClusterStore, StoreError> {
        let dsn = ClusterDsn::parse(dsn).map_err(StoreError::Other)?;
        let mut seeds = Vec::new();
        for (host, port) in &dsn.nodes {
            seeds.push(
                ConnectionAddr::Tcp(host.clone(), *port)
                    .into_connection_info()
                    .map_err(StoreError::unavailable)?,
            );
        }
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            // a batch is answered within a client's timeout: an error
            // during a failover, not a long wait
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(200);
        if let Some(p) = &dsn.password {
            builder = builder.password(p);
        }
        let client = builder
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(RedisClusterStore {
            client,
            dsn,
            cleanup_age,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn connection(&self) -> Result<ClusterConnection, StoreError> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let con = self
            .client
            .get_connection()
            .map_err(StoreError::unavailable)?;
        con.set_read_timeout(Some(TIMEOUT))
            .map_err(StoreError::unavailable)?;
        con.set_write_timeout(Some(TIMEOUT))
            .map_err(StoreError::unavailable)?;
        Ok(con)
    }

    /// Runs `f` with a connection. After a failure the connection is
    /// dropped, and the idle ones too when the cluster could not be
    /// reached (they hold the same, possibly stale, topology): the next
    /// call connects anew.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut ClusterConnection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut con = self.connection()?;
        match f(&mut con) {
            Ok(v) => {
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(con);
                }
                Ok(v)
            }
            Err(e) => {
                let e = classify(e);
                if matches!(e, StoreError::Unavailable(_))
                    && let Ok(mut idle) = self.idle.lock()
                {
                    idle.clear();
                }
                Err(e)
            }
        }
    }

    /// Runs a cluster pipeline (split by slot, one round trip per master);
    /// the replies in order. `reads` holds, for each command, the key it
    /// reads (`None` for an update): reads are run again after a
    /// redirection, see [`redo_redirected`].
    fn run(&self, p: &ClusterPipeline, reads: &[Option<String>]) -> Result<Vec<Value>, StoreError> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        self.with_connection(|c| match p.query(c) {
            Err(e) if is_redirection(&e) => redo_redirected(c, p, reads, e),
            other => other,
        })
    }

    /// The masters, as single-node stores (for a scan of the whole
    /// cluster).
    fn masters(&self) -> Result<Vec<RedisStore>, StoreError> {
        let slots: Value = self.with_connection(|c| {
            c.route_command(
                redis::cmd("CLUSTER").arg("SLOTS"),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
        })?;
        let mut masters: Vec<(String, u16)> = Vec::new();
        let Value::Array(ranges) = slots else {
            return Err(StoreError::Other(format!(
                "{}: unexpected CLUSTER SLOTS reply {slots:?}",
                self.describe()
            )));
        };
        for range in ranges {
            // [start, end, [host, port, id, …], replicas…]
            let master = match &range {
                Value::Array(r) if r.len() >= 3 => match &r[2] {
                    Value::Array(node) if node.len() >= 2 => {
                        let host = match &node[0] {
                            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            Value::SimpleString(s) => s.clone(),
                            _ => continue,
                        };
                        let Value::Int(port) = node[1] else { continue };
                        u16::try_from(port).ok().map(|p| (host, p))
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(m) = master
                && !masters.contains(&m)
            {
                masters.push(m);
            }
        }
        masters
            .into_iter()
            .map(|(host, port)| {
                RedisStore::with_dsn(
                    Dsn {
                        host,
                        port,
                        password: self.dsn.password.clone(),
                        db: 0,
                    },
                    self.cleanup_age,
                )
            })
            .collect()
    }
}

impl Store for RedisClusterStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        // the batch's commands, in order, and the key each reads
        let mut p = cluster_pipe();
        let mut reads: Vec<Option<String>> = Vec::new();
        for op in ops {
            match op {
                StoreOp::Get(d) => {
                    let k = key(d);
                    p.cmd("HGETALL").arg(&k);
                    reads.push(Some(k));
                }
                StoreOp::Update(kind, digests) => {
                    let (count, entered, updated) = update_fields(*kind);
                    let ttl = self.cleanup_age.max(0);
                    for d in digests {
                        p.cmd("EVAL")
                            .arg(UPDATE)
                            .arg(1)
                            .arg(key(d))
                            .arg(count)
                            .arg(entered)
                            .arg(updated)
                            .arg(now)
                            .arg(ttl);
                        reads.push(None);
                    }
                }
            }
        }
        let values = self.run(&p, &reads)?;
        reads
            .iter()
            .zip(values.iter())
            .filter_map(|(read, v)| read.as_ref().map(|k| decode(k, v)))
            .collect()
    }

    fn expire(&self, _cutoff: i64) -> Result<u64, StoreError> {
        // Redis expires keys by their TTL, refreshed on every update.
        Ok(0)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> String {
        format!("redis-cluster ({})", self.dsn)
    }
}

impl Bulk for RedisClusterStore {
    fn count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for m in self.masters()? {
            n += m.count()?;
        }
        Ok(n)
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        for m in self.masters()? {
            m.scan(f)?;
        }
        Ok(())
    }

    /// Writes records as the reference lays them out (see
    /// [`RedisStore`]'s), one atomic script per digest.
    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        let now = pyzor_core::unix_secs(std::time::SystemTime::now());
        let mut p = cluster_pipe();
        for (d, r) in records {
            p.cmd("EVAL")
                .arg(PUT)
                .arg(1)
                .arg(key(d))
                .arg(ttl_left(self.cleanup_age, now, r).unwrap_or(0));
            for (name, v) in hash_fields(r) {
                p.arg(name).arg(v);
            }
        }
        self.run(&p, &vec![None; records.len()]).map(drop)
    }
}

/// `true` if a pipeline failed only because slots moved (`MOVED`) or are
/// moving (`ASK`, `TRYAGAIN`): the commands that got such an answer were
/// not run.
fn is_redirection(e: &redis::RedisError) -> bool {
    use redis::ServerErrorKind as K;
    matches!(e.clone().into_server_errors(), Some(errors) if !errors.is_empty()
        && errors.iter().all(|(_, se)| matches!(se.kind(), Some(K::Moved | K::Ask | K::TryAgain))))
}

/// After a pipeline came back with redirections ([`is_redirection`]):
/// runs again, in order and one at a time (each follows its `MOVED` or
/// `ASK`, as the `redis` crate does for single commands), the commands
/// that were redirected and every read (whose values the failed pipeline
/// did not return); updates that were applied are not run twice.
fn redo_redirected(
    con: &mut ClusterConnection,
    p: &ClusterPipeline,
    reads: &[Option<String>],
    e: redis::RedisError,
) -> redis::RedisResult<Vec<Value>> {
    use redis::ConnectionLike;
    let failed: Vec<usize> = e
        .into_server_errors()
        .map(|errors| errors.iter().map(|(i, _)| *i).collect())
        .unwrap_or_default();
    let mut values = Vec::with_capacity(reads.len());
    for (i, (cmd, read)) in p.cmd_iter().zip(reads).enumerate() {
        if read.is_some() || failed.contains(&i) {
            values.push(con.req_command(cmd)?.extract_error()?);
        } else {
            values.push(Value::Okay);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn() {
        let d = ClusterDsn::parse("127.0.0.1:7000,127.0.0.1:7001").unwrap();
        assert_eq!(
            d.nodes,
            [
                ("127.0.0.1".to_owned(), 7000),
                ("127.0.0.1".to_owned(), 7001)
            ]
        );
        assert_eq!(d.password, None);
        assert_eq!(d.to_string(), "127.0.0.1:7000,127.0.0.1:7001");
        let d = ClusterDsn::parse("[::1]:7000,password=a,b=c").unwrap();
        assert_eq!(d.nodes, [("::1".to_owned(), 7000)]);
        assert_eq!(d.password.as_deref(), Some("a,b=c"));
        assert_eq!(d.to_string(), "[::1]:7000");
        assert!(ClusterDsn::parse("localhost,6379,,0").is_err());
        assert!(ClusterDsn::parse("password=x").is_err());
        assert!(ClusterDsn::parse("h:notaport").is_err());
        assert!(ClusterDsn::parse("::1:7000").is_err());
        assert!(ClusterDsn::parse("").is_err());
    }
}
