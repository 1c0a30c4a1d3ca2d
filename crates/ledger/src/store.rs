//! The key-value interface the ledger runs over, an in-memory implementation, and two
//! write-buffering overlays: [`Overlay`] over a store it may write back to, and [`ReadOverlay`]
//! over a store it only reads (to try a transaction without changing or copying the state).
//!
//! The ledger never does I/O. Tests and the node run it over [`MemoryStore`], whose copies share
//! a base and their writes (the node keeps one per executed block), and the node writes each block's
//! changes to the authenticated store in key order. The ledger only needs the three calls of
//! [`Store`].

use ahash::AHashMap;

pub use crate::memory::{MemoryStore, OnDisk, Scan};

/// A synchronous key-value store. Absent keys read as `None`. Implementations must be
/// deterministic: the same sequence of calls always leaves the same contents.
pub trait Store {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    fn put(&mut self, key: &[u8], value: Vec<u8>);
    fn delete(&mut self, key: &[u8]);
}

/// Buffers writes over a base store. Reads see the buffered writes first. [`Overlay::commit`]
/// applies them to the base in key order; dropping the overlay discards them. This is how a
/// failed call leaves no trace: it runs in an overlay that is never committed.
#[derive(Debug)]
pub struct Overlay<'a, S: Store + ?Sized> {
    base: &'a mut S,
    writes: AHashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, S: Store + ?Sized> Overlay<'a, S> {
    pub fn new(base: &'a mut S) -> Self {
        Self {
            base,
            writes: AHashMap::new(),
        }
    }

    /// Applies the buffered writes to the base store, in key order.
    pub fn commit(self) {
        let base = self.base;
        for (key, value) in sorted(self.writes) {
            match value {
                Some(value) => base.put(&key, value),
                None => base.delete(&key),
            }
        }
    }

    /// The buffered writes, in key order (`None` is a deletion).
    pub fn writes(&self) -> impl Iterator<Item = (&Vec<u8>, &Option<Vec<u8>>)> {
        let mut writes: Vec<_> = self.writes.iter().collect();
        writes.sort_unstable_by(|a, b| a.0.cmp(b.0));
        writes.into_iter()
    }

    /// Takes the buffered writes, in key order (`None` is a deletion), without applying them.
    pub fn into_writes(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        sorted(self.writes)
    }
}

/// Buffers writes over a base store that it only reads: the base is borrowed shared, so it
/// cannot change, and the writes can only be taken ([`ReadOverlay::into_writes`]) or dropped.
/// This is how a transaction is tried against a finalized state that others keep reading: no
/// copy of the state is made, only what the transaction writes is held.
#[derive(Debug)]
pub struct ReadOverlay<'a, S: Store + ?Sized> {
    base: &'a S,
    writes: AHashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, S: Store + ?Sized> ReadOverlay<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Self {
            base,
            writes: AHashMap::new(),
        }
    }

    /// Takes the buffered writes, in key order (`None` is a deletion).
    pub fn into_writes(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        sorted(self.writes)
    }
}

impl<S: Store + ?Sized> Store for ReadOverlay<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(value) => value.clone(),
            None => self.base.get(key),
        }
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.writes.insert(key.to_vec(), Some(value));
    }

    fn delete(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }
}

fn sorted(writes: AHashMap<Vec<u8>, Option<Vec<u8>>>) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut writes: Vec<_> = writes.into_iter().collect();
    writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    writes
}

