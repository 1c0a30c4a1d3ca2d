//! `equa_simulateTransaction`: what a signed transaction would do if the next block held it
//! alone, answered from the latest finalized state without changing it, admitting the
//! transaction to the mempool or relaying it.
//!
//! The answer is the receipt it would get (outcome, named error, fee, events) and what would
//! move: every balance it would change, as a signed decimal with the asset's symbol. The
//! signature is not checked (a wallet asks about a copy signed with a one-off key, which could
//! never be submitted in its name). It costs
//! one run of the call over a write buffer (no copy of the state); the
//! transaction is bounded by the same size limit as `equa_sendTransaction`.

use crate::{
    events::event_json,
    views::{ErrorView, Money, tx_id_hex},
};
use ledger::{BlockContext, Holder, Outcome, ReadOverlay, Simulation, Store, state, state::Module};
use serde::{Deserialize, Serialize};
use types::{AccountId, AssetId, SignedTransaction};

/// What a transaction would do as the only transaction of the next block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimulationView {
    /// The transaction's id; none when its bytes are not a transaction.
    pub tx_id: Option<String>,
    /// The height it was tried at: the one after the latest finalized block.
    pub height: u64,
    /// "success", "failed" (the fee would be paid, nothing else would change) or "rejected"
    /// (nothing would change).
    pub outcome: String,
    pub error: Option<ErrorView>,
    /// EQA minor units the transaction would pay, as receipts state it (zero when rejected).
    pub fee_paid: String,
    /// The same fee with its symbol.
    pub fee: Money,
    /// What it would do, in order: typed events as receipts carry them, each with its `text`.
    #[schemars(with = "Vec<crate::events::EventSchema>")]
    pub events: Vec<serde_json::Value>,
    /// Every balance it would change, the fee's included.
    pub moves: Vec<MoveView>,
    /// How many of the signer's transactions before this one were taken to be waiting in the
    /// mempool: its nonce is this far above the state's next. Their own effects (fees included)
    /// are not counted in this answer.
    pub assumed_pending: u64,
}

impl SimulationView {
    pub fn is_success(&self) -> bool {
        self.outcome == "success"
    }
}

/// One balance a simulated transaction would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MoveView {
    /// The account, `equa1…`; none for what is not an account (`name` says what it is).
    pub account: Option<String>,
    /// "block proposer" (who receives the fee), "market" (escrow and arbitrator bonds held by
    /// the market) or "lending" (loan pools and collateral held by lending).
    pub name: Option<String>,
    pub asset: u32,
    pub symbol: String,
    /// The signed change as decimal text with the symbol, for example "-12.5 USDX".
    pub change: String,
    /// The signed change in minor units, for example "-12500000".
    pub minor_units: String,
}

/// Who receives the fee in a simulated block. The next block's proposer is not known ahead, so
/// a stand-in that is nobody's account takes its place: the ed25519 base point, whose key is
/// public knowledge (the scalar one), so no funds could ever be meant for it. Its move is named
/// "block proposer", without an address.
pub fn fee_recipient() -> AccountId {
    let mut bytes = [0x66; 32];
    bytes[0] = 0x58;
    AccountId::from_bytes(bytes).expect("the ed25519 base point is a valid key")
}

/// The largest step between two blocks' timestamps (the node's `max_timestamp_step_ms`).
const MAX_TIMESTAMP_STEP_MS: u64 = 60_000;

/// The block a simulation runs in: the one after the latest in `store`, stamped with `now_ms`
/// as a proposer would stamp it (at least 1 ms after the latest block, at most a minute).
pub fn next_block(store: &(impl Store + ?Sized), now_ms: u64) -> BlockContext {
    let (height, timestamp_ms) = state::last_block(store);
    BlockContext {
        height: height.saturating_add(1),
        // As a proposer stamps it: after the last block, at most a step past it.
        timestamp_ms: now_ms.clamp(
            timestamp_ms.saturating_add(1),
            timestamp_ms.saturating_add(MAX_TIMESTAMP_STEP_MS),
        ),
        proposer: fee_recipient(),
        // The next block's round is not known. Round 0 makes no waiting pick, as the next block
        // usually does not (a pick waits for the seed of a round after the request's), so a
        // preview of a call on a trade whose pick waits says it waits; and the randomness, which
        // only picks read, is not the real one.
        round: 0,
        seeded: true,
        randomness: [0; 32],
        offenses: Vec::new(),
        next_holders: None,
    }
}

