//! The `gdbm` store: pyzord 1.1.2's default database, read and written in
//! place (the pure-Rust `gdbm-native`, file-compatible with C GDBM), so an
//! existing pyzord homedir is served as it is and can go back to the
//! reference at any time.
//!
//! Records are the reference's text (protocol §4.7):
//! `1,<r_count>,<r_entered>,<r_updated>,<wl_count>,<wl_entered>,<wl_updated>`
//! with each time a *local naive* datetime as Python prints it
//! (`YYYY-MM-DD HH:MM:SS[.ffffff]`) or `None`; legacy three-field records
//! `r_count,r_entered,r_updated` (integers) are read too. Keys are the
//! digests as 40 lowercase hex digits. Times we write are whole seconds;
//! the times of a record that an update does not touch are kept as they
//! were, microseconds included.
//!
//! Durability: unlike the reference (which syncs once a minute), a batch
//! with updates is answered only after the database is synced to disk;
//! concurrent batches share one sync. A record that cannot be decoded is
//! logged with its key; reads treat it as absent, an update replaces it.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeZone};
use gdbm_native::{Gdbm, OpenOptions};
use pyzor_core::Digest;
use pyzor_core::pycompat::py_int;

use super::{Bulk, Record, Store, StoreError, StoreGauges, StoreOp, Update};

/// A record as the reference's gdbm engine keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GdbmRecord {
    /// Spam reports.
    pub r_count: i64,
    /// First report (local time).
    pub r_entered: Option<NaiveDateTime>,
    /// Last report (local time).
    pub r_updated: Option<NaiveDateTime>,
    /// Whitelist reports.
    pub wl_count: i64,
    /// First whitelist (local time).
    pub wl_entered: Option<NaiveDateTime>,
    /// Last whitelist (local time).
    pub wl_updated: Option<NaiveDateTime>,
}

/// Local naive time → Unix seconds, as Python's `time.mktime` does it (an
/// ambiguous time takes the earlier reading; a time in a DST gap is read
/// with the offset before the gap).
fn to_epoch(t: NaiveDateTime) -> i64 {
    match Local.from_local_datetime(&t) {
        chrono::LocalResult::Single(d) => d.timestamp(),
        chrono::LocalResult::Ambiguous(a, _) => a.timestamp(),
        chrono::LocalResult::None => {
            let before = t - chrono::Duration::hours(3);
            let offset = Local
                .from_local_datetime(&before)
                .earliest()
                .map(|d| i64::from(d.offset().local_minus_utc()))
                .unwrap_or(0);
            t.and_utc().timestamp() - offset
        }
    }
}

/// Unix seconds → local naive time (`datetime.fromtimestamp`); `None`
/// where Python's datetime cannot hold it (years outside 1..=9999).
fn from_epoch(secs: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(secs, 0)
        .map(|d| d.with_timezone(&Local).naive_local())
        .filter(|t| (1..=9999).contains(&t.year()))
}

/// Python's `str(datetime)`.
fn fmt_time(t: &Option<NaiveDateTime>) -> String {
    match t {
        None => "None".into(),
        Some(t) if t.and_utc().timestamp_subsec_micros() == 0 => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
    }
}

/// The reference's `_dt_decode`: `None`, or what Python's
/// `datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f")` accepts, or else
/// `strptime(s, "%Y-%m-%d %H:%M:%S")`.
fn parse_time(s: &str) -> Result<Option<NaiveDateTime>, String> {
    if s == "None" {
        return Ok(None);
    }
    parse_py_datetime(s)
        .map(Some)
        .ok_or_else(|| format!("invalid time {s:?}"))
}

