//! The staking registry as data: its rules, every registered validator with its bond and where
//! it stands, and the committee the registry elects from the state.

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
}

/// A validator that is leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnbondingView {
    /// The bond can be withdrawn from this block time on.
    pub free_at_ms: u64,
    pub height: u64,
    /// Pushed out of a full registry by a larger bond, rather than left by itself.
    pub evicted: bool,
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
    /// Whether the registry elects it to the committee.
    pub elected: bool,
    pub unbonding: Option<UnbondingView>,
}

/// The registry: rules, candidates in rank order, then validators that are unbonding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StakingView {
    pub params: StakingParamsView,
    pub validators: Vec<ValidatorView>,
    /// The accounts of the committee the registry elects from this state, in rank order. It
    /// takes over at an epoch boundary once consensus runs in epochs; until then the chain's
    /// validators are those of its genesis.
    pub committee: Vec<String>,
    /// EQA the staking module holds: every bond, candidate or unbonding.
    pub bonded: Money,
}

impl ValidatorView {
    fn new(
        store: &(impl Store + ?Sized),
        validator: &Validator,
        rank: Option<u32>,
        committee_size: u16,
    ) -> Self {
        Self {
            account: validator.account.to_string(),
            node_key: node_key_hex(&validator.node_key),
            address: validator.address.to_string(),
            bond: Money::read(store, AssetId::NATIVE, validator.bond),
            registered_ms: validator.registered_ms,
            registered_height: validator.registered_height,
            rank,
            elected: rank.is_some_and(|rank| rank <= u32::from(committee_size)),
            unbonding: validator.unbonding.as_ref().map(|u| UnbondingView {
                free_at_ms: u.free_at_ms,
                height: u.height,
                evicted: u.evicted,
            }),
        }
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
            .map(|(validator, rank)| {
                ValidatorView::new(store, validator, Some(rank), params.committee_size)
            })
            .collect();
        for account in also {
            if let Some(validator) = Db::validator(store, account)
                && validator.unbonding.is_some()
            {
                validators.push(ValidatorView::new(
                    store,
                    &validator,
                    None,
                    params.committee_size,
                ));
            }
        }
        let committee = candidates
            .iter()
            .take(usize::from(params.committee_size))
            .map(|validator| validator.account.to_string())
            .collect();
        let bonded = ledger::state::held(store, ledger::state::Module::Staking, AssetId::NATIVE);
        Self {
            params: StakingParamsView {
                min_bond: Money::read(store, AssetId::NATIVE, params.min_bond),
                unbonding_secs: params.unbonding_secs,
                committee_size: params.committee_size,
                max_candidates: params.max_candidates,
            },
            validators,
            committee,
            bonded: Money::read(store, AssetId::NATIVE, bonded),
        }
    }
}
