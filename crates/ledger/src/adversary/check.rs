//! The checks run after every block: admission and fees, conservation, held equals owed,
//! lenders' entitlements, interest and late fees, and trades and loans moving only along their
//! state diagrams (the checks of single records are in `records`).

use super::{
    Violation,
    accounting::{self, Entitlements},
    admission,
    charges::LoanCharges,
    records,
    view::View,
    world::{Applied, World},
};
use crate::{
    Event, audit,
    lending::{LendingEvent, LoanState},
    market::{MarketEvent, Trade, TradeState},
};
use std::collections::{BTreeMap, BTreeSet};
use types::market::Party;

/// What the checks remember from one block to the next: the entitlements and the state of every
/// trade and loan as the events told it.
#[derive(Debug, Default)]
pub struct Memory {
    entitlements: Entitlements,
    trades: BTreeMap<u64, TradeState>,
    loans: BTreeMap<u64, LoanState>,
    settled: BTreeSet<u64>,
    charges: BTreeMap<u64, LoanCharges>,
}

/// The steps of the trade diagram.
fn trade_step_allowed(from: TradeState, to: TradeState) -> bool {
    use TradeState::*;
    matches!(
        (from, to),
        (AwaitingPayment, Paid | Completed | Cancelled | TimedOut)
            | (Paid, Completed | Disputed)
            | (Disputed, Resolved)
    )
}

/// The steps of the loan diagram.
fn loan_step_allowed(from: LoanState, to: LoanState) -> bool {
    use LoanState::*;
    matches!(
        (from, to),
        (Funding, Active | Cancelled | Expired) | (Active, Repaid | Defaulted)
    )
}

fn transition(what: String) -> Violation {
    Violation::new("legal transitions", what)
}

/// Checks a trade's step against the diagram and the deadline it depends on.
fn check_trade_step(
    trade: &Trade,
    from: TradeState,
    to: TradeState,
    now: u64,
) -> Result<(), Violation> {
    if !trade_step_allowed(from, to) {
        return Err(transition(format!(
            "trade {} moved from {from:?} to {to:?}",
            trade.id
        )));
    }
    let in_window = now <= trade.payment_deadline_ms;
    let late = match to {
        TradeState::Paid | TradeState::Cancelled => !in_window,
        TradeState::TimedOut => in_window,
        TradeState::Disputed => {
            trade.dispute_opened_by == Some(Party::Buyer) && now <= trade.release_deadline_ms
        }
        _ => false,
    };
    if late {
        return Err(transition(format!(
            "trade {} moved from {from:?} to {to:?} at {now} ms (payment deadline {} ms, release \
             deadline {} ms, dispute opened by {:?})",
            trade.id, trade.payment_deadline_ms, trade.release_deadline_ms, trade.dispute_opened_by
        )));
    }
    Ok(())
}

/// Checks a settlement's payout against the rule of the state it settled into.
fn check_settlement(
    trade: &Trade,
    view: &View,
    (to_buyer, to_seller, to_arbitrator): (u128, u128, u128),
) -> Result<(), Violation> {
    let total = to_buyer
        .checked_add(to_seller)
        .and_then(|sum| sum.checked_add(to_arbitrator));
    let escrow = trade
        .amount
        .checked_add(trade.buyer_deposit)
        .and_then(|sum| sum.checked_add(trade.seller_deposit));
    let expected = match trade.state {
        TradeState::Completed => Some((
            trade.amount.saturating_add(trade.buyer_deposit),
            trade.seller_deposit,
            0,
        )),
        TradeState::Cancelled => Some((
            trade.buyer_deposit,
            trade.amount.saturating_add(trade.seller_deposit),
            0,
        )),
        TradeState::TimedOut => Some((0, escrow.unwrap_or(u128::MAX), 0)),
        _ => None,
    };
    // The arbitrator's fee: at most its own rate (the chain's maximum once it has left) of the
    // amount, rounded down, and never more than a deposit.
    let fee_bps = trade
        .arbitrator
        .and_then(|account| view.arbitrators.iter().find(|a| a.account == account))
        .map_or(view.market.max_arbitrator_fee_bps, |a| a.fee_bps);
    let fee_cap = crate::lending::math::mul_div_floor(trade.amount, u128::from(fee_bps), 10_000)
        .unwrap_or(u128::MAX)
        .min(trade.buyer_deposit.max(trade.seller_deposit));
    let wrong = total != escrow
        || expected.is_some_and(|expected| expected != (to_buyer, to_seller, to_arbitrator))
        || to_arbitrator > fee_cap
        || (to_arbitrator > 0 && trade.arbitrator.is_none());
    if wrong {
        return Err(Violation::new(
            "settlements pay the escrow by the rules",
            format!(
                "trade {} settled as {:?}: buyer {to_buyer}, seller {to_seller}, arbitrator \
                 {to_arbitrator}; escrow {escrow:?}, expected {expected:?}, fee cap {fee_cap}",
                trade.id, trade.state
            ),
        ));
    }
    Ok(())
}

