//! The lending module: loan requests that many lenders fund, lender-side credit offers taken
//! atomically, amortised repayment with a late-fee -> interest -> principal waterfall, default
//! with collateral to the lenders, and each borrower's credit history.
//!
//! ```text
//! request -> Funding --fully funded / accept(borrower) after deadline if >= min_fill--> Active
//!              | cancel(borrower, before any funding) -> Cancelled
//!              | expire(anyone, after the deadline) -> Expired   (lenders withdraw, collateral returns)
//! take_credit -> Active --repaid in full--> Repaid (collateral returns)
//!                  | declare_default(anyone, past the threshold) -> Defaulted (collateral to lenders;
//!                    repayments still reach lenders)
//! ```
//!
//! Money held: lenders' funds until activation, collateral until the loan ends, credit offers'
//! remaining amounts, and repayments until lenders claim them; all in bank's lending total.
//! A repayment costs the same whatever the number of lenders: it only raises the loan's
//! `paid_in`, and each lender's claim is `lent * paid_in / funded` (rounded down) minus what
//! it has claimed. One lender, the first to have funded, receives the rounding remainder (its
//! share rounded up while the loan is open, the exact rest once it is closed), so the split is
//! exact and no lender's entitlement ever goes down (`repay::entitlement`).

mod credit;
mod error;
mod history;
pub mod math;
pub mod params;
pub mod queries;
pub mod records;
mod repay;
mod requests;

pub use error::LendingError;
pub use params::LendingParams;
pub use records::{CreditHistory, CreditOffer, Db, Loan, LoanState, Position};
pub use repay::claimable;
pub use requests::MAX_PRINCIPAL;

use crate::{BlockContext, receipt::Event, store::Store};
use types::{AccountId, AssetId, lending::LendingCall};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LendingEvent {
    LoanRequested {
        loan: u64,
        borrower: AccountId,
    },
    Funded {
        loan: u64,
        lender: AccountId,
        amount: u128,
    },
    Withdrawn {
        loan: u64,
        lender: AccountId,
        amount: u128,
    },
    /// The principal reached the borrower.
    Activated {
        loan: u64,
        principal: u128,
    },
    RequestClosed {
        loan: u64,
        state: LoanState,
    },
    CreditOffered {
        offer: u64,
        lender: AccountId,
    },
    CreditClosed {
        offer: u64,
        asset: AssetId,
        returned: u128,
    },
    Repaid {
        loan: u64,
        late_fee: u128,
        interest: u128,
        principal: u128,
    },
    LoanRepaid {
        loan: u64,
    },
    Claimed {
        loan: u64,
        lender: AccountId,
        amount: u128,
        collateral: u128,
    },
    Defaulted {
        loan: u64,
        collateral: u128,
        debt: u128,
    },
}

fn emit(events: &mut Vec<Event>, event: LendingEvent) {
    events.push(Event::Lending(event));
}

/// Runs one lending call for `signer`. On error the caller discards every write made here.
pub fn execute(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    call: &LendingCall,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let params = params::load(store);
    let now = context.timestamp_ms;
    match call {
        LendingCall::RequestLoan(request) => {
            requests::request(store, &params, now, signer, request, events)
        }
        LendingCall::CancelRequest(r) => requests::cancel(store, signer, r.loan, events),
        LendingCall::Fund(fund) => requests::fund(store, &params, now, signer, fund, events),
        LendingCall::Withdraw(r) => requests::withdraw(store, now, signer, r.loan, events),
        LendingCall::Accept(r) => requests::accept(store, now, signer, r.loan, events),
        LendingCall::Expire(r) => requests::expire(store, &params, now, r.loan, events),
        LendingCall::OfferCredit(offer) => {
            credit::offer(store, &params, now, signer, offer, events)
        }
        LendingCall::CancelCredit(r) => credit::cancel(store, signer, r.offer, events),
        LendingCall::TakeCredit(take) => credit::take(store, now, signer, take, events),
        LendingCall::Repay(repay) => repay::repay(store, &params, now, signer, repay, events),
        LendingCall::Claim(r) => repay::claim(store, signer, r.loan, events),
        LendingCall::DeclareDefault(r) => {
            repay::declare_default(store, &params, now, r.loan, events)
        }
    }
}
