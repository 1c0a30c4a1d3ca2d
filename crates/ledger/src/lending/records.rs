//! The lending module's state: loans (from request to close), lender positions, credit offers
//! and borrowers' credit history.

use crate::{index, state::read, state::write, store::Store};
use types::{
    AccountId, AssetId,
    codec::{Buf, CodecError, EncodeSize, RangeCfg, Read, Write},
    impl_codec,
    lending::{Collateral, MAX_INSTALMENTS, RequestLoan, Schedule},
};

/// Table tags of lending (0x30-0x4f).
pub mod table {
    pub const LOAN: u8 = 0x30;
    pub const POSITION: u8 = 0x31;
    pub const LENDERS: u8 = 0x32;
    pub const CREDIT_OFFER: u8 = 0x33;
    pub const HISTORY: u8 = 0x34;
    pub const COUNTERS: u8 = 0x35;
    pub const PARAMS: u8 = 0x36;
}

/// The most lenders one loan can have.
pub const MAX_LENDERS: usize = 1_000;
/// The most assets a credit history keeps amounts for.
pub const MAX_HISTORY_ASSETS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LoanState {
    /// A request collecting lenders.
    Funding,
    /// Disbursed and being repaid.
    Active,
    Repaid,
    /// Declared in default: the collateral went to the lenders; later repayments still reach
    /// them.
    Defaulted,
    Cancelled,
    Expired,
}

