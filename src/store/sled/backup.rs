//! `orderdeck backup` / `orderdeck restore`: a consistent snapshot of every tree in one file.
//!
//! Format (all integers big-endian):
//!
//! ```text
//! "ORDERDECK-BACKUP"  16 bytes magic
//! u16                 format version (1)
//! i64                 created_at, milliseconds since the Unix epoch
//! then records, each starting with a tag byte:
//!   1  u32 len, tree name            starts a tree (every following record belongs to it)
//!   2  u32 len, key, u32 len, value  one record
//!   0  u64 count of tag-2 records    end of data
//! [u8; 32]            SHA-256 of every byte above
//! ```
//!
//! The backup pauses the order store's writes (its snapshot gate) while it copies, so no order
//! change is half in it. Restore verifies the checksum and the whole structure before it writes
//! anything, and only writes into an empty or new data directory.

use super::SledStore;
use crate::ports::StoreError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 16] = b"ORDERDECK-BACKUP";
/// The backup format this version writes and reads.
pub const FORMAT_VERSION: u16 = 1;

const TAG_END: u8 = 0;
const TAG_TREE: u8 = 1;
const TAG_RECORD: u8 = 2;
const HEADER_LEN: u64 = 16 + 2 + 8;
const MAX_TREE_NAME: usize = 1024;
/// Records written per batch on restore.
const BATCH: usize = 5_000;

/// What can go wrong making or restoring a backup.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} is not an orderdeck backup")]
    NotABackup(PathBuf),
    #[error("{path} was written by a newer orderdeck (backup format {found}, this one reads {FORMAT_VERSION})")]
    Version { path: PathBuf, found: u16 },
    #[error("{0} is damaged: its checksum does not match its contents; nothing was restored")]
    Checksum(PathBuf),
    #[error("{path} is damaged: {what}; nothing was restored")]
    Damaged { path: PathBuf, what: String },
    #[error(
        "the data directory {0} is not empty; restore only writes into an empty or new directory"
    )]
    NotEmpty(PathBuf),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

/// What a backup or restore covered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupInfo {
    pub created_at: DateTime<Utc>,
    pub trees: u64,
    pub records: u64,
    pub bytes: u64,
}

impl std::fmt::Display for BackupInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records in {} trees, {} bytes, taken {}",
            self.records,
            self.trees,
            self.bytes,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hasher.update(b);
        self.bytes += b.len() as u64;
        self.inner.write_all(b)
    }

    fn put_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(b.len())
            .map_err(|_| std::io::Error::other("a record is larger than 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(b)
    }
}