impl<S: Store + ?Sized> Store for Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(value) => value.clone(),
            None => self.base.get(key),
        }
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.writes.insert(key.to_vec(), Some(value));
    }

    fn delete(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_reads_its_writes_and_commits_or_discards() {
        let mut base = MemoryStore::new();
        base.put(b"a", vec![1]);
        base.put(b"b", vec![2]);
        {
            let mut overlay = Overlay::new(&mut base);
            overlay.put(b"a", vec![9]);
            overlay.delete(b"b");
            overlay.put(b"c", vec![3]);
            assert_eq!(overlay.get(b"a"), Some(vec![9]));
            assert_eq!(overlay.get(b"b"), None);
            // Dropped without commit.
        }
        assert_eq!(base.get(b"a"), Some(vec![1]));
        assert_eq!(base.get(b"b"), Some(vec![2]));
        assert_eq!(base.get(b"c"), None);

        let mut overlay = Overlay::new(&mut base);
        overlay.put(b"a", vec![9]);
        overlay.delete(b"b");
        overlay.commit();
        assert_eq!(base.get(b"a"), Some(vec![9]));
        assert_eq!(base.get(b"b"), None);
    }

    #[test]
    fn read_overlay_reads_its_writes_and_leaves_the_base_alone() {
        let mut base = MemoryStore::new();
        base.put(b"a", vec![1]);
        base.put(b"b", vec![2]);
        let before = base.clone();
        let mut overlay = ReadOverlay::new(&base);
        overlay.put(b"a", vec![9]);
        overlay.delete(b"b");
        overlay.put(b"c", vec![3]);
        assert_eq!(overlay.get(b"a"), Some(vec![9]));
        assert_eq!(overlay.get(b"b"), None);
        assert_eq!(base.get(b"a"), Some(vec![1]));
        // An overlay stacked on it commits into it, still not into the base.
        let mut inner = Overlay::new(&mut overlay);
        inner.put(b"d", vec![4]);
        inner.commit();
        assert_eq!(
            overlay.into_writes(),
            vec![
                (b"a".to_vec(), Some(vec![9])),
                (b"b".to_vec(), None),
                (b"c".to_vec(), Some(vec![3])),
                (b"d".to_vec(), Some(vec![4])),
            ]
        );
        assert_eq!(base, before);
    }

    #[test]
    fn digest_depends_on_contents_only() {
        let mut one = MemoryStore::new();
        let mut two = MemoryStore::new();
        one.put(b"x", vec![1]);
        one.put(b"y", vec![2]);
        two.put(b"y", vec![2]);
        two.put(b"x", vec![1]);
        assert_eq!(one.digest(), two.digest());
        two.put(b"x", vec![3]);
        assert_ne!(one.digest(), two.digest());
        // Key/value boundaries are part of the digest.
        let mut three = MemoryStore::new();
        three.put(b"xy", vec![]);
        let mut four = MemoryStore::new();
        four.put(b"x", b"y".to_vec());
        assert_ne!(three.digest(), four.digest());
    }

    #[test]
    fn scan_prefix_stays_inside_the_prefix() {
        let mut store = MemoryStore::new();
        for key in [&b"a1"[..], b"b1", b"b2", b"c1"] {
            store.put(key, vec![]);
        }
        let keys: Vec<Vec<u8>> = store.scan_prefix(b"b").map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"b1".to_vec(), b"b2".to_vec()]);
        let back: Vec<Vec<u8>> = store.scan_prefix(b"b").rev().map(|(k, _)| k).collect();
        assert_eq!(back, vec![b"b2".to_vec(), b"b1".to_vec()]);
        // A prefix ending in 0xFF bytes, and the empty prefix.
        for key in [
            &[0x01, 0xFF][..],
            &[0x01, 0xFF, 0x00],
            &[0x02],
            &[0xFF, 0xFF],
        ] {
            store.put(key, vec![]);
        }
        let under: Vec<Vec<u8>> = store.scan_prefix(&[0x01, 0xFF]).map(|(k, _)| k).collect();
        assert_eq!(under, vec![vec![0x01, 0xFF], vec![0x01, 0xFF, 0x00]]);
        let top: Vec<Vec<u8>> = store.scan_prefix(&[0xFF]).map(|(k, _)| k).collect();
        assert_eq!(top, vec![vec![0xFF, 0xFF]]);
        assert_eq!(store.scan_prefix(&[]).count(), store.len());
    }
}
