//! What goes into a block: the source of a proposal's transactions, the proposer's rule that
//! leaves out what the ledger would refuse without a fee, and why a validator refuses a block.
//!
//! A transaction the ledger refuses (`Outcome::Rejected`) changes nothing and pays nothing, so a
//! block that carries one gives its space away. The proposer executes its candidates on the
//! parent state (the same `state::execute` validators run) and leaves those out; validators
//! refuse a candidate block that still carries one.

use crate::state::{self, Execution};
use ledger::{BlockContext, BlockError, MemoryStore, Outcome, Receipt, TxError};
use std::{future::Future, pin::Pin, sync::Arc};
use types::{SignedTransaction, TxId};

/// Resolves when a transaction reaches a [`TransactionSource`] (see
/// [`TransactionSource::arrival`]).
pub type Arrival = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Supplies the transactions of the blocks this node proposes (a mempool, or a generator in
/// simulations). It sees the parent's ledger state, so it can pick transactions with the right
/// nonces; the ledger still checks every one of them.
pub trait TransactionSource: Send + Sync + std::fmt::Debug + 'static {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction>;

    /// Called after each finalized block with the resulting ledger state, so a pool can evict
    /// what was included or expired.
    fn finalized(&self, _state: &Arc<MemoryStore>, _height: u64) {}

    /// For each of `txs`, whether this source already verified exactly that signed transaction
    /// (same body, same signature), so that executing a block need not verify it again. `false`
    /// means "not known", never "invalid".
    fn signatures_known_valid(&self, txs: &[SignedTransaction]) -> Vec<bool> {
        vec![false; txs.len()]
    }

    /// Called with the transactions the ledger refused without a fee when this node executed
    /// a proposal built from them, so that a pool stops offering them.
    fn refused(&self, _txs: &[SignedTransaction]) {}

    /// Whether this source holds a transaction for the block after `parent_txs`' block: one
    /// that block does not carry, next in its sender's nonces. A leader whose source has none
    /// proposes only once its idle interval has passed (see `engine`), so an idle chain makes
    /// few empty blocks. The answer only paces proposals; what a block carries is still
    /// [`Self::select`]'s. A source that cannot tell says yes (the default): its leader never
    /// waits.
    fn has_pending(&self, _parent_height: u64, _parent_txs: &[SignedTransaction]) -> bool {
        true
    }

    /// Resolves once a transaction reaches this source after the call, so that a leader waiting
    /// for its idle interval proposes at once. Ask before [`Self::has_pending`], so that nothing
    /// arriving in between is missed. The default never resolves.
    fn arrival(&self) -> Arrival {
        Box::pin(futures::future::pending())
    }
}

/// Executes `txs`, offered by `source` for the block of `context`, on `parent`, leaving out
/// every transaction the ledger refuses without a fee (`Outcome::Rejected`): such a transaction
/// would take block space without paying for it, and validators refuse a block that carries
/// one. `source` is told which it offered in vain. Returns the transactions kept, in order, and
/// their execution.
///
/// A refused transaction changes nothing, so leaving it out changes no other receipt; the kept
/// ones are executed again all the same, so that the proposal is exactly what validators will
/// compute. Each pass removes at least one transaction, so this ends.
pub fn execute_proposal(
    parent: &MemoryStore,
    context: &BlockContext,
    mut txs: Vec<SignedTransaction>,
    source: &dyn TransactionSource,
) -> Result<(Vec<SignedTransaction>, Execution), BlockError> {
    let mut known_valid = source.signatures_known_valid(&txs);
    // One flag per transaction; a source that answers otherwise gets its signatures checked.
    if known_valid.len() != txs.len() {
        known_valid = vec![false; txs.len()];
    }
    loop {
        let execution = state::execute(parent, context, &txs, &known_valid)?;
        let receipts = &execution.executed.receipts;
        if !receipts.iter().any(is_refused) {
            return Ok((txs, execution));
        }
        let (kept, refused): (Vec<_>, Vec<_>) = txs
            .into_iter()
            .zip(receipts)
            .partition(|(_, receipt)| !is_refused(receipt));
        for (tx, receipt) in &refused {
            tracing::debug!(tx = %tx.id(), outcome = ?receipt.outcome, "left out of the proposal");
        }
        source.refused(&refused.into_iter().map(|(tx, _)| tx).collect::<Vec<_>>());
        txs = kept.into_iter().map(|(tx, _)| tx).collect();
        // A transaction the ledger did not refuse had a valid signature.
        known_valid = vec![true; txs.len()];
    }
}

pub(crate) fn is_refused(receipt: &Receipt) -> bool {
    matches!(receipt.outcome, Outcome::Rejected(_))
}

/// Why a validator does not vote for a block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    #[error("invalid header: {0}")]
    Header(String),
    #[error("the ledger refuses the block: {0}")]
    Ledger(#[from] BlockError),
    /// An honest proposer leaves out what the ledger refuses (see [`execute_proposal`]), so a
    /// block carrying it gives block space away for nothing.
    #[error("transaction {index} ({tx_id}) is refused by the ledger without a fee: {error}")]
    RefusedTransaction {
        index: usize,
        tx_id: TxId,
        error: TxError,
    },
}

/// A source that never offers transactions: blocks stay empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTransactions;

impl TransactionSource for NoTransactions {
    fn select(&self, _: &MemoryStore, _: &BlockContext, _: usize) -> Vec<SignedTransaction> {
        Vec::new()
    }

    fn has_pending(&self, _: u64, _: &[SignedTransaction]) -> bool {
        false
    }
}

/// The transaction source handed to the glue actor; cheap to clone.
pub type Provider = Arc<dyn TransactionSource>;
