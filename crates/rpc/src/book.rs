//! The offer book as the API serves it: every open offer of one finalized state, indexed by
//! side, asset and currency and sorted by price, with each offer's JSON view built at most once.
//!
//! The ledger keeps offers by id only, so answering a filtered, paged query straight from the
//! state means decoding every open offer. The book does that once; after that it follows the
//! chain by what each new state changed ([`OfferBook::update`]): only changed offers are
//! decoded and only the buckets they leave or join are sorted again.
//! Within a bucket (one side, asset and currency) the offers are sorted by price, and each
//! registered payment method has the list of positions of the offers that accept it, in the
//! same order. A query filtered by any of side, asset, currency, method and price range is
//! therefore a range of one such list per bucket, and its offset is skipped without looking at
//! the offers it skips; only the amount and maker filters look at each candidate.
//!
//! Order: sell offers before buy offers, then by asset id, then by currency code, then the best
//! price for a taker first (lowest for sell offers, highest for buy offers), then oldest first.

use crate::market::{DAY_MS, MAX_PAGE, OfferQuery, OfferView};
use ledger::{
    MemoryStore, Store,
    market::{self, Db, Offer, queries::OfferFilter},
};
use serde::Serialize;
use serde_json::value::RawValue;
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
    ops::Range,
    sync::{Arc, Mutex, OnceLock},
};
use types::{
    AccountId, AssetId,
    market::{Fiat, PaymentMethod, Side},
};

type BucketKey = (Side, AssetId, Fiat);

struct Entry {
    offer: Arc<Offer>,
    /// The offer's JSON view, built by the first query that returns it.
    view: OnceLock<Arc<RawValue>>,
}

impl Entry {
    fn new(offer: Arc<Offer>) -> Arc<Self> {
        Arc::new(Self {
            offer,
            view: OnceLock::new(),
        })
    }

    /// The same offer with its view to be built again.
    fn fresh(&self) -> Arc<Self> {
        Self::new(self.offer.clone())
    }
}

/// The open offers of one side, asset and currency, best price for a taker first.
struct Bucket {
    side: Side,
    entries: Vec<Arc<Entry>>,
    /// Positions in `entries` of the offers that accept each registered method, in order.
    by_method: BTreeMap<u16, Vec<u32>>,
}

impl Bucket {
    fn new(side: Side, mut entries: Vec<Arc<Entry>>) -> Self {
        match side {
            Side::Sell => entries.sort_by_key(|e| (e.offer.price, e.offer.id)),
            Side::Buy => entries.sort_by_key(|e| (Reverse(e.offer.price), e.offer.id)),
        }
        let mut by_method: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
        for (position, entry) in entries.iter().enumerate() {
            let position = u32::try_from(position).expect("fewer than 2^32 offers in a bucket");
            let mut methods: Vec<u16> = entry
                .offer
                .methods
                .iter()
                .filter_map(|m| match m {
                    PaymentMethod::Registered(index) => Some(*index),
                    PaymentMethod::Custom(_) => None,
                })
                .collect();
            // An offer naming a method twice is listed once.
            methods.sort_unstable();
            methods.dedup();
            for index in methods {
                by_method.entry(index).or_default().push(position);
            }
        }
        Self {
            side,
            entries,
            by_method,
        }
    }

    /// The part of `positions` (positions in price order) whose price is within the bounds.
    fn price_range(
        &self,
        positions: &Positions<'_>,
        min: Option<u128>,
        max: Option<u128>,
    ) -> Range<usize> {
        let price = |i: usize| self.entries[positions.get(i)].offer.price;
        let count = positions.len();
        let first = |below: &dyn Fn(u128) -> bool| partition_point(count, |i| below(price(i)));
        match self.side {
            // Ascending prices: those below `min` come first, those above `max` last.
            Side::Sell => {
                let start = min.map_or(0, |min| first(&|p| p < min));
                let end = max.map_or(count, |max| first(&|p| p <= max));
                start..end.max(start)
            }
            // Descending prices: those above `max` come first, those below `min` last.
            Side::Buy => {
                let start = max.map_or(0, |max| first(&|p| p > max));
                let end = min.map_or(count, |min| first(&|p| p >= min));
                start..end.max(start)
            }
        }
    }
}

/// The first block time after the state's own at which the standing of one of `makers` reads
/// differently with nothing else changed: its account age reaches a new whole day, or a tier's
/// minimum age.
fn standing_valid_until(store: &(impl Store + ?Sized), makers: &BTreeSet<AccountId>) -> u64 {
    let params = market::params::load(store);
    let (_, now) = ledger::state::last_block(store);
    let mut until = u64::MAX;
    for maker in makers {
        let Some(first) = Db::reputation(store, maker).first_trade_ms else {
            continue;
        };
        let days = now.saturating_sub(first) / DAY_MS;
        until = until.min(first.saturating_add(days.saturating_add(1).saturating_mul(DAY_MS)));
        for rule in &params.tiers {
            let reached = first.saturating_add(rule.min_account_age_ms);
            if reached > now {
                until = until.min(reached);
            }
        }
    }
    until
}

