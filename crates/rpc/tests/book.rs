//! The indexed offer book answers every query exactly as a plain scan of the ledger would: the
//! same offers in the same order, the same page for every offset and limit.

use ledger::{
    MemoryStore, Store,
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
    let issuer = MAKERS;
    let mut chain = TestChain::new(MAKERS + 1, 1_000_000_000_000);
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(issuer, issue).is_success());
    for maker in 0..MAKERS {
        let mint = BankCall::Mint(Mint {
            asset: AssetId(1),
            to: account(maker),
            amount: 1_000_000_000_000,
        });
        assert!(chain.bank(issuer, mint).is_success());
    }
    for spec in specs {
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
    }
    chain.store
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
