//! The `redis` store: the reference's redis engine layout, so that an
//! existing pyzord Redis database is served as it is and a Python pyzord
//! and ours can share one Redis at the same time.
//!
//! Each digest is a hash at `pyzord.digest_v1.<digest>` with the fields
//! `r_count`, `r_entered`, `r_updated`, `wl_count`, `wl_entered`,
//! `wl_updated` (integers; absent means 0). A report is `HINCRBY r_count 1`,
//! `HSETNX r_entered now`, `HSET r_updated now`, `EXPIRE cleanup-age`, as
//! the reference does; a whitelist the same with `wl_*`. A whole batch —
//! reads and updates, in order — is one pipeline, one round trip: a
//! `MULTI`/`EXEC` transaction when it writes. The DSN is the reference's
//! `host,port,password,db`.
//!
//! When Redis is down, requests get the reference's 500 `Database
//! temporarily unavailable.` ([`StoreError::Unavailable`]; the server then
//! answers at once until it is back); when it answers with an error (full,
//! read-only) the same text ([`StoreError::Rejected`]). A failed
//! connection is dropped and the next batch makes a new one; every network
//! operation has a timeout, so nothing hangs.

use std::sync::Mutex;
use std::time::Duration;

use pyzor_core::Digest;
use redis::{ConnectionAddr, IntoConnectionInfo, Value};

use super::{Bulk, Record, Store, StoreError, StoreOp, Update};

/// The key prefix of the reference's redis engine (version 1 layout).
pub const NAMESPACE: &str = "pyzord.digest_v1.";

/// How long to wait for Redis (connect, read, write).
const TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// Host name, address, or (with a `/`) a unix socket path.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Password, if any.
    pub password: Option<String>,
    /// Database number.
    pub db: i64,
}

impl Dsn {
    /// Parses `host,port,password,db` (at least four comma-separated
    /// fields; empty ones default to `localhost`, 6379, none, 0).
    pub fn parse(dsn: &str) -> Result<Dsn, String> {
        let f: Vec<&str> = dsn.split(',').collect();
        if f.len() < 4 {
            return Err(format!(
                "the redis DSN is host,port,password,db (four fields, empty ones take defaults); got {dsn:?}"
            ));
        }
        let port = if f[1].is_empty() {
            6379
        } else {
            f[1].trim()
                .parse()
                .map_err(|_| format!("invalid redis port {:?}", f[1]))?
        };
        let db = if f[3].is_empty() {
            0
        } else {
            f[3].trim()
                .parse()
                .map_err(|_| format!("invalid redis db {:?}", f[3]))?
        };
        Ok(Dsn {
            host: if f[0].is_empty() {
                "localhost".into()
            } else {
                f[0].to_owned()
            },
            port,
            password: (!f[2].is_empty()).then(|| f[2].to_owned()),
            db,
        })
    }
}

/// The Redis store.
pub struct RedisStore {
    info: redis::ConnectionInfo,
    dsn: Dsn,
    cleanup_age: i64,
    idle: Mutex<Vec<redis::Connection>>,
}

/// The Redis key of a digest.
pub fn key(d: &Digest) -> String {
    let hex = d.to_hex_bytes();
    let mut k = String::with_capacity(NAMESPACE.len() + 40);
    k.push_str(NAMESPACE);
    k.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    k
}

impl RedisStore {
    /// A store for this DSN; records expire `cleanup_age` seconds after
    /// their last update (0: never). Connects lazily.
    pub fn open(dsn: &str, cleanup_age: i64) -> Result<RedisStore, StoreError> {
        RedisStore::with_dsn(Dsn::parse(dsn).map_err(StoreError::Other)?, cleanup_age)
    }

    /// [`RedisStore::open`] with a parsed DSN.
    pub fn with_dsn(dsn: Dsn, cleanup_age: i64) -> Result<RedisStore, StoreError> {
        let addr = if dsn.host.contains('/') {
            ConnectionAddr::Unix(dsn.host.clone().into())
        } else {
            ConnectionAddr::Tcp(dsn.host.clone(), dsn.port)
        };
        let mut settings = redis::RedisConnectionInfo::default().set_db(dsn.db);
        if let Some(p) = &dsn.password {
            settings = settings.set_password(p);
        }
        let info = addr
            .into_connection_info()
            .map_err(StoreError::unavailable)?
            .set_redis_settings(settings);
        Ok(RedisStore {
            info,
            dsn,
            cleanup_age,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn connection(&self) -> Result<redis::Connection, StoreError> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let client = redis::Client::open(self.info.clone()).map_err(StoreError::unavailable)?;
        let con = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(StoreError::unavailable)?;
        con.set_read_timeout(Some(TIMEOUT))
            .map_err(StoreError::unavailable)?;
        con.set_write_timeout(Some(TIMEOUT))
            .map_err(StoreError::unavailable)?;
        Ok(con)
    }

    fn release(&self, con: redis::Connection) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(con);
        }
    }

