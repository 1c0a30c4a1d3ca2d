//! The staking module: accounts bond EQA to stand as validators, and each epoch's committee is
//! derived from the registry in finalized state.
//!
//! ```text
//! register(bond >= min, key proof) -> candidate --unbond(self)--------------> unbonding
//!   register again, same key,           |  pushed out of a full registry by   | withdraw(self),
//!   larger bond: raised in place        |  a larger bond ------------------->  |  once free_at_ms
//!                                        ^                                      v has passed
//!                                        +-- register again, same key,       record deleted,
//!                                            bond >= old, room in the registry  bond returned
//! ```
//!
//! **The committee rule** ([`committee`]): the candidates with the largest bonds, at most
//! `committee_size`, ties going to the earlier registration and then to the lower account.
//! Votes are capped-equal, not bond-weighted: simplex counts one vote per member and the
//! threshold key gives each member one share, so a bond decides whether a validator sits on the
//! committee, not how much its vote weighs. Whoever wants a second seat must bond a second time,
//! with a second node key, and out-bond the lowest member to get it.
//!
//! **Bonds** sit in the bank's staking total (so conservation covers them) from registration
//! until withdrawal, and stay locked for `unbonding_secs` after a validator leaves the
//! candidates, so evidence of what it did while on a committee can still reach its bond.
//!
//! **Node keys** are registered with a signature by the key itself over the chain and the
//! registering account, so nobody can register a key they do not hold, replay another
//! account's registration, or keep an operator's key from registering by claiming it first. A
//! key stays taken until its bond is withdrawn.
//!
//! **A full registry** (`max_candidates`) admits a new candidate only with a bond strictly
//! above the lowest candidate's; the lowest then unbonds as if it had left itself. So filling
//! the registry with minimum bonds cannot keep anyone with more at stake out.

mod error;
pub mod params;
pub mod records;

pub use error::StakingError;
pub use params::StakingParams;
pub use records::{Db, Unbonding, Validator};

use crate::{BlockContext, bank, receipt::Event, state::Module, store::Store};
use std::{cmp::Ordering, net::SocketAddr};
use types::{
    AccountId, AssetId, ChainId, Text,
    staking::{RegisterValidator, StakingCall},
};

/// What the staking module did, in receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StakingEvent {
    /// A registration, or a registration again with the same node key (a raised bond, or a
    /// return from unbonding): `bond` is the validator's whole bond after it, not what it added.
    ValidatorRegistered {
        account: AccountId,
        node_key: AccountId,
        bond: u128,
    },
    /// The validator left the candidates: by unbonding, or pushed out of a full registry by a
    /// larger bond (`evicted`).
    ValidatorUnbonding {
        account: AccountId,
        bond_free_at_ms: u64,
        evicted: bool,
    },
    BondWithdrawn {
        account: AccountId,
        bond: u128,
    },
}

fn emit(events: &mut Vec<Event>, event: StakingEvent) {
    events.push(Event::Staking(event));
}

/// Runs one staking call for `signer`. On error the caller discards every write made here.
pub fn execute(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    call: &StakingCall,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let params = params::load(store);
    match call {
        StakingCall::Register(register) => {
            let chain_id = crate::state::chain_id(store);
            self::register(store, &params, context, &chain_id, signer, register, events)
        }
        StakingCall::Unbond(_) => unbond(store, &params, context, signer, events),
        StakingCall::Withdraw(_) => withdraw(store, context, signer, events),
    }
}

/// The order of the committee: larger bond first, then earlier registration, then lower account.
fn rank(a: &Validator, b: &Validator) -> Ordering {
    b.bond
        .cmp(&a.bond)
        .then(a.registered_height.cmp(&b.registered_height))
        .then(a.account.cmp(&b.account))
}

/// Every candidate's record, best ranked first.
pub fn ranked_candidates(store: &(impl Store + ?Sized)) -> Vec<Validator> {
    let mut candidates: Vec<Validator> = Db::candidates(store)
        .iter()
        .filter_map(|account| Db::validator(store, account))
        .collect();
    candidates.sort_by(rank);
    candidates
}

/// The committee the registry in `store` elects: the best ranked `committee_size` candidates,
/// in rank order. Fewer when fewer are registered; the caller decides what a committee too small
/// to run consensus means.
pub fn committee(store: &(impl Store + ?Sized)) -> Vec<Validator> {
    let size = usize::from(params::load(store).committee_size);
    let mut candidates = ranked_candidates(store);
    candidates.truncate(size);
    candidates
}

