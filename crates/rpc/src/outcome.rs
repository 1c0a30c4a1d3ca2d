//! How a trade went and how it ended: its timeline from the trade record's times, and who
//! received what from the `settled` event of the transaction that closed it.
//!
//! The split is read from that receipt, never recomputed: the trade record keeps no ruling, and
//! an outcome must be what the ledger did. The node keeps only its recent blocks in memory, so a
//! trade settled long ago has its timeline but no split here (the answer says so).

use crate::{
    Backend,
    market::{MAX_PAGE, party_name, trade_state_name},
    views::Money,
};
use ledger::market::{Trade, TradeState};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One moment of a trade's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepView {
    pub at_ms: u64,
    /// "opened", "marked_paid", "disputed", "arbitrator_assigned" or the final state
    /// ("completed", "cancelled", "timed_out", "resolved").
    pub step: String,
    /// The same in words.
    pub text: String,
}

/// The payout of a trade's escrow, as its settling transaction recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettlementView {
    pub to_buyer: Money,
    pub to_seller: Money,
    /// The arbitrator's fee (zero unless a ruling).
    pub to_arbitrator: Money,
    /// The transaction that settled the trade, and its block.
    pub tx_id: String,
    pub height: u64,
    /// True when the dispute ended without a ruling (no arbitrator could take the case).
    pub no_ruling: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TradeOutcomeView {
    pub trade: u64,
    pub state: String,
    /// From the trade record, oldest first.
    pub timeline: Vec<StepView>,
    /// Once settled, when this node still keeps the settling block.
    pub settlement: Option<SettlementView>,
    /// Who received what and why, in words; empty while the trade is open.
    pub explanation: Vec<String>,
}

fn money_field(event: &Value, name: &str) -> Option<Money> {
    serde_json::from_value(event.get(name)?.clone()).ok()
}

/// The `settled` event of `trade`, looked for among the recent transactions of the accounts
/// that can settle a trade: the seller (release, timeout), the buyer (cancel) and the
/// arbitrator (rule). A dispute ended without a ruling by someone else is not found.
fn settlement(backend: &dyn Backend, trade: &Trade) -> Option<SettlementView> {
    let mut accounts = vec![trade.seller, trade.buyer];
    accounts.extend(trade.arbitrator);
    accounts.extend(trade.reassigned.iter().copied());
    for account in accounts {
        for entry in backend.history(&account, MAX_PAGE as usize) {
            let events = &entry.receipt.events;
            let for_trade =
                |e: &&Value, kind: &str| e["kind"] == kind && e["trade"].as_u64() == Some(trade.id);
            let Some(settled) = events.iter().find(|e| for_trade(e, "settled")) else {
                continue;
            };
            return Some(SettlementView {
                to_buyer: money_field(settled, "to_buyer")?,
                to_seller: money_field(settled, "to_seller")?,
                to_arbitrator: money_field(settled, "to_arbitrator")?,
                tx_id: entry.receipt.tx_id.clone(),
                height: entry.receipt.height,
                no_ruling: events.iter().any(|e| for_trade(&e, "no_ruling")),
            });
        }
    }
    None
}

fn timeline(trade: &Trade) -> Vec<StepView> {
    let step = |at_ms: u64, step: &str, text: String| StepView {
        at_ms,
        step: step.into(),
        text,
    };
    let mut steps = vec![step(
        trade.created_ms,
        "opened",
        "opened: the seller's amount and both deposits went into escrow".into(),
    )];
    if let Some(at) = trade.paid_ms {
        steps.push(step(
            at,
            "marked_paid",
            "the buyer marked the fiat paid".into(),
        ));
    }
    if let Some(at) = trade.disputed_ms {
        let by = trade.dispute_opened_by.map_or("a party", party_name);
        steps.push(step(at, "disputed", format!("the {by} opened a dispute")));
    }
    if trade.arbitrator.is_some() && trade.assigned_ms > 0 {
        steps.push(step(
            trade.assigned_ms,
            "arbitrator_assigned",
            "an arbitrator was assigned".into(),
        ));
    }
    if let Some(at) = trade.settled_ms {
        let text = match trade.state {
            TradeState::Completed => "the seller released the escrow",
            TradeState::Cancelled => "the buyer cancelled the trade",
            TradeState::TimedOut => "the trade timed out: the buyer had not marked paid in time",
            TradeState::Resolved => "the dispute was settled",
            _ => "settled",
        };
        steps.push(step(at, trade_state_name(trade.state), text.into()));
    }
    steps.sort_by_key(|s| s.at_ms);
    steps
}

/// Why the escrow went where it did, from the final state and the recorded split.
fn explanation(trade: &Trade, settlement: Option<&SettlementView>) -> Vec<String> {
    if !trade.state.is_final() {
        return Vec::new();
    }
    let why = match (trade.state, settlement) {
        (TradeState::Completed, _) => {
            "The seller released the escrow: the buyer received the amount bought and each \
             side its deposit back."
        }
        (TradeState::Cancelled, _) => {
            "The buyer cancelled within the payment window: the seller's amount and each \
             side's deposit went back."
        }
        (TradeState::TimedOut, _) => {
            "The payment window passed without the buyer marking paid: the seller got its \
             amount back and the buyer's deposit."
        }
        // A ruling keeps the trade's arbitrator; both ways of ending without one clear it.
        (TradeState::Resolved, _) if trade.arbitrator.is_none() => {
            "No arbitrator could take the dispute in time: it ended without a ruling, by the \
             market's rule for that case."
        }
        (TradeState::Resolved, _) => {
            "The arbitrator ruled on the dispute and split the escrow. By the market's rule the \
             party found at fault loses its deposit: the arbitrator's fee is paid from it and the \
             rest goes to the other party, who also gets its own deposit back."
        }
        _ => "",
    };
    let mut lines = vec![why.to_string()];
    match settlement {
        Some(s) => {
            let mut split = format!(
                "The buyer received {}; the seller received {}",
                s.to_buyer, s.to_seller
            );
            if s.to_arbitrator.minor() > 0 {
                split.push_str(&format!(
                    "; the arbitrator received {} as its fee",
                    s.to_arbitrator
                ));
            }
            split.push_str(&format!(" (transaction in block {}).", s.height));
            lines.push(split);
        }
        None => lines.push(
            "The split is not shown: the transaction that settled the trade is not among the \
             recent transactions of its parties that this node keeps (its receipt holds a \
             settled event)."
                .into(),
        ),
    }
    lines
}

impl TradeOutcomeView {
    pub fn read(backend: &dyn Backend, trade: &Trade) -> Self {
        let settlement = trade
            .state
            .is_final()
            .then(|| settlement(backend, trade))
            .flatten();
        Self {
            trade: trade.id,
            state: trade_state_name(trade.state).into(),
            timeline: timeline(trade),
            explanation: explanation(trade, settlement.as_ref()),
            settlement,
        }
    }
}
