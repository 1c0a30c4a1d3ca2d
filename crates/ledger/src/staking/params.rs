//! Staking parameters, fixed at genesis (`[params.staking]`, every field optional).

use super::records::table;
use crate::{state, store::Store};
use serde::Deserialize;
use types::{amount, impl_codec};

/// The largest committee the parameters may ask for. Simplex's certificates and the threshold
/// key's shares grow with the committee; a hundred keeps a finalization within one network
/// message and a reshare within one epoch's blocks.
pub const MAX_COMMITTEE: u16 = 100;
/// The most candidates the registry may hold. Deriving a committee reads every candidate, so
/// this bounds that read.
pub const MAX_CANDIDATES: u16 = 1_024;
/// The most full-node keys the registry may hold. Every node tracks each of them as a peer in
/// every peer set, so this bounds what an epoch's peer sets cost every node.
pub const MAX_NODES: u16 = 4_096;
/// The smallest committee that tolerates a byzantine member (n = 3f + 1 with f = 1).
pub const MIN_COMMITTEE: u16 = 4;
/// The most epochs of silence the parameters may allow.
pub const MAX_SILENCE_EPOCHS: u16 = 1_000;
/// The longest epoch the parameters may ask for, in blocks.
pub const MAX_BLOCKS_PER_EPOCH: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StakingParams {
    /// The least bond, in EQA minor units, a validator registers with.
    pub min_bond: u128,
    /// How long a bond stays locked after its validator unbonds: long enough that evidence of
    /// what the validator did while in a committee reaches the ledger before the bond is gone.
    pub unbonding_secs: u32,
    /// The most validators one epoch's committee holds.
    pub committee_size: u16,
    /// The most candidates the registry holds; a new one beyond that must out-bond the lowest.
    pub max_candidates: u16,
    /// The length of an epoch: epoch `e` is the blocks at heights `e * L` to `e * L + L - 1`.
    /// At least four blocks per committee seat, so that under round robin every member leads
    /// at least twice in an epoch's second half, where a reshare's dealings are taken.
    pub blocks_per_epoch: u64,
    /// The least deposit, in EQA minor units, a full node's key is registered with.
    pub node_deposit: u128,
    /// The most full-node keys registered at once; a new one beyond that must out-deposit the
    /// lowest.
    pub max_nodes: u16,
    /// The share of a validator's bond, in basis points, burned for each consensus epoch in
    /// which it signed contradictory votes (rounded up, so any bond above zero loses some).
    pub slash_bps: u16,
    /// How many epochs in a row a validator may hold a share of the chain key in while
    /// proposing fewer than half the views it led before it is taken off the candidates (it
    /// unbonds as if it had left, losing nothing but its seat, and may stand again once its
    /// bond is free).
    pub silence_epochs: u16,
}
impl_codec!(StakingParams {
    min_bond,
    unbonding_secs,
    committee_size,
    max_candidates,
    blocks_per_epoch,
    node_deposit,
    max_nodes,
    slash_bps,
    silence_epochs
});

/// The most a slash may take: the whole bond.
pub const MAX_SLASH_BPS: u16 = 10_000;

/// Whole EQA of the default minimum bond.
const DEFAULT_MIN_BOND_WHOLE: u128 = 10_000;
/// Whole EQA of the default full-node deposit.
const DEFAULT_NODE_DEPOSIT_WHOLE: u128 = 100;

impl StakingParams {
    /// The defaults for a native asset with `native_decimals` decimals: a bond of at least
    /// 10,000 EQA, seven days of unbonding, a committee of at most 32 among at most 64
    /// candidates, epochs of 3,600 blocks (an hour of an idle chain), full nodes registered
    /// with 100 EQA each, at most 64 of them, 5% of a bond burned per epoch of contradictory
    /// votes, and a seat lost after two epochs in a row of too few proposals.
    ///
    /// Every node tracks every candidate and registered full node as a peer, and the p2p layer
    /// reserves, up front, a burst of message slots on every channel for every peer its tracked
    /// sets may hold (about 0.8 MB resident per peer a set may hold, measured with the default
    /// burst of 256): so the two registries' caps are what a node's memory grows with, and the
    /// defaults keep a node's share of it to a few hundred megabytes.
    pub fn defaults(native_decimals: u8) -> Self {
        let whole = |count: u128| {
            10u128
                .checked_pow(u32::from(native_decimals))
                .and_then(|unit| unit.checked_mul(count))
                .unwrap_or(u128::MAX)
        };
        Self {
            min_bond: whole(DEFAULT_MIN_BOND_WHOLE),
            unbonding_secs: 7 * 24 * 3_600,
            committee_size: 32,
            max_candidates: 64,
            blocks_per_epoch: 3_600,
            node_deposit: whole(DEFAULT_NODE_DEPOSIT_WHOLE),
            max_nodes: 64,
            slash_bps: 500,
            silence_epochs: 2,
        }
    }

