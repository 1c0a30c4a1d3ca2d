//! The lending module: funding by many lenders, activation, amortised repayment, late fees,
//! default, credit offers, claims, and every rejected call with its named error.

mod support;

use ledger::{
    lending::{Db, LendingError, LendingEvent, LoanState, claimable, math, queries},
    state::{self, Module},
    testing::account,
};
use support::*;
use types::{AssetId, lending::*};

#[test]
fn two_lenders_fund_a_loan_that_is_disbursed_at_once() {
    let mut l = Lending::new();
    let (borrower0, gold0) = (l.usd(BORROWER), l.chain.balance(BORROWER, l.gold));
    let loan = l.open(l.request(1_200_000_000, Schedule::Instalments(12)));
    assert_eq!(
        gold0 - l.chain.balance(BORROWER, l.gold),
        500_000,
        "collateral locks at request"
    );
    l.fund(LENDER_A, loan, 800_000_000);
    assert_eq!(l.loan(loan).state, LoanState::Funding);
    let events = l.fund(LENDER_B, loan, 400_000_000);
    assert!(events.contains(&LendingEvent::Activated {
        loan,
        principal: 1_200_000_000
    }));
    assert_eq!(l.usd(BORROWER), borrower0 + 1_200_000_000);
    let record = l.loan(loan);
    assert_eq!(record.state, LoanState::Active);
    assert_eq!(record.dues.len(), 12);
    assert_eq!(record.dues[11].principal_through, 1_200_000_000);
    assert_eq!(record.dues[11].at_ms, record.start_ms + 360 * DAY_MS);
    assert_eq!(Db::history(&l.chain.store, &account(BORROWER)).loans, 1);
    assert_eq!(
        queries::loans_of_lender(&l.chain.store, &account(LENDER_B)).len(),
        1
    );
}

#[test]
fn instalments_paid_on_time_reach_lenders_pro_rata_and_release_the_collateral() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    let gold_locked = l.chain.balance(BORROWER, l.gold);
    let start = l.loan(loan).start_ms;
    let rows = math::schedule(1_200_000_000, 1_200, 360, 12).unwrap();
    let mut paid_total = 0;
    for row in &rows {
        // Pay the scheduled amount just before each due date. Interest accrued per millisecond
        // on the actual balance is a little less than the schedule's, so the rest goes to
        // principal and the last payment is a little smaller.
        l.chain.time_ms = start + row.due_offset_ms - 2_000;
        let due = queries::amount_due(&l.chain.store, loan, l.chain.time_ms + 1_000).unwrap();
        assert_eq!(due.late_fee, 0);
        let before = l.usd(BORROWER);
        let events = l.repay(loan, row.payment);
        paid_total += before - l.usd(BORROWER);
        match events[0] {
            LendingEvent::Repaid { late_fee, .. } => assert_eq!(late_fee, 0),
            ref other => panic!("{other:?}"),
        }
    }
    let record = l.loan(loan);
    assert_eq!(record.state, LoanState::Repaid);
    assert_eq!(
        l.chain.balance(BORROWER, l.gold),
        gold_locked + 500_000,
        "collateral returned"
    );
    // Interest was paid, and the borrower paid no more than the schedule's total.
    let schedule_total: u128 = rows.iter().map(|r| r.payment).sum();
    assert!(
        paid_total > 1_200_000_000 && paid_total <= schedule_total,
        "{paid_total} vs {schedule_total}"
    );
    // Lenders claim 2:1; the first lender receives the rounding remainder.
    let (a, _) = l.claim(LENDER_A, loan);
    let (b, _) = l.claim(LENDER_B, loan);
    assert_eq!(a + b, paid_total);
    assert_eq!(b, paid_total / 3);
    assert_eq!(
        state::held(&l.chain.store, Module::Lending, l.usd),
        0,
        "nothing left behind"
    );
    let history = Db::history(&l.chain.store, &account(BORROWER));
    assert_eq!((history.repaid_on_time, history.late_payments), (1, 0));
    l.fails(
        LENDER_A,
        LendingCall::Claim(LoanRef { loan }),
        LendingError::NothingToClaim { loan },
    );
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 1 }),
        LendingError::WrongState {
            loan,
            state: "repaid",
            expected: "active or defaulted",
        },
    );
}

