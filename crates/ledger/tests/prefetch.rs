//! Optimistic execution over fetched values gives exactly the receipts and state of direct
//! execution, for bank, market and lending blocks, in a few runs.

use ledger::{
    Store,
    prefetch::{Attempt, Fetched, MAX_ATTEMPTS, access_hint, attempt},
    testing::{TestChain, account},
};
use types::{
    AssetId, Call, SignedTransaction, Text,
    bank::{BankCall, Transfer},
    market::*,
};

/// Runs `txs` by prefetch-and-retry over `base` and returns (receipts, writes applied, runs).
fn optimistic(
    chain: &TestChain,
    txs: &[SignedTransaction],
) -> (Vec<ledger::Receipt>, ledger::MemoryStore, usize) {
    let context = chain.next_context();
    let valid = ledger::verify_signatures(txs);
    let mut fetched: Fetched = Fetched::new();
    for key in access_hint(&context, txs) {
        let value = chain.store.get(&key);
        fetched.insert(key, value);
    }
    for run in 1..=MAX_ATTEMPTS {
        match attempt(&fetched, &context, txs, &valid) {
            Attempt::Complete { receipts, writes } => {
                let mut store = chain.store.clone();
                for (key, value) in writes {
                    match value {
                        Some(value) => store.put(&key, value),
                        None => store.delete(&key),
                    }
                }
                return (receipts, store, run);
            }
            Attempt::Missing(keys) => {
                for key in keys {
                    let value = chain.store.get(&key);
                    fetched.insert(key, value);
                }
            }
            Attempt::Invalid(error) => panic!("{error}"),
        }
    }
    panic!("no complete run in {MAX_ATTEMPTS} attempts");
}

fn check(chain: &mut TestChain, txs: Vec<SignedTransaction>) -> usize {
    let (receipts, store, runs) = optimistic(chain, &txs);
    let direct = chain.apply(&txs);
    assert_eq!(receipts, direct);
    assert_eq!(store, chain.store, "the same state as direct execution");
    runs
}

#[test]
fn transfers_complete_in_one_run_with_the_hint() {
    let mut chain = TestChain::new(4, 1_000_000_000);
    let txs = (0..3)
        .map(|i| {
            chain.tx(
                i,
                Call::Bank(BankCall::Transfer(Transfer {
                    to: account(i + 1),
                    asset: AssetId::NATIVE,
                    amount: 10,
                })),
            )
        })
        .collect();
    assert_eq!(check(&mut chain, txs), 1);
}

#[test]
fn market_blocks_with_state_dependent_reads_match_direct_execution() {
    let mut chain = TestChain::new(5, 100_000_000_000_000);
    let register = |bond| {
        Call::Market(MarketCall::RegisterArbitrator(RegisterArbitrator {
            bond,
            fee_bps: 10,
            languages: Text::new("en").unwrap(),
        }))
    };
    let txs = vec![
        chain.tx(3, register(1_000_000_000_000)),
        chain.tx(4, register(1_000_000_000_000)),
    ];
    check(&mut chain, txs);
    let offer = CreateOffer {
        side: Side::Sell,
        asset: AssetId::NATIVE,
        fiat: Fiat::new("EUR").unwrap(),
        price: 100,
        min_amount: 1_000_000,
        max_amount: 100_000_000,
        methods: vec![PaymentMethod::Registered(1)],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    let txs = vec![chain.tx(0, Call::Market(MarketCall::CreateOffer(offer)))];
    check(&mut chain, txs);
    let take = Call::Market(MarketCall::TakeOffer(TakeOffer {
        offer: 1,
        amount: 2_000_000,
        method: PaymentMethod::Registered(1),
    }));
    let txs = vec![chain.tx(1, take)];
    check(&mut chain, txs);
    let txs = vec![chain.tx(
        1,
        Call::Market(MarketCall::MarkPaid(MarkPaid {
            trade: 1,
            payer_commitment: None,
        })),
    )];
    check(&mut chain, txs);
    // Opening a dispute reads the trade, then the arbitrator list, then each arbitrator.
    let txs = vec![chain.tx(
        0,
        Call::Market(MarketCall::OpenDispute(TradeRef { trade: 1 })),
    )];
    let runs = check(&mut chain, txs);
    assert!(runs >= 2 && runs <= 6, "{runs}");
}
