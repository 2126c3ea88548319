//! The `mysql` store: the reference's MySQL/MariaDB engine, table and
//! values, so that a pyzord 1.1.2 on MySQL is served as it is and a Python
//! pyzord and ours can share one table.
//!
//! The DSN is the reference's `host,user,password,db,table`. As with the
//! reference's MySQLdb (libmariadb), `localhost` means the server's Unix
//! socket (`$MYSQL_UNIX_PORT`, else `/run/mysqld/mysqld.sock`), any other
//! host TCP on `$MYSQL_TCP_PORT` or 3306; as extensions, `host:port` names
//! the port and a host with a `/` is a socket path. The table is the
//! reference's (it must exist):
//!
//! ```sql
//! CREATE TABLE `public` (
//!   `digest` char(40) default NULL,
//!   `r_count` int(11) default NULL, `wl_count` int(11) default NULL,
//!   `r_entered` datetime default NULL, `wl_entered` datetime default NULL,
//!   `r_updated` datetime default NULL, `wl_updated` datetime default NULL,
//!   PRIMARY KEY (`digest`))
//! ```
//!
//! Values are the reference's, quirks included: a report of a new digest
//! inserts `r_count` 1 and all four times now (so `info` shows WL times on
//! a row that was only reported, as the reference's mysql engine does);
//! one already there gets `r_count+1` and `r_updated`; a whitelist the
//! same with `wl_*`. Times are `datetime` in the server's time zone, read
//! back with `UNIX_TIMESTAMP`; a NULL reads as 0.
//!
//! Where the reference sends one statement per digest (each its own
//! commit), a batch is one round trip and at most one commit: one
//! multi-statement query holding, in a transaction, a `SELECT … WHERE
//! digest IN (…)` of the digests the batch reads but does not update, one
//! multi-row `INSERT … ON DUPLICATE KEY UPDATE` per update kind, and a
//! `SELECT` of the digests it both reads and updates (those reads see the
//! batch's updates, as the file store's deferred reads do). Expiry is
//! the reference's reorganisation: rows whose `r_updated` is older than
//! the cleanup age are deleted.
//!
//! Connections are pooled (as many as the workers use at once, at least
//! `--db-connections`); a failed one is dropped and the next batch
//! connects anew, so that pyzord is back within the store monitor's probe
//! interval when the database is (the reference waits at least 60 s).

use std::sync::Mutex;
use std::time::Duration;

use mysql::prelude::Queryable;
use pyzor_core::Digest;

use super::{Bulk, Record, Store, StoreError, StoreOp, Update};

/// How long to wait for the server (connect, read, write).
const TIMEOUT: Duration = Duration::from_secs(2);

/// Rows per statement when writing records as they are (migrate).
const PUT_CHUNK: usize = 1000;

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// Where the server is.
    pub address: Address,
    /// User name.
    pub user: String,
    /// Password (empty: none).
    pub password: String,
    /// Database.
    pub db: String,
    /// Table (letters, digits, `_` and `$`).
    pub table: String,
}

/// How to reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// TCP.
    Tcp(String, u16),
    /// A Unix socket.
    Socket(String),
}

impl Dsn {
    /// Parses `host,user,password,db,table` (exactly five fields, as the
    /// reference splits it).
    pub fn parse(dsn: &str) -> Result<Dsn, String> {
        let f: Vec<&str> = dsn.split(',').collect();
        let [host, user, password, db, table] = f[..] else {
            return Err(format!(
                "the mysql DSN is host,user,password,db,table (five fields); got {} field(s)",
                f.len()
            ));
        };
        if table.is_empty()
            || !table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return Err(format!(
                "invalid mysql table name {table:?} (letters, digits, _ and $)"
            ));
        }
        let env_port = || {
            std::env::var("MYSQL_TCP_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(3306)
        };
        let address = if host.contains('/') {
            Address::Socket(host.to_owned())
        } else if host.is_empty() || host == "localhost" {
            Address::Socket(
                std::env::var("MYSQL_UNIX_PORT")
                    .unwrap_or_else(|_| "/run/mysqld/mysqld.sock".to_owned()),
            )
        } else {
            match host.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.starts_with('[') => Address::Tcp(
                    h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                    p.parse()
                        .map_err(|_| format!("invalid port in the mysql host {host:?}"))?,
                ),
                _ => Address::Tcp(host.to_owned(), env_port()),
            }
        };
        Ok(Dsn {
            address,
            user: user.to_owned(),
            password: password.to_owned(),
            db: db.to_owned(),
            table: table.to_owned(),
        })
    }
}

