//! Per-account indexes of the records an account takes part in, kept in the ledger's state so
//! that every node, and every proof against the state root, agrees on them.
//!
//! One empty record per (account, kind, id): `[TABLE, account (32), kind, id (8, big-endian)]`.
//! Listing an account's trades, loans or offers is then a walk over its own keys in an ordered
//! store, whatever the number of records in the ledger, instead of a scan of every id ever made.
//!
//! An entry says the account is or was part of the record. Offers and credit offers leave the
//! index when they are deleted, and a lender's loan when it withdraws its funding; trades and
//! loans are never deleted, so their entries are the account's history. A trade's former
//! arbitrator (after a reassignment) keeps its entry, so readers check the relation on the record
//! itself.
//!
//! Entries are written by the typed record writers (`market::Db`, `lending::Db`) only, and only
//! when absent, so rewriting a record does not rewrite its index entries.

use crate::store::{MemoryStore, Store};
use types::AccountId;

/// The state table that holds the per-account indexes.
pub const TABLE: u8 = 0x07;
/// The state table that lists the loan requests still collecting lenders: one empty record per
/// loan id, kept by `lending::Db::put_loan`.
pub const FUNDING_LOANS: u8 = 0x08;
/// The state table that lists the disbursed loans not yet repaid or defaulted: one empty record
/// per loan id, kept by `lending::Db::put_loan`.
pub const ACTIVE_LOANS: u8 = 0x09;

/// What an index entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A market offer the account made (removed with the offer).
    Offer = 1,
    /// A trade the account is buyer, seller or (now or earlier) arbitrator of.
    Trade = 2,
    /// A loan the account borrows or funds (removed when a lender withdraws).
    Loan = 3,
    /// A credit offer the account made (removed with the offer).
    CreditOffer = 4,
}

/// The key of one entry.
pub fn key(account: &AccountId, kind: Kind, id: u64) -> Vec<u8> {
    let mut key = prefix(account, kind);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The prefix under which all of `account`'s entries of `kind` lie, in id order.
pub fn prefix(account: &AccountId, kind: Kind) -> Vec<u8> {
    let mut key = Vec::with_capacity(42);
    key.push(TABLE);
    key.extend_from_slice(account.as_bytes());
    key.push(kind as u8);
    key
}

/// The id an entry's key points at, if `key` is an entry under `prefix`.
pub fn id_of(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// Records that `account` takes part in record `id` of `kind`; writes only if absent.
pub fn add(store: &mut (impl Store + ?Sized), account: &AccountId, kind: Kind, id: u64) {
    let key = key(account, kind, id);
    if store.get(&key).is_none() {
        store.put(&key, Vec::new());
    }
}

/// Removes `account`'s entry for record `id` of `kind`.
pub fn remove(store: &mut (impl Store + ?Sized), account: &AccountId, kind: Kind, id: u64) {
    store.delete(&key(account, kind, id));
}

/// The ids of `account`'s entries of `kind`, in increasing order. A walk over that account's
/// keys alone: the cost depends on how many entries it has, not on the size of the ledger.
pub fn ids<'a>(
    store: &'a MemoryStore,
    account: &AccountId,
    kind: Kind,
) -> impl DoubleEndedIterator<Item = u64> + 'a {
    let prefix = prefix(account, kind);
    store
        .scan_prefix(&prefix)
        .filter_map(move |(key, _)| id_of(&prefix, &key))
}

/// The account, kind and id of an entry's key, if it is one.
pub fn parse(key: &[u8]) -> Option<(AccountId, Kind, u64)> {
    let rest = key.strip_prefix(&[TABLE])?;
    if rest.len() != 32 + 1 + 8 {
        return None;
    }
    let account = AccountId::from_bytes(rest[..32].try_into().ok()?).ok()?;
    let kind = match rest[32] {
        1 => Kind::Offer,
        2 => Kind::Trade,
        3 => Kind::Loan,
        4 => Kind::CreditOffer,
        _ => return None,
    };
    Some((
        account,
        kind,
        u64::from_be_bytes(rest[33..].try_into().ok()?),
    ))
}

/// The key of loan `id` in the list `table` ([`FUNDING_LOANS`] or [`ACTIVE_LOANS`]).
pub fn loan_list_key(table: u8, id: u64) -> Vec<u8> {
    let mut key = vec![table];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Lists loan `id` in `table` or not; writes only when that changes.
pub fn set_listed_loan(store: &mut (impl Store + ?Sized), table: u8, id: u64, listed: bool) {
    let key = loan_list_key(table, id);
    match (listed, store.get(&key).is_some()) {
        (true, false) => store.put(&key, Vec::new()),
        (false, true) => store.delete(&key),
        _ => {}
    }
}

/// The ids listed in `table`, in increasing order: a walk over those alone, whatever the number
/// of loans ever made.
pub fn listed_loans(store: &MemoryStore, table: u8) -> impl DoubleEndedIterator<Item = u64> + '_ {
    store
        .scan_prefix(&[table])
        .filter_map(move |(key, _)| id_of(&[table], &key))
}

/// The ids of the loans still collecting lenders, in increasing order.
pub fn funding_loans(store: &MemoryStore) -> impl DoubleEndedIterator<Item = u64> + '_ {
    listed_loans(store, FUNDING_LOANS)
}

/// The ids of the active loans (disbursed, not yet repaid or defaulted), in increasing order.
pub fn active_loans(store: &MemoryStore) -> impl DoubleEndedIterator<Item = u64> + '_ {
    listed_loans(store, ACTIVE_LOANS)
}
