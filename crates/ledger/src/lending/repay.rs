//! Interest accrual, late fees, the repayment waterfall, lenders' claims and default.

use super::{
    LendingError, LendingEvent, emit, history,
    math::{self, BPS, DAY_MS},
    params::LendingParams,
    records::{Db, Loan, LoanState, Position},
    requests::{load, require_state, return_collateral},
};
use crate::{bank, receipt::Event, state::Module, store::Store};
use types::{AccountId, lending::Repay};

/// Brings a loan's interest and late fees up to `now`.
///
/// Interest: simple, on the principal outstanding, per millisecond, rounded up at each accrual.
/// Late fee: once a due date is more than the grace period past and its principal is unpaid,
/// `late_fee_bps_per_day` of the overdue principal per day late, counting days from the due date
/// and rounding up to whole days; fees are charged through the end of the last counted day, so
/// no day is charged twice.
pub(crate) fn accrue(
    loan: &mut Loan,
    params: &LendingParams,
    now: u64,
) -> Result<(), LendingError> {
    if now > loan.accrued_to_ms {
        let elapsed = now
            .checked_sub(loan.accrued_to_ms)
            .expect("now > accrued_to");
        let interest = math::interest(loan.principal_outstanding(), loan.rate_bps, elapsed)
            .ok_or(LendingError::Overflow)?;
        loan.interest_owed = loan
            .interest_owed
            .checked_add(interest)
            .ok_or(LendingError::Overflow)?;
        loan.accrued_to_ms = now;
    }
    let Some(due) = loan.oldest_unpaid_due() else {
        return Ok(());
    };
    let grace_ms = u64::from(params.grace_days).saturating_mul(DAY_MS);
    if now <= due.saturating_add(grace_ms) {
        return Ok(());
    }
    let overdue = loan
        .principal_scheduled_by(now.saturating_sub(grace_ms))
        .saturating_sub(loan.principal_paid);
    let start = loan.late_fee_through_ms.max(due);
    if overdue == 0 || now <= start {
        return Ok(());
    }
    let days = now
        .checked_sub(start)
        .expect("now > start")
        .div_ceil(DAY_MS);
    let rate_days = u128::from(params.late_fee_bps_per_day)
        .checked_mul(u128::from(days))
        .ok_or(LendingError::Overflow)?;
    let fee = math::mul_div_ceil(overdue, rate_days, BPS).ok_or(LendingError::Overflow)?;
    loan.late_fee_owed = loan
        .late_fee_owed
        .checked_add(fee)
        .ok_or(LendingError::Overflow)?;
    loan.late_fee_through_ms = start.saturating_add(days.saturating_mul(DAY_MS));
    Ok(())
}

pub fn repay(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    payer: &AccountId,
    repay: &Repay,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    if repay.amount == 0 {
        return Err(LendingError::ZeroRepayment);
    }
    let mut loan = load(store, repay.loan)?;
    require_state(
        &loan,
        &[LoanState::Active, LoanState::Defaulted],
        "active or defaulted",
    )?;
    accrue(&mut loan, params, now)?;
    let outstanding = loan.principal_outstanding();
    let owed = loan
        .late_fee_owed
        .checked_add(loan.interest_owed)
        .and_then(|sum| sum.checked_add(outstanding))
        .ok_or(LendingError::Overflow)?;
    if owed == 0 {
        return Err(LendingError::NothingOwed { loan: loan.id });
    }
    // Only what is owed is taken; the waterfall is late fee, interest, then principal (what is
    // due first, then early principal, which lowers all future interest).
    let paying = repay.amount.min(owed);
    bank::lock(store, Module::Lending, payer, loan.asset, paying)?;
    let late_fee = paying.min(loan.late_fee_owed);
    let interest = paying.saturating_sub(late_fee).min(loan.interest_owed);
    let principal = paying
        .saturating_sub(late_fee)
        .saturating_sub(interest)
        .min(outstanding);
    assert_eq!(
        late_fee
            .checked_add(interest)
            .and_then(|sum| sum.checked_add(principal)),
        Some(paying),
        "the waterfall places every unit paid"
    );
    loan.late_fee_owed = loan.late_fee_owed.checked_sub(late_fee).expect("min");
    loan.interest_owed = loan.interest_owed.checked_sub(interest).expect("min");
    loan.principal_paid = loan
        .principal_paid
        .checked_add(principal)
        .expect("<= principal");
    loan.late_fees_paid = loan.late_fees_paid.saturating_add(late_fee);
    loan.paid_in = loan
        .paid_in
        .checked_add(paying)
        .ok_or(LendingError::Overflow)?;
    history::repaid(store, &loan, paying, late_fee > 0);
    emit(
        events,
        LendingEvent::Repaid {
            loan: loan.id,
            late_fee,
            interest,
            principal,
        },
    );
    let cleared =
        loan.principal_outstanding() == 0 && loan.interest_owed == 0 && loan.late_fee_owed == 0;
    if cleared && loan.closed_ms.is_none() {
        loan.closed_ms = Some(now);
        if loan.state == LoanState::Active {
            loan.state = LoanState::Repaid;
            return_collateral(store, &loan)?;
            history::closed(store, &loan);
        }
        emit(events, LendingEvent::LoanRepaid { loan: loan.id });
    }
    Db::put_loan(store, &loan);
    Ok(())
}

