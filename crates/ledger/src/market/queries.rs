//! Read-only views of the market for the API: offers, trades, arbitrators and reputation. They
//! walk ids in order, so their cost grows with the number of offers or trades ever made; the
//! node keeps indexes for anything served at volume.

use super::{
    params,
    records::{Arbitrator, Db, Offer, Trade},
    reputation::{Standing, median, standing},
};
use crate::store::{MemoryStore, Store};
use types::{
    AccountId, AssetId,
    market::{Fiat, Side},
};

/// What to look for in the offer book.
#[derive(Clone, Debug, Default)]
pub struct OfferFilter {
    pub side: Option<Side>,
    pub asset: Option<AssetId>,
    pub fiat: Option<Fiat>,
    /// Offers that accept this registered method.
    pub method: Option<u16>,
    /// Offers that can fill this amount.
    pub amount: Option<u128>,
    pub max_price: Option<u128>,
    pub min_price: Option<u128>,
}

impl OfferFilter {
    pub fn matches(&self, offer: &Offer) -> bool {
        self.side.is_none_or(|side| offer.side == side)
            && self.asset.is_none_or(|asset| offer.asset == asset)
            && self.fiat.is_none_or(|fiat| offer.fiat == fiat)
            && self.method.is_none_or(|index| {
                offer
                    .methods
                    .contains(&types::market::PaymentMethod::Registered(index))
            })
            && self.amount.is_none_or(|amount| {
                amount <= offer.max_amount && amount >= offer.min_amount.min(offer.max_amount)
            })
            && self.max_price.is_none_or(|max| offer.price <= max)
            && self.min_price.is_none_or(|min| offer.price >= min)
    }
}

/// Open offers matching `filter`: sell offers before buy offers, then by asset and currency,
/// then the best price for a taker first (lowest for sell offers, highest for buy offers), then
/// oldest first.
pub fn offers(store: &(impl Store + ?Sized), filter: &OfferFilter) -> Vec<Offer> {
    let mut found: Vec<Offer> = (1..=Db::last_offer_id(store))
        .filter_map(|id| Db::offer(store, id))
        .filter(|offer| filter.matches(offer))
        .collect();
    found.sort_by(|a, b| {
        let by_price = match a.side {
            Side::Sell => a.price.cmp(&b.price),
            Side::Buy => b.price.cmp(&a.price),
        };
        (a.side, a.asset, a.fiat)
            .cmp(&(b.side, b.asset, b.fiat))
            .then(by_price)
            .then(a.id.cmp(&b.id))
    });
    found
}

/// The ids of the offers that exist (open or paused), in increasing order. Offers are deleted
/// when they close, so this walks the live ones only, not every id ever made.
pub fn offer_ids(store: &MemoryStore) -> impl Iterator<Item = u64> + '_ {
    let prefix = [super::records::table::OFFER];
    store
        .scan_prefix(&prefix)
        .filter_map(move |(key, _)| crate::index::id_of(&prefix, &key))
}

/// Every trade `account` is a party to, newest first.
pub fn trades_of(store: &MemoryStore, account: &AccountId) -> Vec<Trade> {
    crate::index::ids(store, account, crate::index::Kind::Trade)
        .rev()
        .filter_map(|id| Db::trade(store, id))
        .filter(|trade| &trade.buyer == account || &trade.seller == account)
        .collect()
}

/// Public statistics of an arbitrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArbitratorStats {
    pub arbitrator: Arbitrator,
    pub median_ruling_ms: Option<u64>,
}

pub fn arbitrators(store: &(impl Store + ?Sized)) -> Vec<ArbitratorStats> {
    Db::arbitrators(store)
        .iter()
        .filter_map(|account| Db::arbitrator(store, account))
        .map(|arbitrator| ArbitratorStats {
            median_ruling_ms: median(&arbitrator.recent_ruling_ms),
            arbitrator,
        })
        .collect()
}

/// An account's standing now.
pub fn account_standing(store: &(impl Store + ?Sized), account: &AccountId, now: u64) -> Standing {
    standing(store, &params::load(store), account, now)
}
