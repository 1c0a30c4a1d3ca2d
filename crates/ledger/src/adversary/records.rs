//! Checks of single records and calls after a block: takes at the terms seen, arbitrators'
//! cases, chat allowances, what offers hold, closed loans, credit histories, and the calls the
//! oracle said must succeed.

use super::{
    Violation,
    view::View,
    world::{Applied, World},
};
use crate::{
    CallError, Event, Outcome,
    lending::LoanState,
    market::{MarketError, MarketEvent, TradeState},
};
use std::collections::BTreeMap;
use types::{
    AccountId, Call,
    market::{MarketCall, Side},
};

/// A take executes at the terms the taker saw: when it names the revision the offer had at the
/// start of the block, the trade has that revision's price, currency and payment window, and
/// the taker's deposit is that revision's rate of the amount, rounded up.
pub fn check_takes(applied: &Applied, view: &View) -> Result<(), Violation> {
    for (tx, receipt) in applied.txs.iter().zip(&applied.receipts) {
        let Call::Market(MarketCall::TakeOffer(take)) = &tx.tx().call else {
            continue;
        };
        if !receipt.is_success() {
            continue;
        }
        let Some(seen) = applied.offers_before.get(&take.offer) else {
            continue;
        };
        if seen.revision != take.revision {
            continue;
        }
        let opened = receipt.events.iter().find_map(|event| match event {
            Event::Market(MarketEvent::TradeOpened { trade, .. }) => Some(*trade),
            _ => None,
        });
        let Some(trade) = opened.and_then(|id| view.trades.iter().find(|t| t.id == id)) else {
            return Err(Violation::new(
                "takes bind the terms seen",
                format!("a successful take of offer {} opened no trade", take.offer),
            ));
        };
        let method_window = view
            .market
            .method(&take.method)
            .map_or(0, |info| info.min_window_secs);
        let window_ms = u64::from(seen.payment_window_secs.max(method_window)) * 1_000;
        let (taker_deposit, bps) = match seen.side {
            Side::Sell => (trade.buyer_deposit, seen.buyer_deposit_bps),
            Side::Buy => (trade.seller_deposit, seen.seller_deposit_bps),
        };
        let expected_deposit =
            crate::lending::math::mul_div_ceil(trade.amount, u128::from(bps), 10_000);
        if trade.price != seen.price
            || trade.fiat != seen.fiat
            || trade.asset != seen.asset
            || trade.payment_deadline_ms.saturating_sub(trade.created_ms) != window_ms
            || Some(taker_deposit) != expected_deposit
        {
            return Err(Violation::new(
                "takes bind the terms seen",
                format!(
                    "trade {} took offer {} at revision {}, which offered price {} {} with a \
                     {window_ms} ms window and a taker deposit of {bps} bps; the trade has price \
                     {} {}, a {} ms window and a taker deposit of {taker_deposit} for {}",
                    trade.id,
                    take.offer,
                    take.revision,
                    seen.price,
                    seen.fiat,
                    trade.price,
                    trade.fiat,
                    trade.payment_deadline_ms.saturating_sub(trade.created_ms),
                    trade.amount
                ),
            ));
        }
    }
    Ok(())
}

/// Arbitrators: never a party to a trade they hold, and their open-case counts match the
/// disputes assigned to them.
pub fn check_arbitrators(view: &View) -> Result<(), Violation> {
    if let Some(account) = view.missing_arbitrators.first() {
        return Err(Violation::new(
            "arbitrator registry",
            format!("{account} is listed as an arbitrator without a record"),
        ));
    }
    let mut open: BTreeMap<AccountId, u32> = BTreeMap::new();
    for trade in view.live_trades() {
        if let Some(arbitrator) = trade.arbitrator {
            if arbitrator == trade.buyer || arbitrator == trade.seller {
                return Err(Violation::new(
                    "arbitrator is not a party",
                    format!(
                        "trade {} is arbitrated by its own party {arbitrator}",
                        trade.id
                    ),
                ));
            }
            if trade.state == TradeState::Disputed {
                *open.entry(arbitrator).or_default() += 1;
            }
        }
    }
    for arbitrator in &view.arbitrators {
        let assigned = open.remove(&arbitrator.account).unwrap_or(0);
        if arbitrator.open_cases != assigned {
            return Err(Violation::new(
                "arbitrator case counts",
                format!(
                    "{} counts {} open cases; {assigned} disputes are assigned to it",
                    arbitrator.account, arbitrator.open_cases
                ),
            ));
        }
    }
    if let Some((account, count)) = open.into_iter().next() {
        return Err(Violation::new(
            "arbitrator registry",
            format!("{count} disputes are assigned to {account}, which is not registered"),
        ));
    }
    Ok(())
}

