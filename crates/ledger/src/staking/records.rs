//! The staking module's state: validator records, the node-key index and the candidate list.

use super::params::{MAX_CANDIDATES, MAX_COMMITTEE, MAX_NODES};
use crate::{state::read, state::write, store::Store};
use types::{AccountId, Text, codec::RangeCfg, impl_codec};

/// Table tags of the staking module (0x50-0x5f).
pub mod table {
    pub const VALIDATOR: u8 = 0x50;
    pub const NODE_KEY: u8 = 0x51;
    pub const CANDIDATES: u8 = 0x52;
    pub const PARAMS: u8 = 0x53;
    /// One epoch's committee, keyed by the epoch (8 bytes, big-endian).
    pub const EPOCH_COMMITTEE: u8 = 0x54;
    /// A registered full node, keyed by its node key.
    pub const FULL_NODE: u8 = 0x55;
    /// The registered full nodes' keys, in key order.
    pub const FULL_NODES: u8 = 0x56;
    /// A slash, keyed by the node key and the consensus epoch of the offense (8 bytes,
    /// big-endian): the amount burned. One per key and epoch, however many votes it signed.
    pub const SLASHED: u8 = 0x57;
    /// A node key proven to have signed contradictory votes, keyed by the key: it never
    /// registers again, as a validator or as a full node.
    pub const BANNED: u8 = 0x58;
    /// Who holds shares of the chain key in the epoch after the one keyed (8 bytes,
    /// big-endian), as that epoch's final block named them, until the step that releases them.
    pub const HOLDERS: u8 = 0x59;
    /// How many node keys hold shares of the chain key in the epoch after the one keyed (8
    /// bytes, big-endian), validators or not: the signers among whom that epoch's leaders
    /// rotate. Kept and released with [`HOLDERS`].
    pub const PLAYERS: u8 = 0x5a;
}

fn key_slash(node_key: &AccountId, epoch: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + AccountId::SIZE + 8);
    key.push(table::SLASHED);
    key.extend_from_slice(node_key.as_bytes());
    key.extend_from_slice(&epoch.to_be_bytes());
    key
}

fn key_epoch(epoch: u64) -> Vec<u8> {
    key_epoch_in(table::EPOCH_COMMITTEE, epoch)
}

fn key_holders(epoch: u64) -> Vec<u8> {
    key_epoch_in(table::HOLDERS, epoch)
}

fn key_players(epoch: u64) -> Vec<u8> {
    key_epoch_in(table::PLAYERS, epoch)
}

fn key_epoch_in(tag: u8, epoch: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(tag);
    key.extend_from_slice(&epoch.to_be_bytes());
    key
}

fn key_account(tag: u8, account: &AccountId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + AccountId::SIZE);
    key.push(tag);
    key.extend_from_slice(account.as_bytes());
    key
}

/// A registered validator: a candidate for the committee until it unbonds, then a bond waiting
/// out its delay until withdrawn (when the record is deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub account: AccountId,
    pub node_key: AccountId,
    pub address: Text<64>,
    /// EQA minor units the staking module holds for this validator.
    pub bond: u128,
    pub registered_ms: u64,
    pub registered_height: u64,
    pub unbonding: Option<Unbonding>,
    /// The last epoch whose committee holds this validator, once one has.
    pub last_epoch: Option<u64>,
    /// When its service ended: the start of the second epoch after `last_epoch` (a member of
    /// epoch `e`'s committee holds a share of the chain key through epoch `e + 1`, where it
    /// deals the next committee's shares). Set at that epoch's first block; cleared when the
    /// validator is elected again.
    pub served_until_ms: Option<u64>,
    /// EQA minor units burned from its bond for contradictory votes, in all. A validator once
    /// slashed is no candidate again: it unbonds, and may only withdraw what is left.
    pub slashed: u128,
    /// The last epoch in which it proposed a block that was finalized, once it has.
    pub last_proposed_epoch: Option<u64>,
    /// How many finalized blocks it proposed in `last_proposed_epoch`.
    pub proposals: u16,
    /// How many epochs in a row it held a share of the chain key in and proposed fewer than
    /// half the views it led (see `staking::begin_block`); back to zero after an epoch with
    /// enough, or when it stands again after being taken off for it.
    pub silent_epochs: u16,
}
impl_codec!(Validator {
    account,
    node_key,
    address,
    bond,
    registered_ms,
    registered_height,
    unbonding,
    last_epoch,
    served_until_ms,
    slashed,
    last_proposed_epoch,
    proposals,
    silent_epochs
});

