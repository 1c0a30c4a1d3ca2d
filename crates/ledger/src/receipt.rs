//! Receipts and events: what applying a transaction did.

use crate::error::{CallError, TxError};
use types::{AccountId, AssetId, Symbol, TxId};

/// The result of one transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub tx_id: TxId,
    pub outcome: Outcome,
    /// EQA minor units charged: the offered fee when the transaction was accepted, else zero.
    pub fee_paid: u128,
    /// What changed, in order. Empty unless the call succeeded.
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The call ran and its effects are in the state.
    Success,
    /// The call ran and failed: the fee was paid and the nonce advanced; nothing else changed.
    Failed(CallError),
    /// The transaction was not accepted: nothing changed, not even the nonce.
    Rejected(TxError),
}

impl Receipt {
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::Success)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Transferred {
        from: AccountId,
        to: AccountId,
        asset: AssetId,
        amount: u128,
    },
    AssetIssued {
        asset: AssetId,
        symbol: Symbol,
        issuer: AccountId,
    },
    Minted {
        asset: AssetId,
        to: AccountId,
        amount: u128,
    },
    Burned {
        asset: AssetId,
        from: AccountId,
        amount: u128,
    },
    Market(crate::market::MarketEvent),
    Lending(crate::lending::LendingEvent),
    Staking(crate::staking::StakingEvent),
}