/// Python's `strptime` patterns for the fields of that format: `%Y` four
/// digits; `%m`, `%d`, `%H`, `%M`, `%S` one digit or two in range (`%d`
/// also a space and a digit, `%S` up to 61 but a datetime refuses 60 and
/// 61); the space one or more whitespace; `%f` one to six digits, padded on
/// the right. The whole text must match.
fn parse_py_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize, max: usize| -> Option<(u32, usize)> {
        let start = *i;
        let mut v = 0u32;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            v = v * 10 + u32::from(b[*i] - b'0');
            *i += 1;
        }
        (*i > start).then_some((v, *i - start))
    };
    let sep =
        |i: &mut usize, c: u8| -> Option<()> { (*i < b.len() && b[*i] == c).then(|| *i += 1) };
    // a one- or two-digit field, whose two-digit form must not exceed `hi`
    // and (for %m, %d) not be zero
    let field = |i: &mut usize, lo: u32, hi: u32| -> Option<u32> {
        let (v, n) = digits(i, 2)?;
        if n == 2 && (v > hi || v < lo) || n == 1 && v < lo {
            return None;
        }
        Some(v)
    };
    let (year, n) = digits(&mut i, 4)?;
    if n != 4 {
        return None;
    }
    sep(&mut i, b'-')?;
    let month = field(&mut i, 1, 12)?;
    sep(&mut i, b'-')?;
    let day = if b.get(i) == Some(&b' ') && b.get(i + 1).is_some_and(|c| (b'1'..=b'9').contains(c))
    {
        i += 2;
        u32::from(b[i - 1] - b'0')
    } else {
        field(&mut i, 1, 31)?
    };
    let ws = i;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    if i == ws {
        return None;
    }
    let hour = field(&mut i, 0, 23)?;
    sep(&mut i, b':')?;
    let minute = field(&mut i, 0, 59)?;
    sep(&mut i, b':')?;
    let second = field(&mut i, 0, 61)?;
    let micro = if i < b.len() {
        sep(&mut i, b'.')?;
        let (v, n) = digits(&mut i, 6)?;
        v * 10u32.pow(6 - n as u32)
    } else {
        0
    };
    if i != b.len() {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?
        .and_hms_micro_opt(hour, minute, second, micro)
}

impl GdbmRecord {
    /// Decodes a stored value (format version 1, or the legacy
    /// three-field form).
    pub fn decode(value: &[u8]) -> Result<GdbmRecord, String> {
        let s = std::str::from_utf8(value).map_err(|_| "not UTF-8".to_owned())?;
        let parts: Vec<&str> = s.split(',').collect();
        let int = |p: &str| py_int(p).map_err(|e| e.to_string());
        if parts.len() == 3 {
            let epoch = |p: &str| -> Result<Option<NaiveDateTime>, String> {
                let v = int(p)?;
                if v == 0 {
                    return Ok(None);
                }
                from_epoch(v)
                    .map(Some)
                    .ok_or_else(|| format!("time {v} out of range"))
            };
            return Ok(GdbmRecord {
                r_count: int(parts[0])?,
                r_entered: epoch(parts[1])?,
                r_updated: epoch(parts[2])?,
                ..GdbmRecord::default()
            });
        }
        if parts[0] != "1" {
            return Err(format!("unknown record version {:?}", parts[0]));
        }
        if parts.len() != 7 {
            return Err(format!("{} fields, not 7", parts.len()));
        }
        Ok(GdbmRecord {
            r_count: int(parts[1])?,
            r_entered: parse_time(parts[2])?,
            r_updated: parse_time(parts[3])?,
            wl_count: int(parts[4])?,
            wl_entered: parse_time(parts[5])?,
            wl_updated: parse_time(parts[6])?,
        })
    }

    /// The reference's `encode_record`.
    pub fn encode(&self) -> String {
        format!(
            "1,{},{},{},{},{},{}",
            self.r_count,
            fmt_time(&self.r_entered),
            fmt_time(&self.r_updated),
            self.wl_count,
            fmt_time(&self.wl_entered),
            fmt_time(&self.wl_updated)
        )
    }

    /// The record with Unix-second times (0 = never).
    pub fn to_record(&self) -> Record {
        let e = |t: &Option<NaiveDateTime>| t.map(to_epoch).unwrap_or(0);
        Record {
            r_count: self.r_count,
            r_entered: e(&self.r_entered),
            r_updated: e(&self.r_updated),
            wl_count: self.wl_count,
            wl_entered: e(&self.wl_entered),
            wl_updated: e(&self.wl_updated),
        }
    }

    /// From Unix-second times (migration into gdbm).
    pub fn from_record(r: &Record) -> GdbmRecord {
        let t = |v: i64| if v == 0 { None } else { from_epoch(v) };
        GdbmRecord {
            r_count: r.r_count,
            r_entered: t(r.r_entered),
            r_updated: t(r.r_updated),
            wl_count: r.wl_count,
            wl_entered: t(r.wl_entered),
            wl_updated: t(r.wl_updated),
        }
    }

