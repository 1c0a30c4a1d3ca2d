//! The cost of a repayment does not grow with the number of lenders: one repayment block on a
//! loan funded by 1 lender and by 1,000 lenders, and one lender's claim on each.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ledger::{
    Event, Overlay, apply_block_checked,
    lending::LendingEvent,
    testing::{TestChain, account},
};
use std::hint::black_box;
use types::{
    Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    lending::*,
};

const BORROWER: u64 = 0;

/// A chain where loan 1 is active and funded equally by `lenders` lenders.
fn setup(lenders: u64) -> TestChain {
    let mut chain = TestChain::new(lenders + 1, 1_000_000_000_000_000);
    chain.check_conservation = false;
    let receipt = chain.bank(
        BORROWER,
        BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new("USDX").unwrap(),
            name: Text::new("Dollar").unwrap(),
            decimals: 6,
            max_supply: None,
        }),
    );
    let usd = match &receipt.events[..] {
        [Event::AssetIssued { asset, .. }] => *asset,
        _ => panic!(),
    };
    let per_lender: u128 = 1_000_000;
    let mints: Vec<_> = (0..=lenders)
        .map(|holder| {
            chain.tx_with(
                BORROWER,
                chain.nonce(BORROWER) + holder,
                Call::Bank(BankCall::Mint(Mint {
                    asset: usd,
                    to: account(holder),
                    amount: 10_000_000_000,
                })),
            )
        })
        .collect();
    chain.apply(&mints);
    let request = RequestLoan {
        asset: usd,
        principal: per_lender * u128::from(lenders),
        rate_bps: 1_000,
        term_days: 360,
        schedule: Schedule::Instalments(12),
        collateral: None,
        funding_deadline_ms: chain.time_ms + 86_400_000,
        min_fill: 1,
    };
    assert!(
        chain
            .submit(BORROWER, Call::Lending(LendingCall::RequestLoan(request)))
            .is_success()
    );
    let funds: Vec<_> = (1..=lenders)
        .map(|lender| {
            chain.tx(
                lender,
                Call::Lending(LendingCall::Fund(Fund {
                    loan: 1,
                    amount: per_lender,
                })),
            )
        })
        .collect();
    let receipts = chain.apply(&funds);
    assert!(receipts.iter().all(|r| r.is_success()));
    assert!(
        receipts
            .last()
            .unwrap()
            .events
            .iter()
            .any(|e| matches!(e, Event::Lending(LendingEvent::Activated { .. })))
    );
    chain.advance_ms(30 * 86_400_000);
    chain
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lending");
    group.sample_size(30);
    for lenders in [1u64, 1_000] {
        let mut chain = setup(lenders);
        let repay = chain.tx(
            BORROWER,
            Call::Lending(LendingCall::Repay(Repay {
                loan: 1,
                amount: 50_000,
            })),
        );
        let context = chain.next_context();
        group.bench_with_input(BenchmarkId::new("repay", lenders), &lenders, |b, _| {
            b.iter(|| {
                let mut overlay = Overlay::new(&mut chain.store);
                black_box(
                    apply_block_checked(
                        &mut overlay,
                        &context,
                        std::slice::from_ref(&repay),
                        &[true],
                    )
                    .unwrap(),
                )
            })
        });
        // A claim by a lender that is not the remainder receiver is also independent of the count.
        let receipts = chain.apply(std::slice::from_ref(&repay));
        assert!(receipts[0].is_success());
        let claimer = lenders.clamp(1, 2);
        let claimer = if lenders == 1 { 1 } else { claimer };
        let claim = chain.tx(
            claimer,
            Call::Lending(LendingCall::Claim(LoanRef { loan: 1 })),
        );
        let context = chain.next_context();
        group.bench_with_input(BenchmarkId::new("claim", lenders), &lenders, |b, _| {
            b.iter(|| {
                let mut overlay = Overlay::new(&mut chain.store);
                let receipts = apply_block_checked(
                    &mut overlay,
                    &context,
                    std::slice::from_ref(&claim),
                    &[true],
                )
                .unwrap();
                assert!(receipts[0].is_success(), "{receipts:?}");
                black_box(receipts)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
