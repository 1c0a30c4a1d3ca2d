//! The indexed offer book answers every query exactly as a plain scan of the ledger would: the
//! same offers in the same order, the same page for every offset and limit.

#[path = "support/trade.rs"]
mod trade;
use ledger::{
    MemoryStore, Store,
    market::{Db, Offer, queries},
    testing::{TestChain, account},
};
use proptest::prelude::*;
use rpc::{
    book::{BookCache, OfferBook},
    market::OfferQuery,
};
use std::sync::Arc;
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint, Transfer},
    market::*,
};

const MAKERS: u64 = 4;
const FIATS: [&str; 3] = ["EUR", "USD", "BRL"];
/// Registry indexes of WISE, SWIFT and F2F, which pay in any of `FIATS`.
const METHODS: [(u16, &str); 3] = [(38, "WISE"), (40, "SWIFT"), (45, "F2F")];

#[derive(Clone, Debug)]
struct OfferSpec {
    maker: u64,
    sell: bool,
    fiat: usize,
    price: u128,
    min_amount: u128,
    max_amount: u128,
    methods: Vec<usize>,
    custom: bool,
    cancel: bool,
}

fn offer_spec() -> impl Strategy<Value = OfferSpec> {
    (
        0..MAKERS,
        any::<bool>(),
        0..FIATS.len(),
        // Few distinct prices, so that equal prices (ordered by age) are common.
        90u128..96,
        1u128..5,
        1u128..8,
        proptest::collection::vec(0..METHODS.len(), 0..3),
        any::<bool>(),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(maker, sell, fiat, price, min, max, methods, custom, cancel)| OfferSpec {
                maker,
                sell,
                fiat,
                price,
                min_amount: min * 1_000_000,
                max_amount: max * 1_000_000,
                methods,
                custom,
                cancel,
            },
        )
}

#[derive(Clone, Debug)]
struct QuerySpec {
    side: Option<bool>,
    fiat: Option<usize>,
    method: Option<usize>,
    amount: Option<u128>,
    min_price: Option<u128>,
    max_price: Option<u128>,
    maker: Option<u64>,
    offset: Option<u32>,
    limit: Option<u32>,
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(0..FIATS.len()),
        proptest::option::of(0..METHODS.len()),
        proptest::option::weighted(0.3, 1u128..9),
        proptest::option::of(89u128..97),
        proptest::option::of(89u128..97),
        proptest::option::weighted(0.3, 0..MAKERS),
        proptest::option::of(0u32..40),
        proptest::option::of(0u32..30),
    )
        .prop_map(
            |(side, fiat, method, amount, min_price, max_price, maker, offset, limit)| QuerySpec {
                side,
                fiat,
                method,
                amount,
                min_price,
                max_price,
                maker,
                offset,
                limit,
            },
        )
}

/// A ledger with the offers `specs` describe made (and some cancelled) by real transactions.
fn market(specs: &[OfferSpec]) -> MemoryStore {
    market_chain(specs).store
}

/// The chain behind [`market`]: account `MAKERS` issued USDX, every maker holds some, and
/// account `MAKERS + 1` holds some too but makes no offers.
fn market_chain(specs: &[OfferSpec]) -> TestChain {
    let issuer = MAKERS;
    let mut chain = TestChain::new(MAKERS + 2, 1_000_000_000_000);
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(issuer, issue).is_success());
    for maker in (0..MAKERS).chain([MAKERS + 1]) {
        let mint = BankCall::Mint(Mint {
            asset: AssetId(1),
            to: account(maker),
            amount: 1_000_000_000_000,
        });
        assert!(chain.bank(issuer, mint).is_success());
    }
    for spec in specs {
        market_chain_offer(&mut chain, spec);
    }
    chain
}

fn query(spec: &QuerySpec) -> OfferQuery {
    let decimal = |minor: u128, decimals: u32| {
        let unit = 10u128.pow(decimals);
        format!(
            "{}.{:0width$}",
            minor / unit,
            minor % unit,
            width = decimals as usize
        )
    };
    OfferQuery {
        side: spec
            .side
            .map(|sell| if sell { "sell" } else { "buy" }.into()),
        asset: Some("USDX".into()),
        fiat: spec.fiat.map(|i| FIATS[i].into()),
        method: spec.method.map(|i| METHODS[i].1.into()),
        amount: spec.amount.map(|whole| decimal(whole * 1_000_000, 6)),
        min_price: spec.min_price.map(|p| decimal(p, 2)),
        max_price: spec.max_price.map(|p| decimal(p, 2)),
        maker: spec.maker.map(|m| account(m).to_string()),
        limit: spec.limit,
        offset: spec.offset,
    }
}