#[test]
fn early_repayment_saves_interest() {
    let mut on_schedule = Lending::new();
    let loan = on_schedule.active_loan();
    let start = on_schedule.loan(loan).start_ms;
    let rows = math::schedule(1_200_000_000, 1_200, 360, 12).unwrap();
    let before = on_schedule.usd(BORROWER);
    for row in &rows {
        on_schedule.chain.time_ms = start + row.due_offset_ms - 2_000;
        on_schedule.repay(loan, row.payment);
    }
    assert_eq!(on_schedule.loan(loan).state, LoanState::Repaid);
    let scheduled_cost = before - on_schedule.usd(BORROWER);

    let mut early = Lending::new();
    let loan = early.active_loan();
    early.chain.advance_ms(30 * DAY_MS);
    let before = early.usd(BORROWER);
    let events = early.repay(loan, 10 * THOUSAND);
    let early_cost = before - early.usd(BORROWER);
    match events[0] {
        LendingEvent::Repaid {
            interest,
            principal,
            ..
        } => {
            assert_eq!(principal, 1_200_000_000);
            assert_eq!(
                interest,
                math::interest(1_200_000_000, 1_200, 30 * DAY_MS + 1_000).unwrap()
            );
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(early.loan(loan).state, LoanState::Repaid);
    assert!(
        early_cost < scheduled_cost,
        "{early_cost} < {scheduled_cost}"
    );
    // Only what was owed was taken, not the 10,000 offered.
    assert!(early_cost < 1_300_000_000);
}

#[test]
fn late_payments_pay_a_fee_for_every_day_late_rounded_up() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    let first_due = l.loan(loan).dues[0].at_ms;
    let first_principal = l.loan(loan).dues[0].principal_through;
    // Inside the grace period: no fee.
    l.chain.time_ms = first_due + 2 * DAY_MS;
    match l.repay(loan, 1)[0] {
        LendingEvent::Repaid { late_fee, .. } => assert_eq!(late_fee, 0),
        ref other => panic!("{other:?}"),
    }
    // Four days and a second past the due date (the block adds one second): five days charged.
    l.chain.time_ms = first_due + 4 * DAY_MS;
    let events = l.repay(loan, 2 * THOUSAND);
    let expected_fee = math::mul_div_ceil(first_principal, 10 * 5, 10_000).unwrap();
    match events[0] {
        LendingEvent::Repaid { late_fee, .. } => assert_eq!(late_fee, expected_fee),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(
        Db::history(&l.chain.store, &account(BORROWER)).late_payments,
        1
    );
}

#[test]
fn default_sends_the_collateral_to_lenders_and_later_repayments_still_reach_them() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    let first_due = l.loan(loan).dues[0].at_ms;
    l.chain.time_ms = first_due + 29 * DAY_MS;
    l.fails(
        OUTSIDER,
        LendingCall::DeclareDefault(LoanRef { loan }),
        LendingError::NotInDefault {
            loan,
            at_ms: first_due + 30 * DAY_MS + 1,
        },
    );
    l.chain.time_ms = first_due + 30 * DAY_MS;
    let events = l.ok(OUTSIDER, LendingCall::DeclareDefault(LoanRef { loan }));
    match events[0] {
        LendingEvent::Defaulted {
            collateral, debt, ..
        } => {
            assert_eq!(collateral, 500_000);
            assert!(debt > 1_200_000_000);
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(l.loan(loan).state, LoanState::Defaulted);
    assert_eq!(Db::history(&l.chain.store, &account(BORROWER)).defaults, 1);
    let (_, gold_a) = l.claim(LENDER_A, loan);
    let (_, gold_b) = l.claim(LENDER_B, loan);
    assert_eq!((gold_a, gold_b), (333_334, 166_666));
    l.repay(loan, 300_000_000);
    let (usd_a, _) = l.claim(LENDER_A, loan);
    let (usd_b, _) = l.claim(LENDER_B, loan);
    assert_eq!(usd_a + usd_b, 300_000_000);
    // The whole remaining debt can still be repaid; after that nothing is owed.
    l.repay(loan, u128::MAX / 2);
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 1 }),
        LendingError::NothingOwed { loan },
    );
    l.fails(
        OUTSIDER,
        LendingCall::DeclareDefault(LoanRef { loan }),
        LendingError::WrongState {
            loan,
            state: "defaulted",
            expected: "active",
        },
    );
}

