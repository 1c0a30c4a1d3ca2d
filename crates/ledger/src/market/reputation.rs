//! Reputation: counters the ledger keeps as trades happen, and the standing (completion rate,
//! dispute losses, age, tier) derived from them.
//!
//! Only counted trades build standing: a trade counts when it completes after the buyer marked
//! it paid and its fiat value is at least the market's `min_counted_trade_value`. Tiers also
//! ask for distinct counterparties and a counted volume, so trades between two accounts of one
//! person, however many, cannot buy a tier; the new-account limits likewise ask for counted
//! trades with several counterparties. Ratings enter an account's average only from counted
//! trades.

use super::{
    disputes::push_recent,
    params::MarketParams,
    records::{Db, MAX_VOLUME_ASSETS, Reputation, Trade},
};
use crate::store::Store;
use types::{AccountId, AssetId, market::Party};

/// An account's standing in the market, derived from its reputation counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Trades completed as buyer or seller, counted or not.
    pub completed: u32,
    /// Completed trades that count (see [`counts`]).
    pub counted: u32,
    /// Distinct accounts traded with in counted trades.
    pub counterparties: u32,
    /// The fiat value of the counted trades, in fiat minor units.
    pub counted_volume: u128,
    /// Counted trades over those plus every trade that ended with this account to blame
    /// (cancelled or timed out by it, disputes lost), in basis points.
    pub completion_bps: u16,
    /// Disputes lost over counted trades and disputes, in basis points.
    pub dispute_loss_bps: u16,
    /// Time since the account's first trade.
    pub age_ms: u64,
    /// EQA bonded as an arbitrator.
    pub bonded: u128,
    /// The highest tier reached: 0 is "New".
    pub tier: u8,
    /// Mean rating in hundredths of a star (0 when unrated).
    pub rating_centistars: u32,
    pub ratings: u32,
    /// Median time from payment to release as seller, over recent trades.
    pub median_release_ms: Option<u64>,
}

fn ratio_bps(part: u32, whole: u32) -> u16 {
    let bps = u64::from(part)
        .saturating_mul(10_000)
        .checked_div(u64::from(whole))
        .unwrap_or(0);
    u16::try_from(bps.min(10_000)).expect("at most 10000")
}

/// The median of `values` (the lower middle for an even count), or `None` when empty.
pub fn median(values: &[u64]) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len().checked_sub(1)? / 2;
    sorted.get(middle).copied()
}

pub fn standing(
    store: &(impl Store + ?Sized),
    params: &MarketParams,
    account: &AccountId,
    now: u64,
) -> Standing {
    let reputation = Db::reputation(store, account);
    let completed = reputation
        .completed_as_buyer
        .saturating_add(reputation.completed_as_seller);
    // Rates are over counted trades, so trades too small to count cannot dilute failures.
    let counted = reputation.counted_trades;
    let failures = reputation
        .cancellations
        .saturating_add(reputation.timeouts)
        .saturating_add(reputation.disputes_lost);
    let finished = counted
        .saturating_add(failures)
        .saturating_add(reputation.disputes_won);
    let completion_bps = if counted.saturating_add(failures) == 0 {
        10_000
    } else {
        ratio_bps(counted, counted.saturating_add(failures))
    };
    let dispute_loss_bps = ratio_bps(reputation.disputes_lost, finished);
    let age_ms = reputation
        .first_trade_ms
        .map_or(0, |first| now.saturating_sub(first));
    let bonded = Db::arbitrator(store, account).map_or(0, |a| a.bond);
    let mut tier = 0u8;
    for rule in &params.tiers {
        let meets = counted >= rule.min_trades
            && reputation.counterparties >= rule.min_counterparties
            && reputation.counted_volume >= rule.min_counted_volume
            && completion_bps >= rule.min_completion_bps
            && dispute_loss_bps <= rule.max_dispute_loss_bps
            && age_ms >= rule.min_account_age_ms
            && bonded >= rule.min_bond;
        if !meets {
            break;
        }
        tier = tier.saturating_add(1);
    }
    let rating_centistars = reputation
        .rating_sum
        .saturating_mul(100)
        .checked_div(reputation.rating_count)
        .unwrap_or(0);
    Standing {
        completed,
        counted,
        counterparties: reputation.counterparties,
        counted_volume: reputation.counted_volume,
        completion_bps,
        dispute_loss_bps,
        age_ms,
        bonded,
        tier,
        rating_centistars,
        ratings: reputation.rating_count,
        median_release_ms: median(&reputation.recent_release_ms),
    }
}

