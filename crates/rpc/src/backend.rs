//! What a node provides to the RPC server.

use crate::views::{
    AccountProofView, BlockView, CheckpointView, ErrorView, FiguresView, HistoryView, ReceiptView,
    StatusView,
};
use ledger::MemoryStore;
use std::sync::Arc;
use types::{AccountId, SignedTransaction, TxId};

/// Why a page of account history cannot be given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryError {
    /// The `before` cursor is not one this node gave for the account.
    BadCursor(String),
    /// The node keeps no history, or cannot read it.
    Unavailable(String),
}

/// The answer of a backend call that waits on the node.
pub type Pending<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Why a submitted transaction was not accepted into the mempool.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The transaction fails the ledger's admission checks.
    #[error("{}", .0.message)]
    Rejected(ErrorView),
    /// The mempool is full (in total or for this sender).
    #[error("the node is busy: {0}")]
    Busy(String),
}

/// The node side of the API. Calls must be quick (they read in-memory state) and must not block
/// on consensus.
pub trait Backend: Send + Sync + 'static {
    fn status(&self) -> StatusView;
    /// The latest finalized ledger state (the genesis state before the first block). Every
    /// query reads it.
    fn state(&self) -> Arc<MemoryStore>;
    /// The latest finalized state with its market revision: a number that changes whenever a
    /// block may have changed offers, profiles or reputations. `None` when the backend does not
    /// know; every new state is then treated as a changed market.
    fn market_state(&self) -> (Arc<MemoryStore>, Option<u64>) {
        (self.state(), None)
    }
    fn block(&self, height: u64) -> Option<BlockView>;
    /// The receipt of a transaction of the blocks the node keeps in memory.
    fn receipt(&self, tx: &TxId) -> Option<ReceiptView>;
    /// The receipt of a transaction [`Backend::receipt`] does not know, from what the node keeps
    /// on disk (its account history); `None` when it keeps nothing of it, an error when what it
    /// keeps cannot be read.
    fn stored_receipt(&self, tx: TxId) -> Pending<Result<Option<ReceiptView>, String>> {
        let _ = tx;
        Box::pin(async { Ok(None) })
    }
    /// Checks the transaction as the ledger would admit it now, then queues it for a block.
    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError>;
    /// [`Backend::submit`] for each of `txs`, in order; a node checks their signatures in one
    /// batch, which costs a fraction of checking them one by one.
    fn submit_many(&self, txs: Vec<SignedTransaction>) -> Vec<Result<TxId, SubmitError>> {
        txs.into_iter().map(|tx| self.submit(tx)).collect()
    }
    /// The account's transactions, newest first, at most `limit`; with `before` (a `cursor`
    /// this backend gave), those older than it.
    fn history(
        &self,
        account: AccountId,
        before: Option<String>,
        limit: usize,
    ) -> Pending<Result<Vec<HistoryView>, HistoryError>> {
        let _ = (account, before, limit);
        Box::pin(async {
            Err(HistoryError::Unavailable(
                "this node keeps no account history".to_string(),
            ))
        })
    }
    /// The node's recent figures (block rate, finality, mempool, peers); empty when the node
    /// does not measure itself.
    fn figures(&self) -> FiguresView {
        FiguresView {
            interval_ms: 1_000,
            samples: Vec::new(),
        }
    }
    /// The account's records with proofs at a finalized height, for light verification.
    fn account_proof(&self, account: AccountId) -> Pending<Result<AccountProofView, String>> {
        let _ = account;
        Box::pin(async { Err("this node does not serve state proofs".to_string()) })
    }
    /// The boundary of the node's current epoch, for joining nodes.
    fn checkpoint(&self) -> Pending<Result<CheckpointView, String>> {
        Box::pin(async { Err("this node does not serve checkpoints".to_string()) })
    }
}