    /// One more report or whitelist at `now` (local time): the count
    /// saturates, the first time is set once, the last time every time.
    pub fn apply(&mut self, kind: Update, now: NaiveDateTime) {
        let (count, entered, updated) = match kind {
            Update::Report => (&mut self.r_count, &mut self.r_entered, &mut self.r_updated),
            Update::Whitelist => (
                &mut self.wl_count,
                &mut self.wl_entered,
                &mut self.wl_updated,
            ),
        };
        *count = count.saturating_add(1);
        if entered.is_none() {
            *entered = Some(now);
        }
        *updated = Some(now);
    }
}

struct Inner {
    db: Gdbm,
    /// Batches with updates applied so far.
    written: u64,
}

#[derive(Default)]
struct SyncState {
    synced: u64,
    syncing: bool,
}

/// The gdbm store.
pub struct GdbmStore {
    inner: Mutex<Inner>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    path: PathBuf,
}

fn gdbm_err(path: &Path, e: gdbm_native::Error) -> StoreError {
    StoreError::Other(format!("{}: {e}", path.display()))
}

impl GdbmStore {
    /// Opens (or creates) a gdbm database for reading and writing. Like C
    /// GDBM, takes an exclusive lock on the file: a running pyzord 1.1.2
    /// and this store cannot share a file.
    pub fn open(path: &Path) -> Result<GdbmStore, StoreError> {
        GdbmStore::with(
            path,
            OpenOptions::new().write(true).create(true).mode(0o600),
        )
    }

    /// Opens an existing database read-only (statistics, migration source).
    pub fn open_read_only(path: &Path) -> Result<GdbmStore, StoreError> {
        GdbmStore::with(path, &OpenOptions::new())
    }

