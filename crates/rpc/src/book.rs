//! The offer book as the API serves it: every open offer of one finalized state, indexed by
//! side, asset and currency and sorted by price, with each offer's JSON view built at most once.
//!
//! The ledger keeps offers by id only, so answering a filtered, paged query straight from the
//! state means decoding every offer ever made. The book does that once per finalized state;
//! after it, a query walks only the matching buckets and stops when its page is full.
//!
//! Order: sell offers before buy offers, then by asset id, then by currency code, then the best
//! price for a taker first (lowest for sell offers, highest for buy offers), then oldest first.

use crate::market::{MAX_PAGE, OfferQuery, OfferView};
use ledger::{
    MemoryStore, Store,
    market::{self, Db, Offer},
};
use serde::Serialize;
use serde_json::value::RawValue;
use std::{
    cmp::Reverse,
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
};
use types::{
    AccountId, AssetId,
    market::{Fiat, Side},
};

type Bucket = (Side, AssetId, Fiat);

struct Entry {
    offer: Offer,
    /// The offer's JSON view, built by the first query that returns it.
    view: OnceLock<Arc<RawValue>>,
}

/// Every open offer of one ledger state.
pub struct OfferBook {
    buckets: BTreeMap<Bucket, Vec<Entry>>,
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
    pub fn read(store: &(impl Store + ?Sized)) -> Self {
        let mut buckets: BTreeMap<Bucket, Vec<Entry>> = BTreeMap::new();
        let mut len = 0;
        for id in 1..=Db::last_offer_id(store) {
            if let Some(offer) = Db::offer(store, id) {
                len += 1;
                buckets
                    .entry((offer.side, offer.asset, offer.fiat))
                    .or_default()
                    .push(Entry {
                        offer,
                        view: OnceLock::new(),
                    });
            }
        }
        for ((side, _, _), entries) in &mut buckets {
            match side {
                Side::Sell => entries.sort_by_key(|e| (e.offer.price, e.offer.id)),
                Side::Buy => entries.sort_by_key(|e| (Reverse(e.offer.price), e.offer.id)),
            }
        }
        Self { buckets, len }
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
        let skip = query.offset.unwrap_or(0) as usize;
        let limit = query.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE) as usize;
        let params = market::params::load(store);
        let wanted = |bucket: &Bucket| {
            filter.side.is_none_or(|s| s == bucket.0)
                && filter.asset.is_none_or(|a| a == bucket.1)
                && filter.fiat.is_none_or(|f| f == bucket.2)
        };
        let views = self
            .buckets
            .iter()
            .filter(|(bucket, _)| wanted(bucket))
            .flat_map(|(_, entries)| entries)
            .filter(|entry| filter.matches(&entry.offer))
            .filter(|entry| maker.is_none_or(|m| entry.offer.maker == m))
            .skip(skip)
            .take(limit)
            .map(|entry| {
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

/// The book of the latest state queried, kept until the state changes.
#[derive(Debug, Default)]
pub struct BookCache {
    last: Mutex<Option<(Arc<MemoryStore>, Arc<OfferBook>)>>,
}

impl BookCache {
    /// The book of `store`, read now unless it is the state of the previous call. Holding the
    /// state keeps its address from being reused, so comparing addresses is sound.
    pub fn book(&self, store: &Arc<MemoryStore>) -> Arc<OfferBook> {
        let mut last = self.last.lock().expect("no panics while holding the book");
        match last.as_ref() {
            Some((state, book)) if Arc::ptr_eq(state, store) => book.clone(),
            _ => {
                let book = Arc::new(OfferBook::read(&**store));
                *last = Some((store.clone(), book.clone()));
                book
            }
        }
    }
}
