//! Read-only views of lending for the API. An account's loans come from its index
//! ([`crate::index`]), the open requests from the list of loans collecting lenders, and the
//! credit book from the live offers alone.

use super::records::{CreditOffer, Db, Loan, LoanState, table};
use crate::{
    index::{self, Kind},
    store::{MemoryStore, Store},
};
use types::{AccountId, AssetId};

/// How to order the credit book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Lowest rate first.
    Rate,
    /// Shortest term first.
    Term,
    /// Most collateral per unit of principal first.
    CollateralRatio,
}

/// Collateral per unit of principal, in millionths (0 without collateral).
pub fn collateral_ratio(loan: &Loan) -> u128 {
    loan.collateral.map_or(0, |c| {
        super::math::mul_div_floor(c.amount, 1_000_000, loan.principal).unwrap_or(u128::MAX)
    })
}

/// Requests still collecting lenders, optionally for one asset.
pub fn open_requests(store: &MemoryStore, asset: Option<AssetId>, sort: SortBy) -> Vec<Loan> {
    let mut found: Vec<Loan> = index::funding_loans(store)
        .filter_map(|id| Db::loan(store, id))
        .filter(|loan| loan.state == LoanState::Funding)
        .filter(|loan| asset.is_none_or(|a| loan.asset == a))
        .collect();
    match sort {
        SortBy::Rate => found.sort_by_key(|l| (l.rate_bps, l.id)),
        SortBy::Term => found.sort_by_key(|l| (l.term_days, l.id)),
        SortBy::CollateralRatio => {
            found.sort_by_key(|l| (std::cmp::Reverse(collateral_ratio(l)), l.id))
        }
    }
    found
}

/// Credit offers, optionally for one asset, lowest rate first.
pub fn credit_offers(
    store: &MemoryStore,
    asset: Option<AssetId>,
    sort: SortBy,
) -> Vec<CreditOffer> {
    let found = store
        .scan_prefix(&[table::CREDIT_OFFER])
        .filter_map(|(key, _)| index::id_of(&[table::CREDIT_OFFER], &key))
        .filter_map(|id| Db::credit_offer(store, id))
        .filter(|offer| asset.is_none_or(|a| offer.asset == a))
        .collect();
    sort_credit_offers(found, sort)
}

/// `lender`'s credit offers, optionally for one asset, sorted as [`credit_offers`]: read
/// through the lender's index, so the cost follows its own offers, not the whole book.
pub fn credit_offers_of(
    store: &MemoryStore,
    lender: &AccountId,
    asset: Option<AssetId>,
    sort: SortBy,
) -> Vec<CreditOffer> {
    let found = index::ids(store, lender, Kind::CreditOffer)
        .filter_map(|id| Db::credit_offer(store, id))
        .filter(|offer| &offer.lender == lender)
        .filter(|offer| asset.is_none_or(|a| offer.asset == a))
        .collect();
    sort_credit_offers(found, sort)
}

fn sort_credit_offers(mut found: Vec<CreditOffer>, sort: SortBy) -> Vec<CreditOffer> {
    match sort {
        SortBy::Rate => found.sort_by_key(|o| (o.rate_bps, o.id)),
        SortBy::Term => found.sort_by_key(|o| (o.term_days, o.id)),
        SortBy::CollateralRatio => {
            found.sort_by_key(|o| (std::cmp::Reverse(o.collateral_per_unit), o.id))
        }
    }
    found
}

pub fn loans_of_borrower(store: &MemoryStore, borrower: &AccountId) -> Vec<Loan> {
    index::ids(store, borrower, Kind::Loan)
        .filter_map(|id| Db::loan(store, id))
        .filter(|loan| &loan.borrower == borrower)
        .collect()
}

pub fn loans_of_lender(store: &MemoryStore, lender: &AccountId) -> Vec<Loan> {
    index::ids(store, lender, Kind::Loan)
        .filter(|id| Db::position(store, *id, lender).is_some())
        .filter_map(|id| Db::loan(store, id))
        .collect()
}

/// What a loan owes at `now_ms`, by the waterfall's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmountDue {
    pub late_fee: u128,
    pub interest: u128,
    /// Principal whose due date has passed.
    pub principal_due: u128,
    /// All principal still owed, due or not.
    pub principal_outstanding: u128,
}

impl AmountDue {
    /// What must be paid now to be up to date.
    pub fn now(&self) -> u128 {
        self.late_fee
            .saturating_add(self.interest)
            .saturating_add(self.principal_due)
    }
}

/// What `loan` owes at `now_ms` (not before its last accrual).
pub fn amount_due(store: &(impl Store + ?Sized), loan: u64, now_ms: u64) -> Option<AmountDue> {
    let mut loan = Db::loan(store, loan)?;
    if !matches!(loan.state, LoanState::Active | LoanState::Defaulted) {
        return None;
    }
    let params = super::params::load(store);
    super::repay::accrue(&mut loan, &params, now_ms).ok()?;
    Some(AmountDue {
        late_fee: loan.late_fee_owed,
        interest: loan.interest_owed,
        principal_due: loan
            .principal_scheduled_by(now_ms)
            .saturating_sub(loan.principal_paid),
        principal_outstanding: loan.principal_outstanding(),
    })
}
