//! Loan requests: funding by many lenders, withdrawal, acceptance, expiry and activation.

use super::{
    LendingError, LendingEvent, emit, history,
    math::{self, DAY_MS},
    params::LendingParams,
    records::{Db, Due, Loan, LoanState, MAX_LENDERS, Position},
};
use crate::{bank, receipt::Event, state, state::Module, store::Store};
use types::{
    AccountId,
    lending::{Fund, RequestLoan, Schedule},
};

pub(crate) fn load(store: &(impl Store + ?Sized), id: u64) -> Result<Loan, LendingError> {
    Db::loan(store, id).ok_or(LendingError::UnknownLoan { loan: id })
}

pub(crate) fn require_state(
    loan: &Loan,
    allowed: &[LoanState],
    expected: &'static str,
) -> Result<(), LendingError> {
    if !allowed.contains(&loan.state) {
        return Err(LendingError::WrongState {
            loan: loan.id,
            state: loan.state.name(),
            expected,
        });
    }
    Ok(())
}

/// Checks terms shared by requests and credit offers, and that the schedule can be computed.
/// The largest principal a loan may have, in minor units (2^96, about 7.9·10^28: 79 billion
/// whole units of an 18-decimal asset). It keeps every product in a loan's arithmetic (interest
/// over the longest term at the highest rate, unpaid principal times days late for thousands of
/// years) inside 128 bits, so accrual can never overflow and block a loan's exits: repayment and
/// default.
pub const MAX_PRINCIPAL: u128 = 1 << 96;

pub(crate) fn check_terms(
    store: &(impl Store + ?Sized),
    params: &LendingParams,
    asset: types::AssetId,
    principal: u128,
    rate_bps: u32,
    term_days: u32,
    schedule: Schedule,
) -> Result<(), LendingError> {
    if !state::asset_exists(store, asset) {
        return Err(LendingError::UnknownAsset { asset });
    }
    if principal > MAX_PRINCIPAL {
        return Err(LendingError::PrincipalTooLarge {
            asset,
            principal,
            max: MAX_PRINCIPAL,
        });
    }
    if rate_bps > params.max_rate_bps {
        return Err(LendingError::RateTooHigh {
            rate_bps,
            max: params.max_rate_bps,
        });
    }
    if term_days > params.max_term_days {
        return Err(LendingError::TermTooLong {
            term_days,
            max: params.max_term_days,
        });
    }
    math::schedule(principal, rate_bps, term_days, schedule.count())?;
    Ok(())
}

pub fn request(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    borrower: &AccountId,
    request: &RequestLoan,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    check_terms(
        store,
        params,
        request.asset,
        request.principal,
        request.rate_bps,
        request.term_days,
        request.schedule,
    )?;
    if request.funding_deadline_ms <= now {
        return Err(LendingError::DeadlinePassed {
            deadline_ms: request.funding_deadline_ms,
            now_ms: now,
        });
    }
    if request.min_fill == 0 || request.min_fill > request.principal {
        return Err(LendingError::InvalidMinFill {
            asset: request.asset,
            min_fill: request.min_fill,
            principal: request.principal,
        });
    }
    if let Some(collateral) = request.collateral {
        if collateral.amount == 0 {
            return Err(LendingError::ZeroCollateral);
        }
        if !state::asset_exists(store, collateral.asset) {
            return Err(LendingError::UnknownAsset {
                asset: collateral.asset,
            });
        }
        bank::lock(
            store,
            Module::Lending,
            borrower,
            collateral.asset,
            collateral.amount,
        )?;
    }
    let id = Db::next_loan_id(store);
    Db::put_loan(store, &Loan::requested(id, *borrower, request, now));
    emit(
        events,
        LendingEvent::LoanRequested {
            loan: id,
            borrower: *borrower,
        },
    );
    Ok(())
}