impl LoanState {
    fn tag(self) -> u8 {
        match self {
            Self::Funding => 0,
            Self::Active => 1,
            Self::Repaid => 2,
            Self::Defaulted => 3,
            Self::Cancelled => 4,
            Self::Expired => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Funding => "funding",
            Self::Active => "active",
            Self::Repaid => "repaid",
            Self::Defaulted => "defaulted",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

impl Write for LoanState {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_u8(self.tag());
    }
}

impl EncodeSize for LoanState {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for LoanState {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read_cfg(buf, &())? {
            0 => Self::Funding,
            1 => Self::Active,
            2 => Self::Repaid,
            3 => Self::Defaulted,
            4 => Self::Cancelled,
            5 => Self::Expired,
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

/// A scheduled due date and the principal due by then, in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub at_ms: u64,
    pub principal_through: u128,
}
impl_codec!(Due {
    at_ms,
    principal_through
});

/// A loan, from request to close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loan {
    pub id: u64,
    pub borrower: AccountId,
    pub asset: AssetId,
    /// Requested principal; at activation, the principal actually lent.
    pub principal: u128,
    pub rate_bps: u32,
    pub term_days: u32,
    pub schedule: Schedule,
    pub collateral: Option<Collateral>,
    pub funding_deadline_ms: u64,
    pub min_fill: u128,
    pub state: LoanState,
    /// What lenders have put in (held by the module until activation).
    pub funded: u128,
    pub created_ms: u64,
    pub start_ms: u64,
    pub dues: Vec<Due>,
    pub principal_paid: u128,
    /// Interest accrued and not yet paid, up to `accrued_to_ms`.
    pub interest_owed: u128,
    pub accrued_to_ms: u64,
    pub late_fee_owed: u128,
    /// Late fees are computed up to this time.
    pub late_fee_through_ms: u64,
    /// The sum over instalments of unpaid principal times days charged late: the late fee owed
    /// in all is this times the daily rate, rounded up once (see `repay::accrue`).
    pub late_principal_days: u128,
    /// Everything repaid, for the lenders pro rata (the claimable index is `paid_in / funded`).
    pub paid_in: u128,
    /// Collateral seized at default, for the lenders pro rata.
    pub collateral_paid_in: u128,
    /// The lender who receives the rounding remainder of every pro-rata split.
    pub dust_receiver: Option<AccountId>,
    pub late_fees_paid: u128,
    pub closed_ms: Option<u64>,
}
impl_codec!(Loan {
    id,
    borrower,
    asset,
    principal,
    rate_bps,
    term_days,
    schedule,
    collateral,
    funding_deadline_ms,
    min_fill,
    state,
    funded,
    created_ms,
    start_ms,
    dues: (RangeCfg::new(0..=usize::from(MAX_INSTALMENTS)), ()),
    principal_paid,
    interest_owed,
    accrued_to_ms,
    late_fee_owed,
    late_fee_through_ms,
    late_principal_days,
    paid_in,
    collateral_paid_in,
    dust_receiver,
    late_fees_paid,
    closed_ms
});

impl Loan {
    /// A new request collecting lenders, with nothing funded, scheduled or paid yet.
    pub fn requested(id: u64, borrower: AccountId, terms: &RequestLoan, now: u64) -> Self {
        Self {
            id,
            borrower,
            asset: terms.asset,
            principal: terms.principal,
            rate_bps: terms.rate_bps,
            term_days: terms.term_days,
            schedule: terms.schedule,
            collateral: terms.collateral,
            funding_deadline_ms: terms.funding_deadline_ms,
            min_fill: terms.min_fill,
            state: LoanState::Funding,
            funded: 0,
            created_ms: now,
            start_ms: 0,
            dues: Vec::new(),
            principal_paid: 0,
            interest_owed: 0,
            accrued_to_ms: 0,
            late_fee_owed: 0,
            late_fee_through_ms: 0,
            late_principal_days: 0,
            paid_in: 0,
            collateral_paid_in: 0,
            dust_receiver: None,
            late_fees_paid: 0,
            closed_ms: None,
        }
    }

    pub fn principal_outstanding(&self) -> u128 {
        self.principal
            .checked_sub(self.principal_paid)
            .expect("never more principal paid than lent")
    }

    /// Principal scheduled to be paid by `at_ms`, in total.
    pub fn principal_scheduled_by(&self, at_ms: u64) -> u128 {
        self.dues
            .iter()
            .take_while(|due| due.at_ms <= at_ms)
            .last()
            .map_or(0, |due| due.principal_through)
    }

    /// The due date of the oldest scheduled principal not yet paid.
    pub fn oldest_unpaid_due(&self) -> Option<u64> {
        self.dues
            .iter()
            .find(|due| due.principal_through > self.principal_paid)
            .map(|due| due.at_ms)
    }
}

/// A lender's share of a loan.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Position {
    pub lent: u128,
    pub claimed: u128,
    pub collateral_claimed: u128,
}
impl_codec!(Position {
    lent,
    claimed,
    collateral_claimed
});

/// Credit offered from the lender side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditOffer {
    pub id: u64,
    pub lender: AccountId,
    pub asset: AssetId,
    /// What is still available to borrow (held by the module).
    pub remaining: u128,
    pub min_amount: u128,
    pub rate_bps: u32,
    pub term_days: u32,
    pub schedule: Schedule,
    pub collateral_asset: Option<AssetId>,
    pub collateral_per_unit: u128,
    pub expires_ms: u64,
}
impl_codec!(CreditOffer {
    id,
    lender,
    asset,
    remaining,
    min_amount,
    rate_bps,
    term_days,
    schedule,
    collateral_asset,
    collateral_per_unit,
    expires_ms
});

/// A borrower's credit history.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CreditHistory {
    /// Loans disbursed.
    pub loans: u32,
    /// Loans repaid in full without ever paying a late fee.
    pub repaid_on_time: u32,
    /// Loans repaid in full after paying late fees.
    pub repaid_late: u32,
    /// Repayments that included a late fee.
    pub late_payments: u32,
    pub defaults: u32,
    /// Per asset: principal borrowed and everything repaid.
    pub amounts: Vec<(AssetId, u128, u128)>,
}
impl_codec!(CreditHistory {
    loans,
    repaid_on_time,
    repaid_late,
    late_payments,
    defaults,
    amounts: (RangeCfg::new(0..=MAX_HISTORY_ASSETS), ((), (), ()))
});

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Counters {
    next_loan: u64,
    next_offer: u64,
}
impl_codec!(Counters {
    next_loan,
    next_offer
});

struct Lenders(Vec<AccountId>);

impl Write for Lenders {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.0.write(buf);
    }
}

impl EncodeSize for Lenders {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}

impl Read for Lenders {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Vec::read_cfg(buf, &(RangeCfg::new(0..=MAX_LENDERS), ())).map(Self)
    }
}

fn key_u64(tag: u8, id: u64) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Typed access to lending state.
#[derive(Debug)]
pub struct Db;

impl Db {
    pub fn loan(store: &(impl Store + ?Sized), id: u64) -> Option<Loan> {
        read(store, &key_u64(table::LOAN, id))
    }

