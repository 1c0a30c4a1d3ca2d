//! The part of a base that every live state reads alike, kept in a file instead of memory.
//!
//! A base on disk ([`super::MemoryStore::on_disk`]) keeps in memory the values written at
//! versions some live state may not read yet; once every live state reads a version, what it
//! wrote waits for a write batch ([`OnDisk::write_batch`]) and then moves into this file (one
//! redb B-tree ordered by key), the most recently written staying in memory as a cache
//! ([`OnDisk::cached_values`]). Memory then holds the blocks in flight, the batch, the cached
//! values, the most recent reads of the file ([`OnDisk::read_values`]) and redb's page cache,
//! all of sizes the caller sets, whatever the state's size; the file holds the records once.
//!
//! A batch is written by a thread of its own, one batch at a time: the settle that made it
//! due returns at once, and readers go on reading the file as it was and the batch in memory
//! until the commit, when memory lets go of the batch under the base's lock. A write to the
//! file copies every page it changes, so a batch of 65,536 values spread over millions of
//! records takes a few hundred milliseconds, which no reader and no block waits for.
//!
//! The file is a working copy, not the ledger's record (the authenticated store is): it is made
//! empty when the base is made, commits are not made durable one by one, and it is removed when
//! the base is dropped. So nothing here needs to survive a crash; a commit is made durable now
//! and then only so that redb reuses the pages earlier commits freed (a non-durable commit
//! frees none) and the file does not grow without end.
//!
//! A read or write of the file that fails (a full or failing disk) aborts the process: the
//! ledger's reads cannot return an error, and a node that can no longer read its state must
//! stop, not go on with a wrong one. A panic would not do: the ledger catches a call's panic
//! as that call's failure, so a failed read would become a different outcome on this node
//! alone. No transaction can cause it.

use crate::blob::{Blob, Value};
use ahash::AHashMap;
pub(super) use redb::ReadOnlyTable;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::{
    ops::Bound,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
};

const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// Commits between two durable ones (see the module documentation).
const DURABLE_EVERY: u32 = 64;

/// Where bases on disk keep their files, and how much memory each file may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnDisk {
    /// A directory this process may write; each base makes its own file in it.
    pub dir: PathBuf,
    /// The page cache of each base's file, in bytes.
    pub cache_bytes: usize,
    /// Values every live state reads alike that wait in memory to move to the file together
    /// (at least 1). A write to the file copies every page it changes, so one commit of many
    /// values costs far less than many commits of a few: [`OnDisk::WRITE_BATCH`] suits a node.
    pub write_batch: usize,
    /// Values the file holds that stay in memory too, the most recently written, so that a
    /// read of one costs a hash lookup, not a walk down the file's tree.
    pub cached_values: usize,
    /// Reads of the file kept in memory, the most recent, absent keys included, so that a key
    /// read again costs a hash lookup (at most this many; 0 keeps none).
    pub read_values: usize,
}

impl OnDisk {
    /// The write batch a node uses: about 6 MiB of balances and nonces.
    pub const WRITE_BATCH: usize = 1 << 16;

    /// What a value kept in memory costs, about: its entry in the map of values and in the
    /// ordered keys, and its place in the list of kept keys (a balance, measured by B6).
    pub const BYTES_PER_CACHED_VALUE: usize = 256;

    /// What a read kept in memory costs at most: a key and a value inline in one of two hash
    /// maps, each with room to grow.
    pub const BYTES_PER_READ_VALUE: usize = 192;

    /// Bases in `dir` that use about `cache_bytes` of memory for their file: half as the file's
    /// page cache, a quarter as values written and kept in memory, a quarter as reads kept in
    /// memory; values move to the file in write batches of [`OnDisk::WRITE_BATCH`].
    pub fn new(dir: PathBuf, cache_bytes: usize) -> Self {
        Self {
            dir,
            cache_bytes: cache_bytes / 2,
            write_batch: Self::WRITE_BATCH,
            cached_values: cache_bytes / 4 / Self::BYTES_PER_CACHED_VALUE,
            read_values: cache_bytes / 4 / Self::BYTES_PER_READ_VALUE,
        }
    }
}

