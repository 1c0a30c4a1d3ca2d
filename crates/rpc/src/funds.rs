//! Where an account's money is: per asset, what it can spend and each part the market, lending
//! and staking modules hold for it (offers, trades, collateral, bonds, deposits, loan requests,
//! claims), each part itemised by the record that holds it, plus what it has lent out and is
//! owed back.
//!
//! Read from the ledger's records, not from its events. The parts marked `held` are exactly what
//! the modules hold for this account: summed over every account they equal what each module
//! holds of the asset (`crates/rpc/tests/funds.rs` checks it). The records come from the
//! account's own index ([`ledger::index`]), so a call reads what the account takes part in,
//! whatever the size of the ledger.

use crate::views::Money;
use ledger::{
    MemoryStore,
    index::{self, Kind},
    lending::{self, LoanState},
    market, staking, state,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use types::{AccountId, AssetId, market::Side};

/// The parts, in the order a wallet shows them.
pub const PARTS: [&str; 7] = [
    "in_offers",
    "in_trades",
    "as_collateral",
    "in_loan_requests",
    "as_bond",
    "claimable",
    "lent_out",
];

/// One record holding some of the account's money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HoldingView {
    /// "offer", "trade", "loan", "credit_offer", "arbitrator", "validator" or "full_node".
    pub kind: String,
    /// The offer, trade, loan or credit offer id; none for a bond or a full node's deposit.
    pub id: Option<u64>,
    pub amount: Money,
}

