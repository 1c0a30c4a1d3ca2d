//! Attacks on the lending module's money rules, each named for what the attacker tries: claims
//! interleaved with repayments to take more than was repaid, and late fees that depend on when
//! they are computed.

mod support;

use ledger::{
    CallError, Outcome,
    lending::{Db, LendingError, LoanState, claimable, math},
    state::{self, Module},
    testing::account,
};
use proptest::prelude::*;
use support::*;
use types::lending::*;

/// A loan of `principal` USDX minor units without collateral, funded by `lenders` in order.
fn loan_funded_by(l: &mut Lending, principal: u128, lenders: &[(u64, u128)]) -> u64 {
    let mut request = l.request(principal, Schedule::Bullet);
    request.collateral = None;
    request.min_fill = principal;
    let loan = l.open(request);
    for &(lender, amount) in lenders {
        l.fund(lender, loan, amount);
    }
    assert_eq!(l.loan(loan).state, LoanState::Active);
    loan
}

/// What each lender is entitled to in all: claimed plus claimable now.
fn entitlements(l: &Lending, loan: u64, lenders: &[u64]) -> Vec<u128> {
    let view = l.loan(loan);
    lenders
        .iter()
        .map(|lender| {
            let position = Db::position(&l.chain.store, loan, &account(*lender)).unwrap();
            let (amount, _) = claimable(&l.chain.store, &view, &account(*lender)).unwrap();
            position.claimed + amount
        })
        .collect()
}

fn claimed(l: &Lending, loan: u64, lenders: &[u64]) -> u128 {
    lenders
        .iter()
        .map(|lender| {
            Db::position(&l.chain.store, loan, &account(*lender))
                .unwrap()
                .claimed
        })
        .sum()
}

/// The audit's devnet scenario: a loan of 3 minor units funded 1-1-1, repay 2, the first lender
/// (who receives the rounding remainder) claims, repay the rest, and everyone claims. Before, the
/// first lender's entitlement fell when the last repayment raised the others' floors: the lenders
/// were paid more than came in, and the first lender's second claim panicked inside the block.
#[test]
fn claim_repay_claim_interleaving_pays_no_more_than_repaid() {
    let mut l = Lending::new();
    let lenders = [LENDER_A, LENDER_B, LENDER_C];
    let loan = loan_funded_by(&mut l, 3, &[(LENDER_A, 1), (LENDER_B, 1), (LENDER_C, 1)]);
    assert_eq!(l.loan(loan).dust_receiver, Some(account(LENDER_A)));
    l.repay(loan, 2);
    let (first, _) = l.claim(LENDER_A, loan);
    assert_eq!(
        first, 1,
        "a third of 2, rounded up for the remainder lender"
    );
    let owed = 1_000; // more than the loan can owe: only what is owed is taken
    l.repay(loan, owed);
    let paid_in = l.loan(loan).paid_in;
    assert!(l.loan(loan).closed_ms.is_some());
    for lender in lenders {
        let receipt = l.submit(lender, LendingCall::Claim(LoanRef { loan }));
        assert!(
            matches!(
                receipt.outcome,
                Outcome::Success
                    | Outcome::Failed(CallError::Lending(LendingError::NothingToClaim { .. }))
            ),
            "{receipt:?}"
        );
    }
    // The first lender claims again: it gets exactly the remainder, no more and no panic.
    let receipt = l.submit(LENDER_A, LendingCall::Claim(LoanRef { loan }));
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Lending(LendingError::NothingToClaim { loan }))
    );
    assert_eq!(
        claimed(&l, loan, &lenders),
        paid_in,
        "the split is exact once closed"
    );
    assert_eq!(state::held(&l.chain.store, Module::Lending, l.usd), 0);
}

/// A closed loan takes no more money: its split is final.
#[test]
fn repaying_a_closed_defaulted_loan_is_refused() {
    let mut l = Lending::new();
    let loan = loan_funded_by(&mut l, 3_000, &[(LENDER_A, 2_000), (LENDER_B, 1_000)]);
    let due = l.loan(loan).dues[0].at_ms;
    l.chain.time_ms = due + 31 * DAY_MS;
    l.ok(OUTSIDER, LendingCall::DeclareDefault(LoanRef { loan }));
    l.repay(loan, 10 * THOUSAND);
    assert!(l.loan(loan).closed_ms.is_some());
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 1 }),
        LendingError::NothingOwed { loan },
    );
}