/// A validator on its way out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbonding {
    /// The bond can be withdrawn from this block time on.
    pub free_at_ms: u64,
    /// The height of the block that started it.
    pub height: u64,
    pub reason: UnbondReason,
}
impl_codec!(Unbonding {
    free_at_ms,
    height,
    reason
});

/// Why a validator left the candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnbondReason {
    /// It unbonded by itself.
    Left,
    /// A larger bond pushed it out of a full registry.
    Outbid,
    /// It was proven to have signed contradictory votes.
    Slashed,
    /// It proposed no block in `silence_epochs` epochs in a row while it held a share.
    Silent,
}

impl UnbondReason {
    /// Whether the validator was taken off rather than leaving by itself.
    pub fn evicted(self) -> bool {
        self != Self::Left
    }
}

impl types::codec::Write for UnbondReason {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        let tag: u8 = match self {
            Self::Left => 0,
            Self::Outbid => 1,
            Self::Slashed => 2,
            Self::Silent => 3,
        };
        tag.write(buf);
    }
}

impl types::codec::EncodeSize for UnbondReason {
    fn encode_size(&self) -> usize {
        1
    }
}

impl types::codec::Read for UnbondReason {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl types::codec::Buf,
        _: &(),
    ) -> Result<Self, types::codec::CodecError> {
        match types::codec::read_tag(buf)? {
            0 => Ok(Self::Left),
            1 => Ok(Self::Outbid),
            2 => Ok(Self::Slashed),
            3 => Ok(Self::Silent),
            other => Err(types::codec::CodecError::InvalidEnum(other)),
        }
    }
}

/// The candidates' accounts, in account order.
struct Candidates {
    accounts: Vec<AccountId>,
}
impl_codec!(Candidates {
    accounts: (RangeCfg::new(0..=usize::from(MAX_CANDIDATES)), ())
});

/// A registered full node: every node admits its key as a peer while the record exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullNode {
    pub node_key: AccountId,
    /// The account that registered it, paid its deposit, and alone may unregister it.
    pub owner: AccountId,
    pub address: Text<64>,
    /// EQA minor units the staking module holds for it.
    pub deposit: u128,
    pub registered_height: u64,
}
impl_codec!(FullNode {
    node_key,
    owner,
    address,
    deposit,
    registered_height
});

/// The registered full nodes' keys, in key order.
struct FullNodes {
    keys: Vec<AccountId>,
}
impl_codec!(FullNodes {
    keys: (RangeCfg::new(0..=usize::from(MAX_NODES)), ())
});

/// A seat on an epoch's committee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub account: AccountId,
    pub node_key: AccountId,
}
impl_codec!(Member { account, node_key });

/// The committee of one epoch `E`, in rank order, fixed two epochs before it starts and never
/// changed after: the players of epoch `E`'s reshare, who sign in epoch `E + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochCommittee {
    pub members: Vec<Member>,
}
impl_codec!(EpochCommittee {
    members: (RangeCfg::new(0..=usize::from(MAX_COMMITTEE)), ())
});

/// Typed reads and writes of the staking tables.
#[derive(Debug)]
pub struct Db;

impl Db {
    pub fn validator(store: &(impl Store + ?Sized), account: &AccountId) -> Option<Validator> {
        read(store, &key_account(table::VALIDATOR, account))
    }

    pub fn put_validator(store: &mut (impl Store + ?Sized), validator: &Validator) {
        write(
            store,
            &key_account(table::VALIDATOR, &validator.account),
            validator,
        );
    }

    pub fn delete_validator(store: &mut (impl Store + ?Sized), account: &AccountId) {
        store.delete(&key_account(table::VALIDATOR, account));
    }

    /// The account that registered `node_key`, while its record exists (until withdrawn).
    pub fn node_key_owner(
        store: &(impl Store + ?Sized),
        node_key: &AccountId,
    ) -> Option<AccountId> {
        read(store, &key_account(table::NODE_KEY, node_key))
    }

    pub fn put_node_key(
        store: &mut (impl Store + ?Sized),
        node_key: &AccountId,
        account: &AccountId,
    ) {
        write(store, &key_account(table::NODE_KEY, node_key), account);
    }

    pub fn delete_node_key(store: &mut (impl Store + ?Sized), node_key: &AccountId) {
        store.delete(&key_account(table::NODE_KEY, node_key));
    }