#[test]
fn partial_funding_is_accepted_or_expires() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    l.fund(LENDER_A, loan, 600_000_000);
    l.fails(
        BORROWER,
        LendingCall::Accept(LoanRef { loan }),
        LendingError::FundingOpen {
            loan,
            deadline_ms: l.loan(loan).funding_deadline_ms,
        },
    );
    l.chain.advance_ms(7 * DAY_MS);
    l.fails(
        LENDER_B,
        LendingCall::Fund(Fund {
            loan,
            amount: 100_000_000,
        }),
        LendingError::FundingClosed {
            loan,
            deadline_ms: l.loan(loan).funding_deadline_ms,
        },
    );
    let borrower0 = l.usd(BORROWER);
    let events = l.ok(BORROWER, LendingCall::Accept(LoanRef { loan }));
    assert!(events.contains(&LendingEvent::Activated {
        loan,
        principal: 600_000_000
    }));
    assert_eq!(l.usd(BORROWER), borrower0 + 600_000_000);

    // Below min_fill: the borrower cannot accept; anyone may expire; lenders withdraw.
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    let gold_locked = l.chain.balance(BORROWER, l.gold);
    l.fund(LENDER_B, loan, 200_000_000);
    l.chain.advance_ms(7 * DAY_MS);
    l.fails(
        BORROWER,
        LendingCall::Accept(LoanRef { loan }),
        LendingError::BelowMinFill {
            loan,
            asset: l.usd,
            funded: 200_000_000,
            min_fill: 500_000_000,
        },
    );
    let lender0 = l.usd(LENDER_B);
    l.ok(OUTSIDER, LendingCall::Expire(LoanRef { loan }));
    assert_eq!(l.chain.balance(BORROWER, l.gold), gold_locked + 500_000);
    l.ok(LENDER_B, LendingCall::Withdraw(LoanRef { loan }));
    assert_eq!(l.usd(LENDER_B), lender0 + 200_000_000);
}

#[test]
fn a_request_at_its_minimum_waits_for_acceptance_before_it_can_expire() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    l.fund(LENDER_A, loan, 500_000_000);
    l.chain.advance_ms(7 * DAY_MS);
    let until = l.loan(loan).funding_deadline_ms + DAY_MS;
    l.fails(
        OUTSIDER,
        LendingCall::Expire(LoanRef { loan }),
        LendingError::AcceptanceOpen {
            loan,
            until_ms: until,
        },
    );
    l.chain.advance_ms(DAY_MS);
    l.ok(OUTSIDER, LendingCall::Expire(LoanRef { loan }));
    assert_eq!(l.loan(loan).state, LoanState::Expired);
}

#[test]
fn lenders_withdraw_before_activation_only() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    let lender0 = l.usd(LENDER_A);
    l.fund(LENDER_A, loan, 300_000_000);
    l.ok(LENDER_A, LendingCall::Withdraw(LoanRef { loan }));
    assert_eq!(l.usd(LENDER_A), lender0);
    assert_eq!(l.loan(loan).funded, 0);
    l.fails(
        LENDER_A,
        LendingCall::Withdraw(LoanRef { loan }),
        LendingError::NotLender {
            loan,
            lender: account(LENDER_A),
        },
    );
    l.fund(LENDER_A, loan, 1_000_000_000);
    l.fails(
        LENDER_A,
        LendingCall::Withdraw(LoanRef { loan }),
        LendingError::WrongState {
            loan,
            state: "active",
            expected: "funding or expired",
        },
    );
}

#[test]
fn cancel_only_before_any_funding_and_only_by_the_borrower() {
    let mut l = Lending::new();
    let gold0 = l.chain.balance(BORROWER, l.gold);
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    l.fails(
        OUTSIDER,
        LendingCall::CancelRequest(LoanRef { loan }),
        LendingError::NotBorrower { loan },
    );
    l.ok(BORROWER, LendingCall::CancelRequest(LoanRef { loan }));
    assert_eq!(l.chain.balance(BORROWER, l.gold), gold0);
    let loan = l.open(l.request(1_000_000_000, Schedule::Bullet));
    l.fund(LENDER_A, loan, 100_000_000);
    l.fails(
        BORROWER,
        LendingCall::CancelRequest(LoanRef { loan }),
        LendingError::AlreadyFunded { loan },
    );
}

