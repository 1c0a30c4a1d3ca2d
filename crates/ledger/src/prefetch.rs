//! Running the synchronous ledger over a store whose reads are asynchronous (the node's
//! authenticated store), by optimistic execution.
//!
//! The ledger reads keys that depend on state (an arbitrator list, then each arbitrator), so a
//! block's read set cannot be known before running it. Instead the block runs over the values
//! fetched so far; a read of a key not yet fetched is recorded and answered as absent. If any
//! such read happened, the result is thrown away, the caller fetches the recorded keys, and the
//! block runs again. When a run completes without a miss, every value it read was real, so its
//! receipts and writes are exactly those of a run over the full state. The number of runs is the
//! depth of the block's chain of dependent reads (a few), not its number of transactions;
//! [`access_hint`] lets the first fetch cover the reads every transaction makes.

use crate::{
    BlockContext, BlockError, Receipt, apply_block_checked, state,
    store::{Overlay, Store},
};
use std::{
    cell::RefCell,
    collections::{BTreeSet, HashMap},
};
use types::{AssetId, Call, SignedTransaction, bank::BankCall};

/// Values fetched from the underlying store; `None` records that a key is absent.
pub type Fetched = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// A read-only view of fetched values that records reads of keys it does not have.
struct Partial<'a> {
    fetched: &'a Fetched,
    missing: RefCell<BTreeSet<Vec<u8>>>,
}

impl Store for Partial<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.fetched.get(key) {
            Some(value) => value.clone(),
            None => {
                self.missing.borrow_mut().insert(key.to_vec());
                None
            }
        }
    }

    fn put(&mut self, _: &[u8], _: Vec<u8>) {
        unreachable!("writes go to the overlay above the partial view");
    }

    fn delete(&mut self, _: &[u8]) {
        unreachable!("writes go to the overlay above the partial view");
    }
}

/// The outcome of one optimistic run.
#[derive(Debug)]
pub enum Attempt {
    /// Every read was of a fetched value: these are the block's receipts and its writes, in key
    /// order (`None` deletes).
    Complete {
        receipts: Vec<Receipt>,
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    },
    /// The run read keys that were not fetched; fetch them and run again.
    Missing(Vec<Vec<u8>>),
    /// The block cannot be applied at all.
    Invalid(BlockError),
}

/// Runs a block once over `fetched`. See the module documentation.
pub fn attempt(
    fetched: &Fetched,
    context: &BlockContext,
    txs: &[SignedTransaction],
    signatures_valid: &[bool],
) -> Attempt {
    let mut partial = Partial {
        fetched,
        missing: RefCell::new(BTreeSet::new()),
    };
    // A run over partial state may meet a combination no complete state can hold (a trade
    // naming an arbitrator whose record was not fetched yet) and trip one of the ledger's
    // invariant checks. Such a run is discarded like any run with a miss; a panic in a run
    // without misses is a real bug and propagates.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut overlay = Overlay::new(&mut partial);
        let result = apply_block_checked(&mut overlay, context, txs, signatures_valid);
        (result, overlay.into_writes())
    }));
    let missing = std::mem::take(&mut *partial.missing.borrow_mut());
    if !missing.is_empty() {
        return Attempt::Missing(missing.into_iter().collect());
    }
    match run {
        Ok((Ok(receipts), writes)) => Attempt::Complete { receipts, writes },
        Ok((Err(error), _)) => Attempt::Invalid(error),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Keys that applying `txs` will certainly read: the chain's records, the proposer's balance,
/// each signer's nonce and fee balance, and a transfer's balances. Fetching them first saves most
/// re-runs.
pub fn access_hint(context: &BlockContext, txs: &[SignedTransaction]) -> Vec<Vec<u8>> {
    let mut keys: BTreeSet<Vec<u8>> = state::chain_keys().into_iter().collect();
    keys.insert(state::balance_key(&context.proposer, AssetId::NATIVE));
    for tx in txs {
        let body = tx.tx();
        keys.insert(state::nonce_key(&body.signer));
        keys.insert(state::balance_key(&body.signer, AssetId::NATIVE));
        if let Call::Bank(BankCall::Transfer(transfer)) = &body.call {
            keys.insert(state::balance_key(&body.signer, transfer.asset));
            keys.insert(state::balance_key(&transfer.to, transfer.asset));
            keys.insert(state::asset_key(transfer.asset));
        }
    }
    keys.into_iter().collect()
}

/// The most runs a block may need. The ledger's deepest chain of dependent reads is a handful of
/// steps; needing more means a bug in the ledger, not a bad block.
pub const MAX_ATTEMPTS: usize = 32;
