//! The staking module's state: validator records, the node-key index and the candidate list.

use super::params::MAX_CANDIDATES;
use crate::{state::read, state::write, store::Store};
use types::{AccountId, Text, codec::RangeCfg, impl_codec};

/// Table tags of the staking module (0x50-0x5f).
pub mod table {
    pub const VALIDATOR: u8 = 0x50;
    pub const NODE_KEY: u8 = 0x51;
    pub const CANDIDATES: u8 = 0x52;
    pub const PARAMS: u8 = 0x53;
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
}
impl_codec!(Validator {
    account,
    node_key,
    address,
    bond,
    registered_ms,
    registered_height,
    unbonding
});

/// A validator on its way out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbonding {
    /// The bond can be withdrawn from this block time on.
    pub free_at_ms: u64,
    /// The height of the block that started it.
    pub height: u64,
    /// Whether it was pushed out of a full registry by a larger bond rather than left itself.
    pub evicted: bool,
}
impl_codec!(Unbonding {
    free_at_ms,
    height,
    evicted
});

/// The candidates' accounts, in account order.
struct Candidates {
    accounts: Vec<AccountId>,
}
impl_codec!(Candidates {
    accounts: (RangeCfg::new(0..=usize::from(MAX_CANDIDATES)), ())
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
}