fn update(
    store: &mut (impl Store + ?Sized),
    account: &AccountId,
    change: impl FnOnce(&mut Reputation),
) {
    let mut reputation = Db::reputation(store, account);
    change(&mut reputation);
    Db::put_reputation(store, account, &reputation);
}

fn add_volume(volume: &mut Vec<(AssetId, u128)>, asset: AssetId, amount: u128) {
    if let Some((_, total)) = volume.iter_mut().find(|(a, _)| *a == asset) {
        *total = total.saturating_add(amount);
    } else if volume.len() < MAX_VOLUME_ASSETS {
        volume.push((asset, amount));
    }
    // Past the bound, volumes of further assets are not tracked.
}

impl Standing {
    /// Whether a buyer with this standing is still held to the payment methods' new-account
    /// limits: too few counted trades, or too few distinct counterparties in them.
    pub fn is_new_account(&self, params: &MarketParams) -> bool {
        self.counted < params.new_account_trades
            || self.counterparties < params.new_account_counterparties
    }
}

/// Whether a completing trade counts toward reputation: the buyer marked it paid before the
/// seller released (a release without a payment claim is a transfer, not a trade), and it is
/// worth at least the market's minimum.
pub fn counts(params: &MarketParams, trade: &Trade) -> bool {
    trade.paid_ms.is_some() && trade.fiat_amount >= params.min_counted_trade_value
}

/// A trade started: the first one dates the account.
pub fn started(store: &mut (impl Store + ?Sized), account: &AccountId, now: u64) {
    update(store, account, |r| {
        r.first_trade_ms.get_or_insert(now);
    });
}

/// A trade completed; `trade.counted` says whether it counts.
pub fn completed(store: &mut (impl Store + ?Sized), trade: &Trade, now: u64) {
    update(store, &trade.buyer, |r| {
        r.completed_as_buyer = r.completed_as_buyer.saturating_add(1);
        add_volume(&mut r.volume, trade.asset, trade.amount);
    });
    update(store, &trade.seller, |r| {
        r.completed_as_seller = r.completed_as_seller.saturating_add(1);
        add_volume(&mut r.volume, trade.asset, trade.amount);
        if let Some(paid) = trade.paid_ms {
            push_recent(&mut r.recent_release_ms, now.saturating_sub(paid));
        }
    });
    if !trade.counted {
        return;
    }
    for (account, counterparty) in [(trade.buyer, trade.seller), (trade.seller, trade.buyer)] {
        let first_with_them = Db::record_counterparty(store, &account, &counterparty);
        update(store, &account, |r| {
            r.counted_trades = r.counted_trades.saturating_add(1);
            // A statistic, not money: it saturates rather than fail a release.
            r.counted_volume = r.counted_volume.saturating_add(trade.fiat_amount);
            if first_with_them {
                r.counterparties = r.counterparties.saturating_add(1);
            }
        });
    }
}

pub fn cancelled(store: &mut (impl Store + ?Sized), buyer: &AccountId) {
    update(store, buyer, |r| {
        r.cancellations = r.cancellations.saturating_add(1)
    });
}

pub fn timed_out(store: &mut (impl Store + ?Sized), buyer: &AccountId) {
    update(store, buyer, |r| r.timeouts = r.timeouts.saturating_add(1));
}

pub fn dispute_opened(store: &mut (impl Store + ?Sized), account: &AccountId) {
    update(store, account, |r| {
        r.disputes_opened = r.disputes_opened.saturating_add(1)
    });
}

pub fn dispute_ruled(store: &mut (impl Store + ?Sized), trade: &Trade, at_fault: Party) {
    let (loser, winner) = match at_fault {
        Party::Buyer => (trade.buyer, trade.seller),
        Party::Seller => (trade.seller, trade.buyer),
    };
    update(store, &loser, |r| {
        r.disputes_lost = r.disputes_lost.saturating_add(1)
    });
    update(store, &winner, |r| {
        r.disputes_won = r.disputes_won.saturating_add(1)
    });
}

pub fn rated(store: &mut (impl Store + ?Sized), account: &AccountId, stars: u8) {
    update(store, account, |r| {
        r.rating_sum = r.rating_sum.saturating_add(u32::from(stars));
        r.rating_count = r.rating_count.saturating_add(1);
    });
}
