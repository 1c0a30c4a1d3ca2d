//! The persistent offer book at its edges: a book brought across several states at once
//! (as the server's cache does), offers whose methods and amounts change on edit, two assets,
//! takes that leave offers partly filled, time crossing day boundaries, and queries at the
//! edges (offset and limit 0, 1, huge, `u32::MAX`, inverted and equal price bounds, amount and
//! maker filters, a method no offer accepts). Every page, views included, must equal what a
//! book read from scratch serves, and its ids what a plain scan of the ledger gives.

#[path = "support/trade.rs"]
mod trade;
use ledger::{
    MemoryStore,
    market::{Db, Offer, queries},
    testing::{TestChain, account},
};
use proptest::prelude::*;
use rpc::{book::OfferBook, market::OfferQuery};
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

const MAKERS: u64 = 4;
const ACCOUNTS: u64 = MAKERS + 2;
const FIATS: [&str; 2] = ["EUR", "USD"];
const ASSETS: [&str; 2] = ["USDX", "EURX"];
/// WISE, SWIFT, F2F (any currency), and one more.
const METHODS: [(u16, &str); 3] = [(38, "WISE"), (40, "SWIFT"), (45, "F2F")];
const DAY_MS: u64 = 86_400_000;

fn chain() -> TestChain {
    let issuer = MAKERS + 1;
    let mut chain = TestChain::new(ACCOUNTS, 1_000_000_000_000);
    for (n, symbol) in ASSETS.iter().enumerate() {
        let issue = BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new(symbol).unwrap(),
            name: Text::new("Coin").unwrap(),
            decimals: 6,
            max_supply: None,
        });
        assert!(chain.bank(issuer, issue).is_success());
        for who in 0..ACCOUNTS {
            let mint = BankCall::Mint(Mint {
                asset: AssetId(n as u32 + 1),
                to: account(who),
                amount: 1_000_000_000_000,
            });
            assert!(chain.bank(issuer, mint).is_success());
        }
    }
    chain
}

#[derive(Clone, Debug)]
enum Step {
    Create {
        maker: u64,
        sell: bool,
        asset: usize,
        fiat: usize,
        price: u128,
        methods: Vec<usize>,
        custom: bool,
    },
    /// Reprice and change methods and amounts at once.
    Edit {
        pick: usize,
        price: u128,
        methods: Vec<usize>,
        custom: bool,
        max: u128,
    },
    Cancel(usize),
    /// A take only (the offer's amounts change; both parties' ages start).
    Take(usize, u64),
    /// A take, paid and released (reputations change).
    Trade(usize, u64),
    Profile(u64, u8),
    AdvanceMs(u64),
    /// The book is brought to the current state here (and only here).
    Sync,
}

fn methods() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::btree_set(0..METHODS.len(), 0..=3).prop_map(|s| s.into_iter().collect())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..MAKERS, any::<bool>(), 0..ASSETS.len(), 0..FIATS.len(), 90u128..96, methods(),
              any::<bool>())
            .prop_map(|(maker, sell, asset, fiat, price, methods, custom)| Step::Create {
                maker, sell, asset, fiat, price, methods, custom
            }),
        3 => (any::<usize>(), 89u128..97, methods(), any::<bool>(), 1u128..8)
            .prop_map(|(pick, price, methods, custom, max)| Step::Edit {
                pick, price, methods, custom, max: max * 1_000_000
            }),
        1 => any::<usize>().prop_map(Step::Cancel),
        1 => (any::<usize>(), 0..ACCOUNTS).prop_map(|(p, t)| Step::Take(p, t)),
        2 => (any::<usize>(), 0..ACCOUNTS).prop_map(|(p, t)| Step::Trade(p, t)),
        1 => (0..MAKERS, any::<u8>()).prop_map(|(m, n)| Step::Profile(m, n)),
        1 => prop_oneof![
            Just(DAY_MS - 2_000),
            Just(DAY_MS),
            Just(1_000u64),
            1u64..(3 * DAY_MS),
        ]
        .prop_map(Step::AdvanceMs),
        3 => Just(Step::Sync),
    ]
}

fn method_list(methods: &[usize], custom: bool) -> Vec<PaymentMethod> {
    let mut list: Vec<PaymentMethod> = methods
        .iter()
        .map(|&i| PaymentMethod::Registered(METHODS[i].0))
        .collect();
    if custom || list.is_empty() {
        list.push(PaymentMethod::Custom(Text::new("Cash by post").unwrap()));
    }
    list
}

