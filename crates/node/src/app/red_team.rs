//! Red-team tests of taking a ledger read back from the store (review of 0cc30b5).

use super::*;
use ledger::Store as _;
use ledger::testing::{GENESIS_TIME_MS, TestChain};

/// `Restoring` promises that a store it cannot use is logged and the node re-executes from
/// genesis. But `App::restored` reads the last-block record with `last_block`, which panics
/// when the record is missing or does not decode, and it does so before the state root is
/// compared with any block: a store whose chunks reassemble into records but that lacks that
/// record (or holds a damaged one) stops the node at startup instead.
#[test]
fn a_restored_ledger_without_a_readable_last_block_is_refused_not_a_panic() {
    let chain = TestChain::new(1, 1_000);
    let app = App::new(chain.store.clone(), GENESIS_TIME_MS, AppConfig::default());
    let mut missing = MemoryStore::new();
    missing.put(b"some record", vec![1, 2, 3]);
    let mut damaged = chain.store.clone();
    damaged.put(&ledger::state::last_block_key(), vec![0xFF]);
    for (what, store) in [("missing", missing), ("damaged", damaged)] {
        let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.restored(Digest([1; 32]), store)
        }));
        assert!(
            taken.is_ok(),
            "App::restored panicked on a ledger whose last-block record is {what}"
        );
    }
}
