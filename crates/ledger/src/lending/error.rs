//! Why a lending call failed.

use super::math::ScheduleError;
use crate::error::BankError;
use types::{AccountId, AssetId};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LendingError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("asset {asset} does not exist")]
    UnknownAsset { asset: AssetId },
    #[error(
        "a principal of {principal} is above the largest a loan may have, {max} (minor units of asset {asset})"
    )]
    PrincipalTooLarge {
        asset: AssetId,
        principal: u128,
        max: u128,
    },
    #[error("a rate of {rate_bps} basis points is above the maximum {max}")]
    RateTooHigh { rate_bps: u32, max: u32 },
    #[error("a term of {term_days} days is above the maximum {max}")]
    TermTooLong { term_days: u32, max: u32 },
    #[error("the funding deadline {deadline_ms} ms is not after now ({now_ms} ms)")]
    DeadlinePassed { deadline_ms: u64, now_ms: u64 },
    #[error(
        "min_fill {min_fill} must be between 1 and the principal {principal} (minor units of asset {asset})"
    )]
    InvalidMinFill {
        asset: AssetId,
        min_fill: u128,
        principal: u128,
    },
    #[error("the collateral amount must be greater than zero")]
    ZeroCollateral,
    #[error("loan {loan} does not exist")]
    UnknownLoan { loan: u64 },
    #[error("loan {loan} is {state}; this needs it to be {expected}")]
    WrongState {
        loan: u64,
        state: &'static str,
        expected: &'static str,
    },
    #[error("only the borrower of loan {loan} may do this")]
    NotBorrower { loan: u64 },
    #[error("borrowers cannot fund their own loan {loan}")]
    OwnLoan { loan: u64 },
    #[error("loan {loan} already has lenders; it can no longer be cancelled")]
    AlreadyFunded { loan: u64 },
    #[error(
        "{amount} is outside what loan {loan} can take now: {min}..={max} (minor units of asset {asset})"
    )]
    FundingOutOfRange {
        loan: u64,
        asset: AssetId,
        amount: u128,
        min: u128,
        max: u128,
    },
    #[error("loan {loan} has the most lenders allowed ({max})")]
    TooManyLenders { loan: u64, max: usize },
    #[error("{lender} has not lent to loan {loan}")]
    NotLender { loan: u64, lender: AccountId },
    #[error("the funding deadline of loan {loan} is {deadline_ms} ms")]
    FundingOpen { loan: u64, deadline_ms: u64 },
    #[error("the funding deadline of loan {loan} passed at {deadline_ms} ms")]
    FundingClosed { loan: u64, deadline_ms: u64 },
    #[error(
        "loan {loan} is funded {funded}, below its min_fill {min_fill} (minor units of asset {asset})"
    )]
    BelowMinFill {
        loan: u64,
        asset: AssetId,
        funded: u128,
        min_fill: u128,
    },
    #[error("the borrower of loan {loan} may accept it until {until_ms} ms")]
    AcceptanceOpen { loan: u64, until_ms: u64 },
    #[error("credit offer {offer} does not exist")]
    UnknownOffer { offer: u64 },
    #[error("only the lender of credit offer {offer} may do this")]
    NotOfferLender { offer: u64 },
    #[error("credit offer {offer} expired at {expired_ms} ms")]
    OfferExpired { offer: u64, expired_ms: u64 },
    #[error("lenders cannot borrow from their own credit offer {offer}")]
    OwnOffer { offer: u64 },
    #[error(
        "{amount} is outside what credit offer {offer} lends: {min}..={max} (minor units of asset {asset})"
    )]
    AmountOutOfRange {
        offer: u64,
        asset: AssetId,
        amount: u128,
        min: u128,
        max: u128,
    },
    #[error(
        "the collateral {offered} is below the {required} required (minor units of asset {asset})"
    )]
    InsufficientCollateral {
        asset: AssetId,
        offered: u128,
        required: u128,
    },
    #[error("the repayment amount must be greater than zero")]
    ZeroRepayment,
    #[error("loan {loan} owes nothing")]
    NothingOwed { loan: u64 },
    #[error("nothing to claim from loan {loan}")]
    NothingToClaim { loan: u64 },
    #[error("loan {loan} cannot be declared in default before {at_ms} ms")]
    NotInDefault { loan: u64, at_ms: u64 },
    #[error("the lenders of loan {loan} have claimed more than they are entitled to")]
    ClaimedBeyondEntitlement { loan: u64 },
    #[error("the amount overflows")]
    Overflow,
}
