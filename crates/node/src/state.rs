//! The ledger's working state per block, and how it maps onto the authenticated store.
//!
//! The ledger is synchronous and reads keys that depend on state, so each executed block keeps
//! its whole resulting ledger state in memory ([`Executed`]). The authenticated store (QMDB,
//! fixed-size values) holds one entry per ledger record: the key is a hash of the ledger key and
//! the value a hash of the key and its value. Its root therefore commits to the entire ledger
//! state, with fixed-size values that glue's state sync can serve.

use ledger::{
    BlockContext, BlockError, MemoryStore, Overlay, Receipt, apply_block_checked, verify_signatures,
};
use std::{collections::BTreeMap, sync::Arc};
use types::{Digest, SignedTransaction};

const STATE_KEY_NAMESPACE: &[u8] = b"EQUA_STATE_KEY_V1";
const STATE_VALUE_NAMESPACE: &[u8] = b"EQUA_STATE_VALUE_V1";
const RANDOMNESS_NAMESPACE: &[u8] = b"EQUA_BLOCK_RANDOMNESS_V1";

/// The authenticated-store key of the ledger record under `key`.
pub fn state_key(key: &[u8]) -> Digest {
    types::hash(STATE_KEY_NAMESPACE, &[key])
}

/// The authenticated-store value of the ledger record `key = value`. The key is hashed in, so a
/// value can never be moved to another key unnoticed.
pub fn state_value(key: &[u8], value: &[u8]) -> Digest {
    types::hash(
        STATE_VALUE_NAMESPACE,
        &[&(key.len() as u64).to_be_bytes(), key, value],
    )
}

/// The ledger's randomness for the block at `height` on `parent`: a hash of both.
///
/// Every validator computes the same bytes with no extra round of communication. The bytes are
/// not secret: the proposer knows them before proposing, and can choose its block's contents
/// accordingly but cannot change the bytes themselves. Ledger rules must not rely on them for
/// anything worth more than a proposer's chance to grind over transaction selection.
pub fn block_randomness(parent: &Digest, height: u64) -> [u8; 32] {
    types::hash(
        RANDOMNESS_NAMESPACE,
        &[parent.as_ref(), &height.to_be_bytes()],
    )
    .0
}

/// The ledger state after a block, and the block's receipts.
#[derive(Debug)]
pub struct Executed {
    pub height: u64,
    pub timestamp_ms: u64,
    pub store: Arc<MemoryStore>,
    pub receipts: Vec<Receipt>,
}

/// The result of executing a block on its parent's state.
#[derive(Debug)]
pub struct Execution {
    pub executed: Executed,
    /// The authenticated-store writes in key order (`None` deletes).
    pub writes: BTreeMap<Digest, Option<Digest>>,
}

/// Executes `txs` on `parent` (the state after block `context.height - 1`). Signatures are
/// verified (in one batch) except those `known_valid` marks as already verified by this node.
///
/// When the parent is genesis, the authenticated store is still empty (the genesis block commits
/// to the empty store), so the first block also writes every genesis record.
pub fn execute(
    parent: &MemoryStore,
    context: &BlockContext,
    txs: &[SignedTransaction],
    known_valid: &[bool],
) -> Result<Execution, BlockError> {
    assert_eq!(txs.len(), known_valid.len(), "one flag per transaction");
    let unknown: Vec<SignedTransaction> = txs
        .iter()
        .zip(known_valid)
        .filter(|(_, known)| !**known)
        .map(|(tx, _)| tx.clone())
        .collect();
    let mut checked = verify_signatures(&unknown).into_iter();
    let signatures_valid: Vec<bool> = known_valid
        .iter()
        .map(|known| *known || checked.next().expect("one result per unknown signature"))
        .collect();
    let mut next = parent.clone();
    let mut overlay = Overlay::new(&mut next);
    let receipts = apply_block_checked(&mut overlay, context, txs, &signatures_valid)?;
    let mut changes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    if context.height == 1 {
        for (key, value) in parent.scan_prefix(&[]) {
            changes.insert(key.to_vec(), Some(value.to_vec()));
        }
    }
    for (key, value) in overlay.writes() {
        changes.insert(key.clone(), value.clone());
    }
    overlay.commit();
    let writes = changes
        .iter()
        .map(|(key, value)| {
            (
                state_key(key),
                value.as_ref().map(|value| state_value(key, value)),
            )
        })
        .collect();
    Ok(Execution {
        executed: Executed {
            height: context.height,
            timestamp_ms: context.timestamp_ms,
            store: Arc::new(next),
            receipts,
        },
        writes,
    })
}

/// Re-executes a block for its state alone, as when rebuilding the in-memory state of an
/// ancestor. The block was already accepted, so an error here means this node's state diverged.
pub fn replay(parent: &MemoryStore, context: &BlockContext, txs: &[SignedTransaction]) -> Executed {
    execute(parent, context, txs, &vec![false; txs.len()])
        .unwrap_or_else(|e| panic!("an accepted block failed to replay: {e}"))
        .executed
}

/// What `store` holds, as authenticated-store entries: for tests that compare the in-memory state
/// with the authenticated store.
pub fn entries(store: &MemoryStore) -> Vec<(Digest, Digest)> {
    store
        .scan_prefix(&[])
        .map(|(key, value)| (state_key(key), state_value(key, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::{TestChain, account};
    use types::{AssetId, Call, bank::BankCall, bank::Transfer};

    #[test]
    fn first_block_writes_genesis_and_later_blocks_write_changes_only() {
        let chain = TestChain::new(3, 1_000_000_000);
        let tx = chain.tx(
            0,
            Call::Bank(BankCall::Transfer(Transfer {
                to: account(1),
                asset: AssetId::NATIVE,
                amount: 5,
            })),
        );
        let context = chain.next_context();
        let first = execute(&chain.store, &context, std::slice::from_ref(&tx), &[false]).unwrap();
        assert!(first.executed.receipts[0].is_success());
        assert!(first.writes.len() >= chain.store.len());
        // Every record of the new state is in the writes, with its hashed value.
        for (key, value) in entries(&first.executed.store) {
            assert_eq!(first.writes.get(&key), Some(&Some(value)));
        }

        let mut second_context = context.clone();
        second_context.height = 2;
        second_context.timestamp_ms += 1;
        let second = execute(&first.executed.store, &second_context, &[], &[]).unwrap();
        // An empty block only records itself as the last block.
        assert_eq!(second.writes.len(), 1);
    }

    #[test]
    fn same_inputs_give_same_writes_and_randomness_depends_on_parent_and_height() {
        let chain = TestChain::new(2, 1_000);
        let context = chain.next_context();
        let one = execute(&chain.store, &context, &[], &[]).unwrap();
        let two = execute(&chain.store, &context, &[], &[]).unwrap();
        assert_eq!(one.writes, two.writes);
        let parent = Digest([1; 32]);
        assert_ne!(block_randomness(&parent, 1), block_randomness(&parent, 2));
        assert_ne!(
            block_randomness(&parent, 1),
            block_randomness(&Digest([2; 32]), 1)
        );
    }

    #[test]
    fn a_block_at_the_wrong_height_is_refused() {
        let chain = TestChain::new(1, 1_000);
        let mut context = chain.next_context();
        context.height = 5;
        assert!(matches!(
            execute(&chain.store, &context, &[], &[]),
            Err(BlockError::HeightNotNext { .. })
        ));
    }
}