    /// Runs `f` with a connection; a failed connection is dropped (the
    /// next call reconnects).
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut con = self.connection()?;
        match f(&mut con) {
            Ok(v) => {
                self.release(con);
                Ok(v)
            }
            // a connection that failed is dropped here; the next call
            // makes a new one
            Err(e) => Err(classify(e)),
        }
    }

    /// Every key of the `pyzord.digest_v1.` namespace (SCAN).
    fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.with_connection(|c| {
            let mut keys = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{NAMESPACE}*"))
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                keys.extend(batch);
                if next == 0 {
                    return Ok(keys);
                }
                cursor = next;
            }
        })
    }
}

/// A Redis error as a store error: the connection failed (refused,
/// dropped, timed out) or Redis answered with an error (full, read-only).
pub(crate) fn classify(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::unavailable(e)
    } else {
        StoreError::Rejected(Box::new(e))
    }
}

impl Bulk for RedisStore {
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.keys()?.len() as u64)
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let keys = self.keys()?;
        for chunk in keys.chunks(500) {
            let values: Vec<Value> = self.with_connection(|c| {
                let mut p = redis::pipe();
                for k in chunk {
                    p.cmd("HGETALL").arg(k);
                }
                p.query(c)
            })?;
            for (k, v) in chunk.iter().zip(values) {
                let digest = k
                    .strip_prefix(NAMESPACE)
                    .and_then(|h| Digest::from_hex(h).ok());
                match digest {
                    // expired or deleted since the SCAN
                    Some(_) if matches!(&v, Value::Array(a) if a.is_empty()) => {}
                    Some(_) if matches!(&v, Value::Map(m) if m.is_empty()) => {}
                    Some(d) => f(decode(k, &v).map(|r| (d, r))),
                    None => f(Err(StoreError::Corrupt {
                        digest: k.clone(),
                        reason: "the key is not a digest".into(),
                    })),
                }
            }
        }
        Ok(())
    }

    /// Writes records as the reference lays them out: a hash per digest
    /// with the counts and the times that are set (an unset time is an
    /// absent field), and as TTL what is left of the cleanup age since the
    /// record's last update.
    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        let now = pyzor_core::unix_secs(std::time::SystemTime::now());
        self.with_connection(|c| {
            let mut p = redis::pipe();
            p.atomic();
            for (d, r) in records {
                let k = key(d);
                p.cmd("DEL").arg(&k).ignore();
                let fields = hash_fields(r);
                let mut hset = redis::cmd("HSET");
                hset.arg(&k);
                for (name, v) in &fields {
                    hset.arg(*name).arg(*v);
                }
                p.add_command(hset).ignore();
                if let Some(ttl) = ttl_left(self.cleanup_age, now, r) {
                    p.cmd("EXPIRE").arg(&k).arg(ttl).ignore();
                }
            }
            p.query::<()>(c)
        })
    }
}

/// The hash fields the reference writes for a record: the counts and the
/// times that are set (an unset time is an absent field; `r_count` is
/// written when nothing else is, so that the hash exists).
pub(crate) fn hash_fields(r: &Record) -> Vec<(&'static str, i64)> {
    [
        ("r_count", r.r_count, r.r_count != 0 || r.wl_count == 0),
        ("r_entered", r.r_entered, false),
        ("r_updated", r.r_updated, false),
        ("wl_count", r.wl_count, r.wl_count != 0),
        ("wl_entered", r.wl_entered, false),
        ("wl_updated", r.wl_updated, false),
    ]
    .into_iter()
    .filter(|&(_, v, always)| always || v != 0)
    .map(|(name, v, _)| (name, v))
    .collect()
}

/// The TTL of a record written at `now`: what is left of the cleanup age
/// since its last update (at least a minute), or `None` when records do
/// not expire.
pub(crate) fn ttl_left(cleanup_age: i64, now: i64, r: &Record) -> Option<i64> {
    (cleanup_age > 0).then(|| (cleanup_age - (now - r.last_update()).max(0)).max(60))
}

