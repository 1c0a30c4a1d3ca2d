//! The node's side of the JSON-RPC API: answers from the finalized ledger state and the recent
//! finalized blocks, and submissions into the mempool.

use crate::{
    AppHandle,
    mempool::{Mempool, MempoolError},
    metrics::{NodeMetrics, Source},
    recovery::SyncPhase,
    relay::Relay,
};
use ledger::{MemoryStore, state};
use rpc::{
    Backend, SubmitError,
    views::{BlockView, ErrorView, ReceiptView, StatusView, tx_id_hex},
};
use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicU64, Ordering},
};
use types::{AccountId, SignedTransaction, TxId};

/// Serves RPC queries for one running node.
#[derive(Clone, Debug)]
pub struct NodeBackend {
    app: AppHandle,
    mempool: Mempool,
    genesis: Arc<MemoryStore>,
    genesis_time_ms: u64,
    role: &'static str,
    peers: u32,
    relay: Option<Relay>,
    /// The highest finalized height the node knows of, executed or not.
    network_tip: Option<Arc<AtomicU64>>,
    /// Set once the node's store is open.
    proofs: Option<Arc<OnceLock<crate::proof::ProofSource>>>,
    /// Counts submissions and serves the node's recent figures.
    metrics: Option<NodeMetrics>,
    /// The node's on-disk account history.
    history: Option<crate::history::SharedHistory>,
    /// Where the node's state sync stands, if it runs one.
    sync_progress: Option<Arc<crate::recovery::SyncProgress>>,
}

impl NodeBackend {
    pub fn new(
        app: AppHandle,
        mempool: Mempool,
        genesis: Arc<MemoryStore>,
        genesis_time_ms: u64,
        role: &'static str,
        peers: u32,
    ) -> Self {
        Self {
            app,
            mempool,
            genesis,
            genesis_time_ms,
            role,
            peers,
            relay: None,
            network_tip: None,
            proofs: None,
            metrics: None,
            history: None,
            sync_progress: None,
        }
    }

    /// Reports the phase of the node's state sync from `progress`.
    pub fn with_sync_progress(mut self, progress: Arc<crate::recovery::SyncProgress>) -> Self {
        self.sync_progress = Some(progress);
        self
    }

    /// Answers `equa_listHistory`, and `equa_getReceipt` for the blocks no longer in memory,
    /// from `history`.
    pub fn with_history(mut self, history: crate::history::SharedHistory) -> Self {
        self.history = Some(history);
        self
    }

