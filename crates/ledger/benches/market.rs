//! Full trade cycles (take, mark paid, release) per second on one core.
//!
//! 100 buyers take parts of one standing sell offer in one block, mark them paid in the next, and
//! the seller releases all 100 in a third. Each iteration applies the three blocks into a fresh
//! overlay over the same base state, with signatures already verified (as the node does after
//! admission) and, separately, with the ledger's per-block batch verification.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    BlockContext, Overlay, Receipt, apply_block, apply_block_checked,
    market::MarketEvent,
    testing::{TestChain, account},
};
use std::hint::black_box;
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

const BUYERS: u64 = 100;
const SELLER: u64 = 0;
const ISSUER: u64 = 200;

fn setup() -> (
    ledger::MemoryStore,
    Vec<(BlockContext, Vec<SignedTransaction>)>,
) {
    let mut chain = TestChain::new(BUYERS + 1, 1_000_000_000_000);
    chain.check_conservation = false;
    let receipt = chain.bank(
        SELLER,
        BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new("USDX").unwrap(),
            name: Text::new("Dollar").unwrap(),
            decimals: 6,
            max_supply: None,
        }),
    );
    let usd = match &receipt.events[..] {
        [ledger::Event::AssetIssued { asset, .. }] => *asset,
        _ => panic!(),
    };
    let _ = ISSUER;
    for holder in 0..=BUYERS {
        assert!(
            chain
                .bank(
                    SELLER,
                    BankCall::Mint(Mint {
                        asset: usd,
                        to: account(holder),
                        amount: 10_000_000_000
                    })
                )
                .is_success()
        );
    }
    let create = CreateOffer {
        side: Side::Sell,
        asset: usd,
        fiat: Fiat::new("EUR").unwrap(),
        price: 92,
        min_amount: 1_000_000,
        max_amount: 1_000_000_000,
        methods: vec![PaymentMethod::Registered(1)],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    let receipt = chain.submit(SELLER, Call::Market(MarketCall::CreateOffer(create)));
    let offer = receipt
        .events
        .iter()
        .find_map(|e| match e {
            ledger::Event::Market(MarketEvent::OfferCreated { offer, .. }) => Some(*offer),
            _ => None,
        })
        .unwrap();
    let first_trade = ledger::market::Db::last_trade_id(&chain.store) + 1;

    let mut blocks = Vec::new();
    let mut context = chain.next_context();
    let takes = (1..=BUYERS)
        .map(|buyer| {
            chain.tx_with(
                buyer,
                chain.nonce(buyer),
                Call::Market(MarketCall::TakeOffer(TakeOffer {
                    offer,
                    revision: 0,
                    amount: 5_000_000,
                    method: PaymentMethod::Registered(1),
                })),
            )
        })
        .collect();
    blocks.push((context.clone(), takes));
    context.height += 1;
    context.timestamp_ms += 1_000;
    let pays = (1..=BUYERS)
        .map(|buyer| {
            chain.tx_with(
                buyer,
                chain.nonce(buyer) + 1,
                Call::Market(MarketCall::MarkPaid(MarkPaid {
                    trade: first_trade + buyer - 1,
                    payer_commitment: Some([buyer as u8; 32]),
                })),
            )
        })
        .collect();
    blocks.push((context.clone(), pays));
    context.height += 1;
    context.timestamp_ms += 1_000;
    let seller_nonce = chain.nonce(SELLER);
    let releases = (0..BUYERS)
        .map(|i| {
            chain.tx_with(
                SELLER,
                seller_nonce + i,
                Call::Market(MarketCall::Release(TradeRef {
                    trade: first_trade + i,
                })),
            )
        })
        .collect();
    blocks.push((context, releases));
    let _ = AssetId::NATIVE;
    (chain.store, blocks)
}

fn run(
    store: &mut ledger::MemoryStore,
    blocks: &[(BlockContext, Vec<SignedTransaction>)],
    verify: bool,
) -> Vec<Receipt> {
    let mut overlay = Overlay::new(store);
    let mut all = Vec::new();
    for (context, txs) in blocks {
        let receipts = if verify {
            apply_block(&mut overlay, context, txs).unwrap()
        } else {
            apply_block_checked(&mut overlay, context, txs, &vec![true; txs.len()]).unwrap()
        };
        all.extend(receipts);
    }
    all
}

fn bench(c: &mut Criterion) {
    let (mut store, blocks) = setup();
    let receipts = run(&mut store, &blocks, true);
    assert!(
        receipts.iter().all(|r| r.is_success()),
        "{:?}",
        receipts.iter().find(|r| !r.is_success())
    );
    let mut group = c.benchmark_group("trade_cycles_take_pay_release");
    group.throughput(Throughput::Elements(BUYERS));
    group.sample_size(20);
    group.bench_function("signatures_preverified", |b| {
        b.iter(|| black_box(run(&mut store, &blocks, false)))
    });
    group.bench_function("with_batch_signature_checks", |b| {
        b.iter(|| black_box(run(&mut store, &blocks, true)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