impl std::fmt::Display for Dsn {
    /// `user@host:port/db.table` (without the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.address {
            Address::Tcp(h, p) => write!(f, "{}@{h}:{p}/{}.{}", self.user, self.db, self.table),
            Address::Socket(s) => write!(f, "{}@{s}/{}.{}", self.user, self.db, self.table),
        }
    }
}

/// The MySQL/MariaDB store.
pub struct MysqlStore {
    opts: mysql::Opts,
    dsn: Dsn,
    pool_size: usize,
    idle: Mutex<Vec<mysql::Conn>>,
}

/// A MySQL error as a store error: the server cannot be reached (refused,
/// dropped, timed out, shutting down, too many connections) or it
/// answered with an error.
fn classify(e: mysql::Error) -> StoreError {
    match &e {
        mysql::Error::MySqlError(me) if !matches!(me.code, 1040 | 1053 | 1927) => {
            StoreError::Rejected(Box::new(e))
        }
        _ => StoreError::unavailable(e),
    }
}

/// The 40 hex characters of a digest, for SQL text (safe to inline).
fn hex(d: &Digest) -> String {
    String::from_utf8(d.to_hex_bytes().to_vec()).unwrap_or_default()
}

/// The columns read, as Unix seconds.
const COLUMNS: &str = "digest, r_count, UNIX_TIMESTAMP(r_entered), UNIX_TIMESTAMP(r_updated), \
     wl_count, UNIX_TIMESTAMP(wl_entered), UNIX_TIMESTAMP(wl_updated)";

/// A row read: its digest text, and its record or why it cannot be read.
type RowRecord = (Option<String>, Result<Record, String>);

/// A row of [`COLUMNS`]: its digest text and record (NULLs read as 0).
fn row_record(row: &mysql::Row) -> RowRecord {
    let digest: Option<String> = row.get_opt(0).and_then(Result::ok).flatten();
    let mut fields = [0i64; 6];
    for (i, f) in fields.iter_mut().enumerate() {
        match row.get_opt::<Option<mysql::Value>, _>(i + 1) {
            Some(Ok(None)) | None => {}
            Some(Ok(Some(v))) => match mysql::from_value_opt::<Option<f64>>(v) {
                Ok(Some(x)) if x.is_finite() => *f = x as i64,
                Ok(_) => {}
                Err(e) => return (digest, Err(format!("column {}: {e}", i + 1))),
            },
            Some(Err(e)) => return (digest, Err(format!("column {}: {e}", i + 1))),
        }
    }
    (digest, Ok(Record::from_fields(fields)))
}