/// The ids the page should hold: every open offer checked one by one, sorted, then paged.
fn expected(store: &(impl Store + ?Sized), query: &OfferQuery) -> Vec<u64> {
    let filter = query.filter(store).unwrap();
    let found: Vec<Offer> = queries::offers(store, &filter)
        .into_iter()
        .filter(|o| {
            query
                .maker
                .as_ref()
                .is_none_or(|m| o.maker.to_string() == *m)
        })
        .collect();
    found
        .iter()
        .skip(query.offset.unwrap_or(0) as usize)
        .take(query.limit.unwrap_or(500) as usize)
        .map(|o| o.id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn pages_match_a_plain_scan(
        offers in proptest::collection::vec(offer_spec(), 0..60),
        queries in proptest::collection::vec(query_spec(), 40),
    ) {
        let store = market(&offers);
        let book = OfferBook::read(&store);
        for spec in &queries {
            let query = query(spec);
            let page = book.page(&store, &query).unwrap();
            let ids: Vec<u64> = page
                .0
                .iter()
                .map(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).unwrap()["id"]
                    .as_u64()
                    .unwrap())
                .collect();
            prop_assert_eq!(ids, expected(&store, &query), "{:?}", query);
        }
    }
}

/// The maker's account age in days as the first page shows it.
fn first_maker_age(book: &OfferBook, store: &MemoryStore) -> u64 {
    let page = book.page(store, &OfferQuery::default()).unwrap();
    let view: serde_json::Value = serde_json::from_str(page.0[0].get()).unwrap();
    view["maker_standing"]["account_age_days"].as_u64().unwrap()
}

/// The server keeps its book across blocks that leave the market as it was, and reads it again
/// when the market revision changes or when a maker's standing changes with time alone.
#[test]
fn the_book_is_kept_while_the_market_stays_the_same() {
    const DAY_MS: u64 = 86_400_000;
    let specs = [OfferSpec {
        maker: 0,
        sell: true,
        fiat: 0,
        price: 95,
        min_amount: 1_000_000,
        max_amount: 7_000_000,
        methods: vec![0],
        custom: false,
        cancel: false,
    }];
    let mut chain = market_chain(&specs);
    // Maker 1 takes a part: both accounts' ages start now.
    let take = TakeOffer {
        offer: 1,
        revision: 0,
        amount: 1_000_000,
        method: PaymentMethod::Registered(METHODS[0].0),
    };
    assert!(
        chain
            .submit(1, Call::Market(MarketCall::TakeOffer(take)))
            .is_success()
    );
    let cache = BookCache::default();
    let first = Arc::new(chain.store.clone());
    let book = cache.book(&first, Some(1));
    assert_eq!(first_maker_age(&book, &first), 0);

    // A transfer half a day later: same market revision, same book.
    chain.advance_ms(DAY_MS / 2);
    let transfer = BankCall::Transfer(Transfer {
        to: account(3),
        asset: AssetId(1),
        amount: 1,
    });
    assert!(chain.bank(2, transfer.clone()).is_success());
    let later = Arc::new(chain.store.clone());
    assert!(Arc::ptr_eq(&cache.book(&later, Some(1)), &book));
    // The same state gets the same book; another state with an unknown or a new revision is
    // read again.
    assert!(Arc::ptr_eq(&cache.book(&later, None), &book));
    let copy = Arc::new(chain.store.clone());
    assert!(!Arc::ptr_eq(&cache.book(&copy, None), &book));
    let copy = Arc::new(chain.store.clone());
    let book = cache.book(&copy, Some(2));
    assert!(Arc::ptr_eq(&cache.book(&copy, Some(2)), &book));

    // A day after the take, the maker's age reads one day: the book is read again.
    chain.advance_ms(DAY_MS / 2);
    assert!(chain.bank(2, transfer).is_success());
    let next_day = Arc::new(chain.store.clone());
    let fresh = cache.book(&next_day, Some(2));
    assert!(!Arc::ptr_eq(&fresh, &book));
    assert_eq!(first_maker_age(&fresh, &next_day), 1);
}