/// Returns a loan's collateral to its borrower.
pub(crate) fn return_collateral(
    store: &mut (impl Store + ?Sized),
    loan: &Loan,
) -> Result<(), LendingError> {
    if let Some(collateral) = loan.collateral {
        bank::unlock(
            store,
            Module::Lending,
            &loan.borrower,
            collateral.asset,
            collateral.amount,
        )?;
    }
    Ok(())
}

pub fn cancel(
    store: &mut (impl Store + ?Sized),
    borrower: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, id)?;
    if &loan.borrower != borrower {
        return Err(LendingError::NotBorrower { loan: id });
    }
    require_state(&loan, &[LoanState::Funding], "funding")?;
    if loan.funded > 0 {
        return Err(LendingError::AlreadyFunded { loan: id });
    }
    return_collateral(store, &loan)?;
    loan.state = LoanState::Cancelled;
    Db::put_loan(store, &loan);
    emit(
        events,
        LendingEvent::RequestClosed {
            loan: id,
            state: LoanState::Cancelled,
        },
    );
    Ok(())
}

/// Disburses a loan: fixes its schedule on the principal actually lent and pays it to the
/// borrower in the same transaction.
pub(crate) fn activate(
    store: &mut (impl Store + ?Sized),
    loan: &mut Loan,
    now: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    loan.principal = loan.funded;
    let rows = math::schedule(
        loan.principal,
        loan.rate_bps,
        loan.term_days,
        loan.schedule.count(),
    )?;
    let mut through: u128 = 0;
    loan.dues = rows
        .iter()
        .map(|row| {
            through = through
                .checked_add(row.principal)
                .expect("parts of the principal");
            Due {
                at_ms: now.saturating_add(row.due_offset_ms),
                principal_through: through,
            }
        })
        .collect();
    loan.state = LoanState::Active;
    loan.start_ms = now;
    loan.accrued_to_ms = now;
    loan.late_fee_through_ms = now;
    loan.dust_receiver = Db::lenders(store, loan.id).first().copied();
    bank::unlock(
        store,
        Module::Lending,
        &loan.borrower,
        loan.asset,
        loan.principal,
    )?;
    history::disbursed(store, loan);
    emit(
        events,
        LendingEvent::Activated {
            loan: loan.id,
            principal: loan.principal,
        },
    );
    Ok(())
}

/// Adds `amount` to `lender`'s position, registering a new lender.
pub(crate) fn add_position(
    store: &mut (impl Store + ?Sized),
    loan: u64,
    lender: &AccountId,
    amount: u128,
) -> Result<(), LendingError> {
    let mut position = match Db::position(store, loan, lender) {
        Some(position) => position,
        None => {
            let mut lenders = Db::lenders(store, loan);
            if lenders.len() >= MAX_LENDERS {
                return Err(LendingError::TooManyLenders {
                    loan,
                    max: MAX_LENDERS,
                });
            }
            lenders.push(*lender);
            Db::put_lenders(store, loan, lenders);
            Position::default()
        }
    };
    position.lent = position
        .lent
        .checked_add(amount)
        .ok_or(LendingError::Overflow)?;
    Db::put_position(store, loan, lender, &position);
    Ok(())
}

pub fn fund(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    lender: &AccountId,
    fund: &Fund,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, fund.loan)?;
    require_state(&loan, &[LoanState::Funding], "funding")?;
    if &loan.borrower == lender {
        return Err(LendingError::OwnLoan { loan: loan.id });
    }
    if now > loan.funding_deadline_ms {
        return Err(LendingError::FundingClosed {
            loan: loan.id,
            deadline_ms: loan.funding_deadline_ms,
        });
    }
    let remaining = loan
        .principal
        .checked_sub(loan.funded)
        .expect("never overfunded");
    let minimum = super::math::mul_div_ceil(
        loan.principal,
        u128::from(params.min_funding_bps),
        math::BPS,
    )
    .ok_or(LendingError::Overflow)?
    .min(remaining);
    if fund.amount < minimum || fund.amount > remaining {
        return Err(LendingError::FundingOutOfRange {
            loan: loan.id,
            asset: loan.asset,
            amount: fund.amount,
            min: minimum,
            max: remaining,
        });
    }
    bank::lock(store, Module::Lending, lender, loan.asset, fund.amount)?;
    add_position(store, loan.id, lender, fund.amount)?;
    loan.funded = loan.funded.checked_add(fund.amount).expect("<= principal");
    emit(
        events,
        LendingEvent::Funded {
            loan: loan.id,
            lender: *lender,
            amount: fund.amount,
        },
    );
    if loan.funded == loan.principal {
        activate(store, &mut loan, now, events)?;
    }
    Db::put_loan(store, &loan);
    Ok(())
}

