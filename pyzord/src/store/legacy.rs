//! Reading the file store's earlier format: one redb database file
//! (`pyzord.redb`) whose records were six little-endian `i64`. `pyzord
//! migrate --from file:pyzord.redb` reads it through [`LegacyFileStore`];
//! the file store refuses to serve it.

use std::path::Path;

use pyzor_core::Digest;
use redb::{
    Database, Key, ReadableDatabase, ReadableTableMetadata, TableDefinition, TypeName, Value,
};

use super::{Bulk, Record, StoreError};

/// Digest → record (six little-endian i64).
const DIGESTS: TableDefinition<DigestKey, [u8; 48]> = TableDefinition::new("digests_v1");

/// The key type the earlier format was written with (its name is part of
/// the file).
#[derive(Debug)]
struct DigestKey;

impl Value for DigestKey {
    type SelfType<'a> = [u8; 20];
    type AsBytes<'a> = [u8; 20];

    fn fixed_width() -> Option<usize> {
        Some(20)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> [u8; 20]
    where
        Self: 'a,
    {
        let mut k = [0u8; 20];
        let n = data.len().min(20);
        k[..n].copy_from_slice(&data[..n]);
        k
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a [u8; 20]) -> [u8; 20]
    where
        Self: 'b,
    {
        *value
    }

    fn type_name() -> TypeName {
        TypeName::new("pyzord::Digest")
    }
}

impl Key for DigestKey {
    fn compare(data1: &[u8], data2: &[u8]) -> std::cmp::Ordering {
        data1.cmp(data2)
    }
}

/// `true` if the file starts with redb's magic number: a file store of the
/// earlier format.
pub fn looks_like_redb(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 9];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"redb\x1A\x0A\xA9\x0D\x0A"
}

/// A file store of the earlier format, open for reading.
pub struct LegacyFileStore {
    db: Database,
}

fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Rejected(Box::new(e))
}

fn decode(b: &[u8; 48]) -> Record {
    Record::from_fields(std::array::from_fn(|i| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i * 8..i * 8 + 8]);
        i64::from_le_bytes(a)
    }))
}

impl LegacyFileStore {
    /// Opens the file (redb takes a lock: not while a pyzord serves it).
    pub fn open(path: &Path) -> Result<LegacyFileStore, StoreError> {
        let db = Database::open(path)
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        Ok(LegacyFileStore { db })
    }
}

impl Bulk for LegacyFileStore {
    fn count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        match txn.open_table(DIGESTS) {
            Ok(table) => table.len().map_err(db_err),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(db_err(e)),
        }
    }

    fn scan(
        &self,
        f: &mut dyn FnMut(Result<(Digest, Record), StoreError>),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(DIGESTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(db_err(e)),
        };
        for item in redb::ReadableTable::iter(&table).map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            f(Ok((Digest(k.value()), decode(&v.value()))));
        }
        Ok(())
    }

    fn put_all(&self, _records: &[(Digest, Record)]) -> Result<(), StoreError> {
        Err(StoreError::Other(
            "the earlier file-store format (redb) is read only: migrate it to the current one"
                .into(),
        ))
    }
}

/// Writes records in the earlier format (for tests of the conversion).
#[doc(hidden)]
pub fn write_earlier_format(path: &Path, records: &[(Digest, Record)]) -> Result<(), StoreError> {
    let db = Database::create(path).map_err(db_err)?;
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut table = txn.open_table(DIGESTS).map_err(db_err)?;
        for (d, r) in records {
            let mut bytes = [0u8; 48];
            for (i, v) in r.fields().into_iter().enumerate() {
                bytes[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            table.insert(d.0, bytes).map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written the way the earlier file store wrote it is read back
    /// record for record.
    #[test]
    fn reads_the_earlier_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyzord.redb");
        let r = Record {
            r_count: 3,
            r_entered: 100,
            r_updated: 300,
            wl_count: 1,
            wl_entered: 200,
            wl_updated: 200,
        };
        write_earlier_format(&path, &[(Digest([7; 20]), r)]).unwrap();
        assert!(looks_like_redb(&path));
        assert!(!looks_like_redb(dir.path()));
        let s = LegacyFileStore::open(&path).unwrap();
        assert_eq!(s.count().unwrap(), 1);
        let mut got = Vec::new();
        s.scan(&mut |x| got.push(x.unwrap())).unwrap();
        assert_eq!(got, vec![(Digest([7; 20]), r)]);
        assert!(s.put_all(&[]).is_err());
    }
}