    /// The epoch of the block at `height`.
    pub fn epoch_of(&self, height: u64) -> u64 {
        height.checked_div(self.blocks_per_epoch).unwrap_or(0)
    }

    /// The height of the first block of `epoch` (saturating at the end of time).
    pub fn first_height(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.blocks_per_epoch)
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawStakingParams {
    /// A decimal amount of EQA.
    pub min_bond: Option<String>,
    pub unbonding_secs: Option<u32>,
    pub committee_size: Option<u16>,
    pub max_candidates: Option<u16>,
    pub blocks_per_epoch: Option<u64>,
    /// A decimal amount of EQA.
    pub node_deposit: Option<String>,
    pub max_nodes: Option<u16>,
    pub slash_bps: Option<u16>,
    pub silence_epochs: Option<u16>,
}

impl RawStakingParams {
    pub fn resolve(&self, native_decimals: u8) -> Result<StakingParams, (String, String)> {
        let field = |name: &str| format!("params.staking.{name}");
        let mut params = StakingParams::defaults(native_decimals);
        if let Some(text) = &self.min_bond {
            params.min_bond = amount::parse(text, native_decimals)
                .map_err(|e| (field("min_bond"), e.to_string()))?;
        }
        if let Some(text) = &self.node_deposit {
            params.node_deposit = amount::parse(text, native_decimals)
                .map_err(|e| (field("node_deposit"), e.to_string()))?;
        }
        macro_rules! take {
            ($($name:ident),*) => { $( if let Some(value) = self.$name { params.$name = value; } )* };
        }
        take!(
            unbonding_secs,
            committee_size,
            max_candidates,
            blocks_per_epoch,
            max_nodes,
            slash_bps,
            silence_epochs
        );
        if !(1..=MAX_SILENCE_EPOCHS).contains(&params.silence_epochs) {
            return Err((
                field("silence_epochs"),
                format!("must be 1 to {MAX_SILENCE_EPOCHS}"),
            ));
        }
        if !(1..=MAX_SLASH_BPS).contains(&params.slash_bps) {
            return Err((
                field("slash_bps"),
                format!("must be 1 to {MAX_SLASH_BPS} basis points"),
            ));
        }
        if params.min_bond == 0 {
            return Err((field("min_bond"), "must be greater than zero".into()));
        }
        if params.node_deposit == 0 {
            return Err((field("node_deposit"), "must be greater than zero".into()));
        }
        if !(1..=MAX_NODES).contains(&params.max_nodes) {
            return Err((field("max_nodes"), format!("must be 1 to {MAX_NODES}")));
        }
        if params.unbonding_secs == 0 {
            return Err((field("unbonding_secs"), "must be greater than zero".into()));
        }
        if !(MIN_COMMITTEE..=MAX_COMMITTEE).contains(&params.committee_size) {
            return Err((
                field("committee_size"),
                format!("must be {MIN_COMMITTEE} to {MAX_COMMITTEE}"),
            ));
        }
        if !(params.committee_size..=MAX_CANDIDATES).contains(&params.max_candidates) {
            return Err((
                field("max_candidates"),
                format!("must be the committee size to {MAX_CANDIDATES}"),
            ));
        }
        let shortest = 4 * u64::from(params.committee_size);
        if !(shortest..=MAX_BLOCKS_PER_EPOCH).contains(&params.blocks_per_epoch) {
            return Err((
                field("blocks_per_epoch"),
                format!(
                    "must be four blocks per committee seat ({shortest}) to {MAX_BLOCKS_PER_EPOCH}"
                ),
            ));
        }
        Ok(params)
    }
}

/// The staking parameters, `None` in a state written without them (a test chain's).
pub fn try_load(store: &(impl Store + ?Sized)) -> Option<StakingParams> {
    state::read(store, &[table::PARAMS])
}

pub fn load(store: &(impl Store + ?Sized)) -> StakingParams {
    state::read(store, &[table::PARAMS]).expect("staking parameters are written at genesis")
}

pub fn store(store: &mut (impl Store + ?Sized), params: &StakingParams) {
    state::write(store, &[table::PARAMS], params);
}