/// The hash fields an update changes: its count, first and last time.
pub(crate) fn update_fields(kind: Update) -> (&'static str, &'static str, &'static str) {
    match kind {
        Update::Report => ("r_count", "r_entered", "r_updated"),
        Update::Whitelist => ("wl_count", "wl_entered", "wl_updated"),
    }
}

fn int_field(key: &str, name: &str, v: &Value) -> Result<i64, StoreError> {
    let text = match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => return Ok(*i),
        other => format!("{other:?}"),
    };
    pyzor_core::pycompat::py_int(&text).map_err(|e| StoreError::Corrupt {
        digest: key.to_owned(),
        reason: format!("{name}: {e}"),
    })
}

/// Decodes an `HGETALL` reply (absent fields are 0).
pub(crate) fn decode(key: &str, v: &Value) -> Result<Record, StoreError> {
    let mut r = Record::default();
    let pairs: Vec<(&Value, &Value)> = match v {
        Value::Array(items) => items
            .chunks(2)
            .filter(|p| p.len() == 2)
            .map(|p| (&p[0], &p[1]))
            .collect(),
        Value::Map(m) => m.iter().map(|(a, b)| (a, b)).collect(),
        Value::Nil => Vec::new(),
        other => {
            return Err(StoreError::Corrupt {
                digest: key.to_owned(),
                reason: format!("unexpected reply {other:?}"),
            });
        }
    };
    for (name, value) in pairs {
        let name = match name {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            _ => continue,
        };
        let slot = match name.as_str() {
            "r_count" => &mut r.r_count,
            "r_entered" => &mut r.r_entered,
            "r_updated" => &mut r.r_updated,
            "wl_count" => &mut r.wl_count,
            "wl_entered" => &mut r.wl_entered,
            "wl_updated" => &mut r.wl_updated,
            _ => continue,
        };
        *slot = int_field(key, &name, value)?;
    }
    Ok(r)
}

impl Store for RedisStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        let mut read_keys = Vec::new();
        let values: Vec<Value> = self.with_connection(|c| {
            let mut p = redis::pipe();
            // a batch that writes is one MULTI/EXEC; one that only reads
            // needs no transaction (and a full Redis refuses MULTI, while
            // it still answers reads)
            if ops.iter().any(|o| matches!(o, StoreOp::Update(..))) {
                p.atomic();
            }
            for op in ops {
                match op {
                    StoreOp::Get(d) => {
                        let k = key(d);
                        p.cmd("HGETALL").arg(&k);
                        read_keys.push(k);
                    }
                    StoreOp::Update(kind, digests) => {
                        let (count, entered, updated) = update_fields(*kind);
                        for d in digests {
                            let k = key(d);
                            p.cmd("HINCRBY").arg(&k).arg(count).arg(1).ignore();
                            p.cmd("HSETNX").arg(&k).arg(entered).arg(now).ignore();
                            p.cmd("HSET").arg(&k).arg(updated).arg(now).ignore();
                            if self.cleanup_age > 0 {
                                p.cmd("EXPIRE").arg(&k).arg(self.cleanup_age).ignore();
                            }
                        }
                    }
                }
            }
            if read_keys.is_empty() && !ops.is_empty() {
                // keep the reply shape: an atomic pipeline of ignored
                // commands answers with nothing
                p.query::<()>(c)?;
                return Ok(Vec::new());
            }
            p.query(c)
        })?;
        read_keys
            .iter()
            .zip(values.iter())
            .map(|(k, v)| decode(k, v))
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
        format!(
            "redis ({}:{} db {})",
            self.dsn.host, self.dsn.port, self.dsn.db
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn() {
        assert_eq!(
            Dsn::parse(",,,").unwrap(),
            Dsn {
                host: "localhost".into(),
                port: 6379,
                password: None,
                db: 0
            }
        );
        let d = Dsn::parse("127.0.0.1,6380,secret,10").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.password.as_deref(), d.db),
            ("127.0.0.1", 6380, Some("secret"), 10)
        );
        assert!(Dsn::parse("localhost,6379").is_err());
        assert!(Dsn::parse("h,notaport,,0").is_err());
    }

    #[test]
    fn key_layout() {
        assert_eq!(
            key(&Digest([0xab; 20])),
            format!("pyzord.digest_v1.{}", "ab".repeat(20))
        );
    }
}