#[test]
fn bad_requests_and_fundings_are_named() {
    let mut l = Lending::new();
    let base = l.request(1_000_000_000, Schedule::Instalments(12));
    let mut cases: Vec<(RequestLoan, LendingError)> = Vec::new();
    let mut r = base.clone();
    r.asset = AssetId(99);
    cases.push((r, LendingError::UnknownAsset { asset: AssetId(99) }));
    let mut r = base.clone();
    r.rate_bps = 20_001;
    cases.push((
        r,
        LendingError::RateTooHigh {
            rate_bps: 20_001,
            max: 20_000,
        },
    ));
    let mut r = base.clone();
    r.term_days = 4_000;
    cases.push((
        r,
        LendingError::TermTooLong {
            term_days: 4_000,
            max: 3_650,
        },
    ));
    let mut r = base.clone();
    r.min_fill = 0;
    cases.push((
        r,
        LendingError::InvalidMinFill {
            asset: l.usd,
            min_fill: 0,
            principal: 1_000_000_000,
        },
    ));
    let mut r = base.clone();
    r.collateral = Some(Collateral {
        asset: l.gold,
        amount: 0,
    });
    cases.push((r, LendingError::ZeroCollateral));
    let mut r = base.clone();
    r.schedule = Schedule::Instalments(0);
    cases.push((
        r,
        LendingError::Schedule(math::ScheduleError::InstalmentCount { count: 0, max: 360 }),
    ));
    let mut r = base.clone();
    r.schedule = Schedule::Instalments(361);
    cases.push((
        r,
        LendingError::Schedule(math::ScheduleError::InstalmentCount {
            count: 361,
            max: 360,
        }),
    ));
    let mut r = base.clone();
    r.term_days = 10;
    cases.push((
        r,
        LendingError::Schedule(math::ScheduleError::PeriodTooShort {
            term_days: 10,
            count: 12,
        }),
    ));
    let mut r = base.clone();
    r.principal = 0;
    cases.push((
        r,
        LendingError::Schedule(math::ScheduleError::ZeroPrincipal),
    ));
    for (request, error) in cases {
        l.fails(BORROWER, LendingCall::RequestLoan(request), error);
    }
    let mut r = base.clone();
    r.funding_deadline_ms = 0;
    let now_ms = l.chain.time_ms + 1_000;
    l.fails(
        BORROWER,
        LendingCall::RequestLoan(r),
        LendingError::DeadlinePassed {
            deadline_ms: 0,
            now_ms,
        },
    );

    let loan = l.open(base);
    l.fails(
        BORROWER,
        LendingCall::Fund(Fund {
            loan,
            amount: 100_000_000,
        }),
        LendingError::OwnLoan { loan },
    );
    // At least 0.1% of the principal per lender, at most what remains.
    l.fails(
        LENDER_A,
        LendingCall::Fund(Fund {
            loan,
            amount: 999_999,
        }),
        LendingError::FundingOutOfRange {
            loan,
            asset: l.usd,
            amount: 999_999,
            min: 1_000_000,
            max: 1_000_000_000,
        },
    );
    l.fails(
        LENDER_A,
        LendingCall::Fund(Fund {
            loan,
            amount: 1_000_000_001,
        }),
        LendingError::FundingOutOfRange {
            loan,
            asset: l.usd,
            amount: 1_000_000_001,
            min: 1_000_000,
            max: 1_000_000_000,
        },
    );
    l.fails(
        LENDER_A,
        LendingCall::Fund(Fund {
            loan: 77,
            amount: 1,
        }),
        LendingError::UnknownLoan { loan: 77 },
    );
    l.fails(
        LENDER_A,
        LendingCall::Claim(LoanRef { loan }),
        LendingError::WrongState {
            loan,
            state: "funding",
            expected: "active, repaid or defaulted",
        },
    );
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 0 }),
        LendingError::ZeroRepayment,
    );
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 5 }),
        LendingError::WrongState {
            loan,
            state: "funding",
            expected: "active or defaulted",
        },
    );
    l.fails(
        OUTSIDER,
        LendingCall::Expire(LoanRef { loan }),
        LendingError::FundingOpen {
            loan,
            deadline_ms: l.loan(loan).funding_deadline_ms,
        },
    );
    // More than the lender holds.
    let available = l.usd(LENDER_C);
    let mut big = l.request(1_000 * THOUSAND, Schedule::Bullet);
    big.collateral = None;
    let big_loan = l.open(big);
    l.fails(
        LENDER_C,
        LendingCall::Fund(Fund {
            loan: big_loan,
            amount: 1_000 * THOUSAND,
        }),
        LendingError::Bank(ledger::BankError::InsufficientBalance {
            account: account(LENDER_C),
            asset: l.usd,
            needed: 1_000 * THOUSAND,
            available,
        }),
    );
}