    pub fn put_loan(store: &mut (impl Store + ?Sized), loan: &Loan) {
        write(store, &key_u64(table::LOAN, loan.id), loan);
        index::add(store, &loan.borrower, index::Kind::Loan, loan.id);
        index::set_listed_loan(
            store,
            index::FUNDING_LOANS,
            loan.id,
            loan.state == LoanState::Funding,
        );
        index::set_listed_loan(
            store,
            index::ACTIVE_LOANS,
            loan.id,
            loan.state == LoanState::Active,
        );
    }

    fn position_key(loan: u64, lender: &AccountId) -> Vec<u8> {
        let mut key = key_u64(table::POSITION, loan);
        key.extend_from_slice(lender.as_bytes());
        key
    }

    pub fn position(
        store: &(impl Store + ?Sized),
        loan: u64,
        lender: &AccountId,
    ) -> Option<Position> {
        read(store, &Self::position_key(loan, lender))
    }

    pub fn put_position(
        store: &mut (impl Store + ?Sized),
        loan: u64,
        lender: &AccountId,
        position: &Position,
    ) {
        write(store, &Self::position_key(loan, lender), position);
        index::add(store, lender, index::Kind::Loan, loan);
    }

    pub fn delete_position(store: &mut (impl Store + ?Sized), loan: u64, lender: &AccountId) {
        // Only a withdrawal deletes a position: the lender no longer takes part in the loan.
        index::remove(store, lender, index::Kind::Loan, loan);
        store.delete(&Self::position_key(loan, lender));
    }

    /// Lenders of a loan in the order they first funded it.
    pub fn lenders(store: &(impl Store + ?Sized), loan: u64) -> Vec<AccountId> {
        read::<Lenders>(store, &key_u64(table::LENDERS, loan))
            .map(|l| l.0)
            .unwrap_or_default()
    }

    pub fn put_lenders(store: &mut (impl Store + ?Sized), loan: u64, lenders: Vec<AccountId>) {
        write(store, &key_u64(table::LENDERS, loan), &Lenders(lenders));
    }

    pub fn credit_offer(store: &(impl Store + ?Sized), id: u64) -> Option<CreditOffer> {
        read(store, &key_u64(table::CREDIT_OFFER, id))
    }

    pub fn put_credit_offer(store: &mut (impl Store + ?Sized), offer: &CreditOffer) {
        write(store, &key_u64(table::CREDIT_OFFER, offer.id), offer);
        index::add(store, &offer.lender, index::Kind::CreditOffer, offer.id);
    }

    pub fn delete_credit_offer(store: &mut (impl Store + ?Sized), id: u64) {
        if let Some(offer) = Self::credit_offer(store, id) {
            index::remove(store, &offer.lender, index::Kind::CreditOffer, id);
        }
        store.delete(&key_u64(table::CREDIT_OFFER, id));
    }

    pub fn history(store: &(impl Store + ?Sized), borrower: &AccountId) -> CreditHistory {
        let mut key = vec![table::HISTORY];
        key.extend_from_slice(borrower.as_bytes());
        read(store, &key).unwrap_or_default()
    }

    pub fn put_history(
        store: &mut (impl Store + ?Sized),
        borrower: &AccountId,
        history: &CreditHistory,
    ) {
        let mut key = vec![table::HISTORY];
        key.extend_from_slice(borrower.as_bytes());
        write(store, &key, history);
    }

    fn counters(store: &(impl Store + ?Sized)) -> Counters {
        read(store, &[table::COUNTERS]).unwrap_or_default()
    }

    pub fn next_loan_id(store: &mut (impl Store + ?Sized)) -> u64 {
        let mut counters = Self::counters(store);
        counters.next_loan = counters.next_loan.checked_add(1).expect("u64 loan ids");
        write(store, &[table::COUNTERS], &counters);
        counters.next_loan
    }

    pub fn next_offer_id(store: &mut (impl Store + ?Sized)) -> u64 {
        let mut counters = Self::counters(store);
        counters.next_offer = counters.next_offer.checked_add(1).expect("u64 offer ids");
        write(store, &[table::COUNTERS], &counters);
        counters.next_offer
    }

    pub fn last_loan_id(store: &(impl Store + ?Sized)) -> u64 {
        Self::counters(store).next_loan
    }

    pub fn last_offer_id(store: &(impl Store + ?Sized)) -> u64 {
        Self::counters(store).next_offer
    }
}