/// The settlement a trade records is the one its `Settled` event announced, in this block, with a
/// party at fault exactly when an arbitrator ruled (a ruling keeps the arbitrator; a dispute that
/// ends without one clears it and pays no fee).
fn check_recorded_settlement(
    trade: &Trade,
    height: u64,
    paid: (u128, u128, u128),
) -> Result<(), Violation> {
    let recorded = trade.settlement.as_ref();
    let ruled = trade.state == TradeState::Resolved && trade.arbitrator.is_some();
    let right = recorded.is_some_and(|s| {
        (s.to_buyer, s.to_seller, s.to_arbitrator) == paid
            && s.height == height
            && s.at_fault.is_some() == ruled
    });
    if !right {
        return Err(Violation::new(
            "trades record their settlement",
            format!(
                "trade {} settled as {:?} at height {height} paying {paid:?}, but records {recorded:?}",
                trade.id, trade.state
            ),
        ));
    }
    Ok(())
}

/// Replays the block's events through the state diagrams.
fn check_events(memory: &mut Memory, applied: &Applied, view: &View) -> Result<(), Violation> {
    let now = applied.context.timestamp_ms;
    let trades: BTreeMap<u64, &Trade> = view.trades.iter().map(|t| (t.id, t)).collect();
    let loans: BTreeMap<u64, &crate::lending::Loan> =
        view.loans.iter().map(|l| (l.id, l)).collect();
    // The last repayment of each loan in the block: (late fee, interest, principal).
    let mut waterfall: BTreeMap<u64, (u128, u128, u128)> = BTreeMap::new();
    let events = applied.receipts.iter().flat_map(|r| &r.events);
    for event in events {
        match event {
            Event::Market(MarketEvent::TradeOpened { trade, .. }) => {
                let earlier = memory.trades.insert(*trade, TradeState::AwaitingPayment);
                if earlier.is_some() {
                    return Err(transition(format!("trade {trade} was opened twice")));
                }
            }
            Event::Market(MarketEvent::TradeStateChanged { trade, state }) => {
                let record = trades.get(trade).ok_or_else(|| {
                    transition(format!("trade {trade} changed but has no record"))
                })?;
                let from = memory.trades.get(trade).copied().ok_or_else(|| {
                    transition(format!("trade {trade} changed before it was opened"))
                })?;
                check_trade_step(record, from, *state, now)?;
                memory.trades.insert(*trade, *state);
            }
            Event::Market(MarketEvent::Settled {
                trade,
                to_buyer,
                to_seller,
                to_arbitrator,
            }) => {
                if !memory.settled.insert(*trade) {
                    return Err(Violation::new(
                        "settle exactly once",
                        format!("trade {trade} settled twice"),
                    ));
                }
                let record = trades.get(trade).ok_or_else(|| {
                    transition(format!("trade {trade} settled but has no record"))
                })?;
                check_settlement(record, view, (*to_buyer, *to_seller, *to_arbitrator))?;
                check_recorded_settlement(
                    record,
                    applied.context.height,
                    (*to_buyer, *to_seller, *to_arbitrator),
                )?;
            }
            Event::Lending(event) => {
                match event {
                    LendingEvent::Activated { loan, principal } => {
                        let record = loans.get(loan).ok_or_else(|| {
                            transition(format!("loan {loan} was disbursed but has no record"))
                        })?;
                        memory.charges.insert(
                            *loan,
                            LoanCharges::activated(record, *principal, now, &view.lending),
                        );
                    }
                    LendingEvent::Repaid {
                        loan,
                        late_fee,
                        interest,
                        principal,
                    } => {
                        let model = memory.charges.get_mut(loan).ok_or_else(|| {
                            transition(format!("loan {loan} was repaid before it was disbursed"))
                        })?;
                        model.accrue(now)?;
                        model.repaid_principal(*principal);
                        waterfall.insert(*loan, (*late_fee, *interest, *principal));
                    }
                    LendingEvent::Defaulted { loan, .. } => {
                        if let Some(model) = memory.charges.get_mut(loan) {
                            model.accrue(now)?;
                        }
                    }
                    _ => {}
                }
                let (loan, to) = match event {
                    LendingEvent::LoanRequested { loan, .. } => {
                        if memory.loans.insert(*loan, LoanState::Funding).is_some() {
                            return Err(transition(format!("loan {loan} was requested twice")));
                        }
                        continue;
                    }
                    LendingEvent::Activated { loan, .. } => (loan, LoanState::Active),
                    LendingEvent::RequestClosed { loan, state } => (loan, *state),
                    LendingEvent::Defaulted { loan, .. } => (loan, LoanState::Defaulted),
                    LendingEvent::LoanRepaid { loan } => {
                        if memory.loans.get(loan) == Some(&LoanState::Defaulted) {
                            continue;
                        }
                        (loan, LoanState::Repaid)
                    }
                    _ => continue,
                };
                let from =
                    memory.loans.get(loan).copied().ok_or_else(|| {
                        transition(format!("loan {loan} changed before its request"))
                    })?;
                if !loan_step_allowed(from, to) {
                    return Err(transition(format!(
                        "loan {loan} moved from {from:?} to {to:?}"
                    )));
                }
                if let Some(record) = loans.get(loan) {
                    check_loan_step(record, to, now, view)?;
                }
                memory.loans.insert(*loan, to);
            }
            _ => {}
        }
    }
    // Nothing changes state silently: every record is where its events put it.
    for trade in &view.trades {
        if memory.trades.get(&trade.id) != Some(&trade.state) {
            return Err(transition(format!(
                "trade {} is {:?}; its events say {:?}",
                trade.id,
                trade.state,
                memory.trades.get(&trade.id)
            )));
        }
    }
    // Late fees, then interest, then principal: a repayment that reached interest left no late
    // fee owed, and one that reached principal left no interest owed either (nothing accrues
    // again within the block's millisecond).
    for (id, (_, interest, principal)) in &waterfall {
        let Some(loan) = loans.get(id) else { continue };
        let unpaid_before = (*interest > 0 || *principal > 0) && loan.late_fee_owed > 0
            || *principal > 0 && loan.interest_owed > 0;
        if unpaid_before {
            return Err(Violation::new(
                "repayments follow the waterfall",
                format!(
                    "loan {id} took {interest} interest and {principal} principal but still owes \
                     {} in late fees and {} in interest",
                    loan.late_fee_owed, loan.interest_owed
                ),
            ));
        }
    }
    for (id, model) in &memory.charges {
        if let Some(loan) = loans.get(id) {
            model.check(loan)?;
        }
    }
    for loan in &view.loans {
        if memory.loans.get(&loan.id) != Some(&loan.state) {
            return Err(transition(format!(
                "loan {} is {:?}; its events say {:?}",
                loan.id,
                loan.state,
                memory.loans.get(&loan.id)
            )));
        }
    }
    Ok(())
}

