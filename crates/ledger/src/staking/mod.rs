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
//! **Epochs** ([`begin_block`]): epoch `e` is the `blocks_per_epoch` blocks from height
//! `e * L`. The committee of epoch `E` is the set of players of that epoch's reshare (what
//! glue's dkg asks its `ParticipantsProvider` for as `participants(E)`): its members receive
//! their shares of the chain key during epoch `E`, then sign and deal during epoch `E + 1`. So
//! the validators signing in epoch `E` are the committee of `E - 1` (in epoch 0, the genesis
//! validators, who are also the committee of epoch 0). The first block of epoch `e` fixes the
//! committee of epoch `e + 2` from the registry as it stood at the end of the block before (so
//! no ordering of calls within the boundary block changes it), and nothing changes a committee
//! once written. Genesis fixes epochs 0 to 2. An
//! election that would leave fewer than [`params::MIN_COMMITTEE`] members, and fewer than the
//! epoch before, carries the previous committee over instead: members cannot all leave at once
//! and stop the chain; they are released when others have taken their seats.
//!
//! **Bonds** sit in the bank's staking total (so conservation covers them) from registration
//! until withdrawal. A bond stays locked `unbonding_secs` after the later of its validator's
//! unbonding and the end of its service: a member of epoch `e`'s committee holds a share of the
//! chain key until the end of epoch `e + 1` (it deals the next committee's shares there). So
//! evidence of what a validator did while it held a share can still reach its bond.
//!
//! **Node keys** are registered with a signature by the key itself over the chain and the
//! registering account, so nobody can register a key they do not hold, replay another
//! account's registration, or keep an operator's key from registering by claiming it first. A
//! key stays taken until its bond is withdrawn.
//!
//! **Full nodes** register their node keys against a deposit (`node_deposit`), so that every
//! node admits them as peers ([`Db::full_nodes`]). A key is either a validator's or a full
//! node's, never both. The registry holds at most `max_nodes` keys; a full one admits a new key
//! only with a deposit strictly above the lowest, whose key is then unregistered and its deposit
//! returned. A full node signs nothing the chain could hold against it, but its owner may
//! unregister it only once the epoch after its registration has ended
//! ([`node_release_height`]), so that its deposit stood for every epoch peers admitted it.
//!
//! **A full registry** (`max_candidates`) admits a new candidate only with a bond strictly
//! above the lowest candidate's; the lowest then unbonds as if it had left itself. So filling
//! the registry with minimum bonds cannot keep anyone with more at stake out.

mod error;
pub mod params;
pub mod records;

pub use error::StakingError;
pub use params::StakingParams;
pub use records::{Db, EpochCommittee, FullNode, Member, UnbondReason, Unbonding, Validator};

/// How many epochs ahead a committee is fixed: the committee of epoch `e + 2` is fixed by the
/// first block of epoch `e`.
pub const LOOKAHEAD_EPOCHS: u64 = 2;