/// Whether the offers of bucket `key` can match `filter`.
fn in_bucket(filter: &OfferFilter, key: &BucketKey) -> bool {
    let (side, asset, fiat) = key;
    filter.side.is_none_or(|s| s == *side)
        && filter.asset.is_none_or(|a| a == *asset)
        && filter.fiat.is_none_or(|f| f == *fiat)
}

/// The first index in `0..count` for which `before` is false (`before` holds for a prefix).
fn partition_point(count: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// Candidate offers of a bucket, by position: all of them or one method's list.
enum Positions<'a> {
    All(usize),
    Listed(&'a [u32]),
}

impl Positions<'_> {
    fn len(&self) -> usize {
        match self {
            Self::All(count) => *count,
            Self::Listed(list) => list.len(),
        }
    }

    fn get(&self, i: usize) -> usize {
        match self {
            Self::All(_) => i,
            Self::Listed(list) => list[i] as usize,
        }
    }
}

/// Every open offer of one ledger state.
pub struct OfferBook {
    /// Shared with the book this one was updated from, where nothing in them changed.
    buckets: BTreeMap<BucketKey, Arc<Bucket>>,
    len: usize,
    /// The block time from which a maker's standing may read differently by time alone (a new
    /// day of account age, or a tier's minimum age reached), so views built before it expire.
    valid_until_ms: u64,
}

impl std::fmt::Debug for OfferBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferBook")
            .field("buckets", &self.buckets.len())
            .field("offers", &self.len)
            .finish()
    }
}

/// Offers as pre-built JSON, served as a list of [`OfferView`].
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct OfferPage(pub Vec<Arc<RawValue>>);

impl schemars::JsonSchema for OfferPage {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Vec<OfferView>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<OfferView>>::json_schema(generator)
    }
}

impl OfferBook {
    /// Reads every open offer of `store`.
    pub fn read(store: &ledger::MemoryStore) -> Self {
        let mut grouped: BTreeMap<BucketKey, Vec<Arc<Entry>>> = BTreeMap::new();
        for id in ledger::market::queries::offer_ids(store) {
            if let Some(offer) = Db::offer(store, id) {
                grouped
                    .entry((offer.side, offer.asset, offer.fiat))
                    .or_default()
                    .push(Entry::new(Arc::new(offer)));
            }
        }
        Self::from_buckets(
            store,
            grouped
                .into_iter()
                .map(|(key, entries)| (key, Arc::new(Bucket::new(key.0, entries))))
                .collect(),
        )
    }

    fn from_buckets(
        store: &ledger::MemoryStore,
        buckets: BTreeMap<BucketKey, Arc<Bucket>>,
    ) -> Self {
        let makers: BTreeSet<AccountId> = buckets
            .values()
            .flat_map(|bucket| bucket.entries.iter().map(|entry| entry.offer.maker))
            .collect();
        Self {
            len: buckets.values().map(|bucket| bucket.entries.len()).sum(),
            valid_until_ms: standing_valid_until(store, &makers),
            buckets,
        }
    }

