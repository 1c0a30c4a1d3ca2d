//! Ledger snapshots on disk.
//!
//! The ledger's state lives in memory (see [`crate::state`]); the authenticated store holds only
//! hashes of it. Without snapshots a restarted node rebuilds the state by re-executing every
//! block since genesis. Every `every` finalized blocks the node writes the whole ledger state
//! after that block to one file, replaced atomically; on start it loads that file, and only the
//! blocks after it are re-executed.
//!
//! The file is the node's own data: a checksum catches corruption, and a snapshot that does not
//! match the chain cannot go unnoticed either, because every later block's state root is
//! recomputed from it and checked against the root the validators signed.

use ledger::{MemoryStore, Store as _};
use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};
use types::Digest;

/// The state format's version is in the last byte: 2 added the per-account indexes
/// (`ledger::index`), so a snapshot of format 1 lacks records every block now relies on.
const MAGIC: &[u8; 8] = b"EQUASNP2";
const FILE: &str = "ledger.snapshot";
const CHECKSUM_NAMESPACE: &[u8] = b"EQUA_SNAPSHOT_V1";

/// The ledger state after one finalized block.
#[derive(Debug)]
pub struct Snapshot {
    pub height: u64,
    pub timestamp_ms: u64,
    pub digest: Digest,
    pub store: MemoryStore,
}

/// Where and how often a node writes snapshots.
#[derive(Debug)]
pub struct Snapshots {
    dir: PathBuf,
    every: u64,
    writing: Arc<AtomicBool>,
}

impl Snapshots {
    /// Snapshots in `dir`, one after every `every` finalized blocks (at least 1).
    pub fn new(dir: PathBuf, every: u64) -> Self {
        Self {
            dir,
            every: every.max(1),
            writing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Writes the state after block `height` in the background when the height is due and no
    /// earlier write is still running.
    pub fn finalized(
        &self,
        height: u64,
        timestamp_ms: u64,
        digest: Digest,
        store: Arc<MemoryStore>,
    ) {
        if height == 0
            || !height.is_multiple_of(self.every)
            || self.writing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let dir = self.dir.clone();
        let writing = self.writing.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let bytes = encode(height, timestamp_ms, &digest, &store);
                if let Err(error) = write_atomically(&dir, &bytes) {
                    eprintln!(
                        "warning: cannot write the ledger snapshot at height {height}: {error}"
                    );
                }
                writing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.writing.store(false, Ordering::Release);
        }
    }

    /// The latest snapshot, if one was written.
    pub fn latest(&self) -> Result<Option<Snapshot>, String> {
        let path = self.dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }
}

fn encode(height: u64, timestamp_ms: u64, digest: &Digest, store: &MemoryStore) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64 + store.len() * 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&timestamp_ms.to_be_bytes());
    bytes.extend_from_slice(&digest.0);
    bytes.extend_from_slice(&(store.len() as u64).to_be_bytes());
    for (key, value) in store.scan_prefix(&[]) {
        for part in [key, value] {
            bytes.extend_from_slice(&(part.len() as u32).to_be_bytes());
            bytes.extend_from_slice(part);
        }
    }
    let checksum = types::hash(CHECKSUM_NAMESPACE, &[&bytes]);
    bytes.extend_from_slice(&checksum.0);
    bytes
}

fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or("the snapshot is truncated")?;
    let (body, checksum) = bytes.split_at(body_len);
    if types::hash(CHECKSUM_NAMESPACE, &[body]).0 != checksum {
        return Err("the snapshot's checksum does not match: the file is damaged".into());
    }
    let mut reader = Reader(body);
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(
            "not a ledger snapshot of this state format (EQUASNP2); a chain begun with an \
             older format must restart from a new genesis"
                .into(),
        );
    }
    let height = reader.u64()?;
    let timestamp_ms = reader.u64()?;
    let digest = Digest(reader.take(32)?.try_into().expect("32 bytes"));
    let count = reader.u64()?;
    let mut store = MemoryStore::new();
    for _ in 0..count {
        let key = reader.part()?.to_vec();
        let value = reader.part()?.to_vec();
        store.put(&key, value);
    }
    if !reader.0.is_empty() {
        return Err("the snapshot has trailing bytes".into());
    }
    Ok(Snapshot {
        height,
        timestamp_ms,
        digest,
        store,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.0.len() < len {
            return Err("the snapshot is truncated".into());
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn part(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
        self.take(len as usize)
    }
}

/// Writes `bytes` to the snapshot file so that a crash leaves either the old file or the new one.
fn write_atomically(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!("{FILE}.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, dir.join(FILE))?;
    // Make the rename itself durable.
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> MemoryStore {
        let mut store = MemoryStore::new();
        store.put(b"alpha", b"1".to_vec());
        store.put(b"beta", vec![0; 300]);
        store.put(b"", b"empty key".to_vec());
        store
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let bytes = encode(7, 1_000, &Digest([9; 32]), &store());
        let snapshot = decode(&bytes).unwrap();
        assert_eq!((snapshot.height, snapshot.timestamp_ms), (7, 1_000));
        assert_eq!(snapshot.digest, Digest([9; 32]));
        assert_eq!(
            snapshot.store.scan_prefix(&[]).collect::<Vec<_>>(),
            store().scan_prefix(&[]).collect::<Vec<_>>()
        );
        for index in [0, 9, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[index] ^= 1;
            assert!(decode(&damaged).is_err(), "a flipped byte at {index}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn a_snapshot_of_the_older_state_format_is_refused_by_name() {
        // An intact snapshot (its checksum matches) written before the per-account indexes.
        let mut body = encode(7, 1_000, &Digest([9; 32]), &store());
        body.truncate(body.len() - 32);
        body[..MAGIC.len()].copy_from_slice(b"EQUASNP1");
        let checksum = types::hash(CHECKSUM_NAMESPACE, &[&body]);
        body.extend_from_slice(&checksum.0);
        let error = decode(&body).expect_err("refused");
        assert!(
            error.contains("state format") && error.contains("new genesis"),
            "{error}"
        );
    }

    #[test]
    fn writes_only_due_heights_and_reads_back_the_latest() {
        let dir = std::env::temp_dir().join(format!("equa-snapshots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let snapshots = Snapshots::new(dir.clone(), 10);
        assert!(snapshots.latest().unwrap().is_none());
        snapshots.finalized(5, 1, Digest([1; 32]), Arc::new(store()));
        snapshots.finalized(10, 2, Digest([2; 32]), Arc::new(store()));
        while snapshots.writing.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let latest = snapshots.latest().unwrap().unwrap();
        assert_eq!((latest.height, latest.digest), (10, Digest([2; 32])));
        std::fs::write(dir.join(FILE), b"garbage").unwrap();
        assert!(snapshots.latest().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
