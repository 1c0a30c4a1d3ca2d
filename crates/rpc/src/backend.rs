//! What a node provides to the RPC server.

use crate::views::{BlockView, ErrorView, ReceiptView, StatusView};
use ledger::MemoryStore;
use std::sync::Arc;
use types::{SignedTransaction, TxId};

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
    fn block(&self, height: u64) -> Option<BlockView>;
    fn receipt(&self, tx: &TxId) -> Option<ReceiptView>;
    /// Checks the transaction as the ledger would admit it now, then queues it for a block.
    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError>;
}
