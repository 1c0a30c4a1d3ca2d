//! [`Records`]: the map from key to values under [`crate::MemoryStore`]'s base, laid out for
//! memory.
//!
//! A hash map of whole entries doubles its table as it grows, so just past a power of two half
//! of it is empty, and an empty bucket costs as much as a full one (a key and its values, about
//! a hundred bytes). Here the table holds only a 4-byte slot number per entry; the entries
//! themselves sit in slots allocated [`CHUNK`] at a time and never moved, and a removed entry's
//! slot is reused. A lookup costs one more memory access than a map of whole entries.

use crate::blob::Blob;
use ahash::RandomState;
use hashbrown::HashTable;

/// Slots allocated at a time.
const CHUNK: usize = 1024;

/// A slot: a key and its value, or nothing when free.
type Slot<V> = Option<(Blob, V)>;

/// A map from key bytes to `V`.
pub(crate) struct Records<V> {
    /// Slot numbers, found by the hash of their slot's key.
    index: HashTable<u32>,
    /// Slot `n` is `chunks[n / CHUNK][n % CHUNK]`; `None` when free.
    chunks: Vec<Box<[Slot<V>]>>,
    /// Slots handed out so far (filled or freed).
    used: usize,
    free: Vec<u32>,
    hasher: RandomState,
}

impl<V> Default for Records<V> {
    fn default() -> Self {
        Self {
            index: HashTable::new(),
            chunks: Vec::new(),
            used: 0,
            free: Vec::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<V> Records<V> {
    fn hash(hasher: &RandomState, key: &[u8]) -> u64 {
        hasher.hash_one(key)
    }

    fn slot(chunks: &[Box<[Slot<V>]>], slot: u32) -> &(Blob, V) {
        let slot = slot as usize;
        chunks[slot / CHUNK][slot % CHUNK]
            .as_ref()
            .expect("an indexed slot is filled")
    }

    fn slot_mut(chunks: &mut [Box<[Slot<V>]>], slot: u32) -> &mut Slot<V> {
        let slot = slot as usize;
        &mut chunks[slot / CHUNK][slot % CHUNK]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        let hash = Self::hash(&self.hasher, key);
        let slot = self.index.find(hash, |&slot| {
            Self::slot(&self.chunks, slot).0.as_slice() == key
        })?;
        Some(&Self::slot(&self.chunks, *slot).1)
    }

    #[cfg(test)]
    pub(crate) fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let hash = Self::hash(&self.hasher, key);
        let chunks = &mut self.chunks;
        let slot = *self
            .index
            .find(hash, |&slot| Self::slot(chunks, slot).0.as_slice() == key)?;
        Self::slot_mut(chunks, slot)
            .as_mut()
            .map(|(_, value)| value)
    }

    /// Puts `value` under `key`, returning the value it replaces.
    pub(crate) fn insert(&mut self, key: Blob, value: V) -> Option<V> {
        if let Some(old) = self.get_mut(key.as_slice()) {
            return Some(std::mem::replace(old, value));
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.used)
                    .expect("fewer than 2^32 records: memory runs out long before");
                if self.used.is_multiple_of(CHUNK) {
                    self.chunks.push((0..CHUNK).map(|_| None).collect());
                }
                self.used = self.used.saturating_add(1);
                slot
            }
        };
        let hash = Self::hash(&self.hasher, key.as_slice());
        *Self::slot_mut(&mut self.chunks, slot) = Some((key, value));
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.insert_unique(hash, slot, |&slot| {
            Self::hash(hasher, Self::slot(chunks, slot).0.as_slice())
        });
        None
    }

    /// Takes the value under `key` out.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<V> {
        let hash = Self::hash(&self.hasher, key);
        let chunks = &self.chunks;
        let entry = self
            .index
            .find_entry(hash, |&slot| Self::slot(chunks, slot).0.as_slice() == key)
            .ok()?;
        let (slot, _) = entry.remove();
        let (_, value) = Self::slot_mut(&mut self.chunks, slot)
            .take()
            .expect("an indexed slot is filled");
        self.free.push(slot);
        Some(value)
    }

    #[cfg(test)]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter())
            .filter_map(|slot| slot.as_ref().map(|(_, value)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Bump(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct keys, so that inserts, removes and slot reuse meet often.
        let key = 0u16..300;
        prop_oneof![
            (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            key.clone().prop_map(Op::Remove),
            key.prop_map(Op::Bump),
        ]
    }

    // Keys of several lengths, some past the inline size, so both kinds of blob are hashed
    // and compared.
    fn key(k: u16) -> Vec<u8> {
        let mut key = k.to_be_bytes().to_vec();
        key.resize(2 + usize::from(k % 70), 0xAB);
        key
    }

    proptest! {
        #[test]
        fn reads_as_a_hash_map_through_inserts_removes_and_reused_slots(
            ops in proptest::collection::vec(op(), 0..3000),
        ) {
            let mut records = Records::default();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let old = records.insert(Blob::from(key(k)), v);
                        prop_assert_eq!(old, model.insert(key(k), v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(records.remove(&key(k)), model.remove(&key(k)));
                    }
                    Op::Bump(k) => {
                        if let Some(value) = records.get_mut(&key(k)) {
                            *value = value.wrapping_add(1);
                        }
                        if let Some(value) = model.get_mut(&key(k)) {
                            *value = value.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(records.len(), model.len());
            }
            for k in 0..300 {
                prop_assert_eq!(records.get(&key(k)), model.get(&key(k)));
                prop_assert_eq!(records.contains_key(&key(k)), model.contains_key(&key(k)));
            }
            let mut values: Vec<u32> = records.values().copied().collect();
            let mut expected: Vec<u32> = model.values().copied().collect();
            values.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(values, expected);
            // Every slot handed out is either filled or free.
            prop_assert!(records.used - records.free.len() == records.len());
        }
    }

    #[test]
    fn slots_are_reused_and_chunks_are_not_grown_by_churn() {
        let mut records = Records::default();
        for round in 0..10u32 {
            for k in 0..(CHUNK as u16 * 2) {
                records.insert(Blob::from(key(k)), round);
            }
            for k in 0..(CHUNK as u16 * 2) {
                assert_eq!(records.remove(&key(k)), Some(round));
            }
        }
        assert_eq!(records.len(), 0);
        assert_eq!(records.used, CHUNK * 2);
        assert_eq!(records.chunks.len(), 2);
    }
}