/// Simulates `tx` (or reports why its bytes are not a transaction) on `store` in `context`.
pub fn simulate(
    store: &(impl Store + ?Sized),
    context: &BlockContext,
    tx: Result<SignedTransaction, ErrorView>,
) -> SimulationView {
    let native = |minor| Money::read(store, AssetId::NATIVE, minor);
    let tx = match tx {
        Ok(tx) => tx,
        Err(error) => {
            return SimulationView {
                tx_id: None,
                height: context.height,
                outcome: "rejected".into(),
                error: Some(error),
                fee_paid: "0".into(),
                fee: native(0),
                events: Vec::new(),
                moves: Vec::new(),
                assumed_pending: 0,
            };
        }
    };
    let assumed_pending = tx
        .tx()
        .nonce
        .saturating_sub(state::nonce(store, &tx.tx().signer));
    let simulation = match ledger::simulate(store, context, &tx) {
        Ok(simulation) => simulation,
        // The context is built from this very state, so it always follows; should it not, the
        // answer is a rejection in words, never a panic of the server.
        Err(error) => {
            return SimulationView {
                tx_id: Some(tx_id_hex(&tx.id())),
                height: context.height,
                outcome: "rejected".into(),
                error: Some(ErrorView::of(&error)),
                fee_paid: "0".into(),
                fee: native(0),
                events: Vec::new(),
                moves: Vec::new(),
                assumed_pending,
            };
        }
    };
    // Events and moves are worded with the state as it would be after the transaction, so an
    // asset it issues is named by its symbol.
    let mut after = ReadOverlay::new(store);
    for change in &simulation.changes {
        match &change.after {
            Some(value) => after.put(&change.key, value.clone()),
            None => after.delete(&change.key),
        }
    }
    let receipt = &simulation.receipt;
    let (outcome, error) = match &receipt.outcome {
        Outcome::Success => ("success", None),
        Outcome::Failed(error) => ("failed", Some(ErrorView::failed(&after, error))),
        Outcome::Rejected(error) => ("rejected", Some(ErrorView::rejected(&after, error))),
    };
    SimulationView {
        tx_id: Some(tx_id_hex(&receipt.tx_id)),
        height: context.height,
        outcome: outcome.into(),
        error,
        fee_paid: receipt.fee_paid.to_string(),
        fee: native(receipt.fee_paid),
        events: receipt
            .events
            .iter()
            .map(|event| event_json(&after, event))
            .collect(),
        moves: moves(&after, &simulation),
        assumed_pending,
    }
}

/// The balance changes of `simulation` in words, worded with the assets of `store`.
fn moves(store: &(impl Store + ?Sized), simulation: &Simulation) -> Vec<MoveView> {
    simulation
        .balance_changes()
        .into_iter()
        .map(|change| {
            let (account, name) = match change.holder {
                Holder::Account(account) if account == fee_recipient() => {
                    (None, Some("block proposer"))
                }
                Holder::Account(account) => (Some(account.to_string()), None),
                Holder::Module(Module::Market) => (None, Some("market")),
                Holder::Module(Module::Lending) => (None, Some("lending")),
                Holder::Module(Module::Staking) => (None, Some("staking")),
            };
            let (sign, size) = if change.after >= change.before {
                ("+", change.after.abs_diff(change.before))
            } else {
                ("-", change.before.abs_diff(change.after))
            };
            let money = Money::read(store, change.asset, size);
            MoveView {
                account,
                name: name.map(str::to_string),
                asset: change.asset.0,
                change: format!("{sign}{} {}", money.amount, money.symbol),
                minor_units: format!("{sign}{size}"),
                symbol: money.symbol,
            }
        })
        .collect()
}

/// A move in words: "equa1… -12.5 USDX", "block proposer +0.0001 EQA".
pub fn move_words(change: &MoveView) -> String {
    let who = change
        .account
        .clone()
        .or_else(|| change.name.clone())
        .unwrap_or_default();
    format!("{who} {}", change.change)
}

#[cfg(test)]
mod next_block_tests {
    use super::*;
    use ledger::testing::TestChain;

    #[test]
    fn the_simulated_block_is_stamped_as_a_proposer_would() {
        let chain = TestChain::new(1, 1);
        let (height, last_ms) = state::last_block(&chain.store);
        assert_eq!(
            next_block(&chain.store, last_ms + 500).timestamp_ms,
            last_ms + 500
        );
        assert_eq!(next_block(&chain.store, last_ms + 500).height, height + 1);
        // A clock behind the chain: 1 ms after the last block, as block times must increase.
        assert_eq!(next_block(&chain.store, 0).timestamp_ms, last_ms + 1);
        // After a stall: at most one step past the last block.
        assert_eq!(
            next_block(&chain.store, last_ms + 3_600_000).timestamp_ms,
            last_ms + MAX_TIMESTAMP_STEP_MS
        );
    }
}
