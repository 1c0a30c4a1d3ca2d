//! Listings by account must cost what that account holds, not what the whole ledger holds
//! ("RPC listings of trades, loans and credit offers by account use indexes instead of
//! scanning"). Any account can fill the books for fees and locked capital (credit offers,
//! market offers), and any RPC client can then ask for one account's listing as often as it
//! likes (G10: no rate limiting).
//!
//! A listing by account reads that account's own records (the lender's index of credit
//! offers, the book's offers by maker), so its cost follows what the account holds. These tests
//! check that the listing read that way is exactly the listing of everything filtered by the
//! account, at every offset and limit and with the other filters.

use ledger::{
    MemoryStore,
    lending::records::{CreditOffer, Db as LendingDb},
    lending::{self, queries::SortBy},
    market::queries::OfferFilter,
    market::{Db as MarketDb, Offer},
    testing::{TestChain, account},
};
use rpc::{
    book::OfferBook,
    lending::CreditOfferQuery,
    market::{MAX_PAGE, OfferQuery},
};
use types::{
    AssetId, Text,
    lending::Schedule,
    market::{Fiat, PaymentMethod, Side},
};

fn base() -> MemoryStore {
    TestChain::new(2, 1_000_000_000).store
}

fn credit_offer(id: u64, lender: u64) -> CreditOffer {
    CreditOffer {
        id,
        lender: account(lender),
        asset: AssetId::NATIVE,
        remaining: 1_000,
        min_amount: 1,
        rate_bps: 500 + (id % 100) as u32,
        term_days: 30,
        schedule: Schedule::Bullet,
        collateral_asset: None,
        collateral_per_unit: 0,
        expires_ms: u64::MAX,
    }
}

fn offer(id: u64, maker: u64) -> Offer {
    Offer {
        id,
        maker: account(maker),
        side: Side::Sell,
        asset: AssetId::NATIVE,
        fiat: Fiat::new("EUR").unwrap(),
        price: 1_000 + u128::from(id % 977),
        min_amount: 1,
        max_amount: 1_000,
        methods: vec![PaymentMethod::Registered(38)],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 0,
        seller_deposit_bps: 0,
        min_taker_trades: 0,
        min_taker_tier: 0,
        amount_locked: 1_000,
        deposit_locked: 0,
        created_ms: 0,
        revision: 0,
    }
}

/// The one account whose listing is asked for.
const TARGET: u64 = 1;

/// Offsets and limits each listing is asked with.
const PAGES: [(Option<u32>, Option<u32>); 6] = [
    (None, None),
    (Some(0), None),
    (Some(1), Some(0)),
    (Some(3), Some(2)),
    (Some(7), Some(40)),
    (Some(u32::MAX), Some(u32::MAX)),
];

fn page_of<T>(all: Vec<T>, limit: Option<u32>, offset: Option<u32>) -> Vec<T> {
    all.into_iter()
        .skip(offset.unwrap_or(0) as usize)
        .take(limit.unwrap_or(MAX_PAGE).min(MAX_PAGE) as usize)
        .collect()
}

/// Credit offers by lender, read through its index, are the whole book's filtered by lender,
/// in every sort, for every asset filter, page by page.
#[test]
fn credit_offers_by_lender_are_the_books_filtered_by_lender() {
    let mut store = base();
    for id in 1..=600u64 {
        let mut offer = credit_offer(id, [TARGET, 2, 3][(id % 3) as usize]);
        offer.term_days = 10 + (id * 7 % 50) as u32;
        offer.collateral_per_unit = u128::from(id * 13 % 101);
        LendingDb::put_credit_offer(&mut store, &offer);
    }
    LendingDb::delete_credit_offer(&mut store, 3);
    let store = store.settled_by_hand();
    for sort in ["rate", "term", "collateral"] {
        let sorted = match sort {
            "rate" => SortBy::Rate,
            "term" => SortBy::Term,
            _ => SortBy::CollateralRatio,
        };
        let all: Vec<u64> = lending::queries::credit_offers(&store, None, sorted)
            .into_iter()
            .filter(|offer| offer.lender == account(TARGET))
            .map(|offer| offer.id)
            .collect();
        assert_eq!(all.len(), 199, "the target's offers, less the deleted one");
        for (limit, offset) in PAGES {
            let query = CreditOfferQuery {
                lender: Some(account(TARGET).to_string()),
                sort: Some(sort.to_string()),
                limit,
                offset,
                ..CreditOfferQuery::default()
            };
            let ids: Vec<u64> = query
                .run(&store)
                .unwrap()
                .iter()
                .map(|view| view.id)
                .collect();
            assert_eq!(ids, page_of(all.clone(), limit, offset), "{query:?}");
        }
    }
}