impl MysqlStore {
    /// A store for this DSN, keeping up to `pool_size` idle connections.
    /// Connects lazily.
    pub fn open(dsn: &str, pool_size: usize) -> Result<MysqlStore, StoreError> {
        let dsn = Dsn::parse(dsn).map_err(StoreError::Other)?;
        let mut b = mysql::OptsBuilder::new()
            .user(Some(dsn.user.clone()))
            .db_name(Some(dsn.db.clone()))
            .tcp_connect_timeout(Some(TIMEOUT))
            .read_timeout(Some(TIMEOUT))
            .write_timeout(Some(TIMEOUT))
            .prefer_socket(false);
        if !dsn.password.is_empty() {
            b = b.pass(Some(dsn.password.clone()));
        }
        b = match &dsn.address {
            Address::Tcp(h, p) => b.ip_or_hostname(Some(h.clone())).tcp_port(*p),
            Address::Socket(s) => b.socket(Some(s.clone())),
        };
        Ok(MysqlStore {
            opts: b.into(),
            dsn,
            pool_size: pool_size.max(1),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` with a connection; a connection that failed is dropped
    /// (the next call connects anew), one that worked goes back to the
    /// pool.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut mysql::Conn) -> Result<T, mysql::Error>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut con = match pooled {
            Some(c) => c,
            None => mysql::Conn::new(self.opts.clone()).map_err(classify)?,
        };
        match f(&mut con) {
            Ok(v) => {
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < self.pool_size
                {
                    idle.push(con);
                }
                Ok(v)
            }
            Err(e) => Err(classify(e)),
        }
    }

    fn table(&self) -> String {
        format!("`{}`", self.dsn.table)
    }

    /// `SELECT` of these digests.
    fn select(&self, digests: &[String]) -> String {
        format!(
            "SELECT {COLUMNS} FROM {} WHERE digest IN ('{}')",
            self.table(),
            digests.join("','")
        )
    }

    /// The reference's insert-or-count of these digests, as one statement.
    fn update(&self, kind: Update, digests: &[String], now: i64) -> String {
        let (r, wl, set) = match kind {
            Update::Report => (1, 0, "r_count=r_count+1, r_updated=VALUES(r_updated)"),
            Update::Whitelist => (0, 1, "wl_count=wl_count+1, wl_updated=VALUES(wl_updated)"),
        };
        let t = format!("FROM_UNIXTIME({now})");
        let rows: Vec<String> = digests
            .iter()
            .map(|d| format!("('{d}',{r},{wl},{t},{t},{t},{t})"))
            .collect();
        format!(
            "INSERT INTO {} (digest, r_count, wl_count, r_entered, r_updated, wl_entered, \
             wl_updated) VALUES {} ON DUPLICATE KEY UPDATE {set}",
            self.table(),
            rows.join(",")
        )
    }
}

impl Store for MysqlStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        // one transaction (one commit, one log sync) of at most four
        // statements: the reads of digests the batch does not update, the
        // reports, the whitelists, then the reads of digests it updates
        // (which see the batch's updates)
        let mut updated: std::collections::HashSet<&Digest> = std::collections::HashSet::new();
        let (mut reports, mut whitelists) = (Vec::new(), Vec::new());
        for op in ops {
            if let StoreOp::Update(kind, ds) = op {
                updated.extend(ds.iter());
                let to = match kind {
                    Update::Report => &mut reports,
                    Update::Whitelist => &mut whitelists,
                };
                to.extend(ds.iter().map(hex));
            }
        }
        // each read: (after the updates?, its digest)
        let reads: Vec<(bool, String)> = ops
            .iter()
            .filter_map(|op| match op {
                StoreOp::Get(d) => Some((updated.contains(d), hex(d))),
                StoreOp::Update(..) => None,
            })
            .collect();
        let before: Vec<String> = reads.iter().filter(|r| !r.0).map(|r| r.1.clone()).collect();
        let after: Vec<String> = reads.iter().filter(|r| r.0).map(|r| r.1.clone()).collect();
        let writes = !reports.is_empty() || !whitelists.is_empty();
        let mut sql: Vec<String> = Vec::new();
        if writes {
            sql.push("START TRANSACTION".into());
        }
        // the statement index of each SELECT
        let mut select_before = None;
        let mut select_after = None;
        if !before.is_empty() {
            select_before = Some(sql.len());
            sql.push(self.select(&before));
        }
        if !reports.is_empty() {
            sql.push(self.update(Update::Report, &reports, now));
        }
        if !whitelists.is_empty() {
            sql.push(self.update(Update::Whitelist, &whitelists, now));
        }
        if !after.is_empty() {
            select_after = Some(sql.len());
            sql.push(self.select(&after));
        }
        if writes {
            sql.push("COMMIT".into());
        }
        if sql.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sql.join(";");
        // the result sets in order, one per statement
        let sets: Vec<Vec<RowRecord>> = self.with_connection(|c| {
            let mut result = c.query_iter(&sql)?;
            let mut sets = Vec::new();
            while let Some(set) = result.iter() {
                let mut rows = Vec::new();
                for row in set {
                    rows.push(row_record(&row?));
                }
                sets.push(rows);
            }
            Ok(sets)
        })?;
        let empty = Vec::new();
        let rows_of = |i: Option<usize>| i.and_then(|i| sets.get(i)).unwrap_or(&empty);
        let (rows_before, rows_after) = (rows_of(select_before), rows_of(select_after));
        reads
            .iter()
            .map(|(after, d)| {
                let rows = if *after { rows_after } else { rows_before };
                let hit = rows.iter().find(|(digest, _)| {
                    digest.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(d))
                });
                match hit {
                    Some((_, Ok(r))) => Ok(*r),
                    Some((_, Err(e))) => Err(StoreError::Corrupt {
                        digest: d.clone(),
                        reason: e.clone(),
                    }),
                    None => Ok(Record::default()),
                }
            })
            .collect()
    }

    /// The reference's reorganisation: deletes the rows whose last report
    /// is older than `cutoff` (`r_updated`; whitelist-only rows have it
    /// set when they are made).
    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {} WHERE r_updated < FROM_UNIXTIME({cutoff})",
            self.table()
        );
        self.with_connection(|c| {
            c.query_drop(&sql)?;
            Ok(c.affected_rows())
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> String {
        format!("mysql ({})", self.dsn)
    }
}

impl Bulk for MysqlStore {
    fn count(&self) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", self.table());
        self.with_connection(|c| c.query_first::<u64, _>(&sql))
            .map(|n| n.unwrap_or(0))
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {}", self.table());
        self.with_connection(|c| {
            let mut result = c.query_iter(&sql)?;
            if let Some(set) = result.iter() {
                for row in set {
                    let (digest, record) = row_record(&row?);
                    let text = digest.clone().unwrap_or_else(|| "NULL".to_owned());
                    let parsed = digest.as_deref().map(Digest::from_hex);
                    f(match (parsed, record) {
                        (Some(Ok(d)), Ok(r)) => Ok((d, r)),
                        (Some(Ok(_)), Err(reason)) => Err(StoreError::Corrupt {
                            digest: text,
                            reason,
                        }),
                        _ => Err(StoreError::Corrupt {
                            digest: text,
                            reason: "the digest is not 40 hex digits".into(),
                        }),
                    });
                }
            }
            Ok(())
        })
    }

    /// Writes rows as they are (an unset time is NULL, as the reference's
    /// `pyzor-migrate` would leave it).
    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        let time = |t: i64| {
            if t > 0 {
                format!("FROM_UNIXTIME({t})")
            } else {
                "NULL".to_owned()
            }
        };
        for chunk in records.chunks(PUT_CHUNK) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|(d, r)| {
                    format!(
                        "('{}',{},{},{},{},{},{})",
                        hex(d),
                        r.r_count.clamp(0, i64::from(i32::MAX)),
                        r.wl_count.clamp(0, i64::from(i32::MAX)),
                        time(r.r_entered),
                        time(r.r_updated),
                        time(r.wl_entered),
                        time(r.wl_updated)
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} (digest, r_count, wl_count, r_entered, r_updated, wl_entered, \
                 wl_updated) VALUES {} ON DUPLICATE KEY UPDATE r_count=VALUES(r_count), \
                 wl_count=VALUES(wl_count), r_entered=VALUES(r_entered), \
                 r_updated=VALUES(r_updated), wl_entered=VALUES(wl_entered), \
                 wl_updated=VALUES(wl_updated)",
                self.table(),
                rows.join(",")
            );
            self.with_connection(|c| c.query_drop(&sql))?;
        }
        Ok(())
    }

    /// Counts are `int(11)`: kept up to 2 147 483 647.
    fn stored(&self, r: &Record) -> Record {
        Record {
            r_count: r.r_count.clamp(0, i64::from(i32::MAX)),
            wl_count: r.wl_count.clamp(0, i64::from(i32::MAX)),
            ..*r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn() {
        let d = Dsn::parse("127.0.0.1:3307,pyzor,secret,pyzordb,public").unwrap();
        assert_eq!(d.address, Address::Tcp("127.0.0.1".into(), 3307));
        assert_eq!((d.user.as_str(), d.password.as_str()), ("pyzor", "secret"));
        assert_eq!((d.db.as_str(), d.table.as_str()), ("pyzordb", "public"));
        assert_eq!(d.to_string(), "pyzor@127.0.0.1:3307/pyzordb.public");
        let d = Dsn::parse("/run/mysqld/mysqld.sock,u,,db,t").unwrap();
        assert_eq!(d.address, Address::Socket("/run/mysqld/mysqld.sock".into()));
        assert!(Dsn::parse("h,u,p,db").is_err());
        assert!(Dsn::parse("h,u,p,db,t,x").is_err());
        assert!(Dsn::parse("h,u,p,db,t; DROP TABLE x").is_err());
        assert!(Dsn::parse("h:port,u,p,db,t").is_err());
    }

    #[test]
    fn statements() {
        let s = MysqlStore::open("127.0.0.1:1,u,,db,public", 1).unwrap();
        let d = vec!["ab".repeat(20)];
        assert_eq!(
            s.update(Update::Report, &d, 100),
            format!(
                "INSERT INTO `public` (digest, r_count, wl_count, r_entered, r_updated, \
                 wl_entered, wl_updated) VALUES ('{}',1,0,FROM_UNIXTIME(100),FROM_UNIXTIME(100),\
                 FROM_UNIXTIME(100),FROM_UNIXTIME(100)) ON DUPLICATE KEY UPDATE \
                 r_count=r_count+1, r_updated=VALUES(r_updated)",
                d[0]
            )
        );
        assert!(
            s.select(&d)
                .ends_with(&format!("WHERE digest IN ('{}')", d[0]))
        );
    }
}
