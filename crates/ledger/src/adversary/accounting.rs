//! What each module holds, recomputed from its live records, and the lenders' entitlements.
//!
//! # Held equals owed
//!
//! Per asset, the bank's `held` total of each module must equal the sum of what the module's
//! live records say it owes, exactly:
//!
//! - **market**: for every open offer, `amount_locked + deposit_locked` (a Sell offer's remaining
//!   inventory and the maker's deposit for it; a Buy offer's maker deposit) in the offer's asset;
//!   for every trade that is not final (`AwaitingPayment`, `Paid`, `Disputed`), its escrow
//!   `amount + buyer_deposit + seller_deposit` in the trade's asset; for every registered
//!   arbitrator (leaving or not, until the bond is withdrawn), its `bond` in EQA. Final trades
//!   hold nothing: settling pays the whole escrow out.
//! - **lending**, by loan state:
//!   - `Funding`: `funded` (lenders' money not yet disbursed) in the loan asset, plus the
//!     collateral, locked at the request;
//!   - `Expired`: `funded`, which each lender's withdrawal lowers (the collateral went back at
//!     expiry);
//!   - `Cancelled`: nothing (only a request nobody funded can be cancelled);
//!   - `Active`: the collateral, plus `paid_in − Σ claimed` (repayments the lenders have not
//!     claimed yet) in the loan asset; the principal itself went to the borrower;
//!   - `Repaid`: `paid_in − Σ claimed` (the collateral went back at the last repayment);
//!   - `Defaulted`: `paid_in − Σ claimed` in the loan asset plus
//!     `collateral_paid_in − Σ collateral_claimed` (the seized collateral stays in the module
//!     until the lenders claim it) in the collateral asset;
//!
//!   and for every open credit offer, its `remaining` amount in the offer's asset.
//!   Sums over lenders read every position in the loan's lender list.
//! - **staking**: for every validator record (candidate or unbonding, until withdrawn), its
//!   `bond` in EQA; for every registered full node, its `deposit` in EQA.

use super::{Violation, panics::guarded, view::View};
use crate::{
    lending::{self, LoanState},
    state::{self, Module},
    store::MemoryStore,
};
use std::collections::BTreeMap;
use types::{AccountId, AssetId};

type Totals = BTreeMap<AssetId, u128>;

fn add(totals: &mut Totals, asset: AssetId, amount: u128, what: &str) -> Result<(), Violation> {
    let sum = totals.entry(asset).or_default();
    *sum = sum.checked_add(amount).ok_or_else(|| {
        Violation::new(
            "held equals owed",
            format!("what the records owe overflows at {what}"),
        )
    })?;
    Ok(())
}

fn staking_owed(view: &View) -> Result<Totals, Violation> {
    let mut owed = Totals::new();
    for validator in &view.validators {
        add(
            &mut owed,
            AssetId::NATIVE,
            validator.bond,
            &format!("the bond of validator {}", validator.account),
        )?;
    }
    for node in &view.full_nodes {
        add(
            &mut owed,
            AssetId::NATIVE,
            node.deposit,
            &format!("the deposit of full node {}", node.node_key),
        )?;
    }
    Ok(owed)
}

fn market_owed(view: &View) -> Result<Totals, Violation> {
    let mut owed = Totals::new();
    let overflow = |what: String| {
        Violation::new(
            "held equals owed",
            format!("what {what} holds does not fit in a u128"),
        )
    };
    for offer in &view.offers {
        let held = offer
            .amount_locked
            .checked_add(offer.deposit_locked)
            .ok_or_else(|| overflow(format!("offer {}", offer.id)))?;
        add(&mut owed, offer.asset, held, &format!("offer {}", offer.id))?;
    }
    for trade in view.live_trades() {
        let escrow = trade
            .amount
            .checked_add(trade.buyer_deposit)
            .and_then(|sum| sum.checked_add(trade.seller_deposit))
            .ok_or_else(|| overflow(format!("trade {}", trade.id)))?;
        add(
            &mut owed,
            trade.asset,
            escrow,
            &format!("trade {}", trade.id),
        )?;
    }
    for arbitrator in &view.arbitrators {
        add(
            &mut owed,
            AssetId::NATIVE,
            arbitrator.bond,
            &format!("the bond of {}", arbitrator.account),
        )?;
    }
    Ok(owed)
}

/// Sums of a loan's positions: `(lent, claimed, collateral_claimed)`.
fn position_sums(view: &View, loan: u64) -> Result<(u128, u128, u128), Violation> {
    let mut sums = (0u128, 0u128, 0u128);
    for (lender, position) in view.lenders(loan) {
        let position = position.as_ref().ok_or_else(|| {
            Violation::new(
                "lenders have positions",
                format!("loan {loan} lists lender {lender} without a position"),
            )
        })?;
        let overflow =
            || Violation::new("held equals owed", format!("loan {loan}'s sums overflow"));
        sums.0 = sums.0.checked_add(position.lent).ok_or_else(overflow)?;
        sums.1 = sums.1.checked_add(position.claimed).ok_or_else(overflow)?;
        sums.2 = sums
            .2
            .checked_add(position.collateral_claimed)
            .ok_or_else(overflow)?;
    }
    Ok(sums)
}

