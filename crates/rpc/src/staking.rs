//! The staking registry as data: its rules, every registered validator with its bond and where
//! it stands, the committee the registry elects from the state, and the registered full nodes.

use crate::views::Money;
use ledger::{
    staking::{self, Db, Validator},
    store::Store,
};
use serde::{Deserialize, Serialize};
use types::{AccountId, AssetId};

/// A node key as the node's configuration writes it: 64 hexadecimal digits.
pub fn node_key_hex(key: &AccountId) -> String {
    hex::encode(key.as_bytes())
}

/// The staking rules a client needs to register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StakingParamsView {
    pub min_bond: Money,
    pub unbonding_secs: u32,
    pub committee_size: u16,
    /// The most candidates the registry holds; a new one beyond that must out-bond the lowest.
    pub max_candidates: u16,
    pub blocks_per_epoch: u64,
    /// The least deposit a full node's key is registered with.
    pub node_deposit: Money,
    /// The most full nodes registered at once; a new one beyond that must out-deposit the
    /// lowest.
    pub max_nodes: u16,
    /// The share of a bond, in basis points, the ledger burns for each epoch of proven
    /// contradictory votes.
    pub slash_bps: u16,
    /// Epochs in a row a validator may hold a share of the chain key in while proposing fewer
    /// than half the views it led before it is taken off the candidates.
    pub silence_epochs: u16,
}

/// A registered full node: every node admits its key as a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FullNodeView {
    /// 64 hexadecimal digits.
    pub node_key: String,
    /// The account that registered it and may unregister it.
    pub owner: String,
    /// Where it listens for peers; with `node_key`, a peer to bootstrap from
    /// (`<node_key>@<address>`).
    pub address: String,
    pub deposit: Money,
    pub registered_height: u64,
}

/// A validator that is leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnbondingView {
    /// The bond can be withdrawn from this block time on; `None` while the validator still
    /// serves on a committee (see `serving_until_height`), after which the delay runs.
    pub free_at_ms: Option<u64>,
    /// While it still serves: its service ends with the block at this height.
    pub serving_until_height: Option<u64>,
    pub height: u64,
    /// Taken off the candidates rather than left by itself (see `reason`).
    pub evicted: bool,
    /// Why it is leaving: `left` (it unbonded), `outbid` (a larger bond pushed it out of a
    /// full registry), `slashed` (it signed contradictory votes) or `silent` (it proposed fewer
    /// than half the views it led in `silence_epochs` epochs in a row while it held a share of
    /// the chain key; it may stand again once its bond is free).
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ValidatorView {
    pub account: String,
    /// 64 hexadecimal digits.
    pub node_key: String,
    pub address: String,
    pub bond: Money,
    pub registered_ms: u64,
    pub registered_height: u64,
    /// Among the candidates, 1 for the largest bond; `None` while unbonding.
    pub rank: Option<u32>,
    /// Whether the registry, as it stands, elects it (see `StakingView::committee`).
    pub elected: bool,
    /// The last epoch whose committee holds it, once one has.
    pub last_epoch: Option<u64>,
    pub unbonding: Option<UnbondingView>,
    /// EQA burned from its bond for contradictory votes, in all; a slashed validator unbonds
    /// and does not stand again.
    pub slashed: Money,
    /// The last epoch in which it proposed a finalized block, once it has.
    pub last_proposed_epoch: Option<u64>,
    /// How many finalized blocks it proposed in `last_proposed_epoch`.
    pub proposals: u16,
    /// Epochs in a row it held a share of the chain key in while proposing fewer than half the
    /// views it led; it is taken off the candidates when this reaches `silence_epochs`.
    pub silent_epochs: u16,
}

/// The committee that signs in one epoch. It is the set the ledger fixed for the epoch before
/// (the players of that epoch's reshare, who receive their key shares there), so it is known
/// three epochs ahead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EpochView {
    pub epoch: u64,
    pub first_height: u64,
    /// Accounts, in rank order at the time it was fixed.
    pub members: Vec<String>,
}

/// The registry: rules, candidates in rank order, then validators that are unbonding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StakingView {
    pub params: StakingParamsView,
    pub validators: Vec<ValidatorView>,
    /// The accounts of the committee the registry elects from this state, in rank order: what
    /// the next epoch's first block fixes for the epoch two after it, unless the registry
    /// changes first.
    pub committee: Vec<String>,
    /// The epoch of the latest block.
    pub epoch: u64,
    /// The committees that sign in this epoch and the three after it, all fixed already.
    pub epochs: Vec<EpochView>,
    /// EQA the staking module holds: every bond, candidate or unbonding, and every full node's
    /// deposit.
    pub bonded: Money,
    /// The registered full nodes, in key order.
    pub full_nodes: Vec<FullNodeView>,
}