/// Whether `address` names one node one can dial: `ip:port` written exactly as the standard
/// library writes it back (no leading zeros, no IPv6 scope or flow label, IPv4 not written as
/// IPv6), a port above 0, and an ip that names one host (not unspecified or "this network",
/// broadcast or multicast). The canonical form makes the rule a property of the address rather
/// than of the parser's leniency, and gives each address one spelling.
pub fn valid_address(address: &str) -> bool {
    let Ok(socket) = address.parse::<SocketAddr>() else {
        return false;
    };
    let ip = socket.ip();
    let one_host = match ip {
        // 0.0.0.0/8 is "this network", which no peer can dial.
        std::net::IpAddr::V4(v4) => v4.octets()[0] != 0 && !v4.is_broadcast() && !v4.is_multicast(),
        // IPv4 written as IPv6, mapped or (deprecated) compatible, is refused: write it as IPv4.
        // The unspecified address `::` is one of the compatible ones.
        std::net::IpAddr::V6(v6) => {
            let compatible = v6.segments()[..6].iter().all(|s| *s == 0) && !v6.is_loopback();
            v6.to_ipv4_mapped().is_none() && !compatible && !v6.is_multicast()
        }
    };
    let plain = match socket {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.scope_id() == 0 && v6.flowinfo() == 0,
    };
    socket.port() != 0 && one_host && plain && socket.to_string() == address
}

fn register(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    chain_id: &ChainId,
    signer: &AccountId,
    register: &RegisterValidator,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let existing = Db::validator(store, signer);
    if let Some(existing) = &existing
        && existing.node_key != register.node_key
    {
        return Err(StakingError::AlreadyRegistered { account: *signer });
    }
    if let Some(account) = Db::node_key_owner(store, &register.node_key)
        && account != *signer
    {
        return Err(StakingError::NodeKeyTaken {
            node_key: register.node_key,
            account,
        });
    }
    if register.bond < params.min_bond {
        return Err(StakingError::BondTooSmall {
            bond: register.bond,
            minimum: params.min_bond,
        });
    }
    if !valid_address(register.address.as_str()) {
        return Err(StakingError::InvalidAddress {
            address: register.address.to_string(),
        });
    }
    if !register
        .key_proof
        .verify(&register.node_key, chain_id, signer)
    {
        return Err(StakingError::BadKeyProof);
    }
    if let Some(existing) = existing {
        return rebond(store, params, context, existing, register, events);
    }
    let candidate = Candidate {
        account: *signer,
        node_key: register.node_key,
        address: register.address.clone(),
        bond: register.bond,
    };
    enlist(store, params, context, &candidate, events)
}

/// A registration by a validator already registered with this node key: the bond named is the
/// new total and must be at least the old one (nothing is paid back: only `withdraw` does that,
/// after the delay). A candidate raises its bond (it must rise) and may change its address,
/// keeping its place in the order of registration. An unbonding validator stops unbonding and
/// becomes a candidate again, as a new registration (so it must find room, and its seniority
/// starts over): so a validator pushed out by a bond that then left at once takes its place back
/// without waiting out the delay.
fn rebond(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    mut validator: Validator,
    register: &RegisterValidator,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let raise = register
        .bond
        .checked_sub(validator.bond)
        .ok_or(StakingError::BondNotRaised {
            bond: register.bond,
            current: validator.bond,
        })?;
    let returning = validator.unbonding.is_some();
    if !returning && raise == 0 {
        return Err(StakingError::BondNotRaised {
            bond: register.bond,
            current: validator.bond,
        });
    }
    if returning {
        make_room(store, params, context, register.bond, events)?;
    }
    if raise > 0 {
        bank::lock(
            store,
            Module::Staking,
            &validator.account,
            AssetId::NATIVE,
            raise,
        )?;
    }
    validator.bond = register.bond;
    validator.address = register.address.clone();
    if returning {
        validator.unbonding = None;
        validator.registered_ms = context.timestamp_ms;
        validator.registered_height = context.height;
        add_candidate(store, &validator.account);
    }
    Db::put_validator(store, &validator);
    emit(
        events,
        StakingEvent::ValidatorRegistered {
            account: validator.account,
            node_key: validator.node_key,
            bond: validator.bond,
        },
    );
    Ok(())
}

/// Puts `account` on the candidate list, in account order.
fn add_candidate(store: &mut (impl Store + ?Sized), account: &AccountId) {
    let mut candidates = Db::candidates(store);
    let position = candidates
        .binary_search(account)
        .unwrap_or_else(|position| position);
    candidates.insert(position, *account);
    Db::put_candidates(store, candidates);
}

