//! The part of a base that every live state reads alike, kept in a file instead of memory.
//!
//! A base on disk ([`super::MemoryStore::on_disk`]) keeps in memory the values written at
//! versions some live state may not read yet; once every live state reads a version, what it
//! wrote waits for a write batch ([`OnDisk::write_batch`]) and then moves into this file (one
//! redb B-tree ordered by key), the most recently written staying in memory as a cache
//! ([`OnDisk::cached_values`]). Memory then holds the blocks in flight, the batch, the cached
//! values and redb's page cache, all of sizes the caller sets, whatever the state's size; the
//! file holds the records once.
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
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
use std::{
    ops::Bound,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
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
}

impl OnDisk {
    /// The write batch a node uses: about 6 MiB of balances and nonces.
    pub const WRITE_BATCH: usize = 1 << 16;

    /// What a value kept in memory costs, about: its entry in the map of values and in the
    /// ordered keys, and its place in the list of kept keys (a balance, measured by B6).
    pub const BYTES_PER_CACHED_VALUE: usize = 256;

    /// Bases in `dir` that use about `cache_bytes` of memory for their file: half as the file's
    /// page cache, half as values kept in memory; values move to the file in write batches of
    /// [`OnDisk::WRITE_BATCH`].
    pub fn new(dir: PathBuf, cache_bytes: usize) -> Self {
        Self {
            dir,
            cache_bytes: cache_bytes / 2,
            write_batch: Self::WRITE_BATCH,
            cached_values: cache_bytes / 2 / Self::BYTES_PER_CACHED_VALUE,
        }
    }
}

/// Tells the files of one process's bases apart.
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// Removes a file when dropped (after the database that uses it, which is declared first).
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) struct Cold {
    /// The table as the latest commit left it.
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    db: Database,
    since_durable: u32,
    pub(super) config: OnDisk,
    _file: Removed,
}

impl Cold {
    /// A new, empty file in `config.dir`.
    pub(super) fn create(config: &OnDisk) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.dir)?;
        let path = file_path(&config.dir);
        let _ = std::fs::remove_file(&path);
        let file = Removed(path);
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&file.0)
            .map_err(std::io::Error::other)?;
        let write = db.begin_write().map_err(std::io::Error::other)?;
        write.open_table(RECORDS).map_err(std::io::Error::other)?;
        write.commit().map_err(std::io::Error::other)?;
        let table = open(&db);
        Ok(Self {
            table,
            db,
            since_durable: 0,
            config: config.clone(),
            _file: file,
        })
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<Value> {
        self.table
            .get(key)
            .unwrap_or_else(|error| failed("reading the state file", error))
            .map(|value| Value::from(value.value()))
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

    /// Writes (`None`: deletes) the entries in one commit.
    pub(super) fn apply<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a Blob, Option<&'a Value>)>,
    ) {
        let mut write = self
            .db
            .begin_write()
            .unwrap_or_else(|error| failed("writing the state file", error));
        self.since_durable = self.since_durable.saturating_add(1);
        let durable = self.since_durable >= DURABLE_EVERY;
        if durable {
            self.since_durable = 0;
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
        self.table = open(&self.db);
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