/// Offers by maker, read through the book's offers of that maker, are every matching offer of
/// the ledger filtered by maker, in the book's order, page by page.
#[test]
fn offers_by_maker_are_the_books_filtered_by_maker() {
    let mut store = base();
    let fiats = [Fiat::new("EUR").unwrap(), Fiat::new("USD").unwrap()];
    for id in 1..=600u64 {
        let mut offer = offer(id, [TARGET, 2, 3, 4][(id % 4) as usize]);
        offer.side = if id % 5 < 2 { Side::Buy } else { Side::Sell };
        offer.fiat = fiats[(id % 7 % 2) as usize];
        offer.price = 1_000 + u128::from(id * 37 % 211);
        MarketDb::put_offer(&mut store, &offer);
    }
    MarketDb::delete_offer(&mut store, 5);
    let store = store.settled_by_hand();
    let book = OfferBook::read(&store);
    for (side, fiat) in [
        (None, None),
        (Some(Side::Buy), None),
        (Some(Side::Sell), Some(fiats[1])),
        (None, Some(fiats[0])),
    ] {
        let filter = OfferFilter {
            side,
            fiat,
            ..OfferFilter::default()
        };
        // Every matching offer, in the book's order, read page by page without the maker.
        let mut all = Vec::new();
        loop {
            let query = OfferQuery {
                offset: Some(all.len() as u32),
                ..query_of(&filter)
            };
            let page = views(&book, &store, &query);
            if page.is_empty() {
                break;
            }
            all.extend(page);
        }
        let all: Vec<u64> = all
            .into_iter()
            .filter(|(_, maker)| *maker == account(TARGET).to_string())
            .map(|(id, _)| id)
            .collect();
        assert!(all.len() > 10, "{filter:?}: the target makes some of these");
        for (limit, offset) in PAGES {
            let query = OfferQuery {
                maker: Some(account(TARGET).to_string()),
                limit,
                offset,
                ..query_of(&filter)
            };
            let ids: Vec<u64> = views(&book, &store, &query)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            assert_eq!(ids, page_of(all.clone(), limit, offset), "{query:?}");
        }
    }
}

/// The query asking for what `filter` selects (its side and currency).
fn query_of(filter: &OfferFilter) -> OfferQuery {
    OfferQuery {
        side: filter
            .side
            .map(|side| if side == Side::Buy { "buy" } else { "sell" }.to_string()),
        fiat: filter.fiat.map(|fiat| fiat.to_string()),
        ..OfferQuery::default()
    }
}

/// The id and maker of each offer of the page `query` asks for.
fn views(book: &OfferBook, store: &MemoryStore, query: &OfferQuery) -> Vec<(u64, String)> {
    book.page(store, query)
        .unwrap()
        .0
        .iter()
        .map(|view| {
            let view: serde_json::Value = serde_json::from_str(view.get()).unwrap();
            (
                view["id"].as_u64().unwrap(),
                view["maker"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Limits and offsets at their edges never panic and never return more than a page, and a
/// listing by account returns only that account's records.
#[test]
fn listing_edges_return_at_most_a_page_of_the_accounts_own_records() {
    let mut store = base();
    for id in 1..=600u64 {
        let lender = if id % 2 == 0 { TARGET } else { 2 };
        LendingDb::put_credit_offer(&mut store, &credit_offer(id, lender));
        MarketDb::put_offer(&mut store, &offer(id, lender));
    }
    // An offer deleted: its maker no longer holds it.
    MarketDb::delete_offer(&mut store, 600);
    LendingDb::delete_credit_offer(&mut store, 598);
    let store = store.settled_by_hand();
    let book = OfferBook::read(&store);
    for (limit, offset) in [
        (Some(0), None),
        (Some(1), Some(0)),
        (Some(MAX_PAGE), None),
        (Some(u32::MAX), Some(u32::MAX)),
        (None, Some(299)),
        (Some(u32::MAX), None),
    ] {
        let credit = CreditOfferQuery {
            lender: Some(account(TARGET).to_string()),
            limit,
            offset,
            ..CreditOfferQuery::default()
        }
        .run(&store)
        .unwrap();
        assert!(credit.len() <= MAX_PAGE as usize);
        assert!(credit.len() <= limit.unwrap_or(MAX_PAGE) as usize);
        for view in &credit {
            assert_eq!(view.id % 2, 0, "another lender's credit offer");
            assert_ne!(view.id, 598, "a deleted credit offer");
        }
        let page = book
            .page(
                &store,
                &OfferQuery {
                    maker: Some(account(TARGET).to_string()),
                    limit,
                    offset,
                    ..OfferQuery::default()
                },
            )
            .unwrap();
        assert!(page.0.len() <= MAX_PAGE as usize);
        for view in &page.0 {
            let view: serde_json::Value = serde_json::from_str(view.get()).unwrap();
            assert_eq!(view["maker"], account(TARGET).to_string());
            assert_ne!(view["id"], 600, "a deleted offer");
        }
    }
}
