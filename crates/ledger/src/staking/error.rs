//! Why a staking call failed. Every variant carries the numbers that explain it.

use crate::error::BankError;
use types::AccountId;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(
        "{account} is already registered as a validator with another node key (unbond and withdraw first)"
    )]
    AlreadyRegistered { account: AccountId },
    #[error("node key {node_key} is already registered by {account}")]
    NodeKeyTaken {
        node_key: AccountId,
        account: AccountId,
    },
    #[error(
        "the key proof is not the node key's signature for this account on this chain (sign it with the node's private key)"
    )]
    BadKeyProof,
    #[error("a bond of {bond} is below the minimum {minimum} (EQA minor units)")]
    BondTooSmall { bond: u128, minimum: u128 },
    #[error(
        "{address:?} is not a node address: write ip:port, with a port above 0 and a concrete ip"
    )]
    InvalidAddress { address: String },
    #[error(
        "the registry holds the most candidates it may ({max}); a bond above the lowest candidate's {lowest_bond} (EQA minor units) takes its place"
    )]
    RegistryFull { max: u16, lowest_bond: u128 },
    #[error(
        "the validator's bond is {current}; a registration again with its node key names a larger total bond (or at least the same, to stop unbonding), not {bond} (EQA minor units)"
    )]
    BondNotRaised { bond: u128, current: u128 },
    #[error("{account} is not a registered validator")]
    NotRegistered { account: AccountId },
    #[error("the validator is already unbonding; its bond is free at {free_at_ms} ms")]
    AlreadyUnbonding { free_at_ms: u64 },
    #[error("the validator has not unbonded; unbond first")]
    NotUnbonding,
    #[error("the bond is still unbonding until {free_at_ms} ms")]
    UnbondingRunning { free_at_ms: u64 },
    #[error(
        "the validator sits on the committee of epoch {epoch}; its service ends at height {until_height}, and its bond is free the unbonding delay after that"
    )]
    StillServing { epoch: u64, until_height: u64 },
    #[error("a deposit of {deposit} is below the minimum {minimum} (EQA minor units)")]
    DepositTooSmall { deposit: u128, minimum: u128 },
    #[error(
        "the full node's deposit is {current}; a registration again names the new total, at least that, not {deposit} (EQA minor units)"
    )]
    DepositNotRaised { deposit: u128, current: u128 },
    #[error(
        "the full-node registry holds the most keys it may ({max}); a deposit above the lowest {lowest_deposit} (EQA minor units) takes its place"
    )]
    NodeRegistryFull { max: u16, lowest_deposit: u128 },
    #[error(
        "the full node registered at height {registered_height} is admitted by peers through the epoch after; it may be unregistered from height {from_height}"
    )]
    NodeStillAdmitted {
        registered_height: u64,
        from_height: u64,
    },
    #[error(
        "the validator was slashed ({slashed} EQA minor units burned for contradictory votes) and may not stand again with this registration; withdraw what is left once it is free"
    )]
    Slashed { slashed: u128 },
    #[error(
        "the validator was taken off the candidates for proposing too little in {silent_epochs} epochs in a row, and may stand again once its bond is free: it serves until height {until_height}, and the unbonding delay runs from then"
    )]
    SilentServing {
        silent_epochs: u16,
        until_height: u64,
    },
    #[error(
        "the validator was taken off the candidates for proposing too little in {silent_epochs} epochs in a row, and may stand again from {free_at_ms} ms, when its bond is free"
    )]
    SilentUntil { silent_epochs: u16, free_at_ms: u64 },
    #[error("node key {node_key} signed contradictory votes and may never be registered again")]
    NodeKeyBanned { node_key: AccountId },
    #[error("node key {node_key} is not a registered full node")]
    NodeNotRegistered { node_key: AccountId },
    #[error("node key {node_key} was registered by {owner}; only that account may unregister it")]
    NotNodeOwner {
        node_key: AccountId,
        owner: AccountId,
    },
}
