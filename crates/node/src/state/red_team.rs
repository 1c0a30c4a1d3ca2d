//! Adversarial properties of the record layout in the authenticated store: random change sets
//! against [`entries`], random damage against [`restore`], and duplicated entries.

use super::*;
use ledger::testing::Cases;

/// Lengths at and around every boundary of the layout: an empty record, a head's payload (57),
/// a head and one tail (120), and keys longer than a head's payload.
const LENGTHS: &[usize] = &[
    0, 1, 2, 24, 56, 57, 58, 63, 64, 65, 119, 120, 121, 183, 184, 300,
];

/// A key from a small pool (so blocks keep hitting the same records), of a boundary length.
fn key(cases: &mut Cases) -> Vec<u8> {
    let len = cases.pick(LENGTHS);
    let variant = cases.below(3) as u8;
    let mut key = vec![variant; len];
    if let Some(first) = key.first_mut() {
        *first = variant.wrapping_add(len as u8);
    }
    key
}

fn value(cases: &mut Cases) -> Vec<u8> {
    let len = if cases.below(2) == 0 {
        cases.pick(LENGTHS)
    } else {
        cases.below(400) as usize
    };
    // Trailing zeros in values, to look like padding.
    (0..len)
        .map(|i| {
            if i + 3 >= len {
                0
            } else {
                cases.number() as u8
            }
        })
        .collect()
}

/// The store's entries after applying `writes` to `entries`.
fn applied(
    mut entries: BTreeMap<Digest, Chunk>,
    writes: &BTreeMap<Digest, Option<Chunk>>,
) -> BTreeMap<Digest, Chunk> {
    for (key, value) in writes {
        match value {
            Some(value) => entries.insert(*key, *value),
            None => entries.remove(key),
        };
    }
    entries
}

/// Over random sequences of blocks (records created, grown, shrunk, deleted and recreated;
/// each block's changes collapsed per key, as the overlay gives them), the store that
/// `store_writes` builds is always exactly `entries` of the ledger, and reads back as it.
#[test]
fn store_writes_keep_the_store_equal_to_the_ledgers_entries_over_random_blocks() {
    for seed in 0..200u64 {
        let mut cases = Cases(seed);
        let mut ledger = MemoryStore::new();
        let mut store: BTreeMap<Digest, Chunk> = BTreeMap::new();
        for block in 0..25 {
            let mut changes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for _ in 0..cases.below(12) {
                let change = if cases.below(4) == 0 {
                    None
                } else {
                    Some(value(&mut cases))
                };
                changes.insert(key(&mut cases), change);
            }
            let writes = store_writes(&ledger, changes.iter());
            for (key, change) in &changes {
                match change {
                    Some(value) => ledger.put(key, value.clone()),
                    None => ledger.delete(key),
                }
            }
            store = applied(store, &writes);
            let expected: BTreeMap<Digest, Chunk> = entries(&ledger).into_iter().collect();
            assert_eq!(store, expected, "seed {seed}, block {block}");
        }
        assert_eq!(restore(store).unwrap(), ledger, "seed {seed}");
    }
}

/// Damage of any kind to a store's entries (a byte changed anywhere, a chunk removed, a chunk
/// added under a random key, a chunk moved) never panics `restore`, and whatever it accepts is
/// exactly what writing the accepted ledger would store: no two sets of entries read back as
/// the same ledger.
#[test]
fn restore_never_panics_and_accepts_only_what_it_would_write() {
    for seed in 0..400u64 {
        let mut cases = Cases(seed);
        let mut ledger = MemoryStore::new();
        for _ in 0..1 + cases.below(6) {
            ledger.put(&key(&mut cases), value(&mut cases));
        }
        let mut damaged: BTreeMap<Digest, Chunk> = entries(&ledger).into_iter().collect();
        for _ in 0..1 + cases.below(3) {
            let keys: Vec<Digest> = damaged.keys().copied().collect();
            let at = keys[cases.below(keys.len() as u64) as usize];
            match cases.below(5) {
                0 => {
                    let chunk = damaged.get_mut(&at).unwrap();
                    let byte = cases.below(CHUNK_BYTES as u64) as usize;
                    chunk[byte] ^= 1 << cases.below(8);
                }
                1 => {
                    // A head's lengths set to anything.
                    let chunk = damaged.get_mut(&at).unwrap();
                    let byte = 1 + cases.below(6) as usize;
                    chunk[byte] = cases.number() as u8;
                }
                2 if damaged.len() > 1 => {
                    damaged.remove(&at);
                }
                3 => {
                    let mut chunk = [0u8; CHUNK_BYTES];
                    chunk[0] = cases.below(2) as u8;
                    let mut stored_at = [0u8; 32];
                    stored_at[..8].copy_from_slice(&cases.number().to_be_bytes());
                    damaged.insert(Digest(stored_at), chunk);
                }
                _ => {
                    let chunk = damaged.remove(&at).unwrap();
                    let mut stored_at = at.0;
                    stored_at[0] ^= 1;
                    damaged.insert(Digest(stored_at), chunk);
                }
            }
        }
        let input = damaged.clone();
        let read = std::panic::catch_unwind(|| restore(input));
        let read = read.unwrap_or_else(|_| panic!("restore panicked on seed {seed}"));
        if let Ok(read) = read {
            let written: BTreeMap<Digest, Chunk> = entries(&read).into_iter().collect();
            assert_eq!(
                written, damaged,
                "seed {seed}: accepted entries it would not write"
            );
        }
    }
}

/// `restore` takes entries "in any order" from a walk over the store's log; the same head
/// twice (a log walk that keeps two active updates of one key) is refused by name, not
/// counted twice.
#[test]
fn a_head_listed_twice_is_refused_by_name_not_a_panic() {
    let mut ledger = MemoryStore::new();
    ledger.put(b"long", vec![9; 200]);
    let mut twice = entries(&ledger);
    twice.push(twice[0]);
    let read = std::panic::catch_unwind(|| restore(twice));
    assert!(
        read.is_ok(),
        "restore panicked on a head listed twice instead of refusing the store"
    );
    assert!(read.unwrap().is_err(), "a head listed twice was accepted");
}

/// Two different heads for one record (two active updates of one store key) are refused: the
/// store the node wrote never holds both, so neither may silently win.
#[test]
fn two_heads_for_one_record_are_refused() {
    let mut first = MemoryStore::new();
    first.put(b"nonce", vec![1]);
    let mut second = MemoryStore::new();
    second.put(b"nonce", vec![2]);
    let both: Vec<(Digest, Chunk)> = entries(&first)
        .into_iter()
        .chain(entries(&second))
        .collect();
    assert_eq!(both[0].0, both[1].0, "one store key");
    assert!(
        restore(both).is_err(),
        "two values for one record were read back as one of them"
    );
}