/// Two overdue instalments: each is late from its own due date, and the fee is the same whether
/// the borrower pays a unit every day (each payment computes the fee) or nothing until the end.
/// Before, all overdue principal was charged from the oldest due date, and how often the fee
/// was computed changed the result.
#[test]
fn late_fee_is_the_same_whenever_it_is_computed() {
    let run = |daily: bool| {
        let mut l = Lending::new();
        let loan = l.active_loan();
        let dues = l.loan(loan).dues.clone();
        let start = l.chain.time_ms;
        let end = dues[1].at_ms + 10 * DAY_MS;
        if daily {
            let mut at = dues[0].at_ms + DAY_MS / 2;
            while at < end {
                l.chain.time_ms = at;
                l.repay(loan, 1);
                at += DAY_MS;
            }
        }
        // Every repayment above went to late fees or interest: no principal was paid.
        assert_eq!(l.loan(loan).principal_paid, 0);
        l.chain.time_ms = end - 1_000; // the block adds a second
        l.repay(loan, 1);
        let view = l.loan(loan);
        assert_eq!(view.accrued_to_ms, end);
        (view.late_fee_owed + view.late_fees_paid, dues, start, end)
    };
    let (fee_daily, dues, _, end) = run(true);
    let (fee_once, _, _, _) = run(false);
    assert_eq!(fee_daily, fee_once);
    // Each instalment from its own due date, days started rounded up, one rounding at the end.
    let days = |due_ms: u64| (end - due_ms).div_ceil(DAY_MS);
    let first = dues[0].principal_through;
    let second = dues[1].principal_through - first;
    let principal_days =
        first * u128::from(days(dues[0].at_ms)) + second * u128::from(days(dues[1].at_ms));
    let expected = math::mul_div_ceil(principal_days, 10, 10_000).unwrap();
    assert_eq!(fee_once, expected);
}

/// Paying part of an overdue instalment lowers the fee from that payment on, and a later
/// instalment within its grace period is not charged.
#[test]
fn late_fee_counts_only_what_is_unpaid_of_each_instalment() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    let dues = l.loan(loan).dues.clone();
    let first = dues[0].principal_through;
    // Five days late: pay everything owed and about half the first instalment's principal.
    l.chain.time_ms = dues[0].at_ms + 5 * DAY_MS - 1_000;
    l.repay(loan, 1);
    let owed_before = {
        let v = l.loan(loan);
        v.late_fee_owed + v.interest_owed
    };
    l.repay(loan, owed_before + first / 2);
    let paid = l.loan(loan).principal_paid;
    assert!(paid > 0 && paid < first, "{paid} of {first}");
    let paid_at = l.loan(loan).accrued_to_ms;
    // Ten days later, before the second instalment is due: the first instalment's unpaid part
    // has been late for the days since the payment, the paid part only before it.
    l.chain.time_ms = paid_at + 10 * DAY_MS - 1_000;
    l.repay(loan, 1);
    let view = l.loan(loan);
    assert!(view.accrued_to_ms < dues[1].at_ms);
    let days_before = (paid_at - dues[0].at_ms).div_ceil(DAY_MS);
    let days_after = (view.accrued_to_ms - dues[0].at_ms).div_ceil(DAY_MS) - days_before;
    let expected = math::mul_div_ceil(
        first * u128::from(days_before) + (first - paid) * u128::from(days_after),
        10,
        10_000,
    )
    .unwrap();
    assert_eq!(view.late_fee_owed + view.late_fees_paid, expected);
}

/// One step of an interleaving: a repayment of some amount or a claim by some lender.
#[derive(Clone, Debug)]
enum Step {
    Repay(u128),
    Claim(usize),
}