/// A maker's views expire at the very millisecond its account age reaches a new day: the
/// block one millisecond before still shows the old age, the block at the boundary the new one.
#[test]
fn a_makers_views_expire_at_the_exact_day_boundary() {
    const DAY_MS: u64 = 86_400_000;
    let interval = ledger::testing::BLOCK_INTERVAL_MS;
    let specs = [OfferSpec {
        maker: 0,
        sell: true,
        fiat: 0,
        price: 95,
        min_amount: 1_000_000,
        max_amount: 7_000_000,
        methods: vec![0],
        custom: false,
        cancel: false,
    }];
    let mut chain = market_chain(&specs);
    let take = TakeOffer {
        offer: 1,
        revision: 0,
        amount: 1_000_000,
        method: PaymentMethod::Registered(METHODS[0].0),
    };
    assert!(
        chain
            .submit(1, Call::Market(MarketCall::TakeOffer(take)))
            .is_success()
    );
    let first = Db::reputation(&chain.store, &account(0))
        .first_trade_ms
        .expect("the take starts the maker's age");
    let transfer = BankCall::Transfer(Transfer {
        to: account(3),
        asset: AssetId(1),
        amount: 1,
    });
    let before = chain.store.clone();
    let book = OfferBook::read(&before);
    assert_eq!(first_maker_age(&book, &before), 0);
    let mut states = vec![before];
    let mut book = book;
    for (block_ms, age) in [(first + DAY_MS - 1, 0), (first + DAY_MS, 1)] {
        chain.time_ms = block_ms - interval;
        assert!(chain.bank(2, transfer.clone()).is_success());
        assert_eq!(ledger::state::last_block(&chain.store).1, block_ms);
        let after = chain.store.clone();
        book = book.update(states.last().unwrap(), &after);
        assert_eq!(first_maker_age(&book, &after), age, "block at {block_ms}");
        states.push(after);
    }
}

/// One thing that happens on the chain between two states the book is brought across.
#[derive(Clone, Debug)]
enum Step {
    Create(OfferSpec),
    Cancel(usize),
    Reprice(usize, u128),
    /// A whole trade on an open offer by another account: take, mark paid, release (both
    /// parties' reputations and ages change, and the offer's amounts).
    Trade(usize, u64),
    Profile(u64, u8),
    AdvanceHours(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => offer_spec().prop_map(Step::Create),
        1 => any::<usize>().prop_map(Step::Cancel),
        2 => (any::<usize>(), 89u128..97).prop_map(|(pick, price)| Step::Reprice(pick, price)),
        2 => (any::<usize>(), 0..MAKERS + 2).prop_map(|(pick, taker)| Step::Trade(pick, taker)),
        1 => (0..MAKERS, any::<u8>()).prop_map(|(maker, name)| Step::Profile(maker, name)),
        1 => (1u64..40).prop_map(Step::AdvanceHours),
    ]
}

/// The `pick`-th open offer (modulo how many there are).
fn open_offer(chain: &TestChain, pick: usize) -> Option<Offer> {
    let ids: Vec<u64> = queries::offer_ids(&chain.store).collect();
    let id = *ids.get(pick % ids.len().max(1))?;
    Db::offer(&chain.store, id)
}

/// Runs `step` on `chain`; calls the ledger refuses are part of the test (they change nothing
/// an offer shows).
fn run(chain: &mut TestChain, step: &Step) {
    let market = |call| Call::Market(call);
    match step {
        Step::Create(spec) => {
            let _ = market_chain_offer(chain, spec);
        }
        Step::Cancel(pick) => {
            if let Some(offer) = open_offer(chain, *pick) {
                let maker = (0..MAKERS + 2)
                    .find(|m| account(*m) == offer.maker)
                    .unwrap();
                let cancel = MarketCall::CancelOffer(OfferRef { offer: offer.id });
                chain.submit(maker, market(cancel));
            }
        }
        Step::Reprice(pick, price) => {
            if let Some(offer) = open_offer(chain, *pick) {
                let maker = (0..MAKERS + 2)
                    .find(|m| account(*m) == offer.maker)
                    .unwrap();
                let update = MarketCall::UpdateOffer(UpdateOffer {
                    offer: offer.id,
                    price: *price,
                    min_amount: offer.min_amount,
                    max_amount: offer.max_amount,
                    methods: offer.methods.clone(),
                    payment_window_secs: offer.payment_window_secs,
                    terms: offer.terms.clone(),
                });
                chain.submit(maker, market(update));
            }
        }
        Step::Trade(pick, taker) => {
            let Some(offer) = open_offer(chain, *pick) else {
                return;
            };
            let maker = (0..MAKERS + 2)
                .find(|m| account(*m) == offer.maker)
                .unwrap();
            if maker == *taker {
                return;
            }
            trade::trade(chain, &offer, maker, *taker, false);
        }
        Step::Profile(maker, name) => {
            let profile = MarketCall::SetProfile(SetProfile {
                chat_key: [*name; 32],
                name: Text::new(format!("maker {name}")).unwrap(),
            });
            chain.submit(*maker, market(profile));
        }
        Step::AdvanceHours(hours) => chain.advance_ms(hours * 3_600_000),
    }
}