#[test]
fn claims_need_a_position_and_something_to_claim() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    l.fails(
        OUTSIDER,
        LendingCall::Claim(LoanRef { loan }),
        LendingError::NotLender {
            loan,
            lender: account(OUTSIDER),
        },
    );
    l.fails(
        LENDER_A,
        LendingCall::Claim(LoanRef { loan }),
        LendingError::NothingToClaim { loan },
    );
}

#[test]
fn credit_offers_are_taken_in_one_transaction() {
    let mut l = Lending::new();
    let lender0 = l.usd(LENDER_C);
    let offer = OfferCredit {
        asset: l.usd,
        amount: 2_000_000_000,
        min_amount: 100_000_000,
        rate_bps: 800,
        term_days: 90,
        schedule: Schedule::Instalments(3),
        collateral_asset: Some(l.gold),
        // 0.5 GOLD (500 minor units) per USDX.
        collateral_per_unit: 500,
        expires_ms: l.chain.time_ms + 30 * DAY_MS,
    };
    let events = l.ok(LENDER_C, LendingCall::OfferCredit(offer.clone()));
    let LendingEvent::CreditOffered { offer: id, .. } = events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(lender0 - l.usd(LENDER_C), 2_000_000_000);
    let take = |amount, collateral_amount| {
        LendingCall::TakeCredit(TakeCredit {
            offer: id,
            amount,
            collateral_amount,
        })
    };
    l.fails(
        BORROWER,
        take(1_000_000_000, 499_999),
        LendingError::InsufficientCollateral {
            asset: l.gold,
            offered: 499_999,
            required: 500_000,
        },
    );
    l.fails(
        BORROWER,
        take(50_000_000, 500_000),
        LendingError::AmountOutOfRange {
            offer: id,
            asset: l.usd,
            amount: 50_000_000,
            min: 100_000_000,
            max: 2_000_000_000,
        },
    );
    l.fails(
        LENDER_C,
        take(1_000_000_000, 500_000),
        LendingError::OwnOffer { offer: id },
    );
    let borrower0 = l.usd(BORROWER);
    let events = l.ok(BORROWER, take(1_000_000_000, 500_000));
    let loan = events
        .iter()
        .find_map(|e| match e {
            LendingEvent::Activated { loan, .. } => Some(*loan),
            _ => None,
        })
        .unwrap();
    assert_eq!(l.usd(BORROWER), borrower0 + 1_000_000_000);
    assert_eq!(l.loan(loan).state, LoanState::Active);
    assert_eq!(
        queries::credit_offers(&l.chain.store, Some(l.usd), queries::SortBy::Rate)[0].remaining,
        1_000_000_000
    );
    l.fails(
        BORROWER,
        LendingCall::CancelCredit(CreditRef { offer: id }),
        LendingError::NotOfferLender { offer: id },
    );
    l.ok(LENDER_C, LendingCall::CancelCredit(CreditRef { offer: id }));
    assert_eq!(lender0 - l.usd(LENDER_C), 1_000_000_000);
    l.fails(
        BORROWER,
        take(100_000_000, 50_000),
        LendingError::UnknownOffer { offer: id },
    );

    let mut expiring = offer;
    expiring.expires_ms = l.chain.time_ms + 2_000;
    let events = l.ok(LENDER_C, LendingCall::OfferCredit(expiring.clone()));
    let LendingEvent::CreditOffered { offer: id, .. } = events[0] else {
        panic!()
    };
    l.chain.advance_ms(DAY_MS);
    l.fails(
        BORROWER,
        LendingCall::TakeCredit(TakeCredit {
            offer: id,
            amount: 100_000_000,
            collateral_amount: 50_000,
        }),
        LendingError::OfferExpired {
            offer: id,
            expired_ms: expiring.expires_ms,
        },
    );
}

#[test]
fn splits_among_many_lenders_are_exact() {
    let mut l = Lending::new();
    let mut request = l.request(3_000_000, Schedule::Bullet);
    request.collateral = None;
    request.min_fill = 1;
    let loan = l.open(request);
    for lender in [LENDER_A, LENDER_B, LENDER_C] {
        l.fund(lender, loan, 1_000_000);
    }
    l.repay(loan, 100);
    let view = l.loan(loan);
    let shares: Vec<u128> = [LENDER_A, LENDER_B, LENDER_C]
        .iter()
        .map(|lender| {
            claimable(&l.chain.store, &view, &account(*lender))
                .unwrap()
                .0
        })
        .collect();
    assert_eq!(
        shares,
        vec![34, 33, 33],
        "the first lender takes the remainder"
    );
    for lender in [LENDER_A, LENDER_B, LENDER_C] {
        l.claim(lender, loan);
    }
    assert_eq!(state::held(&l.chain.store, Module::Lending, l.usd), 0);
}

