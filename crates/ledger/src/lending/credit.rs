//! Credit offered by lenders and taken by borrowers in one transaction.

use super::{
    LendingError, LendingEvent, emit, math,
    params::LendingParams,
    records::{CreditOffer, Db, Loan},
    requests::{activate, add_position, check_terms},
};
use crate::{bank, receipt::Event, state, state::Module, store::Store};
use types::{
    AccountId,
    lending::{Collateral, OfferCredit, RequestLoan, TakeCredit},
};

pub fn offer(
    store: &mut (impl Store + ?Sized),
    params: &LendingParams,
    now: u64,
    lender: &AccountId,
    offer: &OfferCredit,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    check_terms(
        store,
        params,
        offer.asset,
        offer.amount,
        offer.rate_bps,
        offer.term_days,
        offer.schedule,
    )?;
    if offer.min_amount == 0 || offer.min_amount > offer.amount {
        return Err(LendingError::InvalidMinFill {
            asset: offer.asset,
            min_fill: offer.min_amount,
            principal: offer.amount,
        });
    }
    if offer.expires_ms <= now {
        return Err(LendingError::DeadlinePassed {
            deadline_ms: offer.expires_ms,
            now_ms: now,
        });
    }
    if let Some(asset) = offer.collateral_asset
        && !state::asset_exists(store, asset)
    {
        return Err(LendingError::UnknownAsset { asset });
    }
    bank::lock(store, Module::Lending, lender, offer.asset, offer.amount)?;
    let id = Db::next_offer_id(store);
    Db::put_credit_offer(
        store,
        &CreditOffer {
            id,
            lender: *lender,
            asset: offer.asset,
            remaining: offer.amount,
            min_amount: offer.min_amount,
            rate_bps: offer.rate_bps,
            term_days: offer.term_days,
            schedule: offer.schedule,
            collateral_asset: offer.collateral_asset,
            collateral_per_unit: offer.collateral_per_unit,
            expires_ms: offer.expires_ms,
        },
    );
    emit(
        events,
        LendingEvent::CreditOffered {
            offer: id,
            lender: *lender,
        },
    );
    Ok(())
}

pub fn cancel(
    store: &mut (impl Store + ?Sized),
    lender: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let offer = Db::credit_offer(store, id).ok_or(LendingError::UnknownOffer { offer: id })?;
    if &offer.lender != lender {
        return Err(LendingError::NotOfferLender { offer: id });
    }
    bank::unlock(store, Module::Lending, lender, offer.asset, offer.remaining)?;
    Db::delete_credit_offer(store, id);
    emit(
        events,
        LendingEvent::CreditClosed {
            offer: id,
            asset: offer.asset,
            returned: offer.remaining,
        },
    );
    Ok(())
}

pub fn take(
    store: &mut (impl Store + ?Sized),
    now: u64,
    borrower: &AccountId,
    take: &TakeCredit,
    events: &mut Vec<Event>,
) -> Result<(), LendingError> {
    let mut offer = Db::credit_offer(store, take.offer)
        .ok_or(LendingError::UnknownOffer { offer: take.offer })?;
    if now > offer.expires_ms {
        return Err(LendingError::OfferExpired {
            offer: offer.id,
            expired_ms: offer.expires_ms,
        });
    }
    if &offer.lender == borrower {
        return Err(LendingError::OwnOffer { offer: offer.id });
    }
    let smallest = offer.min_amount.min(offer.remaining);
    if take.amount < smallest || take.amount > offer.remaining {
        return Err(LendingError::AmountOutOfRange {
            offer: offer.id,
            asset: offer.asset,
            amount: take.amount,
            min: smallest,
            max: offer.remaining,
        });
    }
    let collateral = match offer.collateral_asset {
        None => None,
        Some(asset) => {
            let decimals = state::asset(store, offer.asset).map_or(0, |info| info.decimals);
            let unit = types::amount::unit(decimals).map_err(|_| LendingError::Overflow)?;
            // Collateral required is rounded up: the borrower owes it.
            let required = math::mul_div_ceil(take.amount, offer.collateral_per_unit, unit)
                .ok_or(LendingError::Overflow)?;
            if take.collateral_amount < required || take.collateral_amount == 0 {
                return Err(LendingError::InsufficientCollateral {
                    asset,
                    offered: take.collateral_amount,
                    required: required.max(1),
                });
            }
            bank::lock(
                store,
                Module::Lending,
                borrower,
                asset,
                take.collateral_amount,
            )?;
            Some(Collateral {
                asset,
                amount: take.collateral_amount,
            })
        }
    };
    let id = Db::next_loan_id(store);
    let terms = RequestLoan {
        asset: offer.asset,
        principal: take.amount,
        rate_bps: offer.rate_bps,
        term_days: offer.term_days,
        schedule: offer.schedule,
        collateral,
        funding_deadline_ms: now,
        min_fill: take.amount,
    };
    let mut loan = Loan::requested(id, *borrower, &terms, now);
    loan.funded = take.amount;
    // The offer's locked funds become the loan's funding, then go to the borrower.
    add_position(store, id, &offer.lender, take.amount)?;
    emit(
        events,
        LendingEvent::LoanRequested {
            loan: id,
            borrower: *borrower,
        },
    );
    emit(
        events,
        LendingEvent::Funded {
            loan: id,
            lender: offer.lender,
            amount: take.amount,
        },
    );
    activate(store, &mut loan, now, events)?;
    Db::put_loan(store, &loan);
    offer.remaining = offer
        .remaining
        .checked_sub(take.amount)
        .expect("checked above");
    if offer.remaining == 0 {
        Db::delete_credit_offer(store, offer.id);
        emit(
            events,
            LendingEvent::CreditClosed {
                offer: offer.id,
                asset: offer.asset,
                returned: 0,
            },
        );
    } else {
        Db::put_credit_offer(store, &offer);
    }
    Ok(())
}