fn open_offer(chain: &TestChain, pick: usize) -> Option<Offer> {
    let ids: Vec<u64> = queries::offer_ids(&chain.store).collect();
    let id = *ids.get(pick % ids.len().max(1))?;
    Db::offer(&chain.store, id)
}

fn index_of(who: &types::AccountId) -> u64 {
    (0..ACCOUNTS).find(|m| account(*m) == *who).unwrap()
}

fn run(chain: &mut TestChain, step: &Step) {
    let market = Call::Market;
    match step {
        Step::Create {
            maker,
            sell,
            asset,
            fiat,
            price,
            methods,
            custom,
        } => {
            let create = CreateOffer {
                side: if *sell { Side::Sell } else { Side::Buy },
                asset: AssetId(*asset as u32 + 1),
                fiat: Fiat::new(FIATS[*fiat]).unwrap(),
                price: *price,
                min_amount: 1_000_000,
                max_amount: 5_000_000,
                methods: method_list(methods, *custom),
                payment_window_secs: 3_600,
                terms: Text::new("").unwrap(),
                buyer_deposit_bps: 1_000,
                seller_deposit_bps: 1_000,
                min_taker_trades: 0,
                min_taker_tier: 0,
            };
            chain.submit(*maker, market(MarketCall::CreateOffer(create)));
        }
        Step::Edit {
            pick,
            price,
            methods,
            custom,
            max,
        } => {
            if let Some(offer) = open_offer(chain, *pick) {
                let update = UpdateOffer {
                    offer: offer.id,
                    price: *price,
                    min_amount: 1_000_000,
                    max_amount: *max,
                    methods: method_list(methods, *custom),
                    payment_window_secs: offer.payment_window_secs,
                    terms: offer.terms.clone(),
                };
                chain.submit(
                    index_of(&offer.maker),
                    market(MarketCall::UpdateOffer(update)),
                );
            }
        }
        Step::Cancel(pick) => {
            if let Some(offer) = open_offer(chain, *pick) {
                let cancel = MarketCall::CancelOffer(OfferRef { offer: offer.id });
                chain.submit(index_of(&offer.maker), market(cancel));
            }
        }
        Step::Take(pick, taker) | Step::Trade(pick, taker) => {
            let Some(offer) = open_offer(chain, *pick) else {
                return;
            };
            let maker = index_of(&offer.maker);
            if maker == *taker {
                return;
            }
            trade::trade(chain, &offer, maker, *taker, matches!(step, Step::Take(..)));
        }
        Step::Profile(maker, name) => {
            let profile = MarketCall::SetProfile(SetProfile {
                chat_key: [*name; 32],
                name: Text::new(format!("maker {name}")).unwrap(),
            });
            chain.submit(*maker, market(profile));
        }
        Step::AdvanceMs(ms) => chain.advance_ms(*ms),
        Step::Sync => {}
    }
}

#[derive(Clone, Debug)]
struct Q {
    side: Option<bool>,
    asset: Option<usize>,
    fiat: Option<usize>,
    /// Index into METHODS, or 3 for a registered method nobody uses (SEPA).
    method: Option<usize>,
    amount: Option<u128>,
    min_price: Option<u128>,
    max_price: Option<u128>,
    maker: Option<u64>,
    offset: Option<u32>,
    limit: Option<u32>,
}

fn edge_u32() -> impl Strategy<Value = Option<u32>> {
    proptest::option::of(prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        0u32..40,
        Just(499),
        Just(500),
        Just(501),
        Just(u32::MAX - 1),
        Just(u32::MAX),
    ])
}

fn q() -> impl Strategy<Value = Q> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(0..ASSETS.len()),
        proptest::option::of(0..FIATS.len()),
        proptest::option::of(0..=METHODS.len()),
        proptest::option::weighted(0.3, 1u128..9),
        proptest::option::of(88u128..98),
        proptest::option::of(88u128..98),
        proptest::option::weighted(0.3, 0..ACCOUNTS),
        edge_u32(),
        edge_u32(),
    )
        .prop_map(
            |(side, asset, fiat, method, amount, min_price, max_price, maker, offset, limit)| {
                // An amount needs an asset.
                let asset = if amount.is_some() {
                    Some(asset.unwrap_or(0))
                } else {
                    asset
                };
                Q {
                    side,
                    asset,
                    fiat,
                    method,
                    amount,
                    min_price,
                    max_price,
                    maker,
                    offset,
                    limit,
                }
            },
        )
}