/// What `lender` can claim from `loan` now: (loan asset, collateral). Each lender is owed its
/// share `lent / funded` of everything paid in, rounded down; the dust receiver is owed all
/// that the others are not, so the shares add up exactly.
pub fn claimable(
    store: &(impl Store + ?Sized),
    loan: &Loan,
    lender: &AccountId,
) -> Option<(u128, u128)> {
    let position = Db::position(store, loan.id, lender)?;
    let share = |paid_in: u128, of: &Position| {
        math::mul_div_floor(of.lent, paid_in, loan.funded).expect("a share of what was paid fits")
    };
    let entitled = |paid_in: u128| -> u128 {
        if loan.dust_receiver.as_ref() == Some(lender) {
            let others: u128 = Db::lenders(store, loan.id)
                .iter()
                .filter(|other| *other != lender)
                .filter_map(|other| Db::position(store, loan.id, other))
                .map(|other| share(paid_in, &other))
                .sum();
            paid_in
                .checked_sub(others)
                .expect("floors never exceed the whole")
        } else {
            share(paid_in, &position)
        }
    };
    let amount = entitled(loan.paid_in)
        .checked_sub(position.claimed)
        .expect("never claimed more than entitled");
    let collateral = entitled(loan.collateral_paid_in)
        .checked_sub(position.collateral_claimed)
        .expect("never claimed more than entitled");
    Some((amount, collateral))
}

pub fn claim(
    store: &mut (impl Store + ?Sized),
    lender: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let loan = load(store, id)?;
    require_state(
        &loan,
        &[LoanState::Active, LoanState::Repaid, LoanState::Defaulted],
        "active, repaid or defaulted",
    )?;
    let (amount, collateral) = claimable(store, &loan, lender).ok_or(LendingError::NotLender {
        loan: id,
        lender: *lender,
    })?;
    if amount == 0 && collateral == 0 {
        return Err(LendingError::NothingToClaim { loan: id });
    }
    let mut position = Db::position(store, id, lender).expect("claimable found it");
    if amount > 0 {
        bank::unlock(store, Module::Lending, lender, loan.asset, amount)?;
        position.claimed = position.claimed.checked_add(amount).expect("<= paid in");
    }
    if collateral > 0 {
        let asset = loan.collateral.expect("collateral was seized").asset;
        bank::unlock(store, Module::Lending, lender, asset, collateral)?;
        position.collateral_claimed = position
            .collateral_claimed
            .checked_add(collateral)
            .expect("<= seized");
    }
    Db::put_position(store, id, lender, &position);
    emit(
        events,
        LendingEvent::Claimed {
            loan: id,
            lender: *lender,
            amount,
            collateral,
        },
    );
    Ok(())
}

pub fn declare_default(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, id)?;
    require_state(&loan, &[LoanState::Active], "active")?;
    let due = loan.oldest_unpaid_due().ok_or(LendingError::NotInDefault {
        loan: id,
        at_ms: u64::MAX,
    })?;
    let threshold = due.saturating_add(u64::from(params.default_after_days).saturating_mul(DAY_MS));
    if now <= threshold {
        return Err(LendingError::NotInDefault {
            loan: id,
            at_ms: threshold.saturating_add(1),
        });
    }
    accrue(&mut loan, params, now)?;
    let seized = loan.collateral.map_or(0, |c| c.amount);
    // The collateral stays in the module, now owed to the lenders pro rata.
    loan.collateral_paid_in = seized;
    loan.state = LoanState::Defaulted;
    let debt = loan
        .principal_outstanding()
        .saturating_add(loan.interest_owed)
        .saturating_add(loan.late_fee_owed);
    history::defaulted(store, &loan);
    Db::put_loan(store, &loan);
    emit(
        events,
        LendingEvent::Defaulted {
            loan: id,
            collateral: seized,
            debt,
        },
    );
    Ok(())
}
