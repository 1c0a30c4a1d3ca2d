//! How a trade went and how it ended: its timeline from the trade record's times, and who
//! received what from the settlement the ledger recorded on the trade when it paid the escrow
//! out (never recomputed: an outcome must be what the ledger did). The settling transaction is
//! looked up in the block the record names, while this node still has that block.

use crate::{
    Backend,
    market::{party_name, trade_state_name},
    views::Money,
};
use ledger::market::{Trade, TradeState};
use serde::{Deserialize, Serialize};

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

/// The payout of a trade's escrow, as the ledger recorded it on the trade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettlementView {
    pub to_buyer: Money,
    pub to_seller: Money,
    /// The arbitrator's fee (zero unless a ruling).
    pub to_arbitrator: Money,
    /// The block that settled the trade.
    pub height: u64,
    /// The transaction that settled it, while this node still has that block.
    pub tx_id: Option<String>,
    /// "buyer" or "seller" when an arbitrator ruled; none for every other end.
    pub at_fault: Option<String>,
    /// True when the dispute ended without a ruling (no arbitrator could take the case).
    pub no_ruling: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TradeOutcomeView {
    pub trade: u64,
    pub state: String,
    /// From the trade record, oldest first.
    pub timeline: Vec<StepView>,
    /// Once settled.
    pub settlement: Option<SettlementView>,
    /// Who received what and why, in words; empty while the trade is open.
    pub explanation: Vec<String>,
}

/// The transaction of block `height` whose receipt settled `trade`: one block's receipts at
/// most are read.
fn settling_tx(backend: &dyn Backend, height: u64, trade: u64) -> Option<String> {
    let block = backend.block(height)?;
    block.transactions.iter().find_map(|id| {
        let bytes: [u8; 32] = hex::decode(id.trim_start_matches("0x"))
            .ok()?
            .try_into()
            .ok()?;
        let receipt = backend.receipt(&types::Digest(bytes))?;
        receipt
            .events
            .iter()
            .any(|e| e["kind"] == "settled" && e["trade"].as_u64() == Some(trade))
            .then_some(receipt.tx_id)
    })
}

fn settlement(backend: &dyn Backend, trade: &Trade) -> Option<SettlementView> {
    let recorded = trade.settlement.as_ref()?;
    let store = backend.state();
    let money = |amount| Money::read(&*store, trade.asset, amount);
    Some(SettlementView {
        to_buyer: money(recorded.to_buyer),
        to_seller: money(recorded.to_seller),
        to_arbitrator: money(recorded.to_arbitrator),
        height: recorded.height,
        tx_id: settling_tx(backend, recorded.height, trade.id),
        at_fault: recorded.at_fault.map(|p| party_name(p).into()),
        no_ruling: trade.state == TradeState::Resolved && recorded.at_fault.is_none(),
    })
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
        let text = match trade.dispute_reason {
            Some(reason) => format!("the {by} opened a dispute: {}", reason.words()),
            None => format!("the {by} opened a dispute"),
        };
        steps.push(step(at, "disputed", text));
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
        (
            TradeState::Resolved,
            Some(SettlementView {
                at_fault: Some(party),
                ..
            }),
        ) => &format!(
            "The arbitrator ruled on the dispute and found the {party} at fault. By the \
                 market's rule the party at fault loses its deposit: the arbitrator's fee is paid \
                 from it and the rest goes to the other party, who also gets its own deposit back."
        ),
        (TradeState::Resolved, _) => {
            "The arbitrator ruled on the dispute and split the escrow. By the market's rule the \
             party found at fault loses its deposit: the arbitrator's fee is paid from it and the \
             rest goes to the other party, who also gets its own deposit back."
        }
        _ => "",
    };
    let mut lines = vec![why.to_string()];
    if let (Some(by), Some(reason)) = (trade.dispute_opened_by, trade.dispute_reason) {
        let mut opened = format!(
            "The {} opened the dispute because {}",
            party_name(by),
            reason.words()
        );
        if !trade.dispute_note.as_str().is_empty() {
            opened.push_str(&format!(": \"{}\"", trade.dispute_note));
        }
        opened.push('.');
        lines.push(opened);
    }
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
            split.push_str(&format!(" (block {}).", s.height));
            lines.push(split);
        }
        None => lines.push("The ledger recorded no split for this trade.".into()),
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