/// Makes room for a new candidate bonding `bond`: in a full registry the lowest candidate must
/// have bonded less, and starts unbonding.
fn make_room(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    bond: u128,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    if Db::candidates(store).len() < usize::from(params.max_candidates) {
        return Ok(());
    }
    let lowest = ranked_candidates(store)
        .pop()
        .expect("a full registry has a lowest candidate");
    if bond <= lowest.bond {
        return Err(StakingError::RegistryFull {
            max: params.max_candidates,
            lowest_bond: lowest.bond,
        });
    }
    start_unbonding(store, params, context, lowest, true, events);
    Ok(())
}

/// A registration that passed its checks: who, with which node, where, with what bond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub account: AccountId,
    pub node_key: AccountId,
    pub address: Text<64>,
    pub bond: u128,
}

/// Registers a validator written into the genesis file, locking its bond. Genesis is agreed by
/// every node before the chain starts, so its validators need no key proof; every other rule
/// applies (genesis validation checks them first, with the field at fault).
pub fn register_at_genesis(
    store: &mut (impl Store + ?Sized),
    validator: &Candidate,
    genesis_time_ms: u64,
) -> Result<(), StakingError> {
    let params = params::load(store);
    let context = BlockContext {
        height: 0,
        timestamp_ms: genesis_time_ms,
        proposer: validator.account,
        round: 0,
        randomness: [0; 32],
    };
    enlist(store, &params, &context, validator, &mut Vec::new())
}

/// Adds a candidate whose registration passed every check but the registry's room: pushes the
/// lowest candidate out of a full registry if the bond is larger, locks the bond, writes the
/// record and the node key's owner.
fn enlist(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    register: &Candidate,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let signer = &register.account;
    make_room(store, params, context, register.bond, events)?;
    bank::lock(
        store,
        Module::Staking,
        signer,
        AssetId::NATIVE,
        register.bond,
    )?;
    Db::put_validator(
        store,
        &Validator {
            account: *signer,
            node_key: register.node_key,
            address: register.address.clone(),
            bond: register.bond,
            registered_ms: context.timestamp_ms,
            registered_height: context.height,
            unbonding: None,
        },
    );
    Db::put_node_key(store, &register.node_key, signer);
    add_candidate(store, signer);
    emit(
        events,
        StakingEvent::ValidatorRegistered {
            account: *signer,
            node_key: register.node_key,
            bond: register.bond,
        },
    );
    Ok(())
}

/// Takes `validator` off the candidates and starts its unbonding delay.
fn start_unbonding(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    mut validator: Validator,
    evicted: bool,
    events: &mut Vec<Event>,
) {
    let free_at_ms = context
        .timestamp_ms
        .saturating_add(u64::from(params.unbonding_secs).saturating_mul(1_000));
    validator.unbonding = Some(Unbonding {
        free_at_ms,
        height: context.height,
        evicted,
    });
    Db::put_validator(store, &validator);
    let mut candidates = Db::candidates(store);
    candidates.retain(|account| *account != validator.account);
    Db::put_candidates(store, candidates);
    emit(
        events,
        StakingEvent::ValidatorUnbonding {
            account: validator.account,
            bond_free_at_ms: free_at_ms,
            evicted,
        },
    );
}

fn unbond(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    signer: &AccountId,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let validator =
        Db::validator(store, signer).ok_or(StakingError::NotRegistered { account: *signer })?;
    if let Some(unbonding) = &validator.unbonding {
        return Err(StakingError::AlreadyUnbonding {
            free_at_ms: unbonding.free_at_ms,
        });
    }
    start_unbonding(store, params, context, validator, false, events);
    Ok(())
}

fn withdraw(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let validator =
        Db::validator(store, signer).ok_or(StakingError::NotRegistered { account: *signer })?;
    let unbonding = validator
        .unbonding
        .as_ref()
        .ok_or(StakingError::NotUnbonding)?;
    if context.timestamp_ms < unbonding.free_at_ms {
        return Err(StakingError::UnbondingRunning {
            free_at_ms: unbonding.free_at_ms,
        });
    }
    bank::unlock(
        store,
        Module::Staking,
        signer,
        AssetId::NATIVE,
        validator.bond,
    )?;
    Db::delete_validator(store, signer);
    Db::delete_node_key(store, &validator.node_key);
    emit(
        events,
        StakingEvent::BondWithdrawn {
            account: *signer,
            bond: validator.bond,
        },
    );
    Ok(())
}