/// Tells the files of one process's bases apart.
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// Removes a file when dropped. A writer may still hold the database open: the name goes at
/// once, the pages when the writer lets go.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) struct Cold {
    /// The table as the latest batch written left it, swapped in when memory lets go of it.
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    /// What recent reads found in `table` (`None`: absent). Reads share the base's read lock
    /// and `table` changes under its write lock, so what is kept here is always the table's.
    read: Mutex<Recent>,
    file: Arc<File>,
    pub(super) config: OnDisk,
    /// The file's name goes with the base, even while a writer still writes to it (its
    /// pages then go once the writer lets go).
    _path: Removed,
}

/// The file, which a write batch is written to without the base's lock: readers go on reading
/// `Cold::table` meanwhile (see [`Cold::written`]).
pub(super) struct File {
    db: Database,
    since_durable: AtomicU32,
    /// Tests: how long each write waits first, to play a disk slower than the caller.
    #[cfg(test)]
    pub(super) delay_ms: AtomicU64,
}

impl Cold {
    /// A new, empty file in `config.dir`.
    pub(super) fn create(config: &OnDisk) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.dir)?;
        let path = file_path(&config.dir);
        let _ = std::fs::remove_file(&path);
        let removed = Removed(path);
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&removed.0)
            .map_err(std::io::Error::other)?;
        let file = File {
            db,
            since_durable: AtomicU32::new(0),
            #[cfg(test)]
            delay_ms: AtomicU64::new(0),
        };
        let db = &file.db;
        let write = db.begin_write().map_err(std::io::Error::other)?;
        write.open_table(RECORDS).map_err(std::io::Error::other)?;
        write.commit().map_err(std::io::Error::other)?;
        let table = open(db);
        Ok(Self {
            table,
            read: Mutex::new(Recent::new(config.read_values)),
            file: Arc::new(file),
            config: config.clone(),
            _path: removed,
        })
    }

    /// The file's value under `key`, kept among the recent reads when `keep` (a key about to
    /// be written is not: memory holds it from then on).
    pub(super) fn get(&self, key: &[u8], keep: bool) -> Option<Value> {
        let kept = if keep {
            self.recent().get(key)
        } else {
            self.recent().peek(key)
        };
        if let Some(found) = kept {
            return found;
        }
        let found = self.read_table(key);
        if keep {
            self.recent().insert(key, found.clone());
        }
        found
    }

    fn read_table(&self, key: &[u8]) -> Option<Value> {
        self.table
            .get(key)
            .unwrap_or_else(|error| failed("reading the state file", error))
            .map(|value| Value::from(value.value()))
    }

    // Nothing done under this lock panics; should it, what is kept is still the table's.
    pub(super) fn recent(&self) -> MutexGuard<'_, Recent> {
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Up to `limit` entries in the range, in key order from its start (or from its end,
    /// when `back`).
    pub(super) fn range(
        &self,
        bounds: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
    ) -> Vec<(Blob, Value)> {
        let range = self
            .table
            .range(bounds)
            .unwrap_or_else(|error| failed("reading the state file", error));
        type Guard<'a> = redb::AccessGuard<'a, &'static [u8]>;
        let entry = |entry: Result<(Guard<'_>, Guard<'_>), redb::StorageError>| {
            let (key, value) =
                entry.unwrap_or_else(|error| failed("reading the state file", error));
            (Blob::from(key.value()), Value::from(value.value()))
        };
        if back {
            range.rev().take(limit).map(entry).collect()
        } else {
            range.take(limit).map(entry).collect()
        }
    }

    /// The file, to write a batch to without the base's lock.
    pub(super) fn file(&self) -> Arc<File> {
        self.file.clone()
    }

    /// Reads from now on see `table`, which a [`File::write`] of `keys` returned.
    pub(super) fn written<'a>(
        &mut self,
        table: ReadOnlyTable<&'static [u8], &'static [u8]>,
        keys: impl IntoIterator<Item = &'a Blob>,
    ) {
        self.table = table;
        let recent = self
            .read
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in keys {
            recent.forget(key.as_slice());
        }
    }
}

