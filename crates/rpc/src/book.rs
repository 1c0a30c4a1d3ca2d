//! The offer book as the API serves it: every open offer of one finalized state, indexed by
//! side, asset and currency and sorted by price, with each offer's JSON view built at most once.
//!
//! The ledger keeps offers by id only, so answering a filtered, paged query straight from the
//! state means decoding every open offer. The book does that once; after that it follows the
//! chain by what each new state changed ([`OfferBook::update`]): only changed offers are
//! decoded, each is taken out of and put into its bucket's ordered lists, and only the views
//! of makers whose standing changed are built again. Every part of the book is persistent
//! (`imbl`): a new book shares all it did not change with the one before, so an update costs
//! what changed times the logarithm of the book's size, not the size of the buckets it touches.
//! Within a bucket (one side, asset and currency) the offers are ordered by price, and each
//! registered payment method has its own list of the offers that accept it, in the same order.
//! A query filtered by any of side, asset, currency, method and price range is therefore a
//! range of one such list per bucket, and its offset is skipped without looking at the offers
//! it skips; only the amount filter looks at each candidate. A query for one maker reads only
//! that maker's offers (the book keeps each maker's, with where each is) and sorts them.
//!
//! Order: sell offers before buy offers, then by asset id, then by currency code, then the best
//! price for a taker first (lowest for sell offers, highest for buy offers), then oldest first.

use crate::market::{DAY_MS, MAX_PAGE, OfferQuery, OfferView};
use ledger::{
    MemoryStore, Store,
    market::{self, Db, Offer},
};
use serde::Serialize;
use serde_json::value::RawValue;
use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Range,
    sync::{Arc, Mutex, OnceLock},
};
use types::{
    AccountId, AssetId,
    market::{Fiat, PaymentMethod, Side},
};

type BucketKey = (Side, AssetId, Fiat);

/// An offer's place in its bucket: the best price for a taker first, then the oldest.
type Rank = (u128, u64);

fn rank(offer: &Offer) -> Rank {
    match offer.side {
        Side::Sell => (offer.price, offer.id),
        Side::Buy => (u128::MAX - offer.price, offer.id),
    }
}

/// Offers in rank order. A copy shares every node; an insertion, a removal and a lookup by
/// position each cost the logarithm of the length.
type Ranked = imbl::Vector<Arc<Entry>>;

/// Where an offer of rank `rank` is in `list`, or where it would go.
fn find(list: &Ranked, rank: Rank) -> Result<usize, usize> {
    list.binary_search_by(|entry| self::rank(&entry.offer).cmp(&rank))
}

/// Puts `entry` in its place in `list`, instead of an entry of the same rank if there is one.
fn place(list: &mut Ranked, entry: &Arc<Entry>) {
    match find(list, rank(&entry.offer)) {
        Ok(at) => {
            list.set(at, entry.clone());
        }
        Err(at) => list.insert(at, entry.clone()),
    }
}

/// The registered methods an offer accepts, each once.
fn registered_methods(offer: &Offer) -> BTreeSet<u16> {
    offer
        .methods
        .iter()
        .filter_map(|m| match m {
            PaymentMethod::Registered(index) => Some(*index),
            PaymentMethod::Custom(_) => None,
        })
        .collect()
}

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
#[derive(Clone)]
struct Bucket {
    side: Side,
    entries: Ranked,
    /// The offers that accept each registered method, in the same order.
    by_method: BTreeMap<u16, Ranked>,
}

impl Bucket {
    /// A bucket of `entries`, in any order.
    fn new(side: Side, mut entries: Vec<Arc<Entry>>) -> Self {
        entries.sort_by_key(|entry| rank(&entry.offer));
        let mut by_method: BTreeMap<u16, Vec<Arc<Entry>>> = BTreeMap::new();
        for entry in &entries {
            for index in registered_methods(&entry.offer) {
                by_method.entry(index).or_default().push(entry.clone());
            }
        }
        Self {
            side,
            entries: entries.into_iter().collect(),
            by_method: by_method
                .into_iter()
                .map(|(index, list)| (index, list.into_iter().collect()))
                .collect(),
        }
    }

