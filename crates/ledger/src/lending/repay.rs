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
/// Interest: simple, on the principal outstanding, per millisecond, rounded up at each accrual
/// (accruals happen only at the borrower's repayments and at default).
///
/// Late fee: each instalment's unpaid principal is late on its own. Once its due date is more
/// than the grace period past, every started day since that due date is charged at
/// `late_fee_bps_per_day` on the part of that instalment still unpaid during the day. Payments
/// settle the oldest instalment first and only happen at an accrual, so between two accruals
/// each instalment's unpaid part is constant; the loan adds up `unpaid × days` exactly, in
/// principal-days, and the fee owed in all is that sum times the rate, rounded up once. The
/// result is the same however often or whenever it is computed.
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
    let from = loan.late_fee_through_ms;
    if now <= from {
        return Ok(());
    }
    let grace_ms = u64::from(params.grace_days).saturating_mul(DAY_MS);
    let mut added: u128 = 0;
    let mut earlier_through: u128 = 0;
    for due in &loan.dues {
        let part = due
            .principal_through
            .checked_sub(earlier_through)
            .ok_or(LendingError::Overflow)?;
        earlier_through = due.principal_through;
        let unpaid = due
            .principal_through
            .saturating_sub(loan.principal_paid)
            .min(part);
        let days = days_late(due.at_ms, now, grace_ms)
            .checked_sub(days_late(due.at_ms, from, grace_ms))
            .expect("days late grow with time");
        if unpaid == 0 || days == 0 {
            continue;
        }
        added = unpaid
            .checked_mul(u128::from(days))
            .and_then(|units| added.checked_add(units))
            .ok_or(LendingError::Overflow)?;
    }
    let rate = u128::from(params.late_fee_bps_per_day);
    let charged_before =
        math::mul_div_ceil(loan.late_principal_days, rate, BPS).ok_or(LendingError::Overflow)?;
    let late_principal_days = loan
        .late_principal_days
        .checked_add(added)
        .ok_or(LendingError::Overflow)?;
    let charged =
        math::mul_div_ceil(late_principal_days, rate, BPS).ok_or(LendingError::Overflow)?;
    let fee = charged
        .checked_sub(charged_before)
        .expect("a larger sum rounds up to at least as much");
    loan.late_fee_owed = loan
        .late_fee_owed
        .checked_add(fee)
        .ok_or(LendingError::Overflow)?;
    loan.late_principal_days = late_principal_days;
    loan.late_fee_through_ms = now;
    Ok(())
}

/// The days charged as late at `at_ms` for a due date `due_ms`: none until the grace period has
/// passed, then every started day since the due date.
fn days_late(due_ms: u64, at_ms: u64, grace_ms: u64) -> u64 {
    if at_ms <= due_ms.saturating_add(grace_ms) {
        return 0;
    }
    at_ms.saturating_sub(due_ms).div_ceil(DAY_MS)
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
    // A closed loan takes nothing more: its lenders' split is final (see `entitlement`).
    if loan.closed_ms.is_some() {
        return Err(LendingError::NothingOwed { loan: loan.id });
    }
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

/// What `lender` is entitled to from `loan` in all, claimed or not: (loan asset, collateral).
///
/// The split rule, chosen so that no entitlement ever goes down and the entitlements never add
/// up to more than came in, whatever the order of repayments and claims:
/// - every lender is entitled to its share `lent · paid_in / funded`, rounded down;
/// - the dust receiver's share is rounded up instead while money can still come in. The others'
///   floors add up to at most `(funded − lent₀) · paid_in / funded`, so with one ceiling on top the
///   sum stays at or below `paid_in`, and every term grows with `paid_in`;
/// - once the loan is closed (`closed_ms` is set, after which nothing more is paid in) the dust
///   receiver is entitled to everything the others are not, so the split is exact. That is at
///   least its ceiling, so the switch never lowers it.
///
/// Seized collateral is paid in once, at default, and never changes, so its dust goes to the dust
/// receiver at once.
///
/// The exact remainder costs one pass over the loan's lenders (at most `MAX_LENDERS`), and only
/// for the dust receiver of a closed loan or a defaulted one's collateral; every other claim
/// costs the same whatever the number of lenders.
fn entitlement(
    store: &(impl Store + ?Sized),
    loan: &Loan,
    lender: &AccountId,
    position: &Position,
) -> Result<(u128, u128), LendingError> {
    let floor = |paid_in: u128, lent: u128| {
        math::mul_div_floor(lent, paid_in, loan.funded).ok_or(LendingError::Overflow)
    };
    let remainder = |paid_in: u128| -> Result<u128, LendingError> {
        let mut others: u128 = 0;
        for other in Db::lenders(store, loan.id) {
            if &other == lender {
                continue;
            }
            if let Some(other) = Db::position(store, loan.id, &other) {
                others = others
                    .checked_add(floor(paid_in, other.lent)?)
                    .ok_or(LendingError::Overflow)?;
            }
        }
        paid_in.checked_sub(others).ok_or(LendingError::Overflow)
    };
    if loan.dust_receiver.as_ref() != Some(lender) {
        return Ok((
            floor(loan.paid_in, position.lent)?,
            floor(loan.collateral_paid_in, position.lent)?,
        ));
    }
    let amount = if loan.closed_ms.is_some() {
        remainder(loan.paid_in)?
    } else {
        math::mul_div_ceil(position.lent, loan.paid_in, loan.funded)
            .ok_or(LendingError::Overflow)?
    };
    Ok((amount, remainder(loan.collateral_paid_in)?))
}

/// What `lender` can claim from `loan` now: (loan asset, collateral), or `None` when it has no
/// position. See [`entitlement`] for the split rule.
pub fn claimable(
    store: &(impl Store + ?Sized),
    loan: &Loan,
    lender: &AccountId,
) -> Option<(u128, u128)> {
    let position = Db::position(store, loan.id, lender)?;
    unclaimed(store, loan, lender, &position).ok()
}

fn unclaimed(
    store: &(impl Store + ?Sized),
    loan: &Loan,
    lender: &AccountId,
    position: &Position,
) -> Result<(u128, u128), LendingError> {
    let (amount, collateral) = entitlement(store, loan, lender, position)?;
    // Entitlements never go down, so a lender never holds more than its entitlement; if that
    // were ever broken the claim fails with a named error rather than pay a negative amount.
    let overclaimed = LendingError::ClaimedBeyondEntitlement { loan: loan.id };
    Ok((
        amount
            .checked_sub(position.claimed)
            .ok_or(overclaimed.clone())?,
        collateral
            .checked_sub(position.collateral_claimed)
            .ok_or(overclaimed)?,
    ))
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
    let mut position = Db::position(store, id, lender).ok_or(LendingError::NotLender {
        loan: id,
        lender: *lender,
    })?;
    let (amount, collateral) = unclaimed(store, &loan, lender, &position)?;
    if amount == 0 && collateral == 0 {
        return Err(LendingError::NothingToClaim { loan: id });
    }
    if amount > 0 {
        bank::unlock(store, Module::Lending, lender, loan.asset, amount)?;
        position.claimed = position
            .claimed
            .checked_add(amount)
            .ok_or(LendingError::Overflow)?;
    }
    if collateral > 0 {
        let asset = loan
            .collateral
            .ok_or(LendingError::ClaimedBeyondEntitlement { loan: id })?
            .asset;
        bank::unlock(store, Module::Lending, lender, asset, collateral)?;
        position.collateral_claimed = position
            .collateral_claimed
            .checked_add(collateral)
            .ok_or(LendingError::Overflow)?;
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