#[test]
fn the_credit_book_sorts_requests() {
    let mut l = Lending::new();
    for rate in [900, 500, 700] {
        let mut request = l.request(1_000_000_000, Schedule::Bullet);
        request.rate_bps = rate;
        l.open(request);
    }
    let book = queries::open_requests(&l.chain.store, Some(l.usd), queries::SortBy::Rate);
    assert_eq!(
        book.iter().map(|r| r.rate_bps).collect::<Vec<_>>(),
        vec![500, 700, 900]
    );
    assert_eq!(
        queries::loans_of_borrower(&l.chain.store, &account(BORROWER)).len(),
        3
    );
}

#[test]
fn the_requests_collecting_lenders_and_each_lenders_loans_follow_every_transition() {
    use ledger::index::{Kind, active_loans, funding_loans, ids};
    let mut l = Lending::new();
    let listed = |l: &Lending| -> Vec<u64> { funding_loans(&l.chain.store).collect() };
    let running = |l: &Lending| -> Vec<u64> { active_loans(&l.chain.store).collect() };
    let of = |l: &Lending, who: u64| -> Vec<u64> {
        ids(&l.chain.store, &account(who), Kind::Loan).collect()
    };
    let active = l.active_loan();
    let cancelled = l.open(l.request(1_000_000_000, Schedule::Bullet));
    let open = l.open(l.request(1_000_000_000, Schedule::Bullet));
    // Funded in full and disbursed: no longer collecting but active; the request still is.
    assert_eq!(listed(&l), vec![cancelled, open]);
    assert_eq!(running(&l), vec![active]);
    l.ok(
        BORROWER,
        LendingCall::CancelRequest(LoanRef { loan: cancelled }),
    );
    assert_eq!(listed(&l), vec![open]);
    assert_eq!(
        queries::open_requests(&l.chain.store, None, queries::SortBy::Rate)
            .iter()
            .map(|loan| loan.id)
            .collect::<Vec<_>>(),
        vec![open]
    );
    // A lender that withdraws its funding leaves the loan's index; one that funds stays.
    l.fund(LENDER_C, open, 500_000_000);
    assert_eq!(of(&l, LENDER_C), vec![open]);
    l.ok(LENDER_C, LendingCall::Withdraw(LoanRef { loan: open }));
    assert!(of(&l, LENDER_C).is_empty());
    assert_eq!(of(&l, LENDER_A), vec![active]);
    assert_eq!(of(&l, BORROWER), vec![active, cancelled, open]);
    // A stranger's refused withdrawal adds nothing.
    l.fails(
        OUTSIDER,
        LendingCall::Withdraw(LoanRef { loan: open }),
        LendingError::NotLender {
            loan: open,
            lender: account(OUTSIDER),
        },
    );
    assert!(of(&l, OUTSIDER).is_empty());
    // Repaid in full, the loan leaves the active list.
    l.repay(active, 10 * THOUSAND);
    assert_eq!(l.loan(active).state, LoanState::Repaid);
    assert!(running(&l).is_empty());
    // The audit notices a request missing from the list, or a disbursed loan left on it, or
    // an ended loan still listed as active.
    let mut unlisted = l.chain.store.clone();
    ledger::Store::delete(
        &mut unlisted,
        &ledger::index::loan_list_key(ledger::index::FUNDING_LOANS, open),
    );
    assert!(ledger::audit::check_indexes(&unlisted).is_err());
    let mut stale = l.chain.store.clone();
    ledger::Store::put(
        &mut stale,
        &ledger::index::loan_list_key(ledger::index::FUNDING_LOANS, active),
        Vec::new(),
    );
    assert!(ledger::audit::check_indexes(&stale).is_err());
    let mut ended = l.chain.store.clone();
    ledger::Store::put(
        &mut ended,
        &ledger::index::loan_list_key(ledger::index::ACTIVE_LOANS, active),
        Vec::new(),
    );
    assert!(ledger::audit::check_indexes(&ended).is_err());
}