    /// Counts submissions in `metrics`, and answers figures and connected peers from it.
    pub fn with_metrics(mut self, metrics: NodeMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Serves state proofs from `source` once it is set.
    pub fn with_proofs(mut self, source: Arc<OnceLock<crate::proof::ProofSource>>) -> Self {
        self.proofs = Some(source);
        self
    }

    /// Reports sync progress against `tip`, the highest finalized height known from the network.
    pub fn with_network_tip(mut self, tip: Arc<AtomicU64>) -> Self {
        self.network_tip = Some(tip);
        self
    }

    /// Passes every admitted submission on to the peers.
    pub fn with_relay(mut self, relay: Relay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Offers `tx`, whose signature was checked (`signature_valid`), to the pool, and relays it
    /// to the peers when the pool takes it.
    fn admit(&self, tx: SignedTransaction, signature_valid: bool) -> Result<TxId, SubmitError> {
        let relayed = self.relay.as_ref().map(|_| tx.clone());
        let id = tx.id();
        let admitted = self.mempool.submit_checked(tx, signature_valid);
        match &admitted {
            Ok(_) => tracing::debug!(tx = %rpc::views::tx_id_hex(&id), "admitted from a client"),
            Err(error) => {
                tracing::debug!(tx = %rpc::views::tx_id_hex(&id), %error, "refused from a client")
            }
        }
        if let Some(metrics) = &self.metrics {
            let reason = admitted.as_ref().err().map(rpc::views::error_code);
            metrics.offered(Source::Rpc, reason.as_deref().map_or(Ok(()), Err));
        }
        if let (Ok(_), Some(relay), Some(tx)) = (&admitted, &self.relay, relayed) {
            relay.forward(tx);
        }
        admitted.map_err(|error| match error {
            MempoolError::Rejected(rejection) => {
                SubmitError::Rejected(ErrorView::rejected(&*self.state(), &rejection))
            }
            MempoolError::SenderFull { .. } | MempoolError::Full { .. } => {
                SubmitError::Busy(error.to_string())
            }
            MempoolError::PendingFeesNotAffordable {
                count,
                pending_fees,
                fee,
                balance,
            } => {
                let store = self.state();
                let eqa = |minor| rpc::words::asset_amount(&*store, types::AssetId::NATIVE, minor);
                SubmitError::Rejected(ErrorView {
                    code: rpc::views::error_code(&error),
                    message: format!(
                        "the signer's {count} pending transactions offer {} in fees; with this \
                         one's {} that is more than the signer holds ({})",
                        eqa(pending_fees),
                        eqa(fee),
                        eqa(balance)
                    ),
                })
            }
            other => SubmitError::Rejected(ErrorView {
                code: rpc::views::error_code(&other),
                message: other.to_string(),
            }),
        })
    }
}

fn hex(digest: &types::Digest) -> String {
    format!("0x{}", ::hex::encode(digest.0))
}

impl Backend for NodeBackend {
    fn status(&self) -> StatusView {
        let store = self.state();
        let finalized = self.app.finalized();
        let height = finalized.as_ref().map_or(0, |f| f.height);
        let target_height = self
            .network_tip
            .as_ref()
            .map_or(height, |tip| tip.load(Ordering::Relaxed).max(height));
        let phase = self
            .sync_progress
            .as_ref()
            .map_or(SyncPhase::Following, |progress| progress.phase());
        let (phase_name, sync) = match phase {
            SyncPhase::FindingFloor => ("finding a floor", None),
            SyncPhase::SyncingRecords => {
                let (fetched, target) = self
                    .sync_progress
                    .as_ref()
                    .map_or((0, 0), |progress| progress.operations());
                (
                    "syncing records",
                    Some(rpc::views::StateSyncView {
                        operations_fetched: fetched,
                        operations_target: target,
                    }),
                )
            }
            // A block or two behind is the ordinary lag of a node following the chain.
            SyncPhase::Following if target_height > height.saturating_add(2) => {
                ("catching up blocks", None)
            }
            SyncPhase::Following => ("following", None),
        };
        StatusView {
            chain_id: state::chain_id(&*store).to_string(),
            role: self.role.to_string(),
            height,
            timestamp_ms: finalized
                .as_ref()
                .map_or(self.genesis_time_ms, |f| f.timestamp_ms),
            state_root: finalized
                .as_ref()
                .map_or_else(String::new, |f| hex(&f.state_root)),
            target_height,
            peers: self
                .metrics
                .as_ref()
                .and_then(|metrics| metrics.latest().map(|sample| sample.peers))
                .unwrap_or(self.peers),
            mempool_size: self.mempool.len() as u64,
            phase: phase_name.to_string(),
            sync,
        }
    }

    fn state(&self) -> Arc<MemoryStore> {
        self.app
            .committed_state()
            .map_or_else(|| self.genesis.clone(), |(_, store)| store)
    }

    fn figures(&self) -> rpc::views::FiguresView {
        match &self.metrics {
            Some(metrics) => metrics.figures(),
            None => rpc::views::FiguresView {
                interval_ms: 1_000,
                samples: Vec::new(),
            },
        }
    }

    fn market_state(&self) -> (Arc<MemoryStore>, Option<u64>) {
        match self.app.finalized() {
            Some(finalized) => (finalized.store, Some(finalized.market_revision)),
            // After a restart, the state read back until a block is finalized.
            None => (self.state(), None),
        }
    }

    fn block(&self, height: u64) -> Option<BlockView> {
        let block = self.app.block(height)?;
        Some(BlockView {
            height: block.height,
            digest: hex(&block.digest),
            parent: hex(&block.parent),
            timestamp_ms: block.timestamp_ms,
            proposer: block.proposer.to_string(),
            state_root: hex(&block.state_root),
            transactions: block.tx_ids.iter().map(tx_id_hex).collect(),
        })
    }

    fn receipt(&self, tx: &TxId) -> Option<ReceiptView> {
        let (height, receipt) = self.app.receipt(tx)?;
        Some(ReceiptView::new(&*self.state(), &receipt, height))
    }

    fn stored_receipt(
        &self,
        tx: TxId,
    ) -> rpc::backend::Pending<Result<Option<ReceiptView>, String>> {
        let history = self.history.clone();
        let app = self.app.clone();
        Box::pin(async move {
            let Some(history) = history else {
                return Ok(None);
            };
            let receipt = history
                .receipt(&tx)
                .await
                .map_err(|error| error.to_string())?;
            // The history records a block just before the node applies its state: a receipt
            // of a block the node's finalized state does not hold yet is not shown, so that a
            // client that saw the receipt reads a state that includes the transaction.
            // After a restart `finalized()` is empty until a new block is finalized: the state
            // read back from the store is the node's finalized state meanwhile.
            let finalized = app.committed_state().map_or(0, |(height, _)| height);
            Ok(receipt.filter(|receipt| receipt.height <= finalized))
        })
    }

    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError> {
        let signature_valid = tx.verify_signature();
        self.admit(tx, signature_valid)
    }

    fn submit_many(&self, txs: Vec<SignedTransaction>) -> Vec<Result<TxId, SubmitError>> {
        let valid = ledger::verify_signatures(&txs);
        txs.into_iter()
            .zip(valid)
            .map(|(tx, signature_valid)| self.admit(tx, signature_valid))
            .collect()
    }

    fn history(
        &self,
        account: AccountId,
        before: Option<String>,
        limit: usize,
    ) -> rpc::backend::Pending<Result<Vec<rpc::views::HistoryView>, rpc::backend::HistoryError>>
    {
        let history = self.history.clone();
        let app = self.app.clone();
        Box::pin(async move {
            use crate::history::HistoryError;
            let Some(history) = history else {
                return Err(rpc::backend::HistoryError::Unavailable(
                    "this node keeps no account history".into(),
                ));
            };
            // As for a stored receipt: a transaction of a block whose state the node has not
            // applied yet is not listed, so a client reads a state that includes what it lists.
            // Before the node holds a state (at start, until the ledger is read back) every
            // entry would be left out, each read: say so instead of answering an empty page.
            let Some((applied, _)) = app.committed_state() else {
                return Err(rpc::backend::HistoryError::Unavailable(
                    "the node has not read its state yet; try again shortly".into(),
                ));
            };
            history
                .page(&account, before.as_deref(), limit, applied)
                .await
                .map_err(|error| match error {
                    HistoryError::BadCursor(message) => {
                        rpc::backend::HistoryError::BadCursor(message)
                    }
                    unavailable @ (HistoryError::Storage(_) | HistoryError::Behind) => {
                        rpc::backend::HistoryError::Unavailable(unavailable.to_string())
                    }
                })
        })
    }

    fn account_proof(
        &self,
        account: AccountId,
    ) -> rpc::backend::Pending<Result<rpc::views::AccountProofView, String>> {
        let proofs = self.proofs.clone();
        Box::pin(async move {
            match proofs.as_ref().and_then(|slot| slot.get()) {
                Some(source) => source.prove(&account).await,
                None => Err("this node does not serve state proofs yet (still starting)".into()),
            }
        })
    }

    fn checkpoint(&self) -> rpc::backend::Pending<Result<rpc::views::CheckpointView, String>> {
        let proofs = self.proofs.clone();
        Box::pin(async move {
            match proofs.as_ref().and_then(|slot| slot.get()) {
                Some(source) => source.checkpoint().await,
                None => Err("this node does not serve checkpoints yet (still starting)".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        app::{App, AppConfig},
        history::{BlockHistory, HistoryError, HistoryLog, Pending},
        mempool::MempoolConfig,
    };
    use ledger::testing::{GENESIS_TIME_MS, TestChain};
    use rpc::views::HistoryView;

    /// A history holding one receipt, of a transaction in block `height`.
    #[derive(Debug)]
    struct OneReceipt(ReceiptView);

    impl HistoryLog for OneReceipt {
        fn record(&self, _: BlockHistory) -> Pending<'_, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn page<'a>(
            &'a self,
            _: &'a AccountId,
            _: Option<&'a str>,
            _: usize,
            _: u64,
        ) -> Pending<'a, Result<Vec<HistoryView>, HistoryError>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn receipt<'a>(
            &'a self,
            _: &'a TxId,
        ) -> Pending<'a, Result<Option<ReceiptView>, HistoryError>> {
            let receipt = self.0.clone();
            Box::pin(async move { Ok(Some(receipt)) })
        }
    }

    /// After a restart the application holds its state read back from the store
    /// (`committed_state`), and `finalized()` is `None` until the node finalizes a new block. A
    /// receipt of a block the store holds is shown meanwhile (a halted chain finalizes none); a
    /// receipt of a later block (recorded in the history, its state not yet applied) is not.
    #[test]
    fn a_stored_receipt_is_shown_after_a_restart_before_the_next_block() {
        let chain = TestChain::new(1, 1_000);
        let app = App::new(chain.store.clone(), GENESIS_TIME_MS, AppConfig::default());
        // The store read back at start holds block 5.
        let mut store = chain.store.clone();
        state::set_last_block(&mut store, 5, GENESIS_TIME_MS + 5_000);
        app.restored(types::Digest::from([7u8; 32]), store).unwrap();
        let handle = app.handle();
        assert_eq!(handle.committed_state().map(|(height, _)| height), Some(5));
        assert!(handle.finalized().is_none());
        let tx = TxId::from([1u8; 32]);
        let receipt = ReceiptView {
            tx_id: tx_id_hex(&tx),
            height: 5,
            outcome: "success".into(),
            error: None,
            fee_paid: "0".into(),
            events: Vec::new(),
        };
        let genesis = Arc::new(chain.store.clone());
        let backend = NodeBackend::new(
            handle,
            Mempool::new(MempoolConfig::default(), genesis.clone(), 0),
            genesis,
            GENESIS_TIME_MS,
            "full",
            0,
        )
        .with_history(Arc::new(OneReceipt(receipt.clone())));
        let shown = futures::executor::block_on(backend.stored_receipt(tx)).unwrap();
        assert_eq!(
            shown,
            Some(receipt.clone()),
            "a finalized receipt is hidden after a restart"
        );
        let ahead = ReceiptView {
            height: 6,
            ..receipt
        };
        let backend = backend.with_history(Arc::new(OneReceipt(ahead)));
        let shown = futures::executor::block_on(backend.stored_receipt(tx)).unwrap();
        assert_eq!(shown, None, "a receipt ahead of the state read back");
    }

    /// A history of one account's entries, answering pages as the node's history does (entries
    /// of blocks above `up_to` left out), that remembers the `up_to` it was asked for.
    #[derive(Debug)]
    struct Entries(Vec<HistoryView>, std::sync::Mutex<Vec<u64>>);

    impl HistoryLog for Entries {
        fn record(&self, _: BlockHistory) -> Pending<'_, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn page<'a>(
            &'a self,
            _: &'a AccountId,
            _: Option<&'a str>,
            limit: usize,
            up_to: u64,
        ) -> Pending<'a, Result<Vec<HistoryView>, HistoryError>> {
            self.1.lock().unwrap().push(up_to);
            let page = self
                .0
                .iter()
                .filter(|view| view.receipt.height <= up_to)
                .take(limit)
                .cloned()
                .collect();
            Box::pin(async move { Ok(page) })
        }
        fn receipt<'a>(
            &'a self,
            _: &'a TxId,
        ) -> Pending<'a, Result<Option<ReceiptView>, HistoryError>> {
            Box::pin(async { Ok(None) })
        }
    }

    /// Before the node holds any state (at start, before the ledger is read back from the
    /// store), `equa_listHistory` says the history is not available yet: it neither answers an
    /// account with history with an empty page nor walks the history for entries up to height 0.
    #[test]
    fn history_is_not_answered_empty_before_the_node_holds_a_state() {
        let chain = TestChain::new(1, 1_000);
        let app = App::new(chain.store.clone(), GENESIS_TIME_MS, AppConfig::default());
        assert!(app.handle().committed_state().is_none());
        let genesis = Arc::new(chain.store.clone());
        let entry = |height: u64| HistoryView {
            cursor: height.to_string(),
            timestamp_ms: 0,
            signer: String::new(),
            call: String::new(),
            receipt: ReceiptView {
                tx_id: format!("0x{height:064x}"),
                height,
                outcome: "success".into(),
                error: None,
                fee_paid: "0".into(),
                events: Vec::new(),
            },
        };
        let history = Arc::new(Entries(
            (1..=3).rev().map(entry).collect(),
            std::sync::Mutex::new(Vec::new()),
        ));
        let backend = NodeBackend::new(
            app.handle(),
            Mempool::new(MempoolConfig::default(), genesis.clone(), 0),
            genesis,
            GENESIS_TIME_MS,
            "full",
            0,
        )
        .with_history(history.clone());
        let answer =
            futures::executor::block_on(backend.history(ledger::testing::account(0), None, 1));
        assert!(
            !matches!(&answer, Ok(page) if page.is_empty()),
            "an account with history is answered with an empty page: {answer:?}"
        );
        assert!(
            !history.1.lock().unwrap().contains(&0),
            "the history was walked for the entries up to height 0"
        );
    }

    /// After a restart the RPC answers from the state read back, not from genesis, until a new
    /// block is finalized.
    #[test]
    fn the_rpc_answers_from_the_state_read_back_after_a_restart() {
        let chain = TestChain::new(1, 1_000);
        let app = App::new(chain.store.clone(), GENESIS_TIME_MS, AppConfig::default());
        let mut store = chain.store.clone();
        state::set_last_block(&mut store, 5, GENESIS_TIME_MS + 5_000);
        app.restored(types::Digest::from([7u8; 32]), store).unwrap();
        let genesis = Arc::new(chain.store.clone());
        let backend = NodeBackend::new(
            app.handle(),
            Mempool::new(MempoolConfig::default(), genesis.clone(), 0),
            genesis,
            GENESIS_TIME_MS,
            "full",
            0,
        );
        assert_eq!(
            state::try_last_block(&*backend.state()).map(|(height, _)| height),
            Some(5),
            "the RPC reads genesis after a restart"
        );
        // The offer book too (`finalized()` is `None` until the next block is finalized).
        let (market, _) = backend.market_state();
        assert_eq!(
            state::try_last_block(&*market).map(|(height, _)| height),
            Some(5),
            "the offer book reads genesis after a restart"
        );
    }
}
