//! A loan listing with no account and no state, or an ended one, has no index to read: it reads
//! one window of ids below `before` (the latest ones by default), so its cost does not grow with
//! the loans ever made. With an account or a live state it reads that index, and `before` only
//! filters.

use ledger::testing::{TestChain, account};
use rpc::lending::LoanQuery;
use types::{
    AssetId, Call,
    lending::{LendingCall, LoanRef, RequestLoan, Schedule},
};

const UNIT: u128 = 1_000_000_000_000_000_000;

fn ok(chain: &mut TestChain, signer: u64, call: Call) {
    let receipt = chain.submit(signer, call);
    assert!(receipt.is_success(), "{receipt:?}");
}

/// Loans 1 to 6, requested by accounts 0, 1, 0, 1, 0, 1; loans 1 and 4 cancelled.
fn loans() -> TestChain {
    let mut chain = TestChain::new(2, 1_000 * UNIT);
    for id in 1..=6u64 {
        let request = RequestLoan {
            asset: AssetId::NATIVE,
            principal: UNIT * u128::from(id),
            rate_bps: 1_000,
            term_days: 30,
            schedule: Schedule::Bullet,
            collateral: None,
            funding_deadline_ms: chain.time_ms + 86_400_000,
            min_fill: UNIT,
        };
        ok(
            &mut chain,
            (id + 1) % 2,
            Call::Lending(LendingCall::RequestLoan(request)),
        );
    }
    for id in [1, 4] {
        let signer = (id + 1) % 2;
        ok(
            &mut chain,
            signer,
            Call::Lending(LendingCall::CancelRequest(LoanRef { loan: id })),
        );
    }
    chain
}

fn ids(chain: &TestChain, query: LoanQuery, window: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = query
        .run_within(&chain.store, window)
        .expect("the query runs")
        .iter()
        .map(|loan| loan.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_listing_with_no_index_reads_one_window_of_ids_below_before() {
    let chain = loans();
    let every = |before| LoanQuery {
        before,
        ..LoanQuery::default()
    };
    // The whole history fits a wide window.
    assert_eq!(ids(&chain, every(None), 100), vec![1, 2, 3, 4, 5, 6]);
    // A window of 3: the latest three, then the three before, then nothing.
    assert_eq!(ids(&chain, every(None), 3), vec![4, 5, 6]);
    assert_eq!(ids(&chain, every(Some(4)), 3), vec![1, 2, 3]);
    assert_eq!(ids(&chain, every(Some(1)), 3), Vec::<u64>::new());
    assert_eq!(ids(&chain, every(Some(0)), 3), Vec::<u64>::new());
    // A `before` past the last loan is the latest window; the largest one does not wrap.
    assert_eq!(ids(&chain, every(Some(1_000)), 3), vec![4, 5, 6]);
    assert_eq!(ids(&chain, every(Some(u64::MAX)), 3), vec![4, 5, 6]);
    assert_eq!(ids(&chain, every(None), 1), vec![6]);
    assert_eq!(ids(&chain, every(None), 0), Vec::<u64>::new());
    // An ended state is filtered within the window.
    let cancelled = |before| LoanQuery {
        state: Some("cancelled".into()),
        before,
        ..LoanQuery::default()
    };
    assert_eq!(ids(&chain, cancelled(None), 3), vec![4]);
    assert_eq!(ids(&chain, cancelled(Some(4)), 3), vec![1]);
    assert_eq!(ids(&chain, cancelled(None), 100), vec![1, 4]);
}

#[test]
fn a_listing_with_an_index_reads_all_of_it_and_before_only_filters() {
    let chain = loans();
    let of = |borrower: u64, before| LoanQuery {
        borrower: Some(account(borrower).to_string()),
        before,
        ..LoanQuery::default()
    };
    // The borrower's index, whatever the window.
    assert_eq!(ids(&chain, of(0, None), 1), vec![1, 3, 5]);
    assert_eq!(ids(&chain, of(1, Some(5)), 1), vec![2, 4]);
    // The requests collecting lenders come from their own list.
    let funding = |before| LoanQuery {
        state: Some("funding".into()),
        before,
        ..LoanQuery::default()
    };
    assert_eq!(ids(&chain, funding(None), 1), vec![2, 3, 5, 6]);
    assert_eq!(ids(&chain, funding(Some(5)), 1), vec![2, 3]);
}