fn lending_owed(view: &View) -> Result<Totals, Violation> {
    let mut owed = Totals::new();
    for loan in &view.loans {
        let what = format!("loan {}", loan.id);
        let (lent, claimed, collateral_claimed) = position_sums(view, loan.id)?;
        let unclaimed = loan.paid_in.checked_sub(claimed).ok_or_else(|| {
            Violation::new(
                "claims within paid in",
                format!(
                    "loan {}: lenders claimed {claimed} of {} paid in",
                    loan.id, loan.paid_in
                ),
            )
        })?;
        let collateral_unclaimed = loan
            .collateral_paid_in
            .checked_sub(collateral_claimed)
            .ok_or_else(|| {
                Violation::new(
                    "collateral claims within seized",
                    format!(
                        "loan {}: lenders claimed {collateral_claimed} of {} collateral seized",
                        loan.id, loan.collateral_paid_in
                    ),
                )
            })?;
        if lent != loan.funded {
            return Err(Violation::new(
                "positions add up to the funding",
                format!(
                    "loan {} ({:?}): positions lend {lent}, the loan says {} funded",
                    loan.id, loan.state, loan.funded
                ),
            ));
        }
        let collateral = loan.collateral.map(|c| (c.asset, c.amount));
        match loan.state {
            LoanState::Funding => {
                add(&mut owed, loan.asset, loan.funded, &what)?;
                if let Some((asset, amount)) = collateral {
                    add(&mut owed, asset, amount, &what)?;
                }
            }
            LoanState::Expired => add(&mut owed, loan.asset, loan.funded, &what)?,
            LoanState::Cancelled => {}
            LoanState::Active => {
                add(&mut owed, loan.asset, unclaimed, &what)?;
                if let Some((asset, amount)) = collateral {
                    add(&mut owed, asset, amount, &what)?;
                }
            }
            LoanState::Repaid => add(&mut owed, loan.asset, unclaimed, &what)?,
            LoanState::Defaulted => {
                add(&mut owed, loan.asset, unclaimed, &what)?;
                if let Some((asset, _)) = collateral {
                    add(&mut owed, asset, collateral_unclaimed, &what)?;
                } else if collateral_unclaimed > 0 {
                    return Err(Violation::new(
                        "collateral claims within seized",
                        format!("loan {} seized collateral it never had", loan.id),
                    ));
                }
            }
        }
    }
    for offer in &view.credit_offers {
        add(
            &mut owed,
            offer.asset,
            offer.remaining,
            &format!("credit offer {}", offer.id),
        )?;
    }
    Ok(owed)
}

/// Checks, per asset, that each module's held total is what its records owe.
pub fn check_held(store: &MemoryStore, view: &View) -> Result<(), Violation> {
    for (module, owed) in [
        (Module::Market, market_owed(view)?),
        (Module::Lending, lending_owed(view)?),
        (Module::Staking, staking_owed(view)?),
    ] {
        for asset in view.assets() {
            let held = state::held(store, module, asset);
            let expected = owed.get(&asset).copied().unwrap_or(0);
            if held != expected {
                return Err(Violation::new(
                    "held equals owed",
                    format!(
                        "the {module:?} module holds {held} of asset {asset}, its records owe {expected} \
                         (difference {})",
                        held.abs_diff(expected)
                    ),
                ));
            }
        }
        if let Some(asset) = owed.keys().find(|asset| asset.0 >= view.next_asset) {
            return Err(Violation::new(
                "held equals owed",
                format!("the {module:?} module's records owe asset {asset}, which does not exist"),
            ));
        }
    }
    Ok(())
}

/// Each lender's entitlement, `(claimed + claimable, collateral_claimed + collateral claimable)`,
/// keyed by `(loan, lender)`, over loans that were disbursed.
pub type Entitlements = BTreeMap<(u64, AccountId), (u128, u128)>;

pub fn entitlements(store: &MemoryStore, view: &View) -> Result<Entitlements, Violation> {
    let mut all = Entitlements::new();
    for loan in &view.loans {
        if !matches!(
            loan.state,
            LoanState::Active | LoanState::Repaid | LoanState::Defaulted
        ) {
            continue;
        }
        let (mut total, mut total_collateral) = (0u128, 0u128);
        for (lender, position) in view.lenders(loan.id) {
            let Some(position) = position else { continue };
            let claimable =
                guarded(|| lending::claimable(store, loan, lender)).map_err(|panic| {
                    Violation::new(
                        "no panic",
                        format!(
                            "lending::claimable(loan {}, {lender}) panicked: {panic}",
                            loan.id
                        ),
                    )
                })?;
            let (amount, collateral) = claimable.ok_or_else(|| {
                Violation::new(
                    "claimable is known",
                    format!(
                        "lending::claimable(loan {}, {lender}) is None for an existing position",
                        loan.id
                    ),
                )
            })?;
            let entitled = (
                position.claimed.saturating_add(amount),
                position.collateral_claimed.saturating_add(collateral),
            );
            total = total.saturating_add(entitled.0);
            total_collateral = total_collateral.saturating_add(entitled.1);
            all.insert((loan.id, *lender), entitled);
        }
        if total > loan.paid_in || total_collateral > loan.collateral_paid_in {
            return Err(Violation::new(
                "entitlements within paid in",
                format!(
                    "loan {}: lenders are entitled to {total} of {} paid in and {total_collateral} \
                     of {} collateral seized",
                    loan.id, loan.paid_in, loan.collateral_paid_in
                ),
            ));
        }
    }
    Ok(all)
}

/// No entitlement goes down, and none disappears.
pub fn check_monotone(before: &Entitlements, after: &Entitlements) -> Result<(), Violation> {
    for ((loan, lender), was) in before {
        let now = after.get(&(*loan, *lender)).copied().unwrap_or((0, 0));
        if now.0 < was.0 || now.1 < was.1 {
            return Err(Violation::new(
                "entitlements never go down",
                format!(
                    "loan {loan}, lender {lender}: entitled to {} (collateral {}) before this block, \
                     {} (collateral {}) after",
                    was.0, was.1, now.0, now.1
                ),
            ));
        }
    }
    Ok(())
}