/// One part of an asset's funds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FundsPartView {
    /// One of [`PARTS`]: "in_offers" (market offers' inventory and deposits, and credit offers'
    /// unlent funds), "in_trades" (this account's share of open trades' escrow),
    /// "as_collateral" (collateral of its loan requests and loans), "in_loan_requests" (what it
    /// has put into requests still collecting lenders), "as_bond" (its arbitrator bond, its
    /// validator bond, candidate or unbonding, and its full nodes' deposits),
    /// "claimable" (repayments and seized collateral waiting for it to claim) or "lent_out"
    /// (its share of principal borrowers still owe).
    pub part: String,
    /// True when a module holds this part for the account; false for "lent_out", which the
    /// borrowers hold and owe back.
    pub held: bool,
    pub total: Money,
    pub holdings: Vec<HoldingView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssetFundsView {
    pub asset: u32,
    pub symbol: String,
    /// The balance: what the account can spend now.
    pub available: Money,
    /// Every part, in the order of [`PARTS`], zero ones included.
    pub parts: Vec<FundsPartView>,
    /// `available` plus every held part: what the account would have if every offer, trade,
    /// request and bond were closed and every claim made (lent-out principal not included).
    pub total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FundsView {
    pub account: String,
    /// Every asset the account holds or is owed any of, by asset id.
    pub assets: Vec<AssetFundsView>,
}

/// One holding as gathered: the kind of record, its id and the amount in minor units.
type Item = (&'static str, Option<u64>, u128);

/// Holdings gathered per asset and index into [`PARTS`].
#[derive(Default)]
struct Ledger {
    items: BTreeMap<(AssetId, usize), Vec<Item>>,
}

impl Ledger {
    fn add(
        &mut self,
        asset: AssetId,
        part: &str,
        kind: &'static str,
        id: Option<u64>,
        amount: u128,
    ) {
        if amount == 0 {
            return;
        }
        let index = PARTS
            .iter()
            .position(|p| *p == part)
            .expect("a part of PARTS");
        self.items
            .entry((asset, index))
            .or_default()
            .push((kind, id, amount));
    }
}

impl FundsView {
    pub fn read(store: &MemoryStore, account: &AccountId) -> Self {
        let mut found = Ledger::default();
        market_holdings(store, account, &mut found);
        lending_holdings(store, account, &mut found);
        staking_holdings(store, account, &mut found);
        let mut assets: Vec<AssetId> = (0..state::next_asset_id(store).0)
            .map(AssetId)
            .filter(|asset| state::balance(store, account, *asset) > 0)
            .chain(found.items.keys().map(|(asset, _)| *asset))
            .collect();
        assets.sort();
        assets.dedup();
        let assets = assets
            .into_iter()
            .map(|asset| {
                let money = |minor| Money::read(store, asset, minor);
                let available = state::balance(store, account, asset);
                let mut total = available;
                let parts = PARTS
                    .iter()
                    .enumerate()
                    .map(|(index, part)| {
                        let items = found
                            .items
                            .get(&(asset, index))
                            .cloned()
                            .unwrap_or_default();
                        let sum = items
                            .iter()
                            .fold(0u128, |sum, (_, _, amount)| sum.saturating_add(*amount));
                        let held = *part != "lent_out";
                        if held {
                            total = total.saturating_add(sum);
                        }
                        FundsPartView {
                            part: (*part).into(),
                            held,
                            total: money(sum),
                            holdings: items
                                .into_iter()
                                .map(|(kind, id, amount)| HoldingView {
                                    kind: kind.into(),
                                    id,
                                    amount: money(amount),
                                })
                                .collect(),
                        }
                    })
                    .collect();
                let symbol = money(0).symbol;
                AssetFundsView {
                    asset: asset.0,
                    symbol,
                    available: money(available),
                    parts,
                    total: money(total),
                }
            })
            .collect();
        Self {
            account: account.to_string(),
            assets,
        }
    }
}

fn market_holdings(store: &MemoryStore, account: &AccountId, found: &mut Ledger) {
    for id in index::ids(store, account, Kind::Offer) {
        let Some(offer) = market::Db::offer(store, id) else {
            continue;
        };
        if &offer.maker != account {
            continue;
        }
        // A Sell offer holds its inventory and the seller's deposit, a Buy offer the buyer's.
        let locked = match offer.side {
            Side::Sell => offer.amount_locked.saturating_add(offer.deposit_locked),
            Side::Buy => offer.deposit_locked,
        };
        found.add(offer.asset, "in_offers", "offer", Some(id), locked);
    }
    for id in index::ids(store, account, Kind::Trade) {
        let Some(trade) = market::Db::trade(store, id) else {
            continue;
        };
        if trade.state.is_final() {
            continue;
        }
        // The escrow is the seller's amount and deposit plus the buyer's deposit.
        if &trade.seller == account {
            let share = trade.amount.saturating_add(trade.seller_deposit);
            found.add(trade.asset, "in_trades", "trade", Some(id), share);
        }
        if &trade.buyer == account {
            found.add(
                trade.asset,
                "in_trades",
                "trade",
                Some(id),
                trade.buyer_deposit,
            );
        }
    }
    if let Some(arbitrator) = market::Db::arbitrator(store, account) {
        found.add(
            AssetId::NATIVE,
            "as_bond",
            "arbitrator",
            None,
            arbitrator.bond,
        );
    }
}

/// Its validator's bond and its full nodes' deposits. The full nodes are found by reading the
/// registry, which holds at most `max_nodes` (4,096) keys.
fn staking_holdings(store: &MemoryStore, account: &AccountId, found: &mut Ledger) {
    if let Some(validator) = staking::Db::validator(store, account) {
        found.add(
            AssetId::NATIVE,
            "as_bond",
            "validator",
            None,
            validator.bond,
        );
    }
    for node in staking::full_nodes(store) {
        if &node.owner == account {
            found.add(AssetId::NATIVE, "as_bond", "full_node", None, node.deposit);
        }
    }
}

fn lending_holdings(store: &MemoryStore, account: &AccountId, found: &mut Ledger) {
    for id in index::ids(store, account, Kind::Loan) {
        let Some(loan) = lending::Db::loan(store, id) else {
            continue;
        };
        if &loan.borrower == account
            && matches!(loan.state, LoanState::Funding | LoanState::Active)
            && let Some(collateral) = loan.collateral
        {
            found.add(
                collateral.asset,
                "as_collateral",
                "loan",
                Some(id),
                collateral.amount,
            );
        }
        let Some(position) = lending::Db::position(store, id, account) else {
            continue;
        };
        match loan.state {
            LoanState::Funding => {
                found.add(
                    loan.asset,
                    "in_loan_requests",
                    "loan",
                    Some(id),
                    position.lent,
                );
            }
            LoanState::Active | LoanState::Repaid | LoanState::Defaulted => {
                let (amount, collateral) =
                    lending::claimable(store, &loan, account).unwrap_or((0, 0));
                found.add(loan.asset, "claimable", "loan", Some(id), amount);
                if let Some(c) = loan.collateral {
                    found.add(c.asset, "claimable", "loan", Some(id), collateral);
                }
                if loan.state != LoanState::Repaid && loan.principal > 0 {
                    // This lender's share of the principal still owed, rounded down.
                    let outstanding = loan.principal_outstanding();
                    let share =
                        ledger::math::mul_div_floor(position.lent, outstanding, loan.principal)
                            .unwrap_or(0);
                    found.add(loan.asset, "lent_out", "loan", Some(id), share);
                }
            }
            LoanState::Cancelled | LoanState::Expired => {}
        }
    }
    for id in index::ids(store, account, Kind::CreditOffer) {
        if let Some(offer) = lending::Db::credit_offer(store, id)
            && &offer.lender == account
        {
            found.add(
                offer.asset,
                "in_offers",
                "credit_offer",
                Some(id),
                offer.remaining,
            );
        }
    }
}