impl File {
    /// Writes (`None`: deletes) the entries in one commit, and returns the table it left. One
    /// write at a time (the base writes one batch at a time); reads of the table as it was go
    /// on meanwhile.
    pub(super) fn write(
        &self,
        entries: &[(Blob, Option<Value>)],
    ) -> ReadOnlyTable<&'static [u8], &'static [u8]> {
        #[cfg(test)]
        std::thread::sleep(std::time::Duration::from_millis(
            self.delay_ms.load(Ordering::Relaxed),
        ));
        let mut write = self
            .db
            .begin_write()
            .unwrap_or_else(|error| failed("writing the state file", error));
        let commits = self
            .since_durable
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if commits >= DURABLE_EVERY {
            self.since_durable.store(0, Ordering::Relaxed);
        } else {
            write
                .set_durability(Durability::None)
                .unwrap_or_else(|error| failed("a non-durable commit to the state file", error));
        }
        {
            let mut table = write
                .open_table(RECORDS)
                .unwrap_or_else(|error| failed("writing the state file", error));
            for (key, value) in entries {
                match value {
                    Some(value) => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .unwrap_or_else(|error| failed("writing the state file", error));
                    }
                    None => {
                        table
                            .remove(key.as_slice())
                            .unwrap_or_else(|error| failed("writing the state file", error));
                    }
                }
            }
        }
        write
            .commit()
            .unwrap_or_else(|error| failed("writing the state file", error));
        open(&self.db)
    }
}

/// The most recent reads, at most `bound`: two generations, the newest taking reads until it
/// holds half the bound and then replacing the older. A read found in the older moves to the
/// newest, so what is read often stays.
pub(super) struct Recent {
    pub(super) newer: AHashMap<Blob, Option<Value>>,
    pub(super) older: AHashMap<Blob, Option<Value>>,
    bound: usize,
}

impl Recent {
    fn new(bound: usize) -> Self {
        Self {
            newer: AHashMap::new(),
            older: AHashMap::new(),
            bound,
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<Option<Value>> {
        if let Some(found) = self.newer.get(key) {
            return Some(found.clone());
        }
        let (key, found) = self.older.remove_entry(key)?;
        self.insert(key.as_slice(), found.clone());
        Some(found)
    }

    fn peek(&self, key: &[u8]) -> Option<Option<Value>> {
        self.newer.get(key).or_else(|| self.older.get(key)).cloned()
    }

    fn insert(&mut self, key: &[u8], found: Option<Value>) {
        let half = self.bound / 2;
        if half == 0 {
            return;
        }
        if self.newer.len() >= half {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(Blob::from(key), found);
    }

    fn forget(&mut self, key: &[u8]) {
        self.newer.remove(key);
        self.older.remove(key);
    }
}

fn open(db: &Database) -> ReadOnlyTable<&'static [u8], &'static [u8]> {
    db.begin_read()
        .unwrap_or_else(|error| failed("reading the state file", error))
        .open_table(RECORDS)
        .unwrap_or_else(|error| failed("opening the state file's table", error))
}

/// Stops the process: `what` failed with `error` (see the module documentation).
pub(super) fn failed(what: &str, error: impl std::fmt::Display) -> ! {
    tracing::error!(%error, "{what} failed: the node stops");
    eprintln!("{what} failed: {error}; the node stops");
    std::process::abort()
}

fn file_path(dir: &Path) -> PathBuf {
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("state-{}-{n}.redb", std::process::id()))
}
