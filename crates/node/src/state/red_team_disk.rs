//! Red team (issue 13): the record layout, the restore and block execution with the ledger's
//! base on disk (`state_cache_mib`) against the same in memory. A validator may run either
//! way, so any difference in a block's store writes, its receipts or a state read back is a
//! consensus split; and with the base on disk, memory must stay bounded by configuration.

use super::*;
use ledger::{OnDisk, testing::account};
use types::{AssetId, Call, bank::BankCall, bank::Transfer};

fn on_disk(name: &str, write_batch: usize) -> MemoryStore {
    MemoryStore::on_disk(&OnDisk {
        dir: std::env::temp_dir().join(format!(
            "equa-state-red-team-disk-{}-{name}",
            std::process::id()
        )),
        cache_bytes: 256 << 10,
        write_batch,
        cached_values: 16,
        read_values: 16,
    })
    .expect("a state file")
}

/// `store`'s contents on a new base: `empty`, settled by hand as the node's states are.
fn copied_into(store: &MemoryStore, mut empty: MemoryStore) -> MemoryStore {
    for (key, value) in store.scan_prefix(&[]) {
        empty.put(&key, value);
    }
    empty.settled_by_hand()
}

/// Record lengths at every boundary of the layout, with keys and values the ledger can hold:
/// empty values (the per-account index entries), a head filled exactly (57 bytes of key and
/// value), a head and tails filled exactly (57 + 63 k), one byte over, and large values.
fn boundary_records() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut records = Vec::new();
    for (n, total) in [0usize, 1, 42, 56, 57, 58, 120, 121, 183, 184, 57 + 63 * 100]
        .into_iter()
        .enumerate()
    {
        for key_len in [0usize, 1, 42, 57] {
            if key_len > total {
                continue;
            }
            let mut key = vec![n as u8; key_len];
            if let Some(last) = key.last_mut() {
                *last = 0xF0 | key_len as u8;
            }
            // Values ending in zeros look like the padding after a record's end.
            let mut value = vec![0xA5; total - key_len];
            if let Some(last) = value.last_mut() {
                *last = 0;
            }
            records.push((key, value));
        }
    }
    // A key longer than a head's payload, with an empty value, and a value far larger than a
    // page of the state's file.
    records.push((vec![0xEE; 300], Vec::new()));
    records.push((b"large".to_vec(), vec![0x5A; 200_000]));
    records.sort();
    records.dedup_by(|a, b| a.0 == b.0);
    records
}

/// A state read back on disk equals one read back in memory: the same records, length and
/// digest, across a settle in the middle of the restore (more one-chunk records than a
/// restore part) and records at every chunk boundary.
#[test]
fn a_state_restored_on_disk_reads_as_the_one_restored_in_memory() {
    let mut ledger = MemoryStore::new();
    for (key, value) in boundary_records() {
        ledger.put(&key, value);
    }
    // More one-chunk records than a restore part, so the restore settles part way.
    for i in 0..(RESTORE_PART as u64 + 10) {
        ledger.put(&[b"n".as_slice(), &i.to_be_bytes()].concat(), vec![1]);
    }
    let entries = entries(&ledger);
    let mut in_memory = Restorer::new(MemoryStore::new());
    let mut disk = Restorer::new(on_disk("restore", 1_000));
    // The order the store's log gives: any; here reversed for one and as is for the other.
    for (key, chunk) in entries.iter().rev() {
        in_memory.add(*key, *chunk).unwrap();
    }
    for (key, chunk) in &entries {
        disk.add(*key, *chunk).unwrap();
    }
    let in_memory = in_memory.finish().unwrap().settled_by_hand();
    let disk = disk.finish().unwrap().settled_by_hand();
    assert_eq!(in_memory.len(), ledger.len());
    assert_eq!(disk.len(), ledger.len(), "the length read on disk");
    assert_eq!(disk.digest(), ledger.digest());
    assert_eq!(in_memory.digest(), ledger.digest());
    for (key, value) in boundary_records() {
        assert_eq!(disk.get(&key), Some(value.clone()));
        assert_eq!(disk.value_len(&key), Some(value.len()));
    }
}