/// Chat allowances are per author: a message refused for the limit was refused because its
/// author, not someone else, had used up its own allowance.
pub fn check_chat(world: &World, applied: &Applied, view: &View) -> Result<(), Violation> {
    for (tx, receipt) in applied.txs.iter().zip(&applied.receipts) {
        let Call::Market(MarketCall::PostMessage(post)) = &tx.tx().call else {
            continue;
        };
        let Outcome::Failed(CallError::Market(MarketError::TooManyMessages { .. })) =
            &receipt.outcome
        else {
            continue;
        };
        let Some(trade) = view.trades.iter().find(|t| t.id == post.trade) else {
            continue;
        };
        let author = tx.tx().signer;
        let own = (0..trade.messages)
            .filter_map(|index| crate::market::Db::message(&world.store, trade.id, index))
            .filter(|message| message.sender == author)
            .count() as u64;
        let allowance = u64::from(view.market.max_messages_per_author);
        if own < allowance {
            return Err(Violation::new(
                "chat allowances are per author",
                format!(
                    "{author} was refused a message to trade {} for the limit after posting {own} \
                     of its {allowance} ({} messages in all)",
                    trade.id, trade.messages
                ),
            ));
        }
    }
    Ok(())
}

/// Records agree with themselves: an open offer holds its whole remaining inventory (Sell) or
/// none (Buy), and at least its deposit rate of what remains; each actor's credit history counts
/// exactly its loans that were disbursed, defaulted and repaid.
pub fn check_records(world: &World, view: &View) -> Result<(), Violation> {
    for offer in &view.offers {
        let (inventory, bps) = match offer.side {
            Side::Sell => (offer.max_amount, offer.seller_deposit_bps),
            Side::Buy => (0, offer.buyer_deposit_bps),
        };
        let deposit =
            crate::lending::math::mul_div_floor(offer.max_amount, u128::from(bps), 10_000)
                .unwrap_or(u128::MAX);
        if offer.amount_locked != inventory || offer.deposit_locked < deposit {
            return Err(Violation::new(
                "offers hold what they promise",
                format!(
                    "{:?} offer {} can still be taken for {} at a {bps} bps deposit, but holds {} \
                     and a deposit of {}",
                    offer.side,
                    offer.id,
                    offer.max_amount,
                    offer.amount_locked,
                    offer.deposit_locked
                ),
            ));
        }
    }
    if let Some(loan) = view.loans.iter().find(|loan| {
        (loan.state == LoanState::Repaid || loan.closed_ms.is_some())
            && (loan.principal_paid != loan.principal
                || loan.interest_owed > 0
                || loan.late_fee_owed > 0)
    }) {
        return Err(Violation::new(
            "closed loans owe nothing",
            format!(
                "loan {} is {:?} (closed at {:?}) with {} of {} principal paid, {} interest and {} \
                 late fees owed",
                loan.id,
                loan.state,
                loan.closed_ms,
                loan.principal_paid,
                loan.principal,
                loan.interest_owed,
                loan.late_fee_owed
            ),
        ));
    }
    if let Some(loan) = view
        .loans
        .iter()
        .find(|loan| loan.state == LoanState::Funding && loan.funded >= loan.principal)
    {
        return Err(Violation::new(
            "a fully funded request is disbursed at once",
            format!(
                "loan {} is funded {} of {} and still collecting",
                loan.id, loan.funded, loan.principal
            ),
        ));
    }
    for actor in 0..=super::world::FAUCET {
        let borrower = world.setup.account(actor);
        let history = crate::lending::Db::history(&world.store, &borrower);
        let count = |states: &[LoanState]| {
            view.loans
                .iter()
                .filter(|loan| loan.borrower == borrower && states.contains(&loan.state))
                .count() as u32
        };
        let disbursed = count(&[LoanState::Active, LoanState::Repaid, LoanState::Defaulted]);
        let defaulted = count(&[LoanState::Defaulted]);
        let repaid = count(&[LoanState::Repaid]);
        let closed = history.repaid_on_time.saturating_add(history.repaid_late);
        if history.loans != disbursed || history.defaults != defaulted || closed != repaid {
            return Err(Violation::new(
                "credit history matches the loans",
                format!(
                    "actor {actor}'s history counts {} loans, {} defaults and {closed} repaid; its \
                     loans show {disbursed} disbursed, {defaulted} defaulted and {repaid} repaid",
                    history.loans, history.defaults
                ),
            ));
        }
    }
    Ok(())
}

/// Every call the state before the block said must succeed did, unless admission refused its
/// transaction (which the admission checks judge).
pub fn check_expected(applied: &Applied) -> Result<(), Violation> {
    for ((tx, receipt), reason) in applied
        .txs
        .iter()
        .zip(&applied.receipts)
        .zip(&applied.expected)
    {
        let Some(reason) = reason else { continue };
        if let Outcome::Failed(error) = &receipt.outcome {
            return Err(Violation::new(
                "valid calls succeed",
                format!("{:?} ({reason}) failed: {error:?}", tx.tx().call),
            ));
        }
    }
    Ok(())
}
