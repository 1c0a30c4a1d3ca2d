//! Red team (issue 13): a validator may keep its state in memory or on disk
//! (`state_cache_mib`), so any difference in what a read, scan, length or `changed_keys` returns
//! between the two is a consensus split. The store's own property test uses keys of at most
//! three bytes and values of at most 50; these attacks use what a transaction can make the
//! ledger hold instead: long keys (past the 46 bytes a key keeps inline, keys that are prefixes
//! of one another, 0xFF runs), empty values, values at the inline and page boundaries and values
//! far larger than a page of the file, over a node-like line of blocks with forks, settles of
//! the finalized block and detached copies.

use ledger::{MemoryStore, OnDisk, Store, testing::Cases};
use std::collections::BTreeMap;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keys of the lengths around the inline bound (46), index-entry-like keys (42 bytes of one
/// table byte and an account), keys that are prefixes of one another, and 0xFF runs (whose
/// prefix has no successor).
fn key_pool() -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new(), vec![0], vec![0xFF], vec![0xFF; 2]];
    for len in [1usize, 2, 41, 42, 45, 46, 47, 48, 63, 64, 100, 300, 1_000] {
        for first in [0u8, 7, 0xFF] {
            let mut key = vec![first; len];
            if len > 1 {
                key[len - 1] = (len % 251) as u8;
            }
            keys.push(key);
        }
        // A prefix chain: the same bytes, one longer.
        keys.push(vec![0xAB; len]);
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Value lengths at the inline bound (22), a chunk (57, 63, 64), a page of the file (4 KiB) and
/// far past it.
const VALUE_LENGTHS: [usize; 12] = [0, 1, 22, 23, 56, 57, 63, 64, 4_095, 4_096, 4_097, 70_000];

fn value(cases: &mut Cases) -> Vec<u8> {
    let len = cases.pick(&VALUE_LENGTHS);
    let fill = cases.number() as u8;
    (0..len).map(|i| fill.wrapping_add(i as u8)).collect()
}

fn disk(dir: &str, write_batch: usize, cached_values: usize, read_values: usize) -> MemoryStore {
    let config = OnDisk {
        dir: std::env::temp_dir().join(format!("equa-disk-attacks-{}-{dir}", std::process::id())),
        cache_bytes: 64 << 10,
        write_batch,
        cached_values,
        read_values,
    };
    MemoryStore::on_disk(&config).expect("a state file")
}

/// Everything a node or the RPC reads of a state, compared with the model.
fn check(label: &str, store: &MemoryStore, model: &Model, pool: &[Vec<u8>]) {
    for key in pool {
        assert_eq!(
            store.get(key).as_ref(),
            model.get(key),
            "{label}: get {key:?}"
        );
        assert_eq!(
            store.value_len(key),
            model.get(key).map(Vec::len),
            "{label}: value_len"
        );
        assert_eq!(store.contains(key), model.contains_key(key), "{label}");
    }
    let forward: Vec<(Vec<u8>, Vec<u8>)> = store.scan_prefix(&[]).collect();
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(forward, expected, "{label}: scan");
    let backward: Vec<(Vec<u8>, Vec<u8>)> = store.scan_prefix(&[]).rev().collect();
    assert_eq!(
        backward,
        expected.iter().rev().cloned().collect::<Vec<_>>(),
        "{label}: scan back"
    );
    for prefix in [vec![0xAB; 46], vec![0xFF], vec![0u8; 42], vec![7u8; 47]] {
        let under: Vec<(Vec<u8>, Vec<u8>)> = store.scan_prefix(&prefix).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(under, want, "{label}: scan under {prefix:?}");
    }
    assert_eq!(store.len(), model.len(), "{label}: len");
    assert_eq!(store.is_empty(), model.is_empty(), "{label}: is_empty");
}

fn changed(before: &Model, after: &Model) -> Vec<Vec<u8>> {
    let keys: std::collections::BTreeSet<&Vec<u8>> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// One node-like pipeline: each block builds on the tip, a sibling of some blocks is built and
/// abandoned, and the block two below the tip settles (finality), as `App::finalized` does.
/// Returns the digest of every state of the line, to compare across modes.
fn pipeline(label: &str, empty: MemoryStore, seed: u64) -> Vec<types::Digest> {
    let pool = key_pool();
    let mut cases = Cases(seed);
    let mut tip = empty.settled_by_hand();
    let mut model = Model::new();
    // States not yet final: (state, model), oldest first.
    let mut pending: Vec<(MemoryStore, Model)> = Vec::new();
    let mut digests = Vec::new();
    for height in 0..60u32 {
        let mut next = tip.clone();
        let mut next_model = model.clone();
        for _ in 0..cases.below(12) {
            let key = cases.pick(&pool);
            if cases.below(4) == 0 {
                next.delete(&key);
                next_model.remove(&key);
            } else {
                let value = value(&mut cases);
                next.put(&key, value.clone());
                next_model.insert(key, value);
            }
        }
        // A sibling that finality abandons, with writes of its own.
        if cases.below(3) == 0 {
            let mut sibling = tip.clone();
            let key = cases.pick(&pool);
            sibling.put(&key, value(&mut cases));
            sibling.delete(&cases.pick(&pool));
            drop(sibling);
        }
        check(
            &format!("{label} block {height}"),
            &next,
            &next_model,
            &pool,
        );
        assert_eq!(
            next.changed_keys(&tip).collect::<Vec<_>>(),
            changed(&model, &next_model),
            "{label} block {height}: changed_keys"
        );
        // A detached copy reads the same, and changed_keys across bases agrees.
        if height % 17 == 5 {
            let copy = next.detached();
            check(
                &format!("{label} block {height} detached"),
                &copy,
                &next_model,
                &pool,
            );
            assert_eq!(
                copy.changed_keys(&tip).collect::<Vec<_>>(),
                changed(&model, &next_model),
                "{label}: changed_keys across bases"
            );
        }
        digests.push(next.digest());
        pending.push((next.clone(), next_model.clone()));
        if pending.len() > 2 {
            let (finalized, finalized_model) = pending.remove(0);
            assert!(finalized.settle(), "{label}: the finalized line settles");
            check(
                &format!("{label} block {height} settled"),
                &finalized,
                &finalized_model,
                &pool,
            );
        }
        tip = next;
        model = next_model;
    }
    for (state, state_model) in &pending {
        assert!(state.settle());
        check(&format!("{label} end"), state, state_model, &pool);
    }
    tip.wait_for_file();
    check(&format!("{label} after the file"), &tip, &model, &pool);
    digests
}

/// Memory and disk (with the smallest batches, no caches, and with caches) give the same
/// states, reads, scans, lengths and changed keys over long keys and large values.
#[test]
fn memory_and_disk_read_alike_with_long_keys_empty_and_page_sized_values() {
    for seed in 1..=4u64 {
        let memory = pipeline("memory", MemoryStore::new(), seed);
        for (name, store) in [
            ("disk-1-0-0", disk("a", 1, 0, 0)),
            ("disk-3-2-4", disk("b", 3, 2, 4)),
            ("disk-7-1000-1000", disk("c", 7, 1_000, 1_000)),
        ] {
            let on_disk = pipeline(name, store, seed);
            assert_eq!(
                memory, on_disk,
                "{name}: the line's states differ from memory's"
            );
        }
    }
}

/// A key deleted and written again many times across batches, with a value changing between
/// empty and large: the file's delete and insert of one key in different batches, and the
/// count behind `len`, agree with memory's.
#[test]
fn a_key_deleted_and_recreated_across_batches_reads_alike_and_counts_once() {
    for store in [MemoryStore::new(), disk("d", 1, 0, 0), disk("e", 2, 1, 1)] {
        let mut state = store.settled_by_hand();
        let mut model = Model::new();
        let pool = key_pool();
        let key = vec![0xAB; 47];
        for round in 0..40usize {
            let mut next = state.clone();
            match round % 4 {
                0 => {
                    next.put(&key, Vec::new());
                    model.insert(key.clone(), Vec::new());
                }
                1 => {
                    next.delete(&key);
                    model.remove(&key);
                }
                2 => {
                    next.put(&key, vec![9; 70_000]);
                    model.insert(key.clone(), vec![9; 70_000]);
                }
                _ => {
                    // Deleting an absent key, and deleting then writing in one block.
                    next.delete(&[0xFF, 0xFF, 0xFF]);
                    next.delete(&key);
                    next.put(&key, vec![round as u8]);
                    model.insert(key.clone(), vec![round as u8]);
                }
            }
            assert!(next.settle());
            drop(state);
            state = next;
            check(&format!("round {round}"), &state, &model, &pool);
        }
        state.wait_for_file();
        check("after the file", &state, &model, &pool);
    }
}