use crate::{BlockContext, bank, receipt::Event, state::Module, store::Store};
use std::{cmp::Ordering, net::SocketAddr};
use types::{
    AccountId, AssetId, ChainId, Text,
    staking::{RegisterNode, RegisterValidator, StakingCall},
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
    /// A full node's key registered, or registered again by its owner: `deposit` is the whole
    /// deposit after it.
    NodeRegistered {
        owner: AccountId,
        node_key: AccountId,
        deposit: u128,
    },
    /// A full node's key unregistered, by its owner or pushed out of a full registry by a larger
    /// deposit (`evicted`); the deposit went back to the owner.
    NodeUnregistered {
        owner: AccountId,
        node_key: AccountId,
        deposit: u128,
        evicted: bool,
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
        StakingCall::RegisterNode(register) => {
            let chain_id = crate::state::chain_id(store);
            register_node(store, &params, context, &chain_id, signer, register, events)
        }
        StakingCall::UnregisterNode(call) => {
            let node =
                Db::full_node(store, &call.node_key).ok_or(StakingError::NodeNotRegistered {
                    node_key: call.node_key,
                })?;
            if node.owner != *signer {
                return Err(StakingError::NotNodeOwner {
                    node_key: node.node_key,
                    owner: node.owner,
                });
            }
            let from_height = node_release_height(&params, &node);
            if context.height < from_height {
                return Err(StakingError::NodeStillAdmitted {
                    registered_height: node.registered_height,
                    from_height,
                });
            }
            unregister_node(store, node, false, events)
        }
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
    if let Some(existing) = &existing
        && existing.slashed > 0
    {
        return Err(StakingError::Slashed {
            slashed: existing.slashed,
        });
    }
    if Db::banned(store, &register.node_key) {
        return Err(StakingError::NodeKeyBanned {
            node_key: register.node_key,
        });
    }
    if let Some(account) = Db::node_key_owner(store, &register.node_key)
        && account != *signer
    {
        return Err(StakingError::NodeKeyTaken {
            node_key: register.node_key,
            account,
        });
    }
    if let Some(node) = Db::full_node(store, &register.node_key) {
        return Err(StakingError::NodeKeyTaken {
            node_key: register.node_key,
            account: node.owner,
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
    // Taken off for silence: back only once the bond is free, as a withdrawal and a new
    // registration would be, and counted from zero then.
    if let Some(unbonding) = &validator.unbonding
        && unbonding.reason == UnbondReason::Silent
    {
        let silent_epochs = validator.silent_epochs;
        match release(params, &validator) {
            Some(Release::Serving { until_height, .. }) => {
                return Err(StakingError::SilentServing {
                    silent_epochs,
                    until_height,
                });
            }
            Some(Release::At(free_at_ms)) if context.timestamp_ms < free_at_ms => {
                return Err(StakingError::SilentUntil {
                    silent_epochs,
                    free_at_ms,
                });
            }
            _ => validator.silent_epochs = 0,
        }
    }
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
    start_unbonding(store, params, context, lowest, UnbondReason::Outbid, events);
    Ok(())
}

fn register_node(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    chain_id: &ChainId,
    signer: &AccountId,
    register: &RegisterNode,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    if Db::banned(store, &register.node_key) {
        return Err(StakingError::NodeKeyBanned {
            node_key: register.node_key,
        });
    }
    if let Some(account) = Db::node_key_owner(store, &register.node_key) {
        return Err(StakingError::NodeKeyTaken {
            node_key: register.node_key,
            account,
        });
    }
    let existing = Db::full_node(store, &register.node_key);
    if let Some(existing) = &existing
        && existing.owner != *signer
    {
        return Err(StakingError::NodeKeyTaken {
            node_key: register.node_key,
            account: existing.owner,
        });
    }
    if register.deposit < params.node_deposit {
        return Err(StakingError::DepositTooSmall {
            deposit: register.deposit,
            minimum: params.node_deposit,
        });
    }
    if !valid_address(register.address.as_str()) {
        return Err(StakingError::InvalidAddress {
            address: register.address.to_string(),
        });
    }
    if !register
        .key_proof
        .verify_node(&register.node_key, chain_id, signer)
    {
        return Err(StakingError::BadKeyProof);
    }
    let node = FullNode {
        node_key: register.node_key,
        owner: *signer,
        address: register.address.clone(),
        deposit: register.deposit,
        registered_height: context.height,
    };
    match existing {
        Some(existing) => {
            let raise = register.deposit.checked_sub(existing.deposit).ok_or(
                StakingError::DepositNotRaised {
                    deposit: register.deposit,
                    current: existing.deposit,
                },
            )?;
            if raise > 0 {
                bank::lock(store, Module::Staking, signer, AssetId::NATIVE, raise)?;
            }
            // Its place among the registered keys does not start over.
            Db::put_full_node(
                store,
                &FullNode {
                    registered_height: existing.registered_height,
                    ..node
                },
            );
        }
        None => enroll_node(store, params, &node, events)?,
    }
    emit(
        events,
        StakingEvent::NodeRegistered {
            owner: *signer,
            node_key: register.node_key,
            deposit: register.deposit,
        },
    );
    Ok(())
}

/// Adds a full node whose registration passed every check but the registry's room: unregisters
/// the lowest deposit of a full registry if `node`'s is larger, locks the deposit, writes the
/// record and the key.
fn enroll_node(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    node: &FullNode,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    let keys = Db::full_nodes(store);
    if keys.len() >= usize::from(params.max_nodes) {
        // The lowest deposit, the latest registered among equals, then the higher key.
        let lowest = keys
            .iter()
            .filter_map(|key| Db::full_node(store, key))
            .min_by(|a, b| {
                a.deposit
                    .cmp(&b.deposit)
                    .then(b.registered_height.cmp(&a.registered_height))
                    .then(b.node_key.cmp(&a.node_key))
            })
            .expect("a full registry has a lowest key");
        if node.deposit <= lowest.deposit {
            return Err(StakingError::NodeRegistryFull {
                max: params.max_nodes,
                lowest_deposit: lowest.deposit,
            });
        }
        unregister_node(store, lowest, true, events)?;
    }
    bank::lock(
        store,
        Module::Staking,
        &node.owner,
        AssetId::NATIVE,
        node.deposit,
    )?;
    Db::put_full_node(store, node);
    let mut keys = Db::full_nodes(store);
    let position = keys
        .binary_search(&node.node_key)
        .unwrap_or_else(|position| position);
    keys.insert(position, node.node_key);
    Db::put_full_nodes(store, keys);
    Ok(())
}

/// Deletes `node`'s registration and returns its deposit to its owner.
fn unregister_node(
    store: &mut (impl Store + ?Sized),
    node: FullNode,
    evicted: bool,
    events: &mut Vec<Event>,
) -> Result<(), StakingError> {
    bank::unlock(
        store,
        Module::Staking,
        &node.owner,
        AssetId::NATIVE,
        node.deposit,
    )?;
    Db::delete_full_node(store, &node.node_key);
    let mut keys = Db::full_nodes(store);
    keys.retain(|key| *key != node.node_key);
    Db::put_full_nodes(store, keys);
    emit(
        events,
        StakingEvent::NodeUnregistered {
            owner: node.owner,
            node_key: node.node_key,
            deposit: node.deposit,
            evicted,
        },
    );
    Ok(())
}

/// The first height at which `node`'s owner may unregister it: the first block of the second
/// epoch after the one it registered in. Peers read the registry when an epoch starts, so a key
/// registered in epoch `e` is admitted through epoch `e + 1`; its deposit stands for all of it.
/// Without this, a deposit returned in the block it was paid would let anyone fill every
/// node's peer sets, or push every honest node out of a full registry, for fees alone. An
/// eviction still returns the evicted deposit at once: its owner did not choose the timing.
pub fn node_release_height(params: &StakingParams, node: &FullNode) -> u64 {
    params.first_height(params.epoch_of(node.registered_height).saturating_add(2))
}

/// Every registered full node, in key order.
pub fn full_nodes(store: &(impl Store + ?Sized)) -> Vec<FullNode> {
    Db::full_nodes(store)
        .iter()
        .filter_map(|key| Db::full_node(store, key))
        .collect()
}

/// Registers a full node written into the genesis file, locking its deposit; genesis
/// validation checks the rules first, with the field at fault.
pub fn register_node_at_genesis(
    store: &mut (impl Store + ?Sized),
    node: &FullNode,
) -> Result<(), StakingError> {
    let params = params::load(store);
    enroll_node(store, &params, node, &mut Vec::new())
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
        seeded: true,
        randomness: [0; 32],
        offenses: Vec::new(),
        next_holders: None,
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
            last_epoch: None,
            served_until_ms: None,
            slashed: 0,
            last_proposed_epoch: None,
            proposals: 0,
            silent_epochs: 0,
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
    reason: UnbondReason,
    events: &mut Vec<Event>,
) {
    let free_at_ms = context
        .timestamp_ms
        .saturating_add(u64::from(params.unbonding_secs).saturating_mul(1_000));
    validator.unbonding = Some(Unbonding {
        free_at_ms,
        height: context.height,
        reason,
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
            evicted: reason.evicted(),
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
    start_unbonding(
        store,
        params,
        context,
        validator,
        UnbondReason::Left,
        events,
    );
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
    match release(&params::load(store), &validator).ok_or(StakingError::NotUnbonding)? {
        Release::Serving {
            epoch,
            until_height,
        } => {
            return Err(StakingError::StillServing {
                epoch,
                until_height,
            });
        }
        Release::At(free_at_ms) if context.timestamp_ms < free_at_ms => {
            return Err(StakingError::UnbondingRunning { free_at_ms });
        }
        Release::At(_) => {}
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

/// What a block does for each proven offense before its transactions: burns `slash_bps` of the
/// offender's bond (rounded up), once per node key and consensus epoch, and, if it is still a
/// candidate, starts its unbonding, so it is elected to no committee fixed after this block
/// (those already fixed keep it: their keys are dealt). It may not stand again with this
/// registration, and the node key is banned for good: no account registers it again, as a
/// validator or a full node (another key costs a new bond, from which a new offense burns
/// again). An offense of a key no validator holds any more (its bond withdrawn, or a
/// full node's key) burns nothing but is settled all the same; one already settled does
/// nothing. Returns what was burned.
pub fn slash(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    offense: &crate::Offense,
) -> Result<u128, StakingError> {
    let Some(params) = params::try_load(store) else {
        return Ok(0);
    };
    if Db::slash(store, &offense.node_key, offense.epoch).is_some() {
        return Ok(0);
    }
    Db::ban(store, &offense.node_key);
    let Some(mut validator) = Db::node_key_owner(store, &offense.node_key)
        .and_then(|account| Db::validator(store, &account))
    else {
        // Settled with nothing burned, so no later block carries the evidence again.
        Db::put_slash(store, &offense.node_key, offense.epoch, 0);
        return Ok(0);
    };
    // A share of at most the whole bond, so the product's quotient never exceeds the bond.
    let amount = crate::math::mul_div_ceil(
        validator.bond,
        u128::from(params.slash_bps),
        u128::from(params::MAX_SLASH_BPS),
    )
    .unwrap_or(validator.bond)
    .min(validator.bond);
    bank::burn_held(store, Module::Staking, AssetId::NATIVE, amount)?;
    validator.bond = validator
        .bond
        .checked_sub(amount)
        .expect("a slash takes at most the bond");
    validator.slashed = validator.slashed.saturating_add(amount);
    // Already leaving (by itself, outbid or silent): it leaves slashed, on the same delay.
    if let Some(unbonding) = validator.unbonding.as_mut() {
        unbonding.reason = UnbondReason::Slashed;
    }
    Db::put_validator(store, &validator);
    Db::put_slash(store, &offense.node_key, offense.epoch, amount);
    if validator.unbonding.is_none() {
        start_unbonding(
            store,
            &params,
            context,
            validator,
            UnbondReason::Slashed,
            &mut Vec::new(),
        );
    }
    Ok(amount)
}

/// When an unbonding validator's bond may be withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// It still sits on the committee of `epoch` (or holds that committee's share in the epoch
    /// after); its service ends with the block at `until_height`, and the delay runs from then.
    Serving { epoch: u64, until_height: u64 },
    /// From this block time on.
    At(u64),
}

/// When `validator`'s bond is free, if it is unbonding: `unbonding_secs` after the later of its
/// unbonding and the end of its service on committees.
pub fn release(params: &StakingParams, validator: &Validator) -> Option<Release> {
    let unbonding = validator.unbonding.as_ref()?;
    let delay_ms = u64::from(params.unbonding_secs).saturating_mul(1_000);
    Some(match (validator.last_epoch, validator.served_until_ms) {
        (None, _) => Release::At(unbonding.free_at_ms),
        (Some(epoch), None) => Release::Serving {
            epoch,
            until_height: params.first_height(epoch.saturating_add(2)),
        },
        (Some(_), Some(served)) => {
            Release::At(unbonding.free_at_ms.max(served.saturating_add(delay_ms)))
        }
    })
}

/// The committee of `epoch`: the one written for it, or, if none was (an epoch boundary whose
/// staking step failed, see [`begin_block`]), the latest written before it. `None` only for an
/// epoch whose committee and every earlier one are no longer kept.
pub fn epoch_committee(store: &(impl Store + ?Sized), epoch: u64) -> Option<EpochCommittee> {
    // Kept: the epoch before the current one to two ahead, so four lookups reach any of them.
    (0..4)
        .filter_map(|back| epoch.checked_sub(back))
        .find_map(|epoch| Db::epoch_committee(store, epoch))
}

/// Fixes the committee of `epoch` from the registry, or carries `previous` over when the
/// election would shrink the committee below [`params::MIN_COMMITTEE`], and marks each member's
/// last epoch.
fn fix_committee(
    store: &mut (impl Store + ?Sized),
    epoch: u64,
    previous: Option<&EpochCommittee>,
) -> EpochCommittee {
    let elected: Vec<Member> = committee(store)
        .into_iter()
        .map(|validator| Member {
            account: validator.account,
            node_key: validator.node_key,
        })
        .collect();
    let previous_len = previous.map_or(0, |committee| committee.members.len());
    let members = match previous {
        Some(previous)
            if elected.len() < usize::from(params::MIN_COMMITTEE)
                && elected.len() < previous_len =>
        {
            previous.members.clone()
        }
        _ => elected,
    };
    let committee = EpochCommittee { members };
    seat(store, epoch, &committee);
    committee
}

/// Writes `committee` as the committee of `epoch` and marks each member's last epoch.
fn seat(store: &mut (impl Store + ?Sized), epoch: u64, committee: &EpochCommittee) {
    for member in &committee.members {
        if let Some(mut validator) = Db::validator(store, &member.account) {
            validator.last_epoch = Some(epoch);
            validator.served_until_ms = None;
            Db::put_validator(store, &validator);
        }
    }
    Db::put_epoch_committee(store, epoch, committee);
}

/// Fixes the committees of epochs 0 to 2 from the genesis registry. Called once, after the
/// genesis validators are registered.
pub fn open_epochs(store: &mut (impl Store + ?Sized)) {
    let mut previous = None;
    for epoch in 0..=LOOKAHEAD_EPOCHS {
        previous = Some(fix_committee(store, epoch, previous.as_ref()));
    }
}

/// What an epoch's final block does with the next epoch's share holders it names
/// (`BlockContext::next_holders`): each one that is a validator serves through that epoch, as a
/// member of this epoch's committee does (its last epoch becomes this one, and a release already
/// marked is taken back), and the holders are kept until the step that releases them (the first
/// block of the epoch after next, with this epoch's committee). When this epoch's resharing
/// succeeded the holders are this epoch's committee, whose members serve that long already, and
/// nothing changes; when it failed they are the previous holders, who sign on, and their bonds
/// stay locked while they do.
pub fn record_holders(store: &mut (impl Store + ?Sized), context: &BlockContext) {
    let Some(holders) = &context.next_holders else {
        return;
    };
    let Some(params) = params::try_load(store) else {
        return;
    };
    let epoch = params.epoch_of(context.height);
    // Only an epoch's final block names holders.
    if params.first_height(epoch.saturating_add(1)) != context.height.saturating_add(1) {
        return;
    }
    // The only possible holders: this epoch's committee (resharing succeeded) or this epoch's
    // holders (failed): those the previous final block named, or the previous committee.
    let plausible: std::collections::BTreeSet<AccountId> = [
        Db::epoch_committee(store, epoch),
        epoch.checked_sub(1).and_then(|e| Db::holders(store, e)),
        epoch
            .checked_sub(1)
            .and_then(|e| Db::epoch_committee(store, e)),
    ]
    .into_iter()
    .flatten()
    .flat_map(|c| c.members.into_iter().map(|m| m.account))
    .collect();
    let mut members: Vec<Member> = Db::holders(store, epoch).map_or_else(Vec::new, |h| h.members);
    for node_key in holders {
        let Some(mut validator) =
            Db::node_key_owner(store, node_key).and_then(|account| Db::validator(store, &account))
        else {
            continue;
        };
        if !plausible.contains(&validator.account)
            || members.iter().any(|m| m.account == validator.account)
            || members.len() >= usize::from(params::MAX_COMMITTEE)
        {
            continue;
        }
        if validator.last_epoch.is_none_or(|last| last < epoch) {
            validator.last_epoch = Some(epoch);
            validator.served_until_ms = None;
            Db::put_validator(store, &validator);
        }
        members.push(Member {
            account: validator.account,
            node_key: validator.node_key,
        });
    }
    Db::put_holders(store, epoch, &EpochCommittee { members });
    let players: std::collections::BTreeSet<&AccountId> = holders.iter().collect();
    Db::put_players(
        store,
        epoch,
        u16::try_from(players.len()).unwrap_or(u16::MAX),
    );
}

/// The fewest views each signer of an epoch must have led for a silence in it to count: under
/// round robin each of `n` signers leads one of every `n` consecutive views, and an epoch of
/// `blocks_per_epoch` blocks spans at least as many views, so each led at least
/// `blocks_per_epoch / n` (four or more whenever the committee is no larger than
/// `committee_size`, which the parameters require).
pub const MIN_LED_VIEWS: u64 = 4;

/// Counts this block for the validator whose node key proposed it, if any, among its proposals
/// of `epoch`. One record write per block.
fn note_proposer(store: &mut (impl Store + ?Sized), context: &BlockContext, epoch: u64) {
    let Some(mut validator) = Db::node_key_owner(store, &context.proposer)
        .and_then(|account| Db::validator(store, &account))
    else {
        return;
    };
    if validator.last_proposed_epoch == Some(epoch) {
        validator.proposals = validator.proposals.saturating_add(1);
    } else {
        validator.last_proposed_epoch = Some(epoch);
        validator.proposals = 1;
    }
    Db::put_validator(store, &validator);
}

/// At the first block of epoch `e`: each validator that held a share of the chain key in epoch
/// `e - 1` (the holders the final block of `e - 2` named, who signed and led views in `e - 1`)
/// and proposed fewer than half of the views it surely led there (`blocks_per_epoch / n` for
/// `n` signers) counts one more silent epoch; one that proposed at least that starts again
/// from zero. At `silence_epochs` in a row it is taken off the candidates and unbonds,
/// so the committee fixed at this block no longer elects it (those fixed already keep it: their
/// keys are dealt). Nothing is burned: an honest validator can be down, but a seat held by a
/// node that does not take part makes every one of its views wait out a timeout, and enough of
/// them stop the chain.
///
/// Judged only when every signer of `e - 1` led at least [`MIN_LED_VIEWS`] of its views, so a
/// silence is never one or two unlucky views. A validator taken off for silence may stand
/// again only once its bond is free (`rebond`), so it cannot step out of a judgment and back
/// onto the next committee. A proposal is what the ledger can attribute: a block names
/// the leader of its view, which consensus checked, while a threshold certificate names no
/// voters. So a validator that proposes but never votes is not caught here.
fn judge_silence(
    store: &mut (impl Store + ?Sized),
    params: &StakingParams,
    context: &BlockContext,
    epoch: u64,
) {
    let Some(judged) = epoch.checked_sub(1) else {
        return;
    };
    let Some(named) = judged.checked_sub(1) else {
        return;
    };
    let (Some(holders), Some(players)) = (Db::holders(store, named), Db::players(store, named))
    else {
        return;
    };
    let led = params
        .blocks_per_epoch
        .checked_div(u64::from(players))
        .unwrap_or(0);
    if led < MIN_LED_VIEWS {
        return;
    }
    // An honest member's proposal in nearly every view it leads is finalized; one that lets
    // most of its views time out is as good as absent.
    let required = led / 2;
    for member in &holders.members {
        let Some(mut validator) = Db::validator(store, &member.account) else {
            continue;
        };
        if validator.node_key != member.node_key {
            continue;
        }
        let proposed = if validator.last_proposed_epoch == Some(judged) {
            validator.proposals
        } else {
            0
        };
        if u64::from(proposed) >= required {
            if validator.silent_epochs != 0 {
                validator.silent_epochs = 0;
                Db::put_validator(store, &validator);
            }
            continue;
        }
        validator.silent_epochs = validator.silent_epochs.saturating_add(1);
        if validator.silent_epochs >= params.silence_epochs && validator.unbonding.is_none() {
            start_unbonding(
                store,
                params,
                context,
                validator,
                UnbondReason::Silent,
                &mut Vec::new(),
            );
        } else {
            Db::put_validator(store, &validator);
        }
    }
}

/// How far back an epoch's first block looks for committees to retire: beyond the one two
/// epochs back, those a failed step left behind (see [`carry_over`]).
const RETIRE_LOOKBACK: u64 = 8;

/// What the first block of each epoch does before its transactions. At the first block of
/// epoch `e`: the members of epoch `e - 2`'s committee who sit on no later one have served (their
/// delay starts at this block's time), that committee is no longer kept, and the committee of
/// epoch `e + 2` is fixed from the registry. Any other block does nothing here.
pub fn begin_block(store: &mut (impl Store + ?Sized), context: &BlockContext) {
    epoch_step(store, context, true);
}

/// The step of [`begin_block`] with no election: the committee of epoch `e + 1` is carried over
/// to `e + 2`. The block runs it when [`begin_block`] panicked (its writes are dropped), so that
/// every epoch still has its committee, and the committees before still retire and release
/// their members on time.
pub fn carry_over(store: &mut (impl Store + ?Sized), context: &BlockContext) {
    epoch_step(store, context, false);
}

fn epoch_step(store: &mut (impl Store + ?Sized), context: &BlockContext, elect: bool) {
    let Some(params) = params::try_load(store) else {
        return;
    };
    let epoch = params.epoch_of(context.height);
    let first = context.height != 0 && params.first_height(epoch) == context.height;
    // Before this block's proposer is noted: its proposal is of this epoch, not the one judged.
    if first && elect {
        judge_silence(store, &params, context, epoch);
    }
    note_proposer(store, context, epoch);
    if !first {
        return;
    }
    // Normally only the committee of `e - 2` is left to retire; older ones only if a step
    // failed to run at all.
    let retire = epoch.saturating_sub(RETIRE_LOOKBACK.saturating_add(1))..epoch.saturating_sub(1);
    for ended in retire.rev() {
        // The committee of `ended`, and those who held shares after it (the same validators
        // unless that epoch's resharing failed; see `record_holders`).
        let committee = Db::epoch_committee(store, ended);
        let holders = Db::holders(store, ended);
        for member in committee
            .iter()
            .chain(holders.iter())
            .flat_map(|c| &c.members)
        {
            if let Some(mut validator) = Db::validator(store, &member.account)
                && validator.last_epoch == Some(ended)
                && validator.served_until_ms.is_none()
            {
                validator.served_until_ms = Some(context.timestamp_ms);
                Db::put_validator(store, &validator);
            }
        }
        if committee.is_some() {
            Db::delete_epoch_committee(store, ended);
        }
        if holders.is_some() {
            Db::delete_holders(store, ended);
        }
        Db::delete_players(store, ended);
    }
    let ahead = epoch.saturating_add(LOOKAHEAD_EPOCHS);
    let previous = epoch_committee(store, ahead.saturating_sub(1));
    if elect {
        fix_committee(store, ahead, previous.as_ref());
    } else {
        let carried = previous.unwrap_or(EpochCommittee {
            members: Vec::new(),
        });
        seat(store, ahead, &carried);
    }
}
