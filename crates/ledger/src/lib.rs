//! The Equa ledger: a synchronous, deterministic state machine.
//!
//! `apply_block(store, context, txs) -> receipts` is the whole interface; `simulate` answers what
//! one transaction would do in the next block, through the same code, without changing the
//! state. The ledger reads and writes a [`Store`] and nothing else: it has no clock (time is the
//! block's timestamp), no randomness (beyond what the block context carries) and no I/O. Given
//! the same state, context and transactions, every node computes the same receipts and the same
//! next state.
//!
//! Each module (the bank now; the market and lending later) keeps its own state keys, calls,
//! events and errors in its own folder.

// Money arithmetic must be checked: an impossible result is a named error, never a wrap.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

pub mod adversary;
pub mod audit;
pub mod bank;
mod blob;
pub mod error;
pub mod execute;
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault;
pub mod genesis;
pub mod index;
pub mod lending;
pub mod market;
pub mod math;
mod memory;
pub mod params;
pub mod receipt;
pub mod staking;
pub mod state;
pub mod store;
pub mod testing;

pub use error::{BankError, CallError, TxError};
pub use execute::{
    BalanceChange, BlockError, Change, Simulation, admit, apply_block, apply_block_checked,
    simulate, verify_signatures,
};
pub use genesis::{Genesis, GenesisError};
pub use params::Params;
pub use receipt::{Event, Outcome, Receipt};
pub use state::Holder;
pub use store::{MemoryStore, OnDisk, Overlay, ReadOverlay, Store};

use types::AccountId;

/// What the ledger learns about a block from consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    /// The proposer's timestamp, checked by validators to increase and to stay near real time.
    pub timestamp_ms: u64,
    /// Receives the block's fees.
    pub proposer: AccountId,
    /// The consensus round the block was proposed in, as one number that increases along the
    /// chain across consensus epochs (views start again in each epoch): the epoch in the high 64
    /// bits, the view in the low 64, so it never runs out.
    pub round: u128,
    /// Whether `randomness` is drawn from a consensus seed. It is not in the first view of a
    /// consensus epoch, which has no earlier round of its epoch to carry the seed of; such a
    /// block makes no choice from its randomness (waiting picks wait one more block).
    pub seeded: bool,
    /// Bytes agreed by consensus, for choices such as arbitrator selection: when `seeded`, drawn
    /// from the seed of round `round - 1`, a threshold signature over that round that nobody
    /// knew before the round's votes were cast and nobody could choose. So a choice asked for in
    /// a block of round `r` is made only by a seeded block whose `round - 1 > r` (see
    /// `market::begin_block`).
    pub randomness: [u8; 32],
    /// Validators proven to have signed contradictory votes, which this block slashes before
    /// its transactions (see [`staking::slash`]). The ledger takes each one as proven: whoever
    /// builds the context must have checked attributable evidence (the node: votes signed by
    /// node keys, `node::evidence`).
    pub offenses: Vec<Offense>,
    /// In an epoch's final block, the node keys that hold shares of the chain key in the next
    /// epoch, as consensus agreed on them (the resharing's outcome: the elected committee when
    /// it succeeded, the previous holders carried forward when it failed); `None` in every other
    /// block. Each holder that is a validator serves through that epoch, so its bond stays
    /// locked while it signs (see [`staking::record_holders`]).
    pub next_holders: Option<Vec<AccountId>>,
}

/// A validator's proven fault: its node key signed contradictory votes in consensus epoch
/// `epoch` (two notarizes or two finalizes of one round, or a nullify and a finalize of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offense {
    pub node_key: AccountId,
    pub epoch: u64,
}