/// With its base on disk, a node reads its ledger back at every start and after a state sync
/// through a [`Restorer`]. Memory must stay bounded by configuration, not by the state: a
/// restore may hold back the chunks of the records it is assembling, but not every chunk of
/// every record longer than one chunk until the end. Any account can make such records
/// (offers, trades, chat messages, loans) for their fees, so a restore holding them all makes
/// a large state unable to restart within its memory.
///
/// Entries are given each record's chunks one after another, and then as a walk of the
/// store's log gives them: in batches of 1,000 records, each batch's chunks in the order of
/// their store keys (a batch is written sorted by key). The restore may hold at most a few
/// thousand chunks at a time.
#[test]
fn a_restore_on_disk_holds_a_bounded_number_of_chunks_whatever_the_number_of_records() {
    const RECORDS: u32 = 20_000;
    const BATCH: u32 = 1_000;
    const BOUND: usize = 4_096;
    // A chat message's size: three chunks.
    let chunks = |record: u32| {
        record_chunks(
            &[b"m".as_slice(), &record.to_be_bytes()].concat(),
            &[7; 150],
        )
    };
    for by_batch in [false, true] {
        let mut restorer = Restorer::new(on_disk("bounded-restore", 1_000));
        let mut most = 0usize;
        for first in (0..RECORDS).step_by(BATCH as usize) {
            let mut batch: Vec<(Digest, Chunk)> = (first..first + BATCH).flat_map(chunks).collect();
            if by_batch {
                batch.sort_by_key(|(stored_at, _)| *stored_at);
            }
            for (stored_at, chunk) in batch {
                restorer.add(stored_at, chunk).unwrap();
                most = most.max(restorer.held_chunks());
            }
        }
        let restored = restorer.finish().unwrap();
        assert_eq!(restored.len(), RECORDS as usize);
        assert!(
            most <= BOUND,
            "the restore held {most} chunks at once for {RECORDS} records of three chunks (bound \
             {BOUND}, by batch: {by_batch}): its memory grows with the number of multi-chunk \
             records in the state"
        );
    }
}

/// The same blocks executed on a state on disk and on one in memory give the same receipts
/// and the same authenticated-store writes, block after block, as finality settles each.
/// The blocks create records (new accounts' balances and nonces), change them and move them
/// to the file in the smallest batches.
#[test]
fn blocks_executed_on_disk_and_in_memory_write_the_same_store() {
    let chain = ledger::testing::TestChain::new(8, 1_000_000_000);
    let mut memory = Arc::new(copied_into(&chain.store, MemoryStore::new()));
    let mut disk = Arc::new(copied_into(&chain.store, on_disk("execute", 1)));
    let mut context = chain.next_context();
    // Nonces per signer, since the chain itself is not advanced.
    let mut nonces = [0u64; 8];
    let mut finalizing: Vec<(Arc<MemoryStore>, Arc<MemoryStore>)> = Vec::new();
    for height in 1..=40u64 {
        context.height = height;
        context.timestamp_ms += 1_000;
        let mut txs = Vec::new();
        for signer in 0..8u64 {
            if (signer + height) % 3 == 0 {
                continue;
            }
            let to = account(100 + (signer * 31 + height) % 50);
            let amount = u128::from(height * 7 + signer);
            txs.push(chain.tx_with(
                signer,
                nonces[signer as usize],
                Call::Bank(BankCall::Transfer(Transfer {
                    to,
                    asset: AssetId::NATIVE,
                    amount,
                })),
            ));
            nonces[signer as usize] += 1;
        }
        let known = vec![false; txs.len()];
        let on_memory = execute(&memory, &context, &txs, &known).unwrap();
        let on_disk = execute(&disk, &context, &txs, &known).unwrap();
        assert_eq!(
            on_memory.executed.receipts, on_disk.executed.receipts,
            "height {height}: receipts"
        );
        assert_eq!(on_memory.writes, on_disk.writes, "height {height}: writes");
        assert_eq!(
            on_memory.executed.store.digest(),
            on_disk.executed.store.digest()
        );
        memory = on_memory.executed.store;
        disk = on_disk.executed.store;
        finalizing.push((memory.clone(), disk.clone()));
        if finalizing.len() > 2 {
            let (memory_final, disk_final) = finalizing.remove(0);
            assert!(memory_final.settle());
            assert!(disk_final.settle());
            assert_eq!(memory_final.len(), disk_final.len(), "height {height}: len");
        }
    }
    disk.wait_for_file();
    assert_eq!(
        entries(&memory),
        entries(&disk),
        "the entries the two would read back"
    );
}

/// The layout has no ambiguity at its bounds: the largest key and value lengths a head can
/// record count their chunks without overflow, the longest key round-trips, and no two
/// records of different lengths share a chunk count boundary wrongly.
#[test]
fn the_layout_at_its_bounds_counts_and_round_trips() {
    // The largest lengths a head records.
    let most = chunk_count(usize::from(u16::MAX), u32::MAX as usize);
    let bytes = usize::from(u16::MAX) + u32::MAX as usize;
    assert_eq!(
        most as usize,
        1 + (bytes - (CHUNK_BYTES - HEAD_BYTES)).div_ceil(CHUNK_BYTES - TAIL_BYTES)
    );
    // The longest key, with an empty value and with one byte.
    let key = vec![0x3C; usize::from(u16::MAX)];
    let mut ledger = MemoryStore::new();
    ledger.put(&key, Vec::new());
    ledger.put(&key[..usize::from(u16::MAX) - 1], vec![0]);
    assert_eq!(restore(entries(&ledger)).unwrap(), ledger);
    // Exactly full chunks need no extra tail; one byte more needs one.
    for full in [57usize, 120, 183] {
        assert_eq!(
            chunk_count(full, 0) + 1,
            chunk_count(full + 1, 0),
            "{full} bytes"
        );
        assert_eq!(chunk_count(0, full), chunk_count(full, 0));
    }
}
