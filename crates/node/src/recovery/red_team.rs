//! Reading the ledger back from a store that pruned its log and activity bitmap, as glue's
//! pruning does after finalized blocks.

use super::*;
use commonware_runtime::{Runner as _, Supervisor as _, buffer::paged::CacheRef, deterministic};
use commonware_utils::{NZU16, NZUsize};
use ledger::Store as _;

/// Many rounds of records rewritten (so the inactivity floor climbs past whole log blobs), the
/// store pruned to its sync boundary after every commit: what is read back, before and after
/// reopening, is the last committed state, and the walk started above location 0.
#[test]
fn the_ledger_read_back_from_a_pruned_store_is_the_last_committed_state() {
    deterministic::Runner::default().start(|context| async move {
        let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
        let config = crate::engine::qmdb_config("red-pruned", cache);
        let mut db = Qmdb::init(context.child("qmdb"), config.clone(), None)
            .await
            .unwrap();
        let mut ledger = MemoryStore::new();
        for round in 0u32..40 {
            let mut changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
            for record in 0u32..150 {
                let key = [b"p".as_slice(), &record.to_be_bytes()].concat();
                let value = if (record + round) % 5 == 0 {
                    None
                } else {
                    Some(vec![
                        round as u8;
                        ((record * 29 + round * 13) % 260) as usize
                    ])
                };
                changes.push((key, value));
            }
            let writes = state::store_writes(&ledger, changes.iter().map(|(k, v)| (k, v)));
            for (key, value) in &changes {
                match value {
                    Some(value) => ledger.put(key, value.clone()),
                    None => ledger.delete(key),
                }
            }
            db = commit_writes(db, writes).await.unwrap();
            let boundary = db.sync_boundary();
            db = db.prune(boundary).await.unwrap();
        }
        let start = db.bounds().start.as_u64();
        let pruned_bits = db.bitmap().pruned_bits();
        assert!(
            start > 0 && pruned_bits > 0,
            "the store pruned (log from {start}, bitmap from {pruned_bits})"
        );
        let (read, chunks) = read_ledger(&db).await.unwrap();
        assert_eq!(read, ledger);
        assert_eq!(chunks, state::entries(&ledger).len());

        drop(db);
        let db = Qmdb::init(context.child("reopened"), config, None)
            .await
            .unwrap();
        let (read, _) = read_ledger(&db).await.unwrap();
        assert_eq!(
            read,
            ledger,
            "after reopening (log from {}, bitmap from {})",
            db.bounds().start.as_u64(),
            db.bitmap().pruned_bits()
        );
    });
}