    /// This book, read from `before`, brought to `after` from what changed between the two
    /// states ([`MemoryStore::changed_keys`]) instead of read again: only changed offers are
    /// decoded, only the buckets they leave or join are sorted again, and a view built before
    /// is kept unless something it shows changed (its offer, its maker's profile, reputation or
    /// arbitrator bond, the market parameters, or the standing time alone changes). Gives the
    /// same pages as [`OfferBook::read`] of `after`.
    pub fn update(&self, before: &ledger::MemoryStore, after: &ledger::MemoryStore) -> Self {
        use ledger::market::records::table;
        let mut offers: BTreeSet<u64> = BTreeSet::new();
        let mut makers: BTreeSet<[u8; 32]> = BTreeSet::new();
        for key in after.changed_keys(before) {
            match key.split_first() {
                Some((&table::OFFER, id)) => {
                    if let Ok(id) = <[u8; 8]>::try_from(id) {
                        offers.insert(u64::from_be_bytes(id));
                    }
                }
                Some((&(table::REPUTATION | table::PROFILE | table::ARBITRATOR), account)) => {
                    if let Ok(account) = <[u8; 32]>::try_from(account) {
                        makers.insert(account);
                    }
                }
                // Every view shows the parameters (tiers, methods): read everything again.
                Some((&table::PARAMS, _)) => return Self::read(after),
                _ => {}
            }
        }
        let (_, now) = ledger::state::last_block(after);
        let (_, then) = ledger::state::last_block(before);
        if now < then {
            // Views built later may show more than an earlier state does (an older account).
            return Self::read(after);
        }
        let every_view = now >= self.valid_until_ms;
        let mut leaving: BTreeMap<BucketKey, BTreeSet<u64>> = BTreeMap::new();
        let mut joining: BTreeMap<BucketKey, Vec<Arc<Entry>>> = BTreeMap::new();
        for &id in &offers {
            if let Some(offer) = Db::offer(before, id) {
                leaving
                    .entry((offer.side, offer.asset, offer.fiat))
                    .or_default()
                    .insert(id);
            }
            if let Some(offer) = Db::offer(after, id) {
                joining
                    .entry((offer.side, offer.asset, offer.fiat))
                    .or_default()
                    .push(Entry::new(Arc::new(offer)));
            }
        }
        let stale = |entry: &Entry| every_view || makers.contains(entry.offer.maker.as_bytes());
        let keys: BTreeSet<BucketKey> =
            self.buckets.keys().chain(joining.keys()).copied().collect();
        let mut buckets = BTreeMap::new();
        for key in keys {
            let old = self.buckets.get(&key);
            let left = leaving.get(&key);
            let joined = joining.remove(&key);
            if let Some(old) = old
                && left.is_none()
                && joined.is_none()
                && !old.entries.iter().any(|entry| stale(entry))
            {
                buckets.insert(key, old.clone());
                continue;
            }
            let mut entries: Vec<Arc<Entry>> = old
                .map(|bucket| {
                    bucket
                        .entries
                        .iter()
                        .filter(|entry| left.is_none_or(|left| !left.contains(&entry.offer.id)))
                        .map(|entry| {
                            if stale(entry) {
                                entry.fresh()
                            } else {
                                entry.clone()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            entries.extend(joined.unwrap_or_default());
            if !entries.is_empty() {
                buckets.insert(key, Arc::new(Bucket::new(key.0, entries)));
            }
        }
        Self::from_buckets(after, buckets)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The page of offers `query` asks for, as JSON views read from `store` (the state this
    /// book was read from).
    pub fn page(
        &self,
        store: &(impl Store + ?Sized),
        query: &OfferQuery,
    ) -> Result<OfferPage, String> {
        let filter = query.filter(store)?;
        let maker = query
            .maker
            .as_deref()
            .map(|m| AccountId::parse(m).map_err(|e| format!("invalid maker {m:?}: {e}")))
            .transpose()?;
        let mut skip = query.offset.unwrap_or(0) as usize;
        let limit = query.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE) as usize;
        let params = market::params::load(store);
        let mut views = Vec::with_capacity(limit.min(64));
        for (key, bucket) in &self.buckets {
            if views.len() == limit {
                break;
            }
            if !in_bucket(&filter, key) {
                continue;
            }
            let positions = match filter.method {
                None => Positions::All(bucket.entries.len()),
                Some(index) => match bucket.by_method.get(&index) {
                    Some(list) => Positions::Listed(list),
                    None => continue,
                },
            };
            let range = bucket.price_range(&positions, filter.min_price, filter.max_price);
            let candidates = range.map(|i| &bucket.entries[positions.get(i)]);
            let wanted = limit - views.len();
            let found: Vec<&Arc<Entry>> = if filter.amount.is_none() && maker.is_none() {
                // Every candidate matches: skip without looking.
                let count = candidates.len();
                if skip >= count {
                    skip -= count;
                    continue;
                }
                let found = candidates.skip(skip).take(wanted).collect();
                skip = 0;
                found
            } else {
                let mut matching = candidates.filter(|entry| {
                    filter.matches(&entry.offer) && maker.is_none_or(|m| entry.offer.maker == m)
                });
                let mut skipped = 0;
                while skipped < skip && matching.next().is_some() {
                    skipped += 1;
                }
                skip -= skipped;
                if skip > 0 {
                    continue;
                }
                matching.take(wanted).collect()
            };
            for entry in found {
                debug_assert!(filter.matches(&entry.offer));
                views.push(
                    entry
                        .view
                        .get_or_init(|| {
                            let view = OfferView::new(store, &params, &entry.offer);
                            serde_json::value::to_raw_value(&view)
                                .expect("views serialize")
                                .into()
                        })
                        .clone(),
                );
            }
        }
        Ok(OfferPage(views))
    }
}

/// The book of the latest state queried, kept while the market stays the same.
#[derive(Debug, Default)]
pub struct BookCache {
    last: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    state: Arc<MemoryStore>,
    revision: Option<u64>,
    book: Arc<OfferBook>,
}

impl BookCache {
    /// The book of `store`, whose market revision is `revision` (see
    /// [`crate::Backend::market_state`]). The previous book serves again if it was read from
    /// this very state, or from a state with the same known revision whose views have not
    /// expired; otherwise it is brought to `store` by what changed ([`OfferBook::update`]). Holding the state keeps its address from being
    /// reused, so comparing addresses is sound.
    pub fn book(&self, store: &Arc<MemoryStore>, revision: Option<u64>) -> Arc<OfferBook> {
        let mut last = self.last.lock().expect("no panics while holding the book");
        if let Some(cached) = last.as_mut() {
            if Arc::ptr_eq(&cached.state, store) {
                return cached.book.clone();
            }
            let (_, now) = ledger::state::last_block(&**store);
            if revision.is_some() && cached.revision == revision && now < cached.book.valid_until_ms
            {
                cached.state = store.clone();
                return cached.book.clone();
            }
        }
        // From the last book, by what changed since its state; the first book is read whole.
        let book = Arc::new(match last.as_ref() {
            Some(cached) => cached.book.update(&cached.state, store),
            None => OfferBook::read(store),
        });
        *last = Some(Cached {
            state: store.clone(),
            revision,
            book: book.clone(),
        });
        book
    }
}