    fn with(path: &Path, options: &OpenOptions) -> Result<GdbmStore, StoreError> {
        let db = options.open(path).map_err(|e| gdbm_err(path, e))?;
        Ok(GdbmStore {
            inner: Mutex::new(Inner { db, written: 0 }),
            sync: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
            path: path.to_owned(),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Other("gdbm store lock poisoned".into()))
    }

    /// The record of a digest, decoded; an undecodable one is logged and
    /// read as absent.
    fn read(&self, db: &Gdbm, d: &Digest) -> Result<Option<GdbmRecord>, StoreError> {
        let key = d.to_hex();
        let value: Option<Vec<u8>> = db
            .get(key.as_bytes())
            .map_err(|e| gdbm_err(&self.path, e))?;
        Ok(match value {
            None => None,
            Some(v) => match GdbmRecord::decode(&v) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(
                        "Invalid record {key} in {}: {e} ({:?})",
                        self.path.display(),
                        String::from_utf8_lossy(&v)
                    );
                    None
                }
            },
        })
    }

    /// Waits until the batch numbered `mine` is on disk; one caller syncs
    /// for everyone waiting (group commit).
    fn synced_up_to(&self, mine: u64) -> Result<(), StoreError> {
        let poisoned = || StoreError::Other("gdbm store lock poisoned".into());
        let mut st = self.sync.lock().map_err(|_| poisoned())?;
        loop {
            if st.synced >= mine {
                return Ok(());
            }
            if st.syncing {
                st = self.synced.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            st.syncing = true;
            drop(st);
            let result = (|| {
                let mut inner = self.lock()?;
                let upto = inner.written;
                inner.db.sync().map_err(|e| gdbm_err(&self.path, e))?;
                Ok(upto)
            })();
            st = self.sync.lock().map_err(|_| poisoned())?;
            st.syncing = false;
            self.synced.notify_all();
            match result {
                Ok(upto) => st.synced = st.synced.max(upto),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Store for GdbmStore {
    fn apply(&self, ops: &[StoreOp], now: i64) -> Result<Vec<Record>, StoreError> {
        let now_local =
            from_epoch(now).ok_or_else(|| StoreError::Other("time out of range".into()))?;
        let mut out = Vec::new();
        let mine = {
            let mut inner = self.lock()?;
            let mut wrote = false;
            for op in ops {
                match op {
                    StoreOp::Get(d) => out.push(
                        self.read(&inner.db, d)?
                            .map(|r| r.to_record())
                            .unwrap_or_default(),
                    ),
                    StoreOp::Update(kind, digests) => {
                        for d in digests {
                            let mut r = self.read(&inner.db, d)?.unwrap_or_default();
                            r.apply(*kind, now_local);
                            inner
                                .db
                                .insert(d.to_hex().as_bytes(), r.encode().as_bytes())
                                .map_err(|e| gdbm_err(&self.path, e))?;
                            wrote = true;
                        }
                    }
                }
            }
            if wrote {
                inner.written += 1;
                Some(inner.written)
            } else {
                None
            }
        };
        if let Some(mine) = mine {
            self.synced_up_to(mine)?;
        }
        Ok(out)
    }

    /// Deletes records whose last update (report or whitelist) is older
    /// than `cutoff`, then compacts the file (the reference's
    /// `reorganize`). Unlike the reference, whitelist-only records do not
    /// crash it, and undecodable records are left alone.
    fn expire(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut inner = self.lock()?;
        let mut doomed = Vec::new();
        for item in inner.db.iter::<Vec<u8>, Vec<u8>>() {
            let (k, v) = item.map_err(|e| gdbm_err(&self.path, e))?;
            if let Ok(r) = GdbmRecord::decode(&v)
                && r.to_record().last_update() < cutoff
            {
                doomed.push(k);
            }
        }
        for k in &doomed {
            inner
                .db
                .remove(k.as_slice())
                .map_err(|e| gdbm_err(&self.path, e))?;
        }
        if !doomed.is_empty() {
            inner.db.compact().map_err(|e| gdbm_err(&self.path, e))?;
        }
        inner.db.sync().map_err(|e| gdbm_err(&self.path, e))?;
        Ok(doomed.len() as u64)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.db.sync().map_err(|e| gdbm_err(&self.path, e))
    }

    fn describe(&self) -> String {
        format!("gdbm ({})", self.path.display())
    }

    fn gauges(&self) -> StoreGauges {
        StoreGauges {
            records: None,
            bytes: std::fs::metadata(&self.path).ok().map(|m| m.len()),
            queued: None,
        }
    }
}

impl Bulk for GdbmStore {
    fn count(&self) -> Result<u64, StoreError> {
        let inner = self.lock()?;
        inner
            .db
            .len()
            .map(|n| n as u64)
            .map_err(|e| gdbm_err(&self.path, e))
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let inner = self.lock()?;
        for item in inner.db.iter::<Vec<u8>, Vec<u8>>() {
            let (k, v) = item.map_err(|e| gdbm_err(&self.path, e))?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let digest = std::str::from_utf8(&k)
                .ok()
                .and_then(|s| Digest::from_hex(s).ok());
            f(match (digest, GdbmRecord::decode(&v)) {
                (Some(d), Ok(r)) => Ok((d, r.to_record())),
                (None, _) => Err(StoreError::Corrupt {
                    digest: key,
                    reason: "the key is not a digest".into(),
                }),
                (_, Err(reason)) => Err(StoreError::Corrupt {
                    digest: key,
                    reason,
                }),
            });
        }
        Ok(())
    }

    fn put_all(&self, records: &[(Digest, Record)]) -> Result<(), StoreError> {
        {
            let mut inner = self.lock()?;
            for (d, r) in records {
                inner
                    .db
                    .insert(
                        d.to_hex().as_bytes(),
                        GdbmRecord::from_record(r).encode().as_bytes(),
                    )
                    .map_err(|e| gdbm_err(&self.path, e))?;
            }
            inner.written += 1;
        }
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> Digest {
        Digest([b; 20])
    }

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn record_text_is_the_references() {
        let text = "1,2,2026-11-22 02:49:11.014610,2026-11-22 02:49:11.016819,0,None,None";
        let r = GdbmRecord::decode(text.as_bytes()).unwrap();
        assert_eq!(r.r_count, 2);
        assert_eq!(r.r_entered, Some(t("2026-11-22 02:49:11.014610")));
        assert_eq!(r.wl_entered, None);
        assert_eq!(r.encode(), text);
        // whole seconds print without a fraction, as Python's str(datetime)
        let r = GdbmRecord {
            wl_count: 3,
            wl_entered: Some(t("2025-01-02 03:04:05")),
            wl_updated: Some(t("2025-01-02 03:04:06.000001")),
            ..GdbmRecord::default()
        };
        assert_eq!(
            r.encode(),
            "1,0,None,None,3,2025-01-02 03:04:05,2025-01-02 03:04:06.000001"
        );
        assert_eq!(GdbmRecord::decode(r.encode().as_bytes()).unwrap(), r);
        // legacy version 0: three integers
        let r = GdbmRecord::decode(b"7,1700000000,1700000100").unwrap();
        assert_eq!(r.r_count, 7);
        assert_eq!(r.to_record().r_entered, 1_700_000_000);
        assert_eq!(r.to_record().r_updated, 1_700_000_100);
        // Python int() leniency
        assert_eq!(
            GdbmRecord::decode(b"1, 5 ,None,None,0,None,None")
                .unwrap()
                .r_count,
            5
        );
        // Python's strptime: one-digit fields, padded fractions, runs of
        // whitespace; not seven fractional digits, not second 60
        let r = GdbmRecord::decode(b"1,1,2025-1-2  3:4:5.5,None,0,None,None").unwrap();
        assert_eq!(r.r_entered, Some(t("2025-01-02 03:04:05.500000")));
        let r = GdbmRecord::decode(b"1,1,2025-01- 2 03:04:05,None,0,None,None").unwrap();
        assert_eq!(r.r_entered, Some(t("2025-01-02 03:04:05")));
        for bad in [
            &b"1,1,2025-01-02 03:04:06.000000001,None,0,None,None"[..],
            b"1,1,2025-01-02 03:04:60,None,0,None,None",
            b"1,1,2025-13-02 03:04:05,None,0,None,None",
            b"1,1,2025-01-02T03:04:05,None,0,None,None",
            b"1,1,25-01-02 03:04:05,None,0,None,None",
            b"1,1, 2025-01-02 03:04:05,None,0,None,None",
            b"1,1,2025-01-02 03:04:05.,None,0,None,None",
            b"1,1,2025-02-30 03:04:05,None,0,None,None",
            b"2,1,None,None,0,None,None",
            b"1,1,None,None,0,None",
            b"1,x,None,None,0,None,None",
            b"1,1,yesterday,None,0,None,None",
            b"\xff\xfe",
            b"",
        ] {
            assert!(GdbmRecord::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epoch_round_trip_in_local_time() {
        let secs = 1_795_315_720;
        let local = from_epoch(secs).unwrap();
        assert_eq!(to_epoch(local), secs);
        let r = Record {
            r_count: 1,
            r_entered: secs,
            r_updated: secs + 5,
            ..Record::default()
        };
        assert_eq!(GdbmRecord::from_record(&r).to_record(), r);
    }

    #[test]
    fn counts_persist_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.db");
        let now = 1_795_315_720;
        {
            let s = GdbmStore::open(&path).unwrap();
            let r = s
                .apply(
                    &[
                        StoreOp::Update(Update::Report, vec![d(1), d(2), d(1)]),
                        StoreOp::Get(d(1)),
                        StoreOp::Update(Update::Whitelist, vec![d(3)]),
                    ],
                    now,
                )
                .unwrap();
            assert_eq!(r[0].r_count, 2);
            assert_eq!(r[0].r_entered, now);
            // an undecodable record: read as absent, replaced by an update
            s.lock()
                .unwrap()
                .db
                .insert(d(4).to_hex().as_bytes(), &b"garbage"[..])
                .unwrap();
            assert_eq!(
                s.apply(&[StoreOp::Get(d(4))], now).unwrap()[0],
                Record::default()
            );
            s.flush().unwrap();
        }
        let s = GdbmStore::open(&path).unwrap();
        let mut n = 0;
        let mut bad = 0;
        s.scan(&mut |r| match r {
            Ok(_) => n += 1,
            Err(_) => bad += 1,
        })
        .unwrap();
        assert_eq!((n, bad), (3, 1));
        assert_eq!(s.count().unwrap(), 4);
        s.apply(&[StoreOp::Update(Update::Report, vec![d(4)])], now + 100)
            .unwrap();
        // expiry by the last update of either kind; whitelist-only
        // records are fine
        assert_eq!(s.expire(now + 50).unwrap(), 3);
        let r = s
            .apply(&[StoreOp::Get(d(4)), StoreOp::Get(d(3))], now)
            .unwrap();
        assert_eq!(r[0].r_count, 1);
        assert_eq!(r[1], Record::default());
    }
}