impl ValidatorView {
    fn new(
        store: &(impl Store + ?Sized),
        params: &staking::StakingParams,
        validator: &Validator,
        rank: Option<u32>,
    ) -> Self {
        let committee_size = params.committee_size;
        Self {
            account: validator.account.to_string(),
            node_key: node_key_hex(&validator.node_key),
            address: validator.address.to_string(),
            bond: Money::read(store, AssetId::NATIVE, validator.bond),
            registered_ms: validator.registered_ms,
            registered_height: validator.registered_height,
            rank,
            elected: rank.is_some_and(|rank| rank <= u32::from(committee_size)),
            last_epoch: validator.last_epoch,
            slashed: Money::read(store, AssetId::NATIVE, validator.slashed),
            last_proposed_epoch: validator.last_proposed_epoch,
            proposals: validator.proposals,
            silent_epochs: validator.silent_epochs,
            unbonding: validator.unbonding.as_ref().map(|u| {
                let (free_at_ms, serving_until_height) = match staking::release(params, validator) {
                    Some(staking::Release::Serving { until_height, .. }) => {
                        (None, Some(until_height))
                    }
                    Some(staking::Release::At(ms)) => (Some(ms), None),
                    None => (Some(u.free_at_ms), None),
                };
                UnbondingView {
                    free_at_ms,
                    serving_until_height,
                    height: u.height,
                    evicted: u.reason.evicted(),
                    reason: reason_name(u.reason).into(),
                }
            }),
        }
    }
}

/// The name of an unbonding reason in the API.
fn reason_name(reason: staking::UnbondReason) -> &'static str {
    match reason {
        staking::UnbondReason::Left => "left",
        staking::UnbondReason::Outbid => "outbid",
        staking::UnbondReason::Slashed => "slashed",
        staking::UnbondReason::Silent => "silent",
    }
}

impl StakingView {
    /// Reads the registry. Unbonding validators are found through the accounts `unbonding`
    /// names (the node keeps no list of them): pass the accounts a client asks about, or none.
    pub fn read(store: &(impl Store + ?Sized), also: &[AccountId]) -> Self {
        let params = staking::params::load(store);
        let candidates = staking::ranked_candidates(store);
        let mut validators: Vec<ValidatorView> = candidates
            .iter()
            .zip(1u32..)
            .map(|(validator, rank)| ValidatorView::new(store, &params, validator, Some(rank)))
            .collect();
        for account in also {
            if let Some(validator) = Db::validator(store, account)
                && validator.unbonding.is_some()
            {
                validators.push(ValidatorView::new(store, &params, &validator, None));
            }
        }
        let committee = candidates
            .iter()
            .take(usize::from(params.committee_size))
            .map(|validator| validator.account.to_string())
            .collect();
        let bonded = ledger::state::held(store, ledger::state::Module::Staking, AssetId::NATIVE);
        let (height, _) = ledger::state::last_block(store);
        let epoch = params.epoch_of(height);
        let epochs = (epoch..=epoch.saturating_add(staking::LOOKAHEAD_EPOCHS + 1))
            .filter_map(|epoch| {
                // Epoch 0 is signed by the genesis validators, who are also the players of
                // epoch 0 (genesis fixes the first committees from the same registry).
                let players = epoch.saturating_sub(1);
                staking::epoch_committee(store, players).map(|committee| EpochView {
                    epoch,
                    first_height: params.first_height(epoch),
                    members: committee
                        .members
                        .iter()
                        .map(|member| member.account.to_string())
                        .collect(),
                })
            })
            .collect();
        Self {
            params: StakingParamsView {
                min_bond: Money::read(store, AssetId::NATIVE, params.min_bond),
                unbonding_secs: params.unbonding_secs,
                committee_size: params.committee_size,
                max_candidates: params.max_candidates,
                blocks_per_epoch: params.blocks_per_epoch,
                node_deposit: Money::read(store, AssetId::NATIVE, params.node_deposit),
                max_nodes: params.max_nodes,
                slash_bps: params.slash_bps,
                silence_epochs: params.silence_epochs,
            },
            validators,
            committee,
            epoch,
            epochs,
            bonded: Money::read(store, AssetId::NATIVE, bonded),
            full_nodes: staking::full_nodes(store)
                .iter()
                .map(|node| FullNodeView {
                    node_key: node_key_hex(&node.node_key),
                    owner: node.owner.to_string(),
                    address: node.address.to_string(),
                    deposit: Money::read(store, AssetId::NATIVE, node.deposit),
                    registered_height: node.registered_height,
                })
                .collect(),
        }
    }
}