fn query(spec: &Q) -> OfferQuery {
    let decimal = |minor: u128, decimals: u32| {
        let unit = 10u128.pow(decimals);
        format!(
            "{}.{:0w$}",
            minor / unit,
            minor % unit,
            w = decimals as usize
        )
    };
    OfferQuery {
        side: spec.side.map(|s| if s { "sell" } else { "buy" }.into()),
        asset: spec.asset.map(|a| ASSETS[a].into()),
        fiat: spec.fiat.map(|f| FIATS[f].into()),
        method: spec
            .method
            .map(|m| METHODS.get(m).map_or("SEPA", |(_, code)| code).into()),
        amount: spec.amount.map(|w| decimal(w * 1_000_000, 6)),
        min_price: spec.min_price.map(|p| decimal(p, 2)),
        max_price: spec.max_price.map(|p| decimal(p, 2)),
        maker: spec.maker.map(|m| account(m).to_string()),
        limit: spec.limit,
        offset: spec.offset,
    }
}

fn expected(store: &MemoryStore, query: &OfferQuery) -> Vec<u64> {
    let filter = query.filter(store).unwrap();
    queries::offers(store, &filter)
        .into_iter()
        .filter(|o| {
            query
                .maker
                .as_ref()
                .is_none_or(|m| o.maker.to_string() == *m)
        })
        .skip(query.offset.unwrap_or(0) as usize)
        .take(query.limit.unwrap_or(500).min(500) as usize)
        .map(|o| o.id)
        .collect()
}

fn page(book: &OfferBook, store: &MemoryStore, query: &OfferQuery) -> String {
    serde_json::to_string(&book.page(store, query).unwrap()).unwrap()
}

fn ids(json: &str) -> Vec<u64> {
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    list.iter().map(|v| v["id"].as_u64().unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_book_brought_across_several_states_serves_what_a_fresh_one_does(
        steps in proptest::collection::vec(step(), 1..60),
        specs in proptest::collection::vec(q(), 12),
    ) {
        let mut chain = chain();
        let all = Q { side: None, asset: None, fiat: None, method: None, amount: None,
            min_price: None, max_price: None, maker: None, offset: None, limit: None };
        let queries: Vec<OfferQuery> =
            specs.iter().chain([&all]).map(query).collect();
        let mut base = chain.store.clone();
        let mut book = OfferBook::read(&base);
        // Views built at every synced state are carried across.
        for q in &queries { let _ = page(&book, &base, q); }
        for (n, step) in steps.iter().enumerate() {
            run(&mut chain, step);
            if !matches!(step, Step::Sync) && n + 1 != steps.len() {
                continue;
            }
            let after = chain.store.clone();
            book = book.update(&base, &after);
            let fresh = OfferBook::read(&after);
            prop_assert_eq!(book.len(), fresh.len());
            for q in &queries {
                let got = page(&book, &after, q);
                prop_assert_eq!(&got, &page(&fresh, &after, q), "step {} {:?}", n, q);
                prop_assert_eq!(ids(&got), expected(&after, q), "step {} {:?}", n, q);
            }
            base = after;
        }
    }
}

/// The book's lists rely on `imbl::Vector` staying sorted and indexable under many middle
/// insertions and removals (each a split and an append), with old versions kept alive (the
/// books before an update). Checked against a plain `Vec` at sizes well past one tree level.
#[test]
fn imbl_vectors_survive_the_books_pattern_of_inserts_and_removals() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut list: imbl::Vector<(u128, u64)> = imbl::Vector::new();
    let mut model: Vec<(u128, u64)> = Vec::new();
    let mut kept = Vec::new();
    for id in 0..200_000u64 {
        let remove = model.len() > 20_000 || (!model.is_empty() && next() % 3 == 0);
        if remove {
            let at = (next() % model.len() as u64) as usize;
            let rank = model.remove(at);
            let found = list.binary_search(&rank).expect("present");
            assert_eq!(found, at);
            list.remove(found);
        } else {
            let rank = (u128::from(next() % 50), id);
            let at = model.binary_search(&rank).unwrap_err();
            model.insert(at, rank);
            let found = list.binary_search(&rank).unwrap_err();
            assert_eq!(found, at);
            list.insert(found, rank);
        }
        if id % 997 == 0 {
            kept.push((list.clone(), model.clone()));
            let start = (next() % (model.len() as u64 + 1)) as usize;
            let slice = list.clone().slice(start..model.len());
            assert!(slice.iter().eq(model[start..].iter()));
        }
    }
    assert!(list.iter().eq(model.iter()));
    for (old, model) in kept {
        assert!(old.iter().eq(model.iter()));
    }
}