/// Every page `queries` ask for, as the JSON a client receives.
fn pages(book: &OfferBook, store: &MemoryStore, queries: &[QuerySpec]) -> Vec<String> {
    queries
        .iter()
        .map(|spec| serde_json::to_string(&book.page(store, &query(spec)).unwrap()).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A book brought from state to state by what changed serves exactly the pages, views
    /// included, that a book read from scratch serves, after every step of a busy market:
    /// offers made, repriced, cancelled and traded, profiles renamed, reputations and account
    /// ages changing. Views built on earlier states are kept only where nothing they show
    /// changed, so a stale view fails the comparison.
    #[test]
    fn a_book_updated_from_each_change_serves_what_a_fresh_one_does(
        offers in proptest::collection::vec(offer_spec(), 0..20),
        steps in proptest::collection::vec(step(), 1..30),
        queries in proptest::collection::vec(query_spec(), 8),
    ) {
        let mut chain = market_chain(&offers);
        let everything = QuerySpec {
            side: None, fiat: None, method: None, amount: None, min_price: None,
            max_price: None, maker: None, offset: None, limit: None,
        };
        let queries: Vec<QuerySpec> = queries.into_iter().chain([everything]).collect();
        let mut before = chain.store.clone();
        let mut book = OfferBook::read(&before);
        // Views built now, to be carried over (or not) by the updates.
        let _ = pages(&book, &before, &queries);
        let cache = BookCache::default();
        let _ = cache.book(&Arc::new(before.clone()), None);
        for step in &steps {
            run(&mut chain, step);
            let after = chain.store.clone();
            let updated = book.update(&before, &after);
            let fresh = OfferBook::read(&after);
            prop_assert_eq!(updated.len(), fresh.len(), "{:?}", step);
            let want = pages(&fresh, &after, &queries);
            prop_assert_eq!(pages(&updated, &after, &queries), want.clone(), "{:?}", step);
            // The server's cache, which updates from the last state it served.
            let cached = cache.book(&Arc::new(after.clone()), None);
            prop_assert_eq!(pages(&cached, &after, &queries), want, "{:?}", step);
            book = updated;
            before = after;
        }
    }
}

/// `spec`'s offer made on `chain` (and cancelled if it says so).
fn market_chain_offer(chain: &mut TestChain, spec: &OfferSpec) -> bool {
    let mut methods: Vec<PaymentMethod> = spec
        .methods
        .iter()
        .map(|&i| PaymentMethod::Registered(METHODS[i].0))
        .collect();
    if spec.custom || methods.is_empty() {
        methods.push(PaymentMethod::Custom(Text::new("Cash by post").unwrap()));
    }
    let offer = CreateOffer {
        side: if spec.sell { Side::Sell } else { Side::Buy },
        asset: AssetId(1),
        fiat: Fiat::new(FIATS[spec.fiat]).unwrap(),
        price: spec.price,
        min_amount: spec.min_amount,
        max_amount: spec.max_amount,
        methods,
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    let receipt = chain.submit(spec.maker, Call::Market(MarketCall::CreateOffer(offer)));
    if receipt.is_success() && spec.cancel {
        let offer = Db::last_offer_id(&chain.store);
        let cancel = Call::Market(MarketCall::CancelOffer(OfferRef { offer }));
        assert!(chain.submit(spec.maker, cancel).is_success());
    }
    receipt.is_success()
}