    /// Puts `entry` in its place, instead of the entry of the same offer if there is one.
    fn put(&mut self, entry: &Arc<Entry>) {
        place(&mut self.entries, entry);
        for index in registered_methods(&entry.offer) {
            place(self.by_method.entry(index).or_default(), entry);
        }
    }

    /// Takes `offer` (as this bucket holds it) out.
    fn take(&mut self, offer: &Offer) {
        let rank = rank(offer);
        if let Ok(at) = find(&self.entries, rank) {
            self.entries.remove(at);
        }
        for index in registered_methods(offer) {
            if let Some(list) = self.by_method.get_mut(&index) {
                if let Ok(at) = find(list, rank) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.by_method.remove(&index);
                }
            }
        }
    }

    /// The part of `list` (offers in rank order) whose price is within the bounds.
    fn price_range(&self, list: &Ranked, min: Option<u128>, max: Option<u128>) -> Range<usize> {
        let count = list.len();
        let first =
            |below: &dyn Fn(u128) -> bool| partition_point(count, |i| below(list[i].offer.price));
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

/// The first block time after `now` (the state's own) at which `maker`'s standing reads differently
/// with nothing else changed: its account age reaches a new whole day, or a tier's minimum age.
/// `u64::MAX` for a maker that has not traded.
fn standing_valid_until(
    store: &(impl Store + ?Sized),
    params: &market::params::MarketParams,
    now: u64,
    maker: &AccountId,
) -> u64 {
    let Some(first) = Db::reputation(store, maker).first_trade_ms else {
        return u64::MAX;
    };
    let days = now.saturating_sub(first) / DAY_MS;
    let mut until = first.saturating_add(days.saturating_add(1).saturating_mul(DAY_MS));
    for rule in &params.tiers {
        let reached = first.saturating_add(rule.min_account_age_ms);
        if reached > now {
            until = until.min(reached);
        }
    }
    until
}

/// What a maker's standing is read against: the market's tiers and the state's block time.
struct Standing {
    params: Arc<market::params::MarketParams>,
    now: u64,
}

impl Standing {
    fn of(store: &(impl Store + ?Sized)) -> Self {
        Self {
            params: market::params::load(store),
            now: ledger::state::last_block(store).1,
        }
    }
}

/// Whether the offers of bucket `key` can match `filter`.
fn in_bucket(filter: &ledger::market::queries::OfferFilter, key: &BucketKey) -> bool {
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

/// A maker's account id as its key bytes (the ledger's tables key accounts by them).
type Maker = [u8; 32];

/// Where an offer's entry is.
#[derive(Clone, Copy)]
struct Place {
    key: BucketKey,
    rank: Rank,
    maker: AccountId,
}

/// Every open offer of one ledger state.
#[derive(Clone)]
pub struct OfferBook {
    buckets: imbl::OrdMap<BucketKey, Bucket>,
    /// Each open offer by its maker's key bytes: where its entry is.
    by_maker: imbl::OrdMap<(Maker, u64), Place>,
    /// For each maker with open offers whose standing will read differently by time alone (a
    /// new day of account age, or a tier's minimum age reached), from when: views of its offers
    /// built before then expire then.
    expires: imbl::OrdMap<Maker, u64>,
    /// The same, earliest first.
    expiring: imbl::OrdSet<(u64, Maker)>,
    len: usize,
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
        let mut by_maker = imbl::OrdMap::new();
        let mut len = 0;
        for id in ledger::market::queries::offer_ids(store) {
            if let Some(offer) = Db::offer(store, id) {
                let key = (offer.side, offer.asset, offer.fiat);
                by_maker.insert(
                    (*offer.maker.as_bytes(), offer.id),
                    Place {
                        key,
                        rank: rank(&offer),
                        maker: offer.maker,
                    },
                );
                grouped
                    .entry(key)
                    .or_default()
                    .push(Entry::new(Arc::new(offer)));
                len += 1;
            }
        }
        let mut book = Self {
            buckets: grouped
                .into_iter()
                .map(|(key, entries)| (key, Bucket::new(key.0, entries)))
                .collect(),
            by_maker,
            expires: imbl::OrdMap::new(),
            expiring: imbl::OrdSet::new(),
            len,
        };
        let makers: BTreeSet<Maker> = book.by_maker.keys().map(|(maker, _)| *maker).collect();
        let standing = Standing::of(store);
        for maker in makers {
            book.set_expiry(store, &standing, maker);
        }
        book
    }

    /// The block time from which a view of some maker's offer may read differently by time
    /// alone.
    fn valid_until_ms(&self) -> u64 {
        self.expiring
            .get_min()
            .map_or(u64::MAX, |(until, _)| *until)
    }

    /// Where each of `maker`'s offers is.
    fn offers_of(&self, maker: Maker) -> impl Iterator<Item = &Place> {
        self.by_maker
            .range((maker, 0)..=(maker, u64::MAX))
            .map(|(_, place)| place)
    }

    /// Records when `maker`'s standing next reads differently by time alone in `store`, or
    /// forgets the maker if it has no open offer.
    fn set_expiry(&mut self, store: &ledger::MemoryStore, standing: &Standing, maker: Maker) {
        if let Some(until) = self.expires.remove(&maker) {
            self.expiring.remove(&(until, maker));
        }
        let Some(account) = self.offers_of(maker).next().map(|place| place.maker) else {
            return;
        };
        let until = standing_valid_until(store, &standing.params, standing.now, &account);
        if until != u64::MAX {
            self.expires.insert(maker, until);
            self.expiring.insert((until, maker));
        }
    }

    /// Takes `offer` (as this book holds it) out.
    fn take(&mut self, offer: &Offer) {
        let key = (offer.side, offer.asset, offer.fiat);
        if self
            .by_maker
            .remove(&(*offer.maker.as_bytes(), offer.id))
            .is_none()
        {
            return;
        }
        self.len -= 1;
        if let Some(bucket) = self.buckets.get_mut(&key) {
            bucket.take(offer);
            if bucket.entries.is_empty() {
                self.buckets.remove(&key);
            }
        }
    }

    /// Puts `entry` in the book.
    fn put(&mut self, entry: &Arc<Entry>) {
        let offer = &entry.offer;
        let key = (offer.side, offer.asset, offer.fiat);
        let place = Place {
            key,
            rank: rank(offer),
            maker: offer.maker,
        };
        if self
            .by_maker
            .insert((*offer.maker.as_bytes(), offer.id), place)
            .is_none()
        {
            self.len += 1;
        }
        match self.buckets.get_mut(&key) {
            Some(bucket) => bucket.put(entry),
            None => {
                self.buckets
                    .insert(key, Bucket::new(key.0, vec![entry.clone()]));
            }
        }
    }

    /// Has every view of `maker`'s offers built again.
    fn refresh(&mut self, maker: Maker) {
        let places: Vec<(BucketKey, Rank)> = self
            .offers_of(maker)
            .map(|place| (place.key, place.rank))
            .collect();
        for (key, rank) in places {
            let Some(bucket) = self.buckets.get_mut(&key) else {
                continue;
            };
            if let Ok(at) = find(&bucket.entries, rank) {
                let fresh = bucket.entries[at].fresh();
                bucket.put(&fresh);
            }
        }
    }

    /// This book, read from `before`, brought to `after` from what changed between the two
    /// states ([`MemoryStore::changed_keys`]) instead of read again: only changed offers are
    /// decoded and moved in their buckets' lists, and a view built before is kept unless
    /// something it shows changed (its offer, its maker's profile, reputation or arbitrator
    /// bond, the market parameters, or its maker's standing by time alone). Gives the same
    /// pages as [`OfferBook::read`] of `after`.
    pub fn update(&self, before: &ledger::MemoryStore, after: &ledger::MemoryStore) -> Self {
        use ledger::market::records::table;
        let mut offers: BTreeSet<u64> = BTreeSet::new();
        // Makers whose views must be built again, and makers whose offers changed.
        let mut stale: BTreeSet<Maker> = BTreeSet::new();
        let mut owners: BTreeSet<Maker> = BTreeSet::new();
        for key in after.changed_keys(before) {
            match key.split_first() {
                Some((&table::OFFER, id)) => {
                    if let Ok(id) = <[u8; 8]>::try_from(id) {
                        offers.insert(u64::from_be_bytes(id));
                    }
                }
                Some((&(table::REPUTATION | table::PROFILE | table::ARBITRATOR), account)) => {
                    if let Ok(account) = <Maker>::try_from(account) {
                        stale.insert(account);
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
        let mut book = self.clone();
        // Makers whose standing reads differently by time alone since the views were built.
        stale.extend(
            book.expiring
                .iter()
                .take_while(|(until, _)| *until <= now)
                .map(|(_, maker)| *maker),
        );
        for &id in &offers {
            if let Some(offer) = Db::offer(before, id) {
                owners.insert(*offer.maker.as_bytes());
                book.take(&offer);
            }
            if let Some(offer) = Db::offer(after, id) {
                owners.insert(*offer.maker.as_bytes());
                book.put(&Entry::new(Arc::new(offer)));
            }
        }
        for &maker in &stale {
            book.refresh(maker);
        }
        let standing = Standing::of(after);
        for maker in stale.union(&owners) {
            book.set_expiry(after, &standing, *maker);
        }
        book
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
        let mut found: Vec<Arc<Entry>> = Vec::with_capacity(limit.min(64));
        if let Some(maker) = maker {
            // Only the maker's own offers, in the book's order: the cost follows them, not
            // the book.
            let mut own: Vec<(BucketKey, Rank, Arc<Entry>)> = self
                .offers_of(*maker.as_bytes())
                .filter(|place| in_bucket(&filter, &place.key))
                .filter_map(|place| {
                    let bucket = self.buckets.get(&place.key)?;
                    let at = find(&bucket.entries, place.rank).ok()?;
                    Some((place.key, place.rank, bucket.entries[at].clone()))
                })
                .filter(|(_, _, entry)| filter.matches(&entry.offer))
                .collect();
            own.sort_unstable_by_key(|(key, rank, _)| (*key, *rank));
            found.extend(
                own.into_iter()
                    .skip(skip)
                    .take(limit)
                    .map(|(_, _, entry)| entry),
            );
        } else {
            for (key, bucket) in &self.buckets {
                if found.len() == limit {
                    break;
                }
                if !in_bucket(&filter, key) {
                    continue;
                }
                let list = match filter.method {
                    None => &bucket.entries,
                    Some(index) => match bucket.by_method.get(&index) {
                        Some(list) => list,
                        None => continue,
                    },
                };
                let range = bucket.price_range(list, filter.min_price, filter.max_price);
                let wanted = limit - found.len();
                if filter.amount.is_none() {
                    // Every candidate matches: skip without looking.
                    let count = range.len();
                    if skip >= count {
                        skip -= count;
                        continue;
                    }
                    let start = range.start + skip;
                    skip = 0;
                    found.extend((start..range.end.min(start + wanted)).map(|i| list[i].clone()));
                } else {
                    let candidates = list.clone().slice(range);
                    let mut matching = candidates
                        .iter()
                        .filter(|entry| filter.matches(&entry.offer));
                    let mut skipped = 0;
                    while skipped < skip && matching.next().is_some() {
                        skipped += 1;
                    }
                    skip -= skipped;
                    if skip > 0 {
                        continue;
                    }
                    found.extend(matching.take(wanted).cloned());
                }
            }
        }
        let views = found
            .into_iter()
            .map(|entry| {
                debug_assert!(filter.matches(&entry.offer));
                entry
                    .view
                    .get_or_init(|| {
                        let view = OfferView::new(store, &params, &entry.offer);
                        serde_json::value::to_raw_value(&view)
                            .expect("views serialize")
                            .into()
                    })
                    .clone()
            })
            .collect();
        Ok(OfferPage(views))
    }
}

/// The book of the latest state queried, kept while the market stays the same. The server
/// brings it to the latest state every poll whether or not anyone asks (`follow_books` in
/// `server.rs`): the state it holds keeps the ledger's older values alive.
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
        // A panic while the book was built leaves it half made: start again from a full read.
        let mut last = match self.last.lock() {
            Ok(last) => last,
            Err(poisoned) => {
                let mut last = poisoned.into_inner();
                *last = None;
                self.last.clear_poison();
                last
            }
        };
        if let Some(cached) = last.as_mut() {
            if Arc::ptr_eq(&cached.state, store) {
                return cached.book.clone();
            }
            let (_, now) = ledger::state::last_block(&**store);
            if revision.is_some()
                && cached.revision == revision
                && now < cached.book.valid_until_ms()
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