/// A lender takes its funds back from a request still collecting funds (until the funding
/// deadline) or from one that expired. After the deadline of a request still funding, the
/// borrower has the acceptance window to take what was funded, and a lender's withdrawal just
/// ahead of the borrower's acceptance would frustrate it; the funds return when the request
/// expires instead.
pub fn withdraw(
    store: &mut (impl Store + ?Sized),
    now: u64,
    lender: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, id)?;
    require_state(
        &loan,
        &[LoanState::Funding, LoanState::Expired],
        "funding or expired",
    )?;
    if loan.state == LoanState::Funding && now > loan.funding_deadline_ms {
        return Err(LendingError::FundingClosed {
            loan: id,
            deadline_ms: loan.funding_deadline_ms,
        });
    }
    let position = Db::position(store, id, lender).ok_or(LendingError::NotLender {
        loan: id,
        lender: *lender,
    })?;
    bank::unlock(store, Module::Lending, lender, loan.asset, position.lent)?;
    Db::delete_position(store, id, lender);
    let mut lenders = Db::lenders(store, id);
    lenders.retain(|l| l != lender);
    Db::put_lenders(store, id, lenders);
    loan.funded = loan
        .funded
        .checked_sub(position.lent)
        .expect("part of the funding");
    Db::put_loan(store, &loan);
    emit(
        events,
        LendingEvent::Withdrawn {
            loan: id,
            lender: *lender,
            amount: position.lent,
        },
    );
    Ok(())
}

pub fn accept(
    store: &mut (impl Store + ?Sized),
    now: u64,
    borrower: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, id)?;
    if &loan.borrower != borrower {
        return Err(LendingError::NotBorrower { loan: id });
    }
    require_state(&loan, &[LoanState::Funding], "funding")?;
    if now <= loan.funding_deadline_ms {
        return Err(LendingError::FundingOpen {
            loan: id,
            deadline_ms: loan.funding_deadline_ms,
        });
    }
    if loan.funded < loan.min_fill {
        return Err(LendingError::BelowMinFill {
            loan: id,
            asset: loan.asset,
            funded: loan.funded,
            min_fill: loan.min_fill,
        });
    }
    activate(store, &mut loan, now, events)?;
    Db::put_loan(store, &loan);
    Ok(())
}

pub fn expire(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut loan = load(store, id)?;
    require_state(&loan, &[LoanState::Funding], "funding")?;
    if now <= loan.funding_deadline_ms {
        return Err(LendingError::FundingOpen {
            loan: id,
            deadline_ms: loan.funding_deadline_ms,
        });
    }
    // A request funded to its minimum waits for the borrower's acceptance a little longer.
    if loan.funded >= loan.min_fill {
        let until = loan
            .funding_deadline_ms
            .saturating_add(u64::from(params.acceptance_days).saturating_mul(DAY_MS));
        if now <= until {
            return Err(LendingError::AcceptanceOpen {
                loan: id,
                until_ms: until,
            });
        }
    }
    return_collateral(store, &loan)?;
    loan.state = LoanState::Expired;
    Db::put_loan(store, &loan);
    emit(
        events,
        LendingEvent::RequestClosed {
            loan: id,
            state: LoanState::Expired,
        },
    );
    Ok(())
}