fn step() -> impl Strategy<Value = Step> {
    // Repayments of a unit or two are where the others' floors can all step up at once.
    prop_oneof![
        3 => (1u128..3).prop_map(Step::Repay),
        1 => (1u128..50).prop_map(Step::Repay),
        3 => (0usize..3).prop_map(Step::Claim),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For any split of a small loan among three lenders and any order of repayments and claims:
    /// no lender's entitlement ever goes down (the remainder lender's included), the lenders are
    /// never owed or paid more than came in, no claim panics, and once the loan is repaid and
    /// everyone has claimed, the module holds nothing for it.
    #[test]
    fn remainder_lender_entitlement_never_goes_down(
        shares in (1u128..12, 1u128..12, 1u128..12),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut l = Lending::new();
        let lenders = [LENDER_A, LENDER_B, LENDER_C];
        let principal = shares.0 + shares.1 + shares.2;
        let loan = loan_funded_by(
            &mut l,
            principal,
            &[(LENDER_A, shares.0), (LENDER_B, shares.1), (LENDER_C, shares.2)],
        );
        let mut last = entitlements(&l, loan, &lenders);
        for step in steps.iter().chain(&[Step::Repay(u128::from(u32::MAX)), Step::Claim(0), Step::Claim(1), Step::Claim(2)]) {
            let receipt = match step {
                Step::Repay(amount) => l.submit(BORROWER, LendingCall::Repay(Repay { loan, amount: *amount })),
                Step::Claim(index) => l.submit(lenders[*index], LendingCall::Claim(LoanRef { loan })),
            };
            prop_assert!(
                !matches!(receipt.outcome, Outcome::Failed(CallError::Internal) | Outcome::Rejected(_)),
                "{receipt:?}"
            );
            let now = entitlements(&l, loan, &lenders);
            for (before, after) in last.iter().zip(&now) {
                prop_assert!(after >= before, "an entitlement went down: {last:?} -> {now:?}");
            }
            let paid_in = l.loan(loan).paid_in;
            prop_assert!(now.iter().sum::<u128>() <= paid_in);
            prop_assert!(claimed(&l, loan, &lenders) <= paid_in);
            last = now;
        }
        prop_assert_eq!(l.loan(loan).state, LoanState::Repaid);
        prop_assert_eq!(claimed(&l, loan, &lenders), l.loan(loan).paid_in);
        prop_assert_eq!(state::held(&l.chain.store, Module::Lending, l.usd), 0);
    }
}

/// A borrower cannot pick a principal so large that accrual overflows and blocks the exits: such
/// a request is refused, and the largest allowed loan can still be declared in default long
/// after its term, with its late fee computed.
#[test]
fn principal_too_large_for_the_loan_arithmetic_is_refused() {
    use ledger::lending::MAX_PRINCIPAL;
    use types::bank::{BankCall, Mint};
    let mut l = Lending::new();
    let big = issue(&mut l.chain, "BIG", 18);
    for holder in [BORROWER, LENDER_A] {
        let mint = BankCall::Mint(Mint {
            asset: big,
            to: account(holder),
            amount: 2 * MAX_PRINCIPAL,
        });
        assert!(l.chain.bank(ISSUER, mint).is_success());
    }
    let mut request = l.request(MAX_PRINCIPAL + 1, Schedule::Bullet);
    request.asset = big;
    request.collateral = None;
    request.min_fill = 1;
    l.fails(
        BORROWER,
        LendingCall::RequestLoan(request.clone()),
        LendingError::PrincipalTooLarge {
            asset: big,
            principal: MAX_PRINCIPAL + 1,
            max: MAX_PRINCIPAL,
        },
    );
    request.principal = MAX_PRINCIPAL;
    request.min_fill = MAX_PRINCIPAL;
    request.rate_bps = 20_000;
    request.term_days = 3_650;
    let loan = l.open(request);
    l.fund(LENDER_A, loan, MAX_PRINCIPAL);
    let due = l.loan(loan).dues[0].at_ms;
    // A hundred years after the term, the loan can still be declared in default and repaid.
    l.chain.time_ms = due + 36_500 * DAY_MS;
    l.ok(OUTSIDER, LendingCall::DeclareDefault(LoanRef { loan }));
    assert_eq!(l.loan(loan).state, LoanState::Defaulted);
    assert!(l.loan(loan).late_fee_owed > 0);
    let receipt = l.submit(BORROWER, LendingCall::Repay(Repay { loan, amount: 1 }));
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// A lender cannot pull its funds out after the funding deadline, just ahead of the borrower's
/// acceptance of a request funded to its minimum; it withdraws until the deadline, and again
/// once the request has expired.
#[test]
fn lender_cannot_withdraw_ahead_of_acceptance_after_the_deadline() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    l.fund(LENDER_A, loan, 300_000_000);
    l.fund(LENDER_B, loan, 300_000_000);
    // Until the deadline, withdrawing is allowed (each block lands a second after the clock:
    // these two at the deadline's last seconds, the second exactly at it).
    let deadline = l.loan(loan).funding_deadline_ms;
    l.chain.time_ms = deadline - 2_000;
    l.ok(LENDER_B, LendingCall::Withdraw(LoanRef { loan }));
    l.fund(LENDER_B, loan, 300_000_000);
    // After it, during the borrower's acceptance window, it is not.
    l.fails(
        LENDER_A,
        LendingCall::Withdraw(LoanRef { loan }),
        LendingError::FundingClosed {
            loan,
            deadline_ms: deadline,
        },
    );
    let events = l.ok(BORROWER, LendingCall::Accept(LoanRef { loan }));
    assert!(events.contains(&ledger::lending::LendingEvent::Activated {
        loan,
        principal: 600_000_000
    }));
}