    /// Every candidate (registered and not unbonding), in account order.
    pub fn candidates(store: &(impl Store + ?Sized)) -> Vec<AccountId> {
        read::<Candidates>(store, &[table::CANDIDATES])
            .map(|list| list.accounts)
            .unwrap_or_default()
    }

    pub fn put_candidates(store: &mut (impl Store + ?Sized), accounts: Vec<AccountId>) {
        if accounts.is_empty() {
            store.delete(&[table::CANDIDATES]);
        } else {
            write(store, &[table::CANDIDATES], &Candidates { accounts });
        }
    }

    pub fn full_node(store: &(impl Store + ?Sized), node_key: &AccountId) -> Option<FullNode> {
        read(store, &key_account(table::FULL_NODE, node_key))
    }

    pub fn put_full_node(store: &mut (impl Store + ?Sized), node: &FullNode) {
        write(store, &key_account(table::FULL_NODE, &node.node_key), node);
    }

    pub fn delete_full_node(store: &mut (impl Store + ?Sized), node_key: &AccountId) {
        store.delete(&key_account(table::FULL_NODE, node_key));
    }

    /// Every registered full node's key, in key order.
    pub fn full_nodes(store: &(impl Store + ?Sized)) -> Vec<AccountId> {
        read::<FullNodes>(store, &[table::FULL_NODES])
            .map(|list| list.keys)
            .unwrap_or_default()
    }

    pub fn put_full_nodes(store: &mut (impl Store + ?Sized), keys: Vec<AccountId>) {
        if keys.is_empty() {
            store.delete(&[table::FULL_NODES]);
        } else {
            write(store, &[table::FULL_NODES], &FullNodes { keys });
        }
    }

    /// The committee of `epoch`, while it is kept (from the epoch before the current one to
    /// two epochs ahead).
    pub fn epoch_committee(store: &(impl Store + ?Sized), epoch: u64) -> Option<EpochCommittee> {
        read(store, &key_epoch(epoch))
    }

    pub fn put_epoch_committee(
        store: &mut (impl Store + ?Sized),
        epoch: u64,
        committee: &EpochCommittee,
    ) {
        write(store, &key_epoch(epoch), committee);
    }

    /// What was burned from `node_key`'s bond for its offense in consensus epoch `epoch`, if it
    /// was slashed for it.
    pub fn slash(store: &(impl Store + ?Sized), node_key: &AccountId, epoch: u64) -> Option<u128> {
        read(store, &key_slash(node_key, epoch))
    }

    pub fn put_slash(
        store: &mut (impl Store + ?Sized),
        node_key: &AccountId,
        epoch: u64,
        amount: u128,
    ) {
        write(store, &key_slash(node_key, epoch), &amount);
    }

    /// Whether `node_key` was ever proven to have signed contradictory votes.
    pub fn banned(store: &(impl Store + ?Sized), node_key: &AccountId) -> bool {
        store.get(&key_account(table::BANNED, node_key)).is_some()
    }

    pub fn ban(store: &mut (impl Store + ?Sized), node_key: &AccountId) {
        store.put(&key_account(table::BANNED, node_key), vec![1]);
    }

    pub fn delete_epoch_committee(store: &mut (impl Store + ?Sized), epoch: u64) {
        store.delete(&key_epoch(epoch));
    }

    /// The validators holding shares in the epoch after `epoch`, as `epoch`'s final block named
    /// them (those that are validators), while kept.
    pub fn holders(store: &(impl Store + ?Sized), epoch: u64) -> Option<EpochCommittee> {
        read(store, &key_holders(epoch))
    }

    pub fn put_holders(store: &mut (impl Store + ?Sized), epoch: u64, holders: &EpochCommittee) {
        write(store, &key_holders(epoch), holders);
    }

    pub fn delete_holders(store: &mut (impl Store + ?Sized), epoch: u64) {
        store.delete(&key_holders(epoch));
    }

    /// How many node keys hold shares in the epoch after `epoch` (see [`table::PLAYERS`]).
    pub fn players(store: &(impl Store + ?Sized), epoch: u64) -> Option<u16> {
        read(store, &key_players(epoch))
    }

    pub fn put_players(store: &mut (impl Store + ?Sized), epoch: u64, players: u16) {
        write(store, &key_players(epoch), &players);
    }

    pub fn delete_players(store: &mut (impl Store + ?Sized), epoch: u64) {
        store.delete(&key_players(epoch));
    }
}