/// Writes a consistent snapshot of every tree of `store`'s database to `path` (through a
/// temporary file renamed into place, so a failed backup never leaves a half file under `path`).
pub fn backup(store: &SledStore, path: &Path) -> Result<BackupInfo, BackupError> {
    let tmp = partial_path(path);
    let result = write_backup(store, path, &tmp);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn write_backup(store: &SledStore, path: &Path, tmp: &Path) -> Result<BackupInfo, BackupError> {
    // Owner-only: a backup holds password and token hashes.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(io(format!("cannot create {}", tmp.display())))?;
    let mut w = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let created_at = Utc::now();
    let ctx = || format!("cannot write {}", tmp.display());
    w.put(MAGIC).map_err(io(ctx()))?;
    w.put(&FORMAT_VERSION.to_be_bytes()).map_err(io(ctx()))?;
    w.put(&created_at.timestamp_millis().to_be_bytes())
        .map_err(io(ctx()))?;
    let mut records = 0u64;
    let mut names = store.db().tree_names();
    names.sort();
    {
        // No order write may land while the trees are copied.
        let _paused = store.pause_writes();
        for name in &names {
            let tree = store.db().open_tree(name).map_err(StoreError::from)?;
            w.put(&[TAG_TREE]).map_err(io(ctx()))?;
            w.put_bytes(name).map_err(io(ctx()))?;
            for item in tree.iter() {
                let (k, v) = item.map_err(StoreError::from)?;
                w.put(&[TAG_RECORD]).map_err(io(ctx()))?;
                w.put_bytes(&k).map_err(io(ctx()))?;
                w.put_bytes(&v).map_err(io(ctx()))?;
                records += 1;
            }
        }
    }
    w.put(&[TAG_END]).map_err(io(ctx()))?;
    w.put(&records.to_be_bytes()).map_err(io(ctx()))?;
    let digest = w.hasher.finalize();
    let mut inner = w.inner;
    inner.write_all(&digest).map_err(io(ctx()))?;
    let file = inner.into_inner().map_err(|e| BackupError::Io {
        context: ctx(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(ctx()))?;
    drop(file);
    std::fs::rename(tmp, path).map_err(io(format!("cannot create {}", path.display())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(BackupInfo {
        created_at,
        trees: names.len() as u64,
        records,
        bytes: w.bytes + 32,
    })
}

/// One parsed item of a backup.
enum Item<'a> {
    Tree(&'a [u8]),
    Record(&'a [u8], &'a [u8]),
}

struct Parser<R: Read> {
    inner: R,
    hasher: Sha256,
    /// Bytes left before the checksum.
    left: u64,
    path: PathBuf,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl<R: Read> Parser<R> {
    fn damaged(&self, what: &str) -> BackupError {
        BackupError::Damaged {
            path: self.path.clone(),
            what: what.to_string(),
        }
    }

    fn take(&mut self, n: usize, into_value: bool) -> Result<(), BackupError> {
        if n as u64 > self.left {
            return Err(self.damaged("it ends in the middle of a record"));
        }
        let buf = if into_value {
            &mut self.value
        } else {
            &mut self.key
        };
        buf.resize(n, 0);
        self.inner
            .read_exact(buf)
            .map_err(io(format!("cannot read {}", self.path.display())))?;
        self.hasher.update(&buf[..]);
        self.left -= n as u64;
        Ok(())
    }

    /// A fixed-size field (kept apart from the key and value buffers).
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], BackupError> {
        if N as u64 > self.left {
            return Err(self.damaged("it ends in the middle of a record"));
        }
        let mut out = [0u8; N];
        self.inner
            .read_exact(&mut out)
            .map_err(io(format!("cannot read {}", self.path.display())))?;
        self.hasher.update(out);
        self.left -= N as u64;
        Ok(out)
    }

    fn sized(&mut self, into_value: bool, max: usize) -> Result<(), BackupError> {
        let len = u32::from_be_bytes(self.fixed::<4>()?) as usize;
        if len > max {
            return Err(self.damaged("a length is out of range"));
        }
        self.take(len, into_value)
    }

    /// Reads the header; returns the creation time.
    fn header(&mut self) -> Result<DateTime<Utc>, BackupError> {
        if self.left < HEADER_LEN {
            return Err(BackupError::NotABackup(self.path.clone()));
        }
        let magic = self.fixed::<16>()?;
        if &magic != MAGIC {
            return Err(BackupError::NotABackup(self.path.clone()));
        }
        let version = u16::from_be_bytes(self.fixed::<2>()?);
        if version != FORMAT_VERSION {
            return Err(BackupError::Version {
                path: self.path.clone(),
                found: version,
            });
        }
        let millis = i64::from_be_bytes(self.fixed::<8>()?);
        DateTime::from_timestamp_millis(millis).ok_or_else(|| self.damaged("bad creation time"))
    }

    /// Reads every item, calling `f` on each; returns (trees, records).
    fn items(
        &mut self,
        mut f: impl FnMut(Item<'_>) -> Result<(), BackupError>,
    ) -> Result<(u64, u64), BackupError> {
        let (mut trees, mut records) = (0u64, 0u64);
        loop {
            match self.fixed::<1>()?[0] {
                TAG_TREE => {
                    self.sized(false, MAX_TREE_NAME)?;
                    trees += 1;
                    f(Item::Tree(&self.key))?;
                }
                TAG_RECORD => {
                    if trees == 0 {
                        return Err(self.damaged("a record comes before any tree"));
                    }
                    self.sized(false, usize::MAX)?;
                    self.sized(true, usize::MAX)?;
                    records += 1;
                    f(Item::Record(&self.key, &self.value))?;
                }
                TAG_END => {
                    let count = u64::from_be_bytes(self.fixed::<8>()?);
                    if count != records {
                        return Err(self.damaged("the record count does not match"));
                    }
                    if self.left != 0 {
                        return Err(self.damaged("there are bytes after the end"));
                    }
                    return Ok((trees, records));
                }
                _ => return Err(self.damaged("unknown record tag")),
            }
        }
    }

    /// Compares the trailing checksum with the hash of everything read.
    fn verify(mut self) -> Result<(), BackupError> {
        let mut stored = [0u8; 32];
        self.inner
            .read_exact(&mut stored)
            .map_err(io(format!("cannot read {}", self.path.display())))?;
        if self.hasher.finalize().as_slice() != stored {
            return Err(BackupError::Checksum(self.path));
        }
        Ok(())
    }
}

fn parser(path: &Path) -> Result<Parser<BufReader<File>>, BackupError> {
    let file = File::open(path).map_err(io(format!("cannot open {}", path.display())))?;
    let len = file
        .metadata()
        .map_err(io(format!("cannot read {}", path.display())))?
        .len();
    let Some(left) = len.checked_sub(32) else {
        return Err(BackupError::NotABackup(path.to_path_buf()));
    };
    Ok(Parser {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        left,
        path: path.to_path_buf(),
        key: Vec::new(),
        value: Vec::new(),
    })
}

/// Reads a whole backup without writing anything: checks its structure and checksum.
pub fn verify(path: &Path) -> Result<BackupInfo, BackupError> {
    let mut p = parser(path)?;
    let created_at = p.header()?;
    let (trees, records) = p.items(|_| Ok(()))?;
    p.verify()?;
    let bytes = std::fs::metadata(path)
        .map_err(io(format!("cannot read {}", path.display())))?
        .len();
    Ok(BackupInfo {
        created_at,
        trees,
        records,
        bytes,
    })
}

/// Whether `dir` is missing or has no entries.
fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io(format!("cannot read {}", dir.display()))(e)),
    }
}

/// Restores the backup at `path` into `data_dir`, which must be empty or not exist. The file is
/// verified completely (structure and checksum) before anything is written; if writing fails
/// half-way, what was written is removed again.
pub fn restore(path: &Path, data_dir: &Path) -> Result<BackupInfo, BackupError> {
    if !is_empty_dir(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
    }
    let info = verify(path)?;
    let existed = data_dir.exists();
    let result = write_restore(path, data_dir);
    if result.is_err() {
        if existed {
            let _ = std::fs::remove_dir_all(data_dir.join("db"));
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    result.map(|()| info)
}

fn write_restore(path: &Path, data_dir: &Path) -> Result<(), BackupError> {
    // sled directly (not `SledStore`, whose flush thread would hold the directory's lock a
    // moment after we return), so the caller can open the store as soon as this returns.
    std::fs::create_dir_all(data_dir)
        .map_err(io(format!("cannot create {}", data_dir.display())))?;
    let db = sled::Config::new()
        .path(super::db_path(data_dir))
        .open()
        .map_err(StoreError::from)?;
    let mut p = parser(path)?;
    p.header()?;
    let mut tree: Option<sled::Tree> = None;
    let mut batch = sled::Batch::default();
    let mut pending = 0usize;
    p.items(|item| {
        match item {
            Item::Tree(name) => {
                if let Some(t) = &tree {
                    t.apply_batch(std::mem::take(&mut batch))
                        .map_err(StoreError::from)?;
                    pending = 0;
                }
                tree = Some(db.open_tree(name).map_err(StoreError::from)?);
            }
            Item::Record(k, v) => {
                batch.insert(k, v);
                pending += 1;
                if pending >= BATCH {
                    if let Some(t) = &tree {
                        t.apply_batch(std::mem::take(&mut batch))
                            .map_err(StoreError::from)?;
                    }
                    pending = 0;
                }
            }
        }
        Ok(())
    })?;
    if let Some(t) = &tree {
        t.apply_batch(batch).map_err(StoreError::from)?;
    }
    db.flush().map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("data")).unwrap();
        crate::app::demo::fill(&store, 25, |_| {}).unwrap();
        store.put_setting("store_name", "Ünïcode Shop").unwrap();
        (dir, store)
    }

    type Dump = Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)>;

    fn dump(db: &sled::Db) -> Dump {
        let mut names = db.tree_names();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let t = db.open_tree(&n).unwrap();
                let recs = t
                    .iter()
                    .map(|r| {
                        let (k, v) = r.unwrap();
                        (k.to_vec(), v.to_vec())
                    })
                    .collect();
                (n.to_vec(), recs)
            })
            .collect()
    }

    #[test]
    fn a_backup_restores_every_tree_byte_for_byte() {
        let (dir, store) = filled();
        let file = dir.path().join("b.odb");
        let info = backup(&store, &file).unwrap();
        assert!(info.records > 25);
        assert!(!partial_path(&file).exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read a backup");
        let target = dir.path().join("restored");
        let restored = restore(&file, &target).unwrap();
        assert_eq!(restored.records, info.records);
        let copy = SledStore::open(&target).unwrap();
        assert_eq!(dump(store.db()), dump(copy.db()));
        assert!(crate::store::sled::check::check(&copy).unwrap().is_clean());
        assert_eq!(
            copy.setting("store_name").unwrap().as_deref(),
            Some("Ünïcode Shop")
        );
    }

    #[test]
    fn restore_refuses_a_non_empty_directory() {
        let (dir, store) = filled();
        let file = dir.path().join("b.odb");
        backup(&store, &file).unwrap();
        let target = dir.path().join("busy");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let e = restore(&file, &target).unwrap_err();
        assert!(matches!(e, BackupError::NotEmpty(_)), "{e}");
        assert!(e.to_string().contains("not empty"));
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
    }

    #[test]
    fn a_damaged_backup_is_refused_before_anything_is_written() {
        let (dir, store) = filled();
        let file = dir.path().join("b.odb");
        backup(&store, &file).unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&file, &bytes).unwrap();
        let target = dir.path().join("new");
        let e = restore(&file, &target).unwrap_err();
        assert!(
            matches!(e, BackupError::Checksum(_) | BackupError::Damaged { .. }),
            "{e}"
        );
        assert!(!target.exists(), "nothing may be written");
        // A truncated file and a foreign file are refused too.
        std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
        assert!(restore(&file, &target).is_err());
        std::fs::write(&file, b"hello").unwrap();
        assert!(matches!(
            restore(&file, &target),
            Err(BackupError::NotABackup(_))
        ));
        assert!(!target.exists());
    }
}