fn check_loan_step(
    loan: &crate::lending::Loan,
    to: LoanState,
    now: u64,
    view: &View,
) -> Result<(), Violation> {
    const DAY_MS: u64 = 86_400_000;
    let early = match to {
        LoanState::Expired => now <= loan.funding_deadline_ms,
        // The oldest unpaid due date is never before the first one.
        LoanState::Defaulted => loan.dues.first().is_none_or(|first| {
            now <= first
                .at_ms
                .saturating_add(u64::from(view.lending.default_after_days).saturating_mul(DAY_MS))
        }),
        _ => false,
    };
    if early {
        return Err(transition(format!(
            "loan {} became {to:?} at {now} ms, before its time (funding deadline {} ms, dues {:?})",
            loan.id, loan.funding_deadline_ms, loan.dues
        )));
    }
    Ok(())
}

/// Every check, after one block.
pub fn after_block(world: &World, memory: &mut Memory, applied: &Applied) -> Result<(), Violation> {
    admission::check_receipts(world, applied)?;
    audit::check_conservation(&world.store)
        .map_err(|error| Violation::new("conservation", error.to_string()))?;
    audit::check_indexes(&world.store)
        .map_err(|error| Violation::new("indexes", error.to_string()))?;
    let view = View::read(&world.store, world.time_ms);
    check_events(memory, applied, &view)?;
    records::check_takes(applied, &view)?;
    records::check_records(world, &view)?;
    records::check_chat(world, applied, &view)?;
    records::check_expected(applied)?;
    accounting::check_held(&world.store, &view)?;
    let entitlements = accounting::entitlements(&world.store, &view)?;
    accounting::check_monotone(&memory.entitlements, &entitlements)?;
    memory.entitlements = entitlements;
    records::check_arbitrators(&view)
}
